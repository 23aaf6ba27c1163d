/**
 * `GrpcRaftTransport`: the daemon's RaftTransport over gRPC.
 *
 * Per peer: one channel, one long-lived `Raft.Send` client stream for every message except
 * snapshot chunks (so per-peer order is preserved), and one `Raft.InstallSnapshot` stream opened
 * on demand for chunks (so a big chunk never delays heartbeats). Outbound messages are encoded and
 * size-checked synchronously in send(), then wait in a bounded per-peer queue until the stream is
 * accepted and writable. A slow or dead peer only ever fills its own queue.
 *
 * The inbound side is the Raft service of a GrpcServer: `server.registerRaft(transport.inbound)`
 * (or `transport.attachTo(server)`).
 *
 * Connection life cycle of a peer link:
 *   idle --send--> connecting --server accepts stream--> connected
 *   connecting/connected --stream fails or connect timeout--> backoff --timer--> connecting (if
 *   messages wait) or idle
 * Reconnects use exponential backoff with jitter and a fresh channel each time, so gRPC's own
 * channel backoff never stretches the delay.
 */
import * as grpc from '@grpc/grpc-js';
import type { Logger } from '../../util/log.js';
import type { RaftTransport } from '../transport.js';
import type { Message, MessageType, NodeId } from '../types.js';
import { type CodecLimits, DEFAULT_CODEC_LIMITS, encodeMessage } from './codec.js';
import {
  ADDR_METADATA_KEY,
  type BackoffOptions,
  backoffDelay,
  clientChannelOptions,
  DEFAULT_BACKOFF,
  DEFAULT_MAX_MESSAGE_BYTES,
  errorMessage,
  FROM_METADATA_KEY,
  type KeepaliveOptions,
  LogThrottle,
} from './options.js';
import { type LoadedProto, loadProto, RAFT_SEND_PATH, RAFT_SNAPSHOT_PATH } from './proto.js';
import type { GrpcServer, RaftInboundHandler } from './server.js';

export {
  ClusterCallError,
  type ClusterCallOptions,
  ClusterClient,
  type ClusterClientOptions,
} from './cluster.js';
export {
  type ClusterCallMeta,
  type ClusterHandler,
  type ClusterReply,
  GrpcServer,
  type GrpcServerOptions,
  type GrpcServerStats,
  type RaftInboundHandler,
} from './server.js';

/** Why an outbound message was not handed to gRPC. */
export type DropReason =
  /** The peer's queue was full; the oldest non-critical message made room. */
  | 'queue_full'
  /** Serialized size above maxMessageBytes. */
  | 'oversize'
  /** The message failed validation (a bug in the sender). */
  | 'invalid'
  /** Addressed to an id not in the address book. */
  | 'unknown_peer'
  /** Queued for a peer that was removed from the address book. */
  | 'peer_removed'
  /** Queued snapshot chunks lost because the snapshot stream failed. */
  | 'stream_error'
  /** Sent after close(), or still queued at close(). */
  | 'closed'
  /** An unexpected internal error (logged). */
  | 'internal';

export const DROP_REASONS: readonly DropReason[] = Object.freeze([
  'queue_full',
  'oversize',
  'invalid',
  'unknown_peer',
  'peer_removed',
  'stream_error',
  'closed',
  'internal',
]);

export type PeerState = 'idle' | 'connecting' | 'connected' | 'backoff';

export interface PeerStats {
  addr: string;
  state: PeerState;
  /** Messages (and their bytes) waiting in the queues. */
  queued: number;
  queuedBytes: number;
  /** Messages handed to the gRPC stream. */
  sent: number;
  /** Valid inbound messages whose `from` is this peer. */
  received: number;
  dropped: Record<DropReason, number>;
  /** Connection attempts made after a failure. */
  reconnects: number;
}

export interface TransportStats {
  sent: number;
  received: number;
  /** Inbound messages that failed decoding or validation. */
  decodeErrors: number;
  /** Outbound drops, all peers plus those addressed to no peer. */
  dropped: Record<DropReason, number>;
  /** Valid inbound messages not delivered: addressed to another node, or no handler registered. */
  inboundDropped: { wrong_target: number; no_handler: number };
  reconnects: number;
  peers: Map<NodeId, PeerStats>;
}

export interface GrpcRaftTransportOptions {
  selfId: NodeId;
  /** This member's advertised Raft address, announced to peers so that a member that does not
   * know us yet (a new member before it has the config entry) can answer. */
  advertise?: string;
  logger: Logger;
  /** Cap on one serialized message. Default 8 MiB. Larger messages are dropped, never sent. */
  maxMessageBytes?: number;
  /** Messages waiting per peer (excluding snapshot chunks). Default 1024. */
  queueLimit?: number;
  /** Bytes waiting per peer (excluding snapshot chunks). Default 4 × maxMessageBytes. */
  queueBytesLimit?: number;
  /** Snapshot chunks waiting per peer. Default 4. */
  snapshotQueueLimit?: number;
  /** Reconnect backoff. Default 100 ms doubling up to 2 s, with jitter. */
  backoff?: Partial<BackoffOptions>;
  /** A stream not accepted by the peer within this time counts as failed. Default 5 s. */
  connectTimeoutMs?: number;
  /** An idle snapshot stream is closed after this time. Default 30 s. */
  snapshotIdleMs?: number;
  keepalive?: KeepaliveOptions;
  /** Jitter source in [0, 1). Default Math.random. */
  random?: () => number;
  /** Default: insecure (plaintext). */
  credentials?: grpc.ChannelCredentials;
  codecLimits?: CodecLimits;
}

/**
 * Message types whose loss costs more than a resend a heartbeat later: when a peer's queue is
 * full, appends and append responses (superseded by the next ones) are dropped first.
 */
const NON_CRITICAL: ReadonlySet<MessageType> = new Set<MessageType>(['append', 'append_resp']);

interface Outbound {
  buf: Buffer;
  type: MessageType;
  critical: boolean;
}

interface OutStream {
  kind: 'send' | 'snapshot';
  call: grpc.ClientWritableStream<Buffer>;
  /** The server sent its initial metadata: the stream is live. */
  accepted: boolean;
  /** write() returned false; waiting for 'drain'. */
  blocked: boolean;
}

interface Config {
  selfId: NodeId;
  advertise: string | undefined;
  logger: Logger;
  proto: LoadedProto;
  queueLimit: number;
  queueBytesLimit: number;
  snapshotQueueLimit: number;
  backoff: BackoffOptions;
  connectTimeoutMs: number;
  snapshotIdleMs: number;
  random: () => number;
  credentials: grpc.ChannelCredentials;
  channelOptions: grpc.ChannelOptions;
}

export class GrpcRaftTransport implements RaftTransport {
  private readonly cfg: Config;
  private readonly logger: Logger;
  private readonly maxMessageBytes: number;
  private readonly codecLimits: CodecLimits;
  private readonly peers = new Map<NodeId, PeerLink>();
  private handler: ((message: Message) => void) | null = null;
  private closed = false;
  /** Drops not attributable to a current peer (unknown peer, removed peers, after close). */
  private readonly orphanDrops = zeroDrops();
  private readonly totals = { received: 0, decodeErrors: 0, wrongTarget: 0, noHandler: 0 };
  private readonly retiredPeers = { sent: 0, reconnects: 0, drops: zeroDrops() };
  private readonly dropLog = new LogThrottle();
  private readonly wrongTargetLog = new LogThrottle();

  /** Hand this to the server: `server.registerRaft(transport.inbound)`. */
  readonly inbound: RaftInboundHandler = {
    deliver: (message, senderAddr) => this.deliver(message, senderAddr),
    reject: () => {
      this.totals.decodeErrors++;
    },
  };

  constructor(opts: GrpcRaftTransportOptions) {
    this.logger = opts.logger;
    this.maxMessageBytes = opts.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
    this.codecLimits = opts.codecLimits ?? DEFAULT_CODEC_LIMITS;
    const backoff = { ...DEFAULT_BACKOFF, maxMs: 2_000, ...opts.backoff };
    this.cfg = {
      selfId: opts.selfId,
      advertise: opts.advertise,
      logger: opts.logger,
      proto: loadProto(),
      queueLimit: Math.max(1, opts.queueLimit ?? 1024),
      queueBytesLimit: Math.max(this.maxMessageBytes, opts.queueBytesLimit ?? 4 * this.maxMessageBytes),
      snapshotQueueLimit: Math.max(1, opts.snapshotQueueLimit ?? 4),
      backoff,
      connectTimeoutMs: opts.connectTimeoutMs ?? 5_000,
      snapshotIdleMs: opts.snapshotIdleMs ?? 30_000,
      random: opts.random ?? Math.random,
      credentials: opts.credentials ?? grpc.credentials.createInsecure(),
      channelOptions: clientChannelOptions(this.maxMessageBytes, opts.keepalive, backoff),
    };
  }

  /** Register this transport as the server's Raft receiver. */
  attachTo(server: GrpcServer): void {
    server.registerRaft(this.inbound);
  }

  onMessage(handler: (message: Message) => void): void {
    this.handler = handler;
  }

  setPeers(peers: ReadonlyMap<NodeId, string>): void {
    if (this.closed) return;
    for (const [id, link] of this.peers) {
      if (!peers.has(id)) {
        this.retire(link, 'peer_removed');
        this.peers.delete(id);
        this.logger.info({ peer: id, addr: link.addr }, 'raft peer removed');
      }
    }
    for (const [id, addr] of peers) {
      if (id === this.cfg.selfId) continue;
      if (typeof addr !== 'string' || addr.length === 0) {
        this.logger.error({ peer: id, addr }, 'raft peer has no address; ignored');
        continue;
      }
      const link = this.peers.get(id);
      if (!link) {
        this.peers.set(id, new PeerLink(id, addr, this.cfg));
        this.logger.info({ peer: id, addr }, 'raft peer added');
      } else if (link.addr !== addr) {
        this.logger.info({ peer: id, from: link.addr, to: addr }, 'raft peer address changed');
        link.setAddr(addr);
      }
    }
  }

  send(message: Message): void {
    try {
      if (this.closed) {
        this.orphanDrops.closed++;
        return;
      }
      const link = this.peers.get(message.to);
      if (!link) {
        this.orphanDrops.unknown_peer++;
        this.dropLog.log(
          this.logger,
          'debug',
          { to: message.to, type: message.type },
          'raft message to unknown peer dropped',
        );
        return;
      }
      let buf: Buffer;
      try {
        buf = this.cfg.proto.serializeRaftMessage(encodeMessage(message, this.codecLimits));
      } catch (err) {
        link.drops.invalid++;
        this.dropLog.log(
          this.logger,
          'error',
          { to: message.to, type: message.type, err: errorMessage(err) },
          'invalid raft message dropped',
        );
        return;
      }
      if (buf.length > this.maxMessageBytes) {
        link.drops.oversize++;
        this.dropLog.log(
          this.logger,
          'error',
          { to: message.to, type: message.type, bytes: buf.length, limit: this.maxMessageBytes },
          'raft message larger than maxMessageBytes dropped',
        );
        return;
      }
      link.enqueue({ buf, type: message.type, critical: !NON_CRITICAL.has(message.type) });
    } catch (err) {
      this.orphanDrops.internal++;
      this.logger.error({ err: errorMessage(err) }, 'raft transport send failed');
    }
  }

  stats(): TransportStats {
    const dropped = zeroDrops();
    addDrops(dropped, this.orphanDrops);
    addDrops(dropped, this.retiredPeers.drops);
    let sent = this.retiredPeers.sent;
    let reconnects = this.retiredPeers.reconnects;
    const peers = new Map<NodeId, PeerStats>();
    for (const [id, link] of this.peers) {
      const s = link.stats();
      peers.set(id, s);
      sent += s.sent;
      reconnects += s.reconnects;
      addDrops(dropped, s.dropped);
    }
    return {
      sent,
      received: this.totals.received,
      decodeErrors: this.totals.decodeErrors,
      dropped,
      inboundDropped: { wrong_target: this.totals.wrongTarget, no_handler: this.totals.noHandler },
      reconnects,
      peers,
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const link of this.peers.values()) this.retire(link, 'closed');
    this.peers.clear();
    this.handler = null;
  }

  private retire(link: PeerLink, reason: DropReason): void {
    link.destroy(reason);
    const s = link.stats();
    this.retiredPeers.sent += s.sent;
    this.retiredPeers.reconnects += s.reconnects;
    addDrops(this.retiredPeers.drops, s.dropped);
  }

  private deliver(message: Message, senderAddr?: string): void {
    if (this.closed) return;
    if (
      senderAddr &&
      message.to === this.cfg.selfId &&
      !this.peers.has(message.from) &&
      message.from !== this.cfg.selfId
    ) {
      // A member we have no address for (we are new and lack the config entry): learn it so we
      // can answer. The membership replaces it with the authoritative address via setPeers.
      this.peers.set(message.from, new PeerLink(message.from, senderAddr, this.cfg));
      this.logger.info({ peer: message.from, addr: senderAddr }, 'raft peer learned from an inbound stream');
    }
    if (message.to !== this.cfg.selfId) {
      this.totals.wrongTarget++;
      this.wrongTargetLog.log(
        this.logger,
        'warn',
        { from: message.from, to: message.to, type: message.type },
        'raft message addressed to another node dropped',
      );
      return;
    }
    this.totals.received++;
    const link = this.peers.get(message.from);
    if (link) {
      link.received++;
      link.heardFrom();
    }
    if (!this.handler) {
      this.totals.noHandler++;
      return;
    }
    this.handler(message);
  }
}

// ---------------------------------------------------------------------------------------------

/** Least time between two reconnects that inbound traffic from the peer triggers. */
const HEARD_FROM_RECONNECT_SPACING_MS = 100;

/** One peer: its channel, streams, queues and reconnect state. */
class PeerLink {
  state: PeerState = 'idle';
  received = 0;
  readonly drops = zeroDrops();
  private sent = 0;
  private reconnects = 0;
  private client: grpc.Client | null = null;
  private main: OutStream | null = null;
  private snap: OutStream | null = null;
  private readonly queue = new Deque<Outbound>();
  private queueBytes = 0;
  private readonly snapQueue = new Deque<Outbound>();
  private snapBytes = 0;
  private attempts = 0;
  private failedBefore = false;
  private destroyed = false;
  private backoffTimer: NodeJS.Timeout | null = null;
  private lastConnectAt = 0;
  private connectTimer: NodeJS.Timeout | null = null;
  private snapIdleTimer: NodeJS.Timeout | null = null;
  private readonly warnLog = new LogThrottle();
  private readonly debugLog = new LogThrottle();

  constructor(
    readonly id: NodeId,
    public addr: string,
    private readonly cfg: Config,
  ) {}

  enqueue(item: Outbound): void {
    if (this.destroyed) {
      this.drops.closed++;
      return;
    }
    if (item.type === 'snapshot') {
      while (this.snapQueue.length >= this.cfg.snapshotQueueLimit) {
        const victim = this.snapQueue.shift()!;
        this.snapBytes -= victim.buf.length;
        this.drops.queue_full++;
      }
      this.snapQueue.push(item);
      this.snapBytes += item.buf.length;
    } else {
      const size = item.buf.length;
      while (
        this.queue.length > 0 &&
        (this.queue.length >= this.cfg.queueLimit || this.queueBytes + size > this.cfg.queueBytesLimit)
      ) {
        let victim = this.queue.removeFirst((x) => !x.critical);
        if (!victim) {
          // Only critical messages wait: a non-critical newcomer gives way, a critical one evicts the oldest.
          if (!item.critical) {
            this.drops.queue_full++;
            return;
          }
          victim = this.queue.shift()!;
        }
        this.queueBytes -= victim.buf.length;
        this.drops.queue_full++;
      }
      this.queue.push(item);
      this.queueBytes += size;
    }
    switch (this.state) {
      case 'idle':
        this.connect();
        break;
      case 'connected':
        if (item.type === 'snapshot') this.pumpSnapshot();
        else this.pumpMain();
        break;
      default:
        // connecting or backoff: the queue is flushed once the stream is accepted.
        break;
    }
  }

  /**
   * The peer just sent us a message, so it is up (it restarted, or a partition healed): a link
   * waiting out a long backoff reconnects now, so our answers (votes, acks) are not held back for
   * seconds. At most once per HEARD_FROM_RECONNECT_SPACING_MS, so a one-way partition cannot turn inbound
   * traffic into a reconnect storm; the backoff keeps growing if the attempt fails.
   */
  heardFrom(): void {
    if (this.state !== 'backoff' || this.destroyed) return;
    if (performance.now() - this.lastConnectAt < HEARD_FROM_RECONNECT_SPACING_MS) return;
    this.clearBackoff();
    this.state = 'idle';
    if (this.queue.length > 0 || this.snapQueue.length > 0) this.connect();
  }

  /** The peer moved: reconnect to the new address, keeping queued messages. */
  setAddr(addr: string): void {
    this.addr = addr;
    this.teardown();
    this.clearBackoff();
    this.attempts = 0;
    this.state = 'idle';
    if (this.queue.length > 0 || this.snapQueue.length > 0) this.connect();
  }

  destroy(reason: DropReason): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.teardown();
    this.clearBackoff();
    this.drops[reason] += this.queue.length + this.snapQueue.length;
    this.queue.clear();
    this.snapQueue.clear();
    this.queueBytes = 0;
    this.snapBytes = 0;
    this.state = 'idle';
  }

  stats(): PeerStats {
    return {
      addr: this.addr,
      state: this.state,
      queued: this.queue.length + this.snapQueue.length,
      queuedBytes: this.queueBytes + this.snapBytes,
      sent: this.sent,
      received: this.received,
      dropped: { ...this.drops },
      reconnects: this.reconnects,
    };
  }

  // -------------------------------------------------------------------------------------------

  private connect(): void {
    if (this.destroyed) return;
    this.state = 'connecting';
    this.lastConnectAt = performance.now();
    if (this.failedBefore) this.reconnects++;
    this.client = new grpc.Client(this.addr, this.cfg.credentials, this.cfg.channelOptions);
    this.main = this.openStream('send');
    this.connectTimer = setTimeout(() => {
      this.connectTimer = null;
      if (this.state === 'connecting') this.fail(`not accepted within ${this.cfg.connectTimeoutMs} ms`);
    }, this.cfg.connectTimeoutMs);
    this.connectTimer.unref();
  }

  private openStream(kind: 'send' | 'snapshot'): OutStream {
    const metadata = new grpc.Metadata();
    metadata.set(FROM_METADATA_KEY, String(this.cfg.selfId));
    if (this.cfg.advertise) metadata.set(ADDR_METADATA_KEY, this.cfg.advertise);
    const client = this.client!;
    const stream = { kind, accepted: false, blocked: false } as OutStream;
    stream.call = client.makeClientStreamRequest<Buffer, Record<string, never>>(
      kind === 'send' ? RAFT_SEND_PATH : RAFT_SNAPSHOT_PATH,
      identity,
      this.cfg.proto.deserializeAck,
      metadata,
      {},
      (err) => this.onStreamDone(stream, err),
    );
    stream.call.on('metadata', () => this.onAccepted(stream));
    // Write errors after the call ended surface here; the status callback handles the failure.
    stream.call.on('error', () => {});
    return stream;
  }

  private onAccepted(stream: OutStream): void {
    if (this.destroyed) return;
    if (stream === this.main) {
      stream.accepted = true;
      this.clearConnectTimer();
      this.state = 'connected';
      this.attempts = 0;
      if (this.failedBefore)
        this.cfg.logger.info({ peer: this.id, addr: this.addr }, 'raft peer reconnected');
      else this.cfg.logger.debug({ peer: this.id, addr: this.addr }, 'raft peer connected');
      this.pumpMain();
      if (this.snapQueue.length > 0) this.pumpSnapshot();
    } else if (stream === this.snap) {
      stream.accepted = true;
      this.pumpSnapshot();
    }
  }

  private onStreamDone(stream: OutStream, err: grpc.ServiceError | null): void {
    if (this.destroyed) return;
    if (stream === this.snap) {
      this.snap = null;
      this.clearSnapIdle();
      if (err) {
        this.drops.stream_error += this.snapQueue.length;
        this.snapQueue.clear();
        this.snapBytes = 0;
        this.warnLog.log(
          this.cfg.logger,
          'warn',
          { peer: this.id, addr: this.addr, err: err.message },
          'raft snapshot stream failed',
        );
      }
      return;
    }
    if (stream === this.main) {
      this.fail(err ? err.message : 'stream ended by peer');
    }
  }

  /** The main stream failed: drop the connection and retry after a backoff delay. */
  private fail(reason: string): void {
    const wasConnected = this.state === 'connected';
    const firstFailure = this.attempts === 0;
    this.teardown();
    this.failedBefore = true;
    const delay = backoffDelay(this.attempts++, this.cfg.backoff, this.cfg.random);
    const fields = { peer: this.id, addr: this.addr, err: reason, retryInMs: delay };
    if (wasConnected) this.warnLog.log(this.cfg.logger, 'warn', fields, 'raft peer connection lost');
    else if (firstFailure) this.warnLog.log(this.cfg.logger, 'warn', fields, 'raft peer unreachable');
    else this.debugLog.log(this.cfg.logger, 'debug', fields, 'raft peer still unreachable');
    this.state = 'backoff';
    this.backoffTimer = setTimeout(() => {
      this.backoffTimer = null;
      if (this.destroyed) return;
      this.state = 'idle';
      if (this.queue.length > 0 || this.snapQueue.length > 0) this.connect();
    }, delay);
    this.backoffTimer.unref();
  }

  private teardown(): void {
    this.clearConnectTimer();
    this.clearSnapIdle();
    const streams = [this.main, this.snap];
    this.main = null;
    this.snap = null;
    for (const s of streams) s?.call.cancel();
    this.client?.close();
    this.client = null;
  }

  private pumpMain(): void {
    const s = this.main;
    if (!s?.accepted || s.blocked) return;
    while (this.queue.length > 0) {
      const item = this.queue.shift()!;
      this.queueBytes -= item.buf.length;
      this.sent++;
      if (!s.call.write(item.buf)) {
        this.waitDrain(s, () => this.pumpMain());
        return;
      }
    }
  }

  private pumpSnapshot(): void {
    if (this.state !== 'connected' || !this.client) return;
    if (!this.snap) {
      this.snap = this.openStream('snapshot');
      return; // pumped once accepted
    }
    const s = this.snap;
    if (!s.accepted || s.blocked) return;
    this.clearSnapIdle();
    while (this.snapQueue.length > 0) {
      const item = this.snapQueue.shift()!;
      this.snapBytes -= item.buf.length;
      this.sent++;
      if (!s.call.write(item.buf)) {
        this.waitDrain(s, () => this.pumpSnapshot());
        return;
      }
    }
    this.snapIdleTimer = setTimeout(() => {
      this.snapIdleTimer = null;
      if (this.snap === s && this.snapQueue.length === 0) s.call.end();
    }, this.cfg.snapshotIdleMs);
    this.snapIdleTimer.unref();
  }

  private waitDrain(s: OutStream, resume: () => void): void {
    s.blocked = true;
    s.call.once('drain', () => {
      s.blocked = false;
      if (!this.destroyed && (s === this.main || s === this.snap)) resume();
    });
  }

  private clearBackoff(): void {
    if (this.backoffTimer) clearTimeout(this.backoffTimer);
    this.backoffTimer = null;
  }

  private clearConnectTimer(): void {
    if (this.connectTimer) clearTimeout(this.connectTimer);
    this.connectTimer = null;
  }

  private clearSnapIdle(): void {
    if (this.snapIdleTimer) clearTimeout(this.snapIdleTimer);
    this.snapIdleTimer = null;
  }
}

/** A FIFO with O(1) shift and an O(n) remove-first-match (used only when a queue is full). */
class Deque<T> {
  private items: (T | undefined)[] = [];
  private head = 0;

  get length(): number {
    return this.items.length - this.head;
  }

  push(item: T): void {
    this.items.push(item);
  }

  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const item = this.items[this.head];
    this.items[this.head++] = undefined;
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
    } else if (this.head >= 1024 && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }

  removeFirst(pred: (item: T) => boolean): T | undefined {
    for (let i = this.head; i < this.items.length; i++) {
      const item = this.items[i] as T;
      if (pred(item)) {
        if (i === this.head) return this.shift();
        this.items.splice(i, 1);
        return item;
      }
    }
    return undefined;
  }

  clear(): void {
    this.items = [];
    this.head = 0;
  }
}

function identity(buf: Buffer): Buffer {
  return buf;
}

function zeroDrops(): Record<DropReason, number> {
  return Object.fromEntries(DROP_REASONS.map((r) => [r, 0])) as Record<DropReason, number>;
}

function addDrops(into: Record<DropReason, number>, from: Record<DropReason, number>): void {
  for (const r of DROP_REASONS) into[r] += from[r];
}

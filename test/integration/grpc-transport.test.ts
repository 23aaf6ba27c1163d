import { createServer, type Server, type Socket } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import { encodeMessage } from '../../src/raft/grpc/codec.js';
import { loadProto, RAFT_SEND_PATH } from '../../src/raft/grpc/proto.js';
import {
  GrpcRaftTransport,
  type GrpcRaftTransportOptions,
  GrpcServer,
} from '../../src/raft/grpc/transport.js';
import type { AppendRequest, Message, NodeId } from '../../src/raft/types.js';
import { silentLogger } from '../../src/util/log.js';
import { waitFor } from '../support/daemons.js';
import { freePort } from '../support/ports.js';

// ---------------------------------------------------------------------------------------------
// Harness

/** Collects delivered messages; waitFor resolves on the delivery that satisfies the predicate. */
class Inbox {
  readonly messages: Message[] = [];
  private waiters: { pred: (msgs: Message[]) => boolean; resolve: () => void }[] = [];

  push(m: Message): void {
    this.messages.push(m);
    this.waiters = this.waiters.filter((w) => {
      if (!w.pred(this.messages)) return true;
      w.resolve();
      return false;
    });
  }

  waitFor(pred: (msgs: Message[]) => boolean, timeoutMs = 5_000, what = 'messages'): Promise<void> {
    if (pred(this.messages)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w.resolve !== done);
        reject(
          new Error(`timed out after ${timeoutMs} ms waiting for ${what} (have ${this.messages.length})`),
        );
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        resolve();
      };
      this.waiters.push({ pred, resolve: done });
    });
  }

  count(pred: (m: Message) => boolean): number {
    return this.messages.filter(pred).length;
  }
}

interface TestNode {
  id: NodeId;
  port: number;
  addr: string;
  server: GrpcServer;
  transport: GrpcRaftTransport;
  inbox: Inbox;
}

const cleanups: (() => Promise<void> | void)[] = [];

afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

async function startNode(
  id: NodeId,
  opts: { port?: number; transport?: Partial<GrpcRaftTransportOptions>; serverMaxBytes?: number } = {},
): Promise<TestNode> {
  const server = new GrpcServer({
    listen: `127.0.0.1:${opts.port ?? 0}`,
    logger: silentLogger,
    maxMessageBytes: opts.serverMaxBytes,
  });
  const transport = new GrpcRaftTransport({
    selfId: id,
    logger: silentLogger,
    backoff: { initialMs: 10, maxMs: 100 },
    ...opts.transport,
  });
  transport.attachTo(server);
  const inbox = new Inbox();
  transport.onMessage((m) => inbox.push(m));
  const port = await server.start();
  const node = { id, port, addr: `127.0.0.1:${port}`, server, transport, inbox };
  cleanups.push(() => stopNode(node));
  return node;
}

async function stopNode(node: TestNode): Promise<void> {
  await node.transport.close();
  await node.server.stop();
}

function connect(nodes: TestNode[], extra: [NodeId, string][] = []): void {
  const book = new Map<NodeId, string>([...nodes.map((n) => [n.id, n.addr] as [NodeId, string]), ...extra]);
  for (const n of nodes) n.transport.setPeers(book);
}

function append(from: NodeId, to: NodeId, seq: number, data = new Uint8Array([seq & 0xff])): AppendRequest {
  return {
    type: 'append',
    from,
    to,
    term: 1,
    prevIndex: seq,
    prevTerm: 1,
    entries: [{ index: seq + 1, term: 1, type: 'normal', data }],
    commit: 0,
    seq,
  };
}

/** Keeps sending fresh appends (seq from `startSeq`) until one is delivered. Returns the seq delivered. */
async function sendUntilDelivered(
  from: TestNode,
  to: TestNode,
  startSeq: number,
  timeoutMs = 10_000,
): Promise<number> {
  const deadline = performance.now() + timeoutMs;
  let seq = startSeq;
  const arrived = () =>
    to.inbox.messages.find((m) => m.type === 'append' && m.from === from.id && m.seq >= startSeq);
  while (performance.now() < deadline) {
    from.transport.send(append(from.id, to.id, seq++));
    try {
      await to.inbox.waitFor(() => arrived() !== undefined, 25);
      return (arrived() as AppendRequest).seq;
    } catch {
      // not yet: send another
    }
  }
  throw new Error(`no message from ${from.id} reached ${to.id} within ${timeoutMs} ms`);
}

/** One message of every type from `from` to `to` (payloads vary with `n`). */
function everyType(from: NodeId, to: NodeId, n: number): Message[] {
  const h = { from, to, term: n };
  const meta = {
    index: 100 + n,
    term: n,
    membership: { members: [{ id: from, role: 'voter' as const, addr: 'a:1' }], removed: [99] },
  };
  return [
    { ...h, type: 'prevote', lastLogIndex: n, lastLogTerm: 1, transfer: false },
    { ...h, type: 'vote', lastLogIndex: n, lastLogTerm: 1, transfer: true },
    { ...h, type: 'prevote_resp', granted: true },
    { ...h, type: 'vote_resp', granted: false },
    append(from, to, n, new Uint8Array([0, 255, n & 0xff, 7])),
    {
      ...h,
      type: 'append_resp',
      success: true,
      matchIndex: n,
      rejectIndex: 0,
      hintIndex: 0,
      hintTerm: 0,
      seq: n,
    },
    {
      ...h,
      type: 'snapshot',
      meta,
      offset: 0,
      data: new Uint8Array([1, 2, 3, n & 0xff]),
      totalBytes: 8,
      done: false,
      seq: 1,
    },
    {
      ...h,
      type: 'snapshot',
      meta,
      offset: 4,
      data: new Uint8Array([4, 5, 6, 7]),
      totalBytes: 8,
      done: true,
      seq: 2,
    },
    { ...h, type: 'snapshot_resp', snapshotIndex: 100, nextOffset: 8, done: true, matchIndex: 100, seq: 2 },
    { ...h, type: 'timeout_now' },
    { ...h, type: 'read_index', ctx: `ctx-${n}` },
    { ...h, type: 'read_index_resp', ctx: `ctx-${n}`, index: -1 },
  ];
}

// ---------------------------------------------------------------------------------------------

describe('GrpcRaftTransport', () => {
  it('listens on 127.0.0.1:0 and reports the real port', async () => {
    const a = await startNode(1);
    expect(a.port).toBeGreaterThan(0);
    expect(a.server.port).toBe(a.port);
  });

  it('three transports exchange every message type, in order per sender', async () => {
    // 6 chunks per peer are queued before the first connection is up: above the default limit of 4.
    const nodes = await Promise.all(
      [1, 2, 3].map((id) => startNode(id, { transport: { snapshotQueueLimit: 16 } })),
    );
    connect(nodes);
    const expected = new Map<NodeId, Message[]>(nodes.map((n) => [n.id, []]));
    for (let round = 1; round <= 3; round++) {
      for (const from of nodes) {
        for (const to of nodes) {
          if (from === to) continue;
          for (const m of everyType(from.id, to.id, round)) {
            from.transport.send(m);
            expected.get(to.id)!.push(m);
          }
        }
      }
    }
    for (const to of nodes) {
      const want = expected.get(to.id)!;
      await to.inbox.waitFor(
        (msgs) => msgs.length >= want.length,
        5_000,
        `${want.length} messages at node ${to.id}`,
      );
      for (const from of nodes) {
        if (from === to) continue;
        // Snapshot chunks travel on their own stream: order is kept within each stream.
        for (const snapshotStream of [false, true]) {
          const pick = (ms: Message[]) =>
            ms.filter((m) => m.from === from.id && (m.type === 'snapshot') === snapshotStream);
          expect(pick(to.inbox.messages)).toEqual(pick(want));
        }
      }
    }
    const stats = nodes[0]!.transport.stats();
    expect(stats.sent).toBe(2 * 3 * 12);
    expect(stats.received).toBe(2 * 3 * 12);
    expect(Object.values(stats.dropped).every((n) => n === 0)).toBe(true);
    expect(stats.peers.get(2)!.state).toBe('connected');
    expect(stats.peers.get(2)!.received).toBe(3 * 12);
  });

  it('preserves order over a burst of 20000 messages', async () => {
    const [a, b] = await Promise.all([startNode(1, { transport: { queueLimit: 50_000 } }), startNode(2)]);
    connect([a, b]);
    const n = 20_000;
    const t0 = performance.now();
    for (let i = 0; i < n; i++) a.transport.send(append(1, 2, i));
    await b.inbox.waitFor((msgs) => msgs.length >= n, 20_000, `${n} messages`);
    const ms = performance.now() - t0;
    expect(b.inbox.messages.map((m) => (m as AppendRequest).seq)).toEqual(
      Array.from({ length: n }, (_, i) => i),
    );
    expect(a.transport.stats().dropped.queue_full).toBe(0);
    console.log(`burst: ${n} appends in ${ms.toFixed(0)} ms = ${Math.round((n / ms) * 1000)} msg/s`);
  });

  it('a dead peer does not delay delivery to a live peer', async () => {
    const [a, b] = await Promise.all([
      startNode(1, { transport: { queueLimit: 64, backoff: { initialMs: 5, maxMs: 40 } } }),
      startNode(2),
    ]);
    const deadPort = await freePort(); // nothing listens here
    connect([a, b], [[3, `127.0.0.1:${deadPort}`]]);
    const latencies: number[] = [];
    let seq = 0;
    // Keep the dead peer busy (full queue, reconnect attempts) while pinging the live one.
    while (a.transport.stats().peers.get(3)!.reconnects < 5 || latencies.length < 20) {
      if (latencies.length > 2_000) throw new Error('dead peer was never retried');
      for (let i = 0; i < 100; i++) a.transport.send(append(1, 3, seq + i));
      const s = seq++;
      const t0 = performance.now();
      a.transport.send(append(1, 2, s));
      await b.inbox.waitFor(
        (msgs) => msgs.some((m) => m.type === 'append' && m.seq === s),
        2_000,
        `ping ${s}`,
      );
      latencies.push(performance.now() - t0);
    }
    const dead = a.transport.stats().peers.get(3)!;
    expect(dead.state).not.toBe('connected');
    expect(dead.queued).toBeLessThanOrEqual(64);
    expect(dead.dropped.queue_full).toBeGreaterThan(0);
    expect(dead.sent).toBe(0);
    latencies.sort((x, y) => x - y);
    const median = latencies[Math.floor(latencies.length / 2)]!;
    console.log(
      `live peer latency with a dead peer retried ${dead.reconnects}x: median ${median.toFixed(2)} ms, max ${latencies.at(-1)!.toFixed(2)} ms over ${latencies.length} pings`,
    );
    expect(median).toBeLessThan(50);
    expect(latencies.at(-1)!).toBeLessThan(1_000);
  });

  it('a black-hole peer (accepts TCP, never answers) does not delay a live peer', async () => {
    const sockets = new Set<Socket>();
    const hole: Server = createServer((s) => {
      sockets.add(s);
      s.on('error', () => {});
    });
    await new Promise<void>((resolve) => hole.listen(0, '127.0.0.1', resolve));
    cleanups.push(
      () =>
        new Promise<void>((resolve) => {
          for (const s of sockets) s.destroy();
          hole.close(() => resolve());
        }),
    );
    const holePort = (hole.address() as { port: number }).port;
    const [a, b] = await Promise.all([startNode(1, { transport: { connectTimeoutMs: 200 } }), startNode(2)]);
    connect([a, b], [[3, `127.0.0.1:${holePort}`]]);
    for (let i = 0; i < 50; i++) {
      a.transport.send(append(1, 3, i));
      a.transport.send(append(1, 2, i));
    }
    await b.inbox.waitFor((msgs) => msgs.length === 50, 1_000, '50 messages at the live peer');
    // The black hole never accepts the stream: after the connect timeout the link backs off and retries.
    const deadline = performance.now() + 5_000;
    while (a.transport.stats().peers.get(3)!.reconnects < 1) {
      if (performance.now() > deadline) throw new Error('black-hole peer was never retried');
      a.transport.send(append(1, 3, 0));
      await b.inbox.waitFor(() => false, 50).catch(() => {});
    }
    expect(a.transport.stats().peers.get(3)!.sent).toBe(0);
  });

  it('reconnects after the peer restarts on the same port', async () => {
    const port = await freePort();
    const a = await startNode(1);
    let b = await startNode(2, { port });
    connect([a, b]);
    await sendUntilDelivered(a, b, 0);

    await stopNode(b);
    // While b is down, a's link fails and backs off; messages are queued (bounded) or dropped.
    for (let i = 0; i < 10; i++) a.transport.send(append(1, 2, 1000 + i));

    b = await startNode(2, { port });
    connect([a, b]);
    await sendUntilDelivered(a, b, 2000);
    // And the other direction works on the restarted node.
    await sendUntilDelivered(b, a, 0);
    const peer = a.transport.stats().peers.get(2)!;
    expect(peer.reconnects).toBeGreaterThanOrEqual(1);
    expect(peer.state).toBe('connected');
  });

  it('a restarted peer that sends to us cuts our long reconnect backoff short', async () => {
    const port = await freePort();
    // A backoff far longer than the test may wait: only the inbound message can end it early.
    const a = await startNode(1, { transport: { backoff: { initialMs: 20_000, maxMs: 20_000 } } });
    let b = await startNode(2, { port });
    connect([a, b]);
    await sendUntilDelivered(a, b, 0);

    await stopNode(b);
    a.transport.send(append(1, 2, 1000)); // fails: a's link to b backs off for 10-20 s
    await waitFor(() => a.transport.stats().peers.get(2)?.state === 'backoff' || null, 5_000, {
      what: "a's link to back off",
      intervalMs: 10,
    });
    const queuedAt = performance.now();
    a.transport.send(append(1, 2, 1001)); // queued behind the backoff

    b = await startNode(2, { port });
    connect([a, b]);
    // b speaks first, as a candidate asking for a vote would (repeatedly, as Raft retries).
    const queuedArrived = (ms: Message[]) => ms.some((m) => m.type === 'append' && m.seq === 1001);
    for (let i = 0; i < 50 && !queuedArrived(b.inbox.messages); i++) {
      b.transport.send(append(2, 1, i));
      await b.inbox.waitFor(queuedArrived, 100).catch(() => {});
    }
    expect(queuedArrived(b.inbox.messages), 'the queued message arrived once the backoff was cut short').toBe(
      true,
    );
    expect(performance.now() - queuedAt).toBeLessThan(10_000);
    expect(a.transport.stats().peers.get(2)!.state).toBe('connected');
  });

  it('queues while the peer is unreachable, dropping the oldest non-critical messages first', async () => {
    const port = await freePort();
    const a = await startNode(1, { transport: { queueLimit: 50, backoff: { initialMs: 5, maxMs: 20 } } });
    a.transport.setPeers(new Map([[2, `127.0.0.1:${port}`]]));
    const votes: Message[] = [];
    for (let i = 0; i < 200; i++) {
      if (i % 20 === 0) {
        const v: Message = {
          type: 'vote',
          from: 1,
          to: 2,
          term: i,
          lastLogIndex: i,
          lastLogTerm: 1,
          transfer: false,
        };
        votes.push(v);
        a.transport.send(v);
      } else {
        a.transport.send(append(1, 2, i));
      }
    }
    const before = a.transport.stats().peers.get(2)!;
    expect(before.queued).toBe(50);
    expect(before.dropped.queue_full).toBe(150);

    const b = await startNode(2, { port });
    await b.inbox.waitFor((msgs) => msgs.length >= 50, 5_000, 'the queued messages');
    // All 10 votes survived; the appends kept are the 40 most recent, all in original order.
    expect(b.inbox.messages.filter((m) => m.type === 'vote')).toEqual(votes);
    const seqs = b.inbox.messages.filter((m) => m.type === 'append').map((m) => (m as AppendRequest).seq);
    const expectedSeqs = Array.from({ length: 200 }, (_, i) => i)
      .filter((i) => i % 20 !== 0)
      .slice(-40);
    expect(seqs).toEqual(expectedSeqs);
  });

  it('with only critical messages queued, a new append gives way and a new vote evicts the oldest', async () => {
    const port = await freePort();
    const a = await startNode(1, { transport: { queueLimit: 5, backoff: { initialMs: 5, maxMs: 20 } } });
    a.transport.setPeers(new Map([[2, `127.0.0.1:${port}`]]));
    const vote = (term: number): Message => ({
      type: 'vote',
      from: 1,
      to: 2,
      term,
      lastLogIndex: 1,
      lastLogTerm: 1,
      transfer: false,
    });
    for (let t = 1; t <= 5; t++) a.transport.send(vote(t));
    for (let i = 0; i < 3; i++) a.transport.send(append(1, 2, i));
    a.transport.send(vote(6));
    expect(a.transport.stats().peers.get(2)!.dropped.queue_full).toBe(4);
    const b = await startNode(2, { port });
    await b.inbox.waitFor((msgs) => msgs.length >= 5, 5_000, 'the queued votes');
    expect(b.inbox.messages.map((m) => m.term)).toEqual([2, 3, 4, 5, 6]);
  });

  it('drops and counts an oversized message; the connection keeps working', async () => {
    const limit = 64 * 1024;
    const [a, b] = await Promise.all([startNode(1, { transport: { maxMessageBytes: limit } }), startNode(2)]);
    connect([a, b]);
    a.transport.send(append(1, 2, 1, new Uint8Array(limit + 1)));
    a.transport.send(append(1, 2, 2, new Uint8Array(limit - 100)));
    a.transport.send(append(1, 2, 3));
    await b.inbox.waitFor((msgs) => msgs.length === 2, 5_000, 'the two messages within the limit');
    expect(b.inbox.messages.map((m) => (m as AppendRequest).seq)).toEqual([2, 3]);
    expect(a.transport.stats().dropped.oversize).toBe(1);
    expect(a.transport.stats().peers.get(2)!.dropped.oversize).toBe(1);
  });

  it('survives a message over the receiver limit (stream reset) and reconnects', async () => {
    const [a, b] = await Promise.all([
      startNode(1, { transport: { maxMessageBytes: 1 << 20 } }),
      startNode(2, { serverMaxBytes: 64 * 1024 }),
    ]);
    connect([a, b]);
    await sendUntilDelivered(a, b, 0);
    a.transport.send(append(1, 2, 500, new Uint8Array(100 * 1024))); // b's server rejects it
    const seq = await sendUntilDelivered(a, b, 1000);
    expect(seq).toBeGreaterThanOrEqual(1000);
    expect(b.inbox.count((m) => m.type === 'append' && m.seq === 500)).toBe(0);
    expect(a.transport.stats().peers.get(2)!.reconnects).toBeGreaterThanOrEqual(1);
  });

  it('drops messages to peers not in the address book and tears down removed peers', async () => {
    const [a, b] = await Promise.all([startNode(1), startNode(2)]);
    connect([a, b]);
    a.transport.send(append(1, 7, 1)); // never in the book
    await sendUntilDelivered(a, b, 0);
    a.transport.setPeers(new Map([[1, a.addr]]));
    expect(a.transport.stats().peers.size).toBe(0);
    a.transport.send(append(1, 2, 99));
    const stats = a.transport.stats();
    expect(stats.dropped.unknown_peer).toBe(2);
    expect(stats.sent).toBeGreaterThanOrEqual(1); // counters of removed peers are kept
    // b saw its inbound stream end.
    const deadline = performance.now() + 5_000;
    while (b.server.stats().raftStreams > 0) {
      if (performance.now() > deadline) throw new Error('inbound stream of a removed peer stayed open');
      await new Promise((r) => setTimeout(r, 10));
    }
    // Re-adding works.
    connect([a, b]);
    await sendUntilDelivered(a, b, 200);
  });

  it('drops inbound messages addressed to another node', async () => {
    const [a, b] = await Promise.all([startNode(1), startNode(2)]);
    // a believes node 3 lives at b's address (a stale address book).
    a.transport.setPeers(new Map([[3, b.addr]]));
    b.transport.setPeers(new Map([[1, a.addr]]));
    a.transport.send(append(1, 3, 1));
    const deadline = performance.now() + 5_000;
    while (b.transport.stats().inboundDropped.wrong_target === 0) {
      if (performance.now() > deadline) throw new Error('misaddressed message never arrived');
      await new Promise((r) => setTimeout(r, 5));
    }
    expect(b.inbox.messages).toEqual([]);
  });

  it('sends snapshot chunks on their own stream; heartbeats are not stuck behind them', async () => {
    const [a, b] = await Promise.all([startNode(1), startNode(2)]);
    connect([a, b]);
    await sendUntilDelivered(a, b, 0);
    const chunk = 6 * 1024 * 1024;
    const total = 3 * chunk;
    const meta = { index: 10, term: 1, membership: { members: [], removed: [] } };
    for (let i = 0; i < 3; i++) {
      a.transport.send({
        type: 'snapshot',
        from: 1,
        to: 2,
        term: 1,
        meta,
        offset: i * chunk,
        data: new Uint8Array(chunk).fill(i + 1),
        totalBytes: total,
        done: i === 2,
        seq: i,
      });
    }
    a.transport.send(append(1, 2, 7777));
    await b.inbox.waitFor(
      (msgs) => msgs.filter((m) => m.type === 'snapshot').length === 3,
      10_000,
      '3 chunks',
    );
    const order = b.inbox.messages.map((m) =>
      m.type === 'snapshot' ? `c${m.seq}` : `a${(m as AppendRequest).seq}`,
    );
    expect(order.filter((x) => x.startsWith('c'))).toEqual(['c0', 'c1', 'c2']);
    // The heartbeat did not wait for the whole snapshot.
    expect(order.indexOf('a7777')).toBeLessThan(order.indexOf('c2'));
    const last = b.inbox.messages.find((m) => m.type === 'snapshot' && m.seq === 2);
    expect(last?.type === 'snapshot' && last.data.every((x) => x === 3)).toBe(true);
  });

  it('is inert after close(): send never throws and counts the drop', async () => {
    const [a, b] = await Promise.all([startNode(1), startNode(2)]);
    connect([a, b]);
    await sendUntilDelivered(a, b, 0);
    await a.transport.close();
    expect(() => a.transport.send(append(1, 2, 5))).not.toThrow();
    expect(a.transport.stats().dropped.closed).toBeGreaterThanOrEqual(1);
    await a.transport.close(); // idempotent
  });

  it('send() never throws, even on garbage', async () => {
    const a = await startNode(1);
    a.transport.setPeers(new Map([[2, '127.0.0.1:1']]));
    const garbage = [
      null,
      undefined,
      42,
      {},
      { to: 2 },
      { to: 2, type: 'append' },
      { to: 2, type: 'vote', from: -1 },
    ];
    for (const g of garbage) expect(() => a.transport.send(g as unknown as Message)).not.toThrow();
    const s = a.transport.stats();
    expect(s.dropped.invalid + s.dropped.unknown_peer + s.dropped.internal).toBe(garbage.length);
  });
});

describe('GrpcServer with a hostile raw client', () => {
  it('drops malformed RaftMessages without ending the stream and keeps serving', async () => {
    const b = await startNode(2);
    const proto = loadProto();
    const client = new grpc.Client(b.addr, grpc.credentials.createInsecure());
    cleanups.push(() => client.close());
    const identity = (x: Buffer) => x;
    let streamError: Error | null = null;
    const call = client.makeClientStreamRequest<Buffer, unknown>(
      RAFT_SEND_PATH,
      identity,
      proto.deserializeAck,
      new grpc.Metadata(),
      {},
      (err) => {
        streamError = err;
      },
    );
    const ser = (o: unknown) => proto.serializeRaftMessage(o as never);
    const valid = (seq: number) => ser(encodeMessage(append(1, 2, seq)));
    const hostile: Buffer[] = [
      Buffer.from([0xff, 0xff, 0xff, 0xff]), // not protobuf
      Buffer.from([0x2a, 0x05, 0x08]), // truncated sub-message
      Buffer.from([0x2a, 0x03, 0x0d, 0x01, 0x02]), // fixed32 wire type where uint64 expected, truncated
      Buffer.alloc(0), // no oneof set
      ser({ append: { from: 0, to: 2, term: 1, entries: [] } }), // from = 0
      ser({ append: { from: 1, to: 2, term: 2 ** 63, entries: [] } }), // unsafe integer
      ser({ append: { from: 1, to: 2, term: 1, entries: [{ index: 1, term: 1, type: 42 }] } }), // bad enum
      ser({ snapshot: { from: 1, to: 2, term: 1 } }), // no meta
      ser({ read_index_resp: { from: 1, to: 2, term: 1, index: -7 } }),
      Buffer.concat([valid(0), Buffer.from([0x62, 0x01])]), // trailing unknown field, truncated
    ];
    for (const h of hostile) call.write(h);
    call.write(valid(1));
    await b.inbox.waitFor((msgs) => msgs.length === 1, 5_000, 'the valid message after the hostile ones');
    expect((b.inbox.messages[0] as AppendRequest).seq).toBe(1);
    expect(b.transport.stats().decodeErrors).toBe(hostile.length);
    expect(streamError).toBeNull();
    // Same stream still works.
    call.write(valid(2));
    await b.inbox.waitFor((msgs) => msgs.length === 2, 5_000, 'a second valid message');
    call.end();
    // And a regular peer can still talk to the server.
    const a = await startNode(1);
    connect([a, b]);
    await sendUntilDelivered(a, b, 100);
  });
});

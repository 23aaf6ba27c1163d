/**
 * The daemon's gRPC server: the Raft service (inbound message streams, decoded and validated here)
 * and the Cluster service (generic JSON request/response, handlers registered by method name).
 *
 * Nothing a peer sends can crash it: undecodable or invalid Raft messages are logged (throttled)
 * and dropped without ending the stream; Cluster handler failures become HTTP-style statuses.
 */
import * as grpc from '@grpc/grpc-js';
import { addressProblem } from '../../config/address.js';
import type { Logger } from '../../util/log.js';
import type { Message } from '../types.js';
import { type CodecLimits, DEFAULT_CODEC_LIMITS, decodeMessage } from './codec.js';
import {
  ADDR_METADATA_KEY,
  DEFAULT_MAX_MESSAGE_BYTES,
  errorMessage,
  FROM_METADATA_KEY,
  type KeepaliveOptions,
  LogThrottle,
  serverChannelOptions,
} from './options.js';
import { loadProto, type PbClusterRequest, type PbClusterResponse, type PbRaftMessage } from './proto.js';

/** Receives what arrives on the Raft service. GrpcRaftTransport.inbound implements it. */
export interface RaftInboundHandler {
  /** A decoded, validated message; `senderAddr` is the Raft address the sender advertised, if any. */
  deliver(message: Message, senderAddr?: string): void;
  /** A message that could not be decoded or failed validation (already logged by the server). */
  reject(error: Error): void;
}

export interface ClusterCallMeta {
  method: string;
  /** The caller's token, passed through unchecked: the handler decides. Never log it. */
  token: string;
  /** How many times the request was forwarded before reaching this server. */
  hops: number;
  /** The caller's address as gRPC reports it (ip:port). */
  peer: string;
}

export interface ClusterReply {
  /** An HTTP status code (100-599). */
  status: number;
  /** Serialized as JSON; undefined means no body. */
  body?: unknown;
}

export type ClusterHandler = (body: unknown, meta: ClusterCallMeta) => Promise<ClusterReply>;

export interface GrpcServerOptions {
  /** host:port; port 0 picks a free port (see start()). */
  listen: string;
  logger: Logger;
  /** Cap on a received or sent message, serialized. Default 8 MiB. */
  maxMessageBytes?: number;
  keepalive?: KeepaliveOptions;
  /** Requests that were forwarded more often than this are refused with 508. Default 8. */
  maxHops?: number;
  /** Default: insecure (plaintext). */
  credentials?: grpc.ServerCredentials;
  codecLimits?: CodecLimits;
}

export interface GrpcServerStats {
  /** Raft streams currently open. */
  raftStreams: number;
  /** Raft messages received but dropped because no handler was registered. */
  raftUnhandled: number;
  clusterCalls: number;
  /** Cluster calls answered with a status >= 500. */
  clusterErrors: number;
}

const MARK_DECODE_FAILURE: unique symbol = Symbol('raftinel.decodeFailure');

interface DecodeFailure {
  [MARK_DECODE_FAILURE]: true;
  error: Error;
}

function isDecodeFailure(value: unknown): value is DecodeFailure {
  return typeof value === 'object' && value !== null && MARK_DECODE_FAILURE in value;
}

type RaftCall = grpc.ServerReadableStream<PbRaftMessage | DecodeFailure, Record<string, never>>;

export class GrpcServer {
  private readonly logger: Logger;
  private readonly maxMessageBytes: number;
  private readonly maxHops: number;
  private readonly codecLimits: CodecLimits;
  private readonly server: grpc.Server;
  private readonly clusterHandlers = new Map<string, ClusterHandler>();
  private readonly raftStreams = new Set<RaftCall>();
  private readonly decodeLog = new LogThrottle();
  private raft: RaftInboundHandler | null = null;
  private boundPort: number | null = null;
  private stopped = false;
  private counters = { raftUnhandled: 0, clusterCalls: 0, clusterErrors: 0 };

  constructor(private readonly opts: GrpcServerOptions) {
    this.logger = opts.logger;
    this.maxMessageBytes = opts.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
    this.maxHops = opts.maxHops ?? 8;
    this.codecLimits = opts.codecLimits ?? DEFAULT_CODEC_LIMITS;
    this.server = new grpc.Server(serverChannelOptions(this.maxMessageBytes, opts.keepalive));
    const proto = loadProto();
    this.server.addService(tolerantDeserialize(proto.raftService), {
      Send: (call: RaftCall, callback: grpc.sendUnaryData<Record<string, never>>) =>
        this.handleRaftStream('send', call, callback),
      InstallSnapshot: (call: RaftCall, callback: grpc.sendUnaryData<Record<string, never>>) =>
        this.handleRaftStream('snapshot', call, callback),
    });
    this.server.addService(proto.clusterService, {
      Call: (
        call: grpc.ServerUnaryCall<PbClusterRequest, PbClusterResponse>,
        callback: grpc.sendUnaryData<PbClusterResponse>,
      ) => {
        void this.handleClusterCall(call).then((response) => callback(null, response));
      },
    });
  }

  /** Set the receiver of Raft messages (replaces any previous one). */
  registerRaft(handler: RaftInboundHandler): void {
    this.raft = handler;
  }

  /** Register the handler for a Cluster.Call method name. */
  registerCluster(method: string, handler: ClusterHandler): void {
    if (this.clusterHandlers.has(method)) throw new Error(`cluster method '${method}' is already registered`);
    this.clusterHandlers.set(method, handler);
  }

  /** Bind and start serving. Resolves with the port actually bound (useful with port 0). */
  start(): Promise<number> {
    if (this.stopped) return Promise.reject(new Error('gRPC server was stopped'));
    if (this.boundPort !== null) return Promise.resolve(this.boundPort);
    return new Promise((resolve, reject) => {
      this.server.bindAsync(
        this.opts.listen,
        this.opts.credentials ?? grpc.ServerCredentials.createInsecure(),
        (err, port) => {
          if (err) {
            reject(new Error(`gRPC server could not listen on ${this.opts.listen}: ${err.message}`));
            return;
          }
          this.boundPort = port;
          this.logger.info({ listen: this.opts.listen, port }, 'gRPC server listening');
          resolve(port);
        },
      );
    });
  }

  /** The bound port; throws before start() resolved. */
  get port(): number {
    if (this.boundPort === null) throw new Error('gRPC server is not started');
    return this.boundPort;
  }

  /**
   * Stop serving. Raft streams never end on their own, so waiting for them is pointless: after at
   * most `graceMs` for in-flight calls (default 0), every call is cancelled and every connection
   * closed.
   */
  async stop(graceMs = 0): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (graceMs > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, graceMs);
        this.server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    this.server.forceShutdown();
    this.raftStreams.clear();
    this.logger.info({ listen: this.opts.listen, port: this.boundPort }, 'gRPC server stopped');
  }

  stats(): GrpcServerStats {
    return { raftStreams: this.raftStreams.size, ...this.counters };
  }

  // -------------------------------------------------------------------------------------------

  private handleRaftStream(
    kind: 'send' | 'snapshot',
    call: RaftCall,
    callback: grpc.sendUnaryData<Record<string, never>>,
  ): void {
    const peer = call.getPeer();
    const from = call.metadata.get(FROM_METADATA_KEY)[0]?.toString() ?? '?';
    const rawAddr = call.metadata.get(ADDR_METADATA_KEY)[0]?.toString();
    const senderAddr = rawAddr !== undefined && addressProblem(rawAddr) === null ? rawAddr : undefined;
    this.raftStreams.add(call);
    this.logger.debug({ peer, from, stream: kind }, 'raft stream opened');
    // Tells the client the stream is accepted: it starts writing only then.
    call.sendMetadata(new grpc.Metadata());
    let finished = false;
    const finish = (reason: string) => {
      if (finished) return;
      finished = true;
      this.raftStreams.delete(call);
      this.logger.debug({ peer, from, stream: kind, reason }, 'raft stream closed');
    };
    call.on('data', (raw: PbRaftMessage | DecodeFailure) => this.receiveRaft(raw, peer, from, senderAddr));
    call.on('end', () => {
      finish('end');
      callback(null, {});
    });
    call.on('error', (err: Error) => finish(err.message));
    call.on('close', () => finish('close'));
  }

  private receiveRaft(
    raw: PbRaftMessage | DecodeFailure,
    peer: string,
    from: string,
    senderAddr?: string,
  ): void {
    let message: Message;
    try {
      if (isDecodeFailure(raw)) throw raw.error;
      message = decodeMessage(raw, this.codecLimits);
    } catch (err) {
      const error = err instanceof Error ? err : new Error(String(err));
      this.decodeLog.log(
        this.logger,
        'warn',
        { peer, from, err: error.message },
        'dropped invalid raft message',
      );
      try {
        this.raft?.reject(error);
      } catch (handlerErr) {
        this.logger.error({ err: errorMessage(handlerErr) }, 'raft reject handler threw');
      }
      return;
    }
    if (!this.raft) {
      this.counters.raftUnhandled++;
      return;
    }
    try {
      this.raft.deliver(message, senderAddr);
    } catch (err) {
      this.logger.error({ err: errorMessage(err), type: message.type }, 'raft message handler threw');
    }
  }

  private async handleClusterCall(
    call: grpc.ServerUnaryCall<PbClusterRequest, PbClusterResponse>,
  ): Promise<PbClusterResponse> {
    this.counters.clusterCalls++;
    const reply = await this.dispatchCluster(call.request, call.getPeer());
    let json: Buffer;
    try {
      json = reply.body === undefined ? Buffer.alloc(0) : Buffer.from(JSON.stringify(reply.body), 'utf8');
    } catch (err) {
      return this.clusterError(500, `response body is not serializable: ${errorMessage(err)}`);
    }
    if (json.length > this.maxMessageBytes - 64) {
      return this.clusterError(500, `response body too large: ${json.length} bytes`);
    }
    if (reply.status >= 500) this.counters.clusterErrors++;
    return { status: reply.status, json_body: json };
  }

  private clusterError(status: number, message: string): PbClusterResponse {
    if (status >= 500) this.counters.clusterErrors++;
    return { status, json_body: Buffer.from(JSON.stringify({ error: message }), 'utf8') };
  }

  private async dispatchCluster(request: PbClusterRequest, peer: string): Promise<ClusterReply> {
    const method = typeof request.method === 'string' ? request.method : '';
    const hops = typeof request.hops === 'number' ? request.hops : 0;
    if (hops > this.maxHops) {
      return { status: 508, body: { error: `request forwarded too often (${hops} hops > ${this.maxHops})` } };
    }
    const handler = this.clusterHandlers.get(method);
    if (!handler) return { status: 404, body: { error: `unknown cluster method '${method}'` } };
    let body: unknown;
    const raw = request.json_body;
    if (raw instanceof Uint8Array && raw.byteLength > 0) {
      try {
        body = JSON.parse(Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('utf8'));
      } catch (err) {
        return { status: 400, body: { error: `invalid JSON body: ${errorMessage(err)}` } };
      }
    }
    const meta: ClusterCallMeta = {
      method,
      token: typeof request.token === 'string' ? request.token : '',
      hops,
      peer,
    };
    let reply: ClusterReply;
    try {
      reply = await handler(body, meta);
    } catch (err) {
      this.logger.warn({ method, peer, err: errorMessage(err) }, 'cluster handler failed');
      return { status: 500, body: { error: errorMessage(err) } };
    }
    if (
      typeof reply !== 'object' ||
      reply === null ||
      !Number.isInteger(reply.status) ||
      reply.status < 100 ||
      reply.status > 599
    ) {
      this.logger.error(
        { method, status: (reply as ClusterReply | null)?.status },
        'cluster handler returned an invalid reply',
      );
      return { status: 500, body: { error: `handler for '${method}' returned an invalid reply` } };
    }
    return reply;
  }
}

/**
 * The Raft service with a deserializer that never throws: grpc-js ends the whole stream when a
 * deserializer throws; instead a marker object reaches the handler, which logs and drops it.
 */
function tolerantDeserialize(service: grpc.ServiceDefinition): grpc.ServiceDefinition {
  const out: Record<string, grpc.MethodDefinition<unknown, unknown>> = {};
  for (const [name, def] of Object.entries(service)) {
    out[name] = {
      ...def,
      requestDeserialize: (bytes: Buffer) => {
        try {
          return def.requestDeserialize(bytes);
        } catch (err) {
          const failure: DecodeFailure = {
            [MARK_DECODE_FAILURE]: true,
            error: new Error(`undecodable RaftMessage (${bytes.length} bytes): ${errorMessage(err)}`),
          };
          return failure;
        }
      },
    };
  }
  return out;
}

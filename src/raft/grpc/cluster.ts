/**
 * Client side of the generic `Cluster.Call` RPC: send a JSON body to a named handler on another
 * daemon (typically the leader) and get back an HTTP-style status and JSON body.
 *
 * Application outcomes (404 unknown method, 500 handler error, ...) resolve normally with their
 * status. Only transport failures (unreachable, deadline exceeded, undecodable response) reject,
 * with a `ClusterCallError` carrying the gRPC status code.
 */
import * as grpc from '@grpc/grpc-js';
import type { Logger } from '../../util/log.js';
import {
  type BackoffOptions,
  clientChannelOptions,
  DEFAULT_BACKOFF,
  DEFAULT_MAX_MESSAGE_BYTES,
  errorMessage,
  type KeepaliveOptions,
} from './options.js';
import {
  CLUSTER_CALL_PATH,
  type LoadedProto,
  loadProto,
  type PbClusterRequest,
  type PbClusterResponse,
} from './proto.js';
import type { ClusterReply } from './server.js';

export class ClusterCallError extends Error {
  constructor(
    /** gRPC status code (grpc.status): UNAVAILABLE, DEADLINE_EXCEEDED, ... */
    readonly code: grpc.status,
    readonly addr: string,
    readonly method: string,
    detail: string,
  ) {
    super(`cluster call '${method}' to ${addr} failed: ${detail}`);
    this.name = 'ClusterCallError';
  }

  /** True when the request may not have reached the handler (safe to retry idempotent calls). */
  get unavailable(): boolean {
    return this.code === grpc.status.UNAVAILABLE;
  }
}

export interface ClusterClientOptions {
  logger: Logger;
  /** Cap on a request or response, serialized. Default 8 MiB. */
  maxMessageBytes?: number;
  keepalive?: KeepaliveOptions;
  /** gRPC channel reconnect backoff. Default 100 ms up to 2 s. */
  backoff?: Partial<BackoffOptions>;
  /** Default: insecure (plaintext). */
  credentials?: grpc.ChannelCredentials;
}

export interface ClusterCallOptions {
  /** Passed through to the handler. */
  token?: string;
  /** Deadline for the whole call. Default 5 s. */
  timeoutMs?: number;
  /** Times this request was already forwarded; a forwarding daemon passes its own hops + 1. */
  hops?: number;
}

export class ClusterClient {
  private readonly clients = new Map<string, grpc.Client>();
  private readonly proto: LoadedProto;
  private readonly maxMessageBytes: number;
  private readonly channelOptions: grpc.ChannelOptions;
  private readonly credentials: grpc.ChannelCredentials;
  private closed = false;

  constructor(private readonly opts: ClusterClientOptions) {
    this.proto = loadProto();
    this.maxMessageBytes = opts.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
    this.channelOptions = clientChannelOptions(this.maxMessageBytes, opts.keepalive, {
      ...DEFAULT_BACKOFF,
      maxMs: 2_000,
      ...opts.backoff,
    });
    this.credentials = opts.credentials ?? grpc.credentials.createInsecure();
  }

  /** Call `method` on the daemon at `addr` (host:port). */
  call(addr: string, method: string, body: unknown, opts: ClusterCallOptions = {}): Promise<ClusterReply> {
    if (this.closed) {
      return Promise.reject(new ClusterCallError(grpc.status.CANCELLED, addr, method, 'client is closed'));
    }
    let json: Buffer;
    try {
      json = body === undefined ? Buffer.alloc(0) : Buffer.from(JSON.stringify(body), 'utf8');
    } catch (err) {
      return Promise.reject(
        new ClusterCallError(
          grpc.status.INVALID_ARGUMENT,
          addr,
          method,
          `body is not serializable: ${errorMessage(err)}`,
        ),
      );
    }
    if (json.length > this.maxMessageBytes - 64 - method.length - (opts.token?.length ?? 0)) {
      return Promise.reject(
        new ClusterCallError(
          grpc.status.RESOURCE_EXHAUSTED,
          addr,
          method,
          `request body too large: ${json.length} bytes`,
        ),
      );
    }
    const request: PbClusterRequest = {
      method,
      json_body: json,
      token: opts.token ?? '',
      hops: opts.hops ?? 0,
    };
    const client = this.client(addr);
    const deadline = Date.now() + (opts.timeoutMs ?? 5_000);
    return new Promise((resolve, reject) => {
      client.makeUnaryRequest<PbClusterRequest, PbClusterResponse>(
        CLUSTER_CALL_PATH,
        this.proto.serializeClusterRequest,
        this.proto.deserializeClusterResponse,
        request,
        new grpc.Metadata(),
        { deadline },
        (err, response) => {
          if (err || !response) {
            reject(
              new ClusterCallError(
                err?.code ?? grpc.status.UNKNOWN,
                addr,
                method,
                err?.details || 'no response',
              ),
            );
            return;
          }
          let parsed: unknown;
          const raw = response.json_body;
          if (raw && raw.byteLength > 0) {
            try {
              parsed = JSON.parse(Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('utf8'));
            } catch (parseErr) {
              reject(
                new ClusterCallError(
                  grpc.status.INTERNAL,
                  addr,
                  method,
                  `invalid JSON in response: ${errorMessage(parseErr)}`,
                ),
              );
              return;
            }
          }
          resolve({ status: response.status, body: parsed });
        },
      );
    });
  }

  /** Close every channel. Calls in flight fail with CANCELLED. */
  close(): void {
    this.closed = true;
    for (const client of this.clients.values()) client.close();
    this.clients.clear();
  }

  private client(addr: string): grpc.Client {
    let client = this.clients.get(addr);
    if (!client) {
      client = new grpc.Client(addr, this.credentials, this.channelOptions);
      this.clients.set(addr, client);
      this.opts.logger.debug({ addr }, 'cluster channel opened');
    }
    return client;
  }
}

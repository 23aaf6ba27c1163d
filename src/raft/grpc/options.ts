/**
 * Defaults and gRPC channel/server options shared by the server, the Raft transport and the
 * cluster client, plus small helpers (reconnect backoff, log throttling).
 */
import type { ChannelOptions } from '@grpc/grpc-js';
import type { Logger } from '../../util/log.js';

/** Largest gRPC message either side sends or accepts (serialized size). */
export const DEFAULT_MAX_MESSAGE_BYTES = 8 * 1024 * 1024;
/** HTTP/2 keepalive ping interval and the time to wait for its ack before dropping the connection. */
export const DEFAULT_KEEPALIVE_TIME_MS = 10_000;
export const DEFAULT_KEEPALIVE_TIMEOUT_MS = 5_000;

/** Metadata key carrying the sender's node id on Raft streams (for logs only; not authentication). */
export const FROM_METADATA_KEY = 'raftinel-from';
/** The sender's advertised Raft address, so a receiver that does not know it yet can answer. */
export const ADDR_METADATA_KEY = 'raftinel-addr';

export interface KeepaliveOptions {
  timeMs?: number;
  timeoutMs?: number;
}

export function serverChannelOptions(
  maxMessageBytes: number,
  keepalive: KeepaliveOptions = {},
): ChannelOptions {
  return {
    'grpc.max_receive_message_length': maxMessageBytes,
    'grpc.max_send_message_length': maxMessageBytes,
    'grpc.keepalive_time_ms': keepalive.timeMs ?? DEFAULT_KEEPALIVE_TIME_MS,
    'grpc.keepalive_timeout_ms': keepalive.timeoutMs ?? DEFAULT_KEEPALIVE_TIMEOUT_MS,
    'grpc.keepalive_permit_without_calls': 1,
  };
}

/**
 * Client channel options. Each channel gets its own subchannel pool (no sharing of connections
 * between transports in one process, so closing one never affects another), gRPC-level retries are
 * off (the retry buffer would hide backpressure; Raft retries itself), and gRPC's own reconnect
 * backoff follows ours.
 */
export function clientChannelOptions(
  maxMessageBytes: number,
  keepalive: KeepaliveOptions = {},
  backoff?: { initialMs: number; maxMs: number },
): ChannelOptions {
  const options: ChannelOptions = {
    'grpc.max_receive_message_length': maxMessageBytes,
    'grpc.max_send_message_length': maxMessageBytes,
    'grpc.keepalive_time_ms': keepalive.timeMs ?? DEFAULT_KEEPALIVE_TIME_MS,
    'grpc.keepalive_timeout_ms': keepalive.timeoutMs ?? DEFAULT_KEEPALIVE_TIMEOUT_MS,
    'grpc.keepalive_permit_without_calls': 1,
    'grpc.use_local_subchannel_pool': 1,
    'grpc.enable_retries': 0,
    'grpc.per_rpc_retry_buffer_size': 0,
    'grpc.enable_channelz': 0,
  };
  if (backoff) {
    options['grpc.initial_reconnect_backoff_ms'] = backoff.initialMs;
    options['grpc.max_reconnect_backoff_ms'] = backoff.maxMs;
  }
  return options;
}

export interface BackoffOptions {
  /** Delay before the first reconnect attempt. */
  initialMs: number;
  /** Cap on the delay. */
  maxMs: number;
}

export const DEFAULT_BACKOFF: Readonly<BackoffOptions> = Object.freeze({ initialMs: 100, maxMs: 5_000 });

/**
 * Delay before reconnect attempt `attempt` (0-based): exponential, capped, with "equal jitter"
 * (uniform in [d/2, d]) so peers that failed together do not reconnect in lockstep.
 */
export function backoffDelay(attempt: number, opts: BackoffOptions, random: () => number): number {
  const exp = opts.initialMs * 2 ** Math.min(attempt, 30);
  const capped = Math.min(opts.maxMs, exp);
  return Math.round(capped / 2 + (capped / 2) * random());
}

/**
 * Logs the first occurrence of an event, then at most one line per `intervalMs` with the number of
 * occurrences suppressed since: a hostile or buggy peer cannot flood the log.
 */
export class LogThrottle {
  private lastAt = Number.NEGATIVE_INFINITY;
  private suppressed = 0;

  constructor(private readonly intervalMs = 5_000) {}

  log(logger: Logger, level: 'warn' | 'error' | 'info' | 'debug', fields: object, msg: string): void {
    const now = performance.now();
    if (now - this.lastAt < this.intervalMs) {
      this.suppressed++;
      return;
    }
    this.lastAt = now;
    const suppressed = this.suppressed;
    this.suppressed = 0;
    logger[level](suppressed > 0 ? { ...fields, suppressed } : fields, msg);
  }
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

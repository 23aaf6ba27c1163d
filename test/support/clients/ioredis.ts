/**
 * ioredis driver: `new Redis({ sentinels, name })`, as an application configures it, with or
 * without `failoverDetector` (SUBSCRIBE +switch-master on the sentinels). Timeouts on the sentinel
 * connections are set as a production application sets them, so a paused (SIGSTOP) daemon does not
 * hang the client forever.
 */
import { Redis } from 'ioredis';
import { type ClientEnded, type SentinelAddr, sleep, Writer } from './common.js';

export interface IoredisWriterOptions {
  name?: string;
  failoverDetector?: boolean;
  intervalMs?: number;
}

export class IoredisWriter extends Writer {
  readonly client: Redis;
  /** 'reconnecting' events of the data connection. */
  reconnects = 0;

  constructor(sentinels: SentinelAddr[], prefix: string, opts: IoredisWriterOptions = {}) {
    super(opts.failoverDetector ? 'ioredis failoverDetector' : 'ioredis', prefix, opts.intervalMs);
    this.client = new Redis({
      sentinels: sentinels.map((s) => ({ host: s.host, port: s.port })),
      name: opts.name ?? 'mymaster',
      failoverDetector: opts.failoverDetector ?? false,
      lazyConnect: true,
      connectTimeout: 2000,
      sentinelCommandTimeout: 1000,
    });
    this.client.on('error', (err) => this.noteError(err));
    this.client.on('reconnecting', () => {
      this.reconnects++;
    });
    this.client.on('end', () => {
      this.endedAt = Date.now();
    });
    // Notice ioredis' own failoverDetector race (see endedReason): its connector told to
    // disconnect while it is in the middle of resolving the master.
    const connector = (this.client as unknown as { connector: { connecting: boolean; disconnect(): void } })
      .connector;
    const disconnect = connector.disconnect.bind(connector);
    connector.disconnect = () => {
      if (connector.connecting && this.client.status === 'connecting')
        this.disconnectedWhileResolving = Date.now();
      disconnect();
    };
  }

  private endedAt: number | null = null;
  private disconnectedWhileResolving: number | null = null;

  /**
   * ioredis 5 (lib/connectors/SentinelConnector): with failoverDetector, a +switch-master that
   * arrives while the client is reconnecting and its connector is resolving the master makes
   * FailoverDetector.disconnect() -> connector.disconnect() set `connecting = false`; connectToNext
   * then throws "Connection is closed.", Redis._connect() sets status "end", and the client never
   * reconnects. It happens with redis-sentinel too, whenever the master dies (the client is
   * reconnecting when +switch-master comes); raftinel's switchover avoids it by closing the old
   * master's clients only after the switch is published.
   */
  override endedReason(): string | null {
    if (this.stopping || this.endedAt === null) return null;
    const race = this.disconnectedWhileResolving !== null;
    return race
      ? 'ioredis failoverDetector race: +switch-master arrived while the connector was resolving the master, connect() failed with "Connection is closed." and the client ended for good'
      : 'the ioredis client ended';
  }

  /** True when the client ended through ioredis' failoverDetector race (see endedReason). */
  endedByDetectorRace(): boolean {
    return !this.stopping && this.endedAt !== null && this.disconnectedWhileResolving !== null;
  }

  /** The address of the Redis the data connection is on (null when not connected). */
  connectedTo(): string | null {
    const s = (this.client as unknown as { stream?: { remoteAddress?: string; remotePort?: number } }).stream;
    return s?.remoteAddress && s.remotePort ? `${s.remoteAddress}:${s.remotePort}` : null;
  }

  async start(timeoutMs = 20_000): Promise<void> {
    await this.client.connect();
    this.runLoop((k, v) => this.client.set(k, v));
    await this.waitForAcksAfter(0, 1, timeoutMs);
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await this.loopEnded(2000);
    this.client.disconnect();
    await sleep(0);
  }
}

/**
 * One master resolution as ioredis does it on (re)connect: the address it ends up connected to
 * (a master, per its INFO role check), or the Error it gives up with (retries disabled).
 */
export async function ioredisResolve(sentinels: SentinelAddr[], name = 'mymaster'): Promise<string | Error> {
  const r = new Redis({
    sentinels: sentinels.map((s) => ({ host: s.host, port: s.port })),
    name,
    lazyConnect: true,
    connectTimeout: 1000,
    sentinelCommandTimeout: 1000,
    sentinelRetryStrategy: () => null,
    retryStrategy: () => null,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
  });
  r.on('error', () => {});
  try {
    await r.connect();
    const s = (r as unknown as { stream?: { remoteAddress?: string; remotePort?: number } }).stream;
    return `${s?.remoteAddress}:${s?.remotePort}`;
  } catch (err) {
    return err as Error;
  } finally {
    r.disconnect();
  }
}

/** For waitAllAcks: tolerate exactly ioredis' failoverDetector race (IoredisWriter.endedReason). */
export function isIoredisDetectorRace(e: ClientEnded): boolean {
  return e.writer instanceof IoredisWriter && e.writer.endedByDetectorRace();
}

/**
 * Sentinel events as clients receive them: on each daemon, one connection SUBSCRIBEd to given
 * channels (as Jedis, go-redis and ioredis' failoverDetector do) and one PSUBSCRIBEd to `*` (as
 * Lettuce does), each message recorded with the daemon it came from.
 */
import { Redis } from 'ioredis';
import type { SentinelAddr } from './common.js';

export interface SentinelEvent {
  /** Index of the sentinel in the list given to `EventLog.start`. */
  from: number;
  how: 'subscribe' | 'psubscribe';
  channel: string;
  message: string;
  t: number;
}

export class EventLog {
  readonly events: SentinelEvent[] = [];
  private readonly conns: Redis[] = [];

  static async start(
    sentinels: SentinelAddr[],
    channels: string[] = ['+switch-master'],
    opts: { password?: string } = {},
  ): Promise<EventLog> {
    const log = new EventLog();
    await Promise.all(
      sentinels.map(async (s, from) => {
        const sub = log.conn(s, opts.password);
        const psub = log.conn(s, opts.password);
        sub.on('message', (channel: string, message: string) =>
          log.events.push({ from, how: 'subscribe', channel, message, t: Date.now() }),
        );
        psub.on('pmessage', (_p: string, channel: string, message: string) =>
          log.events.push({ from, how: 'psubscribe', channel, message, t: Date.now() }),
        );
        await Promise.all([sub.connect(), psub.connect()]);
        await sub.subscribe(...channels);
        await psub.psubscribe('*');
      }),
    );
    return log;
  }

  private conn(s: SentinelAddr, password: string | undefined): Redis {
    const r = new Redis({
      host: s.host,
      port: s.port,
      lazyConnect: true,
      enableReadyCheck: false,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
      ...(password ? { password } : {}),
    });
    r.on('error', () => {});
    this.conns.push(r);
    return r;
  }

  /** Messages of `channel` received through SUBSCRIBE, per sentinel index. */
  subscribed(channel: string): SentinelEvent[] {
    return this.events.filter((e) => e.how === 'subscribe' && e.channel === channel);
  }

  /** Everything received through PSUBSCRIBE * from sentinel `from`. */
  all(from: number): SentinelEvent[] {
    return this.events.filter((e) => e.how === 'psubscribe' && e.from === from);
  }

  close(): void {
    for (const c of this.conns.splice(0)) c.disconnect();
  }
}

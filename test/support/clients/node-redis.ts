/**
 * node-redis (npm `redis` v5) driver: `createSentinel({ name, sentinelRootNodes })`, which finds
 * the master with SENTINEL MASTER/REPLICAS/SENTINELS on the first sentinel that answers, and
 * re-discovers on READONLY errors, on a lost master connection and on its PSUBSCRIBE events.
 */
import { createSentinel } from 'redis';
import { type SentinelAddr, sleep, Writer } from './common.js';

export interface NodeRedisWriterOptions {
  name?: string;
  intervalMs?: number;
}

type Sentinel = ReturnType<typeof createSentinel>;

export class NodeRedisWriter extends Writer {
  readonly client: Sentinel;

  constructor(sentinels: SentinelAddr[], prefix: string, opts: NodeRedisWriterOptions = {}) {
    super('node-redis', prefix, opts.intervalMs);
    this.client = createSentinel({
      name: opts.name ?? 'mymaster',
      sentinelRootNodes: sentinels.map((s) => ({ host: s.host, port: s.port })),
      sentinelClientOptions: { socket: { connectTimeout: 1000 } },
      nodeClientOptions: { socket: { connectTimeout: 1000 } },
    });
    // node-redis emits 'error' for every sentinel it could not use; an EventEmitter without a
    // listener would throw.
    this.client.on('error', (err: unknown) => this.noteError(err));
    // node-redis' own trace of its discovery steps, for failure messages.
    const trace = this.trace;
    this.client.setTracer({
      push: (msg: string) => {
        trace.push(`${new Date().toISOString().slice(11, 23)} ${msg}`);
        if (trace.length > 400) trace.splice(0, 200);
        return trace.length;
      },
    } as unknown as string[]);
  }

  private readonly trace: string[] = [];

  override diagnostics(): string {
    return `; node-redis trace (last 25):\n  ${this.trace.slice(-25).join('\n  ')}`;
  }

  /** The master node-redis currently writes to. */
  connectedTo(): string | null {
    const m = this.client.getMasterNode();
    return m ? `${m.host}:${m.port}` : null;
  }

  async start(timeoutMs = 20_000): Promise<void> {
    await this.client.connect();
    this.runLoop((k, v) => this.client.set(k, v));
    await this.waitForAcksAfter(0, 1, timeoutMs);
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await this.loopEnded(2000);
    await Promise.race([this.client.destroy().catch(() => {}), sleep(2000)]);
  }
}

/**
 * One master discovery as node-redis does it (`createSentinel(...).connect()`, giving up after its
 * first retry): the master it connected to, or the Error it gave up with.
 */
export async function nodeRedisResolve(
  sentinels: SentinelAddr[],
  name = 'mymaster',
): Promise<string | Error> {
  const s = createSentinel({
    name,
    sentinelRootNodes: sentinels.map((x) => ({ host: x.host, port: x.port })),
    maxCommandRediscovers: 1,
    sentinelClientOptions: { socket: { connectTimeout: 1000, reconnectStrategy: false } },
    nodeClientOptions: { socket: { connectTimeout: 1000, reconnectStrategy: false } },
  });
  s.on('error', () => {});
  try {
    await Promise.race([
      s.connect(),
      sleep(10_000).then(() => {
        throw new Error('node-redis did not connect within 10 s');
      }),
    ]);
    const m = s.getMasterNode();
    return m ? `${m.host}:${m.port}` : new Error('connected without a master');
  } catch (err) {
    return err as Error;
  } finally {
    await Promise.race([s.destroy().catch(() => {}), sleep(2000)]);
  }
}

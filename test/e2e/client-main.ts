/**
 * A Sentinel-aware client, run inside a test host's namespace (`ip netns exec ... node --import
 * tsx test/e2e/client-main.ts '<json>'`), so it sees the network as that host does: on the old
 * master's side of a partition, it keeps the connection it had.
 *
 * It runs writer loops through ioredis in Sentinel mode (`sentinels` = the daemons' or the
 * Sentinels' ports) and prints one JSON line per acknowledged write:
 *   {"a":"prefix:i","t":<ms since epoch>,"r":<replicas from WAIT 1, when asked>,"v":"ip:port"}
 * and, when stopped (stdin closed or SIGTERM), {"done":true,"errors":{...}}. Key `prefix:i` holds
 * `i`. Every loop is bounded by `maxDurationMs`.
 */
import { Redis } from 'ioredis';

interface WriterSpec {
  prefix: string;
  /** Pipeline WAIT 1 <waitMs> after each SET and report the replica count. */
  wait?: boolean;
  waitMs?: number;
  intervalMs?: number;
}

interface ClientSpec {
  sentinels: { host: string; port: number }[];
  name: string;
  writers: WriterSpec[];
  commandTimeoutMs?: number;
  connectTimeoutMs?: number;
  maxDurationMs?: number;
}

const spec = JSON.parse(process.argv[2] ?? '{}') as ClientSpec;
const out = (o: unknown) => process.stdout.write(`${JSON.stringify(o)}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function makeClient(): Redis {
  const r = new Redis({
    sentinels: spec.sentinels,
    name: spec.name,
    connectTimeout: spec.connectTimeoutMs ?? 500,
    sentinelCommandTimeout: spec.connectTimeoutMs ?? 500,
    commandTimeout: spec.commandTimeoutMs ?? 1000,
    sentinelRetryStrategy: () => 100,
    sentinelReconnectStrategy: () => 200,
    retryStrategy: () => 50,
    // Hear +switch-master from the Sentinels: a connection to an old master that is cut off does
    // not break by itself (packets are dropped, not refused), so only the event moves the client.
    failoverDetector: true,
    // A write that reached a demoted master: reconnect (re-resolving the master) and resend it.
    reconnectOnError: (err) => (/^READONLY/.test(err.message) ? 2 : false),
    maxRetriesPerRequest: 2,
    // Never resend a half-answered pipeline (a WAIT alone on another master would lie).
    autoResendUnfulfilledCommands: false,
  });
  r.on('error', (err: Error) => noteError(`conn: ${err.message}`));
  return r;
}

/** One client (connection) per writer, so that a blocking WAIT never holds up another writer. */
class Conn {
  redis = makeClient();
  constructor() {
    this.watch();
  }
  // ioredis can end a Sentinel client for good (a +switch-master arriving in the middle of a
  // reconnection): an application would make a new one, and so does this one.
  private watch(): void {
    this.redis.once('end', () => {
      if (stopped) return;
      restarts++;
      this.redis = makeClient();
      this.watch();
    });
  }
  via(): string | null {
    const s = (this.redis as unknown as { stream?: { remoteAddress?: string; remotePort?: number } }).stream;
    return s?.remoteAddress ? `${s.remoteAddress}:${s.remotePort}` : null;
  }
}

const errors = new Map<string, number>();
const noteError = (msg: string) => {
  const k = msg.replace(/\d+(\.\d+)*(:\d+)?/g, 'N').slice(0, 80);
  errors.set(k, (errors.get(k) ?? 0) + 1);
};
let stopped = false;
let restarts = 0;
const deadline = Date.now() + (spec.maxDurationMs ?? 300_000);
const conns: Conn[] = [];

async function writer(w: WriterSpec): Promise<void> {
  const conn = new Conn();
  conns.push(conn);
  for (let i = 0; !stopped && Date.now() < deadline; i++) {
    const key = `${w.prefix}:${i}`;
    try {
      if (w.wait) {
        const res = (await conn.redis
          .pipeline()
          .set(key, String(i))
          .call('WAIT', '1', String(w.waitMs ?? 100))
          .exec()) as [Error | null, unknown][] | null;
        const [setErr, setRes] = res?.[0] ?? [new Error('no reply'), null];
        const [waitErr, waitRes] = res?.[1] ?? [new Error('no reply'), null];
        if (!setErr && setRes === 'OK') {
          out({ a: key, t: Date.now(), r: waitErr ? -1 : Number(waitRes), v: conn.via() });
        } else if (setErr) noteError(setErr.message);
      } else {
        const r = await conn.redis.set(key, String(i));
        if (r === 'OK') out({ a: key, t: Date.now(), v: conn.via() });
      }
    } catch (err) {
      noteError((err as Error).message);
    }
    await sleep(w.intervalMs ?? 5);
  }
}

const loops = spec.writers.map((w) => writer(w));
out({ ready: true });

let finishing = false;
async function finish(): Promise<void> {
  if (finishing) return;
  finishing = true;
  stopped = true;
  await Promise.race([Promise.all(loops), sleep(3000)]);
  out({ done: true, errors: Object.fromEntries(errors), restarts });
  for (const c of conns) c.redis.disconnect();
  process.exit(0);
}
process.stdin.on('end', () => void finish());
process.stdin.on('error', () => void finish());
process.stdin.resume();
process.on('SIGTERM', () => void finish());
void Promise.all(loops).then(() => finish());

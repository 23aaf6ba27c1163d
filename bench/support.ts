/**
 * Shared by the benchmarks that run real processes (bench/election.ts, bench/failover.ts,
 * bench/sentinel.ts): trial counts, summary statistics, a lean RESP client, a writer that finds
 * the master through the Sentinel protocol, and the two deployments compared side by side:
 *
 * - `raftinel`: three daemons (bin/raftinel, through test/support/daemons.ts), each beside one
 *   redis-server of shard `mymaster` (1 master + 2 replicas); daemon 1 bootstraps the group and sits
 *   beside the master.
 * - `redis-sentinel`: the same three redis-servers and three redis-sentinel processes (quorum 2),
 *   sentinel i "on the host" of redis-server i.
 *
 * Everything is started through the test harness (test/support/*), which kills what it started
 * when the process exits (the runner turns Ctrl-C into an exit); `destroyAll()` stops it all and
 * removes the temporary directories between trials.
 */
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import setupBuild from '../test/support/build.js';
import { parseResp, type Resp } from '../test/support/clients/resp.js';
import { cleanupAll, type DaemonProcess, type NodeOptions, waitFor } from '../test/support/daemons.js';
import {
  FailoverCluster,
  seed,
  waitFollows,
  waitForShard,
  waitReplicaSynced,
} from '../test/support/failover.js';
import { cleanupRedis, RedisProcess, SentinelProcess } from '../test/support/redis.js';
import { percentile, round } from './env.js';
import type { BenchOptions } from './types.js';

export const SHARD = 'mymaster';

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Build dist/ if src/ changed since the last build (bin/raftinel runs dist/). */
export function ensureBuilt(progress: (m: string) => void): void {
  progress('checking that dist/ is up to date (bin/raftinel runs it)');
  setupBuild();
}

/**
 * Trials per measurement: `full`, or `quick` with --quick; the environment variable BENCH_TRIALS
 * overrides both (e.g. BENCH_TRIALS=30 for tighter percentiles).
 */
export function trials(opts: BenchOptions, full: number, quick: number): number {
  const env = Number(process.env.BENCH_TRIALS);
  if (Number.isSafeInteger(env) && env > 0) return env;
  return opts.quick ? quick : full;
}

/** median, p90, min and max of the finite values, and how many there were. */
export function summary(values: (number | null)[]): {
  n: number;
  median: number | null;
  p90: number | null;
  min: number | null;
  max: number | null;
} {
  const v = values.filter((x): x is number => x !== null && Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return { n: 0, median: null, p90: null, min: null, max: null };
  return {
    n: v.length,
    median: round(percentile(v, 50), 0),
    p90: round(percentile(v, 90), 0),
    min: round(v[0]!, 0),
    max: round(v[v.length - 1]!, 0),
  };
}

/** Stop every process the harness started in this process and remove their directories. */
export async function destroyAll(): Promise<void> {
  await cleanupAll();
  await cleanupRedis();
  for (const d of trackedDirs) rmSync(d, { recursive: true, force: true });
  trackedDirs.clear();
}

/**
 * The harness removes its directories in cleanupAll()/cleanupRedis(), but not when the process
 * exits in the middle (Ctrl-C): directories registered here are removed then too.
 */
const trackedDirs = new Set<string>();
process.once('exit', () => {
  for (const d of trackedDirs) {
    try {
      rmSync(d, { recursive: true, force: true });
    } catch {
      // best effort
    }
  }
});
export function trackDir(dir: string): void {
  trackedDirs.add(dir);
}

// ---------------------------------------------------------------------------------------------
// How busy the machine was, not counting what this benchmark started

/** utime + stime + cutime + cstime of a process, and its parent, from /proc/PID/stat (ticks). */
function procTicks(pid: string): { ppid: number; ticks: number } | null {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
    return Number.isFinite(ticks) ? { ppid: Number(f[1]), ticks } : null;
  } catch {
    return null;
  }
}

/**
 * CPU seconds used so far by this process and every process it started: the live descendants'
 * own time, plus what the kernel added to each parent for the children it reaped (cutime).
 */
function treeCpuSeconds(): number | null {
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((d) => /^\d+$/.test(d));
  } catch {
    return null;
  }
  const children = new Map<number, { pid: number; ticks: number }[]>();
  let self: number | null = null;
  for (const pid of pids) {
    const p = procTicks(pid);
    if (!p) continue;
    if (Number(pid) === process.pid) self = p.ticks;
    const list = children.get(p.ppid) ?? [];
    list.push({ pid: Number(pid), ticks: p.ticks });
    children.set(p.ppid, list);
  }
  if (self === null) return null;
  let total = self;
  const queue = [process.pid];
  for (let guard = 0; queue.length > 0 && guard < 100_000; guard++) {
    for (const c of children.get(queue.shift()!) ?? []) {
      total += c.ticks;
      queue.push(c.pid);
    }
  }
  return total / 100; // USER_HZ
}

function machineBusySeconds(): number | null {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0] ?? '';
    const ticks = line.trim().split(/\s+/).slice(1, 9).map(Number);
    if (ticks.length < 5 || ticks.some((t) => !Number.isFinite(t))) return null;
    const total = ticks.reduce((a, b) => a + b, 0);
    return (total - (ticks[3] ?? 0) - (ticks[4] ?? 0)) / 100;
  } catch {
    return null;
  }
}

/**
 * Start measuring; the returned function gives the cores kept busy by processes this benchmark
 * did NOT start (other engineers' test runs), and by the benchmark's own process tree (this
 * process, its daemons, redis-servers, sentinels and clients). The runner's `cpu_other_cores`
 * counts the benchmark's own daemons and servers as "other"; `foreign_cores` does not.
 */
export function treeMeter(): () => { foreign_cores: number | null; tree_cores: number | null } {
  const t0 = performance.now();
  const m0 = machineBusySeconds();
  const c0 = treeCpuSeconds();
  return () => {
    const wall = Math.max(1e-6, (performance.now() - t0) / 1000);
    const m1 = machineBusySeconds();
    const c1 = treeCpuSeconds();
    if (m0 === null || m1 === null || c0 === null || c1 === null)
      return { foreign_cores: null, tree_cores: null };
    return {
      foreign_cores: round(Math.max(0, (m1 - m0 - (c1 - c0)) / wall), 2),
      tree_cores: round((c1 - c0) / wall, 2),
    };
  };
}

// ---------------------------------------------------------------------------------------------
// A lean RESP client: one request in flight, optional timeout

export function encodeCommand(args: string[]): Buffer {
  const parts = [`*${args.length}\r\n`];
  for (const a of args) parts.push(`$${Buffer.byteLength(a)}\r\n${a}\r\n`);
  return Buffer.from(parts.join(''));
}

export function splitAddr(addr: string): { host: string; port: number } {
  const i = addr.lastIndexOf(':');
  return { host: addr.slice(0, i), port: Number(addr.slice(i + 1)) };
}

export class RespClient {
  private buf: Buffer = Buffer.alloc(0);
  private pending: {
    resolve: (r: Resp) => void;
    reject: (e: Error) => void;
    timer: NodeJS.Timeout | null;
  } | null = null;
  closed = false;

  private constructor(
    private readonly socket: Socket,
    readonly addr: string,
  ) {
    socket.on('data', (d: Buffer) => {
      this.buf = this.buf.length === 0 ? d : Buffer.concat([this.buf, d]);
      const p = this.pending;
      if (!p) return;
      const r = parseResp(this.buf, 0);
      if (!r) return;
      this.buf = r[1] === this.buf.length ? Buffer.alloc(0) : this.buf.subarray(r[1]);
      this.pending = null;
      if (p.timer) clearTimeout(p.timer);
      p.resolve(r[0]);
    });
    const fail = (why: string) => {
      this.closed = true;
      const p = this.pending;
      this.pending = null;
      if (p) {
        if (p.timer) clearTimeout(p.timer);
        p.reject(new Error(`${addr}: ${why}`));
      }
    };
    socket.on('close', () => fail('connection closed'));
    socket.on('error', (err) => fail(err.message));
  }

  static connect(addr: string, timeoutMs: number): Promise<RespClient> {
    const { host, port } = splitAddr(addr);
    return new Promise((resolve, reject) => {
      const socket = connect({ host, port });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`${addr}: connect timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.removeAllListeners('error');
        socket.setNoDelay(true);
        resolve(new RespClient(socket, addr));
      });
      socket.once('error', (err) => {
        clearTimeout(timer);
        socket.destroy();
        reject(new Error(`${addr}: ${err.message}`));
      });
    });
  }

  /** Send a pre-encoded command and wait for its reply (no timer when timeoutMs is 0). */
  send(command: Buffer, timeoutMs: number): Promise<Resp> {
    if (this.closed) return Promise.reject(new Error(`${this.addr}: connection closed`));
    if (this.pending) return Promise.reject(new Error(`${this.addr}: a request is already in flight`));
    return new Promise((resolve, reject) => {
      const timer =
        timeoutMs > 0
          ? setTimeout(() => {
              this.pending = null;
              this.close();
              reject(new Error(`${this.addr}: no reply within ${timeoutMs} ms`));
            }, timeoutMs)
          : null;
      this.pending = { resolve, reject, timer };
      this.socket.write(command);
    });
  }

  call(args: string[], timeoutMs: number): Promise<Resp> {
    return this.send(encodeCommand(args), timeoutMs);
  }

  close(): void {
    this.closed = true;
    this.socket.destroy();
  }
}

/** "host:port" from a GET-MASTER-ADDR-BY-NAME reply, or null (null array, error, odd shape). */
export function masterFromReply(r: Resp): string | null {
  if (r.t !== 'array' || r.items.length !== 2) return null;
  const [h, p] = r.items;
  if (h?.t !== 'bulk' || p?.t !== 'bulk') return null;
  return `${h.s}:${p.s}`;
}

const GET_MASTER = encodeCommand(['SENTINEL', 'get-master-addr-by-name', SHARD]);

/** What the Sentinel (or daemon) at `addr` names as the master, on a fresh connection. */
export async function namedOnce(addr: string, timeoutMs = 1000): Promise<string | null> {
  const c = await RespClient.connect(addr, timeoutMs);
  try {
    return masterFromReply(await c.send(GET_MASTER, timeoutMs));
  } finally {
    c.close();
  }
}

/**
 * Polls GET-MASTER-ADDR-BY-NAME on one Sentinel/daemon every `intervalMs` on a persistent
 * connection (reconnecting after errors) and records, in performance.now() time, when each answer
 * was first given, and the latest answer.
 */
export class NamePoller {
  /** Address named (null: the null array) -> when it was first named. */
  readonly firstSeen = new Map<string | null, number>();
  last: string | null | undefined = undefined;
  polls = 0;
  errors = 0;
  private stopped = false;
  private done: Promise<void>;
  private conn: RespClient | null = null;

  constructor(
    readonly addr: string,
    private readonly intervalMs = 5,
    maxMs = 60_000,
  ) {
    this.done = this.loop(performance.now() + maxMs);
  }

  private async loop(deadline: number): Promise<void> {
    while (!this.stopped && performance.now() < deadline) {
      try {
        this.conn ??= await RespClient.connect(this.addr, 500);
        const r = await this.conn.send(GET_MASTER, 1000);
        const t = performance.now();
        this.polls++;
        this.last = masterFromReply(r);
        if (!this.firstSeen.has(this.last)) this.firstSeen.set(this.last, t);
      } catch {
        this.errors++;
        this.conn?.close();
        this.conn = null;
      }
      await sleep(this.intervalMs);
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.done;
    this.conn?.close();
  }
}

/**
 * PSUBSCRIBE * on a Sentinel port (redis-sentinel or a daemon) and record when each event channel
 * was first published after `sinceT` (performance.now()), with its message.
 */
export class EventRecorder {
  readonly events: { channel: string; message: string; t: number }[] = [];
  private socket: Socket | null = null;
  private buf: Buffer = Buffer.alloc(0);

  private constructor(readonly addr: string) {}

  static async start(addr: string): Promise<EventRecorder> {
    const r = new EventRecorder(addr);
    const { host, port } = splitAddr(addr);
    await new Promise<void>((resolve, reject) => {
      const socket = connect({ host, port });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`${addr}: connect timed out`));
      }, 2000);
      socket.once('connect', () => {
        clearTimeout(timer);
        resolve();
      });
      socket.on('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      socket.on('data', (d: Buffer) => r.onData(d));
      r.socket = socket;
    });
    r.socket!.write(encodeCommand(['PSUBSCRIBE', '*']));
    // Wait for the subscription confirmation.
    const deadline = performance.now() + 2000;
    while (!r.subscribed && performance.now() < deadline) await sleep(5);
    if (!r.subscribed) throw new Error(`${addr}: PSUBSCRIBE * was not confirmed`);
    return r;
  }

  private subscribed = false;

  private onData(d: Buffer): void {
    this.buf = this.buf.length === 0 ? d : Buffer.concat([this.buf, d]);
    for (;;) {
      const r = parseResp(this.buf, 0);
      if (!r) return;
      this.buf = this.buf.subarray(r[1]);
      const m = r[0];
      if (m.t !== 'array' && m.t !== 'push') continue;
      const items = m.items.map((x) => (x.t === 'bulk' || x.t === 'simple' ? x.s : ''));
      if (items[0] === 'psubscribe') this.subscribed = true;
      else if (items[0] === 'pmessage' && items[2] !== undefined && items[3] !== undefined)
        this.events.push({ channel: items[2], message: items[3], t: performance.now() });
    }
  }

  /** When `channel` was first published after `sinceT` (and its message mentions `about`). */
  first(channel: string, sinceT: number, about?: string): number | null {
    const e = this.events.find(
      (x) => x.channel === channel && x.t >= sinceT && (!about || x.message.includes(about)),
    );
    return e ? e.t : null;
  }

  count(channel: string, sinceT: number): number {
    return this.events.filter((x) => x.channel === channel && x.t >= sinceT).length;
  }

  stop(): void {
    this.socket?.destroy();
  }
}

/** The earliest time any recorder saw `channel` after `sinceT`, minus `sinceT`, or null. */
export function firstEventMs(
  recs: EventRecorder[],
  channel: string,
  sinceT: number,
  about?: string,
): number | null {
  let best: number | null = null;
  for (const r of recs) {
    const t = r.first(channel, sinceT, about);
    if (t !== null && (best === null || t < best)) best = t;
  }
  return best === null ? null : best - sinceT;
}

/**
 * SETs a probe key on a Redis every `intervalMs` (persistent connection, reconnecting) and records
 * the first time (performance.now()) it was accepted: a replica answers READONLY until promoted.
 */
export class WriteProbe {
  firstOk: number | null = null;
  private stopped = false;
  private done: Promise<void>;
  private conn: RespClient | null = null;

  constructor(
    readonly addr: string,
    private readonly intervalMs = 5,
    maxMs = 60_000,
  ) {
    this.done = this.loop(performance.now() + maxMs);
  }

  private async loop(deadline: number): Promise<void> {
    const cmd = encodeCommand(['SET', 'bench:write-probe', '1']);
    while (!this.stopped && this.firstOk === null && performance.now() < deadline) {
      try {
        this.conn ??= await RespClient.connect(this.addr, 500);
        const r = await this.conn.send(cmd, 1000);
        if (r.t === 'simple' && r.s === 'OK') this.firstOk = performance.now();
      } catch {
        this.conn?.close();
        this.conn = null;
      }
      await sleep(this.intervalMs);
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.done;
    this.conn?.close();
  }
}

// ---------------------------------------------------------------------------------------------
// A writer that follows the Sentinel client protocol

export interface WriteAck {
  key: string;
  /** performance.now() when the reply arrived. */
  t: number;
  /** The Redis that acknowledged it. */
  addr: string;
}

/**
 * Unique SETs (`<prefix>:<n>`) every `intervalMs`, one at a time, through the Sentinel client
 * protocol as redis.io's "Guidelines for Redis clients with support for Redis Sentinel" describe
 * it: ask the Sentinels in turn for GET-MASTER-ADDR-BY-NAME (the first that answers moves to the
 * front), connect, check ROLE says master, write; on any error (a refused or closed connection,
 * READONLY, a timeout) drop the connection and resolve again at once. It does not subscribe to
 * +switch-master: a master that stays writable after a switch keeps getting writes until it fails
 * them (as with ioredis' and redis-py's defaults).
 */
export class ProtocolWriter {
  readonly acked: WriteAck[] = [];
  failures = 0;
  resolutions = 0;
  lastError: string | null = null;
  private stopped = false;
  private done: Promise<void> | null = null;
  private sentinelConns = new Map<string, RespClient>();
  private order: string[];

  constructor(
    sentinels: string[],
    readonly prefix: string,
    private readonly intervalMs = 5,
    private readonly timeoutMs = 500,
    private readonly maxMs = 300_000,
  ) {
    this.order = [...sentinels];
  }

  start(): void {
    this.done = this.loop(performance.now() + this.maxMs);
  }

  private async resolve(): Promise<string | null> {
    for (const addr of [...this.order]) {
      try {
        let c = this.sentinelConns.get(addr);
        if (!c || c.closed) {
          c = await RespClient.connect(addr, 300);
          this.sentinelConns.set(addr, c);
        }
        const master = masterFromReply(await c.send(GET_MASTER, 300));
        if (master) {
          this.order = [addr, ...this.order.filter((a) => a !== addr)];
          return master;
        }
      } catch {
        this.sentinelConns.get(addr)?.close();
        this.sentinelConns.delete(addr);
      }
    }
    return null;
  }

  private async loop(deadline: number): Promise<void> {
    let conn: RespClient | null = null;
    let n = 0;
    const fail = (err: unknown) => {
      this.failures++;
      this.lastError = err instanceof Error ? err.message : String(err);
      conn?.close();
      conn = null;
    };
    while (!this.stopped && performance.now() < deadline) {
      if (!conn) {
        this.resolutions++;
        const master = await this.resolve();
        if (!master) {
          fail(new Error('no Sentinel named a master'));
          await sleep(this.intervalMs);
          continue;
        }
        try {
          conn = await RespClient.connect(master, this.timeoutMs);
          const role = await conn.call(['ROLE'], this.timeoutMs);
          const r0 = role.t === 'array' ? role.items[0] : undefined;
          if (r0?.t !== 'bulk' || r0.s !== 'master') throw new Error(`${master} is not a master`);
        } catch (err) {
          fail(err);
          await sleep(this.intervalMs);
          continue;
        }
      }
      const key = `${this.prefix}:${n++}`;
      try {
        const r = await conn.call(['SET', key, '1'], this.timeoutMs);
        if (r.t !== 'simple' || r.s !== 'OK') throw new Error(r.t === 'error' ? r.s : `SET answered ${r.t}`);
        this.acked.push({ key, t: performance.now(), addr: conn.addr });
      } catch (err) {
        fail(err);
        continue;
      }
      await sleep(this.intervalMs);
    }
    (conn as RespClient | null)?.close();
  }

  /** Resolves once `n` more writes were acknowledged (by `addr`, when given). */
  async waitAcks(n: number, timeoutMs: number, addr?: string): Promise<void> {
    const count = () => (addr ? this.acked.filter((a) => a.addr === addr).length : this.acked.length);
    const target = count() + n;
    await waitFor(() => count() >= target, timeoutMs, {
      what: `${n} acknowledged writes${addr ? ` by ${addr}` : ''} (${this.failures} failures, last error: ${this.lastError})`,
      intervalMs: 10,
    });
  }

  /** The longest time between two consecutive acknowledgements that ended in [from, to]. */
  longestGap(from: number, to: number): number {
    let longest = 0;
    for (let i = 1; i < this.acked.length; i++) {
      const a = this.acked[i]!;
      if (a.t < from || a.t > to) continue;
      longest = Math.max(longest, a.t - this.acked[i - 1]!.t);
    }
    return longest;
  }

  /** The first write acknowledged by a Redis other than `old` after `t`. */
  firstAckElsewhere(old: string, t: number): WriteAck | undefined {
    return this.acked.find((a) => a.t > t && a.addr !== old);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.done;
    for (const c of this.sentinelConns.values()) c.close();
  }
}

/** Acknowledged keys the Redis at `addr` does not hold. */
export async function missingOn(addr: string, keys: string[]): Promise<string[]> {
  const c = await RespClient.connect(addr, 2000);
  const missing: string[] = [];
  try {
    for (let i = 0; i < keys.length; i += 500) {
      const batch = keys.slice(i, i + 500);
      const r = await c.call(['MGET', ...batch], 10_000);
      if (r.t !== 'array') throw new Error(`MGET on ${addr} answered ${r.t}`);
      r.items.forEach((v, j) => {
        if (v.t !== 'bulk') missing.push(batch[j]!);
      });
    }
  } finally {
    c.close();
  }
  return missing;
}

// ---------------------------------------------------------------------------------------------
// Deployments

export interface Timing {
  heartbeatMs: number;
  electionTimeoutMs: number;
  leaseMs: number;
  downAfterMs: number;
}

/**
 * raftinel's timings for a given down_after_ms, within docs/CONFIGURATION.md's rules (et ≥ 5 hb,
 * lease ≥ et, lease + et ≤ down): down 1000 uses its "faster" example; down 300 the largest
 * election timeout host loss allows (down ≥ 2 et).
 */
export function timingFor(downAfterMs: number): Timing {
  if (downAfterMs === 300) return { heartbeatMs: 30, electionTimeoutMs: 150, leaseMs: 150, downAfterMs };
  if (downAfterMs === 1000) return { heartbeatMs: 50, electionTimeoutMs: 300, leaseMs: 600, downAfterMs };
  const et = Math.floor(downAfterMs / 3);
  return { heartbeatMs: Math.floor(et / 5), electionTimeoutMs: et, leaseMs: downAfterMs - et, downAfterMs };
}

export function describeTiming(t: Timing): string {
  return `hb ${t.heartbeatMs}, et ${t.electionTimeoutMs}, lease ${t.leaseMs}`;
}

export interface Deployment {
  system: 'raftinel' | 'redis-sentinel';
  /** redis[0] is the initial master; redis[i] is on "host" i + 1. */
  redis: RedisProcess[];
  /** Sentinel-protocol addresses (daemons' [sentinel] ports, or the redis-sentinels), host 1 first. */
  monitors: string[];
  /** Kill -9 the Sentinel / daemon on host `h` (1-based). */
  killMonitor(h: number): void;
  /** Is the monitor on host `h` still running? */
  monitorAlive(h: number): boolean;
  /** raftinel only. */
  fc?: FailoverCluster;
  sentinels?: SentinelProcess[];
}

async function startRedisRetrying(opts: { replicaOf?: string }): Promise<RedisProcess> {
  for (let attempt = 1; ; attempt++) {
    try {
      const r = await RedisProcess.start(opts);
      trackDir(r.dir);
      return r;
    } catch (err) {
      if (attempt >= 3) throw err;
    }
  }
}

/** 1 master + 2 replicas, replicas attached and synced, the master seeded with 100 keys. */
export async function startRedisLayout(): Promise<RedisProcess[]> {
  const master = await startRedisRetrying({});
  const replicas = await Promise.all([0, 1].map(() => startRedisRetrying({ replicaOf: master.addr })));
  await Promise.all(replicas.map((r) => waitFollows(r, master.addr, 20_000)));
  await seed(master, `seed:${SHARD}`, 100);
  await Promise.all(replicas.map((r) => waitReplicaSynced(r, master)));
  return [master, ...replicas];
}

async function sentinelCall(addr: string, args: string[]): Promise<Resp> {
  const c = await RespClient.connect(addr, 1000);
  try {
    return await c.call(args, 1000);
  } finally {
    c.close();
  }
}

function recordField(r: Resp, name: string): string | null {
  if (r.t !== 'array') return null;
  for (let i = 0; i + 1 < r.items.length; i += 2) {
    const k = r.items[i]!;
    const v = r.items[i + 1]!;
    if (k.t === 'bulk' && k.s === name) return v.t === 'bulk' ? v.s : null;
  }
  return null;
}

/**
 * Three redis-sentinel processes (quorum 2, `down-after-milliseconds downAfterMs`,
 * `failover-timeout 10000`) over the standard layout; resolves once each Sentinel knows both
 * replicas and the two other Sentinels.
 */
export async function sentinelDeployment(downAfterMs: number, redis?: RedisProcess[]): Promise<Deployment> {
  const rs = redis ?? (await startRedisLayout());
  const sentinels: SentinelProcess[] = [];
  for (let i = 0; i < 3; i++) {
    for (let attempt = 1; ; attempt++) {
      try {
        const s = await SentinelProcess.start({
          name: SHARD,
          master: rs[0]!.addr,
          quorum: 2,
          downAfterMs,
          failoverTimeoutMs: 10_000,
        });
        trackDir(s.dir);
        sentinels.push(s);
        break;
      } catch (err) {
        if (attempt >= 3) throw err;
      }
    }
  }
  await waitFor(
    async () => {
      for (const s of sentinels) {
        const m = await sentinelCall(s.addr, ['SENTINEL', 'MASTER', SHARD]);
        if (recordField(m, 'num-slaves') !== '2' || recordField(m, 'num-other-sentinels') !== '2')
          return false;
        if (recordField(m, 'flags') !== 'master') return false;
      }
      return true;
    },
    30_000,
    { what: 'the Sentinels to discover the replicas and each other', intervalMs: 100 },
  );
  const dead = new Set<number>();
  return {
    system: 'redis-sentinel',
    redis: rs,
    monitors: sentinels.map((s) => s.addr),
    sentinels,
    killMonitor: (h) => {
      sentinels[h - 1]!.kill('SIGKILL');
      dead.add(h);
    },
    monitorAlive: (h) => !dead.has(h),
  };
}

/** Start daemon `id` of `fc`; a port taken between its choice and its use is retried on new ports. */
async function startDaemonRetrying(fc: FailoverCluster, id: number, opts: NodeOptions): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    await fc.c.define(id, opts);
    try {
      await fc.c.node(id).start();
      return;
    } catch (err) {
      if (attempt >= 3 || !/EADDRINUSE|exited at start/.test(String((err as Error).message))) throw err;
      rmSync(fc.c.node(id).dataDir, { recursive: true, force: true });
    }
  }
}

/**
 * Three daemons with `timing`, daemon i beside redis-server i (1 = the master); resolves once
 * every daemon sees every node healthy and names the master on its Sentinel port, and daemon 1
 * leads the group (moved there if an election happened meanwhile). The same steps as the test
 * harness's startFailoverCluster, but every directory is registered as soon as it exists, so that
 * an interrupted deployment leaves none behind.
 */
export async function raftinelDeployment(timing: Timing): Promise<Deployment> {
  const redis = await startRedisLayout();
  const fc = new FailoverCluster({
    shards: [{ name: SHARD, nodes: [{ owner: 1 }, { owner: 2 }, { owner: 3 }] }],
    failover: { downAfterMs: timing.downAfterMs, leaseMs: timing.leaseMs },
    raftTiming: { heartbeatMs: timing.heartbeatMs, electionTimeoutMs: timing.electionTimeoutMs },
  });
  trackDir(fc.c.dir);
  fc.ids = [1, 2, 3];
  fc.redis.set(SHARD, redis);
  const common: NodeOptions = {
    failover: { downAfterMs: timing.downAfterMs, leaseMs: timing.leaseMs },
    raftTiming: { heartbeatMs: timing.heartbeatMs, electionTimeoutMs: timing.electionTimeoutMs },
  };
  const redisOf = (id: number) => [{ shard: SHARD, addr: redis[id - 1]!.addr }];
  await startDaemonRetrying(fc, 1, { ...common, single: true, redis: redisOf(1) });
  await fc.c.waitForLeader([1]);
  await Promise.all(
    [2, 3].map((id) => startDaemonRetrying(fc, id, { ...common, join: [1], redis: redisOf(id) })),
  );
  await fc.c.waitForMembers([1, 2, 3], [1, 2, 3]);
  const master = redis[0]!.addr;
  await waitForShard(
    fc,
    SHARD,
    (v) =>
      v.master === master &&
      v.pending === null &&
      v.nodes.length === 3 &&
      v.nodes.every(
        (n) =>
          n.seen !== null &&
          !n.seen.failing &&
          (n.addr === master ? n.seen.role === 'master' : n.seen.role === 'slave' && n.seen.link_up === true),
      ),
    { timeoutMs: 30_000, what: `shard ${SHARD} registered with master ${master} and seen healthy` },
  );
  const daemons: DaemonProcess[] = [1, 2, 3].map((id) => fc.c.node(id));
  await waitFor(
    async () => {
      for (const d of daemons) if ((await namedOnce(d.sentinelAddr)) !== master) return false;
      return true;
    },
    20_000,
    { what: 'every daemon to name the master on its Sentinel port', intervalMs: 50 },
  );
  if ((await fc.c.waitForLeader([1, 2, 3])) !== 1) await fc.transferLeader(1);
  return {
    system: 'raftinel',
    redis,
    monitors: daemons.map((d) => d.sentinelAddr),
    fc,
    killMonitor: (h) => daemons[h - 1]!.kill('SIGKILL'),
    monitorAlive: (h) => daemons[h - 1]!.running,
  };
}

/** The time of a pino log line (the daemon logs ISO timestamps), in ms since the epoch, or null. */
export function logTime(line: Record<string, unknown>): number | null {
  const t = line.time;
  if (typeof t === 'number') return t;
  if (typeof t === 'string') {
    const ms = Date.parse(t);
    return Number.isFinite(ms) ? ms : null;
  }
  return null;
}

/** Pino log lines of a daemon with `msg` logged at or after `sinceWallMs`, each with its time. */
export function logsSince(
  d: DaemonProcess,
  msg: string,
  sinceWallMs: number,
): { line: Record<string, unknown>; t: number }[] {
  const out: { line: Record<string, unknown>; t: number }[] = [];
  for (const line of d.logs(msg)) {
    const t = logTime(line);
    if (t !== null && t >= sinceWallMs) out.push({ line, t });
  }
  return out;
}

/** ms from `fromWallMs` to the first log line with `msg` (and `pred`) on any of `daemons`, or null. */
export function firstLogMs(
  daemons: DaemonProcess[],
  msg: string,
  fromWallMs: number,
  pred: (line: Record<string, unknown>) => boolean = () => true,
): number | null {
  let best: number | null = null;
  for (const d of daemons) {
    for (const { line, t } of logsSince(d, msg, fromWallMs)) {
      if (!pred(line)) continue;
      if (best === null || t - fromWallMs < best) best = t - fromWallMs;
    }
  }
  return best;
}

/** ms from `fromWallMs` to the LAST daemon's first log line with `msg` (and `pred`), or null. */
export function lastFirstLogMs(
  daemons: DaemonProcess[],
  msg: string,
  fromWallMs: number,
  pred: (line: Record<string, unknown>) => boolean = () => true,
): number | null {
  let worst: number | null = null;
  for (const d of daemons) {
    const t = firstLogMs([d], msg, fromWallMs, pred);
    if (t === null) return null;
    worst = worst === null ? t : Math.max(worst, t);
  }
  return worst;
}

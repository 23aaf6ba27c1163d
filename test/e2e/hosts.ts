/**
 * What runs on a test host (test/e2e/netns.ts): a redis-server, a raftinel daemon (the built
 * dist/ through bin/raftinel, optionally under libfaketime so the test can move its clock), or a
 * redis-sentinel (the peer the benchmark compares with). Each listens on its host's own address
 * with the standard ports (every namespace has its own port space); the observer (the test
 * process) reaches them over the bridge.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { callOnce } from '../support/redis.js';
import type { HostProcess, TestNet } from './netns.js';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const BIN = join(ROOT, 'bin', 'raftinel');

export const PORTS = { redis: 6379, sentinel: 26379, raft: 27379, admin: 28379 } as const;

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Poll `pred` until truthy (returned) or `timeoutMs`; errors count as "not yet". Bounded. */
export async function waitFor<T>(
  pred: () => T | Promise<T>,
  timeoutMs: number,
  what: string,
  intervalMs = 50,
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  const maxPolls = Math.ceil(timeoutMs / intervalMs) + 10;
  let last: unknown;
  for (let i = 0; i < maxPolls; i++) {
    try {
      const v = await pred();
      if (v) return v as NonNullable<T>;
      last = v;
    } catch (err) {
      last = err;
    }
    if (Date.now() >= deadline) break;
    await sleep(intervalMs);
  }
  const detail = last instanceof Error ? last.message : JSON.stringify(last);
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${detail})`);
}

/** Scratch directories, removed by `removeScratch()` (and on exit). */
const scratch = new Set<string>();
process.once('exit', () => {
  for (const d of scratch) rmSync(d, { recursive: true, force: true });
});
export function scratchDir(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  scratch.add(d);
  return d;
}
/** Remove scratch directory `dir` (or every one made here). */
export function removeScratch(dir?: string): void {
  for (const d of dir ? [dir] : [...scratch]) {
    rmSync(d, { recursive: true, force: true });
    scratch.delete(d);
  }
}

// ---------------------------------------------------------------------------------------------
// Redis

export interface RedisHostOptions {
  replicaOf?: string;
  /** Extra redis.conf lines (e.g. min-replicas-to-write). */
  extra?: string[];
}

export class RedisNode {
  proc: HostProcess | null = null;
  readonly addr: string;
  readonly confPath: string;

  constructor(
    readonly net: TestNet,
    readonly host: number,
    dir: string,
    opts: RedisHostOptions = {},
  ) {
    const ip = net.addr(host);
    this.addr = `${ip}:${PORTS.redis}`;
    this.confPath = join(dir, `redis-h${host}.conf`);
    const rdir = join(dir, `redis-h${host}`);
    const lines = [
      `port ${PORTS.redis}`,
      `bind ${ip} 127.0.0.1`,
      'protected-mode no',
      `dir ${dir}`,
      `dbfilename redis-h${host}.rdb`,
      'save ""',
      'appendonly no',
      'repl-diskless-sync yes',
      'repl-diskless-sync-delay 0',
      `logfile ${rdir}.log`,
      ...(opts.replicaOf ? [`replicaof ${opts.replicaOf.replace(':', ' ')}`] : []),
      ...(opts.extra ?? []),
    ];
    writeFileSync(this.confPath, `${lines.join('\n')}\n`);
  }

  get ip(): string {
    return this.net.addr(this.host);
  }

  async start(): Promise<void> {
    if (this.proc?.running) throw new Error(`redis on host ${this.host} is already running`);
    this.proc = this.net.spawn(this.host, 'redis', 'redis-server', [this.confPath]);
    await waitFor(
      async () => {
        if (!this.proc?.running) throw new Error(`redis-server on host ${this.host} exited`);
        return (await this.call('PING')) === 'PONG';
      },
      10_000,
      `redis on host ${this.host} to answer PING`,
    );
  }

  signal(sig: 'SIGSTOP' | 'SIGCONT' | 'SIGKILL'): void {
    this.proc?.signal(sig);
  }

  /** A client from the observer (callers disconnect it). */
  client(timeoutMs = 2000): Redis {
    return new Redis({
      host: this.ip,
      port: PORTS.redis,
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      enableOfflineQueue: false,
      connectTimeout: timeoutMs,
      commandTimeout: timeoutMs,
      retryStrategy: () => null,
    });
  }

  /** One command on a fresh connection from the observer. */
  async call(...args: string[]): Promise<unknown> {
    return callOnce(this.client(), args);
  }

  async info(): Promise<Record<string, string>> {
    const text = String(await this.call('INFO', 'replication'));
    const out: Record<string, string> = {};
    for (const line of text.split('\r\n')) {
      const i = line.indexOf(':');
      if (i > 0) out[line.slice(0, i)] = line.slice(i + 1);
    }
    return out;
  }

  /** Which of `keys` this node holds with the value written (key `p:i` holds `i`)? */
  async missing(keys: string[]): Promise<string[]> {
    const c = this.client(5000);
    c.on('error', () => {});
    const out: string[] = [];
    try {
      await c.connect();
      for (let i = 0; i < keys.length; i += 1000) {
        const batch = keys.slice(i, i + 1000);
        const vals = await c.mget(...batch);
        batch.forEach((k, j) => {
          if (vals[j] !== k.slice(k.lastIndexOf(':') + 1)) out.push(k);
        });
      }
    } finally {
      c.disconnect();
    }
    return out;
  }
}

// ---------------------------------------------------------------------------------------------
// raftinel daemons

export interface DaemonTiming {
  heartbeatMs: number;
  electionTimeoutMs: number;
  downAfterMs: number;
  leaseMs: number;
}

export interface DaemonHostOptions {
  nodeId: number;
  single?: boolean;
  /** Raft addresses to join through. */
  join?: string[];
  role?: 'voter' | 'witness' | 'learner';
  timing: DaemonTiming;
  /** [[redis]] entries (a witness has none). */
  redis?: { shard: string; addr: string; priority?: number }[];
  /**
   * Run under libfaketime, its offset read from a file the test rewrites (`setClockOffset`).
   * `monotonic`: also shift CLOCK_MONOTONIC (only forward jumps make sense then: libuv timers
   * would wait out a backward jump).
   */
  faketime?: { monotonic: boolean };
}

export interface LogLine {
  raw: string;
  json: Record<string, unknown> | null;
}

/** Path of libfaketime.so.1, or null when it is not installed. */
export function libfaketime(): string | null {
  for (const dir of [
    '/usr/lib/x86_64-linux-gnu/faketime',
    '/usr/lib/aarch64-linux-gnu/faketime',
    '/usr/lib/faketime',
    '/usr/local/lib/faketime',
  ]) {
    const p = join(dir, 'libfaketime.so.1');
    if (existsSync(p)) return p;
  }
  return null;
}

export class DaemonNode {
  proc: HostProcess | null = null;
  readonly confPath: string;
  readonly dataDir: string;
  readonly lines: LogLine[] = [];
  private readonly clockFile: string;

  constructor(
    readonly net: TestNet,
    readonly host: number,
    dir: string,
    readonly opts: DaemonHostOptions,
  ) {
    const ip = net.addr(host);
    this.dataDir = join(dir, `node${opts.nodeId}`);
    this.confPath = join(dir, `node${opts.nodeId}.toml`);
    this.clockFile = join(dir, `node${opts.nodeId}.faketime`);
    const t = opts.timing;
    const lines = [
      `node_id = ${opts.nodeId}`,
      `data_dir = ${JSON.stringify(this.dataDir)}`,
      'log_level = "info"',
      '',
      '[raft]',
      `listen = "${ip}:${PORTS.raft}"`,
      ...(opts.single ? ['single = true'] : []),
      ...(opts.join?.length ? [`join = ${JSON.stringify(opts.join)}`] : []),
      `role = "${opts.role ?? 'voter'}"`,
      `heartbeat_ms = ${t.heartbeatMs}`,
      `election_timeout_ms = ${t.electionTimeoutMs}`,
      '',
      '[sentinel]',
      `listen = "${ip}:${PORTS.sentinel}"`,
      '',
      '[admin]',
      `listen = "${ip}:${PORTS.admin}"`,
      '',
      '[failover]',
      `down_after_ms = ${t.downAfterMs}`,
      `lease_ms = ${t.leaseMs}`,
      '',
      ...(opts.redis ?? []).flatMap((r) => [
        '[[redis]]',
        `shard = ${JSON.stringify(r.shard)}`,
        `addr = "${r.addr}"`,
        `priority = ${r.priority ?? 100}`,
        '',
      ]),
    ];
    writeFileSync(this.confPath, `${lines.join('\n')}\n`);
    writeFileSync(this.clockFile, '+0\n');
  }

  get id(): number {
    return this.opts.nodeId;
  }
  get ip(): string {
    return this.net.addr(this.host);
  }
  get raftAddr(): string {
    return `${this.ip}:${PORTS.raft}`;
  }
  get sentinelAddr(): string {
    return `${this.ip}:${PORTS.sentinel}`;
  }
  get adminAddr(): string {
    return `${this.ip}:${PORTS.admin}`;
  }
  get running(): boolean {
    return this.proc?.running ?? false;
  }

  async start(timeoutMs = 30_000): Promise<void> {
    if (this.running) throw new Error(`daemon ${this.id} is already running`);
    const env: NodeJS.ProcessEnv = {};
    if (this.opts.faketime) {
      const lib = libfaketime();
      if (!lib) throw new Error('libfaketime is not installed (apt-get install faketime)');
      env.LD_PRELOAD = lib;
      env.FAKETIME_TIMESTAMP_FILE = this.clockFile;
      // Re-read the offset file on every clock call, so a jump takes effect at once.
      env.FAKETIME_NO_CACHE = '1';
      if (!this.opts.faketime.monotonic) env.FAKETIME_DONT_FAKE_MONOTONIC = '1';
    }
    const from = this.lines.length;
    const p = this.net.spawn(
      this.host,
      `daemon${this.id}`,
      process.execPath,
      [BIN, 'start', '-c', this.confPath],
      {
        env,
        cwd: ROOT,
      },
    );
    this.proc = p;
    p.onLine((raw) => {
      let json: Record<string, unknown> | null = null;
      if (raw.startsWith('{')) {
        try {
          json = JSON.parse(raw) as Record<string, unknown>;
        } catch {
          json = null;
        }
      }
      this.lines.push({ raw, json });
    });
    await p
      .waitForLine((l) => l.includes('"msg":"raftinel started"'), timeoutMs, from)
      .catch((err: Error) => {
        throw new Error(`daemon ${this.id} did not start: ${err.message}`);
      });
  }

  signal(sig: 'SIGSTOP' | 'SIGCONT' | 'SIGKILL' | 'SIGTERM'): void {
    this.proc?.signal(sig);
  }

  /** Move this daemon's clock: `+3600` (seconds), `-30`, `+0` (libfaketime offset syntax). */
  setClockOffset(offset: string): void {
    if (!this.opts.faketime) throw new Error(`daemon ${this.id} does not run under faketime`);
    writeFileSync(this.clockFile, `${offset}\n`);
  }

  logs(msg: string): Record<string, unknown>[] {
    return this.lines.filter((l) => l.json?.msg === msg).map((l) => l.json!);
  }

  /** Warnings and errors and role changes, for a failed test's output. */
  interesting(max = 40): string[] {
    return this.lines
      .filter(
        (l) =>
          !l.json ||
          Number(l.json.level) >= 40 ||
          /raft role changed|failover|master/.test(String(l.json.msg)),
      )
      .slice(-max)
      .map((l) => (l.raw.length > 300 ? `${l.raw.slice(0, 300)}...` : l.raw));
  }

  async http(
    method: string,
    path: string,
    body?: unknown,
    timeoutMs = 3000,
  ): Promise<{ status: number; json: unknown }> {
    const res = await fetch(`http://${this.adminAddr}${path}`, {
      method,
      ...(body !== undefined
        ? { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }
        : {}),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await res.text();
    let json: unknown = null;
    try {
      json = JSON.parse(text);
    } catch {
      json = text;
    }
    return { status: res.status, json };
  }

  /** This daemon's wall clock, as the Date header of its admin API shows it (ms since epoch, 1 s resolution). */
  async wallClock(): Promise<number> {
    const res = await fetch(`http://${this.adminAddr}/v1/health`, { signal: AbortSignal.timeout(3000) });
    await res.text();
    return Date.parse(res.headers.get('date') ?? '');
  }

  async status(): Promise<{ node_id: number; role: string; leader: number | null; term: number }> {
    const r = await this.http('GET', '/v1/status');
    if (r.status !== 200) throw new Error(`daemon ${this.id}: /v1/status ${r.status}`);
    return r.json as { node_id: number; role: string; leader: number | null; term: number };
  }

  async shard(name: string): Promise<ShardView> {
    const r = await this.http('GET', `/v1/shards/${encodeURIComponent(name)}`);
    if (r.status !== 200)
      throw new Error(`daemon ${this.id}: shard ${name}: ${r.status} ${JSON.stringify(r.json)}`);
    return (r.json as { shard: ShardView }).shard;
  }
}

export interface ShardView {
  name: string;
  epoch: number;
  master: string | null;
  pending: { epoch: number; to: string } | null;
  settings: Record<string, number>;
  nodes: { addr: string; owner: number | null; seen?: { failing: boolean; role: string | null } | null }[];
  history: { epoch: number; from: string | null; to: string; kind: string; atMs: number; reason: string }[];
}

// ---------------------------------------------------------------------------------------------
// redis-sentinel (for the benchmark's comparison)

export class SentinelNode {
  proc: HostProcess | null = null;
  readonly confPath: string;

  constructor(
    readonly net: TestNet,
    readonly host: number,
    dir: string,
    opts: { name: string; master: string; quorum: number; downAfterMs: number; failoverTimeoutMs: number },
  ) {
    const ip = net.addr(host);
    this.confPath = join(dir, `sentinel-h${host}.conf`);
    const [mhost, mport] = opts.master.split(':');
    const lines = [
      `port ${PORTS.sentinel}`,
      `bind ${ip} 127.0.0.1`,
      'protected-mode no',
      `dir ${dir}`,
      `logfile ${join(dir, `sentinel-h${host}.log`)}`,
      `sentinel announce-ip ${ip}`,
      `sentinel monitor ${opts.name} ${mhost} ${mport} ${opts.quorum}`,
      `sentinel down-after-milliseconds ${opts.name} ${opts.downAfterMs}`,
      `sentinel failover-timeout ${opts.name} ${opts.failoverTimeoutMs}`,
      `sentinel parallel-syncs ${opts.name} 1`,
    ];
    writeFileSync(this.confPath, `${lines.join('\n')}\n`);
  }

  get addr(): string {
    return `${this.net.addr(this.host)}:${PORTS.sentinel}`;
  }

  async start(): Promise<void> {
    this.proc = this.net.spawn(this.host, 'sentinel', 'redis-sentinel', [this.confPath]);
    const ip = this.net.addr(this.host);
    await waitFor(
      async () => {
        if (!this.proc?.running) throw new Error(`redis-sentinel on host ${this.host} exited`);
        const c = new Redis({ host: ip, port: PORTS.sentinel, lazyConnect: true, retryStrategy: () => null });
        c.on('error', () => {});
        try {
          await c.connect();
          return (await c.ping()) === 'PONG';
        } finally {
          c.disconnect();
        }
      },
      10_000,
      `redis-sentinel on host ${this.host}`,
    );
  }
}

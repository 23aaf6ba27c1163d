/**
 * Real redis-server (and redis-sentinel) processes for integration tests and benchmarks: started
 * as child processes (so they can be killed with SIGKILL or paused with SIGSTOP) on kernel-picked
 * ports, each with a config file in a fresh directory so CONFIG REWRITE works. Everything started
 * is registered; `cleanupRedis()` kills what is left and removes the directories.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort } from './ports.js';

/**
 * Run one command on a fresh connection made by `client` (lazyConnect, no retries), then close
 * it: the way tests ask a Redis or a Sentinel port one thing.
 */
/** One command on a fresh connection to the RESP server (a Sentinel port) at 127.0.0.1:`port`. */
export function callPortOnce(port: number, args: readonly string[], timeoutMs = 2000): Promise<unknown> {
  const c = new Redis({
    port,
    host: '127.0.0.1',
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    connectTimeout: 1000,
    commandTimeout: timeoutMs,
    retryStrategy: () => null,
  });
  return callOnce(c, args);
}

export async function callOnce(client: Redis, args: readonly string[]): Promise<unknown> {
  client.on('error', () => {}); // connection errors surface as the rejected command
  try {
    await client.connect();
    return await client.call(args[0]!, ...args.slice(1));
  } finally {
    client.disconnect();
  }
}

const live = new Set<ChildProcess>();
const dirs = new Set<string>();

process.once('exit', () => {
  for (const p of live) {
    try {
      p.kill('SIGKILL');
    } catch {
      // gone
    }
  }
});

export async function cleanupRedis(): Promise<void> {
  const waits: Promise<unknown>[] = [];
  for (const p of [...live]) {
    waits.push(new Promise((resolve) => p.once('exit', resolve)));
    try {
      p.kill('SIGCONT');
      p.kill('SIGKILL');
    } catch {
      // gone
    }
  }
  await Promise.race([Promise.all(waits), new Promise((r) => setTimeout(r, 5000))]);
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  dirs.clear();
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface RedisOptions {
  /** Start as a replica of this address. */
  replicaOf?: string;
  /** Keep an RDB file (default: no persistence, so a restart comes back empty). */
  persistence?: boolean;
  requirepass?: string;
  /** Extra redis.conf lines. */
  extra?: string[];
}

export class RedisProcess {
  proc: ChildProcess | null = null;
  exited: Promise<void> = Promise.resolve();
  readonly dir: string;
  readonly confPath: string;

  private constructor(
    readonly port: number,
    readonly opts: RedisOptions,
  ) {
    this.dir = mkdtempSync(join(tmpdir(), `raftinel-redis-${port}-`));
    dirs.add(this.dir);
    this.confPath = join(this.dir, 'redis.conf');
    const lines = [
      `port ${port}`,
      'bind 127.0.0.1',
      `dir ${this.dir}`,
      opts.persistence ? 'save 1 1' : 'save ""',
      'appendonly no',
      'repl-diskless-sync yes',
      'repl-diskless-sync-delay 0',
      ...(opts.replicaOf ? [`replicaof ${opts.replicaOf.replace(':', ' ')}`] : []),
      ...(opts.requirepass ? [`requirepass ${opts.requirepass}`, `masterauth ${opts.requirepass}`] : []),
      ...(opts.extra ?? []),
    ];
    writeFileSync(this.confPath, `${lines.join('\n')}\n`);
  }

  static async start(opts: RedisOptions = {}): Promise<RedisProcess> {
    const r = new RedisProcess(await freePort(), opts);
    await r.start();
    return r;
  }

  get addr(): string {
    return `127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.proc !== null && this.proc.exitCode === null && this.proc.signalCode === null;
  }

  get pid(): number | undefined {
    return this.proc?.pid;
  }

  /** Start (again) from its config file, and wait until it answers PING. */
  async start(): Promise<void> {
    if (this.running) throw new Error(`redis ${this.addr} is already running`);
    const p = spawn('redis-server', [this.confPath], { stdio: ['ignore', 'ignore', 'pipe'] });
    this.proc = p;
    live.add(p);
    this.exited = new Promise((resolve) =>
      p.once('exit', () => {
        live.delete(p);
        resolve();
      }),
    );
    const deadline = Date.now() + 10_000;
    for (;;) {
      try {
        await this.call('PING');
        return;
      } catch (err) {
        if (!this.running) throw new Error(`redis-server ${this.addr} exited at start`);
        if (Date.now() > deadline)
          throw new Error(`redis-server ${this.addr} did not answer PING: ${(err as Error).message}`);
        await sleep(20);
      }
    }
  }

  kill(signal: 'SIGKILL' | 'SIGSTOP' | 'SIGCONT' | 'SIGTERM' = 'SIGKILL'): void {
    this.proc?.kill(signal);
  }

  async crash(): Promise<void> {
    if (!this.running) return;
    this.proc!.kill('SIGCONT');
    this.proc!.kill('SIGKILL');
    await this.exited;
  }

  /** A client with short timeouts (callers must quit it). */
  client(): Redis {
    const c = new Redis({
      port: this.port,
      host: '127.0.0.1',
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      enableOfflineQueue: false,
      connectTimeout: 1000,
      commandTimeout: 2000,
      retryStrategy: () => null,
      ...(this.opts.requirepass ? { password: this.opts.requirepass } : {}),
    });
    // Connection errors surface as rejected commands; without a listener ioredis also prints them.
    c.on('error', () => {});
    return c;
  }

  /** Run one command on a fresh connection. */
  async call(...args: string[]): Promise<unknown> {
    return callOnce(this.client(), args);
  }

  /** `master`, or `slave` with its upstream `host:port`. */
  async role(): Promise<{ role: 'master' | 'slave'; upstream: string | null }> {
    const info = String(await this.call('INFO', 'replication'));
    const role = /role:(\w+)/.exec(info)?.[1] === 'slave' ? 'slave' : 'master';
    const host = /master_host:(\S+)/.exec(info)?.[1];
    const port = /master_port:(\d+)/.exec(info)?.[1];
    return { role, upstream: role === 'slave' && host ? `${host}:${port}` : null };
  }
}

/** A group of real redis-sentinel processes monitoring one master (the peer we compare with). */
export class SentinelProcess {
  proc: ChildProcess | null = null;
  readonly dir: string;
  readonly confPath: string;

  private constructor(
    readonly port: number,
    lines: string[],
  ) {
    this.dir = mkdtempSync(join(tmpdir(), `raftinel-sentinel-${port}-`));
    dirs.add(this.dir);
    this.confPath = join(this.dir, 'sentinel.conf');
    writeFileSync(
      this.confPath,
      `${[`port ${port}`, 'bind 127.0.0.1', `dir ${this.dir}`, ...lines].join('\n')}\n`,
    );
  }

  /** One Sentinel monitoring `master` as `name` with the given quorum and down-after. */
  static async start(opts: {
    name: string;
    master: string;
    quorum: number;
    downAfterMs: number;
    failoverTimeoutMs?: number;
  }): Promise<SentinelProcess> {
    const [host, port] = opts.master.split(':');
    const s = new SentinelProcess(await freePort(), [
      `sentinel monitor ${opts.name} ${host} ${port} ${opts.quorum}`,
      `sentinel down-after-milliseconds ${opts.name} ${opts.downAfterMs}`,
      `sentinel failover-timeout ${opts.name} ${opts.failoverTimeoutMs ?? 10_000}`,
      `sentinel parallel-syncs ${opts.name} 1`,
    ]);
    const p = spawn('redis-sentinel', [s.confPath], { stdio: ['ignore', 'ignore', 'pipe'] });
    s.proc = p;
    live.add(p);
    p.once('exit', () => live.delete(p));
    const deadline = Date.now() + 10_000;
    for (;;) {
      const c = new Redis({
        port: s.port,
        lazyConnect: true,
        maxRetriesPerRequest: 0,
        retryStrategy: () => null,
      });
      try {
        await c.connect();
        await c.ping();
        return s;
      } catch {
        if (Date.now() > deadline) throw new Error(`redis-sentinel on ${s.port} did not start`);
        await sleep(20);
      } finally {
        c.disconnect();
      }
    }
  }

  get addr(): string {
    return `127.0.0.1:${this.port}`;
  }

  kill(signal: 'SIGKILL' | 'SIGTERM' = 'SIGKILL'): void {
    this.proc?.kill(signal);
  }
}

/** Is a binary on PATH? (Tests that need it say so plainly when it is missing.) */
export function haveBinary(name: string): boolean {
  return (process.env.PATH ?? '').split(':').some((dir) => dir !== '' && existsSync(join(dir, name)));
}

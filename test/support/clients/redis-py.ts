/**
 * redis-py driver: runs redis_py_writer.py (redis.sentinel.Sentinel(...).master_for(name)) as a
 * child process and reads the keys it acknowledged from its JSON lines. Every process started here
 * is registered; `cleanupClients()` kills those still running.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { type SentinelAddr, sleep, Writer } from './common.js';

const SCRIPT = fileURLToPath(new URL('./redis_py_writer.py', import.meta.url));
const live = new Set<ChildProcess>();

process.once('exit', () => {
  for (const p of live) {
    try {
      p.kill('SIGKILL');
    } catch {
      // gone
    }
  }
});

/** Kill every client process started by this module. */
export async function cleanupClients(): Promise<void> {
  const waits: Promise<unknown>[] = [];
  for (const p of [...live]) {
    waits.push(new Promise((r) => p.once('exit', r)));
    try {
      p.kill('SIGKILL');
    } catch {
      // gone
    }
  }
  await Promise.race([Promise.all(waits), sleep(3000)]);
}

let found: { python: string; version: string } | null | undefined;

/**
 * A Python 3 that can `import redis` (the PATH's python3 may be a pyenv one without Debian's
 * python3-redis, so /usr/bin/python3 is tried too), or an error saying what to install.
 */
export function redisPy(): { python: string; version: string } {
  if (found === undefined) {
    found = null;
    for (const python of [process.env.PYTHON, 'python3', '/usr/bin/python3'].filter(Boolean) as string[]) {
      const r = spawnSync(python, ['-c', 'import redis; print(redis.__version__)'], {
        encoding: 'utf8',
        timeout: 15_000,
      });
      if (r.status === 0 && r.stdout.trim()) {
        found = { python, version: r.stdout.trim() };
        break;
      }
    }
  }
  if (!found) {
    throw new Error(
      "redis-py is not installed: install Debian's python3-redis (`apt-get install python3-redis`, as .ci/run does); neither python3 nor /usr/bin/python3 can `import redis`",
    );
  }
  return found;
}

/**
 * One `Sentinel(sentinels).discover_master(name)` call, as redis-py does before connecting:
 * the master's "host:port", or an Error with what redis-py raised (MasterNotFoundError, ...).
 */
export async function redisPyDiscover(
  sentinels: SentinelAddr[],
  name = 'mymaster',
  timeoutMs = 500,
): Promise<string | Error> {
  const { python } = redisPy();
  const out = await new Promise<string>((resolve, reject) => {
    const p = spawn(
      python,
      [
        SCRIPT,
        '--sentinels',
        sentinels.map((s) => `${s.host}:${s.port}`).join(','),
        '--name',
        name,
        '--prefix',
        'discover',
        '--timeout-ms',
        String(timeoutMs),
        '--discover',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    live.add(p);
    let stdout = '';
    let stderr = '';
    p.stdout!.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
    });
    p.stderr!.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
    });
    const timer = setTimeout(() => p.kill('SIGKILL'), 20_000);
    p.once('exit', (code) => {
      clearTimeout(timer);
      live.delete(p);
      if (code === 0) resolve(stdout);
      else reject(new Error(`redis_py_writer.py --discover exited ${code}: ${stderr}`));
    });
  });
  const j = JSON.parse(out.trim().split('\n').at(-1)!) as { master?: string; error?: string };
  return j.master ?? new Error(j.error ?? out);
}

export class RedisPyWriter extends Writer {
  private proc: ChildProcess | null = null;
  private exited: Promise<void> = Promise.resolve();
  private stderr = '';
  version = '';
  fatal: string | null = null;

  constructor(
    readonly sentinels: SentinelAddr[],
    prefix: string,
    readonly opts: { name?: string; intervalMs?: number; timeoutMs?: number } = {},
  ) {
    super('redis-py', prefix, opts.intervalMs);
  }

  async start(timeoutMs = 20_000): Promise<void> {
    const { python } = redisPy();
    const p = spawn(
      python,
      [
        SCRIPT,
        '--sentinels',
        this.sentinels.map((s) => `${s.host}:${s.port}`).join(','),
        '--name',
        this.opts.name ?? 'mymaster',
        '--prefix',
        this.prefix,
        '--interval-ms',
        String(this.intervalMs),
        '--timeout-ms',
        String(this.opts.timeoutMs ?? 500),
      ],
      { stdio: ['pipe', 'pipe', 'pipe'] },
    );
    this.proc = p;
    live.add(p);
    this.exited = new Promise((resolve) =>
      p.once('exit', () => {
        live.delete(p);
        resolve();
      }),
    );
    let buf = '';
    p.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      buf += chunk;
      let nl = buf.indexOf('\n');
      while (nl >= 0) {
        this.line(buf.slice(0, nl));
        buf = buf.slice(nl + 1);
        nl = buf.indexOf('\n');
      }
    });
    p.stderr!.setEncoding('utf8').on('data', (d: string) => {
      this.stderr = (this.stderr + d).slice(-4000);
    });
    p.stdin!.on('error', () => {});
    try {
      await this.waitForAcksAfter(0, 1, timeoutMs);
    } catch (err) {
      throw new Error(`${(err as Error).message}; fatal: ${this.fatal}; stderr: ${this.stderr}`);
    }
  }

  private line(raw: string): void {
    let j: { ack?: string; t?: number; err?: string; version?: string; fatal?: string };
    try {
      j = JSON.parse(raw);
    } catch {
      return;
    }
    if (j.ack !== undefined) this.acked.push({ key: j.ack, t: j.t ?? Date.now() });
    else if (j.err !== undefined) this.errors.push({ t: j.t ?? Date.now(), msg: j.err });
    else if (j.version !== undefined) this.version = j.version;
    else if (j.fatal !== undefined) this.fatal = j.fatal;
  }

  async stop(): Promise<void> {
    this.stopping = true;
    const p = this.proc;
    if (!p) return;
    p.stdin!.end();
    await Promise.race([this.exited, sleep(3000)]);
    if (live.has(p)) {
      p.kill('SIGKILL');
      await Promise.race([this.exited, sleep(2000)]);
    }
  }
}

/**
 * redis-cli driver: runs `redis-cli -p <port> ...` against a Sentinel port, as an operator or a
 * shell script does, and the "Jedis-like" master lookup: ask each sentinel of a list, in order,
 * `SENTINEL get-master-addr-by-name`, and take the first address answered (JedisSentinelPool,
 * go-redis, Lettuce's standalone URI and StackExchange.Redis all resolve this way).
 */
import { execFile } from 'node:child_process';
import { haveBinary } from '../redis.js';
import type { SentinelAddr } from './common.js';

export interface CliOutput {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** An error saying what to install, when redis-cli is missing. */
export function requireRedisCli(): void {
  if (!haveBinary('redis-cli')) {
    throw new Error(
      "redis-cli is not installed: install Debian's redis-tools (`apt-get install redis-tools`, as .ci/run does)",
    );
  }
}

/** Run redis-cli (raw output, as when piped) against `addr`; `resp3` adds -3. Bounded by timeoutMs. */
export function redisCli(
  addr: SentinelAddr,
  args: string[],
  opts: { resp3?: boolean; timeoutMs?: number; extra?: string[] } = {},
): Promise<CliOutput> {
  requireRedisCli();
  const argv = [
    '-h',
    addr.host,
    '-p',
    String(addr.port),
    ...(opts.resp3 ? ['-3'] : []),
    ...(opts.extra ?? []),
    ...args,
  ];
  return new Promise((resolve) => {
    execFile(
      'redis-cli',
      argv,
      { timeout: opts.timeoutMs ?? 5000, killSignal: 'SIGKILL', encoding: 'utf8' },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : null) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/**
 * `SENTINEL get-master-addr-by-name <name>` through redis-cli: "host:port", null for the null
 * reply, or an Error for an error reply or no answer.
 */
export async function cliMasterAddr(
  addr: SentinelAddr,
  name = 'mymaster',
  timeoutMs = 2000,
): Promise<string | null | Error> {
  const r = await redisCli(addr, ['SENTINEL', 'get-master-addr-by-name', name], { timeoutMs });
  if (r.code !== 0) return new Error(`redis-cli exit ${r.code}: ${r.stderr.trim() || r.stdout.trim()}`);
  const lines = r.stdout.split('\n').filter((l) => l !== '');
  if (lines.length === 0) return null;
  if (lines.length === 2 && /^\d+$/.test(lines[1]!)) return `${lines[0]}:${lines[1]}`;
  return new Error(r.stdout.trim());
}

/**
 * The Jedis-like lookup: the first sentinel of `sentinels` (in order) that answers an address;
 * null when none does. `asked` lists what each sentinel answered, for assertions.
 */
export async function jedisLikeMasterAddr(
  sentinels: SentinelAddr[],
  name = 'mymaster',
): Promise<{ master: string | null; from: SentinelAddr | null; asked: string[] }> {
  const asked: string[] = [];
  for (const s of sentinels) {
    const a = await cliMasterAddr(s, name, 1500);
    asked.push(`${s.host}:${s.port} -> ${a instanceof Error ? `error (${a.message})` : (a ?? 'null')}`);
    if (typeof a === 'string') return { master: a, from: s, asked };
  }
  return { master: null, from: null, asked };
}

/**
 * Ask `addr` through redis-cli until it names `want`; fails at once if it names another address
 * (a wrong master is never acceptable), retries on no answer (a daemon without its lease for a
 * moment on a loaded machine answers no master, and clients retry) for at most `timeoutMs`.
 */
export async function cliWaitNames(
  addr: SentinelAddr,
  want: string,
  timeoutMs = 10_000,
  name = 'mymaster',
): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  const seen: string[] = [];
  for (;;) {
    const a = await cliMasterAddr(addr, name);
    if (a === want) return a;
    if (typeof a === 'string') throw new Error(`${addr.host}:${addr.port} named ${a}, not ${want}`);
    seen.push(a === null ? 'null' : a.message);
    if (Date.now() > deadline) {
      throw new Error(
        `${addr.host}:${addr.port} did not name ${want} within ${timeoutMs} ms: ${seen.slice(-3)}`,
      );
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

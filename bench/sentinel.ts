/**
 * `npm run bench -- sentinel`: the Sentinel port under load, and stock client libraries through a
 * failover; raftinel and redis-sentinel in the same run, on the same layout (bench/support.ts:
 * 1 master + 2 replicas, three daemons or three redis-sentinels with quorum 2).
 *
 * Throughput. 50 concurrent clients, each a raw RESP connection with one request in flight
 * (no pipelining), send `SENTINEL GET-MASTER-ADDR-BY-NAME mymaster` in a closed loop for the
 * measurement time (after a 1 s warm-up) to ONE Sentinel port: a follower daemon, the leader daemon,
 * and redis-sentinel 1. The load generator is this Node.js process, on the same 2 cores as the
 * server, so the figures are a floor for both; a second pass uses `redis-benchmark` (C, 50
 * clients, -P 1) when it is installed, which costs the machine less per request.
 *
 * Client libraries. For each library available (ioredis; node-redis, the `redis` package, if
 * installed; redis-py if a python3 can `import redis`), a writer configured as an application
 * would configure it (test/support/clients/) writes unique keys every 5 ms through the Sentinel
 * ports; the master is killed with SIGKILL; figure: ms from the kill to the library's first
 * acknowledged write after the outage, and acknowledged writes lost. All libraries write at the
 * same time, to the same deployment (down_after 1000 ms), a few trials per system.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { type Ack, parseAddr, type Writer } from '../test/support/clients/common.js';
import { IoredisWriter } from '../test/support/clients/ioredis.js';
import { cleanupClients, RedisPyWriter, redisPy } from '../test/support/clients/redis-py.js';
import { haveBinary } from '../test/support/redis.js';
import { percentile, REPO_ROOT, round } from './env.js';
import {
  type Deployment,
  describeTiming,
  destroyAll,
  encodeCommand,
  ensureBuilt,
  masterFromReply,
  missingOn,
  RespClient,
  raftinelDeployment,
  SHARD,
  sentinelDeployment,
  sleep,
  summary,
  timingFor,
  treeMeter,
  trials,
} from './support.js';
import type { Benchmark, BenchOptions, BenchRow } from './types.js';

type System = 'raftinel' | 'redis-sentinel';
const SYSTEMS: System[] = ['redis-sentinel', 'raftinel'];
const CLIENTS = 50;
const DOWN_AFTER_MS = 1000;
const WRITE_INTERVAL_MS = 5;

function deploy(system: System): Promise<Deployment> {
  return system === 'raftinel'
    ? raftinelDeployment(timingFor(DOWN_AFTER_MS))
    : sentinelDeployment(DOWN_AFTER_MS);
}

function pkgVersion(name: string): string {
  try {
    const pkg = JSON.parse(readFileSync(`${REPO_ROOT}node_modules/${name}/package.json`, 'utf8')) as {
      version?: string;
    };
    return pkg.version ?? '?';
  } catch {
    return '?';
  }
}

// ---------------------------------------------------------------------------------------------
// Throughput

interface Load {
  requests: number;
  errors: number;
  seconds: number;
  latencies: number[];
}

/** CLIENTS closed loops of GET-MASTER-ADDR-BY-NAME on `addr`, each on its own connection. */
async function closedLoop(addr: string, expect: string, durationMs: number): Promise<Load> {
  const cmd = encodeCommand(['SENTINEL', 'get-master-addr-by-name', SHARD]);
  const conns = await Promise.all(Array.from({ length: CLIENTS }, () => RespClient.connect(addr, 2000)));
  const latencies: number[] = [];
  let errors = 0;
  let requests = 0;
  try {
    const run = async (c: RespClient, until: number, record: boolean) => {
      while (performance.now() < until) {
        const t0 = performance.now();
        // No timer per request (it would cost the generator more than the server); the run is
        // bounded by the watchdog below.
        const r = await c.send(cmd, 0);
        if (!record) continue;
        requests++;
        if (masterFromReply(r) !== expect) errors++;
        else latencies.push(performance.now() - t0);
      }
    };
    const watchdog = (ms: number) =>
      sleep(ms).then(() => {
        throw new Error(`the load on ${addr} did not finish within ${ms} ms`);
      });
    // A fresh daemon answers its first thousands of requests slower (JIT warm-up, most likely).
    const warm = performance.now() + 1000;
    await Promise.race([Promise.all(conns.map((c) => run(c, warm, false))), watchdog(durationMs + 10_000)]);
    const start = performance.now();
    const end = start + durationMs;
    await Promise.race([Promise.all(conns.map((c) => run(c, end, true))), watchdog(durationMs + 10_000)]);
    const seconds = (performance.now() - start) / 1000;
    return { requests, errors, seconds, latencies: latencies.sort((a, b) => a - b) };
  } finally {
    for (const c of conns) c.close();
  }
}

/** redis-benchmark's CSV figures for GET-MASTER-ADDR-BY-NAME on `addr`, or null when it failed. */
async function redisBenchmark(addr: string, requests: number): Promise<Record<string, number> | null> {
  const { host, port } = parseAddr(addr);
  const args = ['-h', host, '-p', String(port), '-c', String(CLIENTS), '-n', String(requests), '-P', '1'];
  const p = spawn('redis-benchmark', [...args, '--csv', 'SENTINEL', 'get-master-addr-by-name', SHARD], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  p.stdout.setEncoding('utf8').on('data', (d: string) => {
    out += d;
  });
  p.stderr.resume();
  const timer = setTimeout(() => p.kill('SIGKILL'), 120_000);
  const code = await new Promise<number | null>((resolve) => p.once('exit', (c) => resolve(c)));
  clearTimeout(timer);
  const lines = out.trim().split('\n');
  const header = lines.findIndex((l) => l.startsWith('"test"'));
  if (code !== 0 || header < 0 || !lines[header + 1]) return null;
  const keys = lines[header]!.split(',').map((k) => k.replace(/"/g, ''));
  const values = lines[header + 1]!.split(',').map((v) => v.replace(/"/g, ''));
  const rec: Record<string, number> = {};
  keys.forEach((k, i) => {
    if (k !== 'test') rec[k] = Number(values[i]);
  });
  return rec;
}

async function* throughput(opts: BenchOptions, durationMs: number): AsyncGenerator<BenchRow> {
  const useRedisBenchmark = haveBinary('redis-benchmark');
  if (!useRedisBenchmark) opts.progress('sentinel: redis-benchmark is not installed; skipping its pass');
  for (const system of SYSTEMS) {
    try {
      opts.progress(`sentinel: deploying ${system}`);
      const d = await deploy(system);
      const master = d.redis[0]!.addr;
      const targets =
        system === 'raftinel'
          ? [
              { target: 'follower (daemon 2)', addr: d.monitors[1]! },
              { target: 'leader (daemon 1)', addr: d.monitors[0]! },
            ]
          : [{ target: 'sentinel 1', addr: d.monitors[0]! }];
      for (const { target, addr } of targets) {
        opts.progress(`sentinel: ${system} ${target}: ${CLIENTS} clients, ${durationMs} ms`);
        const meter = treeMeter();
        const r = await closedLoop(addr, master, durationMs);
        yield {
          system,
          measure: 'GET-MASTER-ADDR-BY-NAME',
          target,
          client: 'node raw RESP',
          clients: CLIENTS,
          requests: r.requests,
          req_per_s: round(r.requests / r.seconds, 0),
          p50_ms: round(percentile(r.latencies, 50), 3),
          p99_ms: round(percentile(r.latencies, 99), 3),
          max_ms: round(r.latencies[r.latencies.length - 1] ?? Number.NaN, 1),
          errors: r.errors,
          ...meter(),
        };
        if (useRedisBenchmark) {
          const n = Math.max(10_000, Math.round((r.requests / r.seconds) * (durationMs / 1000)));
          opts.progress(`sentinel: ${system} ${target}: redis-benchmark, ${CLIENTS} clients, ${n} requests`);
          const meter2 = treeMeter();
          const b = await redisBenchmark(addr, n);
          if (!b) {
            opts.progress('sentinel: redis-benchmark failed; no row');
            continue;
          }
          yield {
            system,
            measure: 'GET-MASTER-ADDR-BY-NAME',
            target,
            client: 'redis-benchmark',
            clients: CLIENTS,
            requests: n,
            req_per_s: round(b.rps ?? Number.NaN, 0),
            p50_ms: b.p50_latency_ms ?? null,
            p99_ms: b.p99_latency_ms ?? null,
            max_ms: b.max_latency_ms ?? null,
            errors: null,
            ...meter2(),
          };
        }
      }
    } finally {
      await destroyAll();
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Client libraries through kill -9 of the master

interface Library {
  name: string;
  make(sentinels: { host: string; port: number }[], prefix: string): Writer;
}

async function libraries(progress: (m: string) => void): Promise<Library[]> {
  const libs: Library[] = [
    {
      name: `ioredis ${pkgVersion('ioredis')}`,
      make: (s, prefix) => new IoredisWriter(s, prefix, { name: SHARD, intervalMs: WRITE_INTERVAL_MS }),
    },
  ];
  try {
    const { NodeRedisWriter } = await import('../test/support/clients/node-redis.js');
    libs.push({
      name: `node-redis ${pkgVersion('redis')}`,
      make: (s, prefix) => new NodeRedisWriter(s, prefix, { name: SHARD, intervalMs: WRITE_INTERVAL_MS }),
    });
  } catch (err) {
    progress(
      `sentinel: node-redis (the \`redis\` package) is not installed, skipped: ${(err as Error).message}`,
    );
  }
  try {
    const { version, python } = redisPy();
    libs.push({
      name: `redis-py ${version}`,
      make: (s, prefix) => new RedisPyWriter(s, prefix, { name: SHARD, intervalMs: WRITE_INTERVAL_MS }),
    });
    progress(`sentinel: redis-py ${version} through ${python}`);
  } catch (err) {
    progress(`sentinel: redis-py skipped: ${(err as Error).message}`);
  }
  return libs;
}

interface ClientResult {
  firstWriteMs: number | null;
  acked: number;
  lost: number;
}

async function clientTrial(
  d: Deployment,
  libs: Library[],
  trial: number,
  progress: (m: string) => void,
): Promise<Map<string, ClientResult>> {
  const sentinels = d.monitors.map(parseAddr);
  const writers = libs.map((l, i) => ({ lib: l, w: l.make(sentinels, `c${trial}x${i}`) }));
  const out = new Map<string, ClientResult>();
  try {
    await Promise.all(writers.map(({ w }) => w.start(20_000)));
    const t0 = Date.now();
    await Promise.all(writers.map(({ w }) => w.waitForAcksAfter(t0, 50, 20_000)));
    const killAt = Date.now();
    d.redis[0]!.kill('SIGKILL');
    const done = await Promise.allSettled(writers.map(({ w }) => w.waitForAcksAfter(killAt, 50, 60_000)));
    // The new master: whatever the monitors agree on.
    let master: string | null = null;
    for (let i = 0; i < 200 && !master; i++) {
      const named = await Promise.all(
        d.monitors.map(async (m) => {
          const c = await RespClient.connect(m, 1000).catch(() => null);
          if (!c) return null;
          try {
            return masterFromReply(await c.call(['SENTINEL', 'get-master-addr-by-name', SHARD], 1000));
          } catch {
            return null;
          } finally {
            c.close();
          }
        }),
      );
      if (named[0] && named[0] !== d.redis[0]!.addr && named.every((x) => x === named[0])) master = named[0];
      else await sleep(50);
    }
    if (!master) throw new Error('the monitors did not agree on a new master');
    await Promise.all(writers.map(({ w }) => w.stop()));
    for (let i = 0; i < writers.length; i++) {
      const { lib, w } = writers[i]!;
      const first: Ack | undefined = w.firstAckAfterOutage(killAt);
      const ok = done[i]!.status === 'fulfilled';
      const lost = await missingOn(
        master,
        w.acked.map((a) => a.key),
      );
      const r: ClientResult = {
        firstWriteMs: ok && first ? first.t - killAt : null,
        acked: w.acked.length,
        lost: lost.length,
      };
      out.set(lib.name, r);
      progress(
        `    ${d.system} ${lib.name}: first write ${r.firstWriteMs === null ? 'never' : Math.round(r.firstWriteMs)}${ok ? '' : ` (${(done[i] as PromiseRejectedResult).reason?.message?.split('\n')[0]})`} ms after the kill, acked ${r.acked}, lost ${r.lost}`,
      );
    }
    return out;
  } finally {
    await Promise.all(writers.map(({ w }) => w.stop().catch(() => {})));
  }
}

async function* clientFailover(opts: BenchOptions): AsyncGenerator<BenchRow> {
  const libs = await libraries(opts.progress);
  const n = trials(opts, 3, 1);
  const meter = treeMeter();
  const results = new Map<string, ClientResult[]>();
  for (let i = 0; i < n; i++) {
    opts.progress(`sentinel: client libraries through kill -9 of the master, trial ${i + 1}/${n}`);
    for (const system of SYSTEMS) {
      try {
        const d = await deploy(system);
        const r = await clientTrial(d, libs, i, opts.progress);
        for (const [lib, cr] of r) {
          const k = `${system}\t${lib}`;
          results.set(k, [...(results.get(k) ?? []), cr]);
        }
      } catch (err) {
        opts.progress(`    ${system}: trial failed: ${(err as Error).message.split('\n')[0]}`);
      } finally {
        await cleanupClients();
        await destroyAll();
      }
    }
  }
  const load = meter();
  for (const lib of libs) {
    for (const system of SYSTEMS) {
      const rs = results.get(`${system}\t${lib.name}`) ?? [];
      const s = summary(rs.map((r) => r.firstWriteMs));
      yield {
        system,
        measure: 'client kill -9 -> first write',
        client: lib.name,
        config:
          system === 'raftinel'
            ? `down_after ${DOWN_AFTER_MS}, ${describeTiming(timingFor(DOWN_AFTER_MS))}`
            : `down-after ${DOWN_AFTER_MS}, quorum 2`,
        trials: rs.length,
        first_write_median_ms: s.median,
        first_write_min_ms: s.min,
        first_write_max_ms: s.max,
        never_wrote: rs.filter((r) => r.firstWriteMs === null).length,
        acked: rs.reduce((a, r) => a + r.acked, 0),
        lost: rs.reduce((a, r) => a + r.lost, 0),
        ...load,
      };
    }
  }
}

const sentinel: Benchmark = {
  name: 'sentinel',
  description:
    'Sentinel port: GET-MASTER-ADDR-BY-NAME req/s and p99 from 50 clients, raftinel vs redis-sentinel; ' +
    'ioredis / node-redis / redis-py: kill -9 of the master to first successful write',
  columns: [
    'system',
    'measure',
    'target',
    'client',
    'req_per_s',
    'p50_ms',
    'p99_ms',
    'max_ms',
    'errors',
    'trials',
    'first_write_median_ms',
    'first_write_min_ms',
    'first_write_max_ms',
    'acked',
    'lost',
    'tree_cores',
    'foreign_cores',
    'loaded',
  ],
  async *run(opts: BenchOptions): AsyncIterable<BenchRow> {
    ensureBuilt(opts.progress);
    const durationMs = opts.durationMs ?? (opts.quick ? 1000 : 5000);
    try {
      yield* throughput(opts, durationMs);
      yield* clientFailover(opts);
    } finally {
      await cleanupClients();
      await destroyAll();
    }
  },
};

export default sentinel;

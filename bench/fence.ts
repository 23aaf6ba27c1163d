/**
 * `npm run bench -- fence-cost`: the availability cost of the write guard (docs/ARCHITECTURE.md,
 * "Fencing"). A master runs with Redis's `min-replicas-to-write` / `min-replicas-max-lag`, so it
 * refuses writes (-NOREPLICAS) when no replica acknowledged within the lag: that fences a cut-off
 * master with no daemon alive, and it also refuses writes when the replicas themselves are gone.
 * raftinel's leader lowers the guard once a majority of daemons declared the replicas down
 * (down_after_ms); Sentinel's advice (min-replicas-to-write 1) refuses until they return.
 *
 * Layout (bench/support.ts, loopback, no root needed): three redis-servers (1 master + 2 replicas,
 * no persistence) and beside each one a daemon (raftinel, product defaults: heartbeat 100 ms,
 * election timeout 1000 ms, lease 2000 ms, down_after 3000 ms, the write guard as the settings
 * table has it) or a redis-sentinel (quorum 2, down-after 3000 ms), with or without
 * `min-replicas-to-write 1` / `min-replicas-max-lag 1` set on every Redis. A writer in this process
 * sends unique SETs to the master directly (one connection, one at a time, every 5 ms) and records
 * each answer. Scenarios, each from a fresh deployment, the master and every daemon/Sentinel alive:
 *
 * - `replicas-die`: both replica redis-servers SIGKILLed (and not restarted);
 * - `replica-restart`: one replica SIGKILLed and started again at once (empty: it full-syncs);
 * - `replicas-restart`: both replicas SIGKILLed and started again at once;
 * - `healthy`: nothing fails (30 s): what the guard refuses on a healthy shard.
 *
 * Figures, over a window of `window_ms` from the kill: `refused` (writes answered -NOREPLICAS),
 * `first_refused_ms` (from the kill), `refusing_ms` (from the first refused write to the first
 * write accepted after the last refusal; when the master still refused at the end of the window,
 * to the end of the window, and `refusing_at_end` counts those trials), `accepted` (writes
 * acknowledged in the window). With several trials, the row gives the median and the max.
 *
 * BENCH_FENCE=scenario,... and BENCH_SYSTEMS=raftinel|redis-sentinel|sentinel-min1 select a part;
 * BENCH_TRIALS=N sets the trials per row.
 */
import { waitFor } from '../test/support/daemons.js';
import { waitReplicaSynced } from '../test/support/failover.js';
import type { RedisProcess } from '../test/support/redis.js';
import {
  type Deployment,
  destroyAll,
  ensureBuilt,
  RespClient,
  raftinelDeployment,
  SHARD,
  sentinelDeployment,
  sleep,
  summary,
  type Timing,
  trials,
} from './support.js';
import type { Benchmark, BenchOptions, BenchRow } from './types.js';

/** raftinel's product defaults (PRODUCT.md, docs/CONFIGURATION.md); down_after is shared by every system. */
export const PRODUCT_TIMING: Timing = {
  heartbeatMs: 100,
  electionTimeoutMs: 1000,
  leaseMs: 2000,
  downAfterMs: 3000,
};

const WINDOW_MS = 12_000;
/** Long enough for raftinel to lower the guard (down_after 3 s + a probe round + a commit). */
const QUICK_WINDOW_MS = 7000;
const WRITE_INTERVAL_MS = 5;
const WRITE_TIMEOUT_MS = 1000;

/**
 * The cases of `all` whose `id` is listed in the environment variable `envVar` (comma-separated),
 * or all of them when it is unset; an unknown id is an error that lists the known ones.
 */
export function selectedCases<T extends { id: string }>(envVar: string, all: readonly T[]): T[] {
  const raw = process.env[envVar]?.trim();
  if (!raw) return [...all];
  const ids = raw.split(',').map((s) => s.trim());
  const unknown = ids.filter((id) => !all.some((c) => c.id === id));
  if (unknown.length > 0)
    throw new Error(
      `${envVar}: unknown case ${unknown.join(', ')}; known: ${all.map((c) => c.id).join(', ')}`,
    );
  return all.filter((c) => ids.includes(c.id));
}

/**
 * Apply BENCH_SHARD_SETTINGS ("name=value,name=value", Sentinel spellings such as
 * `min-replicas-to-write=1`) to the shard with SENTINEL SET on the daemon at `sentinelAddr`, to
 * measure other settings than the defaults. Unset (the recorded runs): the product defaults.
 */
export async function applyShardSettings(sentinelAddr: string): Promise<void> {
  const raw = process.env.BENCH_SHARD_SETTINGS?.trim();
  if (!raw) return;
  const args = raw.split(',').flatMap((kv) => {
    const [k, v] = kv.split('=').map((s) => s.trim());
    if (!k || v === undefined) throw new Error(`BENCH_SHARD_SETTINGS: expected name=value, got "${kv}"`);
    return [k, v];
  });
  const c = await RespClient.connect(sentinelAddr, 2000);
  try {
    const r = await c.call(['SENTINEL', 'SET', SHARD, ...args], 5000);
    if (r.t !== 'simple') throw new Error(`SENTINEL SET ${args.join(' ')} answered ${JSON.stringify(r)}`);
  } finally {
    c.close();
  }
}

/** `min-replicas-to-write`/`min-replicas-max-lag` of `r`, as "1/1 s". */
export async function minReplicasOf(r: { call(...args: string[]): Promise<unknown> }): Promise<string> {
  const get = async (p: string) => ((await r.call('CONFIG', 'GET', p)) as string[])[1] ?? '?';
  return `${await get('min-replicas-to-write')}/${await get('min-replicas-max-lag')} s`;
}

// ---------------------------------------------------------------------------------------------
// The writer

interface Answer {
  /** performance.now() when the answer arrived. */
  t: number;
  kind: 'ok' | 'refused' | 'error';
}

/** Unique SETs to one Redis, one at a time, recording every answer (reconnects after errors). */
class DirectWriter {
  readonly answers: Answer[] = [];
  private stopped = false;
  private readonly done: Promise<void>;

  constructor(
    private readonly addr: string,
    maxMs: number,
  ) {
    this.done = this.loop(performance.now() + maxMs);
  }

  private async loop(deadline: number): Promise<void> {
    let conn: RespClient | null = null;
    for (let n = 0; !this.stopped && performance.now() < deadline; n++) {
      try {
        conn ??= await RespClient.connect(this.addr, WRITE_TIMEOUT_MS);
        const r = await conn.call(['SET', `fence-cost:${n}`, '1'], WRITE_TIMEOUT_MS);
        const kind =
          r.t === 'simple' && r.s === 'OK'
            ? 'ok'
            : r.t === 'error' && r.s.startsWith('NOREPLICAS')
              ? 'refused'
              : 'error';
        this.answers.push({ t: performance.now(), kind });
      } catch {
        this.answers.push({ t: performance.now(), kind: 'error' });
        conn?.close();
        conn = null;
      }
      await sleep(WRITE_INTERVAL_MS);
    }
    (conn as RespClient | null)?.close();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.done;
  }
}

export interface Refusals {
  refused: number;
  accepted: number;
  errors: number;
  firstRefusedMs: number | null;
  /** First refused write to the first accepted after the last refusal (or to `end`). */
  refusingMs: number | null;
  refusingAtEnd: boolean;
}

/** What the answers in [from, end] say about refused writes. Pure. */
export function refusals(answers: readonly Answer[], from: number, end: number): Refusals {
  const inWindow = answers.filter((a) => a.t >= from && a.t <= end);
  const refused = inWindow.filter((a) => a.kind === 'refused');
  const out: Refusals = {
    refused: refused.length,
    accepted: inWindow.filter((a) => a.kind === 'ok').length,
    errors: inWindow.filter((a) => a.kind === 'error').length,
    firstRefusedMs: null,
    refusingMs: null,
    refusingAtEnd: false,
  };
  const first = refused[0];
  const last = refused[refused.length - 1];
  if (!first || !last) return out;
  out.firstRefusedMs = first.t - from;
  const again = inWindow.find((a) => a.t > last.t && a.kind === 'ok');
  out.refusingAtEnd = again === undefined;
  out.refusingMs = (again?.t ?? end) - first.t;
  return out;
}

// ---------------------------------------------------------------------------------------------
// Systems and scenarios

interface System {
  id: 'raftinel' | 'redis-sentinel' | 'sentinel-min1';
  system: 'raftinel' | 'redis-sentinel';
  config: string;
  deploy(): Promise<Deployment>;
}

const SYSTEMS: System[] = [
  {
    id: 'raftinel',
    system: 'raftinel',
    config: `lease ${PRODUCT_TIMING.leaseMs} ms, et ${PRODUCT_TIMING.electionTimeoutMs} ms, down ${PRODUCT_TIMING.downAfterMs} ms`,
    deploy: async () => {
      const d = await raftinelDeployment(PRODUCT_TIMING);
      await applyShardSettings(d.monitors[0]!);
      // The leader raises the guard once it sees the replicas attached (none when the shard's
      // min_replicas_to_write is 0: then the row shows 0/...).
      await waitFor(
        async () =>
          ((await d.redis[0]!.call('CONFIG', 'GET', 'min-replicas-to-write')) as string[])[1] !== '0',
        10_000,
        { what: 'the write guard on the master', intervalMs: 100 },
      ).catch(() => {});
      return d;
    },
  },
  {
    id: 'redis-sentinel',
    system: 'redis-sentinel',
    config: `quorum 2, down ${PRODUCT_TIMING.downAfterMs} ms`,
    deploy: () => sentinelDeployment(PRODUCT_TIMING.downAfterMs),
  },
  {
    id: 'sentinel-min1',
    system: 'redis-sentinel',
    config: `quorum 2, down ${PRODUCT_TIMING.downAfterMs} ms, min-replicas 1/1 s`,
    deploy: async () => {
      const d = await sentinelDeployment(PRODUCT_TIMING.downAfterMs);
      for (const r of d.redis) {
        await r.call('CONFIG', 'SET', 'min-replicas-max-lag', '1');
        await r.call('CONFIG', 'SET', 'min-replicas-to-write', '1');
      }
      return d;
    },
  },
];

interface Scenario {
  id: string;
  what: string;
  /** Replicas (indexes into Deployment.redis) SIGKILLed at the start. */
  kill: number[];
  /** Start them again at once (empty: they full-sync). */
  restart: boolean;
  /** Its own window (a rare event needs a longer one). */
  windowMs?: number;
}

const SCENARIOS: Scenario[] = [
  // Nothing fails: what a healthy shard refuses. Replicas ACK once a second and Redis counts the
  // lag in whole seconds, so a max-lag of 1 s refuses writes now and then (the reason raftinel's
  // min_replicas_max_lag is at least 2 s).
  { id: 'healthy', what: 'nothing fails', kill: [], restart: false, windowMs: 30_000 },
  { id: 'replicas-die', what: 'both replicas SIGKILLed', kill: [1, 2], restart: false },
  { id: 'replica-restart', what: 'one replica SIGKILLed and restarted at once', kill: [1], restart: true },
  {
    id: 'replicas-restart',
    what: 'both replicas SIGKILLed and restarted at once',
    kill: [1, 2],
    restart: true,
  },
];

async function trial(
  sys: System,
  sc: Scenario,
  windowMs: number,
): Promise<Refusals & { minReplicas: string; resyncedMs: number | null }> {
  windowMs = sc.windowMs ?? windowMs;
  const d = await sys.deploy();
  const master = d.redis[0]!;
  const minReplicas = await minReplicasOf(master);
  const writer = new DirectWriter(master.addr, windowMs + 60_000);
  try {
    await waitFor(() => writer.answers.filter((a) => a.kind === 'ok').length >= 100, 10_000, {
      what: '100 writes acknowledged by the master',
      intervalMs: 10,
    });
    const killed: RedisProcess[] = sc.kill.map((i) => d.redis[i]!);
    const t0 = performance.now();
    await Promise.all(killed.map((r) => r.crash()));
    if (sc.restart) await Promise.all(killed.map((r) => r.start()));
    const resynced = sc.restart
      ? Promise.all(killed.map((r) => waitReplicaSynced(r, master, windowMs))).then(
          () => performance.now() - t0,
          () => null,
        )
      : Promise.resolve(null);
    await sleep(Math.max(0, t0 + windowMs - performance.now()));
    const end = performance.now();
    await writer.stop();
    return { ...refusals(writer.answers, t0, end), minReplicas, resyncedMs: await resynced };
  } finally {
    await writer.stop();
    await destroyAll();
  }
}

const fence: Benchmark = {
  name: 'fence-cost',
  description:
    "the write guard's availability cost: writes the master refuses when its replicas die or restart, raftinel (guard lowered by the majority) vs redis-sentinel with and without min-replicas-to-write 1",
  columns: [
    'scenario',
    'system',
    'config',
    'min_replicas',
    'trials',
    'window_ms',
    'first_refused_ms',
    'refusing_ms',
    'refusing_max_ms',
    'refusing_at_end',
    'refused',
    'refused_max',
    'accepted',
    'resynced_ms',
    'loaded',
  ],
  async *run(opts: BenchOptions): AsyncIterable<BenchRow> {
    ensureBuilt(opts.progress);
    const windowMs = opts.durationMs ?? (opts.quick ? QUICK_WINDOW_MS : WINDOW_MS);
    const n = trials(opts, 3, 1);
    const systems = selectedCases('BENCH_SYSTEMS', SYSTEMS);
    for (const sc of selectedCases('BENCH_FENCE', SCENARIOS)) {
      for (const sys of systems) {
        const rs: Awaited<ReturnType<typeof trial>>[] = [];
        for (let i = 0; i < n; i++) {
          opts.progress(`fence-cost: ${sc.id} (${sc.what}), ${sys.id}, trial ${i + 1}/${n}`);
          rs.push(await trial(sys, sc, windowMs));
        }
        const refusing = summary(rs.map((r) => r.refusingMs));
        const refused = summary(rs.map((r) => r.refused));
        yield {
          system: sys.system,
          scenario: sc.id,
          config: sys.config,
          min_replicas: [...new Set(rs.map((r) => r.minReplicas))].join(', '),
          trials: n,
          window_ms: sc.windowMs ?? windowMs,
          first_refused_ms: summary(rs.map((r) => r.firstRefusedMs)).median,
          refusing_ms: refusing.median,
          refusing_max_ms: refusing.max,
          refusing_at_end: rs.filter((r) => r.refusingAtEnd).length,
          refused: refused.median,
          refused_max: refused.max,
          accepted: summary(rs.map((r) => r.accepted)).median,
          errors: rs.reduce((s, r) => s + r.errors, 0),
          resynced_ms: summary(rs.map((r) => r.resyncedMs)).median,
        };
      }
    }
  },
};

export default fence;

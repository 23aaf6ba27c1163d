/**
 * `npm run bench -- failover`: unplanned failover and planned switchover, raftinel and
 * redis-sentinel side by side in the same run, on the same layout (bench/support.ts): three
 * redis-servers on loopback (1 master + 2 replicas, "host" i = redis-server i and the daemon or
 * Sentinel beside it), three raftinel daemons or three redis-sentinels (quorum 2,
 * failover-timeout 10 s), the same down-after. Every trial deploys a fresh topology (new
 * processes, new data directories) and destroys it afterwards; the two systems' trials alternate,
 * so a change in the machine's load hits both alike.
 *
 * Failover trials, at down_after_ms 1000 and 300 (raftinel's Raft and lease timings from
 * support.timingFor):
 * - `kill -9 master`: SIGKILL of the master's redis-server;
 * - `host loss`: SIGKILL of the master's redis-server and of the daemon (the Raft leader) or
 *   Sentinel beside it, together.
 * A writer (support.ProtocolWriter: unique SETs every 5 ms through the Sentinel protocol,
 * re-resolving on any error) runs throughout; every surviving daemon/Sentinel is polled with
 * GET-MASTER-ADDR-BY-NAME every 5 ms, and each replica is sent a probe SET every 5 ms. Figures
 * (ms from the kill):
 * - `failover_ms`: every surviving daemon/Sentinel names the new master AND it accepted a write;
 * - `first_named_ms`: the first of them named it; `writable_ms`: it accepted the probe SET;
 * - `writer_ms`: the writer's first acknowledged write on the new master;
 * - `lost`: acknowledged writes missing on the new master, checked key by key after the writer
 *   wrote 50 more writes there.
 * raftinel rows add a breakdown from the daemons' logs (timestamps in ms): `detected_ms` (the
 * leader logs "master is down (majority of voting daemons agree)"), `decided_ms` ("failover
 * decided": the decision entry is committed), `committed_ms` ("new master committed", after
 * REPLICAOF NO ONE succeeded), and for host loss `elected_ms` (a survivor became Raft leader).
 *
 * Switchover trials (down_after 1000): `raftinel switchover mymaster` (its request,
 * POST /v1/shards/mymaster/switchover, sent to daemon 1, timed without the CLI's start-up) vs
 * `SENTINEL FAILOVER mymaster` sent to Sentinel 1, under the same writer. Figures: `switch_ms`
 * (every daemon/Sentinel names the new master), `pause_ms` (the longest time between two
 * acknowledged writes from the request until the end), `lost` (acknowledged writes missing on the
 * new master once the old master replicates it and the writer made 50 writes there).
 *
 * Also reported from the Sentinel events every survivor publishes (PSUBSCRIBE *, both systems):
 * +sdown, +odown, +promoted-slave, +switch-master, and -failover-abort-not-elected counts.
 * BENCH_LOGS=1 prints each raftinel trial's daemon log lines; BENCH_FAILOVER and BENCH_SYSTEMS
 * select cases and systems (see `selected`).
 */
import { waitFor } from '../test/support/daemons.js';
import {
  type Deployment,
  describeTiming,
  destroyAll,
  EventRecorder,
  ensureBuilt,
  firstEventMs,
  firstLogMs,
  logTime,
  missingOn,
  NamePoller,
  ProtocolWriter,
  RespClient,
  raftinelDeployment,
  SHARD,
  sentinelDeployment,
  sleep,
  summary,
  timingFor,
  treeMeter,
  trials,
  WriteProbe,
} from './support.js';
import type { Benchmark, BenchOptions, BenchRow } from './types.js';

type System = 'raftinel' | 'redis-sentinel';
type Scenario = 'kill -9 master' | 'host loss';

const SYSTEMS: System[] = ['redis-sentinel', 'raftinel'];
const DOWN_AFTER_MS = [1000, 300];
const SCENARIOS: Scenario[] = ['kill -9 master', 'host loss'];
/** The issue's target: median failover at most down_after_ms + this. */
const TARGET_MARGIN_MS = 150;
const WARMUP_ACKS = 100;
const AFTER_ACKS = 50;

function deploy(system: System, downAfterMs: number): Promise<Deployment> {
  return system === 'raftinel' ? raftinelDeployment(timingFor(downAfterMs)) : sentinelDeployment(downAfterMs);
}

function configOf(system: System, downAfterMs: number): string {
  return system === 'raftinel' ? describeTiming(timingFor(downAfterMs)) : 'quorum 2';
}

async function waitUntil(pred: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!pred()) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(5);
  }
}

/** The address every poller's latest answer names, when they agree on one other than `old`. */
function agreedNew(pollers: NamePoller[], old: string): string | null {
  const x = pollers[0]?.last;
  if (!x || x === old) return null;
  return pollers.every((p) => p.last === x) ? x : null;
}

interface FailoverResult {
  failoverMs: number;
  firstNamedMs: number;
  allNamedMs: number;
  writableMs: number;
  writerMs: number | null;
  acked: number;
  lost: number;
  detectedMs: number | null;
  decidedMs: number | null;
  committedMs: number | null;
  electedMs: number | null;
  /** From the Sentinel events published by the surviving daemons/Sentinels (ms from the kill). */
  sdownMs: number | null;
  odownMs: number | null;
  promotedMs: number | null;
  switchMasterMs: number | null;
  /** -failover-abort-not-elected events (a Sentinel election that nobody won). */
  aborts: number;
}

async function failoverTrial(
  d: Deployment,
  scenario: Scenario,
  prefix: string,
  progress: (m: string) => void,
): Promise<FailoverResult> {
  const old = d.redis[0]!;
  const writer = new ProtocolWriter(d.monitors, prefix);
  const pollers: NamePoller[] = [];
  const probes: WriteProbe[] = [];
  const recorders: EventRecorder[] = [];
  try {
    writer.start();
    await writer.waitAcks(WARMUP_ACKS, 20_000);
    const survivors = scenario === 'host loss' ? [2, 3] : [1, 2, 3];
    for (const h of survivors) pollers.push(new NamePoller(d.monitors[h - 1]!));
    for (const h of survivors) recorders.push(await EventRecorder.start(d.monitors[h - 1]!));
    for (const r of d.redis.slice(1)) probes.push(new WriteProbe(r.addr));
    await waitUntil(() => pollers.every((p) => p.last === old.addr), 5000, 'every poller to name the master');
    const wall0 = Date.now();
    const t0 = performance.now();
    old.kill('SIGKILL');
    if (scenario === 'host loss') d.killMonitor(1);
    let named: string | null = null;
    await waitUntil(
      () => {
        named = agreedNew(pollers, old.addr);
        return named !== null && probes.find((p) => p.addr === named)?.firstOk != null;
      },
      30_000,
      'every surviving monitor to name a new master that accepts writes',
    );
    const master = named as unknown as string;
    const times = pollers.map((p) => p.firstSeen.get(master)!);
    const writable = probes.find((p) => p.addr === master)!.firstOk!;
    const allNamed = Math.max(...times);
    await writer.waitAcks(AFTER_ACKS, 20_000, master);
    await writer.stop();
    const resumed = writer.firstAckElsewhere(old.addr, t0);
    const lost = await missingOn(
      master,
      writer.acked.map((a) => a.key),
    );
    let breakdown = {
      detectedMs: null as number | null,
      decidedMs: null as number | null,
      committedMs: null as number | null,
      electedMs: null as number | null,
    };
    if (d.fc) {
      const daemons = [1, 2, 3].map((id) => d.fc!.c.node(id));
      breakdown = {
        detectedMs: firstLogMs(daemons, 'master is down (majority of voting daemons agree)', wall0),
        decidedMs: firstLogMs(daemons, 'failover decided', wall0),
        committedMs: firstLogMs(daemons, 'new master committed', wall0),
        electedMs:
          scenario === 'host loss'
            ? firstLogMs(daemons.slice(1), 'raft role changed', wall0, (l) => l.role === 'leader')
            : null,
      };
    }
    const r: FailoverResult = {
      failoverMs: Math.max(allNamed, writable) - t0,
      firstNamedMs: Math.min(...times) - t0,
      allNamedMs: allNamed - t0,
      writableMs: writable - t0,
      writerMs: resumed ? resumed.t - t0 : null,
      acked: writer.acked.length,
      lost: lost.length,
      ...breakdown,
      sdownMs: firstEventMs(recorders, '+sdown', t0, `master ${SHARD}`),
      odownMs: firstEventMs(recorders, '+odown', t0, `master ${SHARD}`),
      promotedMs: firstEventMs(recorders, '+promoted-slave', t0),
      switchMasterMs: firstEventMs(recorders, '+switch-master', t0),
      aborts: Math.max(0, ...recorders.map((x) => x.count('-failover-abort-not-elected', t0))),
    };
    const logs = d.fc
      ? `; logs: ${scenario === 'host loss' ? `elected ${fmt(r.electedMs)}, ` : ''}detected ${fmt(r.detectedMs)}, decided ${fmt(r.decidedMs)}, committed ${fmt(r.committedMs)}`
      : '';
    const bd = ` [events: +sdown ${fmt(r.sdownMs)}, +odown ${fmt(r.odownMs)}, +promoted-slave ${fmt(r.promotedMs)}, +switch-master ${fmt(r.switchMasterMs)}${r.aborts ? `, ${r.aborts} aborted election(s)` : ''}${logs}]`;
    if (d.fc && process.env.BENCH_LOGS) dumpLogs(d, wall0, r.failoverMs + 300, progress);
    progress(
      `    ${d.system}: failover ${fmt(r.failoverMs)} ms (first named ${fmt(r.firstNamedMs)}, all ${fmt(r.allNamedMs)}, writable ${fmt(r.writableMs)}, writer ${fmt(r.writerMs)})${bd}, acked ${r.acked}, lost ${r.lost}`,
    );
    return r;
  } finally {
    for (const r of recorders) r.stop();
    await Promise.all([writer.stop(), ...pollers.map((p) => p.stop()), ...probes.map((p) => p.stop())]);
  }
}

/**
 * BENCH_LOGS=1: print every daemon's log lines from 100 ms before the kill until `spanMs` after
 * it, in time order, with ms from the kill (for the failover-time breakdown).
 */
function dumpLogs(d: Deployment, wall0: number, spanMs: number, progress: (m: string) => void): void {
  const lines: { t: number; id: number; text: string }[] = [];
  for (const id of [1, 2, 3]) {
    for (const l of d.fc!.c.node(id).lines) {
      const j = l.json;
      if (!j) continue;
      const t = logTime(j);
      if (t === null || t < wall0 - 100 || t > wall0 + spanMs) continue;
      const { level: _l, time: _t, pid: _p, hostname: _h, msg, ...rest } = j;
      lines.push({ t: t - wall0, id, text: `${String(msg)} ${JSON.stringify(rest)}` });
    }
  }
  lines.sort((a, b) => a.t - b.t);
  for (const l of lines)
    progress(`      ${String(l.t).padStart(5)} ms  node ${l.id}  ${l.text.slice(0, 300)}`);
}

function fmt(v: number | null): string {
  return v === null ? '-' : String(Math.round(v));
}

interface SwitchResult {
  switchMs: number;
  pauseMs: number;
  acked: number;
  lost: number;
  oldAckedAfter: number;
  doneMs: number;
}

async function roleOf(addr: string): Promise<string | null> {
  try {
    const c = await RespClient.connect(addr, 1000);
    try {
      const r = await c.call(['ROLE'], 1000);
      if (r.t !== 'array') return null;
      const items = r.items.map((x) => (x.t === 'bulk' ? x.s : x.t === 'int' ? String(x.n) : ''));
      return items[0] === 'slave' ? `slave ${items[1]}:${items[2]}` : (items[0] ?? null);
    } finally {
      c.close();
    }
  } catch {
    return null;
  }
}

async function switchoverTrial(
  d: Deployment,
  prefix: string,
  progress: (m: string) => void,
): Promise<SwitchResult> {
  const old = d.redis[0]!.addr;
  const writer = new ProtocolWriter(d.monitors, prefix);
  const pollers: NamePoller[] = [];
  try {
    writer.start();
    await writer.waitAcks(WARMUP_ACKS, 20_000);
    for (const m of d.monitors) pollers.push(new NamePoller(m));
    await waitUntil(() => pollers.every((p) => p.last === old), 5000, 'every poller to name the master');
    const t0 = performance.now();
    let request: Promise<string>;
    if (d.fc) {
      // What `raftinel switchover mymaster` sends (without the CLI's process start-up).
      const fc = d.fc;
      request = fc.c
        .node(1)
        .http('POST', `/v1/shards/${SHARD}/switchover`, { body: {}, timeoutMs: 10_000 })
        .then((r) => {
          const id = (r.json as { job?: { id?: string } } | null)?.job?.id;
          if (r.status !== 202 || !id) throw new Error(`switchover request answered ${r.status}: ${r.text}`);
          return id;
        });
    } else {
      const c = await RespClient.connect(d.monitors[0]!, 1000);
      request = c
        .call(['SENTINEL', 'FAILOVER', SHARD], 5000)
        .then((r) => {
          if (r.t !== 'simple') throw new Error(`SENTINEL FAILOVER answered ${JSON.stringify(r)}`);
          return r.s;
        })
        .finally(() => c.close());
    }
    let named: string | null = null;
    await waitUntil(
      () => {
        named = agreedNew(pollers, old);
        return named !== null;
      },
      30_000,
      'every monitor to name the new master',
    );
    const jobId = await request;
    const master = named as unknown as string;
    const switchMs = Math.max(...pollers.map((p) => p.firstSeen.get(master)!)) - t0;
    // Settled: the old master replicates the new one (Sentinel converts it ~10 s later), and the
    // writer made AFTER_ACKS writes on the new master since.
    const deadline = performance.now() + 40_000;
    while ((await roleOf(old)) !== `slave ${master}`) {
      if (performance.now() > deadline) throw new Error(`${old} did not become a replica of ${master}`);
      await sleep(50);
    }
    await writer.waitAcks(AFTER_ACKS, 20_000, master);
    const end = performance.now();
    await writer.stop();
    if (d.fc) {
      const fc = d.fc;
      const job = await waitFor(
        async () => {
          const j = await fc.job(1, jobId);
          return j.state === 'succeeded' || j.state === 'failed' ? j : null;
        },
        10_000,
        { what: `switchover job ${jobId} to finish` },
      );
      if (job.state !== 'succeeded') throw new Error(`switchover job ${jobId} failed: ${job.reason}`);
    }
    const lost = await missingOn(
      master,
      writer.acked.map((a) => a.key),
    );
    const namedAt = t0 + switchMs;
    const r: SwitchResult = {
      switchMs,
      pauseMs: writer.longestGap(t0, end),
      acked: writer.acked.length,
      lost: lost.length,
      oldAckedAfter: writer.acked.filter((a) => a.addr === old && a.t > namedAt).length,
      doneMs: end - t0,
    };
    progress(
      `    ${d.system}: switch ${fmt(r.switchMs)} ms, longest write pause ${fmt(r.pauseMs)} ms, acked ${r.acked}, lost ${r.lost} (old master acked ${r.oldAckedAfter} after the switch was named)`,
    );
    return r;
  } finally {
    await Promise.all([writer.stop(), ...pollers.map((p) => p.stop())]);
  }
}

function failoverRow(
  system: System,
  scenario: Scenario,
  downAfterMs: number,
  rs: FailoverResult[],
  failed: number,
): BenchRow {
  const f = summary(rs.map((r) => r.failoverMs));
  const target = downAfterMs + TARGET_MARGIN_MS;
  const med = (k: keyof FailoverResult) => summary(rs.map((r) => r[k])).median;
  return {
    system,
    scenario,
    down_after_ms: downAfterMs,
    config: configOf(system, downAfterMs),
    trials: rs.length,
    failed_trials: failed,
    failover_median_ms: f.median,
    failover_p90_ms: f.p90,
    failover_min_ms: f.min,
    failover_max_ms: f.max,
    target_ms: target,
    meets_target: f.median === null ? null : f.median <= target,
    first_named_median_ms: med('firstNamedMs'),
    writable_median_ms: med('writableMs'),
    writer_median_ms: med('writerMs'),
    acked: rs.reduce((a, r) => a + r.acked, 0),
    lost: rs.reduce((a, r) => a + r.lost, 0),
    lost_max: rs.length ? Math.max(...rs.map((r) => r.lost)) : null,
    elected_median_ms: med('electedMs'),
    detected_median_ms: med('detectedMs'),
    decided_median_ms: med('decidedMs'),
    committed_median_ms: med('committedMs'),
    sdown_median_ms: med('sdownMs'),
    odown_median_ms: med('odownMs'),
    promoted_median_ms: med('promotedMs'),
    switch_master_median_ms: med('switchMasterMs'),
    aborted_elections: rs.reduce((a, r) => a + r.aborts, 0),
  };
}

function switchRow(system: System, rs: SwitchResult[], failed: number): BenchRow {
  const s = summary(rs.map((r) => r.switchMs));
  const p = summary(rs.map((r) => r.pauseMs));
  return {
    system,
    scenario: 'switchover',
    down_after_ms: 1000,
    config: system === 'raftinel' ? `raftinel switchover, ${configOf(system, 1000)}` : 'SENTINEL FAILOVER',
    trials: rs.length,
    failed_trials: failed,
    switch_median_ms: s.median,
    switch_p90_ms: s.p90,
    pause_median_ms: p.median,
    pause_p90_ms: p.p90,
    pause_max_ms: p.max,
    acked: rs.reduce((a, r) => a + r.acked, 0),
    lost: rs.reduce((a, r) => a + r.lost, 0),
    trials_with_loss: rs.filter((r) => r.lost > 0).length,
    old_master_acked_after_switch: rs.reduce((a, r) => a + r.oldAckedAfter, 0),
    settle_median_ms: summary(rs.map((r) => r.doneMs)).median,
  };
}

/**
 * Optional filters for re-running a part: BENCH_FAILOVER=kill-300,host-1000,switchover (cases:
 * kill-1000, host-1000, kill-300, host-300, switchover) and BENCH_SYSTEMS=raftinel (or
 * redis-sentinel). Unset: everything.
 */
function selected(caseId: string): boolean {
  const f = process.env.BENCH_FAILOVER;
  return !f || f.split(',').some((x) => x.trim() === caseId);
}

function systems(): System[] {
  const f = process.env.BENCH_SYSTEMS;
  return f ? SYSTEMS.filter((s) => f.split(',').some((x) => x.trim() === s)) : SYSTEMS;
}

function caseId(scenario: Scenario, downAfterMs: number): string {
  return `${scenario === 'host loss' ? 'host' : 'kill'}-${downAfterMs}`;
}

/** Run `trial` on a fresh deployment; destroyed afterwards whatever happens. */
async function onFreshDeployment<T>(
  system: System,
  downAfterMs: number,
  trial: (d: Deployment) => Promise<T>,
): Promise<T> {
  try {
    const d = await deploy(system, downAfterMs);
    return await trial(d);
  } finally {
    await destroyAll();
  }
}

const failover: Benchmark = {
  name: 'failover',
  description:
    'kill -9 of the master and host loss at down_after 1000/300 ms, then switchover under load: ' +
    'raftinel vs redis-sentinel (3 sentinels, quorum 2), same Redis layout, fresh topology per trial',
  columns: [
    'system',
    'scenario',
    'down_after_ms',
    'trials',
    'failover_median_ms',
    'failover_p90_ms',
    'meets_target',
    'first_named_median_ms',
    'writable_median_ms',
    'writer_median_ms',
    'odown_median_ms',
    'promoted_median_ms',
    'switch_master_median_ms',
    'switch_median_ms',
    'pause_median_ms',
    'pause_max_ms',
    'acked',
    'lost',
    'foreign_cores',
    'loaded',
  ],
  async *run(opts: BenchOptions): AsyncIterable<BenchRow> {
    ensureBuilt(opts.progress);
    const n = trials(opts, 10, 2);
    let seq = 0;
    try {
      for (const downAfterMs of DOWN_AFTER_MS) {
        for (const scenario of SCENARIOS) {
          if (!selected(caseId(scenario, downAfterMs))) continue;
          opts.progress(`failover: ${scenario}, down_after ${downAfterMs} ms, ${n} trials per system`);
          const meter = treeMeter();
          const results = new Map<System, FailoverResult[]>(SYSTEMS.map((s) => [s, []]));
          const failed = new Map<System, number>(SYSTEMS.map((s) => [s, 0]));
          for (let i = 0; i < n; i++) {
            opts.progress(`  trial ${i + 1}/${n}`);
            for (const system of systems()) {
              try {
                const r = await onFreshDeployment(system, downAfterMs, (d) =>
                  failoverTrial(d, scenario, `w${seq++}`, opts.progress),
                );
                results.get(system)!.push(r);
              } catch (err) {
                failed.set(system, failed.get(system)! + 1);
                opts.progress(`    ${system}: trial failed: ${(err as Error).message.split('\n')[0]}`);
              }
            }
          }
          const load = meter();
          for (const system of systems())
            yield {
              ...failoverRow(system, scenario, downAfterMs, results.get(system)!, failed.get(system)!),
              ...load,
            };
        }
      }
      if (!selected('switchover')) return;
      opts.progress(`failover: switchover under load, down_after 1000 ms, ${n} trials per system`);
      const meter = treeMeter();
      const results = new Map<System, SwitchResult[]>(SYSTEMS.map((s) => [s, []]));
      const failed = new Map<System, number>(SYSTEMS.map((s) => [s, 0]));
      for (let i = 0; i < n; i++) {
        opts.progress(`  trial ${i + 1}/${n}`);
        for (const system of systems()) {
          try {
            const r = await onFreshDeployment(system, 1000, (d) =>
              switchoverTrial(d, `s${seq++}`, opts.progress),
            );
            results.get(system)!.push(r);
          } catch (err) {
            failed.set(system, failed.get(system)! + 1);
            opts.progress(`    ${system}: trial failed: ${(err as Error).message.split('\n')[0]}`);
          }
        }
      }
      const load = meter();
      for (const system of systems())
        yield { ...switchRow(system, results.get(system)!, failed.get(system)!), ...load };
    } finally {
      await destroyAll();
    }
  },
};

export default failover;

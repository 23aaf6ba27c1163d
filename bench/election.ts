/**
 * `npm run bench -- election`: how fast a real daemon group replaces a dead leader, and how many
 * proposals per second its leader commits when they arrive over gRPC.
 *
 * Election. A group of three real daemons (bin/raftinel through test/support/daemons.ts, no
 * Redis), for election_timeout_ms 1000 (the default, heartbeat 100) and 300 (heartbeat 50). Each
 * trial waits until the group is healthy (one leader that every member names, every member
 * acknowledged by the leader, the followers caught up), waits a random fraction of a heartbeat,
 * kills the leader with SIGKILL, and polls GET /v1/status (what `raftinel status` shows) on both
 * survivors every 5 ms until each names a new leader. Then the killed daemon restarts from its
 * data_dir and the group is healthy again before the next trial. Figures, from the kill:
 * - `first_*`: the first survivor's status names the new leader (the new leader itself, as a rule);
 * - `all_*`: both survivors' status name it (the follower hears of it with the first append);
 * - `elected_*`: the new leader's own "raft role changed" log line (its timestamp), for the
 *   breakdown: the rest is the time for status to show it.
 *
 * Proposals. On the same group (election_timeout_ms 1000), N concurrent closed loops send the
 * Cluster service's `member.info` call over gRPC to the leader (the call each daemon makes to
 * record its Sentinel and admin addresses), re-sending the leader's own current addresses: each
 * call is one Raft entry, appended, replicated to a majority with an fdatasync on each, committed,
 * applied, and answered. raftinel has no cheaper replicated write reachable from outside; this is
 * the floor under every admin change and failover decision.
 */
import { ClusterClient } from '../src/raft/grpc/cluster.js';
import { silentLogger } from '../src/util/log.js';
import { DaemonCluster, type DaemonStatus, waitFor } from '../test/support/daemons.js';
import { percentile, round } from './env.js';
import {
  destroyAll,
  encodeCommand,
  ensureBuilt,
  firstLogMs,
  logsSince,
  RespClient,
  sleep,
  summary,
  trackDir,
  treeMeter,
  trials,
} from './support.js';
import type { Benchmark, BenchOptions, BenchRow } from './types.js';

interface GroupTiming {
  heartbeatMs: number;
  electionTimeoutMs: number;
  leaseMs: number;
  downAfterMs: number;
}

/** The defaults, and docs/CONFIGURATION.md's "faster" settings. */
const CONFIGS: GroupTiming[] = [
  { heartbeatMs: 100, electionTimeoutMs: 1000, leaseMs: 2000, downAfterMs: 3000 },
  { heartbeatMs: 50, electionTimeoutMs: 300, leaseMs: 600, downAfterMs: 1000 },
];
const IDS = [1, 2, 3];
const POLL_MS = 5;
const PROPOSAL_CLIENTS = [1, 16, 64];

async function startGroup(t: GroupTiming): Promise<DaemonCluster> {
  const c = new DaemonCluster();
  trackDir(c.dir);
  await c.startGroup(IDS, {
    raftTiming: { heartbeatMs: t.heartbeatMs, electionTimeoutMs: t.electionTimeoutMs },
    failover: { downAfterMs: t.downAfterMs, leaseMs: t.leaseMs },
  });
  return c;
}

/** One leader named by all, every member acknowledged by it, followers caught up; returns it. */
async function healthy(c: DaemonCluster, t: GroupTiming): Promise<number> {
  return waitFor(
    async () => {
      const leader = await c.waitForLeader(IDS, { timeoutMs: 5000 });
      const ls = await c.status(leader);
      if (!ls.members.every((m) => m.reachable === true)) return null;
      for (const id of IDS) {
        if (id === leader) continue;
        const s = await c.status(id);
        if (s.leader !== leader || s.applied_index < ls.commit_index) return null;
      }
      return leader;
    },
    30_000 + 10 * t.electionTimeoutMs,
    { what: 'a healthy group (one leader, every member acknowledged and caught up)', intervalMs: 50 },
  );
}

/**
 * Polls GET /v1/status on one daemon every POLL_MS, without waiting for slow answers (at most 4
 * in flight): a follower's status asks the leader for its progress, which can take a while when
 * the leader it knows is dead. Records when an answer first named a leader other than `killed`.
 */
class StatusPoller {
  first: { leader: number; t: number } | null = null;
  answers = 0;
  private inflight = 0;
  private stopped = false;
  private readonly done: Promise<void>;

  constructor(
    private readonly adminAddr: string,
    private readonly killed: number,
    maxMs: number,
  ) {
    this.done = this.loop(performance.now() + maxMs);
  }

  private async loop(deadline: number): Promise<void> {
    while (!this.stopped && this.first === null && performance.now() < deadline) {
      if (this.inflight < 4) void this.poll();
      await sleep(POLL_MS);
    }
  }

  private async poll(): Promise<void> {
    this.inflight++;
    try {
      const res = await fetch(`http://${this.adminAddr}/v1/status`, { signal: AbortSignal.timeout(3000) });
      const s = (await res.json()) as DaemonStatus;
      const t = performance.now();
      this.answers++;
      if (this.first === null && s.leader !== null && s.leader !== this.killed)
        this.first = { leader: s.leader, t };
    } catch {
      // the next poll asks again
    } finally {
      this.inflight--;
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.done;
  }
}

interface Trial {
  firstMs: number | null;
  allMs: number | null;
  electedMs: number | null;
  agreed: boolean;
}

async function electionTrial(
  c: DaemonCluster,
  t: GroupTiming,
  progress: (m: string) => void,
): Promise<Trial> {
  const leader = await healthy(c, t);
  await sleep(Math.random() * t.heartbeatMs);
  const survivors = IDS.filter((id) => id !== leader);
  const maxMs = 20 * t.electionTimeoutMs + 10_000;
  const wall0 = Date.now();
  const t0 = performance.now();
  c.kill(leader, 'SIGKILL');
  const pollers = survivors.map((id) => new StatusPoller(c.node(id).adminAddr, leader, maxMs));
  try {
    await waitFor(() => pollers.every((p) => p.first !== null), maxMs, {
      what: 'both survivors to name a new leader',
      intervalMs: 5,
    });
  } finally {
    await Promise.all(pollers.map((p) => p.stop()));
  }
  const firsts = pollers.map((p) => p.first!);
  const newLeader = firsts[0]!.leader;
  const electedMs = firstLogMs([c.node(newLeader)], 'raft role changed', wall0, (l) => l.role === 'leader');
  if (process.env.BENCH_LOGS) {
    // BENCH_LOGS=1: the survivors' role changes, ms from the kill (pre-vote rounds, split votes).
    const lines = survivors
      .flatMap((id) =>
        logsSince(c.node(id), 'raft role changed', wall0).map(
          ({ line, t: at }) =>
            `${String(at - wall0).padStart(6)} ms  node ${id}  ${line.role} term ${line.term}`,
        ),
      )
      .sort();
    for (const l of lines) progress(`      ${l}`);
  }
  await c.node(leader).waitExit();
  return {
    firstMs: Math.min(...firsts.map((f) => f.t)) - t0,
    allMs: Math.max(...firsts.map((f) => f.t)) - t0,
    electedMs,
    agreed: firsts.every((f) => f.leader === newLeader),
  };
}

async function* elections(c: DaemonCluster, t: GroupTiming, n: number, opts: BenchOptions) {
  const meter = treeMeter();
  const results: Trial[] = [];
  let failed = 0;
  for (let i = 0; i < n; i++) {
    try {
      const r = await electionTrial(c, t, opts.progress);
      results.push(r);
      opts.progress(
        `  trial ${i + 1}/${n}: elected ${r.electedMs === null ? '-' : Math.round(r.electedMs)} ms, first status ${Math.round(r.firstMs ?? Number.NaN)} ms, both ${Math.round(r.allMs ?? Number.NaN)} ms${r.agreed ? '' : ' (survivors named different leaders)'}`,
      );
    } catch (err) {
      failed++;
      opts.progress(`  trial ${i + 1}/${n} failed: ${(err as Error).message.split('\n')[0]}`);
      if (failed > Math.max(2, n / 4)) throw err;
    } finally {
      // Bring the killed daemon back (from its data_dir) for the next trial.
      for (const id of IDS) if (!c.node(id).running) await c.node(id).start();
    }
  }
  const first = summary(results.map((r) => r.firstMs));
  const all = summary(results.map((r) => r.allMs));
  const elected = summary(results.map((r) => r.electedMs));
  const row: BenchRow = {
    system: 'raftinel',
    measure: 'election',
    heartbeat_ms: t.heartbeatMs,
    election_timeout_ms: t.electionTimeoutMs,
    trials: results.length,
    failed_trials: failed,
    elected_median_ms: elected.median,
    first_median_ms: first.median,
    first_p90_ms: first.p90,
    all_median_ms: all.median,
    all_p90_ms: all.p90,
    all_min_ms: all.min,
    all_max_ms: all.max,
    disagreed: results.filter((r) => !r.agreed).length,
    ...meter(),
  };
  yield row;
}

/** The leader's own member.info, as it recorded it (what reconcileMemberInfo sends). */
async function leaderInfo(c: DaemonCluster, leader: number) {
  const st = (await c.status(leader)) as DaemonStatus & { version?: string };
  const me = st.members.find((m) => m.id === leader);
  if (!me?.sentinel || !me.admin) throw new Error(`node ${leader} has not recorded its addresses yet`);
  const conn = await RespClient.connect(me.sentinel, 1000);
  let runId: string;
  try {
    const r = await conn.send(encodeCommand(['SENTINEL', 'MYID']), 1000);
    if (r.t !== 'bulk') throw new Error(`SENTINEL MYID answered ${r.t}`);
    runId = r.s;
  } finally {
    conn.close();
  }
  return {
    id: leader,
    sentinel: me.sentinel,
    admin: me.admin,
    version: (me as { version?: string | null }).version ?? st.version ?? 'unknown',
    runId,
  };
}

/** `clients` closed loops of member.info calls to the leader for `durationMs`. */
async function proposalLoop(
  client: ClusterClient,
  addr: string,
  body: unknown,
  clients: number,
  durationMs: number,
): Promise<{ latencies: number[]; errors: number; firstError: string | null; seconds: number }> {
  const latencies: number[] = [];
  let errors = 0;
  let firstError: string | null = null;
  const start = performance.now();
  const end = start + durationMs;
  const loop = async () => {
    while (performance.now() < end) {
      const t0 = performance.now();
      try {
        const r = await client.call(addr, 'member.info', body, { timeoutMs: 5000 });
        if (r.status !== 200) throw new Error(`status ${r.status}: ${JSON.stringify(r.body)}`);
        latencies.push(performance.now() - t0);
      } catch (err) {
        errors++;
        firstError ??= (err as Error).message;
        await sleep(5);
      }
    }
  };
  await Promise.all(Array.from({ length: clients }, loop));
  return {
    latencies: latencies.sort((a, b) => a - b),
    errors,
    firstError,
    seconds: (performance.now() - start) / 1000,
  };
}

/**
 * Proposal throughput at each number of clients, after a warm-up: a fresh daemon commits several
 * times fewer proposals per second in its first seconds of load (JIT warm-up, most likely), e.g.
 * 400/s, then 800/s, then 1,300/s in three consecutive 3-second rounds at 16 clients.
 */
async function* proposals(
  c: DaemonCluster,
  t: GroupTiming,
  durationMs: number,
  warmupMs: number,
  progress: (m: string) => void,
): AsyncGenerator<BenchRow> {
  const leader = await healthy(c, t);
  const body = await leaderInfo(c, leader);
  const addr = c.node(leader).raftAddr;
  const client = new ClusterClient({ logger: silentLogger });
  try {
    progress(`election: proposals over gRPC: warming up (16 clients, ${warmupMs} ms)`);
    await proposalLoop(client, addr, body, 16, warmupMs);
    for (const clients of PROPOSAL_CLIENTS) {
      progress(`election: proposals over gRPC, ${clients} clients, ${durationMs} ms`);
      const meter = treeMeter();
      const r = await proposalLoop(client, addr, body, clients, durationMs);
      yield {
        system: 'raftinel',
        measure: 'proposals',
        heartbeat_ms: t.heartbeatMs,
        election_timeout_ms: t.electionTimeoutMs,
        path: 'gRPC Cluster.Call member.info -> leader',
        clients,
        commits_per_s: round(r.latencies.length / r.seconds, 0),
        p50_ms: round(percentile(r.latencies, 50), 2),
        p99_ms: round(percentile(r.latencies, 99), 2),
        errors: r.errors,
        first_error: r.firstError,
        ...meter(),
      };
    }
  } finally {
    client.close();
  }
}

const election: Benchmark = {
  name: 'election',
  description:
    '3 real daemons: kill -9 of the leader until `raftinel status` on the survivors shows a new one ' +
    '(election_timeout_ms 1000 and 300, median/p90 of >= 20 trials); leader commits/s of gRPC proposals',
  columns: [
    'system',
    'measure',
    'election_timeout_ms',
    'heartbeat_ms',
    'trials',
    'elected_median_ms',
    'first_median_ms',
    'first_p90_ms',
    'all_median_ms',
    'all_p90_ms',
    'all_max_ms',
    'clients',
    'commits_per_s',
    'p50_ms',
    'p99_ms',
    'errors',
    'tree_cores',
    'foreign_cores',
    'loaded',
  ],
  async *run(opts: BenchOptions): AsyncIterable<BenchRow> {
    ensureBuilt(opts.progress);
    const n = trials(opts, 20, 5);
    const durationMs = opts.durationMs ?? (opts.quick ? 1000 : 5000);
    try {
      for (const t of CONFIGS) {
        opts.progress(
          `election: 3 daemons, election_timeout_ms ${t.electionTimeoutMs}, heartbeat_ms ${t.heartbeatMs}: ${n} trials`,
        );
        const c = await startGroup(t);
        try {
          yield* elections(c, t, n, opts);
          if (t.electionTimeoutMs === 1000)
            yield* proposals(c, t, durationMs, Math.max(3000, durationMs), opts.progress);
        } finally {
          await destroyAll();
        }
      }
    } finally {
      await destroyAll();
    }
  },
};

export default election;

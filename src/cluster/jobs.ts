/**
 * The job runner: on the leader, drives every unfinished job to a terminal state. Jobs live in the
 * replicated state, so when leadership moves the new leader's runner picks up where the old one
 * stopped; executors are written as idempotent steps that re-check the state before acting.
 *
 * Jobs of the same lane run one at a time, in creation order (membership changes share a lane:
 * Raft allows one uncommitted change at a time anyway).
 */
import type { RaftNode } from '../raft/node.js';
import { RaftError } from '../raft/types.js';
import type { Clock } from '../util/clock.js';
import type { Logger } from '../util/log.js';
import { encodeCommand } from './commands.js';
import type { JobKind, JobRecord, JobState } from './jobs-model.js';
import type { ApplyResult, ClusterState } from './state.js';

/** Thrown by an executor to fail its job with a reason operators read. */
export class JobFailed extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'JobFailed';
  }
}

/** Thrown when this daemon stopped leading: the job is left for the next leader. */
export class LostLeadership extends Error {
  constructor() {
    super('this daemon is no longer the leader');
    this.name = 'LostLeadership';
  }
}

export interface JobContext {
  readonly job: JobRecord;
  readonly raft: RaftNode;
  readonly state: ClusterState;
  readonly log: Logger;
  readonly clock: Clock;
  readonly electionTimeoutMs: number;
  /** Record progress (committed, visible in GET /v1/jobs/{id}). */
  step(step: string): Promise<void>;
  /** Throws LostLeadership if this daemon no longer leads. */
  assertLeader(): void;
  /**
   * The fencing check before a Redis action: this daemon leads in the job's term AND holds a
   * valid lease (a majority acknowledged it within lease time), so no other leader can have been
   * elected meanwhile. Waits up to `maxWaitMs` for the lease to come back; throws LostLeadership
   * if it does not (the job is then left to whichever leader holds one).
   */
  awaitLease(maxWaitMs: number): Promise<void>;
  sleep(ms: number): Promise<void>;
}

export interface JobOutcome {
  result?: unknown;
  reason?: string;
}

export type JobExecutor = (ctx: JobContext) => Promise<JobOutcome>;

/** Jobs of one lane run one at a time: membership changes share one; each shard has its own. */
export function laneOf(job: JobRecord): string {
  if (job.kind.startsWith('member.') || job.kind === 'leader.transfer') return 'membership';
  if (job.kind.startsWith('shard.')) return `shard:${String(job.params.shard)}`;
  return job.kind;
}

/** How often a leader that is not ready looks again for jobs to start (see recheckSoon). */
const NOT_READY_RECHECK_MS = 100;
/** Raft refusals that say the leader cannot commit for now, not that the job failed. */
const LEADER_BUSY: ReadonlySet<string> = new Set(['transfer_in_progress', 'leader_not_ready']);

/** Kinds limited by `failoverParallelism` across all shards. */
const FAILOVER_KINDS: ReadonlySet<JobKind> = new Set(['shard.failover', 'shard.switchover']);

/** Propose a cluster command and wait until it is applied; returns what apply returned. */
export async function proposeCommand(
  raft: RaftNode,
  cmd: Parameters<typeof encodeCommand>[0],
): Promise<ApplyResult> {
  const r = await raft.propose(encodeCommand(cmd));
  return r.result as ApplyResult;
}

export class JobRunner {
  private running = new Map<string, Promise<void>>();
  private busyLanes = new Set<string>();
  private stopped = false;
  private kickScheduled = false;
  private recheckScheduled = false;

  constructor(
    private readonly opts: {
      raft: RaftNode;
      state: ClusterState;
      clock: Clock;
      logger: Logger;
      electionTimeoutMs: number;
      executors: Partial<Record<JobKind, JobExecutor>>;
      /** Failovers and switchovers running at once, across shards (a host carrying several masters died). */
      failoverParallelism?: number;
    },
  ) {
    opts.state.onChange((c) => {
      if (c.type === 'job' || c.type === 'restored' || c.type === 'membership') this.kick();
    });
    opts.raft.on((e) => {
      if (e.type === 'role' || e.type === 'applied') this.kick();
    });
  }

  stop(): void {
    this.stopped = true;
  }

  /** Wait for the jobs this runner is executing (at shutdown). */
  async idle(): Promise<void> {
    await Promise.allSettled([...this.running.values()]);
  }

  /** Look for jobs to start; cheap, coalesced. */
  kick(): void {
    if (this.kickScheduled || this.stopped) return;
    this.kickScheduled = true;
    queueMicrotask(() => {
      this.kickScheduled = false;
      this.startReadyJobs();
    });
  }

  private isReadyLeader(): boolean {
    const s = this.opts.raft.status();
    return s.role === 'leader' && s.leaderReady && s.transferee === 0;
  }

  /**
   * Look again in a while: a leader that is not ready (its first entry not yet committed, or a
   * leadership transfer under way) may become ready with no event (the Raft node emits none when
   * a transfer is called off), and its active jobs must not wait for the next unrelated event.
   */
  private recheckSoon(): void {
    if (this.recheckScheduled || this.stopped) return;
    this.recheckScheduled = true;
    this.opts.clock.setTimeout(() => {
      this.recheckScheduled = false;
      this.kick();
    }, NOT_READY_RECHECK_MS);
  }

  private startReadyJobs(): void {
    if (this.stopped) return;
    if (!this.isReadyLeader()) {
      if (this.opts.raft.status().role === 'leader') this.recheckSoon();
      return;
    }
    const limit = this.opts.failoverParallelism ?? Number.POSITIVE_INFINITY;
    let failovers = [...this.running.keys()].filter((id) =>
      FAILOVER_KINDS.has(this.opts.state.job(id)?.kind as JobKind),
    ).length;
    for (const job of this.opts.state.activeJobs()) {
      if (this.running.has(job.id)) continue;
      const lane = laneOf(job);
      if (this.busyLanes.has(lane)) continue;
      if (FAILOVER_KINDS.has(job.kind)) {
        if (failovers >= limit) continue;
        failovers++;
      }
      this.busyLanes.add(lane);
      const p = this.run(job).finally(() => {
        this.running.delete(job.id);
        this.busyLanes.delete(lane);
        this.kick();
      });
      this.running.set(job.id, p);
    }
  }

  private async run(job: JobRecord): Promise<void> {
    const { raft, state, clock, logger } = this.opts;
    const term = raft.status().term;
    const log = logger.child({ job: job.id, kind: job.kind });
    const assertLeader = () => {
      const s = raft.status();
      if (this.stopped || s.role !== 'leader' || s.term !== term) throw new LostLeadership();
    };
    const awaitLease = async (maxWaitMs: number) => {
      const deadline = clock.nowMs() + maxWaitMs;
      for (;;) {
        assertLeader();
        const l = raft.lease();
        if (l.valid && l.term === term) return;
        if (clock.nowMs() >= deadline) {
          log.warn(
            { waited_ms: maxWaitMs },
            'no valid lease: not touching Redis, the job is left to a leader that holds one',
          );
          throw new LostLeadership();
        }
        await new Promise<void>((resolve) => clock.setTimeout(resolve, 10));
      }
    };
    const update = async (
      st: JobState,
      fields: { step?: string | null; reason?: string | null; result?: unknown },
    ) => {
      assertLeader();
      await proposeCommand(raft, { t: 'job.update', id: job.id, state: st, atMs: clock.wallMs(), ...fields });
    };
    const ctx: JobContext = {
      job,
      raft,
      state,
      log,
      clock,
      electionTimeoutMs: this.opts.electionTimeoutMs,
      step: (step) => {
        log.info({ step }, 'job step');
        return update('running', { step });
      },
      assertLeader,
      awaitLease,
      sleep: (ms) => new Promise((resolve) => clock.setTimeout(resolve, ms)),
    };
    const executor = this.opts.executors[job.kind];
    try {
      if (!executor) throw new JobFailed(`this daemon does not know how to run a ${job.kind} job`);
      if (job.state === 'pending') {
        log.info({ params: job.params }, 'job started');
        await update('running', { step: 'started' });
      } else {
        log.info({ step: job.step }, job.step === 'started' ? 'job started' : 'job resumed by this leader');
      }
      const outcome = await executor(ctx);
      await update('succeeded', {
        reason: outcome.reason ?? null,
        result: outcome.result ?? null,
        step: 'done',
      });
      log.info({ reason: outcome.reason }, 'job succeeded');
    } catch (err) {
      if (err instanceof LostLeadership || (err instanceof RaftError && err.code === 'not_leader')) {
        log.info('job left to the next leader');
        return;
      }
      if (err instanceof RaftError && LEADER_BUSY.has(err.code)) {
        // Not a failure of the job (its work may even be done): the leader could not commit for
        // now. The job stays active; this leader, once ready, or the next one resumes it.
        log.info({ code: err.code }, 'job paused: the leader cannot commit right now; resumed when it can');
        return;
      }
      const reason = err instanceof JobFailed ? err.message : `unexpected error: ${(err as Error).message}`;
      log.warn({ reason }, 'job failed');
      try {
        await update('failed', { reason });
      } catch (e) {
        log.warn({ err: e }, 'could not record job failure; the next leader will retry it');
      }
    }
  }
}

/** Retry `op` while it fails with one of the transient Raft refusals, until `deadlineMs`. */
export async function retryTransient<T>(
  ctx: JobContext,
  op: () => Promise<T>,
  opts: { deadlineMs: number; onWait?: (err: RaftError) => Promise<void> | void; what: string },
): Promise<T> {
  const transient = new Set([
    'config_change_pending',
    'leader_not_ready',
    'not_caught_up',
    'transfer_in_progress',
  ]);
  let last: RaftError | null = null;
  while (ctx.clock.nowMs() < opts.deadlineMs) {
    ctx.assertLeader();
    try {
      return await op();
    } catch (err) {
      if (!(err instanceof RaftError) || !transient.has(err.code)) throw err;
      last = err;
      await opts.onWait?.(err);
      await ctx.sleep(100);
    }
  }
  throw new JobFailed(`${opts.what}: gave up: ${last?.message ?? 'timed out'}`);
}

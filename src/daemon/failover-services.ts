/**
 * The failover side of a daemon, wired: the engine (probes, reports, decisions, failover jobs),
 * the fencer and the job runner, over the ports they need (Raft, the committed state, Redis, a
 * clock, a way to call the leader). The daemon builds it over gRPC and ioredis; the whole-system
 * simulation (test/sim/system.ts) builds the very same object over its virtual network, clock and
 * Redis model, so what the simulation checks is what the daemon runs.
 */
import { type JobExecutor, JobRunner, proposeCommand } from '../cluster/jobs.js';
import type { JobKind } from '../cluster/jobs-model.js';
import type { ClusterState } from '../cluster/state.js';
import type { FailoverConfig, RedisConfig } from '../config/types.js';
import { FailoverEngine } from '../failover/engine.js';
import { Fencer } from '../failover/fence.js';
import type { RedisAdapter } from '../failover/redis.js';
import type { RaftNode } from '../raft/node.js';
import type { NodeId } from '../raft/types.js';
import type { Clock } from '../util/clock.js';
import type { Logger } from '../util/log.js';

export interface FailoverServicesOptions {
  nodeId: NodeId;
  raft: RaftNode;
  state: ClusterState;
  adapter: RedisAdapter;
  clock: Clock;
  logger: Logger;
  electionTimeoutMs: number;
  defaults: FailoverConfig;
  redis: RedisConfig[];
  /** Send a cluster call to the current leader (rejects when there is none or it does not answer). */
  callLeader: (method: string, body: unknown) => Promise<unknown>;
  /** Called after every probe round, before fencing (Sentinel events from this daemon's view). */
  onRound?: () => void;
  /** Executors of the jobs that are not failovers (membership changes). */
  otherExecutors?: Partial<Record<JobKind, JobExecutor>>;
}

export class FailoverServices {
  readonly engine: FailoverEngine;
  readonly fencer: Fencer;
  readonly runner: JobRunner;

  constructor(private readonly o: FailoverServicesOptions) {
    const { raft } = o;
    this.engine = new FailoverEngine({
      nodeId: o.nodeId,
      raft,
      state: o.state,
      adapter: o.adapter,
      clock: o.clock,
      logger: o.logger.child({ component: 'failover' }),
      defaults: o.defaults,
      redis: o.redis,
      callLeader: o.callLeader,
      onRound: () => {
        o.onRound?.();
        this.fencer.round();
      },
      reachableMembers: () => this.reachableMembers(),
      electionTimeoutMs: o.electionTimeoutMs,
    });
    this.fencer = new Fencer({
      nodeId: o.nodeId,
      state: o.state,
      prober: this.engine.prober,
      adapter: o.adapter,
      clock: o.clock,
      logger: o.logger.child({ component: 'fence' }),
      lease: () => {
        const l = raft.lease();
        return { valid: raft.status().memberRole !== null && l.valid, remainingMs: l.remainingMs };
      },
      electionTimeoutMs: o.electionTimeoutMs,
      readBarrier: () => raft.readBarrier(2 * o.electionTimeoutMs),
      leader: () => {
        const st = raft.status();
        if (st.role !== 'leader' || !st.leaderReady) return null;
        return {
          members: new Set(st.membership.members.map((m) => m.id)),
          declaredDown: (shard, addr) => this.engine.declaredDown(shard, addr),
          proposeGuard: async (shard, replicas, reason) => {
            await proposeCommand(raft, {
              t: 'shard.guard',
              name: shard.name,
              epoch: shard.epoch,
              replicas,
              reason,
            });
          },
        };
      },
    });
    this.runner = new JobRunner({
      raft,
      state: o.state,
      clock: o.clock,
      logger: o.logger.child({ component: 'jobs' }),
      electionTimeoutMs: o.electionTimeoutMs,
      executors: { ...o.otherExecutors, ...this.engine.executors() },
      failoverParallelism: o.defaults.failoverParallelism,
    });
  }

  /** Start probing (the runner starts itself as leadership comes and goes). */
  start(): void {
    this.engine.start();
  }

  stop(): void {
    this.engine.stop();
    this.runner.stop();
  }

  /** Leader: members that acknowledged it within an election timeout (itself included). */
  reachableMembers(): NodeId[] {
    const st = this.o.raft.status();
    if (st.role !== 'leader') return [];
    const within = this.o.electionTimeoutMs;
    return [
      this.o.nodeId,
      ...st.progress
        .filter((p) => p.ticksSinceAck !== null && p.ticksSinceAck * this.o.raft.tickMs < within)
        .map((p) => p.id),
    ];
  }
}

/**
 * Fencing (promise 6): the daemon beside a master stops it from accepting writes when the daemon
 * has lost the group's majority for lease_ms, and lifts the fence only when the committed state,
 * read linearizably after contact is back, says the node is still the master.
 *
 * Mechanism: CLIENT PAUSE <2 × lease_ms> WRITE, re-issued while fenced. Writes block (clients time
 * out) instead of being accepted and later lost; reads go on. The pause is bounded, so if this
 * daemon dies while fencing, the Redis is not paused forever (that case is covered by the shard's
 * min-replicas-to-write, also managed here). See docs/ARCHITECTURE.md "Fencing".
 *
 * The same pause is kept on a node of this daemon that reports role:master while the committed
 * state names another master (an old master back in contact before the leader could demote it, or
 * restarted with its old role), until it reports role:slave.
 *
 * Timing: the fence engages lease_ms after this daemon last heard from the majority (its Raft
 * lease, which runs an election timeout past that contact, has lapsed by then since lease_ms >=
 * election_timeout_ms). The majority cannot find the master down before down_after_ms, and
 * lease_ms + election_timeout_ms <= down_after_ms leaves at least an election timeout between the
 * fence and any promotion.
 */
import type { Shard } from '../cluster/shards.js';
import type { ClusterState } from '../cluster/state.js';
import type { NodeId } from '../raft/types.js';
import type { Clock } from '../util/clock.js';
import type { Logger } from '../util/log.js';
import type { Prober } from './prober.js';
import type { RedisAdapter } from './redis.js';
import { refOf } from './refs.js';

const REDIS_TIMEOUT_MS = 1000;

export interface FenceOptions {
  nodeId: NodeId;
  state: ClusterState;
  prober: Prober;
  adapter: RedisAdapter;
  clock: Clock;
  logger: Logger;
  /**
   * This daemon's contact with the majority: whether its Raft lease is valid and how long it has
   * left. A lease runs for an election timeout after the last contact, so the contact itself was
   * `electionTimeoutMs - remainingMs` ago.
   */
  lease: () => { valid: boolean; remainingMs: number };
  electionTimeoutMs: number;
  /** A linearizable read point: resolves once the committed state is current here. */
  readBarrier: () => Promise<void>;
}

interface NodeFence {
  fenced: boolean;
  /** Last time the pause was (re)issued. */
  pausedAtMs: number;
  lifting: boolean;
}

export class Fencer {
  private lastMajorityMs: number;
  private nodes = new Map<string, NodeFence>();
  /** min-replicas settings applied per node, with the run id they were applied to. */
  private applied = new Map<string, string>();
  private busy = new Set<string>();

  constructor(private readonly o: FenceOptions) {
    this.lastMajorityMs = o.clock.nowMs();
  }

  /** Nodes fenced now (addresses). */
  fencedNodes(): string[] {
    return [...this.nodes.entries()].filter(([, f]) => f.fenced).map(([a]) => a);
  }

  isFenced(addr: string): boolean {
    return this.nodes.get(addr)?.fenced ?? false;
  }

  /** Called every probe round. */
  round(): void {
    const now = this.o.clock.nowMs();
    const lease = this.o.lease();
    const valid = lease.valid;
    // When the majority was last heard from (not when the lease lapsed: that is an election
    // timeout later), so the fence engages lease_ms after losing the majority, as promised.
    if (valid)
      this.lastMajorityMs = Math.max(
        this.lastMajorityMs,
        now - Math.max(0, this.o.electionTimeoutMs - lease.remainingMs),
      );
    for (const shard of this.o.state.shards.values()) {
      for (const n of shard.nodes) {
        if (n.owner !== this.o.nodeId) continue;
        this.guard(shard, n.addr, now, valid);
        this.manageMinReplicas(shard, n.addr);
      }
    }
  }

  private guard(shard: Shard, addr: string, now: number, valid: boolean): void {
    const f = this.nodes.get(addr) ?? { fenced: false, pausedAtMs: 0, lifting: false };
    this.nodes.set(addr, f);
    const view = this.o.prober.view(addr);
    const actsAsMaster = shard.master === addr || view?.info?.role === 'master';
    const lostForMs = now - this.lastMajorityMs;
    const leaseMs = shard.settings.leaseMs;
    if (!valid && lostForMs >= leaseMs && actsAsMaster) {
      if (!f.fenced || now - f.pausedAtMs >= leaseMs / 2) {
        if (!f.fenced) {
          this.o.logger.warn(
            { shard: shard.name, epoch: shard.epoch, node: addr, lost_for_ms: Math.round(lostForMs) },
            'fencing: this daemon lost the majority; pausing writes on its master',
          );
        }
        f.fenced = true;
        f.pausedAtMs = now;
        this.once(`pause:${addr}`, () =>
          this.o.adapter
            .pauseWrites(refOf(shardNode(shard, addr)), 2 * leaseMs, REDIS_TIMEOUT_MS)
            .catch((err: Error) =>
              this.o.logger.warn({ node: addr, err: err.message }, 'fencing: could not pause writes'),
            ),
        );
      }
      return;
    }
    if (valid && this.isStale(shard, addr)) {
      // Acts as a master although the committed state names another (an old master back from a
      // partition before the leader could demote it): keep its writes paused until it reports
      // role:slave, however long the leader takes to reach it. Confirmed after a read barrier, so
      // a lagging view of the log never pauses a freshly promoted master.
      if (!f.fenced || now - f.pausedAtMs >= leaseMs / 2) {
        this.once(`stale:${addr}`, async () => {
          try {
            await this.o.readBarrier();
            const current = this.o.state.shards.get(shard.name);
            if (!current || !this.isStale(current, addr)) return;
            if (!f.fenced) {
              this.o.logger.warn(
                { shard: shard.name, epoch: current.epoch, node: addr, master: current.master },
                'fencing: this node acts as a master but the committed master is another; pausing its writes until it is a replica',
              );
            }
            f.fenced = true;
            f.pausedAtMs = this.o.clock.nowMs();
            await this.o.adapter.pauseWrites(refOf(shardNode(current, addr)), 2 * leaseMs, REDIS_TIMEOUT_MS);
          } catch (err) {
            this.o.logger.info(
              { node: addr, err: (err as Error).message },
              'fencing: could not pause a stale master yet',
            );
          }
        });
      }
      return;
    }
    if (f.fenced && valid && !f.lifting) {
      f.lifting = true;
      // Lift only when the committed state, read now, says this node is still the master; if it
      // is not, the leader re-points it, and the pause can go once it is a replica.
      void this.o
        .readBarrier()
        .then(async () => {
          const current = this.o.state.shards.get(shard.name);
          const stillMaster = current?.master === addr;
          const role = this.o.prober.view(addr)?.info?.role;
          if (!stillMaster && role !== 'slave') return;
          await this.o.adapter.unpause(refOf(shardNode(current ?? shard, addr)), REDIS_TIMEOUT_MS);
          f.fenced = false;
          this.o.logger.warn(
            { shard: shard.name, epoch: current?.epoch, node: addr, still_master: stillMaster },
            'fencing lifted: majority contact is back and the committed state agrees',
          );
        })
        .catch((err: Error) =>
          this.o.logger.info({ node: addr, err: err.message }, 'fencing: not lifted yet'),
        )
        .finally(() => {
          f.lifting = false;
        });
    }
  }

  /**
   * `addr` reports role:master, but the committed master is another node and no failover to
   * `addr` is in progress (its target reports role:master before the promotion is committed).
   */
  private isStale(shard: Shard, addr: string): boolean {
    return (
      this.o.prober.view(addr)?.info?.role === 'master' &&
      shard.master !== null &&
      shard.master !== addr &&
      shard.pending?.to !== addr
    );
  }

  /** Keep min-replicas-to-write / min-replicas-max-lag on this daemon's nodes as the shard says. */
  private manageMinReplicas(shard: Shard, addr: string): void {
    const want = shard.settings.minReplicasToWrite;
    if (want <= 0) return;
    const runId = this.o.prober.view(addr)?.info?.runId;
    if (!runId) return;
    const key = `${want}/${shard.settings.minReplicasMaxLagSeconds}@${runId}`;
    if (this.applied.get(addr) === key) return;
    this.once(`cfg:${addr}`, () =>
      this.o.adapter
        .configSet(
          refOf(shardNode(shard, addr)),
          {
            'min-replicas-to-write': String(want),
            'min-replicas-max-lag': String(shard.settings.minReplicasMaxLagSeconds),
          },
          REDIS_TIMEOUT_MS,
        )
        .then(() => {
          this.applied.set(addr, key);
          this.o.logger.info(
            { shard: shard.name, node: addr, min_replicas_to_write: want },
            'min-replicas-to-write applied',
          );
        })
        .catch((err: Error) =>
          this.o.logger.warn({ node: addr, err: err.message }, 'could not apply min-replicas-to-write'),
        ),
    );
  }

  /** Run one async action per key at a time. */
  private once(key: string, f: () => Promise<unknown>): void {
    if (this.busy.has(key)) return;
    this.busy.add(key);
    void f().finally(() => this.busy.delete(key));
  }
}

function shardNode(shard: Shard, addr: string) {
  return (
    shard.nodes.find((n) => n.addr === addr) ?? {
      addr,
      owner: null,
      role: 'replica' as const,
      priority: 0,
      accessible: true,
    }
  );
}

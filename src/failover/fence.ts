/**
 * Fencing that fails closed (promise 6). See docs/ARCHITECTURE.md "Fencing".
 *
 * The lever is Redis's own `min-replicas-to-write` / `min-replicas-max-lag`, not CLIENT PAUSE:
 *
 * - **The write guard** (passive). Every committed master runs with `min-replicas-to-write` =
 *   the shard's committed `guardReplicas` (normally 1) and `min-replicas-max-lag` = the shard's
 *   setting (normally 2 s, at least GUARD_MAX_LAG_MIN_S), persisted with CONFIG REWRITE. A master
 *   cut off from its replicas refuses writes with `-NOREPLICAS` within max-lag + 2 s (whole-second
 *   ACK lag, good replicas re-counted once a second) on its own: no daemon needs to be
 *   alive, and a Redis restart keeps the setting. The leader commits `guardReplicas`: raised when
 *   it sees replicas attached, lowered only when a majority of voting daemons has declared replicas
 *   down (so a shard that lost its replicas keeps taking writes).
 * - **The fence** (active). A daemon that lost the group's majority for `lease_ms` sets
 *   `min-replicas-to-write` to FENCED_MIN_REPLICAS on the masters it sits beside: every write is
 *   refused at once (not queued), the setting outlives the daemon and (rewritten) a Redis restart.
 *   The same fence goes on a node that acts as a master while the committed state names another, or
 *   while a failover away from it is pending.
 * - **Lifting.** Only a daemon holding a valid lease lifts a fence, and only after a linearizable
 *   read (ReadIndex) of the committed state says the node is the master with no failover away from
 *   it pending, or that it is a replica now. The daemon beside the node does it; the leader does it
 *   for nodes whose daemon is not a member (SENTINEL MONITOR shards, removed members).
 *
 * CLIENT PAUSE stays the switchover's tool alone, so a switchover's UNPAUSE can no longer lift a
 * fence (Redis has one pause per server).
 *
 * Pure rules (`fenceDecision`, `guardTarget`) decide; the Fencer applies them with the injected
 * adapter, clock and lease.
 */

import { GUARD_MAX_LAG_MIN_S } from '../cluster/settings.js';
import type { Shard } from '../cluster/shards.js';
import type { ClusterState } from '../cluster/state.js';
import type { NodeId } from '../raft/types.js';
import type { Clock } from '../util/clock.js';
import type { Logger } from '../util/log.js';
import type { NodeView, Prober } from './prober.js';
import type { RedisAdapter } from './redis.js';
import { upstreamOf } from './redis.js';
import { refOf } from './refs.js';

const REDIS_TIMEOUT_MS = 1000;

/** `min-replicas-to-write` of a fenced node: more replicas than any shard has, so every write is refused. */
export const FENCED_MIN_REPLICAS = 1_000_000;
/** `min-replicas-max-lag` while fenced: Redis ignores min-replicas-to-write when the lag is 0. */
export const FENCE_MAX_LAG_S = 1;
/** INFO completed this long after a change of ours was sent after it (probe INFO times out sooner). */
const INFO_SETTLE_MS = 1000;
/** How often a node's write guard is re-applied even when nothing seems to have changed. */
const GUARD_REFRESH_MS = 10_000;

export type FenceWant =
  /** Refuse every write. `confirm`: only after a read barrier confirms the committed state. */
  | { kind: 'fence'; why: string; confirm: boolean }
  /** Run with the committed write guard (this lifts a fence): always after a read barrier. */
  | { kind: 'guard'; minReplicas: number }
  /** Change nothing (no contact with the majority yet, or nothing known of the node). */
  | { kind: 'keep' };

/**
 * What a node's write guard should be. Pure.
 * - Lost the majority for lease_ms and the node acts as a master: fence (only the daemon beside it
 *   decides this; `lostForMs` is null for anyone else).
 * - No valid lease: keep whatever is there (never lift without a lease).
 * - Reports role:master while the committed master is another, or while a failover (not a
 *   switchover) away from it is pending (its writes would be lost when the promotion completes):
 *   fence, once confirmed.
 * - Otherwise: the committed guard (the master's guardReplicas; a replica's value is irrelevant
 *   while it is a replica, and it gets 0 when promoted, so replicas are set to 0).
 */
export function fenceDecision(f: {
  shard: Shard;
  addr: string;
  role: 'master' | 'slave' | null;
  leaseValid: boolean;
  /** How long this daemon has been out of contact with the majority; null when not the owner. */
  lostForMs: number | null;
}): FenceWant {
  const { shard, addr, role } = f;
  const committedMaster = shard.master === addr;
  const actsAsMaster = committedMaster || role === 'master';
  if (!f.leaseValid) {
    if (f.lostForMs !== null && f.lostForMs >= shard.settings.leaseMs && actsAsMaster)
      return { kind: 'fence', why: 'this daemon lost the majority', confirm: false };
    return { kind: 'keep' };
  }
  if (role === null) return { kind: 'keep' };
  const target = shard.pending?.to === addr;
  if (role === 'master' && !target) {
    if (!committedMaster)
      return {
        kind: 'fence',
        why: `acts as a master but the committed master is ${shard.master ?? 'none'}`,
        confirm: true,
      };
    // A switchover keeps its own zero-loss protocol (pause, catch up, demote, then promote): the
    // writes it holds run only after the demotion, and fail with READONLY. Fencing it too would
    // turn its rollback into refused writes for nothing.
    if (shard.pending !== null && shard.pending.kind !== 'switchover')
      return {
        kind: 'fence',
        why: `a failover to ${shard.pending.to} (epoch ${shard.pending.epoch}) is pending`,
        confirm: true,
      };
  }
  if (role === 'master' && committedMaster) return { kind: 'guard', minReplicas: shard.guardReplicas };
  // A replica, or the target of a pending failover: unguarded until committed and raised.
  return { kind: 'guard', minReplicas: 0 };
}

/**
 * The write guard the leader wants for a shard's committed master, or null to leave it. Pure.
 * Raising needs only the leader's own view (the safe direction); lowering needs every replica it
 * no longer counts to be declared down by a majority of voting daemons.
 */
export function guardTarget(args: {
  shard: Shard;
  /** The leader's view of each node (undefined when it has none). */
  view: (addr: string) => Pick<NodeView, 'failing' | 'info'> | undefined;
  /** A majority of voting daemons saw `addr` fail for down_after_ms. */
  declaredDown: (addr: string) => boolean;
}): { replicas: number; reason: string } | null {
  const { shard } = args;
  if (!shard.master || shard.pending) return null;
  const want = Math.max(0, shard.settings.minReplicasToWrite);
  const others = shard.nodes.filter((n) => n.addr !== shard.master);
  const attached = others.filter((n) => {
    const v = args.view(n.addr);
    return (
      v &&
      !v.failing &&
      v.info?.role === 'slave' &&
      v.info.masterLinkUp &&
      upstreamOf(v.info) === shard.master
    );
  }).length;
  const notDown = others.filter((n) => !args.declaredDown(n.addr)).length;
  const current = shard.guardReplicas;
  const raiseTo = Math.min(want, attached);
  if (raiseTo > current) return { replicas: raiseTo, reason: `${attached} replica(s) attached` };
  const lowerTo = Math.min(want, notDown);
  if (lowerTo < current)
    return { replicas: lowerTo, reason: `${others.length - notDown} replica(s) declared down by a majority` };
  return null;
}

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
  /**
   * The leader's duties, when this daemon leads: guard the nodes whose daemon is not a member, and
   * commit each shard's guardReplicas. Null on a follower.
   */
  leader?: () => {
    members: ReadonlySet<NodeId>;
    declaredDown: (shard: Shard, addr: string) => boolean;
    proposeGuard: (shard: Shard, replicas: number, reason: string) => Promise<void>;
  } | null;
}

interface NodeGuard {
  /** The fence is on (as far as this daemon applied it). */
  fenced: boolean;
  /** What was last applied: `${minReplicas}/${maxLag}@${runId}`, and when. */
  applied: string | null;
  appliedAtMs: number;
}

export class Fencer {
  private lastMajorityMs: number;
  private nodes = new Map<string, NodeGuard>();
  private busy = new Set<string>();
  /** Counters for metrics and the simulation. */
  fences = 0;
  lifts = 0;

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
    // When the majority was last heard from (not when the lease lapsed: that is an election
    // timeout later), so the fence engages lease_ms after losing the majority, as promised.
    if (lease.valid)
      this.lastMajorityMs = Math.max(
        this.lastMajorityMs,
        now - Math.max(0, this.o.electionTimeoutMs - lease.remainingMs),
      );
    const leader = lease.valid ? (this.o.leader?.() ?? null) : null;
    for (const shard of this.o.state.shards.values()) {
      for (const n of shard.nodes) {
        const own = n.owner === this.o.nodeId;
        const orphan = leader !== null && (n.owner === null || !leader.members.has(n.owner));
        if (!own && !orphan) continue;
        this.guardNode(shard, n.addr, lease.valid, own ? now - this.lastMajorityMs : null);
      }
      if (leader) this.manageGuard(shard, leader);
    }
  }

  private decide(shard: Shard, addr: string, leaseValid: boolean, lostForMs: number | null): FenceWant {
    return fenceDecision({
      shard,
      addr,
      role: this.o.prober.view(addr)?.info?.role ?? null,
      leaseValid,
      lostForMs,
    });
  }

  private guardNode(shard: Shard, addr: string, leaseValid: boolean, lostForMs: number | null): void {
    const want = this.decide(shard, addr, leaseValid, lostForMs);
    if (want.kind === 'keep') return;
    const g = this.entry(addr);
    const value = want.kind === 'fence' ? FENCED_MIN_REPLICAS : want.minReplicas;
    const lag =
      want.kind === 'fence'
        ? FENCE_MAX_LAG_S
        : Math.max(GUARD_MAX_LAG_MIN_S, shard.settings.minReplicasMaxLagSeconds);
    if (!this.needsApply(g, value, lag, this.o.prober.view(addr))) return;
    if (want.kind === 'fence' && !want.confirm) {
      this.once(addr, () => this.apply(shard, addr, value, lag, want.why));
      return;
    }
    // Confirmed against the committed state as it is now: a lagging view of the log neither
    // fences a freshly promoted master nor lifts the fence of one that is being failed away from.
    this.once(addr, async () => {
      await this.o.readBarrier();
      const current = this.o.state.shards.get(shard.name);
      if (!current) return;
      const lease = this.o.lease();
      const again = this.decide(current, addr, lease.valid, lostForMs === null ? null : 0);
      if (again.kind === 'keep') return;
      const v = again.kind === 'fence' ? FENCED_MIN_REPLICAS : again.minReplicas;
      if (v !== FENCED_MIN_REPLICAS && g.fenced) {
        // Invariant: a fence is lifted only under a valid lease, after the barrier.
        if (!lease.valid) throw new Error(`fence of ${addr} would be lifted without a valid lease`);
      }
      const l =
        again.kind === 'fence'
          ? FENCE_MAX_LAG_S
          : Math.max(GUARD_MAX_LAG_MIN_S, current.settings.minReplicasMaxLagSeconds);
      await this.apply(current, addr, v, l, again.kind === 'fence' ? again.why : 'committed write guard');
    });
  }

  /** Is (value, lag) not yet in effect on the node as far as we know? */
  private needsApply(g: NodeGuard, value: number, lag: number, view: NodeView | undefined): boolean {
    const info = view?.info;
    if (!view || !info?.runId) return false;
    const key = `${value}/${lag}@${info.runId}`;
    if (g.applied !== key) return true;
    // INFO shows min_slaves_good_slaves only while min-replicas-to-write is on: catch a reset
    // (a promotion's REPLICAOF NO ONE sets it to 0, or an operator's CONFIG SET), judged only on
    // INFO that was surely sent after our own change (one in flight then has timed out since).
    if (view.infoAtMs - g.appliedAtMs > INFO_SETTLE_MS && info.role === 'master') {
      if (info.minSlavesGoodSlaves === null && value > 0) return true;
      if (info.minSlavesGoodSlaves !== null && value === 0) return true;
    }
    return this.o.clock.nowMs() - g.appliedAtMs >= GUARD_REFRESH_MS;
  }

  private async apply(shard: Shard, addr: string, value: number, lag: number, why: string): Promise<void> {
    const g = this.entry(addr);
    const node = shard.nodes.find((n) => n.addr === addr);
    if (!node) return;
    const info = this.o.prober.view(addr)?.info ?? null;
    const fence = value === FENCED_MIN_REPLICAS;
    // Order matters while the pair changes: the lag is raised first and lowered last, so the node
    // never runs with min-replicas-to-write and a lag of 0 (which Redis treats as off).
    const params: [string, string][] = [
      ['min-replicas-max-lag', String(lag)],
      ['min-replicas-to-write', String(value)],
    ];
    try {
      await this.o.adapter.configSet(refOf(node), params, REDIS_TIMEOUT_MS, {
        rewrite: info !== null && info.configFile !== '',
      });
    } catch (err) {
      this.o.logger.warn(
        { shard: shard.name, node: addr, err: (err as Error).message },
        fence ? 'fencing: could not fence the node' : 'fencing: could not apply the write guard',
      );
      return;
    }
    g.applied = info?.runId ? `${value}/${lag}@${info.runId}` : null;
    g.appliedAtMs = this.o.clock.nowMs();
    if (fence && !g.fenced) {
      this.fences++;
      this.o.logger.warn(
        { shard: shard.name, epoch: shard.epoch, node: addr, why },
        'fencing: the node refuses writes (min-replicas-to-write)',
      );
    } else if (!fence && g.fenced) {
      this.lifts++;
      this.o.logger.warn(
        {
          shard: shard.name,
          epoch: shard.epoch,
          node: addr,
          master: shard.master,
          min_replicas_to_write: value,
        },
        'fencing lifted: the committed state, read under a valid lease, agrees',
      );
    }
    g.fenced = fence;
  }

  /** Leader: commit the write guard each committed master should run with. */
  private manageGuard(
    shard: Shard,
    leader: NonNullable<ReturnType<NonNullable<FenceOptions['leader']>>>,
  ): void {
    const t = guardTarget({
      shard,
      view: (a) => this.o.prober.view(a),
      declaredDown: (a) => leader.declaredDown(shard, a),
    });
    if (!t) return;
    this.once(`guard:${shard.name}`, async () => {
      await leader.proposeGuard(shard, t.replicas, t.reason);
      this.o.logger.info(
        { shard: shard.name, epoch: shard.epoch, min_replicas_to_write: t.replicas, reason: t.reason },
        'write guard changed',
      );
    });
  }

  private entry(addr: string): NodeGuard {
    let g = this.nodes.get(addr);
    if (!g) {
      g = { fenced: false, applied: null, appliedAtMs: Number.NEGATIVE_INFINITY };
      this.nodes.set(addr, g);
    }
    return g;
  }

  /** Run one async action per key at a time. */
  private once(key: string, f: () => Promise<unknown>): void {
    if (this.busy.has(key)) return;
    this.busy.add(key);
    void f()
      .catch((err: Error) => this.o.logger.info({ key, err: err.message }, 'fencing: not applied yet'))
      .finally(() => this.busy.delete(key));
  }
}

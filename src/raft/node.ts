/**
 * RaftNode drives a RaftCore: it ticks it from an injected clock, feeds it messages from the
 * transport, persists each Ready through storage before sending its messages, applies committed
 * entries to the state machine, takes snapshots, and turns proposals and reads into promises.
 *
 * It is the same code in the daemon (real clock, gRPC, files) and in the simulation (virtual
 * clock, simulated network and disk): everything non-deterministic is injected.
 */
import type { Clock, TimerHandle } from '../util/clock.js';
import type { Logger } from '../util/log.js';
import type { Random } from '../util/random.js';
import { assert } from './assert.js';
import { type CoreStatus, type LeaseStatus, RaftCore, type RaftCoreConfig } from './core.js';
import { decodeConfigRecord } from './membership.js';
import type { RaftStorage, RecoveredState } from './storage/types.js';
import type { RaftTransport } from './transport.js';
import {
  type ConfigChange,
  type Entry,
  type HardState,
  type Membership,
  type Message,
  NO_NODE,
  type NodeId,
  RaftError,
  type Ready,
  type Snapshot,
  type SnapshotMeta,
  type SoftState,
} from './types.js';

/** The application state replicated by the log. */
export interface StateMachine {
  /** Apply one committed entry (normal, noop or config, in log order). Returns the result for the proposer. */
  apply(entry: Entry): unknown;
  /** Serialize the state as of the last applied entry. */
  snapshot(): Uint8Array;
  /** Replace the state with a snapshot's. */
  restore(data: Uint8Array, meta: SnapshotMeta): void;
}

export interface RaftNodeOptions {
  core: Omit<RaftCoreConfig, 'electionTicks' | 'heartbeatTicks'>;
  heartbeatMs: number;
  electionTimeoutMs: number;
  clock: Clock;
  random: Random;
  transport: RaftTransport;
  storage: RaftStorage;
  stateMachine: StateMachine;
  recovered: RecoveredState;
  logger: Logger;
  /** Take a snapshot after this many entries were applied since the last one. */
  snapshotEveryEntries?: number;
  /** Entries kept in the log behind a snapshot, so slightly lagging followers need no snapshot. */
  snapshotTrailingEntries?: number;
  /**
   * How long a proposal may stay uncommitted before it is rejected ('proposal_timeout', outcome
   * unknown). Default: two election timeouts, the time a healthy group needs to elect a new leader
   * and commit.
   */
  proposalTimeoutMs?: number;
}

export interface ProposeResult {
  index: number;
  term: number;
  /** What the state machine's apply returned. */
  result: unknown;
}

type Pending = {
  term: number;
  resolve: (r: ProposeResult) => void;
  reject: (e: Error) => void;
  timer: TimerHandle;
};

/** A read barrier: waiting for its read index (waitIndex null), then for that index to be applied. */
type PendingRead = {
  waitIndex: number | null;
  resolve: () => void;
  reject: (e: Error) => void;
  timer: TimerHandle;
};

export type RaftNodeEvent =
  | { type: 'role'; state: SoftState }
  | { type: 'membership'; membership: Membership }
  | { type: 'applied'; index: number }
  | { type: 'snapshot'; kind: 'taken' | 'installed'; index: number }
  | { type: 'fatal'; error: Error };

/**
 * Ticks per timeout: the tick is the heartbeat interval, or a 40th of the election timeout if
 * smaller, so the randomized election timeout ([E, 1.5 E) ticks) has about 20 distinct values.
 */
export function tickPlan(heartbeatMs: number, electionTimeoutMs: number) {
  const tickMs = Math.max(1, Math.min(heartbeatMs, Math.floor(electionTimeoutMs / 40)));
  const heartbeatTicks = Math.max(1, Math.round(heartbeatMs / tickMs));
  const electionTicks = Math.max(heartbeatTicks + 1, Math.round(electionTimeoutMs / tickMs));
  return { tickMs, heartbeatTicks, electionTicks };
}

export class RaftNode {
  readonly id: NodeId;
  readonly tickMs: number;
  private readonly core: RaftCore;
  private readonly clock: Clock;
  private readonly transport: RaftTransport;
  private readonly storage: RaftStorage;
  private readonly sm: StateMachine;
  private readonly log: Logger;
  private readonly snapshotEvery: number;
  private readonly snapshotTrailing: number;

  private timer: TimerHandle | null = null;
  private ticksDone = 0;
  private startedAtMs = 0;
  private busy = false;
  private pumping = false;
  private stopped = false;
  private fatalError: Error | null = null;
  private lastSnapshotIndex: number;
  private appliedIndex: number;
  private lastMembershipJson = '';
  /** Term and vote last handed to storage (the commit index is persisted lazily). */
  private durableHardState: HardState;

  private proposals = new Map<number, Pending>();
  private readonly proposalTimeoutMs: number;
  /**
   * Read contexts are `id:incarnation:counter`. The incarnation is random (from the injected
   * source) so that an answer meant for a read of an earlier run of this member, still in flight
   * when it restarted, can never be taken for the answer to a read of this run.
   */
  private readonly readIncarnation: string;
  private readCounter = 0;
  private reads = new Map<string, PendingRead>();
  private listeners: ((e: RaftNodeEvent) => void)[] = [];

  constructor(opts: RaftNodeOptions) {
    const plan = tickPlan(opts.heartbeatMs, opts.electionTimeoutMs);
    this.id = opts.core.id;
    this.tickMs = plan.tickMs;
    this.clock = opts.clock;
    this.transport = opts.transport;
    this.storage = opts.storage;
    this.sm = opts.stateMachine;
    this.log = opts.logger;
    this.snapshotEvery = opts.snapshotEveryEntries ?? 10_000;
    this.snapshotTrailing = opts.snapshotTrailingEntries ?? 1_000;
    this.proposalTimeoutMs = opts.proposalTimeoutMs ?? 2 * opts.electionTimeoutMs;
    if (!(this.proposalTimeoutMs > 0)) throw new RangeError('proposalTimeoutMs must be positive');
    this.readIncarnation =
      opts.random.int(0x7fffffff).toString(36) + opts.random.int(0x7fffffff).toString(36);
    this.core = new RaftCore(
      { ...opts.core, electionTicks: plan.electionTicks, heartbeatTicks: plan.heartbeatTicks },
      opts.random,
      opts.recovered,
    );
    const snap = opts.recovered.snapshot;
    this.durableHardState = { ...opts.recovered.hardState };
    this.lastSnapshotIndex = snap?.meta.index ?? 0;
    this.appliedIndex = snap?.meta.index ?? 0;
    if (snap) this.sm.restore(snap.data, snap.meta);
    this.transport.onMessage((m) => this.receive(m));
    this.publishMembership();
  }

  /** Start ticking. */
  start(): void {
    if (this.timer || this.stopped) return;
    this.startedAtMs = this.clock.nowMs();
    this.ticksDone = 0;
    this.scheduleTick();
    this.pump();
  }

  /** Stop ticking and fail everything pending. Storage and transport are closed by their owner. */
  stop(reason = 'raft node stopped'): void {
    if (this.stopped) return;
    this.stopped = true;
    this.timer?.cancel();
    this.timer = null;
    this.failAll(new RaftError('removed', reason));
  }

  on(listener: (e: RaftNodeEvent) => void): () => void {
    this.listeners.push(listener);
    return () => {
      this.listeners = this.listeners.filter((l) => l !== listener);
    };
  }

  // -------------------------------------------------------------------------------------------
  // Requests

  /** Propose an application entry; resolves once it is committed and applied here. */
  propose(data: Uint8Array): Promise<ProposeResult> {
    return this.track(() => this.core.propose(data));
  }

  proposeConfigChange(change: ConfigChange): Promise<ProposeResult> {
    return this.track(() => this.core.proposeConfigChange(change));
  }

  /** Resolves once this member has applied everything committed before the call (linearizable read point). */
  readBarrier(timeoutMs = 5000): Promise<void> {
    if (this.fatalError) return Promise.reject(this.fatalError);
    if (this.stopped) return Promise.reject(new RaftError('removed', 'raft node stopped'));
    const ctx = `${this.id}:${this.readIncarnation}:${++this.readCounter}`;
    const p = new Promise<void>((resolve, reject) => {
      // A read_index or its answer may be lost, or the read index may never be applied here
      // (cut off from the leader): the bound covers both, so a read always settles.
      const timer = this.clock.setTimeout(() => {
        const r = this.reads.get(ctx);
        if (!r) return;
        this.reads.delete(ctx);
        reject(
          r.waitIndex === null
            ? new RaftError(
                'not_leader',
                `read index not confirmed within ${timeoutMs} ms`,
                this.core.status().leader,
              )
            : new RaftError(
                'proposal_timeout',
                `read index ${r.waitIndex} confirmed but not applied here within ${timeoutMs} ms (applied ${this.appliedIndex})`,
                this.core.status().leader,
              ),
        );
      }, timeoutMs);
      this.reads.set(ctx, { waitIndex: null, resolve, reject, timer });
    });
    this.core.readIndex(ctx);
    this.pump();
    return p;
  }

  transferLeadership(to: NodeId): void {
    this.core.transferLeadership(to);
    this.pump();
  }

  abortTransfer(): void {
    this.core.abortTransfer();
  }

  /** Start an election now (used right after bootstrapping a one-member group). */
  campaign(): void {
    this.core.campaign();
    this.pump();
  }

  status(): CoreStatus {
    return this.core.status();
  }

  /**
   * The lease, in milliseconds, as of the clock's now. The core counts in ticks, and the tick
   * timer may be late (a stalled event loop, a stopped process): the core's tick N stands for
   * the moment startedAt + N × tickMs, so whatever time passed since that moment is taken off.
   * Anything that runs before the timer catches up therefore never sees a lease that has in fact
   * run out.
   */
  lease(): LeaseStatus & { remainingMs: number } {
    const l = this.core.lease();
    if (this.timer === null || this.stopped) return { ...l, valid: false, remainingTicks: 0, remainingMs: 0 };
    const lastTickAtMs = this.startedAtMs + this.ticksDone * this.tickMs;
    const lateMs = Math.max(0, this.clock.nowMs() - lastTickAtMs);
    const remainingMs = Math.max(0, l.remainingTicks * this.tickMs - lateMs);
    const valid = l.valid && remainingMs > 0;
    return {
      ...l,
      valid,
      remainingTicks: valid ? Math.ceil(remainingMs / this.tickMs) : 0,
      remainingMs: valid ? remainingMs : 0,
    };
  }

  /** The term of the entry at `index` in this member's log (undefined if compacted or absent). */
  termAt(index: number): number | undefined {
    return this.core.termAt(index);
  }

  get applied(): number {
    return this.appliedIndex;
  }

  get failed(): Error | null {
    return this.fatalError;
  }

  /** Deliver an inbound message (the transport calls this). */
  receive(m: Message): void {
    if (this.stopped) return;
    try {
      this.core.step(m);
    } catch (err) {
      this.fatal(err as Error);
      return;
    }
    this.pump();
  }

  // -------------------------------------------------------------------------------------------

  private track(op: () => { index: number; term: number }): Promise<ProposeResult> {
    if (this.fatalError) return Promise.reject(this.fatalError);
    if (this.stopped) return Promise.reject(new RaftError('removed', 'raft node stopped'));
    let placed: { index: number; term: number };
    try {
      placed = op();
    } catch (err) {
      return Promise.reject(err);
    }
    const older = this.proposals.get(placed.index);
    if (older) {
      // A proposal of an earlier term at this index: its entry was overwritten by ours.
      assert(older.term < placed.term, `two proposals at index ${placed.index} in term ${placed.term}`);
      this.settleProposal(placed.index, older, (p) =>
        p.reject(
          new RaftError(
            'not_leader',
            `entry ${placed.index} of term ${older.term} was overwritten by term ${placed.term}; proposal lost`,
          ),
        ),
      );
    }
    const p = new Promise<ProposeResult>((resolve, reject) => {
      const { index, term } = placed;
      const timer = this.clock.setTimeout(() => {
        const pending = this.proposals.get(index);
        if (pending?.term !== term) return;
        this.settleProposal(index, pending, (x) =>
          x.reject(
            new RaftError(
              'proposal_timeout',
              `entry ${index} (term ${term}) was not committed within ${this.proposalTimeoutMs} ms; it may still commit: outcome unknown`,
              this.core.status().leader,
            ),
          ),
        );
      }, this.proposalTimeoutMs);
      this.proposals.set(index, { term, resolve, reject, timer });
    });
    this.pump();
    return p;
  }

  private settleProposal(index: number, p: Pending, settle: (p: Pending) => void): void {
    assert(this.proposals.get(index) === p, `proposal at ${index} is not the pending one`);
    this.proposals.delete(index);
    p.timer.cancel();
    settle(p);
  }

  /**
   * Leadership lost or a new term: proposals of an earlier term, or of any term once this member
   * no longer leads, will not be answered by this member's leadership. Their entries may still be
   * committed by the next leader, so the outcome is unknown; the client must not wait for good.
   */
  private failStaleProposals(state: SoftState): void {
    for (const [index, p] of [...this.proposals]) {
      if (state.role === 'leader' && p.term === state.term) continue;
      this.settleProposal(index, p, (x) =>
        x.reject(
          new RaftError(
            'not_leader',
            `leadership of term ${p.term} lost (now ${state.role} in term ${state.term}) while entry ${index} was pending; it may still commit: outcome unknown`,
            state.leader,
          ),
        ),
      );
    }
  }

  private scheduleTick(): void {
    const dueAt = this.startedAtMs + (this.ticksDone + 1) * this.tickMs;
    this.timer = this.clock.setTimeout(() => this.onTimer(), Math.max(0, dueAt - this.clock.nowMs()));
  }

  private onTimer(): void {
    if (this.stopped) return;
    // Catch up on ticks missed while the event loop was stalled, so the leader lease and
    // check-quorum count real time (capped, so a long stall is not replayed tick by tick).
    const due = Math.floor((this.clock.nowMs() - this.startedAtMs) / this.tickMs);
    let n = Math.min(Math.max(1, due - this.ticksDone), 1000);
    if (due - this.ticksDone > 1000) this.ticksDone = due - 1000;
    try {
      while (n-- > 0) {
        this.core.tick();
        this.ticksDone++;
      }
    } catch (err) {
      this.fatal(err as Error);
      return;
    }
    this.scheduleTick();
    this.pump();
  }

  /** Process Readies until there is nothing to do or a storage write is in flight. */
  private pump(): void {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (!this.busy && !this.stopped && this.core.hasReady()) {
        const rd = this.core.ready();
        // A Ready whose only change is the commit index need not be made durable: the commit
        // index is re-learned from the leader after a restart (etcd skips that sync too). It is
        // written with the next batch that must be synced.
        const hs = rd.hardState;
        const mustSync =
          rd.entries.length > 0 ||
          rd.snapshot !== null ||
          (hs !== null && (hs.term !== this.durableHardState.term || hs.vote !== this.durableHardState.vote));
        if (mustSync) {
          this.busy = true;
          let sync = true;
          let done = false;
          if (hs) this.durableHardState = hs;
          this.storage.persist({ hardState: hs, entries: rd.entries, snapshot: rd.snapshot }, (err) => {
            if (err) return this.fatal(err);
            done = true;
            if (sync) return; // completed synchronously: handled below, in this loop
            this.busy = false;
            this.afterPersist(rd);
            this.pump();
          });
          sync = false;
          if (!done) return;
          this.busy = false;
        }
        this.afterPersist(rd);
      }
    } catch (err) {
      this.fatal(err as Error);
    } finally {
      this.pumping = false;
    }
  }

  private afterPersist(rd: Ready): void {
    if (this.stopped) return;
    for (const m of rd.messages) this.transport.send(m);
    if (rd.snapshot) {
      this.sm.restore(rd.snapshot.data, rd.snapshot.meta);
      this.appliedIndex = rd.snapshot.meta.index;
      this.lastSnapshotIndex = rd.snapshot.meta.index;
      this.emit({ type: 'snapshot', kind: 'installed', index: rd.snapshot.meta.index });
      // Proposals at or below the snapshot are settled by it, but we cannot tell their outcome.
      for (const [index, p] of [...this.proposals]) {
        if (index <= rd.snapshot.meta.index) {
          this.settleProposal(index, p, (x) =>
            x.reject(new RaftError('not_leader', 'outcome unknown: replaced by a snapshot from the leader')),
          );
        }
      }
    }
    for (const e of rd.committed) this.applyEntry(e);
    for (const rs of rd.readStates) {
      const r = this.reads.get(rs.ctx);
      if (!r || r.waitIndex !== null) continue;
      if (rs.index < 0) {
        this.reads.delete(rs.ctx);
        r.timer.cancel();
        r.reject(
          new RaftError(
            'not_leader',
            'read index not confirmed: no leader with a quorum',
            this.core.status().leader,
          ),
        );
      } else r.waitIndex = rs.index;
    }
    this.core.advance(rd);
    if (rd.softState) {
      this.failStaleProposals(rd.softState);
      this.emit({ type: 'role', state: rd.softState });
    }
    this.flushReadWaiters();
    if (rd.committed.length > 0 || rd.snapshot) this.emit({ type: 'applied', index: this.appliedIndex });
    if (
      rd.snapshot ||
      rd.committed.some((e) => e.type === 'config') ||
      rd.entries.some((e) => e.type === 'config')
    ) {
      this.publishMembership();
    }
    this.maybeSnapshot();
  }

  private applyEntry(e: Entry): void {
    let result: unknown;
    try {
      result = this.sm.apply(e);
    } catch (err) {
      // A deterministic state machine failing is a bug; every member would fail the same way.
      this.log.error({ err, index: e.index }, 'state machine failed to apply an entry');
      result = err;
    }
    this.appliedIndex = e.index;
    const p = this.proposals.get(e.index);
    if (p) {
      this.settleProposal(e.index, p, (x) => {
        if (x.term === e.term) x.resolve({ index: e.index, term: e.term, result });
        else
          x.reject(
            new RaftError(
              'not_leader',
              `entry ${e.index} was replaced by another leader's entry; proposal lost`,
            ),
          );
      });
    }
  }

  /** Resolve the reads whose read index is now applied. */
  private flushReadWaiters(): void {
    for (const [ctx, r] of [...this.reads]) {
      if (r.waitIndex === null || this.appliedIndex < r.waitIndex) continue;
      this.reads.delete(ctx);
      r.timer.cancel();
      r.resolve();
    }
  }

  private maybeSnapshot(): void {
    if (this.busy || this.stopped) return;
    if (this.appliedIndex - this.lastSnapshotIndex < this.snapshotEvery) return;
    const meta = this.core.snapshotMetaAt(this.appliedIndex);
    if (!meta) return; // a newer snapshot from the leader is being installed
    const snap: Snapshot = { meta, data: this.sm.snapshot() };
    this.busy = true;
    this.lastSnapshotIndex = meta.index;
    this.storage.saveSnapshot(snap, (err) => {
      if (err) return this.fatal(err);
      this.busy = false;
      if (this.stopped) return;
      this.core.compact(snap, meta.index - this.snapshotTrailing);
      this.emit({ type: 'snapshot', kind: 'taken', index: meta.index });
      this.pump();
    });
  }

  private publishMembership(): void {
    const m = this.core.status().membership;
    const json = JSON.stringify(m);
    if (json === this.lastMembershipJson) return;
    this.lastMembershipJson = json;
    const peers = new Map<NodeId, string>();
    for (const member of m.members) if (member.id !== this.id) peers.set(member.id, member.addr);
    this.transport.setPeers(peers);
    this.emit({ type: 'membership', membership: m });
  }

  private fatal(err: Error): void {
    if (this.fatalError) return;
    this.fatalError = err;
    this.log.fatal({ err }, 'raft node stopped: unrecoverable error');
    this.stop(err.message);
    this.emit({ type: 'fatal', error: err });
  }

  private failAll(err: Error): void {
    for (const [index, p] of [...this.proposals]) this.settleProposal(index, p, (x) => x.reject(err));
    for (const r of this.reads.values()) {
      r.timer.cancel();
      r.reject(err);
    }
    this.reads.clear();
  }

  private emit(e: RaftNodeEvent): void {
    for (const l of this.listeners) l(e);
  }
}

/** Decode a committed config entry's membership (for state machines that track it). */
export function membershipOfEntry(e: Entry): Membership | null {
  return e.type === 'config' ? decodeConfigRecord(e.data).membership : null;
}

export { NO_NODE };

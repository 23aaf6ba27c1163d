/**
 * The pure Raft core. It owns no clock, randomness, network or disk: it is driven by `tick()`,
 * `step(message)` and the request methods, and hands back a `Ready` saying what to persist, what
 * to send (only after persisting) and what is committed. See docs/ARCHITECTURE.md.
 *
 * Implemented: elections with randomized timeouts, pre-vote and check-quorum; log replication
 * with fast backtracking and pipelining; commit of current-term entries only; snapshots sent in
 * chunks, and log compaction; single-server membership changes with learners and witnesses;
 * leadership transfer (TimeoutNow); ReadIndex; a leader lease query.
 */
import type { Random } from '../util/random.js';
import { assert } from './assert.js';
import { RaftLog } from './log.js';
import {
  applyConfigChange,
  decodeConfigRecord,
  EMPTY_MEMBERSHIP,
  encodeConfigRecord,
  findMember,
  isVoter,
  isVotingRole,
  votersOf,
} from './membership.js';
import { Progress } from './progress.js';
import { quorumValue, tallyVotes } from './quorum.js';
import type { RecoveredState } from './storage/types.js';
import {
  type AppendRequest,
  type AppendResponse,
  type ConfigChange,
  type Entry,
  type HardState,
  type Membership,
  type Message,
  NO_NODE,
  type NodeId,
  RaftError,
  type RaftRole,
  type ReadState,
  type Ready,
  type Snapshot,
  type SnapshotChunk,
  type SnapshotMeta,
  type SnapshotResponse,
  type SoftState,
  type TimeoutNow,
  type VoteRequest,
} from './types.js';

export interface RaftCoreConfig {
  id: NodeId;
  /** Base election timeout in ticks; the randomized timeout is drawn from [base, 2 × base). */
  electionTicks: number;
  heartbeatTicks: number;
  preVote?: boolean;
  checkQuorum?: boolean;
  /** Payload bytes per append message (at least one entry is always sent). */
  maxAppendBytes?: number;
  /** Append messages in flight per follower in replicate state. */
  maxInflightAppends?: number;
  snapshotChunkBytes?: number;
  /** How far behind the leader's last index a learner may be and still be promoted. */
  maxCatchUpLagEntries?: number;
  /** Ticks taken off the leader lease to allow for clock-rate differences between members. */
  leaseMarginTicks?: number;
  /**
   * Refuse (pre-)votes for an election timeout after starting (default true). A member that just
   * restarted cannot know whether it acknowledged a leader right before going down, and that
   * leader's lease counts on it. Scripted tests that elect at tick 0 turn it off.
   */
  startupVoteGuard?: boolean;
}

export interface LeaseStatus {
  role: RaftRole;
  term: number;
  leader: NodeId;
  /**
   * Leader: a majority acknowledged it within the lease, and no TimeoutNow it sent can still
   * elect its target. Follower: within the lease its leader reported, counted from a moment of
   * this member's clock that precedes the report, so it never outlasts the leader's.
   */
  valid: boolean;
  /** Ticks until `valid` lapses without further contact; 0 when not valid. */
  remainingTicks: number;
}

export interface PeerStatus {
  id: NodeId;
  match: number;
  next: number;
  state: 'probe' | 'replicate' | 'snapshot';
  /** Ticks since this peer last acknowledged the leader (null: never in this term). */
  ticksSinceAck: number | null;
}

export interface CoreStatus {
  id: NodeId;
  role: RaftRole;
  term: number;
  vote: NodeId;
  leader: NodeId;
  commit: number;
  applied: number;
  lastIndex: number;
  persistedIndex: number;
  snapshotIndex: number;
  membership: Membership;
  /** This member's role in the current configuration, or null when it is not a member. */
  memberRole: 'voter' | 'learner' | 'witness' | null;
  /** Leader only: it committed an entry of its own term, so its view of the log is complete. */
  leaderReady: boolean;
  transferee: NodeId;
  progress: PeerStatus[];
}

interface PendingRead {
  ctx: string;
  from: NodeId;
  index: number;
  seq: number;
}

interface IncomingSnapshot {
  meta: SnapshotMeta;
  parts: Uint8Array[];
  received: number;
  total: number;
}

const DEFAULTS = {
  preVote: true,
  checkQuorum: true,
  maxAppendBytes: 1 << 20,
  maxInflightAppends: 256,
  snapshotChunkBytes: 256 << 10,
  maxCatchUpLagEntries: 64,
  leaseMarginTicks: 1,
};

/** Reads forwarded to a leader and not answered yet, at most (the oldest fail beyond). */
const MAX_FORWARDED_READS = 4096;

/** How many probe sequences to remember the issue tick of (lease bookkeeping). */
const SEQ_HISTORY = 4096;

/** How long into its own pre-vote round a pre-candidate breaks ties with others (yieldsPreVoteTo). */
const PREVOTE_TIE_BREAK_TICKS = 2;

export class RaftCore {
  readonly id: NodeId;
  private readonly electionTicks: number;
  private readonly heartbeatTicks: number;
  private readonly preVote: boolean;
  private readonly checkQuorum: boolean;
  private readonly maxAppendBytes: number;
  private readonly maxInflight: number;
  private readonly chunkBytes: number;
  private readonly maxCatchUpLag: number;
  private readonly leaseMargin: number;
  private readonly startupVoteGuard: boolean;
  private readonly random: Random;

  private term = 0;
  private vote: NodeId = NO_NODE;
  private leader: NodeId = NO_NODE;
  private role: RaftRole = 'follower';
  private readonly log: RaftLog;

  /** Membership at the log's base (from the snapshot), and config entries after it. */
  private baseMembership: Membership;
  private configHistory: { index: number; membership: Membership }[] = [];
  private membership: Membership;
  private pendingConfigIndex = 0;

  private progress = new Map<NodeId, Progress>();
  private votes = new Map<NodeId, boolean>();

  private tickCount = 0;
  private electionElapsed = 0;
  private heartbeatElapsed = 0;
  private randomizedElectionTicks = 0;

  // Leader bookkeeping.
  private leaderSinceTick = 0;
  private leaderFirstIndex = 0;
  private seq = 0;
  private seqTicks: number[] = [];
  private seqTicksBase = 1;
  private transferee: NodeId = NO_NODE;
  private timeoutNowSent = false;
  /**
   * TimeoutNows sent in this term that may still elect their target, by target: the probe seq
   * each was sent at. Voters ignore their leases for a transfer campaign, so while one is here
   * this leader holds no lease. The target ignores a TimeoutNow once it has received a later seq
   * from us, so an entry goes once the target acknowledged a later seq (see lease()).
   */
  private liveTimeoutNows = new Map<NodeId, number>();
  /** Candidate: this campaign was started by a TimeoutNow. */
  private transferCampaign = false;
  /**
   * Leader: no lease before this tick. A leader elected by a transfer campaign was voted in by
   * members that ignored their leases, while the members that did not vote may still hold a
   * follower lease from the previous leader: those end no later than the previous leader's own
   * lease, which was at most an election timeout (less the margin) when it sent the TimeoutNow,
   * before this election. So wait one election timeout from the election.
   */
  private leaseNotBeforeTick = 0;
  /** Leader: per follower, the latest (tick, incarnation) it sent us, echoed for its lease. */
  private followerClocks = new Map<NodeId, { tick: number; incarnation: number }>();

  // Follower bookkeeping.
  /** Random, never 0: tells this run of the member from earlier ones (ticks restart at 0). */
  private readonly incarnation: number;
  /** The tick at which our follower lease ends (see noteLeaderLease). */
  private followerLeaseEnd = 0;
  /** The highest probe seq received from this term's leader (TimeoutNow ordering). */
  private leaderSeqSeen = 0;
  private pendingReads: PendingRead[] = [];
  private readsAwaitingCommit: { ctx: string; from: NodeId }[] = [];
  private readBroadcastPending = false;
  /**
   * Follower side: reads forwarded to a leader, by ctx. An answer counts only if it comes from
   * the leader the read was sent to, in the term it was sent in: any other read_index_resp (a
   * stray reply, one for a ctx we never sent or already settled) is ignored.
   */
  private forwardedReads = new Map<string, { to: NodeId; term: number }>();
  private commitSent = new Map<NodeId, number>();

  // Snapshots.
  private snapshot: Snapshot | null;
  private pendingSnapshot: Snapshot | null = null;
  private incoming: IncomingSnapshot | null = null;

  // Outputs.
  private outbox: Message[] = [];
  private readStates: ReadState[] = [];
  private prevHardState: HardState;
  private prevSoftState: SoftState;

  constructor(config: RaftCoreConfig, random: Random, recovered: RecoveredState) {
    if (!Number.isInteger(config.id) || config.id <= 0)
      throw new RangeError(`node id must be a positive integer, got ${config.id}`);
    if (!(config.heartbeatTicks >= 1 && config.electionTicks > config.heartbeatTicks)) {
      throw new RangeError('electionTicks must be greater than heartbeatTicks, which must be at least 1');
    }
    this.id = config.id;
    this.electionTicks = config.electionTicks;
    this.heartbeatTicks = config.heartbeatTicks;
    this.preVote = config.preVote ?? DEFAULTS.preVote;
    this.checkQuorum = config.checkQuorum ?? DEFAULTS.checkQuorum;
    this.maxAppendBytes = config.maxAppendBytes ?? DEFAULTS.maxAppendBytes;
    this.maxInflight = config.maxInflightAppends ?? DEFAULTS.maxInflightAppends;
    this.chunkBytes = config.snapshotChunkBytes ?? DEFAULTS.snapshotChunkBytes;
    this.maxCatchUpLag = config.maxCatchUpLagEntries ?? DEFAULTS.maxCatchUpLagEntries;
    this.leaseMargin = config.leaseMarginTicks ?? DEFAULTS.leaseMarginTicks;
    this.startupVoteGuard = config.startupVoteGuard ?? true;
    this.random = random;
    this.incarnation = 1 + random.int(0x7ffffffe);

    const snap = recovered.snapshot;
    this.snapshot = snap;
    this.log = new RaftLog({
      baseIndex: snap?.meta.index ?? 0,
      baseTerm: snap?.meta.term ?? 0,
      entries: recovered.entries,
      committed: recovered.hardState.commit,
    });
    this.term = recovered.hardState.term;
    this.vote = recovered.hardState.vote;
    this.baseMembership = snap?.meta.membership ?? EMPTY_MEMBERSHIP;
    this.membership = this.baseMembership;
    for (const e of recovered.entries) if (e.type === 'config') this.noteConfigEntry(e);
    this.pendingConfigIndex = this.configHistory.at(-1)?.index ?? 0;
    this.prevHardState = this.hardState();
    this.prevSoftState = this.softState();
    this.resetElectionTimer();
  }

  // -------------------------------------------------------------------------------------------
  // Inputs

  tick(): void {
    this.tickCount++;
    if (this.role === 'leader') this.tickLeader();
    else this.tickElection();
  }

  step(m: Message): void {
    if (m.to !== this.id || m.from === this.id) return;

    if (m.term > this.term) {
      if ((m.type === 'prevote' || m.type === 'vote') && !m.transfer && this.inLease()) {
        // A leader we heard from within the election timeout is alive: do not let this
        // candidate disrupt it (and do not adopt its term).
        return;
      }
      if (m.type === 'prevote') {
        // A pre-vote does not change our term.
      } else if (m.type === 'prevote_resp' && m.granted) {
        // A grant for the term we would campaign in; our term stays.
      } else {
        // A TimeoutNow from a term we never saw does not make its sender our leader: we only
        // honour one from the leader we follow (see honoursTimeoutNow).
        const fromLeader = m.type === 'append' || m.type === 'snapshot';
        this.becomeFollower(m.term, fromLeader ? m.from : NO_NODE);
      }
    } else if (m.term < this.term) {
      if (m.type === 'append' || m.type === 'snapshot') {
        // A stale leader: answer with our term so it steps down.
        this.send(this.appendReject(m.from, 0, 0, 0, 0));
      } else if (m.type === 'prevote') {
        this.send({ type: 'prevote_resp', from: this.id, to: m.from, term: this.term, granted: false });
      }
      return;
    }

    switch (m.type) {
      case 'prevote':
      case 'vote':
        this.handleVoteRequest(m);
        return;
      case 'prevote_resp':
        // Grants carry the term we campaign for; a grant for any other term is from an older round.
        if (this.role === 'precandidate' && (!m.granted || m.term === this.term + 1)) {
          this.handleVoteResponse(m.from, m.granted);
        }
        return;
      case 'vote_resp':
        if (this.role === 'candidate' && m.term === this.term) this.handleVoteResponse(m.from, m.granted);
        return;
      case 'append':
        if (this.role === 'leader') return; // two leaders in one term cannot happen
        if (this.role !== 'follower') this.becomeFollower(this.term, m.from);
        this.handleAppend(m);
        return;
      case 'snapshot':
        if (this.role === 'leader') return;
        if (this.role !== 'follower') this.becomeFollower(this.term, m.from);
        this.handleSnapshot(m);
        return;
      case 'append_resp':
        if (this.role === 'leader') this.handleAppendResponse(m);
        return;
      case 'snapshot_resp':
        if (this.role === 'leader') this.handleSnapshotResponse(m);
        return;
      case 'timeout_now':
        if (this.role === 'follower' && this.promotable() && this.honoursTimeoutNow(m)) this.campaign(true);
        return;
      case 'read_index':
        if (this.role === 'leader') this.handleReadRequest(m.ctx, m.from);
        else
          this.send({
            type: 'read_index_resp',
            from: this.id,
            to: m.from,
            term: this.term,
            ctx: m.ctx,
            index: -1,
          });
        return;
      case 'read_index_resp': {
        const sent = this.forwardedReads.get(m.ctx);
        if (!sent || sent.to !== m.from || sent.term !== m.term) return;
        this.forwardedReads.delete(m.ctx);
        this.readStates.push({ ctx: m.ctx, index: m.index });
        return;
      }
    }
  }

  /** Propose an application entry. Throws RaftError('not_leader' | 'transfer_in_progress'). */
  propose(data: Uint8Array): { index: number; term: number } {
    this.assertCanPropose();
    return this.appendLocal('normal', data);
  }

  /**
   * Propose a membership change. At most one may be uncommitted, and a new leader must first
   * commit an entry of its own term. Promoting a learner to a voting role requires it to have
   * caught up to within maxCatchUpLagEntries of the leader and to be answering.
   */
  proposeConfigChange(change: ConfigChange): { index: number; term: number } {
    this.assertCanPropose();
    if (!this.leaderReady()) {
      throw new RaftError(
        'leader_not_ready',
        'the leader has not yet committed an entry of its term; retry shortly',
        this.id,
      );
    }
    if (this.pendingConfigIndex > this.log.committed) {
      throw new RaftError(
        'config_change_pending',
        `config change at index ${this.pendingConfigIndex} is not committed yet`,
        this.id,
      );
    }
    if (change.type === 'set_role' && isVotingRole(change.role)) {
      const member = findMember(this.membership, change.id);
      if (member && !isVotingRole(member.role) && change.id !== this.id) {
        const pr = this.progress.get(change.id);
        const lag = this.log.lastIndex() - (pr?.match ?? 0);
        const heard = pr !== undefined && this.tickCount - pr.ackTick < this.electionTicks;
        if (!pr || lag > this.maxCatchUpLag || !heard) {
          throw new RaftError(
            'not_caught_up',
            `node ${change.id} is ${lag} entries behind${heard ? '' : ' and not answering'}; it can be promoted once caught up`,
            this.id,
          );
        }
      }
    }
    const membership = applyConfigChange(this.membership, change);
    const result = this.appendLocal('config', encodeConfigRecord({ change, membership }));
    return result;
  }

  /** Start moving leadership to `to` (a voter or witness). Throws RaftError when not possible. */
  transferLeadership(to: NodeId): void {
    if (this.role !== 'leader')
      throw new RaftError('not_leader', 'only the leader can transfer leadership', this.leader);
    if (to === this.id) {
      // Leadership is to stay here: this replaces (cancels) a transfer still pending.
      this.abortTransfer();
      return;
    }
    const member = findMember(this.membership, to);
    if (!member) throw new RaftError('unknown_member', `node ${to} is not a member`, this.id);
    if (!isVotingRole(member.role))
      throw new RaftError('invalid_request', `node ${to} is a ${member.role} and cannot lead`, this.id);
    if (this.transferee === to) return;
    this.transferee = to;
    this.timeoutNowSent = false;
    this.electionElapsed = 0;
    const pr = this.progress.get(to)!;
    if (pr.match === this.log.lastIndex()) this.sendTimeoutNow(to);
    else this.sendAppends(to, pr);
  }

  abortTransfer(): void {
    this.transferee = NO_NODE;
    this.timeoutNowSent = false;
  }

  /**
   * Ask for a linearizable read point. The answer arrives in `Ready.readStates` with the same
   * ctx: an index to wait for (apply up to it, then read), or -1 when it could not be confirmed.
   */
  readIndex(ctx: string): void {
    if (this.role === 'leader') this.handleReadRequest(ctx, this.id);
    else if (this.leader !== NO_NODE) {
      if (this.forwardedReads.size >= MAX_FORWARDED_READS) {
        const [oldest] = this.forwardedReads.keys();
        this.forwardedReads.delete(oldest!);
        this.readStates.push({ ctx: oldest!, index: -1 });
      }
      this.forwardedReads.set(ctx, { to: this.leader, term: this.term });
      this.send({ type: 'read_index', from: this.id, to: this.leader, term: this.term, ctx });
    } else this.readStates.push({ ctx, index: -1 });
  }

  /** Start an election now (bootstrap, tests). Ignored when this member cannot vote or already leads. */
  campaign(transfer = false): void {
    if (!this.promotable() || this.role === 'leader') return;
    if (this.preVote && !transfer) this.becomePreCandidate();
    else this.becomeCandidate(transfer);
  }

  /**
   * The metadata a snapshot taken at applied index `index` must carry, or null when the log no
   * longer holds that index: a snapshot from the leader replaced it while the driver was still
   * applying older committed entries, and that snapshot (newer) is about to be installed.
   */
  snapshotMetaAt(index: number): SnapshotMeta | null {
    if (index > this.log.lastIndex()) throw new Error(`cannot snapshot at ${index}: beyond the log's end`);
    const term = this.log.term(index);
    if (term === undefined) return null;
    return { index, term, membership: this.membershipAt(index) };
  }

  /**
   * Local compaction after the application saved `snapshot` durably: remember it for followers
   * that fall behind, and drop log entries up to `compactTo` (at most the snapshot's index).
   */
  compact(snapshot: Snapshot, compactTo: number = snapshot.meta.index): void {
    const idx = snapshot.meta.index;
    if (idx > this.log.applied) throw new Error(`snapshot at ${idx} is beyond applied ${this.log.applied}`);
    if (this.snapshot && idx <= this.snapshot.meta.index) return;
    this.snapshot = snapshot;
    const to = Math.min(compactTo, idx);
    if (to > this.log.snapshotIndex()) {
      this.baseMembership = this.membershipAt(to);
      this.configHistory = this.configHistory.filter((c) => c.index > to);
      this.log.compact(to);
    }
  }

  // -------------------------------------------------------------------------------------------
  // Outputs

  hasReady(): boolean {
    return (
      this.outbox.length > 0 ||
      this.readStates.length > 0 ||
      this.readBroadcastPending ||
      this.pendingSnapshot !== null ||
      this.log.persistedIndex() < this.log.lastIndex() ||
      this.log.committed > this.log.applied ||
      !sameHardState(this.hardState(), this.prevHardState) ||
      !sameSoftState(this.softState(), this.prevSoftState)
    );
  }

  ready(): Ready {
    if (this.readBroadcastPending) {
      this.readBroadcastPending = false;
      if (this.role === 'leader') this.bcastHeartbeat();
    }
    const hs = this.hardState();
    const ss = this.softState();
    const snapshot = this.pendingSnapshot;
    const applyFrom = Math.max(this.log.applied, snapshot?.meta.index ?? 0) + 1;
    const rd: Ready = {
      hardState: sameHardState(hs, this.prevHardState) ? null : hs,
      entries: this.log.unstable(),
      snapshot,
      messages: this.outbox,
      committed: applyFrom <= this.log.committed ? this.log.slice(applyFrom, this.log.committed) : [],
      readStates: this.readStates,
      softState: sameSoftState(ss, this.prevSoftState) ? null : ss,
    };
    this.prevHardState = hs;
    this.prevSoftState = ss;
    this.pendingSnapshot = null;
    this.outbox = [];
    this.readStates = [];
    return rd;
  }

  /** The driver persisted, sent and applied `rd`. */
  advance(rd: Ready): void {
    if (rd.snapshot) this.log.applied = Math.max(this.log.applied, rd.snapshot.meta.index);
    const last = rd.entries.at(-1);
    if (last) this.log.stableTo(last.index, last.term);
    const applied = rd.committed.at(-1);
    if (applied && applied.index > this.log.applied) this.log.applied = applied.index;
    if (this.role === 'leader' && this.maybeCommit()) this.afterCommit();
  }

  // -------------------------------------------------------------------------------------------
  // Queries

  status(): CoreStatus {
    const progress: PeerStatus[] = [];
    if (this.role === 'leader') {
      for (const [id, pr] of this.progress) {
        progress.push({
          id,
          match: pr.match,
          next: pr.next,
          state: pr.state,
          ticksSinceAck: Number.isFinite(pr.ackTick) ? this.tickCount - pr.ackTick : null,
        });
      }
    }
    return {
      id: this.id,
      role: this.role,
      term: this.term,
      vote: this.vote,
      leader: this.leader,
      commit: this.log.committed,
      applied: this.log.applied,
      lastIndex: this.log.lastIndex(),
      persistedIndex: this.log.persistedIndex(),
      snapshotIndex: this.log.snapshotIndex(),
      membership: this.membership,
      memberRole: findMember(this.membership, this.id)?.role ?? null,
      leaderReady: this.leaderReady(),
      transferee: this.transferee,
      progress,
    };
  }

  lease(): LeaseStatus {
    const base = { role: this.role, term: this.term, leader: this.leader };
    const remaining =
      this.role === 'leader'
        ? this.leaderLeaseTicks()
        : this.role === 'follower' && this.leader !== NO_NODE
          ? Math.max(0, this.followerLeaseEnd - this.tickCount)
          : 0;
    assert(remaining <= this.electionTicks, `lease of ${remaining} ticks exceeds an election timeout`);
    return { ...base, valid: remaining > 0, remainingTicks: remaining };
  }

  /**
   * The leader's lease in ticks (0: none). A majority acknowledged a heartbeat sent at quorumTick,
   * so none of them grants a (non-transfer) vote before quorumTick + an election timeout.
   *
   * A TimeoutNow is the exception: voters ignore their leases for the campaign it starts, so
   * while one that went out may still be acted on, its target can be elected at any moment
   * without our hearing of it, and there is no lease, even once the transfer was called off.
   * When can it no longer be acted on? etcd-io/raft never gives the lease back within the term
   * (its lease-based reads simply assume no transfer); we can, because the target ignores a
   * TimeoutNow that is overtaken: it campaigns only on one whose seq is at least the highest
   * probe seq it has received from us in this term, and only in the run (incarnation) it was
   * addressed to. Once the target acknowledges, in this term, a seq sent after the TimeoutNow,
   * it had received that later seq while still a follower of this term (it would otherwise
   * answer in a later term, and we would step down), so the TimeoutNow, whenever it arrives, is
   * ignored; a restart of the target voids it too. Message order does not matter for this, so it
   * holds under reordering, duplication and restarts, and from then on the ordinary lease
   * (majority acknowledgement, above) is sound again.
   */
  private leaderLeaseTicks(): number {
    if (this.role !== 'leader' || this.liveTimeoutNows.size > 0) return 0;
    if (this.tickCount < this.leaseNotBeforeTick) return 0;
    const acks = votersOf(this.membership).map((id) =>
      id === this.id ? this.tickCount : (this.progress.get(id)?.ackTick ?? Number.NEGATIVE_INFINITY),
    );
    const quorumTick = quorumValue(acks, Number.NEGATIVE_INFINITY);
    return Math.max(0, quorumTick + this.electionTicks - this.leaseMargin - this.tickCount);
  }

  /**
   * Follower: a leader's append carries the lease it held when sending it, and echoes a tick of
   * ours it had received before sending. That tick precedes the send, so ending our lease that
   * many ticks after it ends it no later than the leader's own (less our clock-rate margin):
   * we never vouch for a leader that has lost its majority, however long the message took.
   */
  private noteLeaderLease(m: AppendRequest): void {
    const leaseTicks = Math.min(m.leaseTicks ?? 0, this.electionTicks);
    if (leaseTicks <= 0 || m.leaseEchoIncarnation !== this.incarnation) return;
    const echo = m.leaseEchoTick ?? 0;
    if (echo > this.tickCount) return; // not a tick of this run: ignore
    this.followerLeaseEnd = Math.max(this.followerLeaseEnd, echo + leaseTicks - this.leaseMargin);
  }

  /** Whether to act on a TimeoutNow (see leaderLeaseTicks for why each condition). */
  private honoursTimeoutNow(m: TimeoutNow): boolean {
    if (m.from !== this.leader) return false;
    const inc = m.incarnation ?? 0;
    if (inc !== 0 && inc !== this.incarnation) return false;
    const seq = m.seq ?? 0;
    return seq === 0 || seq >= this.leaderSeqSeen;
  }

  /** Entries the log holds in [lo, hi] (for tests and the simulation's checks). */
  entries(lo: number, hi: number): Entry[] {
    const from = Math.max(lo, this.log.firstIndex());
    return from <= hi ? this.log.slice(from, hi) : [];
  }

  termAt(index: number): number | undefined {
    return this.log.term(index);
  }

  // -------------------------------------------------------------------------------------------
  // Roles

  private becomeFollower(term: number, leader: NodeId): void {
    const wasLeader = this.role === 'leader';
    if (term !== this.term) {
      this.term = term;
      this.vote = NO_NODE;
      this.leaderSeqSeen = 0;
      this.failForwardedReads();
    }
    if (leader !== this.leader || this.role !== 'follower') this.followerLeaseEnd = 0;
    this.role = 'follower';
    this.leader = leader;
    this.votes.clear();
    this.resetElectionTimer();
    if (wasLeader) this.leaveLeadership();
  }

  private becomePreCandidate(): void {
    this.followerLeaseEnd = 0;
    this.role = 'precandidate';
    this.leader = NO_NODE;
    this.votes = new Map([[this.id, true]]);
    this.resetElectionTimer();
    if (this.handleVoteResponse(this.id, true)) return;
    this.requestVotes('prevote', this.term + 1, false);
  }

  private becomeCandidate(transfer: boolean): void {
    const wasLeader = this.role === 'leader';
    this.term += 1;
    this.vote = this.id;
    this.transferCampaign = transfer;
    this.leaderSeqSeen = 0;
    this.followerLeaseEnd = 0;
    this.failForwardedReads();
    this.role = 'candidate';
    this.leader = NO_NODE;
    this.votes = new Map([[this.id, true]]);
    this.resetElectionTimer();
    if (wasLeader) this.leaveLeadership();
    if (this.handleVoteResponse(this.id, true)) return;
    this.requestVotes('vote', this.term, transfer);
  }

  private becomeLeader(): void {
    this.role = 'leader';
    this.leader = this.id;
    this.votes.clear();
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.leaderSinceTick = this.tickCount;
    this.seq = 0;
    this.seqTicks = [];
    this.seqTicksBase = 1;
    this.transferee = NO_NODE;
    this.timeoutNowSent = false;
    this.liveTimeoutNows.clear();
    this.followerClocks.clear();
    this.followerLeaseEnd = 0;
    this.leaseNotBeforeTick = this.transferCampaign ? this.tickCount + this.electionTicks : 0;
    this.commitSent.clear();
    this.progress.clear();
    for (const m of this.membership.members) {
      if (m.id !== this.id) this.progress.set(m.id, new Progress(this.log.lastIndex() + 1));
    }
    this.incoming = null;
    // Commit an entry of our own term first: it commits everything before it (Figure 8), and no
    // membership change or read is served until it has.
    this.leaderFirstIndex = this.appendLocal('noop', new Uint8Array(0)).index;
  }

  private leaveLeadership(): void {
    this.liveTimeoutNows.clear();
    this.followerClocks.clear();
    this.progress.clear();
    this.commitSent.clear();
    this.transferee = NO_NODE;
    this.timeoutNowSent = false;
    for (const r of this.pendingReads) this.answerRead(r.ctx, r.from, -1);
    for (const r of this.readsAwaitingCommit) this.answerRead(r.ctx, r.from, -1);
    this.pendingReads = [];
    this.readsAwaitingCommit = [];
    this.readBroadcastPending = false;
  }

  /** A new term: no answer to a read forwarded in an earlier term will be accepted, so fail them now. */
  private failForwardedReads(): void {
    for (const ctx of this.forwardedReads.keys()) this.readStates.push({ ctx, index: -1 });
    this.forwardedReads.clear();
  }

  /** Whether this member may campaign: it votes in its own current configuration. */
  private promotable(): boolean {
    return isVoter(this.membership, this.id);
  }

  private inLease(): boolean {
    if (!this.checkQuorum) return false;
    if (this.role === 'leader') return true;
    // A member that just (re)started does not know whether a leader is alive: it may have
    // acknowledged one right before it went down, and that leader counts on it for its lease.
    if (this.startupVoteGuard && this.tickCount < this.electionTicks) return true;
    return this.leader !== NO_NODE && this.electionElapsed < this.electionTicks;
  }

  private leaderReady(): boolean {
    return this.role === 'leader' && this.log.committed >= this.leaderFirstIndex;
  }

  // -------------------------------------------------------------------------------------------
  // Ticks

  private resetElectionTimer(): void {
    this.electionElapsed = 0;
    // Uniform in [E, 1.5 E): a new leader about one election timeout after the old one went
    // silent (etcd draws from [E, 2 E): 1.33 E for the first of two survivors). The tick is fine
    // enough (tickPlan) that two survivors rarely draw the same value.
    this.randomizedElectionTicks =
      this.electionTicks + this.random.int(Math.max(1, Math.ceil(this.electionTicks / 2)));
  }

  private tickElection(): void {
    this.electionElapsed++;
    if (this.electionElapsed >= this.randomizedElectionTicks) {
      this.resetElectionTimer();
      if (this.promotable()) this.campaign(false);
    }
  }

  private tickLeader(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    if (this.checkQuorum && !this.quorumRecentlyActive()) {
      this.becomeFollower(this.term, NO_NODE);
      return;
    }
    if (this.transferee !== NO_NODE && this.electionElapsed >= this.electionTicks) this.abortTransfer();
    if (this.heartbeatElapsed >= this.heartbeatTicks) {
      this.heartbeatElapsed = 0;
      this.bcastHeartbeat();
    }
    // Retransmit a snapshot chunk that got no answer within a heartbeat round or two.
    for (const [id, pr] of this.progress) {
      if (
        pr.state === 'snapshot' &&
        !pr.snapshotAnswered &&
        this.tickCount - pr.snapshotSentTick >= 2 * this.heartbeatTicks
      ) {
        this.sendSnapshotChunk(id, pr);
      }
    }
  }

  /** Check-quorum: a majority of voters acknowledged us within an election timeout. */
  private quorumRecentlyActive(): boolean {
    const voters = votersOf(this.membership);
    if (voters.length === 0) return true;
    const acks = voters.map((id) =>
      id === this.id ? this.tickCount : Math.max(this.progress.get(id)?.ackTick ?? 0, this.leaderSinceTick),
    );
    return this.tickCount - quorumValue(acks) < this.electionTicks;
  }

  // -------------------------------------------------------------------------------------------
  // Elections

  private requestVotes(type: 'prevote' | 'vote', term: number, transfer: boolean): void {
    for (const id of votersOf(this.membership)) {
      if (id === this.id) continue;
      this.send({
        type,
        from: this.id,
        to: id,
        term,
        lastLogIndex: this.log.lastIndex(),
        lastLogTerm: this.log.lastTerm(),
        transfer,
      });
    }
  }

  private handleVoteRequest(m: VoteRequest): void {
    const respType = m.type === 'prevote' ? 'prevote_resp' : 'vote_resp';
    const canVote =
      this.vote === m.from ||
      (this.vote === NO_NODE && this.leader === NO_NODE) ||
      (m.type === 'prevote' && m.term > this.term);
    if (canVote && this.log.isUpToDate(m.lastLogIndex, m.lastLogTerm) && !this.yieldsPreVoteTo(m)) {
      // A pre-vote grant carries the candidate's future term so it is not mistaken for stale.
      this.send({ type: respType, from: this.id, to: m.from, term: m.term, granted: true });
      if (m.type === 'vote') {
        this.electionElapsed = 0;
        this.vote = m.from;
      }
    } else {
      this.send({ type: respType, from: this.id, to: m.from, term: this.term, granted: false });
    }
  }

  /**
   * Two pre-candidates of the same round with equally good logs would grant each other, both
   * become candidates in the same term and split the vote (a whole election timeout lost). Pre-vote
   * carries no safety, so break the tie: the lower id wins it, and a pre-candidate refuses a
   * higher id unless that one's log is strictly more up to date. The refused member stays a
   * pre-candidate and grants the winner's real vote request. Only in the first
   * PREVOTE_TIE_BREAK_TICKS of our own round (a true tie starts within a round trip): a member
   * that cannot hear answers stays a pre-candidate for good, and must not block the others.
   */
  private yieldsPreVoteTo(m: VoteRequest): boolean {
    if (m.type !== 'prevote' || this.role !== 'precandidate') return false;
    if (this.electionElapsed > PREVOTE_TIE_BREAK_TICKS) return false;
    if (m.term !== this.term + 1 || m.from < this.id) return false;
    const strictlyBetter =
      m.lastLogTerm > this.log.lastTerm() ||
      (m.lastLogTerm === this.log.lastTerm() && m.lastLogIndex > this.log.lastIndex());
    return !strictlyBetter;
  }

  /** Record a vote; returns true if the election concluded. */
  private handleVoteResponse(from: NodeId, granted: boolean): boolean {
    if (!this.votes.has(from)) this.votes.set(from, granted);
    const outcome = tallyVotes(votersOf(this.membership), this.votes);
    if (outcome === 'won') {
      if (this.role === 'precandidate') this.becomeCandidate(false);
      else this.becomeLeader();
      return true;
    }
    if (outcome === 'lost') {
      this.becomeFollower(this.term, NO_NODE);
      return true;
    }
    return false;
  }

  // -------------------------------------------------------------------------------------------
  // Replication: follower side

  private handleAppend(m: AppendRequest): void {
    this.electionElapsed = 0;
    this.leader = m.from;
    this.leaderSeqSeen = Math.max(this.leaderSeqSeen, m.seq);
    this.noteLeaderLease(m);
    if (m.prevIndex < this.log.committed) {
      // Everything up to our commit index matches the leader's log already.
      this.send(this.appendAccept(m.from, this.log.committed, m.seq));
      return;
    }
    if (this.log.matchTerm(m.prevIndex, m.prevTerm)) {
      const lastNew = m.prevIndex + m.entries.length;
      const conflict = this.log.findConflict(m.entries);
      if (conflict !== 0) {
        if (conflict <= this.log.committed) {
          throw new Error(
            `entry ${conflict} conflicts with committed entries (commit ${this.log.committed})`,
          );
        }
        this.appendFromLeader(m.entries.slice(conflict - (m.prevIndex + 1)));
      }
      this.log.commitTo(Math.min(m.commit, lastNew));
      this.send(this.appendAccept(m.from, lastNew, m.seq));
      return;
    }
    // Reject, with a hint: the largest index at or below prevIndex whose term is at most the
    // leader's prevTerm, so the leader can skip whole terms of conflicting entries.
    const hint = this.log.findConflictByTerm(Math.min(m.prevIndex, this.log.lastIndex()), m.prevTerm);
    this.send(this.appendReject(m.from, m.prevIndex, hint.index, hint.term, m.seq));
  }

  private appendFromLeader(entries: Entry[]): void {
    if (entries.length === 0) return;
    const truncatedAt = this.log.append(entries);
    if (truncatedAt !== null) this.dropConfigsFrom(truncatedAt);
    for (const e of entries) if (e.type === 'config') this.noteConfigEntry(e);
  }

  private handleSnapshot(m: SnapshotChunk): void {
    this.electionElapsed = 0;
    this.leader = m.from;
    this.leaderSeqSeen = Math.max(this.leaderSeqSeen, m.seq);
    const meta = m.meta;
    if (meta.index <= this.log.committed) {
      this.incoming = null;
      this.send(this.snapshotAnswer(m, m.totalBytes, true, this.log.committed));
      return;
    }
    if (this.log.matchTerm(meta.index, meta.term)) {
      // We already hold the snapshot's last entry: keep the log after it, just commit.
      this.incoming = null;
      this.log.commitTo(meta.index);
      this.send(this.snapshotAnswer(m, m.totalBytes, true, meta.index));
      return;
    }
    const inc = this.incoming;
    if (m.offset === 0 || !inc || inc.meta.index !== meta.index || inc.meta.term !== meta.term) {
      if (m.offset !== 0) {
        this.send(this.snapshotAnswer(m, 0, false, 0));
        return;
      }
      this.incoming = { meta, parts: [], received: 0, total: m.totalBytes };
    }
    const cur = this.incoming!;
    if (m.offset !== cur.received || m.totalBytes !== cur.total) {
      this.send(this.snapshotAnswer(m, cur.received, false, 0));
      return;
    }
    cur.parts.push(m.data.slice());
    cur.received += m.data.byteLength;
    if (!m.done) {
      this.send(this.snapshotAnswer(m, cur.received, false, 0));
      return;
    }
    this.incoming = null;
    if (cur.received !== cur.total) {
      this.send(this.snapshotAnswer(m, 0, false, 0));
      return;
    }
    const data = new Uint8Array(cur.total);
    let off = 0;
    for (const p of cur.parts) {
      data.set(p, off);
      off += p.byteLength;
    }
    this.installSnapshot({ meta, data });
    this.send(this.snapshotAnswer(m, cur.total, true, meta.index));
  }

  private installSnapshot(snap: Snapshot): void {
    this.log.restore(snap.meta.index, snap.meta.term);
    this.baseMembership = snap.meta.membership;
    this.configHistory = [];
    this.membership = snap.meta.membership;
    this.pendingConfigIndex = 0;
    this.snapshot = snap;
    this.pendingSnapshot = snap;
  }

  private appendAccept(to: NodeId, matchIndex: number, seq: number): AppendResponse {
    return {
      type: 'append_resp',
      from: this.id,
      to,
      term: this.term,
      success: true,
      matchIndex,
      rejectIndex: 0,
      hintIndex: 0,
      hintTerm: 0,
      seq,
      tick: this.tickCount,
      incarnation: this.incarnation,
    };
  }

  private appendReject(
    to: NodeId,
    rejectIndex: number,
    hintIndex: number,
    hintTerm: number,
    seq: number,
  ): AppendResponse {
    return {
      type: 'append_resp',
      from: this.id,
      to,
      term: this.term,
      success: false,
      matchIndex: 0,
      rejectIndex,
      hintIndex,
      hintTerm,
      seq,
      tick: this.tickCount,
      incarnation: this.incarnation,
    };
  }

  private snapshotAnswer(
    m: SnapshotChunk,
    nextOffset: number,
    done: boolean,
    matchIndex: number,
  ): SnapshotResponse {
    return {
      type: 'snapshot_resp',
      from: this.id,
      to: m.from,
      term: this.term,
      snapshotIndex: m.meta.index,
      nextOffset,
      done,
      matchIndex,
      seq: m.seq,
    };
  }

  // -------------------------------------------------------------------------------------------
  // Replication: leader side

  private assertCanPropose(): void {
    if (this.role !== 'leader')
      throw new RaftError('not_leader', 'this member is not the leader', this.leader);
    if (this.transferee !== NO_NODE) {
      throw new RaftError(
        'transfer_in_progress',
        `leadership is being transferred to node ${this.transferee}`,
        this.id,
      );
    }
  }

  private appendLocal(type: Entry['type'], data: Uint8Array): { index: number; term: number } {
    const entry: Entry = { index: this.log.lastIndex() + 1, term: this.term, type, data };
    this.log.append([entry]);
    if (type === 'config') this.noteConfigEntry(entry);
    this.bcastAppend();
    return { index: entry.index, term: entry.term };
  }

  private bcastAppend(): void {
    for (const [id, pr] of this.progress) this.sendAppends(id, pr);
  }

  /** Send as many appends as flow control allows (one in probe state). */
  private sendAppends(id: NodeId, pr: Progress): void {
    let guard = this.maxInflight + 1;
    while (guard-- > 0 && pr.next <= this.log.lastIndex() && this.maybeSendAppend(id, pr)) {
      if (pr.state !== 'replicate') break;
    }
  }

  private maybeSendAppend(id: NodeId, pr: Progress): boolean {
    if (pr.isPaused(this.maxInflight)) return false;
    const prevIndex = pr.next - 1;
    const prevTerm = this.log.term(prevIndex);
    if (prevTerm === undefined) {
      // What the follower needs next was compacted away: send the snapshot instead.
      if (!this.snapshot) return false;
      pr.becomeSnapshot(this.snapshot.meta.index, this.tickCount);
      this.sendSnapshotChunk(id, pr);
      return true;
    }
    const entries = this.log.slice(pr.next, this.log.lastIndex(), this.maxAppendBytes);
    if (entries.length === 0) return false;
    this.sendAppendMessage(id, prevIndex, prevTerm, entries, this.log.committed);
    this.commitSent.set(id, this.log.committed);
    const last = entries.at(-1)!.index;
    if (pr.state === 'replicate') {
      pr.next = last + 1;
      pr.inflight.push({ last, seq: this.seq });
    } else {
      pr.probeSent = true;
    }
    return true;
  }

  private sendSnapshotChunk(id: NodeId, pr: Progress): void {
    const snap = this.snapshot!;
    if (pr.snapshotIndex !== snap.meta.index) pr.becomeSnapshot(snap.meta.index, this.tickCount);
    const total = snap.data.byteLength;
    const offset = Math.min(pr.snapshotOffset, total);
    const end = Math.min(offset + this.chunkBytes, total);
    this.send({
      type: 'snapshot',
      from: this.id,
      to: id,
      term: this.term,
      meta: snap.meta,
      offset,
      data: snap.data.subarray(offset, end),
      totalBytes: total,
      done: end === total,
      seq: this.seq,
    });
    pr.snapshotSentTick = this.tickCount;
    pr.snapshotAnswered = false;
  }

  /**
   * A heartbeat: an append with no entries at the follower's known match point, so it never
   * conflicts or reorders badly, carrying the commit index the follower can safely adopt.
   */
  private sendHeartbeat(id: NodeId, pr: Progress): void {
    const prevTerm = this.log.term(pr.match);
    const prevIndex = prevTerm === undefined ? 0 : pr.match;
    const commit = Math.min(this.log.committed, prevIndex);
    this.sendAppendMessage(id, prevIndex, prevTerm ?? 0, [], commit);
    this.commitSent.set(id, Math.max(this.commitSent.get(id) ?? 0, commit));
  }

  private sendAppendMessage(
    to: NodeId,
    prevIndex: number,
    prevTerm: number,
    entries: Entry[],
    commit: number,
  ): void {
    const clock = this.followerClocks.get(to);
    this.send({
      type: 'append',
      from: this.id,
      to,
      term: this.term,
      prevIndex,
      prevTerm,
      entries,
      commit,
      seq: this.seq,
      leaseTicks: clock ? this.leaderLeaseTicks() : 0,
      leaseEchoTick: clock?.tick ?? 0,
      leaseEchoIncarnation: clock?.incarnation ?? 0,
    });
  }

  private bcastHeartbeat(): void {
    this.seq++;
    this.seqTicks.push(this.tickCount);
    if (this.seqTicks.length > SEQ_HISTORY) {
      const drop = this.seqTicks.length - SEQ_HISTORY;
      this.seqTicks.splice(0, drop);
      this.seqTicksBase += drop;
    }
    for (const [id, pr] of this.progress) this.sendHeartbeat(id, pr);
  }

  private seqTick(seq: number): number {
    if (seq < this.seqTicksBase) return Number.NEGATIVE_INFINITY;
    return this.seqTicks[seq - this.seqTicksBase] ?? Number.NEGATIVE_INFINITY;
  }

  private recordAck(id: NodeId, pr: Progress, seq: number): void {
    if (seq > pr.ackSeq && seq <= this.seq) {
      pr.ackSeq = seq;
      pr.ackTick = this.seqTick(seq);
    }
    const tnSeq = this.liveTimeoutNows.get(id);
    if (tnSeq !== undefined && pr.ackSeq > tnSeq) this.liveTimeoutNows.delete(id);
  }

  private handleAppendResponse(m: AppendResponse): void {
    const pr = this.progress.get(m.from);
    if (!pr) return;
    this.recordAck(m.from, pr, m.seq);
    if (m.incarnation) {
      const prev = this.followerClocks.get(m.from);
      const tick = m.tick ?? 0;
      if (!prev || prev.incarnation !== m.incarnation || tick > prev.tick) {
        this.followerClocks.set(m.from, { tick, incarnation: m.incarnation });
      }
    }
    this.resolveReads();
    if (!m.success) {
      let hint = m.hintIndex;
      if (m.hintTerm > 0) hint = this.log.findConflictByTerm(m.hintIndex, m.hintTerm).index;
      if (pr.maybeDecrTo(m.rejectIndex, hint)) {
        if (pr.state === 'replicate') pr.becomeProbe();
        this.sendAppends(m.from, pr);
      }
      return;
    }
    const moved = pr.maybeUpdate(m.matchIndex);
    if (pr.state === 'probe') {
      pr.probeSent = false;
      if (moved) pr.becomeReplicate();
    } else if (pr.state === 'snapshot' && pr.match >= pr.snapshotIndex) {
      pr.becomeProbe();
    } else if (pr.appendLost(m.seq)) {
      pr.becomeProbe();
    }
    if (moved && this.maybeCommit()) this.afterCommit();
    if (this.transferee === m.from && pr.match === this.log.lastIndex()) this.sendTimeoutNow(m.from);
    this.sendAppends(m.from, pr);
    this.maybeSendCommit(m.from, pr);
  }

  private handleSnapshotResponse(m: SnapshotResponse): void {
    const pr = this.progress.get(m.from);
    if (!pr) return;
    this.recordAck(m.from, pr, m.seq);
    this.resolveReads();
    if (pr.state !== 'snapshot' || m.snapshotIndex !== pr.snapshotIndex) {
      if (m.done && pr.maybeUpdate(m.matchIndex) && this.maybeCommit()) this.afterCommit();
      return;
    }
    if (m.done) {
      pr.maybeUpdate(m.matchIndex);
      pr.becomeProbe();
      if (this.maybeCommit()) this.afterCommit();
      this.sendAppends(m.from, pr);
      return;
    }
    pr.snapshotOffset = m.nextOffset;
    pr.snapshotAnswered = true;
    this.sendSnapshotChunk(m.from, pr);
  }

  /** Tell a follower about a commit index it has not heard yet, if it holds the entries. */
  private maybeSendCommit(id: NodeId, pr: Progress): void {
    // A heartbeat carries a commit index only up to the entry it is anchored at (pr.match). When
    // that entry is compacted away it carries none, and its answer would trigger the next one,
    // endlessly: the snapshot (or a later append) brings the follower the commit index instead.
    if (this.log.term(pr.match) === undefined) return;
    if (Math.min(this.log.committed, pr.match) > (this.commitSent.get(id) ?? 0)) this.sendHeartbeat(id, pr);
  }

  private sendTimeoutNow(to: NodeId): void {
    if (this.timeoutNowSent) return;
    // seq 0 would read as an older sender's TimeoutNow, which the target always honours.
    if (this.seq === 0) this.bcastHeartbeat();
    assert(this.seq >= 1, 'a TimeoutNow needs a probe seq of at least 1');
    this.timeoutNowSent = true;
    this.liveTimeoutNows.set(to, this.seq);
    const incarnation = this.followerClocks.get(to)?.incarnation ?? 0;
    this.send({ type: 'timeout_now', from: this.id, to, term: this.term, seq: this.seq, incarnation });
  }

  private maybeCommit(): boolean {
    const voters = votersOf(this.membership);
    const matches = voters.map((id) =>
      id === this.id ? this.log.persistedIndex() : (this.progress.get(id)?.match ?? 0),
    );
    const idx = quorumValue(matches);
    // Only entries of the current term are committed by counting replicas (Figure 8).
    if (idx > this.log.committed && this.log.term(idx) === this.term) {
      this.log.commitTo(idx);
      return true;
    }
    return false;
  }

  private afterCommit(): void {
    if (this.readsAwaitingCommit.length > 0 && this.leaderReady()) {
      const waiting = this.readsAwaitingCommit;
      this.readsAwaitingCommit = [];
      for (const r of waiting) this.handleReadRequest(r.ctx, r.from);
    }
    // A leader removed (or demoted) by a committed change steps down.
    if (!this.promotable() && this.log.committed >= this.pendingConfigIndex) {
      this.becomeFollower(this.term, NO_NODE);
      return;
    }
    for (const [id, pr] of this.progress) this.maybeSendCommit(id, pr);
  }

  // -------------------------------------------------------------------------------------------
  // Reads

  private handleReadRequest(ctx: string, from: NodeId): void {
    if (!this.leaderReady()) {
      this.readsAwaitingCommit.push({ ctx, from });
      return;
    }
    const voters = votersOf(this.membership);
    if (voters.length === 1 && voters[0] === this.id) {
      this.answerRead(ctx, from, this.log.committed);
      return;
    }
    // Confirmed by a heartbeat round issued after this request (sent with the next Ready).
    this.pendingReads.push({ ctx, from, index: this.log.committed, seq: this.seq + 1 });
    this.readBroadcastPending = true;
  }

  private resolveReads(): void {
    if (this.pendingReads.length === 0) return;
    const acked = votersOf(this.membership).map((id) =>
      id === this.id ? Number.POSITIVE_INFINITY : (this.progress.get(id)?.ackSeq ?? 0),
    );
    const quorumSeq = quorumValue(acked);
    while (this.pendingReads.length > 0 && this.pendingReads[0]!.seq <= quorumSeq) {
      const r = this.pendingReads.shift()!;
      this.answerRead(r.ctx, r.from, r.index);
    }
  }

  private answerRead(ctx: string, from: NodeId, index: number): void {
    if (from === this.id) this.readStates.push({ ctx, index });
    else this.send({ type: 'read_index_resp', from: this.id, to: from, term: this.term, ctx, index });
  }

  // -------------------------------------------------------------------------------------------
  // Membership bookkeeping

  private noteConfigEntry(e: Entry): void {
    const record = decodeConfigRecord(e.data);
    this.configHistory.push({ index: e.index, membership: record.membership });
    this.pendingConfigIndex = e.index;
    this.setMembership(record.membership);
  }

  private dropConfigsFrom(index: number): void {
    const before = this.configHistory.length;
    this.configHistory = this.configHistory.filter((c) => c.index < index);
    if (this.configHistory.length !== before) {
      this.pendingConfigIndex = this.configHistory.at(-1)?.index ?? 0;
      this.setMembership(this.configHistory.at(-1)?.membership ?? this.baseMembership);
    }
  }

  private membershipAt(index: number): Membership {
    let m = this.baseMembership;
    for (const c of this.configHistory) if (c.index <= index) m = c.membership;
    return m;
  }

  private setMembership(m: Membership): void {
    this.membership = m;
    if (this.role !== 'leader') return;
    for (const member of m.members) {
      if (member.id !== this.id && !this.progress.has(member.id)) {
        const pr = new Progress(this.log.lastIndex());
        this.progress.set(member.id, pr);
      }
    }
    for (const id of [...this.progress.keys()]) {
      if (!findMember(m, id)) {
        this.progress.delete(id);
        this.commitSent.delete(id);
        if (this.transferee === id) this.abortTransfer();
      }
    }
  }

  // -------------------------------------------------------------------------------------------

  private send(m: Message): void {
    this.outbox.push(m);
  }

  private hardState(): HardState {
    return { term: this.term, vote: this.vote, commit: this.log.committed };
  }

  private softState(): SoftState {
    return { role: this.role, leader: this.leader, term: this.term };
  }
}

function sameHardState(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}

function sameSoftState(a: SoftState, b: SoftState): boolean {
  return a.role === b.role && a.leader === b.leader && a.term === b.term;
}

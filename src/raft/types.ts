/**
 * Types shared by the pure Raft core, its driver, storage and transports.
 *
 * Everything here is plain data: messages and entries cross process boundaries (gRPC) and the
 * simulation clones them freely, so nothing holds a reference to a live object.
 */

/** A member's id: a positive integer, unique in the group forever. 0 means "none". */
export type NodeId = number;
export const NO_NODE: NodeId = 0;

/**
 * voter: counts for elections and commit. learner: replicates the log, never votes (an observer).
 * witness: counts for elections and commit like a voter and keeps the full log, but manages no
 * Redis; the application must never pick it for anything data-bearing.
 */
export type MemberRole = 'voter' | 'learner' | 'witness';

export interface Member {
  id: NodeId;
  role: MemberRole;
  /** Raft (gRPC) address other members dial. Opaque to the core. */
  addr: string;
}

/** A group configuration. `removed` lists ids that may never join again. */
export interface Membership {
  members: Member[];
  removed: NodeId[];
}

export type EntryType = 'normal' | 'noop' | 'config';

export interface Entry {
  index: number;
  term: number;
  type: EntryType;
  /** Application payload for 'normal'; encoded ConfigChangeRecord for 'config'; empty for 'noop'. */
  data: Uint8Array;
}

/** Term, vote and commit index: persisted before any message that depends on them is sent. */
export interface HardState {
  term: number;
  vote: NodeId;
  commit: number;
}

export interface SnapshotMeta {
  index: number;
  term: number;
  membership: Membership;
}

export interface Snapshot {
  meta: SnapshotMeta;
  data: Uint8Array;
}

/** A membership change requested by the application. */
export type ConfigChange =
  | { type: 'add'; id: NodeId; role: MemberRole; addr: string }
  | { type: 'remove'; id: NodeId }
  | { type: 'set_role'; id: NodeId; role: MemberRole }
  | { type: 'set_addr'; id: NodeId; addr: string };

/** What a 'config' entry carries: the change and the full membership that results. */
export interface ConfigChangeRecord {
  change: ConfigChange;
  membership: Membership;
}

// ---------------------------------------------------------------------------------------------
// Messages

interface MessageBase {
  from: NodeId;
  to: NodeId;
  term: number;
}

export interface VoteRequest extends MessageBase {
  type: 'prevote' | 'vote';
  lastLogIndex: number;
  lastLogTerm: number;
  /** Set when the campaign was started by TimeoutNow: voters then ignore their leader lease. */
  transfer: boolean;
}

export interface VoteResponse extends MessageBase {
  type: 'prevote_resp' | 'vote_resp';
  granted: boolean;
}

export interface AppendRequest extends MessageBase {
  type: 'append';
  prevIndex: number;
  prevTerm: number;
  entries: Entry[];
  commit: number;
  /** Leader's probe sequence; echoed in the response. Used by ReadIndex and the leader lease. */
  seq: number;
  /**
   * The leader's own lease, in ticks remaining when this was sent (0 or absent: none). The
   * follower's lease ends no later than the leader's: it counts these ticks from `leaseEchoTick`,
   * a moment of its own clock known to precede this message (it sent the answer carrying that
   * tick, and the leader had it before sending this).
   */
  leaseTicks?: number;
  /** The latest `tick` the leader received from this follower, echoed back (0 or absent: none). */
  leaseEchoTick?: number;
  /** The `incarnation` that came with `leaseEchoTick`: a restarted follower's ticks start over. */
  leaseEchoIncarnation?: number;
}

export interface AppendResponse extends MessageBase {
  type: 'append_resp';
  success: boolean;
  /** On success: the last index now known to match the leader. */
  matchIndex: number;
  /** On rejection: the prevIndex of the rejected request (to spot stale rejections). */
  rejectIndex: number;
  /** On rejection: a hint for fast backtracking: the follower's last index, or the first index of
   * the conflicting term, with that term (0 when the follower's log is too short). */
  hintIndex: number;
  hintTerm: number;
  seq: number;
  /** The sender's tick count when it sent this (its clock, for the follower lease). */
  tick?: number;
  /** A random number drawn by the sender at start-up, never 0: tells its runs apart. */
  incarnation?: number;
}

export interface SnapshotChunk extends MessageBase {
  type: 'snapshot';
  meta: SnapshotMeta;
  /** Byte offset of `data` within the whole snapshot. */
  offset: number;
  data: Uint8Array;
  totalBytes: number;
  done: boolean;
  seq: number;
}

export interface SnapshotResponse extends MessageBase {
  type: 'snapshot_resp';
  /** Index of the snapshot this answers. */
  snapshotIndex: number;
  /** Next byte offset the follower expects; equals totalBytes once installed. */
  nextOffset: number;
  /** True once the whole snapshot is installed (or was not needed). */
  done: boolean;
  /** The follower's last index after handling; meaningful when done. */
  matchIndex: number;
  seq: number;
}

export interface TimeoutNow extends MessageBase {
  type: 'timeout_now';
  /**
   * The leader's probe sequence when it sent this (at least 1; 0 or absent: an older sender). The
   * target ignores it once it has received a later sequence from the leader: a TimeoutNow that
   * was overtaken can no longer start an election, so a leader whose transfer was called off
   * gets its lease back once the target acknowledged a later sequence.
   */
  seq?: number;
  /** The target's incarnation as the leader knew it (0 or absent: unknown); another run ignores it. */
  incarnation?: number;
}

/** A follower asking the leader to confirm a read index on its behalf. */
export interface ReadIndexRequest extends MessageBase {
  type: 'read_index';
  ctx: string;
}

export interface ReadIndexResponse extends MessageBase {
  type: 'read_index_resp';
  ctx: string;
  /** The confirmed read index, or -1 when the leader could not serve it. */
  index: number;
}

export type Message =
  | VoteRequest
  | VoteResponse
  | AppendRequest
  | AppendResponse
  | SnapshotChunk
  | SnapshotResponse
  | TimeoutNow
  | ReadIndexRequest
  | ReadIndexResponse;

export type MessageType = Message['type'];

// ---------------------------------------------------------------------------------------------
// Core outputs

export type RaftRole = 'follower' | 'precandidate' | 'candidate' | 'leader';

export interface SoftState {
  role: RaftRole;
  leader: NodeId;
  term: number;
}

export interface ReadState {
  ctx: string;
  /** The index the read must wait for (applied >= index), or -1 when the read failed. */
  index: number;
}

/**
 * What the core hands back after inputs. The driver must, in this order:
 * 1. persist `snapshot` (if any), then `entries` (the first entry's index may be at or below the
 *    last persisted index: the log is truncated there first) and `hardState`, and fsync;
 * 2. only then send `messages`;
 * 3. restore `snapshot` into the state machine, apply `committed` in order, deliver `readStates`;
 * 4. call `advance(ready)`.
 */
export interface Ready {
  hardState: HardState | null;
  entries: Entry[];
  snapshot: Snapshot | null;
  messages: Message[];
  committed: Entry[];
  readStates: ReadState[];
  softState: SoftState | null;
}

/** Why a request to the core was refused. Stable codes: the admin API exposes them. */
export type RaftErrorCode =
  | 'not_leader'
  | 'transfer_in_progress'
  | 'config_change_pending'
  | 'leader_not_ready'
  | 'unknown_member'
  | 'member_exists'
  | 'id_removed'
  | 'not_caught_up'
  | 'invalid_request'
  | 'removed'
  /** A proposal or read did not settle within its bound; a proposal may still commit (outcome unknown). */
  | 'proposal_timeout';

export class RaftError extends Error {
  constructor(
    readonly code: RaftErrorCode,
    message: string,
    readonly leader: NodeId = NO_NODE,
  ) {
    super(message);
    this.name = 'RaftError';
  }
}

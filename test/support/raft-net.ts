/**
 * A synchronous, core-level test network for RaftCore, in the spirit of etcd's `network` in
 * raft_test.go: several cores with in-memory storage, a message queue the test controls (deliver
 * one message, deliver or drop matching ones, or `stabilize()` until quiescent), link cuts, lockstep
 * ticks, and crash/restart from exactly what was persisted.
 *
 * Each Ready is handled in the order the core requires: persist snapshot, entries and hard state;
 * then send the messages; then restore the snapshot, apply committed entries, collect read states;
 * then `advance`. Persistence is synchronous and always durable here (the simulation in test/sim
 * covers disks that lose unsynced writes).
 *
 * Built-in safety checks, run on every Ready of every node, so every test checks them:
 * - election safety: at most one leader per term, ever;
 * - state machine safety: every node applies the same entry at each index, in order, exactly once
 *   per incarnation;
 * - a node's term and commit index never go backwards within an incarnation, and its durable term
 *   never goes backwards at all.
 */
import { type CoreStatus, RaftCore, type RaftCoreConfig } from '../../src/raft/core.js';
import { encodeConfigRecord, initialMembership } from '../../src/raft/membership.js';
import type { RecoveredState } from '../../src/raft/storage/types.js';
import type {
  Entry,
  HardState,
  Member,
  MemberRole,
  Message,
  MessageType,
  NodeId,
  ReadState,
  Snapshot,
  SoftState,
} from '../../src/raft/types.js';
import { seededRandom } from '../../src/util/random.js';

export type CoreOptions = Omit<RaftCoreConfig, 'id'>;

export const DEFAULT_CORE: CoreOptions = {
  electionTicks: 10,
  heartbeatTicks: 1,
  preVote: true,
  checkQuorum: true,
  // Scripted scenarios elect at tick 0; the guard has its own test (read.test.ts).
  startupVoteGuard: false,
};

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export const bytes = (s: string): Uint8Array => encoder.encode(s);
export const text = (b: Uint8Array): string => decoder.decode(b);

/** What a node's disk holds: exactly what was persisted through Readies and local compaction. */
export class MemStorage {
  hardState: HardState = { term: 0, vote: 0, commit: 0 };
  snapshot: Snapshot | null = null;
  entries: Entry[] = [];
  writes = 0;

  base(): number {
    return this.snapshot?.meta.index ?? 0;
  }

  lastIndex(): number {
    return this.base() + this.entries.length;
  }

  recovered(): RecoveredState {
    return {
      hardState: { ...this.hardState },
      snapshot: this.snapshot,
      entries: this.entries.slice(),
    };
  }

  /** The PersistBatch contract (src/raft/storage/types.ts). */
  persist(hardState: HardState | null, entries: Entry[], snapshot: Snapshot | null): void {
    this.writes++;
    if (snapshot) {
      this.snapshot = snapshot;
      this.entries = [];
    }
    if (entries.length > 0) {
      const first = entries[0]!.index;
      const keep = first - this.base() - 1;
      if (keep < 0 || keep > this.entries.length) {
        throw new Error(
          `storage: non-contiguous append at ${first} (base ${this.base()}, ${this.entries.length} entries)`,
        );
      }
      this.entries.length = keep;
      for (const e of entries) this.entries.push(e);
    }
    if (hardState) {
      if (hardState.term < this.hardState.term) {
        throw new Error(`storage: durable term went back from ${this.hardState.term} to ${hardState.term}`);
      }
      this.hardState = { ...hardState };
    }
  }

  /** Local compaction: keep the snapshot, drop the entries it covers. */
  compact(snap: Snapshot): void {
    if (this.snapshot && this.snapshot.meta.index >= snap.meta.index) return;
    const drop = Math.max(0, snap.meta.index - this.base());
    this.entries = this.entries.slice(drop);
    this.snapshot = snap;
  }
}

export class SafetyViolation extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SafetyViolation';
  }
}

export class NetNode {
  core!: RaftCore;
  up = false;
  incarnation = 0;
  /** The replicated state machine: the values of applied 'normal' entries, in order. */
  values: string[] = [];
  appliedIndex = 0;
  /** Every entry applied, across incarnations (snapshot restores are noted as a marker). */
  history: { index: number; term: number; incarnation: number }[] = [];
  readStates: ReadState[] = [];
  softStates: SoftState[] = [];
  /** Snapshots restored from the leader (InstallSnapshot completed), across incarnations. */
  snapshotsInstalled = 0;
  lastTerm = 0;
  lastCommit = 0;
  readonly storage = new MemStorage();
  constructor(
    readonly id: NodeId,
    public options: CoreOptions,
  ) {}

  status(): CoreStatus {
    return this.core.status();
  }
}

export interface RaftNetOptions {
  /** Initial members; ids listed as numbers are voters. */
  members: (NodeId | { id: NodeId; role: MemberRole })[];
  seed?: number;
  core?: Partial<CoreOptions>;
  /** Per-node overrides of the core options. */
  perNode?: Record<number, Partial<CoreOptions>>;
  /** Bytes of padding added to every state machine snapshot (to make chunked transfers long). */
  snapshotPadding?: number;
}

type MessagePredicate = (m: Message) => boolean;

export class RaftNet {
  readonly nodes = new Map<NodeId, NetNode>();
  /** Messages in flight, oldest first. */
  queue: Message[] = [];
  /** Directed cuts "a>b": messages from a to b are lost. */
  private cuts = new Set<string>();
  /** Messages for which this returns true are lost when sent. */
  dropIf: MessagePredicate | null = null;
  /** Per-type counters of messages sent (including dropped ones) and dropped. */
  sent: Partial<Record<MessageType, number>> = {};
  dropped: Partial<Record<MessageType, number>> = {};
  /** Every message sent, when `recordMessages` is on. */
  log: Message[] = [];
  recordMessages = false;
  readonly seed: number;
  readonly snapshotPadding: number;

  private leaderOfTerm = new Map<number, NodeId>();
  /** What was applied at each index by anyone: term and a fingerprint of the entry. */
  readonly committed = new Map<number, { term: number; key: string }>();

  constructor(opts: RaftNetOptions) {
    this.seed = opts.seed ?? 1;
    this.snapshotPadding = opts.snapshotPadding ?? 0;
    const members: Member[] = opts.members.map((m) =>
      typeof m === 'number'
        ? { id: m, role: 'voter', addr: `n${m}` }
        : { id: m.id, role: m.role, addr: `n${m.id}` },
    );
    const bootstrap: Entry = {
      index: 1,
      term: 1,
      type: 'config',
      data: encodeConfigRecord({
        change: { type: 'add', id: members[0]!.id, role: 'voter', addr: members[0]!.addr },
        membership: initialMembership(members),
      }),
    };
    for (const m of members) {
      const node = new NetNode(m.id, { ...DEFAULT_CORE, ...opts.core, ...opts.perNode?.[m.id] });
      node.storage.hardState = { term: 1, vote: 0, commit: 0 };
      node.storage.entries = [bootstrap];
      this.nodes.set(m.id, node);
      this.start(m.id);
    }
  }

  // -------------------------------------------------------------------------------------------
  // Nodes

  node(id: NodeId): NetNode {
    const n = this.nodes.get(id);
    if (!n) throw new Error(`no node ${id}`);
    return n;
  }

  core(id: NodeId): RaftCore {
    return this.node(id).core;
  }

  status(id: NodeId): CoreStatus {
    return this.node(id).core.status();
  }

  ids(): NodeId[] {
    return [...this.nodes.keys()];
  }

  upIds(): NodeId[] {
    return this.ids().filter((id) => this.node(id).up);
  }

  /** A new process with an empty disk (it joins once a leader adds it). */
  addNode(id: NodeId, options: Partial<CoreOptions> = {}): NetNode {
    if (this.nodes.has(id)) throw new Error(`node ${id} exists`);
    const first = this.nodes.values().next().value as NetNode | undefined;
    const node = new NetNode(id, { ...(first?.options ?? DEFAULT_CORE), ...options });
    this.nodes.set(id, node);
    this.start(id);
    return node;
  }

  private start(id: NodeId): void {
    const n = this.node(id);
    const recovered = n.storage.recovered();
    n.incarnation++;
    n.core = new RaftCore(
      { id, ...n.options },
      seededRandom(this.seed * 7919 + id * 104729 + n.incarnation * 31),
      recovered,
    );
    n.up = true;
    n.values = recovered.snapshot ? this.decodeSnapshot(recovered.snapshot.data) : [];
    n.appliedIndex = recovered.snapshot?.meta.index ?? 0;
    n.lastTerm = recovered.hardState.term;
    n.lastCommit = recovered.hardState.commit;
    this.process(id);
  }

  /** Stop a node: it loses everything not persisted, and messages in flight to it. */
  crash(id: NodeId): void {
    const n = this.node(id);
    if (!n.up) return;
    n.up = false;
    this.queue = this.queue.filter((m) => m.to !== id);
  }

  /** Start a crashed node again from its storage. */
  restart(id: NodeId): void {
    this.crash(id);
    this.start(id);
  }

  /**
   * Replace `id`'s disk with the bootstrap config entry followed by entries of the given terms
   * (indexes 2, 3, ...), at hard state `term` (vote none, nothing committed), and restart it.
   * For scripting the paper's log figures.
   */
  setLog(id: NodeId, terms: number[], term: number = Math.max(1, ...terms)): void {
    const n = this.node(id);
    const boot = n.storage.entries[0];
    if (boot?.index !== 1) throw new Error('setLog needs the bootstrap entry');
    n.storage.entries = [
      boot,
      ...terms.map(
        (t, k): Entry => ({ index: k + 2, term: t, type: 'normal', data: bytes(`i${k + 2}t${t}`) }),
      ),
    ];
    n.storage.hardState = { term, vote: 0, commit: 0 };
    this.crash(id);
    this.start(id);
  }

  /** The highest-term node that believes it leads, if any. */
  leader(): NodeId | undefined {
    let best: { id: NodeId; term: number } | undefined;
    for (const n of this.nodes.values()) {
      if (!n.up) continue;
      const s = n.status();
      if (s.role === 'leader' && (!best || s.term > best.term)) best = { id: n.id, term: s.term };
    }
    return best?.id;
  }

  leaders(): NodeId[] {
    return this.upIds().filter((id) => this.status(id).role === 'leader');
  }

  // -------------------------------------------------------------------------------------------
  // Network

  cut(from: NodeId, to: NodeId): void {
    this.cuts.add(`${from}>${to}`);
  }

  cutBoth(a: NodeId, b: NodeId): void {
    this.cut(a, b);
    this.cut(b, a);
  }

  isolate(id: NodeId): void {
    for (const other of this.ids()) if (other !== id) this.cutBoth(id, other);
  }

  partition(...groups: NodeId[][]): void {
    for (const a of groups)
      for (const b of groups) if (a !== b) for (const x of a) for (const y of b) this.cutBoth(x, y);
  }

  /** Restore every link of `id`. */
  reconnect(id: NodeId): void {
    for (const k of [...this.cuts]) {
      const [a, b] = k.split('>').map(Number);
      if (a === id || b === id) this.cuts.delete(k);
    }
  }

  heal(): void {
    this.cuts.clear();
  }

  isCut(from: NodeId, to: NodeId): boolean {
    return this.cuts.has(`${from}>${to}`);
  }

  resetStats(): void {
    this.sent = {};
    this.dropped = {};
    this.log = [];
  }

  count(type: MessageType, filter?: MessagePredicate): number {
    if (!filter) return this.sent[type] ?? 0;
    return this.log.filter((m) => m.type === type && filter(m)).length;
  }

  private send(m: Message): void {
    this.sent[m.type] = (this.sent[m.type] ?? 0) + 1;
    if (this.recordMessages) this.log.push(m);
    if (this.isCut(m.from, m.to) || this.dropIf?.(m)) {
      this.dropped[m.type] = (this.dropped[m.type] ?? 0) + 1;
      return;
    }
    // Messages cross process boundaries in production: never share objects between cores.
    this.queue.push(structuredClone(m));
  }

  /** Deliver the oldest queued message matching `pred` (any, by default). Returns it, if any. */
  deliver(pred: MessagePredicate = () => true): Message | undefined {
    const i = this.queue.findIndex(pred);
    if (i < 0) return undefined;
    const [m] = this.queue.splice(i, 1);
    this.stepNode(m!);
    return m;
  }

  /** Deliver queued messages matching `pred`, including ones sent meanwhile, until none is left. */
  deliverAll(pred: MessagePredicate = () => true, max = 100_000): number {
    let n = 0;
    while (this.deliver(pred)) {
      if (++n > max) throw new Error(`deliverAll: more than ${max} messages; livelock?`);
    }
    return n;
  }

  /** Remove queued messages matching `pred` without delivering them. Returns how many. */
  drop(pred: MessagePredicate = () => true): number {
    const before = this.queue.length;
    this.queue = this.queue.filter((m) => !pred(m));
    return before - this.queue.length;
  }

  /** Deliver everything until the network is quiescent. Returns the number of messages delivered. */
  stabilize(max = 100_000): number {
    return this.deliverAll(() => true, max);
  }

  /** Hand a message to its destination directly (it bypasses cuts and the queue). */
  stepNode(m: Message): void {
    const n = this.nodes.get(m.to);
    if (!n?.up) return;
    n.core.step(m);
    this.process(m.to);
  }

  // -------------------------------------------------------------------------------------------
  // Time and requests

  /** Tick every running node (or those in `ids`) `times` times, without delivering anything. */
  tick(times = 1, ids: NodeId[] = this.upIds()): void {
    for (let t = 0; t < times; t++) {
      for (const id of ids) {
        const n = this.node(id);
        if (!n.up) continue;
        n.core.tick();
        this.process(id);
      }
    }
  }

  /** `times` rounds of: tick every running node once, then stabilize. */
  tickAndStabilize(times = 1): void {
    for (let t = 0; t < times; t++) {
      this.tick(1);
      this.stabilize();
    }
  }

  /** Tick and stabilize until `pred` holds; returns the ticks taken, or throws after `maxTicks`. */
  tickUntil(pred: () => boolean, maxTicks = 1000): number {
    for (let t = 0; t <= maxTicks; t++) {
      if (pred()) return t;
      this.tickAndStabilize(1);
    }
    throw new Error(`condition not reached within ${maxTicks} ticks`);
  }

  campaign(id: NodeId): void {
    this.core(id).campaign();
    this.process(id);
  }

  /** Make `id` leader through a normal election over a reliable network, then stabilize. */
  elect(id: NodeId): void {
    this.campaign(id);
    this.stabilize();
    const s = this.status(id);
    if (s.role !== 'leader')
      throw new Error(`node ${id} did not win the election (${s.role}, term ${s.term})`);
  }

  propose(id: NodeId, value: string): { index: number; term: number } {
    const r = this.core(id).propose(bytes(value));
    this.process(id);
    return r;
  }

  /** Run `fn` against a node's core, then handle the Ready it produced. */
  with<T>(id: NodeId, fn: (core: RaftCore) => T): T {
    try {
      return fn(this.core(id));
    } finally {
      this.process(id);
    }
  }

  /**
   * Local compaction on `id`: snapshot its state machine at its applied index, as the driver does,
   * and drop log entries up to `compactTo` (default: the snapshot index).
   */
  compact(id: NodeId, compactTo?: number): Snapshot {
    const n = this.node(id);
    const meta = n.core.snapshotMetaAt(n.appliedIndex);
    if (!meta) throw new Error(`node ${id}: applied index ${n.appliedIndex} is no longer in its log`);
    const snap: Snapshot = { meta, data: this.encodeSnapshot(n.values) };
    n.storage.compact(snap);
    n.core.compact(snap, compactTo ?? meta.index);
    this.process(id);
    return snap;
  }

  // -------------------------------------------------------------------------------------------
  // Ready handling

  /** Handle every Ready `id` has. */
  process(id: NodeId): void {
    const n = this.node(id);
    if (!n.up) return;
    let guard = 0;
    while (n.core.hasReady()) {
      if (++guard > 1000) throw new Error(`node ${id}: hasReady() never settles`);
      const rd = n.core.ready();
      n.storage.persist(rd.hardState, rd.entries, rd.snapshot);
      for (const m of rd.messages) this.send(m);
      if (rd.snapshot) {
        const known = this.committed.get(rd.snapshot.meta.index);
        if (known && known.term !== rd.snapshot.meta.term) {
          throw new SafetyViolation(
            `node ${id} restored a snapshot at ${rd.snapshot.meta.index}/${rd.snapshot.meta.term}; term ${known.term} was applied there`,
          );
        }
        n.values = this.decodeSnapshot(rd.snapshot.data);
        n.appliedIndex = rd.snapshot.meta.index;
        n.snapshotsInstalled++;
      }
      for (const e of rd.committed) this.apply(n, e);
      for (const rs of rd.readStates) n.readStates.push(rs);
      if (rd.softState) this.noteSoftState(n, rd.softState);
      n.core.advance(rd);
      this.checkMonotonic(n);
    }
  }

  private apply(n: NetNode, e: Entry): void {
    if (e.index !== n.appliedIndex + 1) {
      throw new SafetyViolation(`node ${n.id} applied ${e.index} after ${n.appliedIndex}`);
    }
    const key = `${e.type}:${text(e.data)}`;
    const known = this.committed.get(e.index);
    if (known && (known.term !== e.term || known.key !== key)) {
      throw new SafetyViolation(
        `state machine safety: node ${n.id} applied ${e.index}/${e.term}; ${e.index}/${known.term} was applied elsewhere`,
      );
    }
    if (!known) this.committed.set(e.index, { term: e.term, key });
    n.appliedIndex = e.index;
    n.history.push({ index: e.index, term: e.term, incarnation: n.incarnation });
    if (e.type === 'normal') n.values.push(text(e.data));
  }

  private noteSoftState(n: NetNode, s: SoftState): void {
    n.softStates.push(s);
    if (s.role !== 'leader') return;
    const prev = this.leaderOfTerm.get(s.term);
    if (prev !== undefined && prev !== n.id) {
      throw new SafetyViolation(`election safety: two leaders in term ${s.term}: ${prev} and ${n.id}`);
    }
    this.leaderOfTerm.set(s.term, n.id);
  }

  private checkMonotonic(n: NetNode): void {
    const s = n.core.status();
    if (s.term < n.lastTerm) throw new SafetyViolation(`node ${n.id}: term went back to ${s.term}`);
    if (s.commit < n.lastCommit) throw new SafetyViolation(`node ${n.id}: commit went back to ${s.commit}`);
    n.lastTerm = s.term;
    n.lastCommit = s.commit;
  }

  /** Leaders seen per term so far. */
  leadersByTerm(): ReadonlyMap<number, NodeId> {
    return this.leaderOfTerm;
  }

  private encodeSnapshot(values: string[]): Uint8Array {
    return bytes(JSON.stringify({ values, pad: 'x'.repeat(this.snapshotPadding) }));
  }

  private decodeSnapshot(data: Uint8Array): string[] {
    return (JSON.parse(text(data)) as { values: string[] }).values;
  }

  // -------------------------------------------------------------------------------------------
  // Log inspection

  /** `[index, term]` of every entry `id` holds (after its snapshot). */
  logTerms(id: NodeId): [number, number][] {
    const s = this.status(id);
    return this.core(id)
      .entries(s.snapshotIndex + 1, s.lastIndex)
      .map((e) => [e.index, e.term]);
  }

  /** The term of the entry at `index` on every node, in id order (undefined where absent). */
  termAtAll(index: number): (number | undefined)[] {
    return this.ids().map((id) => this.core(id).termAt(index));
  }

  /** Values of the 'normal' entries `id` holds in its log (committed or not). */
  logValues(id: NodeId): string[] {
    const s = this.status(id);
    return this.core(id)
      .entries(s.snapshotIndex + 1, s.lastIndex)
      .filter((e) => e.type === 'normal')
      .map((e) => text(e.data));
  }

  /** Throws unless every running node holds the same entries (index, term, payload) as `ref`. */
  assertLogsEqual(ids: NodeId[] = this.upIds()): void {
    const [ref, ...rest] = ids;
    if (ref === undefined) return;
    const key = (id: NodeId) => {
      const s = this.status(id);
      const es = this.core(id).entries(s.snapshotIndex + 1, s.lastIndex);
      return {
        last: s.lastIndex,
        es: new Map(es.map((e) => [e.index, `${e.term}:${e.type}:${text(e.data)}`])),
      };
    };
    const a = key(ref);
    for (const id of rest) {
      const b = key(id);
      if (a.last !== b.last) throw new Error(`node ${id} last index ${b.last}, node ${ref} ${a.last}`);
      for (const [i, v] of b.es) {
        const w = a.es.get(i);
        if (w !== undefined && w !== v) throw new Error(`node ${id} differs from node ${ref} at ${i}`);
      }
    }
  }
}

export const isType =
  (...types: MessageType[]): MessagePredicate =>
  (m) =>
    types.includes(m.type);

export const between =
  (from: NodeId, to: NodeId, ...types: MessageType[]): MessagePredicate =>
  (m) =>
    m.from === from && m.to === to && (types.length === 0 || types.includes(m.type));

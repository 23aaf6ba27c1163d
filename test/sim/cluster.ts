/**
 * A simulated Raft group: real RaftNode + RaftCore instances on virtual time, a simulated network
 * and simulated disks, and a checker that verifies the Raft safety properties after every step.
 * Used by the randomized simulation (`npm run sim`) and by the scenario tests.
 */
import { encodeConfigRecord, initialMembership } from '../../src/raft/membership.js';
import { RaftNode, type StateMachine } from '../../src/raft/node.js';
import type { PersistBatch } from '../../src/raft/storage/types.js';
import type {
  ConfigChange,
  Entry,
  Member,
  MemberRole,
  Message,
  NodeId,
  SnapshotMeta,
} from '../../src/raft/types.js';
import { silentLogger } from '../../src/util/log.js';
import { type Random, seededRandom } from '../../src/util/random.js';
import { SimDisk } from './disk.js';
import { RELIABLE, SimNetwork } from './network.js';
import { Scheduler } from './scheduler.js';

export class SimViolation extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SimViolation';
  }
}

export interface SimClusterOptions {
  seed: number;
  /** Ids 1..voters start as voters of a bootstrapped group. */
  voters: number;
  heartbeatMs?: number;
  electionTimeoutMs?: number;
  snapshotEveryEntries?: number;
  snapshotTrailingEntries?: number;
  snapshotChunkBytes?: number;
  maxAppendBytes?: number;
  preVote?: boolean;
  checkQuorum?: boolean;
  /** Record a human-readable trace of notable events. */
  trace?: boolean;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** FNV-1a over bytes, continuing from `h`. */
function fnv(h: number, bytes: Uint8Array): number {
  let x = h >>> 0;
  for (let i = 0; i < bytes.length; i++) {
    x ^= bytes[i]!;
    x = Math.imul(x, 16777619) >>> 0;
  }
  return x;
}

function mix(h: number, n: number): number {
  let x = h >>> 0;
  for (let k = 0; k < 4; k++) {
    x ^= (n >>> (8 * k)) & 0xff;
    x = Math.imul(x, 16777619) >>> 0;
  }
  return x;
}

const entryHashes = new WeakMap<Entry, number>();
function entryHash(e: Entry): number {
  let h = entryHashes.get(e);
  if (h === undefined) {
    h = mix(fnv(2166136261, e.data), e.type === 'normal' ? 1 : e.type === 'config' ? 2 : 3);
    entryHashes.set(e, h);
  }
  return h;
}

/** The replicated state in the simulation: the list of client values, in log order. */
class SimStateMachine implements StateMachine {
  values: string[] = [];
  lastApplied = 0;
  constructor(
    private readonly cluster: SimCluster,
    private readonly id: NodeId,
  ) {}
  apply(e: Entry): unknown {
    this.cluster.checkApply(this.id, this.lastApplied, e);
    this.lastApplied = e.index;
    if (e.type === 'normal') this.values.push(decoder.decode(e.data));
    return this.values.length;
  }
  snapshot(): Uint8Array {
    return encoder.encode(JSON.stringify(this.values));
  }
  restore(data: Uint8Array, meta: SnapshotMeta): void {
    this.cluster.checkRestore(this.id, meta);
    this.values = JSON.parse(decoder.decode(data)) as string[];
    this.lastApplied = meta.index;
  }
}

export class SimMember {
  raft: RaftNode | null = null;
  sm: SimStateMachine | null = null;
  up = false;
  incarnation = 0;
  /** Highest term and commit seen from this member's current incarnation (monotonicity checks). */
  lastTerm = 0;
  lastCommit = 0;
  /** Chain hashes of the durable log, parallel to disk.durable.entries, and the base's. */
  chain: number[] = [];
  baseChain = 0;
  constructor(
    readonly id: NodeId,
    readonly disk: SimDisk,
  ) {}
}

export class SimCluster {
  readonly scheduler = new Scheduler();
  readonly random: Random;
  readonly network: SimNetwork;
  readonly members = new Map<NodeId, SimMember>();
  readonly opts: Required<Omit<SimClusterOptions, 'trace'>> & { trace: boolean };
  readonly traceLines: string[] = [];
  traceHash = 2166136261;

  // Checker state.
  private leaderOfTerm = new Map<number, NodeId>();
  private votesGranted = new Map<string, NodeId>();
  /** The committed log as applied by anyone: committed[i] = { term, hash }. */
  readonly committed: { term: number; hash: number }[] = [{ term: 0, hash: 0 }];
  private chainAt = new Map<string, number>();
  /** Values whose proposals resolved (acknowledged as committed and applied). */
  readonly acked = new Set<string>();
  private proposalCounter = 0;

  stats = { elections: 0, crashes: 0, partitions: 0, proposals: 0, transfers: 0, configChanges: 0 };

  constructor(options: SimClusterOptions) {
    this.opts = {
      heartbeatMs: 10,
      electionTimeoutMs: 100,
      snapshotEveryEntries: 64,
      snapshotTrailingEntries: 8,
      snapshotChunkBytes: 1024,
      maxAppendBytes: 4096,
      preVote: true,
      checkQuorum: true,
      trace: false,
      ...options,
    };
    this.random = seededRandom(options.seed);
    this.network = new SimNetwork(this.scheduler, this.random);
    this.network.conditions = { ...RELIABLE };
    this.network.onSend = (m) => this.checkSend(m);
    const members: Member[] = [];
    for (let id = 1; id <= options.voters; id++) members.push({ id, role: 'voter', addr: `sim-${id}` });
    const bootstrap: Entry = {
      index: 1,
      term: 1,
      type: 'config',
      data: encodeConfigRecord({
        change: { type: 'add', id: 1, role: 'voter', addr: 'sim-1' },
        membership: initialMembership(members),
      }),
    };
    for (const m of members) {
      const member = this.createMember(m.id);
      member.disk.durable = {
        hardState: { term: 1, vote: 0, commit: 0 },
        snapshot: null,
        entries: [bootstrap],
      };
      this.recomputeChain(member);
      this.start(m.id);
    }
  }

  // -------------------------------------------------------------------------------------------
  // Control

  /** A new, empty member process (it joins once the leader adds it). */
  addProcess(id: NodeId): SimMember {
    if (this.members.has(id)) throw new Error(`member ${id} exists`);
    const m = this.createMember(id);
    this.start(id);
    return m;
  }

  start(id: NodeId): void {
    const m = this.members.get(id)!;
    if (m.up) return;
    m.up = true;
    m.incarnation++;
    const inc = m.incarnation;
    const alive = () => m.up && m.incarnation === inc;
    const recovered = m.disk.load();
    m.lastTerm = recovered.hardState.term;
    m.lastCommit = recovered.hardState.commit;
    m.sm = new SimStateMachine(this, id);
    m.raft = new RaftNode({
      core: {
        id,
        preVote: this.opts.preVote,
        checkQuorum: this.opts.checkQuorum,
        snapshotChunkBytes: this.opts.snapshotChunkBytes,
        maxAppendBytes: this.opts.maxAppendBytes,
      },
      heartbeatMs: this.opts.heartbeatMs,
      electionTimeoutMs: this.opts.electionTimeoutMs,
      clock: this.scheduler.clockFor(alive),
      random: this.random,
      transport: this.network.transportFor(id, alive),
      storage: m.disk.storage(),
      stateMachine: m.sm,
      recovered,
      logger: silentLogger,
      snapshotEveryEntries: this.opts.snapshotEveryEntries,
      snapshotTrailingEntries: this.opts.snapshotTrailingEntries,
    });
    m.raft.on((e) => {
      if (e.type === 'role' && e.state.role === 'leader') this.checkNewLeader(id, e.state.term);
      if (e.type === 'fatal') throw new SimViolation(`member ${id} hit a fatal error: ${e.error.message}`);
    });
    m.raft.start();
    this.trace(`start ${id}`);
  }

  crash(id: NodeId): void {
    const m = this.members.get(id)!;
    if (!m.up) return;
    m.up = false;
    m.raft?.stop('crashed');
    m.raft = null;
    m.sm = null;
    m.disk.crash();
    this.stats.crashes++;
    this.trace(`crash ${id}`);
  }

  restart(id: NodeId): void {
    this.crash(id);
    this.start(id);
  }

  isolate(id: NodeId): void {
    this.network.isolate(id, [...this.members.keys()]);
    this.stats.partitions++;
    this.trace(`isolate ${id}`);
  }

  partition(groups: NodeId[][]): void {
    this.network.partition(groups);
    this.stats.partitions++;
    this.trace(`partition ${groups.map((g) => g.join(',')).join(' | ')}`);
  }

  cutOneWay(from: NodeId, to: NodeId): void {
    this.network.cutLink(from, to);
    this.stats.partitions++;
    this.trace(`cut ${from}>${to}`);
  }

  heal(): void {
    this.network.heal();
    this.trace('heal');
  }

  /** Advance virtual time by `ms`, checking invariants after every step. */
  run(ms: number): void {
    this.scheduler.runUntil(this.scheduler.now + ms, () => this.checkStep());
  }

  /** Run until `pred` holds (checked every `pollMs`), or `timeoutMs` passes. */
  runUntil(pred: () => boolean, timeoutMs: number, pollMs = 5): boolean {
    const deadline = this.scheduler.now + timeoutMs;
    while (this.scheduler.now < deadline) {
      if (pred()) return true;
      this.run(pollMs);
    }
    return pred();
  }

  /** Live members that believe they lead, highest term first. */
  leaders(): SimMember[] {
    return [...this.members.values()]
      .filter((m) => m.up && m.raft!.status().role === 'leader')
      .sort((a, b) => b.raft!.status().term - a.raft!.status().term);
  }

  /** The single leader of the highest term that a majority of live members follow, if any. */
  stableLeader(): SimMember | undefined {
    const l = this.leaders()[0];
    if (!l) return undefined;
    const st = l.raft!.status();
    const voters = st.membership.members.filter((x) => x.role !== 'learner');
    const following = voters.filter((x) => {
      const m = this.members.get(x.id);
      return m?.up && m.raft!.status().leader === l.id && m.raft!.status().term === st.term;
    });
    return following.length * 2 > voters.length ? l : undefined;
  }

  /** Propose a fresh client value through member `id`; resolves true when acknowledged. */
  propose(id: NodeId): Promise<boolean> {
    const m = this.members.get(id);
    if (!m?.up) return Promise.resolve(false);
    const value = `v${++this.proposalCounter}`;
    this.stats.proposals++;
    return m.raft!.propose(encoder.encode(value)).then(
      () => {
        this.acked.add(value);
        return true;
      },
      () => false,
    );
  }

  configChange(id: NodeId, change: ConfigChange): Promise<boolean> {
    const m = this.members.get(id);
    if (!m?.up) return Promise.resolve(false);
    this.trace(`config ${JSON.stringify(change)} via ${id}`);
    return m.raft!.proposeConfigChange(change).then(
      () => {
        this.stats.configChanges++;
        this.trace(`config applied ${JSON.stringify(change)}`);
        return true;
      },
      () => false,
    );
  }

  memberRole(id: NodeId): MemberRole | null {
    const l = this.stableLeader() ?? this.leaders()[0];
    if (!l) return null;
    return l.raft!.status().membership.members.find((x) => x.id === id)?.role ?? null;
  }

  trace(line: string): void {
    const full = `${this.scheduler.now} ${line}`;
    this.traceHash = fnv(this.traceHash, encoder.encode(full));
    if (this.opts.trace) this.traceLines.push(full);
  }

  // -------------------------------------------------------------------------------------------
  // Final checks

  /**
   * After faults stop: every acknowledged value is applied, exactly once, on every member of the
   * final configuration, and they all applied the same sequence.
   */
  checkConverged(): string | null {
    const l = this.stableLeader();
    if (!l) return 'no stable leader';
    const members = l.raft!.status().membership.members;
    const lApplied = l.raft!.applied;
    const ref = l.sm!.values;
    for (const x of members) {
      const m = this.members.get(x.id);
      if (!m?.up) return `member ${x.id} is not running`;
      if (m.raft!.applied !== lApplied)
        return `member ${x.id} applied ${m.raft!.applied}, leader ${lApplied}`;
      const vals = m.sm!.values;
      if (vals.length !== ref.length) return `member ${x.id} has ${vals.length} values, leader ${ref.length}`;
      const seen = new Set<string>();
      for (let i = 0; i < vals.length; i++) {
        if (vals[i] !== ref[i]) return `member ${x.id} differs from the leader at value ${i}`;
        if (seen.has(vals[i]!)) return `member ${x.id} applied ${vals[i]} twice`;
        seen.add(vals[i]!);
      }
      for (const v of this.acked)
        if (!seen.has(v)) return `acknowledged value ${v} missing on member ${x.id}`;
    }
    return null;
  }

  // -------------------------------------------------------------------------------------------
  // Invariant checks

  private createMember(id: NodeId): SimMember {
    const disk = new SimDisk(this.scheduler, this.random);
    const m = new SimMember(id, disk);
    disk.onDurable = (batch) => this.checkDurable(m, batch);
    disk.onCompacted = (dropped) => {
      if (dropped > 0) {
        m.baseChain = m.chain[dropped - 1] ?? m.baseChain;
        m.chain = m.chain.slice(dropped);
      }
    };
    this.members.set(id, m);
    return m;
  }

  /**
   * Lease safety, at every step of virtual time (every member's clock runs at the same rate
   * here): all valid leases, a leader's or a follower's, belong to one term. A follower's lease
   * must end before a leader of a later term can act, like its old leader's own lease.
   */
  private checkLeases(): void {
    let holder: { id: NodeId; term: number; role: string } | null = null;
    for (const m of this.members.values()) {
      if (!m.up) continue;
      const l = m.raft!.lease();
      if (!l.valid) continue;
      if (holder && holder.term !== l.term) {
        throw new SimViolation(
          `lease safety: member ${holder.id} (${holder.role}, term ${holder.term}) and member ${m.id} (${l.role}, term ${l.term}) both hold a valid lease`,
        );
      }
      if (!holder || l.role === 'leader') holder = { id: m.id, term: l.term, role: l.role };
    }
  }

  /** After every step: per-member monotonicity and index ordering. */
  private checkStep(): void {
    this.checkLeases();
    for (const m of this.members.values()) {
      if (!m.up) continue;
      const s = m.raft!.status();
      if (s.term < m.lastTerm)
        throw new SimViolation(`member ${m.id}: term went back from ${m.lastTerm} to ${s.term}`);
      if (s.commit < m.lastCommit)
        throw new SimViolation(`member ${m.id}: commit went back from ${m.lastCommit} to ${s.commit}`);
      // (applied may trail the log's base briefly: a received snapshot is restored after it is persisted)
      if (!(s.snapshotIndex <= s.commit && s.applied <= s.commit && s.commit <= s.lastIndex)) {
        throw new SimViolation(
          `member ${m.id}: index order broken: snapshot ${s.snapshotIndex} applied ${s.applied} commit ${s.commit} last ${s.lastIndex}`,
        );
      }
      m.lastTerm = s.term;
      m.lastCommit = s.commit;
      // Committed entries never change: whatever this member holds at or below its commit index
      // must be what the group committed there.
      const top = Math.min(s.commit, this.committed.length - 1);
      if (top > s.snapshotIndex) {
        const t = m.raft!.termAt(top);
        if (t !== undefined && t !== this.committed[top]!.term) {
          throw new SimViolation(
            `member ${m.id}: committed entry ${top} has term ${t}, the group committed term ${this.committed[top]!.term}`,
          );
        }
      }
    }
  }

  /** Election safety (one leader per term) and leader completeness. */
  private checkNewLeader(id: NodeId, term: number): void {
    const prev = this.leaderOfTerm.get(term);
    if (prev !== undefined && prev !== id)
      throw new SimViolation(`two leaders in term ${term}: ${prev} and ${id}`);
    this.leaderOfTerm.set(term, id);
    this.stats.elections++;
    this.trace(`leader ${id} term ${term}`);
    const m = this.members.get(id)!;
    const snap = m.raft!.status().snapshotIndex;
    for (let i = snap + 1; i < this.committed.length; i++) {
      const t = m.raft!.termAt(i);
      if (t !== this.committed[i]!.term) {
        throw new SimViolation(
          `leader completeness: new leader ${id} (term ${term}) has term ${t} at committed index ${i}, expected ${this.committed[i]!.term}`,
        );
      }
    }
  }

  /** State machine safety: every member applies the same entry at each index, in order. */
  checkApply(id: NodeId, lastApplied: number, e: Entry): void {
    if (e.index !== lastApplied + 1)
      throw new SimViolation(`member ${id} applied ${e.index} after ${lastApplied}`);
    const h = entryHash(e);
    const known = this.committed[e.index];
    if (known) {
      if (known.term !== e.term || known.hash !== h) {
        throw new SimViolation(
          `state machine safety: member ${id} applied a different entry at ${e.index} (term ${e.term} vs ${known.term})`,
        );
      }
    } else {
      if (e.index !== this.committed.length)
        throw new SimViolation(`member ${id} applied ${e.index} with a gap in the committed log`);
      this.committed.push({ term: e.term, hash: h });
    }
  }

  checkRestore(id: NodeId, meta: SnapshotMeta): void {
    const known = this.committed[meta.index];
    if (!known || known.term !== meta.term) {
      throw new SimViolation(
        `member ${id} restored a snapshot at ${meta.index}/${meta.term} that is not the committed entry there`,
      );
    }
  }

  /** Votes: a member never grants its vote to two candidates in one term (durable vote). */
  private checkSend(m: Message): void {
    if (m.type === 'vote_resp' && m.granted) {
      const key = `${m.from}@${m.term}`;
      const prev = this.votesGranted.get(key);
      if (prev !== undefined && prev !== m.to) {
        throw new SimViolation(`member ${m.from} voted for ${prev} and ${m.to} in term ${m.term}`);
      }
      this.votesGranted.set(key, m.to);
    }
  }

  /** Log matching, on durable logs: the same (index, term) always has the same entry and prefix. */
  private checkDurable(m: SimMember, batch: PersistBatch): void {
    if (batch.snapshot) this.recomputeChain(m);
    else if (batch.entries.length > 0) {
      const base = m.disk.durable.snapshot?.meta.index ?? 0;
      const first = batch.entries[0]!.index;
      m.chain.length = first - base - 1;
      let h = m.chain.length > 0 ? m.chain[m.chain.length - 1]! : m.baseChain;
      for (const e of batch.entries) {
        h = mix(mix(h, e.term), entryHash(e));
        m.chain.push(h);
        this.noteChain(m.id, e.index, e.term, h);
      }
    }
  }

  private recomputeChain(m: SimMember): void {
    const snap = m.disk.durable.snapshot;
    m.baseChain = snap
      ? (this.chainAt.get(`${snap.meta.index}:${snap.meta.term}`) ?? mix(snap.meta.index, snap.meta.term))
      : 0;
    m.chain = [];
    let h = m.baseChain;
    for (const e of m.disk.durable.entries) {
      h = mix(mix(h, e.term), entryHash(e));
      m.chain.push(h);
      this.noteChain(m.id, e.index, e.term, h);
    }
  }

  private noteChain(id: NodeId, index: number, term: number, h: number): void {
    const key = `${index}:${term}`;
    const prev = this.chainAt.get(key);
    if (prev === undefined) this.chainAt.set(key, h);
    else if (prev !== h)
      throw new SimViolation(
        `log matching: member ${id} holds entry ${index}/${term} with a different log before it`,
      );
  }
}

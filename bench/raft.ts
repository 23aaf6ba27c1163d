/**
 * `npm run bench -- raft`: commit throughput and latency of the Raft core with real storage.
 *
 * A 3-member group in one process: three RaftNode instances, each with its own FileStorage
 * (one write + one fdatasync per persisted batch) in a fresh temporary directory, talking over an
 * in-process transport (bench/inproc-network.ts: asynchronous, no serialization), on the system
 * clock, with a counter as the state machine. Member 1 campaigns; then, for each payload size and
 * each number of outstanding proposals, a closed loop runs for a fixed time: `clients` loops each
 * propose to the leader, wait until the proposal resolves (committed and applied on the leader),
 * record the latency and propose again.
 *
 * The whole run is done twice when /dev/shm is a tmpfs: `disk: real` (os.tmpdir(), or
 * .bench-tmp/ in the repository when the temporary directory is itself in memory) and
 * `disk: tmpfs`, where fdatasync costs next to nothing: the difference is the price of durability.
 */
import { existsSync } from 'node:fs';
import { mkdir, open, rm } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { encodeConfigRecord, initialMembership } from '../src/raft/membership.js';
import { RaftNode, type StateMachine } from '../src/raft/node.js';
import { FileStorage } from '../src/raft/storage/file-storage.js';
import type { Done, PersistBatch, RaftStorage } from '../src/raft/storage/types.js';
import type { Entry, HardState, Member, Snapshot, SnapshotMeta } from '../src/raft/types.js';
import { systemClock } from '../src/util/clock.js';
import { silentLogger } from '../src/util/log.js';
import { systemRandom } from '../src/util/random.js';
import { isMemoryFs, mountOf, percentile, REPO_ROOT, round, tempDir } from './env.js';
import { InProcNetwork } from './inproc-network.js';
import type { Benchmark, BenchOptions, BenchRow } from './types.js';

/** The daemon's defaults (PRODUCT.md, [raft]). */
const HEARTBEAT_MS = 100;
const ELECTION_TIMEOUT_MS = 1000;
const CLIENTS = [1, 16, 256];
const PAYLOAD_BYTES = [64, 1024];
const DEFAULT_DURATION_MS = 5000;
const QUICK_DURATION_MS = 1000;
/** The event-loop delay monitor's timer period; its samples include it, so it is subtracted. */
const LOOP_MONITOR_MS = 10;

/** The replicated state: how many normal entries were applied. */
class CounterStateMachine implements StateMachine {
  count = 0;
  apply(entry: Entry): unknown {
    if (entry.type === 'normal') this.count++;
    return this.count;
  }
  snapshot(): Uint8Array {
    const bytes = new Uint8Array(8);
    new DataView(bytes.buffer).setFloat64(0, this.count);
    return bytes;
  }
  restore(data: Uint8Array, _meta: SnapshotMeta): void {
    this.count = data.length >= 8 ? new DataView(data.buffer, data.byteOffset, 8).getFloat64(0) : 0;
  }
}

/** Storage wrapper counting persists (each one write + one fdatasync in FileStorage) and timing them. */
class CountingStorage implements RaftStorage {
  persists = 0;
  /** Persists that carried nothing but a new commit index (no entries, snapshot, term or vote). */
  commitOnly = 0;
  entries = 0;
  snapshots = 0;
  /** Milliseconds from persist() to done, in completion order. */
  readonly persistMs: number[] = [];
  constructor(
    private readonly inner: RaftStorage,
    private hardState: HardState,
  ) {}
  persist(batch: PersistBatch, done: Done): void {
    this.persists++;
    this.entries += batch.entries.length;
    const hs = batch.hardState;
    if (hs) {
      if (batch.entries.length === 0 && !batch.snapshot && hs.term === this.hardState.term) {
        if (hs.vote === this.hardState.vote) this.commitOnly++;
      }
      this.hardState = hs;
    }
    const t0 = performance.now();
    this.inner.persist(batch, (err) => {
      this.persistMs.push(performance.now() - t0);
      done(err);
    });
  }
  saveSnapshot(snapshot: Snapshot, done: Done): void {
    this.snapshots++;
    this.inner.saveSnapshot(snapshot, done);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

interface DiskTarget {
  label: 'real' | 'tmpfs';
  base: string;
  fs: string;
}

async function diskTargets(progress: (m: string) => void): Promise<DiskTarget[]> {
  const targets: DiskTarget[] = [];
  let base = os.tmpdir();
  let mount = mountOf(base);
  if (isMemoryFs(mount?.fs)) {
    base = join(REPO_ROOT, '.bench-tmp');
    await mkdir(base, { recursive: true });
    mount = mountOf(base);
  }
  if (isMemoryFs(mount?.fs)) progress(`warning: ${base} is on ${mount?.fs}: the "real" disk is in memory`);
  targets.push({ label: 'real', base, fs: mount ? `${mount.fs} ${mount.device}` : 'unknown' });
  const shm = mountOf('/dev/shm');
  if (existsSync('/dev/shm') && isMemoryFs(shm?.fs))
    targets.push({ label: 'tmpfs', base: '/dev/shm', fs: 'tmpfs' });
  else progress('no tmpfs at /dev/shm: skipping the in-memory comparison');
  return targets;
}

function persistOnce(storage: RaftStorage, batch: PersistBatch): Promise<void> {
  return new Promise((resolve, reject) => storage.persist(batch, (err) => (err ? reject(err) : resolve())));
}

/** Raw write(128 B) + fdatasync latency in `dir`, for context: the floor under every commit. */
async function probeFsync(dir: string, durationMs: number): Promise<number[]> {
  const path = join(dir, 'fsync-probe');
  const file = await open(path, 'a');
  const buf = Buffer.alloc(128, 0x5a);
  const lat: number[] = [];
  try {
    const end = performance.now() + durationMs;
    while (performance.now() < end || lat.length < 10) {
      const t0 = performance.now();
      await file.write(buf);
      await file.datasync();
      lat.push(performance.now() - t0);
    }
  } finally {
    await file.close();
    await rm(path, { force: true });
  }
  return lat.sort((a, b) => a - b);
}

class Group {
  leader: RaftNode | null = null;
  fatal: Error | null = null;
  private constructor(
    private readonly temp: { path: string; release(): Promise<void> },
    readonly nodes: RaftNode[],
    readonly storages: CountingStorage[],
    readonly network: InProcNetwork,
  ) {}

  /** Three bootstrapped members, started; member 1 campaigns. Resolves once a leader has committed. */
  static async start(base: string): Promise<Group> {
    const temp = await tempDir(base, 'raftinel-bench-');
    const members: Member[] = [1, 2, 3].map((id) => ({ id, role: 'voter', addr: `inproc-${id}` }));
    const bootstrap: Entry = {
      index: 1,
      term: 1,
      type: 'config',
      data: encodeConfigRecord({
        change: { type: 'add', id: 1, role: 'voter', addr: 'inproc-1' },
        membership: initialMembership(members),
      }),
    };
    const network = new InProcNetwork();
    const group = new Group(temp, [], [], network);
    try {
      for (const m of members) {
        const nodeDir = join(temp.path, `node${m.id}`);
        // Write the bootstrap entry, then reopen: the member starts from what recovery reads back.
        const fresh = await FileStorage.open(nodeDir, { nodeId: m.id });
        await persistOnce(fresh.storage, {
          hardState: { term: 1, vote: 0, commit: 0 },
          entries: [bootstrap],
          snapshot: null,
        });
        await fresh.storage.close();
        const { storage, state } = await FileStorage.open(nodeDir, { nodeId: m.id });
        const counting = new CountingStorage(storage, state.hardState);
        group.storages.push(counting);
        const node = new RaftNode({
          core: { id: m.id, preVote: true, checkQuorum: true },
          heartbeatMs: HEARTBEAT_MS,
          electionTimeoutMs: ELECTION_TIMEOUT_MS,
          clock: systemClock,
          random: systemRandom,
          transport: network.transportFor(m.id),
          storage: counting,
          stateMachine: new CounterStateMachine(),
          recovered: state,
          logger: silentLogger,
        });
        node.on((e) => {
          if (e.type === 'fatal') group.fatal ??= e.error;
          if (e.type === 'role' && e.state.role === 'leader') group.leader = node;
          else if (e.type === 'role' && group.leader === node) group.leader = null;
        });
        group.nodes.push(node);
      }
      for (const node of group.nodes) node.start();
      group.nodes[0]!.campaign();
      const deadline = performance.now() + 5 * ELECTION_TIMEOUT_MS;
      while (!group.leader) {
        if (group.fatal) throw group.fatal;
        if (performance.now() > deadline) throw new Error('no leader elected within 5 election timeouts');
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      await group.leader.propose(new Uint8Array(1));
      return group;
    } catch (err) {
      await group.close();
      throw err;
    }
  }

  get dir(): string {
    return this.temp.path;
  }

  async close(): Promise<void> {
    for (const node of this.nodes) node.stop('benchmark finished');
    this.network.close();
    await Promise.allSettled(this.storages.map((s) => s.close()));
    await this.temp.release();
  }

  counters() {
    const leaderIdx = this.leader ? this.nodes.indexOf(this.leader) : -1;
    const leaderStorage = this.storages[leaderIdx];
    return {
      persists: this.storages.reduce((a, s) => a + s.persists, 0),
      commitOnly: this.storages.reduce((a, s) => a + s.commitOnly, 0),
      snapshots: this.storages.reduce((a, s) => a + s.snapshots, 0),
      leaderPersists: leaderStorage?.persists ?? 0,
      leaderEntries: leaderStorage?.entries ?? 0,
      leaderPersistSamples: leaderStorage?.persistMs.length ?? 0,
      leaderStorage,
      messages: this.network.sent,
    };
  }
}

interface LoopResult {
  /** Latencies of the proposals that resolved, ascending. */
  latencies: number[];
  errors: number;
  firstError: Error | null;
  elapsedMs: number;
}

/** `clients` closed loops proposing to the current leader for `durationMs`. */
async function closedLoop(
  group: Group,
  clients: number,
  payload: Uint8Array,
  durationMs: number,
): Promise<LoopResult> {
  const latencies: number[] = [];
  let errors = 0;
  let firstError: Error | null = null;
  const start = performance.now();
  const deadline = start + durationMs;
  const client = async () => {
    while (performance.now() < deadline) {
      if (group.fatal) throw group.fatal;
      const leader = group.leader;
      if (!leader) {
        await new Promise((resolve) => setTimeout(resolve, 5));
        continue;
      }
      const t0 = performance.now();
      try {
        await leader.propose(payload);
        latencies.push(performance.now() - t0);
      } catch (err) {
        errors++;
        firstError ??= err as Error;
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    }
  };
  await Promise.all(Array.from({ length: clients }, client));
  return {
    latencies: latencies.sort((a, b) => a - b),
    errors,
    firstError,
    elapsedMs: performance.now() - start,
  };
}

async function measure(
  group: Group,
  target: DiskTarget,
  rawFsync: number[],
  clients: number,
  payloadBytes: number,
  durationMs: number,
): Promise<BenchRow> {
  const payload = new Uint8Array(payloadBytes).fill(0x61);
  const before = group.counters();
  const loop = monitorEventLoopDelay({ resolution: LOOP_MONITOR_MS });
  loop.enable();
  const r = await closedLoop(group, clients, payload, durationMs);
  loop.disable();
  const after = group.counters();
  const seconds = r.elapsedMs / 1000;
  const n = r.latencies.length;
  const leaderPersists = after.leaderPersists - before.leaderPersists;
  const leaderSameAsBefore = before.leaderStorage === after.leaderStorage;
  const persistMs =
    leaderSameAsBefore && after.leaderStorage
      ? after.leaderStorage.persistMs.slice(before.leaderPersistSamples).sort((a, b) => a - b)
      : [];
  const loopMs = (ns: number) => round(Math.max(0, ns / 1e6 - LOOP_MONITOR_MS), 1);
  return {
    system: 'raftinel',
    disk: target.label,
    fs: target.fs,
    payload_bytes: payloadBytes,
    clients,
    duration_s: round(seconds, 2),
    commits: n,
    commits_per_s: round(n / seconds, 0),
    p50_ms: round(percentile(r.latencies, 50)),
    p90_ms: round(percentile(r.latencies, 90)),
    p99_ms: round(percentile(r.latencies, 99)),
    max_ms: round(r.latencies[n - 1] ?? Number.NaN),
    errors: r.errors,
    first_error: r.firstError ? r.firstError.message : null,
    fsyncs_per_s: round((after.persists - before.persists) / seconds, 0),
    commit_only_fsyncs_pct:
      after.persists > before.persists
        ? round((100 * (after.commitOnly - before.commitOnly)) / (after.persists - before.persists), 0)
        : null,
    leader_entries_per_fsync:
      leaderSameAsBefore && leaderPersists > 0
        ? round((after.leaderEntries - before.leaderEntries) / leaderPersists, 1)
        : null,
    leader_fsync_p50_ms: persistMs.length > 0 ? round(percentile(persistMs, 50)) : null,
    raw_fsync_p50_ms: round(percentile(rawFsync, 50)),
    raw_fsync_p99_ms: round(percentile(rawFsync, 99)),
    snapshots: after.snapshots - before.snapshots,
    msgs_per_s: round((after.messages - before.messages) / seconds, 0),
    loop_delay_p99_ms: loopMs(loop.percentile(99)),
    loop_delay_max_ms: loopMs(loop.max),
  };
}

async function* run(opts: BenchOptions): AsyncGenerator<BenchRow> {
  const durationMs = opts.durationMs ?? (opts.quick ? QUICK_DURATION_MS : DEFAULT_DURATION_MS);
  const warmupMs = Math.min(1000, Math.round(durationMs / 5));
  const probeMs = Math.min(500, Math.round(durationMs / 2));
  for (const target of await diskTargets(opts.progress)) {
    opts.progress(`raft: ${target.label} disk (${target.fs}) under ${target.base}`);
    const group = await Group.start(target.base);
    try {
      const rawFsync = await probeFsync(group.dir, probeMs);
      // Warm up the JIT and the files before the first measurement.
      await closedLoop(group, 16, new Uint8Array(64), warmupMs);
      for (const payloadBytes of PAYLOAD_BYTES) {
        for (const clients of CLIENTS) {
          opts.progress(`raft: ${target.label}, ${payloadBytes} B, ${clients} outstanding, ${durationMs} ms`);
          yield await measure(group, target, rawFsync, clients, payloadBytes, durationMs);
          if (group.fatal) throw group.fatal;
        }
      }
    } finally {
      await group.close();
    }
  }
}

const raft: Benchmark = {
  name: 'raft',
  description:
    '3-member Raft group in one process, FileStorage with fdatasync: commits/s and commit latency ' +
    'at 1, 16 and 256 outstanding proposals, 64 B and 1 KiB payloads, real disk vs tmpfs',
  columns: [
    'system',
    'disk',
    'payload_bytes',
    'clients',
    'commits_per_s',
    'p50_ms',
    'p90_ms',
    'p99_ms',
    'max_ms',
    'errors',
    'fsyncs_per_s',
    'commit_only_fsyncs_pct',
    'leader_entries_per_fsync',
    'raw_fsync_p50_ms',
    'loop_delay_max_ms',
    'cpu_self_pct',
    'cpu_other_cores',
    'loaded',
  ],
  run,
};

export default raft;

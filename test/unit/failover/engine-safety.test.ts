/**
 * The failover engine on virtual time, with the real ClusterState, JobRunner and FailoverEngine,
 * a Raft stand-in that commits at once (one leader, its lease switchable), and a Redis model that
 * keeps replication ids the way Redis 7.0 does. Issue 9: items 1, 6, 7, 8 and the "also seen" list.
 */
import { describe, expect, it } from 'vitest';
import { encodeCommand } from '../../../src/cluster/commands.js';
import { JobRunner } from '../../../src/cluster/jobs.js';
import type { ShardNode } from '../../../src/cluster/shards.js';
import { ClusterState } from '../../../src/cluster/state.js';
import type { FailoverConfig } from '../../../src/config/types.js';
import { FailoverEngine, FailoverRefused } from '../../../src/failover/engine.js';
import type { NodeReport } from '../../../src/failover/prober.js';
import {
  parseInfo,
  type RedisAdapter,
  RedisCommandError,
  type RedisRef,
} from '../../../src/failover/redis.js';
import type { RaftNode } from '../../../src/raft/node.js';
import { type NodeId, RaftError } from '../../../src/raft/types.js';
import type { Clock } from '../../../src/util/clock.js';
import { silentLogger } from '../../../src/util/log.js';
import { Scheduler } from '../../sim/scheduler.js';
import { shardSettings } from '../../support/shard-settings.js';

const M = 'm:1';
const R1 = 'r1:1';
const R2 = 'r2:1';
const SHARD = 'mymaster';
const DOWN_AFTER_MS = 1000;

let idSeq = 0;
// Zero-padded on the left: 'id1' padded on the right would equal 'id10'.
const newId = () => `id${String(++idSeq).padStart(38, '0')}`;

/** One Redis server: role, upstream, replication ids and offset, keys. */
class FakeRedis {
  up = true;
  role: 'master' | 'slave' = 'master';
  upstream: string | null = null;
  /** master_link_status of a replica. */
  linkUp = false;
  replId = newId();
  replId2 = '';
  offset = 0;
  keys = 0;
  /** rdb_last_load_keys_loaded (null: not reported, as before Redis 7.0). */
  loadedKeys: number | null = null;
  secondReplOffset = -1;
  runId = newId();
  /** REPLICAOF runs, but the INFO after it times out. */
  infoAfterReconfigureTimesOut = false;
  /** The next reconfigure attempts fail outright. */
  failReconfigures = 0;
  /** Calls get no answer: they time out (a cut link, a stopped process). */
  hang = false;
  /** Runs once after the next INFO is answered (the server changes right after being read). */
  afterInfo: (() => void) | null = null;
  /** A master's `slaveN:` lines: the replicas it lists (none unless a test says so). */
  listed: string[] = [];
  /** A replica's replica-priority and replica-announced (INFO slave_priority, replica_announced). */
  priority = 100;
  announced = true;
  constructor(readonly addr: string) {}

  /**
   * A restart: a new run id and replication id; `fromRdb` keeps the dataset as Redis 7.0 restores
   * a master from its RDB (the old id as replid2, from the RDB's offset + 1). `after` overrides.
   */
  restart(o: { fromRdb?: boolean } = {}, after: Partial<FakeRedis> = {}): void {
    this.runId = newId();
    if (o.fromRdb) {
      this.replId2 = this.replId;
      this.secondReplOffset = (after.offset ?? this.offset) + 1;
      this.loadedKeys = after.keys ?? this.keys;
    }
    this.replId = newId();
    Object.assign(this, after);
  }

  text(): string {
    const [host, port] = (this.upstream ?? ':').split(':');
    return [
      `run_id:${this.runId}`,
      `role:${this.role}`,
      ...(this.role === 'slave'
        ? [
            `master_host:${host}`,
            `master_port:${port}`,
            `master_link_status:${this.linkUp ? 'up' : 'down'}`,
            'master_sync_in_progress:0',
            `slave_repl_offset:${this.offset}`,
            'master_link_down_since_seconds:1',
            `slave_priority:${this.priority}`,
            `replica_announced:${this.announced ? 1 : 0}`,
          ]
        : [
            `connected_slaves:${this.listed.length}`,
            ...this.listed.map((a, i) => {
              const [h, p] = a.split(':');
              return `slave${i}:ip=${h},port=${p},state=online,offset=${this.offset},lag=0`;
            }),
          ]),
      `master_replid:${this.replId}`,
      `master_replid2:${this.replId2 || '0'.repeat(40)}`,
      `master_repl_offset:${this.offset}`,
      `second_repl_offset:${this.secondReplOffset}`,
      `db0:keys=${this.keys},expires=0`,
      ...(this.loadedKeys === null ? [] : [`rdb_last_load_keys_loaded:${this.loadedKeys}`, 'aof_enabled:0']),
    ].join('\r\n');
  }
}

class FakeAdapter implements RedisAdapter {
  readonly servers = new Map<string, FakeRedis>();
  readonly calls: string[] = [];
  constructor(private readonly clock: Clock) {}

  /** A call to a hanging server: it times out after `timeoutMs`, as ioredis's would. */
  private async answer(node: RedisRef, timeoutMs: number | undefined): Promise<FakeRedis> {
    const r = this.servers.get(node.addr);
    if (r?.hang) {
      const ms = timeoutMs ?? 1000;
      await new Promise<never>((_, reject) =>
        this.clock.setTimeout(() => reject(new RedisCommandError(node.addr, `timed out after ${ms} ms`)), ms),
      );
    }
    return this.server(node);
  }

  add(r: FakeRedis): FakeRedis {
    this.servers.set(r.addr, r);
    return r;
  }

  private server(node: RedisRef): FakeRedis {
    const r = this.servers.get(node.addr);
    if (!r?.up) throw new RedisCommandError(node.addr, 'connect ECONNREFUSED');
    return r;
  }

  async ping(node: RedisRef, timeoutMs?: number): Promise<void> {
    await this.answer(node, timeoutMs);
  }

  async info(node: RedisRef, timeoutMs?: number) {
    const r = await this.answer(node, timeoutMs);
    const text = r.text();
    const after = r.afterInfo;
    r.afterInfo = null;
    after?.();
    return parseInfo(text);
  }

  async reconfigure(node: RedisRef, target: string | null) {
    const r = this.server(node);
    this.calls.push(`${node.addr} REPLICAOF ${target ?? 'NO ONE'}`);
    if (r.failReconfigures > 0) {
      r.failReconfigures--;
      throw new RedisCommandError(node.addr, 'connection reset');
    }
    if (target === null) {
      if (r.role === 'slave') {
        r.replId2 = r.replId;
        r.replId = newId();
      }
      r.role = 'master';
      r.upstream = null;
    } else {
      r.role = 'slave';
      r.upstream = target;
      const up = this.servers.get(target);
      if (up?.up && up.role === 'master') {
        r.replId = up.replId;
        r.offset = up.offset;
        r.keys = up.keys;
      }
    }
    if (r.infoAfterReconfigureTimesOut)
      throw new RedisCommandError(node.addr, 'INFO timed out after 1000 ms');
    return parseInfo(r.text());
  }

  async pauseWrites(node: RedisRef) {
    this.server(node);
  }
  async unpause(node: RedisRef) {
    this.server(node);
  }
  async configSet(node: RedisRef) {
    this.server(node);
  }
  forget(): void {}
  async close(): Promise<void> {}
}

/** A Raft stand-in: this node leads, every proposal commits at once; the lease can be taken away. */
class FakeRaft {
  term = 1;
  leaseValid = true;
  voters: NodeId[] = [1];
  learners: NodeId[] = [];
  index = 0;
  /** A leadership transfer under way (proposals are refused, as the real node does). */
  transferee: NodeId = 0;
  /** Refuse the next proposals for which this returns true (a storage error, say). */
  failProposal: ((cmd: { t: string; kind?: string; state?: string }) => boolean) | null = null;
  private listeners: ((e: { type: string }) => void)[] = [];
  constructor(readonly state: ClusterState) {}

  status() {
    return {
      id: 1,
      role: 'leader',
      term: this.term,
      leader: 1,
      leaderReady: true,
      transferee: this.transferee,
      memberRole: 'voter',
      membership: {
        members: [
          ...this.voters.map((id) => ({ id, role: 'voter', addr: `n${id}` })),
          ...this.learners.map((id) => ({ id, role: 'learner', addr: `n${id}` })),
        ],
        removed: [],
      },
      progress: [],
    };
  }

  lease() {
    return {
      role: 'leader',
      term: this.term,
      leader: 1,
      valid: this.leaseValid,
      remainingTicks: this.leaseValid ? 10 : 0,
      remainingMs: this.leaseValid ? 100 : 0,
    };
  }

  async propose(data: Uint8Array) {
    const cmd = JSON.parse(new TextDecoder().decode(data)) as { t: string; kind?: string; state?: string };
    if (this.failProposal?.(cmd)) {
      this.failProposal = null;
      throw new Error('disk full');
    }
    if (this.transferee !== 0)
      throw new RaftError(
        'transfer_in_progress',
        `leadership is being transferred to node ${this.transferee}`,
      );
    const index = ++this.index;
    const result = this.state.apply({ index, term: this.term, type: 'normal', data });
    for (const l of this.listeners) l({ type: 'applied' });
    return { index, term: this.term, result };
  }

  on(l: (e: { type: string }) => void) {
    this.listeners.push(l);
    return () => {};
  }
}

const node = (addr: string, o: Partial<ShardNode> = {}): ShardNode => ({
  addr,
  owner: 1,
  role: 'replica',
  priority: 100,
  accessible: true,
  ...o,
});

function setup(
  opts: {
    voters?: NodeId[];
    reachable?: NodeId[];
    nodes?: ShardNode[];
    create?: boolean;
    electionTimeoutMs?: number;
  } = {},
) {
  const s = new Scheduler();
  const clock = s.clockFor(() => true);
  const state = new ClusterState();
  const raft = new FakeRaft(state);
  raft.voters = opts.voters ?? [1];
  const adapter = new FakeAdapter(clock);
  const m = adapter.add(new FakeRedis(M));
  m.keys = 100;
  m.offset = 5000;
  const r1 = adapter.add(new FakeRedis(R1));
  const r2 = adapter.add(new FakeRedis(R2));
  for (const r of [r1, r2]) {
    r.role = 'slave';
    r.upstream = M;
    r.replId = m.replId;
    r.offset = m.offset;
    r.keys = m.keys;
  }
  const defaults = {
    ...shardSettings({ downAfterMs: DOWN_AFTER_MS }),
    failoverParallelism: 4,
  } as FailoverConfig;
  const engine = new FailoverEngine({
    nodeId: 1,
    raft: raft as unknown as RaftNode,
    state,
    adapter,
    clock,
    logger: silentLogger,
    defaults,
    redis: [],
    callLeader: () => Promise.reject(new Error('this node leads')),
    reachableMembers: () => opts.reachable ?? raft.voters,
    ...(opts.electionTimeoutMs !== undefined ? { electionTimeoutMs: opts.electionTimeoutMs } : {}),
  });
  const runner = new JobRunner({
    raft: raft as unknown as RaftNode,
    state,
    clock,
    logger: silentLogger,
    electionTimeoutMs: 500,
    executors: engine.executors(),
  });
  const nodes = opts.nodes ?? [node(M), node(R1, { priority: 10 }), node(R2)];
  if (opts.create !== false)
    void raft.propose(
      encodeCommand({
        t: 'shard.create',
        name: SHARD,
        master: M,
        nodes,
        settings: shardSettings({ downAfterMs: DOWN_AFTER_MS }),
        atMs: 0,
      }),
    );
  engine.start();
  const shard = () => state.shards.get(SHARD)!;
  const jobs = () => [...state.jobs.values()].filter((j) => j.kind === 'shard.failover');
  return { s, state, raft, adapter, engine, runner, m, r1, r2, shard, jobs };
}

/** Commit a failover decision of epoch 1 from M (job j1), as a leader would. */
async function beginFailoverOf(
  raft: FakeRaft,
  o: {
    to: string;
    kind: 'auto' | 'forced';
    state: 'running' | 'failed';
    reason: string | null;
    origin: number;
  },
): Promise<void> {
  const job = {
    id: 'j1',
    kind: 'shard.failover' as const,
    params: { shard: SHARD, epoch: 1, from: M, to: o.to, kind: o.kind, reason: 'test' },
    state: o.state,
    reason: o.reason,
    step: 'started',
    result: null,
    createdAtMs: 0,
    updatedAtMs: 0,
    origin: o.origin,
  };
  const cmd = { t: 'shard.failover.begin' as const, name: SHARD, expectEpoch: 0, epoch: 1, from: M };
  await raft.propose(encodeCommand({ ...cmd, to: o.to, kind: o.kind, jobId: 'j1', atMs: 0, job }));
}

async function run(s: Scheduler, ms: number, until?: () => boolean): Promise<void> {
  const end = s.now + ms;
  while (s.now < end) {
    s.runUntil(Math.min(end, s.now + 5));
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
    if (until?.()) return;
  }
}

function report(addr: string, failing: boolean, downForMs: number): NodeReport {
  return {
    addr,
    failing,
    downForMs,
    error: failing ? 'timed out' : null,
    role: failing ? null : 'master',
    upstream: null,
    linkUp: false,
    offset: 0,
    runId: 'x',
    keys: 0,
    infoAgeMs: 0,
  };
}

describe('a promotion whose outcome was lost (issue 9, also seen)', () => {
  it('REPLICAOF NO ONE ran but its INFO timed out: the node is promoted, not refused as "reports role:master"', async () => {
    const t = setup();
    await run(t.s, 300);
    t.r1.infoAfterReconfigureTimesOut = true;
    t.m.up = false;
    await run(t.s, 8000, () => t.shard().master !== M && t.shard().pending === null);
    expect(t.shard().master).toBe(R1);
    expect(t.jobs().map((j) => j.state)).toEqual(['succeeded']);
    // One master only: R2 was never promoted.
    expect(t.r2.role).toBe('slave');
  });

  it('a job whose last update meets a leadership transfer that is called off (no event) is finished by the same leader (sim seed 214)', async () => {
    const t = setup();
    await run(t.s, 300);
    // The transfer starts as the job records its success, and ends without a role change: the
    // real RaftNode emits no event when a transfer is abandoned.
    let transfers = 0;
    t.raft.failProposal = (cmd) => {
      if (cmd.t !== 'job.update' || cmd.state !== 'succeeded' || transfers++ > 0) return false;
      t.raft.transferee = 2;
      t.s.schedule(400, () => {
        t.raft.transferee = 0;
      });
      return false;
    };
    t.m.up = false;
    await run(t.s, 8000, () => t.jobs()[0]?.state === 'succeeded' && t.shard().pending === null);
    expect(t.shard().master).toBe(R1);
    // Not recorded as failed: the failover itself succeeded.
    expect(t.jobs().map((j) => j.state)).toEqual(['succeeded']);
    expect(t.shard().pending).toBeNull();
  });

  it('a job that fails by any path but abort() leaves no failover pending, and the next one succeeds', async () => {
    const t = setup();
    await run(t.s, 300);
    // The commit of the new master fails once (a storage error): the job fails after R1 was promoted.
    t.raft.failProposal = (cmd) => cmd.t === 'shard.master';
    t.m.up = false;
    await run(t.s, 3000, () => t.jobs()[0]?.state === 'failed');
    expect(t.jobs()[0]?.state).toBe('failed');
    await run(t.s, 50);
    expect(t.shard().pending).toBeNull();
    // The retry promotes R1 again (promoted from the master's history: still a candidate).
    await run(t.s, 8000, () => t.shard().master !== M && t.shard().pending === null);
    expect(t.shard().master).toBe(R1);
    expect(t.r2.role).toBe('slave');
  });

  it('a job that retries (or is resumed) re-reads its target: one that restarted empty meanwhile is not promoted (sim seed 878)', async () => {
    const t = setup();
    await run(t.s, 300);
    t.m.up = false;
    // The decision named R1, which then went down: the job's attempts fail.
    t.r1.up = false;
    await beginFailoverOf(t.raft, { to: R1, kind: 'auto', state: 'running', reason: null, origin: 1 });
    await run(t.s, 500);
    expect(t.shard().pending?.to).toBe(R1);
    // R1 comes back empty (no persistence): a master of its own, nothing of the history.
    t.r1.restart({}, { up: true, role: 'master', upstream: null, keys: 0, offset: 0 });
    await run(t.s, 3000, () => t.shard().pending === null);
    expect(t.shard().pending).toBeNull();
    expect(t.shard().master).not.toBe(R1);
    expect(t.jobs()[0]!.state).toBe('failed');
    expect(String(t.jobs()[0]!.reason)).toMatch(/r1:1 may no longer be promoted: reports role:master/);
  });

  it('a switchover resumed by a new leader is rolled back when its target restarted empty (sim seed 624)', async () => {
    const t = setup();
    await run(t.s, 300);
    // As a leader that crashed after demoting M: M replicates R1, and R1 restarted empty.
    t.m.role = 'slave';
    t.m.upstream = R1;
    t.r1.restart({}, { role: 'master', upstream: null, keys: 0, offset: 0 });
    const job = {
      id: 'j1',
      kind: 'shard.switchover' as const,
      params: { shard: SHARD, epoch: 1, from: M, to: R1, kind: 'switchover', reason: 'test' },
      state: 'running' as const,
      reason: null,
      step: `demoting ${M} and promoting ${R1}`,
      result: null,
      createdAtMs: 0,
      updatedAtMs: 0,
      origin: 1,
    };
    await t.raft.propose(
      encodeCommand({
        t: 'shard.failover.begin',
        name: SHARD,
        expectEpoch: 0,
        epoch: 1,
        from: M,
        to: R1,
        kind: 'switchover',
        jobId: 'j1',
        atMs: 0,
        job,
      }),
    );
    await run(t.s, 3000, () => t.shard().pending === null);
    expect(t.shard().pending).toBeNull();
    expect(t.shard().master).toBe(M);
    expect(t.m.role).toBe('master');
    const done = t.state.jobs.get('j1')!;
    expect(done.state).toBe('failed');
    expect(String(done.reason)).toMatch(/r1:1 may no longer be promoted: reports role:master.*rolled back/);
  });

  it('a failover left pending by a job that already ended is aborted by the leader', async () => {
    const t = setup();
    await run(t.s, 300);
    // As after a crash between the job's failure and its abort: the job failed, the shard pending.
    await beginFailoverOf(t.raft, { to: R1, kind: 'auto', state: 'failed', reason: 'lost', origin: 1 });
    expect(t.shard().pending?.jobId).toBe('j1');
    await run(t.s, 1500, () => t.shard().pending === null);
    expect(t.shard().pending).toBeNull();
    expect(t.shard().master).toBe(M);
  });
});

describe('fencing tokens on job actions (issue 9 item 6)', () => {
  it('a leader without a valid lease never changes a role; once it holds one again, the job goes on', async () => {
    const t = setup();
    await run(t.s, 300);
    // The failover is decided (committed), and at that moment the leader loses its lease
    // (stalled, cut off from the majority).
    t.state.onChange((c) => {
      if (c.type === 'shard' && c.event.type === 'failover-begin') t.raft.leaseValid = false;
    });
    const before = t.adapter.calls.length;
    t.m.up = false;
    await run(t.s, DOWN_AFTER_MS + 3000);
    expect(t.shard().pending).not.toBeNull();
    expect(t.adapter.calls.slice(before)).toEqual([]);
    expect(t.r1.role).toBe('slave');
    t.raft.leaseValid = true;
    await run(t.s, 3000, () => t.shard().master === R1);
    expect(t.shard().master).toBe(R1);
  });
});

describe('probe reports (issue 9, also seen)', () => {
  it('a report from a node that is not a voting member is refused and counted, never stored', async () => {
    const t = setup({ voters: [1, 2, 3] });
    expect(() =>
      t.engine.receiveReport({
        from: 9,
        report: { nodes: [report(M, true, 5000)], stalledRecently: false },
      }),
    ).toThrow(expect.objectContaining({ code: 'not_a_member' }));
    expect(t.engine.reportOf(9)).toBeUndefined();
    expect(t.engine.rejectedReports).toBe(1);
    // A learner (a member, not a voter) is answered but its view is not stored.
    t.raft.learners = [4];
    const learner = t.engine.receiveReport({
      from: 4,
      report: { nodes: [report(M, true, 5000)], stalledRecently: false },
    });
    expect(learner.ignored).toBe('not a voter');
    expect(t.engine.reportOf(4)).toBeUndefined();
    const ok = t.engine.receiveReport({
      from: 2,
      report: { nodes: [report(M, false, 0)], stalledRecently: false },
    });
    expect(ok.ignored).toBeUndefined();
    expect(t.engine.reportOf(2)).toBeDefined();
  });
});

describe('SENTINEL FAILOVER (issue 9, also seen)', () => {
  it("is refused when only the leader's own probe of the master fails", async () => {
    const t = setup({ voters: [1, 2, 3] });
    await run(t.s, 300);
    t.m.up = false;
    // The other voters keep seeing the master up.
    for (let i = 0; i < 30; i++) {
      for (const from of [2, 3])
        t.engine.receiveReport({ from, report: { nodes: [report(M, false, 0)], stalledRecently: false } });
      await run(t.s, 50);
    }
    const err = await t.engine.requestSentinelFailover(SHARD).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FailoverRefused);
    expect((err as FailoverRefused).code).toBe('master_not_down');
    expect(t.jobs()).toEqual([]);
  });
});

describe("the leader's own view of the master (sim seed 131 with WAIT writes)", () => {
  const downReports = (t: ReturnType<typeof setup>, failing: boolean) => {
    for (const from of [2, 3])
      t.engine.receiveReport({
        from,
        report: { nodes: [report(M, failing, failing ? 19_500 : 0)], stalledRecently: false },
      });
  };

  it('a majority whose reports predate a heal does not fail over a master the leader sees answer', async () => {
    const t = setup({ voters: [1, 2, 3] });
    await run(t.s, 300);
    // Two daemons back from a partition report what their last probes (sent before the heal)
    // said: failing for 19.5 s. The leader's own probe sees the master answer.
    for (let i = 0; i < 3; i++) {
      downReports(t, true);
      await run(t.s, 50);
    }
    // Their next probes reach the master.
    for (let i = 0; i < 20; i++) {
      downReports(t, false);
      await run(t.s, 50);
    }
    expect(t.jobs()).toEqual([]);
    expect(t.shard().master).toBe(M);
    expect(t.m.role).toBe('master');
  });

  it('a master only the leader can reach is still failed over, once the reports have held a while', async () => {
    const t = setup({ voters: [1, 2, 3] });
    await run(t.s, 300);
    const start = t.s.now;
    let failedOverAt: number | null = null;
    for (let i = 0; i < 60 && failedOverAt === null; i++) {
      downReports(t, true);
      await run(t.s, 50);
      if (t.jobs().length > 0) failedOverAt = t.s.now;
    }
    expect(failedOverAt).not.toBeNull();
    // Later than the first report by at least two report ages (2 x (4 rounds + 100 ms)).
    expect(failedOverAt! - start).toBeGreaterThanOrEqual(2 * (4 * 50 + 100));
    await run(t.s, 3000, () => t.shard().master !== M);
    expect(t.shard().master).not.toBe(M);
  });
});

describe('failures seen while this daemon was out of the group (sim seed 9152)', () => {
  /** Reports of daemons 2 and 3 that saw M fail for `downForMs` (0: answering). */
  const reports = (t: ReturnType<typeof setup>, downForMs: number) => {
    for (const from of [2, 3])
      t.engine.receiveReport({
        from,
        report: { nodes: [report(M, downForMs > 0, downForMs)], stalledRecently: false },
      });
  };

  it('a leader back after a long cut-off counts what it saw fail only once a fresh probe confirms it', async () => {
    const t = setup({ voters: [1, 2, 3], electionTimeoutMs: 500 });
    await run(t.s, 300);
    // Out of the group for 10 s (no lease), and no other host answers meanwhile.
    t.raft.leaseValid = false;
    for (const r of [t.m, t.r1, t.r2]) r.hang = true;
    await run(t.s, 10_000);
    expect(t.engine.prober.downForMs(M)).toBeGreaterThan(9000);
    // Back: its probe of M sent during the cut is still out, nothing sent since has failed.
    t.raft.leaseValid = true;
    reports(t, 0);
    expect(t.engine.cutOffReturns).toBe(1);
    expect(t.engine.prober.view(M)!.failing).toBe(true);
    expect(t.engine.prober.downForMs(M)).toBe(0);
    expect(t.engine.prober.report().nodes.find((n) => n.addr === M)!.downForMs).toBe(0);
    // M really is down: the next probe fails, and the whole time since its last answer counts.
    for (const r of [t.m, t.r1, t.r2]) r.hang = false;
    t.m.up = false;
    await run(t.s, 300);
    expect(t.engine.prober.downForMs(M)).toBeGreaterThan(9000);
  });

  it('a slow election while the other hosts answer asks for nothing: host loss is not delayed', async () => {
    const t = setup({ voters: [1, 2, 3], electionTimeoutMs: 500 });
    await run(t.s, 300);
    t.m.up = false;
    const downAt = t.s.now;
    await run(t.s, 200);
    // Without a leader for 400 ms (a failed election round), longer than half an election
    // timeout; the replicas on the other hosts answer all along.
    t.raft.leaseValid = false;
    await run(t.s, 400);
    t.raft.leaseValid = true;
    let failedOverAt: number | null = null;
    for (let i = 0; i < 60 && failedOverAt === null; i++) {
      reports(t, t.s.now - downAt);
      await run(t.s, 50);
      if (t.jobs().length > 0) failedOverAt = t.s.now;
    }
    expect(t.engine.cutOffReturns).toBe(0);
    expect(failedOverAt).not.toBeNull();
    expect(failedOverAt! - downAt).toBeLessThan(DOWN_AFTER_MS + 300);
  });
});

describe('reconciling a node that disagrees with the committed master', () => {
  it('re-reads the node first: one that already follows the master keeps its clients (no REPLICAOF, which kills them)', async () => {
    const { s, adapter, r1 } = setup();
    await run(s, 300);
    // r1 is read as a master, and follows M again right after (a job re-pointed it meanwhile):
    // the prober's view stays "role:master" until its next INFO, 500 ms later.
    r1.role = 'master';
    r1.upstream = null;
    r1.afterInfo = () => {
      r1.role = 'slave';
      r1.upstream = M;
    };
    await run(s, 400);
    expect(r1.afterInfo).toBeNull();
    expect(adapter.calls.filter((c) => c.startsWith(R1))).toEqual([]);

    // A node that really is a master is made a replica.
    r1.role = 'master';
    r1.upstream = null;
    await run(s, 2000, () => adapter.calls.includes(`${R1} REPLICAOF ${M}`));
    expect(adapter.calls.filter((c) => c.startsWith(R1))).toEqual([`${R1} REPLICAOF ${M}`]);
    expect(r1.role).toBe('slave');
  });
});

describe('a candidate whose daemon is live is preferred (issue 9 item 7)', () => {
  it('the better-priority replica without a live daemon is passed over; alone, it is chosen and the reason says so', async () => {
    const nodes = [node(M), node(R1, { priority: 10, owner: 3 }), node(R2, { owner: 2 })];
    const t = setup({ voters: [1, 2, 3], reachable: [1, 2], nodes });
    await run(t.s, 300);
    t.m.up = false;
    const feed = async (ms: number, until: () => boolean) => {
      for (let i = 0; i < ms / 50 && !until(); i++) {
        t.engine.receiveReport({
          from: 2,
          report: { nodes: [report(M, true, t.engine.prober.downForMs(M))], stalledRecently: false },
        });
        await run(t.s, 50);
      }
    };
    await feed(5000, () => t.shard().master !== M);
    expect(t.shard().master).toBe(R2);
    expect(t.r1.role).toBe('slave');

    // Again, with R2 gone: R1 is the only one left, chosen, and the job says it has no live daemon.
    const u = setup({ voters: [1, 2, 3], reachable: [1, 2], nodes });
    await run(u.s, 300);
    u.m.up = false;
    u.r2.up = false;
    for (let i = 0; i < 100 && u.shard().master === M; i++) {
      u.engine.receiveReport({
        from: 2,
        report: { nodes: [report(M, true, u.engine.prober.downForMs(M))], stalledRecently: false },
      });
      await run(u.s, 50);
    }
    expect(u.shard().master).toBe(R1);
    expect(String(u.jobs()[0]!.params.reason)).toMatch(/r1:1 has no live daemon/);
  });
});

describe('registration and the empty-restart guard (issue 9 item 8)', () => {
  it('several nodes report role:master: the one with data is named, not the first to register', async () => {
    const t = setup({ create: false });
    for (const r of [t.r1, t.r2]) {
      r.role = 'master';
      r.upstream = null;
    }
    t.r1.keys = 0;
    t.r1.replId = newId();
    t.r2.keys = 40;
    t.m.up = false;
    expect((await t.engine.register({ shard: SHARD, addr: R1, owner: 1 })).shard).toBe(SHARD);
    expect(t.shard().master).toBeNull();
    expect((await t.engine.register({ shard: SHARD, addr: R2, owner: 1 })).shard).toBe(SHARD);
    expect(t.shard().master).toBe(R2);
  });

  it('a brand-new shard of empty masters gets one once the others had time to register', async () => {
    const t = setup({ create: false });
    for (const r of [t.r1, t.r2]) {
      r.role = 'master';
      r.upstream = null;
      r.keys = 0;
    }
    t.m.up = false;
    await t.engine.register({ shard: SHARD, addr: R2, owner: 1 });
    await t.engine.register({ shard: SHARD, addr: R1, owner: 1 });
    expect(t.shard().master).toBeNull();
    await run(t.s, 2000);
    await t.engine.register({ shard: SHARD, addr: R2, owner: 1 });
    expect(t.shard().master).toBe(R1);
  });

  it('the guard keeps demoting a master that came back empty until it is a replica', async () => {
    const t = setup();
    await run(t.s, 600);
    t.m.restart({}, { keys: 0, offset: 0, failReconfigures: 2 });
    await run(t.s, 1500, () => t.m.role === 'slave');
    expect(t.m.role).toBe('slave');
    expect(t.adapter.calls.filter((c) => c.startsWith(`${M} REPLICAOF`)).length).toBe(3);
  });

  it('a node another daemon demoted since this one read it is left alone (no second REPLICAOF, which kills its clients)', async () => {
    const t = setup();
    await run(t.s, 600);
    t.m.restart({}, { keys: 0, offset: 0 });
    // The INFO that shows it empty is the last one as a master: another daemon demotes it right after.
    t.m.afterInfo = () => {
      t.m.role = 'slave';
      t.m.upstream = R2;
    };
    await run(t.s, 1500);
    expect(t.m.afterInfo).toBeNull();
    expect(t.adapter.calls.filter((c) => c.startsWith(`${M} REPLICAOF`))).toEqual([]);
  });

  it('a master that restarted loading nothing is demoted though a client wrote to it before any probe (sim seed 285)', async () => {
    const t = setup();
    await run(t.s, 600);
    t.m.restart({}, { offset: 40, keys: 1, loadedKeys: 0 });
    await run(t.s, 1500, () => t.m.role === 'slave');
    expect(t.m.role).toBe('slave');
    expect([R1, R2]).toContain(t.m.upstream);
  });

  it('a master restarted from its RDB (it loaded keys) is left alone', async () => {
    const t = setup();
    await run(t.s, 600);
    t.m.restart({ fromRdb: true });
    await run(t.s, 1500);
    expect(t.m.role).toBe('master');
    expect(t.shard().master).toBe(M);
  });

  it('a node the group promoted after its restart is not demoted by a daemon that notices the restart later (sim seed 349)', async () => {
    const t = setup({ nodes: [node(M), node(R1), node(R2, { priority: 0 })] });
    await run(t.s, 600);
    // R1 restarts from an older RDB (as a master continuing M's history, behind R2) while this
    // daemon cannot reach it.
    t.r1.up = false;
    await run(t.s, 300);
    t.r1.restart({ fromRdb: true }, { role: 'master', upstream: null, offset: 4000, keys: 90, up: true });
    t.m.up = false;
    // Another leader already decided to promote it, knowing what it holds (forced here).
    await beginFailoverOf(t.raft, { to: R1, kind: 'forced', state: 'running', reason: null, origin: 2 });
    await run(t.s, 3000, () => t.shard().master === R1 && t.shard().pending === null);
    expect(t.shard().master).toBe(R1);
    expect(t.shard().history.at(-1)?.runId).toBe(t.r1.runId);
    await run(t.s, 2000);
    // This incarnation was chosen by a committed decision: no daemon demotes it.
    expect(t.r1.role).toBe('master');
    expect(t.adapter.calls.filter((c) => c.startsWith(`${R1} REPLICAOF ${R2}`))).toEqual([]);
  });

  /** M restarts from an RDB older than what its replicas hold (Redis 7.0: new id, the old one as replid2). */
  function restartFromOlderRdb(t: ReturnType<typeof setup>): void {
    t.m.restart({ fromRdb: true }, { offset: 4000, keys: 80 });
  }

  it('a master restarted from an older RDB while its replicas were unreachable is demoted once one answers ahead (sim seed 1373)', async () => {
    const t = setup();
    await run(t.s, 600);
    t.r1.up = false;
    t.r2.up = false;
    restartFromOlderRdb(t);
    // The guard sees the restart while no replica answers: it cannot tell yet, and must not give up.
    await run(t.s, 1500);
    expect(t.m.role).toBe('master');
    t.r1.up = true;
    await run(t.s, 1500, () => t.m.role === 'slave');
    expect(t.m.role).toBe('slave');
    expect(t.m.upstream).toBe(R1);
  });

  it('a master restarted from an RDB saved before its first replica synced (an id no daemon saw) is demoted (sim seed 21311)', async () => {
    const t = setup();
    await run(t.s, 600);
    // Redis 7.0 gives a master a new replication id when its first replica syncs (syncCommand
    // creates the backlog), so an RDB saved before that carries an id its daemons never read.
    t.m.restart({ fromRdb: true }, { offset: 600, keys: 20, replId2: newId() });
    await run(t.s, 1500, () => t.m.role === 'slave');
    expect(t.m.role).toBe('slave');
    expect([R1, R2]).toContain(t.m.upstream);
  });

  it('a master restarted from an older RDB that serves a replica on its new history, or took writes on it, is left alone', async () => {
    for (const since of ['a replica follows', 'writes taken'] as const) {
      const t = setup();
      await run(t.s, 600);
      t.r1.up = false;
      t.r2.up = false;
      restartFromOlderRdb(t);
      await run(t.s, 1500);
      if (since === 'a replica follows')
        Object.assign(t.r2, {
          up: true,
          replId: t.m.replId,
          offset: t.m.offset,
          keys: t.m.keys,
          linkUp: true,
        });
      else t.m.offset += 500;
      await run(t.s, 1500);
      // R1, ahead on the old history, comes back too late: demoting M now would lose the new writes.
      t.r1.up = true;
      await run(t.s, 1500);
      expect(t.m.role, since).toBe('master');
      expect(t.shard().master).toBe(M);
    }
  });

  it('with no replica reachable, the empty master is still made a replica (of the best one last seen)', async () => {
    const t = setup();
    await run(t.s, 600);
    t.r1.up = false;
    t.r2.up = false;
    t.m.restart({}, { keys: 0 });
    await run(t.s, 600, () => t.m.role === 'slave');
    expect(t.m.role).toBe('slave');
    expect([R1, R2]).toContain(t.m.upstream);
  });
});

describe('a master the restart guard demoted, whose replica ahead is gone (sim seed 21267)', () => {
  /** M restarts from an RDB behind R1 (R2 is further behind); the guard makes M follow R1. */
  async function demoted(t: ReturnType<typeof setup>) {
    await run(t.s, 600);
    t.r2.offset = 3000;
    t.r2.keys = 60;
    await run(t.s, 300);
    t.m.restart({ fromRdb: true }, { offset: 4000, keys: 80 });
    await run(t.s, 1000, () => t.m.role === 'slave');
    expect(t.m.upstream).toBe(R1);
  }

  it('R1 restarts empty: M is made master again in the same epoch, R2 (behind M) is not promoted', async () => {
    const t = setup();
    await demoted(t);
    const epoch = t.shard().epoch;
    t.r1.restart({}, { keys: 0, offset: 0, role: 'master', upstream: null });
    await run(t.s, 4 * DOWN_AFTER_MS, () => t.m.role === 'master');
    expect(t.m.role).toBe('master');
    expect(t.shard().master).toBe(M);
    expect(t.shard().epoch).toBe(epoch);
    expect(t.jobs()).toEqual([]);
    expect(t.adapter.calls).not.toContain(`${R2} REPLICAOF NO ONE`);
  });

  it('a demoted master that then synced another history (its own restart was empty) is never restored (sim seed 21066)', async () => {
    const t = setup();
    await run(t.s, 600);
    t.m.restart({}, { keys: 0, offset: 0 });
    await run(t.s, 1000, () => t.m.role === 'slave');
    expect(t.m.role).toBe('slave');
    // The node it follows restarts empty too, takes a client write, and M syncs from it.
    const target = t.m.upstream === R1 ? t.r1 : t.r2;
    const other = target === t.r1 ? t.r2 : t.r1;
    // The other replica, which holds the history, is gone (no failover to it).
    other.up = false;
    target.restart({}, { keys: 1, offset: 20, role: 'master', upstream: null });
    Object.assign(t.m, { replId: target.replId, offset: 20, keys: 1 });
    await run(t.s, 4 * DOWN_AFTER_MS);
    expect(t.m.role).toBe('slave');
    expect(t.adapter.calls).not.toContain(`${M} REPLICAOF NO ONE`);
  });

  it('R1 does not answer and was last seen ahead of M: waited for down_after_ms, then M is restored; R2 is never promoted', async () => {
    const t = setup();
    await demoted(t);
    t.r1.up = false;
    const cutAt = t.s.now;
    await run(t.s, 4 * DOWN_AFTER_MS, () => t.m.role === 'master');
    expect(t.m.role).toBe('master');
    expect(t.s.now - cutAt).toBeGreaterThanOrEqual(DOWN_AFTER_MS);
    expect(t.jobs()).toEqual([]);
    expect(t.adapter.calls.filter((c) => c.endsWith('REPLICAOF NO ONE'))).toEqual([`${M} REPLICAOF NO ONE`]);
  });
});

describe('a node with data registering after an empty master was named (issue 9 item 8)', () => {
  it('becomes the master, and the empty one its replica', async () => {
    const t = setup({ create: false });
    t.m.keys = 0;
    t.m.offset = 0;
    t.r1.up = false;
    t.r2.role = 'master';
    t.r2.upstream = null;
    t.r2.keys = 40;
    t.r2.replId = newId();
    await t.engine.register({ shard: SHARD, addr: M, owner: 1 });
    await run(t.s, 2000);
    await t.engine.register({ shard: SHARD, addr: M, owner: 1 });
    expect(t.shard().master).toBe(M);
    expect((await t.engine.register({ shard: SHARD, addr: R2, owner: 1 })).shard).toBe(SHARD);
    await run(t.s, 2000, () => t.shard().master === R2 && t.m.role === 'slave');
    expect(t.shard().master).toBe(R2);
    expect(t.m.role).toBe('slave');
    expect(t.r2.keys).toBe(40);
  });
});

describe("replica discovery from the master's INFO (issue 10)", () => {
  /** A shard created as SENTINEL MONITOR creates it: only its master, no daemon beside it. */
  function monitored() {
    const t = setup({ nodes: [node(M, { owner: null, username: 'u', password: 'p' })] });
    t.m.listed = [R1, R2];
    return t;
  }

  it("adds the listed replicas with their own priority, the shard's credentials, and fails over to one", async () => {
    const t = monitored();
    t.r2.priority = 0;
    // R2 runs with replica-priority 0: it must never be committed with any other priority.
    const r2Priorities: number[] = [];
    t.state.onChange(() => {
      const n = t.shard()?.nodes.find((x) => x.addr === R2);
      if (n) r2Priorities.push(n.priority);
    });
    await run(t.s, 3000, () => t.shard().nodes.length === 3);
    expect(t.shard().nodes).toEqual([
      {
        addr: M,
        owner: null,
        role: 'replica',
        priority: 100,
        accessible: true,
        username: 'u',
        password: 'p',
      },
      {
        addr: R1,
        owner: null,
        role: 'replica',
        priority: 100,
        accessible: true,
        username: 'u',
        password: 'p',
      },
      { addr: R2, owner: null, role: 'replica', priority: 0, accessible: true, username: 'u', password: 'p' },
    ]);
    expect(new Set(r2Priorities)).toEqual(new Set([0]));
    // Probed from the next round on, as every node.
    await run(t.s, 600);
    expect(t.engine.prober.view(R1)?.info?.role).toBe('slave');
    t.m.up = false;
    await run(t.s, 8000, () => t.shard().master !== M && t.shard().pending === null);
    expect(t.shard().master).toBe(R1);
    expect(t.r2.role).toBe('slave');
    expect(t.r2.upstream).toBe(R1);
  });

  it('keeps priority and replica-announced of discovered nodes in step with their INFO', async () => {
    const t = monitored();
    await run(t.s, 3000, () => t.shard().nodes.length === 3);
    t.r1.priority = 5;
    t.r2.announced = false;
    await run(t.s, 3000, () => t.shard().nodes.find((n) => n.addr === R2)?.announced === false);
    expect(t.shard().nodes.find((n) => n.addr === R1)?.priority).toBe(5);
    expect(t.shard().nodes.find((n) => n.addr === R2)?.announced).toBe(false);
    t.r2.announced = true;
    await run(t.s, 3000, () => t.shard().nodes.find((n) => n.addr === R2)?.announced === undefined);
    expect(t.shard().nodes.find((n) => n.addr === R2)).not.toHaveProperty('announced');
  });

  it('a replica that cannot be read is not added, and is read again at most every 500 ms', async () => {
    const t = monitored();
    t.r1.up = false;
    let reads = 0;
    const info = t.adapter.info.bind(t.adapter);
    t.adapter.info = (n, ms) => {
      if (n.addr === R1) {
        reads++;
        // With the shard's credentials.
        expect([n.username, n.password]).toEqual(['u', 'p']);
      }
      return info(n, ms);
    };
    await run(t.s, 3000);
    expect(t.shard().nodes.map((n) => n.addr)).toEqual([M, R2]);
    expect(reads).toBeGreaterThanOrEqual(3);
    expect(reads).toBeLessThanOrEqual(7);
    t.r1.up = true;
    await run(t.s, 2000, () => t.shard().nodes.length === 3);
    expect(t.shard().nodes.map((n) => n.addr)).toEqual([M, R1, R2]);
  });

  it('nothing is discovered without a valid lease', async () => {
    const t = monitored();
    t.raft.leaseValid = false;
    await run(t.s, 2000);
    expect(t.shard().nodes.map((n) => n.addr)).toEqual([M]);
    t.raft.leaseValid = true;
    await run(t.s, 2000, () => t.shard().nodes.length === 3);
    expect(t.shard().nodes.map((n) => n.addr)).toEqual([M, R1, R2]);
  });

  it('nothing is discovered while a failover is pending', async () => {
    const t = setup({ nodes: [node(M, { owner: null }), node(R1)] });
    t.m.listed = [R1, R2];
    // The decided promotion of R1 hangs: the failover stays pending until its job gives up.
    t.r1.hang = true;
    let addedWhilePending = false;
    t.state.onChange(() => {
      const sh = t.shard();
      if (sh?.pending && sh.nodes.some((n) => n.addr === R2)) addedWhilePending = true;
    });
    await beginFailoverOf(t.raft, { to: R1, kind: 'forced', state: 'running', reason: null, origin: 1 });
    expect(t.shard().pending).not.toBeNull();
    await run(t.s, 15_000, () => t.shard().pending === null && t.shard().nodes.length === 3);
    expect(addedWhilePending).toBe(false);
    expect(t.jobs().map((j) => j.state)).toEqual(['failed']);
    // Once it is resolved (rolled back here), discovery goes on.
    t.r1.hang = false;
    await run(t.s, 3000, () => t.shard().nodes.length === 3);
    expect(t.shard().nodes.map((n) => n.addr)).toEqual([M, R1, R2]);
  });

  it('does not touch nodes a daemon registered', async () => {
    const t = setup();
    t.m.listed = [R1, R2];
    t.r1.priority = 0;
    t.r2.announced = false;
    await run(t.s, 2000);
    expect(t.shard().nodes.map((n) => [n.addr, n.priority, n.announced])).toEqual([
      [M, 100, undefined],
      [R1, 10, undefined],
      [R2, 100, undefined],
    ]);
  });
});

/**
 * Helpers for the failover integration tests (test/integration/failover-*.test.ts): real
 * redis-server processes, one daemon beside each (its [[redis]] entries), shard views from every
 * daemon's admin API, waits on conditions, promise-1 checks on the history and the jobs, and a
 * steady writer that records every acknowledged write and checks them key by key.
 *
 * Everything is started through test/support/daemons.ts and test/support/redis.ts, so
 * `cleanupAll()` and `cleanupRedis()` (call both from afterEach/afterAll) stop it all.
 */
import { rmSync } from 'node:fs';
import { Redis } from 'ioredis';
import { type CliResult, DaemonCluster, type NodeOptions, waitFor } from './daemons.js';
import { type RedisOptions, RedisProcess } from './redis.js';

/**
 * Short timings that satisfy the config rules (et ≥ 5 hb, lease ≥ et, lease + et ≤ down) and
 * host-loss failover (et ≤ down / 2), yet leave a busy 2-core machine room to breathe: with an
 * election timeout of 500 ms, stalls of 400-500 ms seen there under load made leaders step down
 * in the middle of tests.
 */
export const FAST = {
  heartbeatMs: 100,
  electionTimeoutMs: 1000,
  leaseMs: 1000,
  downAfterMs: 2000,
} as const;

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------------
// What GET /v1/shards/{name} answers

export interface SeenView {
  failing: boolean;
  down_for_ms: number;
  error: string | null;
  role: 'master' | 'slave' | null;
  upstream: string | null;
  link_up: boolean | null;
  offset: number | null;
  keys: number | null;
}

export interface ShardNodeView {
  addr: string;
  owner: number | null;
  role: 'replica' | 'observer';
  priority: number;
  accessible: boolean;
  seen: SeenView | null;
}

export interface HistoryRecord {
  epoch: number;
  from: string | null;
  to: string;
  kind: string;
  jobId: string | null;
  atMs: number;
  reason: string;
}

export interface ShardView {
  name: string;
  epoch: number;
  master: string | null;
  pending: { epoch: number; from: string | null; to: string; kind: string; jobId: string } | null;
  settings: Record<string, number>;
  nodes: ShardNodeView[];
  history: HistoryRecord[];
}

export interface JobView {
  id: string;
  kind: string;
  params: Record<string, unknown>;
  state: string;
  reason: string | null;
  step: string | null;
  result: unknown;
  createdAtMs: number;
  updatedAtMs: number;
}

// ---------------------------------------------------------------------------------------------
// Layout

export interface NodeSpec {
  /** The daemon beside this Redis. */
  owner: number;
  role?: 'replica' | 'observer';
  priority?: number;
}

export interface ShardSpec {
  name: string;
  /** nodes[0] starts as the master, the others as its replicas. */
  nodes: NodeSpec[];
  /** Keys written to the master before the daemons start (default 100). */
  seedKeys?: number;
  /** Extra redis.conf lines for every server of the shard. */
  redisExtra?: string[];
}

export interface FailoverSetup {
  /** Voting daemons (default [1, 2, 3]); daemon ids[0] bootstraps the group. */
  daemons?: number[];
  shards: ShardSpec[];
  failover?: NodeOptions['failover'];
  raftTiming?: NodeOptions['raftTiming'];
  sentinelToml?: NodeOptions['sentinelToml'];
}

/** Real Redis servers and the daemons beside them. */
export class FailoverCluster {
  readonly c = new DaemonCluster();
  /** Per shard, its Redis servers in the order of ShardSpec.nodes. */
  readonly redis = new Map<string, RedisProcess[]>();
  ids: number[] = [];

  constructor(readonly setup: FailoverSetup) {}

  /** Redis node `i` of `shard` (0 = the initial master). */
  r(shard: string, i: number): RedisProcess {
    const r = this.redis.get(shard)?.[i];
    if (!r) throw new Error(`no redis ${i} in shard ${shard}`);
    return r;
  }

  /** The Redis with this address. */
  byAddr(addr: string): RedisProcess {
    for (const rs of this.redis.values()) for (const r of rs) if (r.addr === addr) return r;
    throw new Error(`no redis at ${addr}`);
  }

  /** Daemon ids still running. */
  live(): number[] {
    return this.ids.filter((id) => this.c.node(id).running);
  }

  /** The daemon beside `addr`, per the layout. */
  ownerOf(addr: string): number {
    for (const s of this.setup.shards) {
      const rs = this.redis.get(s.name)!;
      const i = rs.findIndex((r) => r.addr === addr);
      if (i >= 0) return s.nodes[i]!.owner;
    }
    throw new Error(`no redis at ${addr}`);
  }

  async view(id: number, shard: string): Promise<ShardView> {
    const r = await this.c
      .node(id)
      .http('GET', `/v1/shards/${encodeURIComponent(shard)}`, { timeoutMs: 3000 });
    if (r.status !== 200)
      throw new Error(`node ${id}: GET /v1/shards/${shard} answered ${r.status}: ${r.text}`);
    return (r.json as { shard: ShardView }).shard;
  }

  /** The shard as every running daemon reports it. */
  views(shard: string, ids = this.live()): Promise<ShardView[]> {
    return Promise.all(ids.map((id) => this.view(id, shard)));
  }

  /** Jobs as daemon `id` knows them (newest first). */
  async jobs(id: number): Promise<JobView[]> {
    const r = await this.c.node(id).http('GET', '/v1/jobs', { timeoutMs: 3000 });
    if (r.status !== 200) throw new Error(`node ${id}: GET /v1/jobs answered ${r.status}: ${r.text}`);
    return (r.json as { jobs: JobView[] }).jobs;
  }

  async job(id: number, jobId: string): Promise<JobView> {
    const r = await this.c.node(id).http('GET', `/v1/jobs/${encodeURIComponent(jobId)}`, { timeoutMs: 3000 });
    if (r.status !== 200)
      throw new Error(`node ${id}: GET /v1/jobs/${jobId} answered ${r.status}: ${r.text}`);
    return (r.json as { job: JobView }).job;
  }

  /** Failover and switchover jobs of `shard`, oldest first. */
  async failoverJobs(id: number, shard: string): Promise<JobView[]> {
    return (await this.jobs(id))
      .filter(
        (j) => (j.kind === 'shard.failover' || j.kind === 'shard.switchover') && j.params.shard === shard,
      )
      .reverse();
  }

  /** Failover and switchover jobs of `shard` (oldest first), once none of them is still running. */
  async finishedJobs(shard: string, timeoutMs = 15_000): Promise<JobView[]> {
    return waitFor(
      async () => {
        const js = await this.failoverJobs(this.live()[0]!, shard);
        return js.every((j) => j.state === 'succeeded' || j.state === 'failed') ? js : null;
      },
      timeoutMs,
      { what: `the failover jobs of ${shard} to finish` },
    );
  }

  /**
   * Run the CLI against daemon `adminOf`; a request refused because the group is between leaders
   * (a leader change on a loaded machine) is retried, other outcomes are returned as they are.
   */
  async cli(args: string[], adminOf: number, timeoutMs = 30_000): Promise<CliResult> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const r = await this.c.cli(args, { adminOf, timeoutMs });
      const between =
        /no leader|no_leader|not_leader|leader_not_ready/.test(r.stderr) && /refused/.test(r.stderr);
      if (!between || Date.now() > deadline) return r;
      await sleep(200);
    }
  }

  /** Move Raft leadership to `to` with `raftinel transfer-leader`, and wait until all agree. */
  async transferLeader(to: number): Promise<void> {
    const live = this.live();
    const leader = await this.c.waitForLeader(live);
    if (leader === to) return;
    const r = await this.c.cli(['transfer-leader', String(to)], { adminOf: live[0]!, timeoutMs: 30_000 });
    if (r.code !== 0) throw new Error(`transfer-leader ${to} failed (${r.code}): ${r.stdout}${r.stderr}`);
    await waitFor(async () => (await this.c.waitForLeader(live, { timeoutMs: 2000 })) === to, 15_000, {
      what: `node ${to} to lead`,
    });
  }
}

/** Wait until `r` replicates `master` with its link up and has caught up with its offset. */
export async function waitReplicaSynced(
  r: RedisProcess,
  master: RedisProcess,
  timeoutMs = 20_000,
): Promise<void> {
  await waitFor(
    async () => {
      const [ri, mi] = await Promise.all([r.call('INFO', 'replication'), master.call('INFO', 'replication')]);
      const rs = String(ri);
      const ms = String(mi);
      if (!/master_link_status:up/.test(rs) || !rs.includes(`master_port:${master.port}`)) return false;
      const ro = Number(/slave_repl_offset:(\d+)/.exec(rs)?.[1] ?? -1);
      const mo = Number(/master_repl_offset:(\d+)/.exec(ms)?.[1] ?? -2);
      return ro >= mo; // link up and caught up (offset 0 is a full sync before any write)
    },
    timeoutMs,
    { what: `${r.addr} to sync with ${master.addr}`, intervalMs: 50 },
  );
}

/** The keys startFailoverCluster seeds into shard `shard`'s master (its `seedKeys`, default 100). */
export function seededKeys(shard: string, n = 100): string[] {
  return Array.from({ length: n }, (_, i) => `seed:${shard}:${i}`);
}

/** One shard `shard` of three Redis nodes, one beside each of daemons 1, 2 and 3. */
export function startThreeNodeShard(shard: string): Promise<FailoverCluster> {
  return startFailoverCluster({
    shards: [{ name: shard, nodes: [{ owner: 1 }, { owner: 2 }, { owner: 3 }] }],
  });
}

/** Write `n` keys `prefix:i` = `i` to `r`. */
export async function seed(r: RedisProcess, prefix: string, n: number): Promise<void> {
  const c = r.client();
  c.on('error', () => {}); // connection errors surface as rejected commands
  try {
    await c.connect();
    const p = c.pipeline();
    for (let i = 0; i < n; i++) p.set(`${prefix}:${i}`, String(i));
    await p.exec();
  } finally {
    c.disconnect();
  }
}

/** Keys of `keys` that `r` does not hold with the value written (key `p:i` holds `i`). */
export async function missingKeys(r: RedisProcess, keys: string[]): Promise<string[]> {
  const c = r.client();
  c.on('error', () => {}); // connection errors surface as rejected commands
  const missing: string[] = [];
  try {
    await c.connect();
    for (let i = 0; i < keys.length; i += 500) {
      const batch = keys.slice(i, i + 500);
      const vals = await c.mget(...batch);
      batch.forEach((k, j) => {
        if (vals[j] !== k.slice(k.lastIndexOf(':') + 1)) missing.push(k);
      });
    }
  } finally {
    c.disconnect();
  }
  return missing;
}

/** A SET on a fresh connection: resolves true when acknowledged. */
export async function acceptsWrite(r: RedisProcess, key = 'probe:write'): Promise<boolean> {
  try {
    return (await r.call('SET', key, '1')) === 'OK';
  } catch {
    return false;
  }
}

/**
 * Ports are picked by the kernel and released before the process binds them; on a busy machine an
 * outgoing connection sometimes takes one first. Such a start is retried on fresh ports.
 */
const portTaken = (err: unknown) => /EADDRINUSE|exited at start/.test(String((err as Error)?.message ?? err));

async function startRedis(opts: RedisOptions): Promise<RedisProcess> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await RedisProcess.start(opts);
    } catch (err) {
      if (attempt >= 3 || !portTaken(err)) throw err;
    }
  }
}

async function startDaemon(fc: FailoverCluster, id: number, opts: NodeOptions): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    await fc.c.define(id, opts);
    try {
      await fc.c.node(id).start();
      return;
    } catch (err) {
      if (attempt >= 3 || !portTaken(err)) throw err;
      rmSync(fc.c.node(id).dataDir, { recursive: true, force: true });
    }
  }
}

/**
 * Start the Redis servers (masters seeded, replicas synced), then one daemon per id with the
 * [[redis]] entries it owns; wait until every daemon names each shard's initial master and sees
 * every node healthy.
 */
export async function startFailoverCluster(setup: FailoverSetup): Promise<FailoverCluster> {
  const fc = new FailoverCluster(setup);
  const ids = setup.daemons ?? [1, 2, 3];
  fc.ids = ids;
  await Promise.all(
    setup.shards.map(async (s) => {
      const extra = s.redisExtra ?? [];
      const master = await startRedis({ extra });
      const replicas = await Promise.all(
        s.nodes.slice(1).map(() => startRedis({ replicaOf: master.addr, extra })),
      );
      fc.redis.set(s.name, [master, ...replicas]);
      // Seeded once the replicas are attached, so that replication offsets move past 0 (a replica
      // at offset 0 has not provably synced, and is not a candidate).
      await Promise.all(replicas.map((r) => waitFollows(r, master.addr, 20_000)));
      await seed(master, `seed:${s.name}`, s.seedKeys ?? 100); // the keys seededKeys() names
      await Promise.all(replicas.map((r) => waitReplicaSynced(r, master)));
    }),
  );
  const common = {
    failover: { ...FAST, ...setup.failover },
    raftTiming: {
      heartbeatMs: FAST.heartbeatMs,
      electionTimeoutMs: FAST.electionTimeoutMs,
      ...setup.raftTiming,
    },
    ...(setup.sentinelToml ? { sentinelToml: setup.sentinelToml } : {}),
  };
  const redisOf = (id: number): NonNullable<NodeOptions['redis']> =>
    setup.shards.flatMap((s) =>
      s.nodes
        .map((n, i) => ({ n, r: fc.r(s.name, i) }))
        .filter(({ n }) => n.owner === id)
        .map(({ n, r }) => ({
          shard: s.name,
          addr: r.addr,
          ...(n.role ? { role: n.role } : {}),
          ...(n.priority !== undefined ? { priority: n.priority } : {}),
        })),
    );
  const [first, ...rest] = ids;
  await startDaemon(fc, first!, { ...common, single: true, redis: redisOf(first!) });
  await fc.c.waitForLeader([first!]);
  await Promise.all(rest.map((id) => startDaemon(fc, id, { ...common, join: [first!], redis: redisOf(id) })));
  await fc.c.waitForMembers(ids, ids);
  for (const s of setup.shards) {
    const rs = fc.redis.get(s.name)!;
    await waitForShard(
      fc,
      s.name,
      (v) =>
        v.master === rs[0]!.addr &&
        v.pending === null &&
        v.nodes.length === rs.length &&
        v.nodes.every(
          (n) =>
            n.seen !== null &&
            !n.seen.failing &&
            (n.addr === rs[0]!.addr
              ? n.seen.role === 'master'
              : n.seen.role === 'slave' && n.seen.link_up === true),
        ),
      { timeoutMs: 30_000, what: `shard ${s.name} registered with master ${rs[0]!.addr} and seen healthy` },
    );
  }
  return fc;
}

/**
 * Wait until every running daemon (or `ids`) reports `shard` and `pred` holds for each view, and
 * they all name the same master and epoch. Returns the views.
 */
export async function waitForShard(
  fc: FailoverCluster,
  shard: string,
  pred: (v: ShardView, id: number) => boolean,
  opts: { timeoutMs?: number; ids?: number[]; what?: string; intervalMs?: number } = {},
): Promise<ShardView[]> {
  let last: string[] = [];
  try {
    return await waitFor(
      async () => {
        const ids = opts.ids ?? fc.live();
        const vs = await fc.views(shard, ids);
        last = vs.map((v, i) => {
          const bad = v.nodes
            .filter((n) => n.seen?.failing !== false)
            .map((n) => `${n.addr} ${n.seen ? `failing (${n.seen.error})` : 'unseen'}`);
          return `node ${ids[i]}: master ${v.master} epoch ${v.epoch} pending ${v.pending?.to ?? '-'}${bad.length ? `, ${bad.join(', ')}` : ''}`;
        });
        if (!vs.every((v, i) => pred(v, ids[i]!))) return null;
        return vs.every((v) => v.master === vs[0]!.master && v.epoch === vs[0]!.epoch) ? vs : null;
      },
      opts.timeoutMs ?? 20_000,
      { what: opts.what ?? `shard ${shard} to reach a state`, intervalMs: opts.intervalMs ?? 50 },
    );
  } catch (err) {
    throw new Error(`${(err as Error).message}\n  views: ${last.join('; ')}`);
  }
}

/**
 * Wait until every running daemon names a master of `shard` for which `pred` holds (the same
 * master and epoch everywhere, nothing pending). Returns the master's address and the views.
 */
export async function waitForMaster(
  fc: FailoverCluster,
  shard: string,
  pred: (master: string, v: ShardView) => boolean,
  opts: { timeoutMs?: number; ids?: number[]; what?: string; intervalMs?: number } = {},
): Promise<{ master: string; epoch: number; views: ShardView[] }> {
  const vs = await waitForShard(
    fc,
    shard,
    (v) => v.master !== null && v.pending === null && pred(v.master, v),
    {
      what: `a master of ${shard}`,
      ...opts,
    },
  );
  return { master: vs[0]!.master!, epoch: vs[0]!.epoch, views: vs };
}

/** Wait until `r` reports role:slave replicating `master` with the link up. */
export async function waitFollows(r: RedisProcess, master: string, timeoutMs = 15_000): Promise<void> {
  await waitFor(
    async () => {
      const role = await r.role();
      if (role.role !== 'slave' || role.upstream !== master) return false;
      return /master_link_status:up/.test(String(await r.call('INFO', 'replication')));
    },
    timeoutMs,
    { what: `${r.addr} to follow ${master}`, intervalMs: 50 },
  );
}

/**
 * Promise 1 on a shard view: epochs in `history` strictly increase (so one master per epoch), the
 * committed master and epoch are the last record's, and each record names a node of the shard.
 */
export function checkHistory(v: ShardView): string[] {
  const problems: string[] = [];
  const h = v.history;
  for (let i = 1; i < h.length; i++) {
    if (!(h[i]!.epoch > h[i - 1]!.epoch))
      problems.push(`history epochs do not increase: ${h[i - 1]!.epoch} then ${h[i]!.epoch}`);
  }
  const last = h[h.length - 1];
  if (last && (last.to !== v.master || last.epoch !== v.epoch))
    problems.push(
      `last record (${last.to} @ ${last.epoch}) is not the committed master (${v.master} @ ${v.epoch})`,
    );
  const addrs = new Set(v.nodes.map((n) => n.addr));
  for (const r of h)
    if (!addrs.has(r.to)) problems.push(`record of epoch ${r.epoch} names ${r.to}, not a node`);
  return problems;
}

/** Promise 1 on the jobs: at most one failover/switchover job per epoch of `shard`. */
export function checkOneJobPerEpoch(jobs: JobView[]): string[] {
  const seen = new Map<number, string>();
  const problems: string[] = [];
  for (const j of jobs) {
    const e = Number(j.params.epoch);
    const prev = seen.get(e);
    if (prev) problems.push(`two jobs for epoch ${e}: ${prev} and ${j.id}`);
    seen.set(e, j.id);
  }
  return problems;
}

/** All views agree with each other and pass checkHistory; the jobs pass checkOneJobPerEpoch. */
export async function checkPromiseOne(fc: FailoverCluster, shard: string): Promise<void> {
  const ids = fc.live();
  const vs = await fc.views(shard, ids);
  const problems: string[] = [];
  vs.forEach((v, i) => {
    for (const p of checkHistory(v)) problems.push(`node ${ids[i]}: ${p}`);
    if (JSON.stringify(v.history) !== JSON.stringify(vs[0]!.history))
      problems.push(`node ${ids[i]}: history differs from node ${ids[0]}'s`);
  });
  for (const p of checkOneJobPerEpoch(await fc.failoverJobs(ids[0]!, shard))) problems.push(p);
  if (problems.length > 0) throw new Error(`promise 1 violated for ${shard}:\n  ${problems.join('\n  ')}`);
}

// ---------------------------------------------------------------------------------------------
// Clients and a steady writer

/** An ioredis client in Sentinel mode, pointed at the daemons' Sentinel ports. */
export function sentinelClient(fc: FailoverCluster, name: string): Redis {
  const client = new Redis({
    sentinels: fc.ids.map((id) => ({ host: '127.0.0.1', port: fc.c.node(id).ports.sentinel })),
    name,
    lazyConnect: true,
    connectTimeout: 1000,
    sentinelRetryStrategy: () => 50,
    retryStrategy: () => 20,
    // A write that reached a demoted master: reconnect (re-resolving the master) and resend it.
    reconnectOnError: (err) => (/^READONLY/.test(err.message) ? 2 : false),
    maxRetriesPerRequest: 50,
  });
  // Reconnections during a failover are expected; failed writes are counted by the writer.
  client.on('error', () => {});
  return client;
}

/**
 * Writes `prefix:L:i` = `i` from `loops` concurrent loops, each one write after the other a few ms
 * apart, and records each acknowledged key, the longest time between two acknowledgements, and the
 * longest a single write took.
 */
export class SteadyWriter {
  readonly acked: string[] = [];
  failures = 0;
  lastError: string | null = null;
  maxGapMs = 0;
  maxLatencyMs = 0;
  private stopped = false;
  private loops: Promise<void>[] = [];
  private lastAck: number | null = null;

  constructor(
    private readonly client: Redis,
    readonly prefix: string,
    private readonly opts: { loops?: number; intervalMs?: number } = {},
  ) {}

  start(): void {
    for (let l = 0; l < (this.opts.loops ?? 4); l++) this.loops.push(this.run(l));
  }

  /** Resolves once `n` more writes were acknowledged. */
  async waitAcks(n: number, timeoutMs = 20_000): Promise<void> {
    const target = this.acked.length + n;
    await waitFor(() => this.acked.length >= target, timeoutMs, {
      what: `${n} acknowledged writes (${this.failures} failures, last error ${this.lastError})`,
      intervalMs: 20,
    });
  }

  private async run(loop: number): Promise<void> {
    for (let i = 0; !this.stopped; i++) {
      const key = `${this.prefix}:${loop}:${i}`;
      const t0 = performance.now();
      try {
        const r = await this.client.set(key, String(i));
        const t1 = performance.now();
        if (r === 'OK') {
          this.acked.push(key);
          this.maxLatencyMs = Math.max(this.maxLatencyMs, t1 - t0);
          if (this.lastAck !== null) this.maxGapMs = Math.max(this.maxGapMs, t1 - this.lastAck);
          this.lastAck = Math.max(this.lastAck ?? 0, t1);
        }
      } catch (err) {
        this.failures++;
        this.lastError = (err as Error).message;
      }
      await sleep(this.opts.intervalMs ?? 3);
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.loops);
  }
}

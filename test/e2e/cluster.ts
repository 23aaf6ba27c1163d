/**
 * A raftinel deployment on test hosts (test/e2e/netns.ts): a Redis and a voting daemon on each
 * data host (the first one's Redis starts as the master, seeded), optional witness daemons, all
 * on one bridge; plus the client processes (test/e2e/client-main.ts) that write through the
 * Sentinel protocol from inside a host's namespace, and the key-by-key loss accounting.
 *
 * Daemon node ids are host ids. `destroy()` stops everything and removes the namespaces.
 */
import { join } from 'node:path';
import {
  DaemonNode,
  type DaemonTiming,
  PORTS,
  RedisNode,
  ROOT,
  removeScratch,
  type ShardView,
  scratchDir,
  sleep,
  waitFor,
} from './hosts.js';
import { type HostProcess, TestNet } from './netns.js';
import { NamingMonitor, WriteSampler } from './observe.js';

export const SHARD = 'mymaster';

/**
 * e2e timings. The config rules hold (et ≥ 5 hb, lease ≥ et, lease + et ≤ down) with a 1.5 s
 * margin between the latest fence (et + lease) and the earliest promotion (down), so a busy
 * 2-core machine cannot turn scheduling noise into a split brain the design does not have.
 */
export const E2E_TIMING: DaemonTiming = {
  heartbeatMs: 50,
  electionTimeoutMs: 500,
  leaseMs: 1000,
  downAfterMs: 3000,
};

export interface ClusterOptions {
  /** Hosts to create (ids 1..hosts). */
  hosts: number;
  /** Hosts with a Redis and a voting daemon; the first one's Redis starts as the master. */
  redisHosts: number[];
  /** Hosts with a witness daemon (no Redis). */
  witnessHosts?: number[];
  timing?: DaemonTiming;
  /** Hosts whose daemon runs under libfaketime. */
  faketime?: Record<number, { monotonic: boolean }>;
  seedKeys?: number;
}

export class E2ECluster {
  readonly redis = new Map<number, RedisNode>();
  readonly daemons = new Map<number, DaemonNode>();
  readonly dir: string;
  readonly timing: DaemonTiming;
  private clients = new Set<ClientProc>();
  private instruments: { stop(): Promise<unknown> }[] = [];

  private constructor(
    readonly net: TestNet,
    readonly o: ClusterOptions,
  ) {
    this.dir = scratchDir('raftinel-e2e-');
    this.timing = o.timing ?? E2E_TIMING;
  }

  static async start(o: ClusterOptions): Promise<E2ECluster> {
    const net = await TestNet.create(o.hosts);
    const c = new E2ECluster(net, o);
    try {
      await c.boot();
    } catch (err) {
      c.dumpLogs();
      await c.destroy();
      throw err;
    }
    return c;
  }

  private async boot(): Promise<void> {
    const [first, ...others] = this.o.redisHosts;
    const master = new RedisNode(this.net, first!, this.dir);
    this.redis.set(first!, master);
    await master.start();
    await seed(master, 'seed', this.o.seedKeys ?? 200);
    for (const h of others) {
      const r = new RedisNode(this.net, h, this.dir, { replicaOf: master.addr });
      this.redis.set(h, r);
    }
    await Promise.all(others.map((h) => this.redis.get(h)!.start()));
    await Promise.all(others.map((h) => waitSynced(this.redis.get(h)!, master)));

    const voters = [...this.o.redisHosts];
    const all = [...voters, ...(this.o.witnessHosts ?? [])];
    for (const h of all) {
      const witness = (this.o.witnessHosts ?? []).includes(h);
      this.daemons.set(
        h,
        new DaemonNode(this.net, h, this.dir, {
          nodeId: h,
          timing: this.timing,
          ...(h === first ? { single: true } : { join: [`${this.net.addr(first!)}:${PORTS.raft}`] }),
          ...(witness
            ? { role: 'witness' as const }
            : { redis: [{ shard: SHARD, addr: this.redis.get(h)!.addr }] }),
          ...(this.o.faketime?.[h] ? { faketime: this.o.faketime[h] } : {}),
        }),
      );
    }
    await this.daemon(first!).start();
    await waitFor(
      async () => (await this.daemon(first!).status()).role === 'leader',
      20_000,
      'node 1 to lead',
    );
    await Promise.all(all.filter((h) => h !== first).map((h) => this.daemon(h).start()));
    await waitFor(
      async () => {
        const sts = await Promise.all(all.map((h) => this.daemon(h).http('GET', '/v1/status')));
        return sts.every((s) => {
          const st = s.json as { leader: number | null; members: { id: number }[] };
          return st.leader !== null && st.members.length === all.length;
        });
      },
      40_000,
      `daemons ${all.join(', ')} to form one group`,
    );
    await this.waitConverged(master.addr, 40_000);
  }

  daemon(host: number): DaemonNode {
    const d = this.daemons.get(host);
    if (!d) throw new Error(`no daemon on host ${host}`);
    return d;
  }

  redisOn(host: number): RedisNode {
    const r = this.redis.get(host);
    if (!r) throw new Error(`no redis on host ${host}`);
    return r;
  }

  /** The host whose Redis has this address. */
  hostOf(addr: string): number {
    for (const [h, r] of this.redis) if (r.addr === addr) return h;
    throw new Error(`no redis at ${addr}`);
  }

  get hostIds(): number[] {
    return [...this.daemons.keys()];
  }

  /** The daemons' Sentinel endpoints, in the given host order (default: all). */
  sentinels(order = this.hostIds): { host: string; port: number }[] {
    return order.map((h) => ({ host: this.net.addr(h), port: PORTS.sentinel }));
  }

  /**
   * Start the observer's instruments: a WriteSampler on every Redis and a NamingMonitor on every
   * daemon. destroy() stops them if the test did not.
   */
  observe(opts: { sampleMs?: number; pollMs?: number } = {}): {
    sampler: WriteSampler;
    monitor: NamingMonitor;
  } {
    const sampler = new WriteSampler(
      [...this.redis.values()].map((r) => r.addr),
      { intervalMs: opts.sampleMs ?? 100 },
    ).start();
    const monitor = this.namingMonitor(opts.pollMs ?? 50).start();
    this.instruments.push(sampler, monitor);
    return { sampler, monitor };
  }

  namingMonitor(intervalMs = 50): NamingMonitor {
    return new NamingMonitor(
      this.hostIds.map((h) => ({ id: h, addr: this.daemon(h).sentinelAddr })),
      SHARD,
      { intervalMs },
    );
  }

  /** The leader as all of `hosts` see it (they must agree); a host id. */
  async leader(
    hosts = this.hostIds.filter((h) => this.daemon(h).running),
    timeoutMs = 20_000,
  ): Promise<number> {
    return waitFor(
      async () => {
        const sts = await Promise.all(hosts.map((h) => this.daemon(h).status()));
        const l = sts[0]!.leader;
        if (l === null || !sts.every((s) => s.leader === l)) return null;
        return sts.find((s) => s.node_id === l)?.role === 'leader' ? l : null;
      },
      timeoutMs,
      `one leader among hosts ${hosts.join(', ')}`,
    );
  }

  /** Move Raft leadership to host `to` (POST /v1/leader/transfer) and wait until all agree. */
  async transferLeader(to: number): Promise<void> {
    for (let attempt = 0; attempt < 5; attempt++) {
      if ((await this.leader()) === to) return;
      await this.daemon(to).http('POST', '/v1/leader/transfer', { to });
      try {
        await waitFor(
          async () => (await this.leader(undefined, 3000)) === to,
          8000,
          `host ${to} to lead`,
          100,
        );
        return;
      } catch {
        // a loaded machine: try again
      }
    }
    throw new Error(`could not move leadership to host ${to}`);
  }

  async views(hosts = this.hostIds): Promise<ShardView[]> {
    return Promise.all(hosts.map((h) => this.daemon(h).shard(SHARD)));
  }

  /** Failovers committed so far (history records after the initial assignment), per host 1's view. */
  async failovers(host = this.hostIds[0]!): Promise<ShardView['history']> {
    return (await this.daemon(host).shard(SHARD)).history.filter((r) => r.kind !== 'initial');
  }

  /**
   * Wait until the shard has converged: every daemon's committed view names the same master and
   * epoch with nothing pending, every daemon's Sentinel port names that master, the master's
   * Redis reports role:master, and every other Redis replicates it with its link up. Returns the
   * master. `expect`: that master must be this address.
   */
  async waitConverged(expect?: string, timeoutMs = 30_000): Promise<{ master: string; epoch: number }> {
    let last = '';
    try {
      return await waitFor(
        async () => {
          const views = await this.views();
          const m = views[0]!.master;
          const e = views[0]!.epoch;
          last = views
            .map((v, i) => `h${this.hostIds[i]}: ${v.master}@${v.epoch}${v.pending ? ' pending' : ''}`)
            .join(', ');
          if (!m || views.some((v) => v.master !== m || v.epoch !== e || v.pending)) return null;
          if (expect && m !== expect) return null;
          const poll = await this.namingMonitor().poll();
          const named = [...poll.answers.entries()];
          last += `; named: ${named.map(([h, a]) => `h${h}=${a}`).join(', ')}`;
          if (!named.every(([, a]) => a === m)) return null;
          for (const [, r] of this.redis) {
            const info = await r.info();
            if (r.addr === m) {
              if (info.role !== 'master') return null;
            } else if (
              info.role !== 'slave' ||
              `${info.master_host}:${info.master_port}` !== m ||
              info.master_link_status !== 'up'
            ) {
              last += `; ${r.addr}: ${info.role} of ${info.master_host}:${info.master_port} link ${info.master_link_status}`;
              return null;
            }
          }
          return { master: m, epoch: e };
        },
        timeoutMs,
        `shard ${SHARD} to converge${expect ? ` on ${expect}` : ''}`,
        100,
      );
    } catch (err) {
      throw new Error(`${(err as Error).message}\n  state: ${last}`);
    }
  }

  /** Start a client process on host `host` writing through the daemons' Sentinel ports. */
  async client(host: number, writers: WriterSpec[], order = this.hostIds): Promise<ClientProc> {
    const c = await ClientProc.start(this.net, host, {
      sentinels: this.sentinels(order),
      name: SHARD,
      writers,
    });
    this.clients.add(c);
    return c;
  }

  dumpLogs(max = 40): void {
    for (const [h, d] of this.daemons) {
      console.log(`[e2e] daemon on host ${h} (${d.running ? 'running' : 'not running'}):`);
      for (const l of d.interesting(max)) console.log(`  ${l}`);
    }
  }

  async destroy(): Promise<void> {
    await Promise.all(this.instruments.map((i) => i.stop().catch(() => {})));
    await Promise.all([...this.clients].map((c) => c.stop().catch(() => {})));
    await this.net.destroy();
    removeScratch(this.dir);
  }
}

// ---------------------------------------------------------------------------------------------
// Redis helpers

export async function seed(r: RedisNode, prefix: string, n: number): Promise<void> {
  const c = r.client(5000);
  c.on('error', () => {});
  try {
    await c.connect();
    const p = c.pipeline();
    for (let i = 0; i < n; i++) p.set(`${prefix}:${i}`, String(i));
    await p.exec();
  } finally {
    c.disconnect();
  }
}

export async function waitSynced(r: RedisNode, master: RedisNode, timeoutMs = 30_000): Promise<void> {
  await waitFor(
    async () => {
      const [ri, mi] = await Promise.all([r.info(), master.info()]);
      return (
        ri.master_link_status === 'up' &&
        ri.master_host === master.ip &&
        Number(ri.slave_repl_offset) > 0 &&
        Number(ri.slave_repl_offset) >= Number(mi.master_repl_offset)
      );
    },
    timeoutMs,
    `${r.addr} to sync with ${master.addr}`,
  );
}

// ---------------------------------------------------------------------------------------------
// Client processes and loss accounting

export interface WriterSpec {
  prefix: string;
  wait?: boolean;
  waitMs?: number;
  intervalMs?: number;
}

export interface Ack {
  /** The key (`prefix:i`, holding `i`). */
  a: string;
  /** When the acknowledgement arrived (ms since epoch). */
  t: number;
  /** Replicas WAIT 1 reported (only for WAIT writers; -1 when WAIT failed). */
  r?: number;
  /** The Redis the client was connected to. */
  v: string | null;
}

const CLIENT_MAIN = join(ROOT, 'test', 'e2e', 'client-main.ts');

/** A client-main.ts process in a host's namespace, and the writes it acknowledged. */
export class ClientProc {
  readonly acks: Ack[] = [];
  errors: Record<string, number> = {};
  private done: Promise<void>;

  private constructor(readonly proc: HostProcess) {
    let resolveDone!: () => void;
    this.done = new Promise((r) => {
      resolveDone = r;
    });
    proc.onLine((line) => {
      if (!line.startsWith('{')) return;
      let o: Record<string, unknown>;
      try {
        o = JSON.parse(line) as Record<string, unknown>;
      } catch {
        return;
      }
      if (typeof o.a === 'string') this.acks.push(o as unknown as Ack);
      else if (o.done) {
        this.errors = (o.errors as Record<string, number>) ?? {};
        resolveDone();
      }
    });
    void proc.exited.then(() => resolveDone());
  }

  static async start(
    net: TestNet,
    host: number,
    spec: {
      sentinels: { host: string; port: number }[];
      name: string;
      writers: WriterSpec[];
      maxDurationMs?: number;
    },
  ): Promise<ClientProc> {
    const p = net.spawn(
      host,
      `client[${spec.writers.map((w) => w.prefix).join(',')}]`,
      process.execPath,
      ['--import', 'tsx', CLIENT_MAIN, JSON.stringify({ maxDurationMs: 300_000, ...spec })],
      { cwd: ROOT, stdin: true },
    );
    const c = new ClientProc(p);
    await p.waitForLine((l) => l.includes('"ready":true'), 30_000);
    return c;
  }

  /** Wait until `n` more writes were acknowledged (by any writer, or those of `prefix`). */
  async waitAcks(n: number, timeoutMs = 20_000, prefix?: string): Promise<void> {
    const count = () =>
      prefix ? this.acks.filter((a) => a.a.startsWith(`${prefix}:`)).length : this.acks.length;
    const target = count() + n;
    await waitFor(
      () => count() >= target,
      timeoutMs,
      `${n} acknowledged writes (errors: ${JSON.stringify(this.lastErrors())})`,
      25,
    );
  }

  /** Acknowledged writes of `prefix` whose acknowledgement arrived in [fromMs, toMs]. */
  acksBetween(fromMs: number, toMs: number, prefix?: string): Ack[] {
    return this.acks.filter((a) => a.t >= fromMs && a.t <= toMs && (!prefix || a.a.startsWith(`${prefix}:`)));
  }

  private lastErrors(): Record<string, number> {
    return this.errors;
  }

  /** Stop the writers (close stdin), wait for the final line (bounded), then make sure it exited. */
  async stop(): Promise<void> {
    if (this.proc.running) {
      this.proc.proc.stdin?.end();
      await Promise.race([this.done, sleep(8000)]);
    }
    await this.proc.kill();
  }
}

export interface LossReport {
  acked: number;
  lost: number;
  lostKeys: string[];
  /** Acknowledged with WAIT 1 ≥ 1 replica. */
  waitAcked: number;
  waitLost: number;
  waitLostKeys: string[];
}

/** Check every acknowledged key on `master` (the converged master), key by key. */
export async function lossReport(master: RedisNode, acks: readonly Ack[]): Promise<LossReport> {
  const keys = [...new Set(acks.map((a) => a.a))];
  const missing = new Set(await master.missing(keys));
  const lost = keys.filter((k) => missing.has(k));
  const waited = [...new Set(acks.filter((a) => (a.r ?? 0) >= 1).map((a) => a.a))];
  const waitLost = waited.filter((k) => missing.has(k));
  return {
    acked: keys.length,
    lost: lost.length,
    lostKeys: lost.slice(0, 20),
    waitAcked: waited.length,
    waitLost: waitLost.length,
    waitLostKeys: waitLost.slice(0, 20),
  };
}

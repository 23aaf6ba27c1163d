/**
 * `npm run bench -- partition`: the master's host is cut off from the other hosts, with clients on
 * its side, for a while; then the partition heals. How many writes did the isolated old master
 * acknowledge after the partition began, and how many of them were lost once it rejoined?
 *
 * The same layout for every system, on real network namespaces (test/e2e/netns.ts; needs root):
 * three hosts, each with a redis-server (host 1's is the master, seeded; the others replicate it)
 * and the failover software beside it. A client on host 1 and a client on host 2 write through
 * their Sentinel support (ioredis in Sentinel mode with the failover detector, pointed at the
 * three Sentinel ports), each with a plain SET loop and a SET + WAIT 1 loop, every key unique.
 * Host 1 is isolated from hosts 2 and 3 (iptables DROP) for the partition time, then healed; once
 * the old master replicates the new one, every acknowledged key is looked up on the final master.
 *
 * Systems, side by side in one run:
 * - `redis-sentinel`: three redis-sentinel processes (quorum 2), down-after-milliseconds as
 *   raftinel's down_after_ms, failover-timeout 10 s; no min-replicas-to-write.
 * - `redis-sentinel` with `min-replicas-to-write 1` and `min-replicas-max-lag 10` on every Redis
 *   (the Sentinel documentation's advice against this very loss).
 * - `raftinel`: one daemon per host with the product defaults (heartbeat 100 ms, election timeout
 *   1000 ms, lease 2000 ms, down_after 3000 ms).
 */

import { type Ack, ClientProc, E2ECluster, SHARD, waitSynced } from '../test/e2e/cluster.js';
import {
  type DaemonTiming,
  PORTS,
  RedisNode,
  removeScratch,
  SentinelNode,
  scratchDir,
  sleep,
  waitFor,
} from '../test/e2e/hosts.js';
import { netnsSupport, TestNet } from '../test/e2e/netns.js';
import { respOnce } from '../test/e2e/observe.js';
import setupBuild from '../test/support/build.js';
import type { Benchmark, BenchOptions, BenchRow } from './types.js';

/** raftinel's defaults (PRODUCT.md); down_after is the one setting every system shares. */
const DEFAULTS: DaemonTiming = {
  heartbeatMs: 100,
  electionTimeoutMs: 1000,
  leaseMs: 2000,
  downAfterMs: 3000,
};
const PARTITION_MS = 20_000;
/** Still longer than min-replicas-max-lag (10 s), so that its effect shows. */
const QUICK_PARTITION_MS = 13_000;

interface Deployment {
  net: TestNet;
  redis: Map<number, RedisNode>;
  /** The Sentinel endpoints clients are given. */
  sentinels(): { host: string; port: number }[];
  /** The master the monitor on `host` names (null when it names none or does not answer). */
  namedBy(host: number): Promise<string | null>;
  /** The shard converged after healing: returns the final master. */
  converged(timeoutMs: number): Promise<string>;
  client(host: number, writers: { prefix: string; wait?: boolean }[]): Promise<ClientProc>;
  destroy(): Promise<void>;
}

async function namedAt(addr: string): Promise<string | null> {
  const i = addr.lastIndexOf(':');
  const r = await respOnce(
    addr.slice(0, i),
    Number(addr.slice(i + 1)),
    ['SENTINEL', 'GET-MASTER-ADDR-BY-NAME', SHARD],
    1000,
  );
  return r.reply && r.reply !== 'null' && !r.reply.startsWith('-') ? r.reply : null;
}

// ---------------------------------------------------------------------------------------------
// redis-sentinel

async function sentinelDeployment(minReplicas: boolean, downAfterMs: number): Promise<Deployment> {
  const net = await TestNet.create(3);
  const dir = scratchDir('raftinel-bench-partition-');
  const redis = new Map<number, RedisNode>();
  const clients: ClientProc[] = [];
  try {
    const extra = minReplicas ? ['min-replicas-to-write 1', 'min-replicas-max-lag 10'] : [];
    const master = new RedisNode(net, 1, dir, { extra });
    redis.set(1, master);
    await master.start();
    for (const h of [2, 3]) redis.set(h, new RedisNode(net, h, dir, { replicaOf: master.addr, extra }));
    await Promise.all([2, 3].map((h) => redis.get(h)!.start()));
    await Promise.all([2, 3].map((h) => waitSynced(redis.get(h)!, master)));
    const sentinels = [1, 2, 3].map(
      (h) =>
        new SentinelNode(net, h, dir, {
          name: SHARD,
          master: master.addr,
          quorum: 2,
          downAfterMs,
          failoverTimeoutMs: 10_000,
        }),
    );
    await Promise.all(sentinels.map((s) => s.start()));
    // Every Sentinel knows both replicas and the two other Sentinels.
    await waitFor(
      async () => {
        for (const s of sentinels) {
          const i = s.addr.lastIndexOf(':');
          const r = await respOnce(s.addr.slice(0, i), PORTS.sentinel, ['SENTINEL', 'MASTER', SHARD], 1000);
          const f = (r.reply ?? '').split(':');
          const field = (k: string) => f[f.indexOf(k) + 1];
          if (field('num-slaves') !== '2' || field('num-other-sentinels') !== '2') return false;
        }
        return true;
      },
      60_000,
      'the Sentinels to discover each other and the replicas',
      200,
    );
    const d: Deployment = {
      net,
      redis,
      sentinels: () => sentinels.map((s) => ({ host: net.addr(s.host), port: PORTS.sentinel })),
      namedBy: (h) => namedAt(sentinels[h - 1]!.addr),
      converged: (timeoutMs) => convergedRedis(d, timeoutMs),
      client: async (host, writers) => {
        const c = await ClientProc.start(net, host, { sentinels: d.sentinels(), name: SHARD, writers });
        clients.push(c);
        return c;
      },
      destroy: async () => {
        await Promise.all(clients.map((c) => c.stop().catch(() => {})));
        await net.destroy();
        removeScratch(dir);
      },
    };
    return d;
  } catch (err) {
    await net.destroy();
    removeScratch(dir);
    throw err;
  }
}

/** Every monitor names the same master; it is a master; the others replicate it with the link up. */
async function convergedRedis(d: Deployment, timeoutMs: number): Promise<string> {
  return waitFor(
    async () => {
      const named = await Promise.all([1, 2, 3].map((h) => d.namedBy(h)));
      const m = named[0];
      if (!m || named.some((x) => x !== m)) return null;
      for (const r of d.redis.values()) {
        const info = await r.info();
        if (
          r.addr === m
            ? info.role !== 'master'
            : info.role !== 'slave' ||
              `${info.master_host}:${info.master_port}` !== m ||
              info.master_link_status !== 'up'
        )
          return null;
      }
      return m;
    },
    timeoutMs,
    'the shard to converge after healing',
    200,
  );
}

// ---------------------------------------------------------------------------------------------
// raftinel

async function raftinelDeployment(timing: DaemonTiming): Promise<Deployment> {
  const c = await E2ECluster.start({ hosts: 3, redisHosts: [1, 2, 3], timing, seedKeys: 100 });
  return {
    net: c.net,
    redis: c.redis,
    sentinels: () => c.sentinels(),
    namedBy: (h) => namedAt(c.daemon(h).sentinelAddr),
    converged: async (timeoutMs) => (await c.waitConverged(undefined, timeoutMs)).master,
    client: (host, writers) => c.client(host, writers),
    destroy: () => c.destroy(),
  };
}

// ---------------------------------------------------------------------------------------------
// The measurement

async function measure(
  d: Deployment,
  partitionMs: number,
  warmupMs: number,
  progress: (m: string) => void,
): Promise<Record<string, number | null>> {
  const oldMaster = d.redis.get(1)!.addr;
  const near = await d.client(1, [{ prefix: 'near' }, { prefix: 'nearw', wait: true }]);
  const far = await d.client(2, [{ prefix: 'far' }, { prefix: 'farw', wait: true }]);
  await Promise.all([near.waitAcks(50, 30_000), far.waitAcks(50, 30_000)]);
  await sleep(warmupMs);

  progress(`  partition: host 1 (the master's) cut off for ${partitionMs} ms`);
  const cut = Date.now();
  await d.net.isolate(1);
  let newMasterMs: number | null = null;
  const end = cut + partitionMs;
  while (Date.now() < end) {
    if (newMasterMs === null) {
      const n = await d.namedBy(2);
      if (n && n !== oldMaster) newMasterMs = Date.now() - cut;
    }
    await sleep(50);
  }
  const healAt = Date.now();
  await d.net.heal();
  progress('  healed; waiting for the old master to replicate the new one');
  const master = await d.converged(90_000);
  // Both clients write again after healing (to the final master), then stop.
  await Promise.all([near.waitAcks(20, 30_000), far.waitAcks(20, 30_000)]);
  await Promise.all([near.stop(), far.stop()]);

  const final = d.redis.get([...d.redis.entries()].find(([, r]) => r.addr === master)![0])!;
  const acks: Ack[] = [...near.acks, ...far.acks];
  const missing = new Set(await final.missing(acks.map((a) => a.a)));
  const byOld = acks.filter((a) => a.t >= cut && a.t <= healAt && a.v === oldMaster);
  const waited = acks.filter((a) => (a.r ?? 0) >= 1);
  const lastOld = byOld.length ? Math.max(...byOld.map((a) => a.t)) - cut : null;
  return {
    old_master_acked: byOld.length,
    old_master_lost: byOld.filter((a) => missing.has(a.a)).length,
    old_master_last_ack_ms: lastOld,
    acked: acks.length,
    lost: acks.filter((a) => missing.has(a.a)).length,
    wait_acked: waited.length,
    wait_lost: waited.filter((a) => missing.has(a.a)).length,
    new_master_ms: newMasterMs,
  };
}

const partition: Benchmark = {
  name: 'partition',
  description:
    "the master's host isolated with clients on its side: writes the old master acknowledged and lost, redis-sentinel (with and without min-replicas-to-write) vs raftinel (needs root)",
  columns: [
    'system',
    'config',
    'partition_ms',
    'old_master_acked',
    'old_master_lost',
    'old_master_last_ack_ms',
    'acked',
    'lost',
    'wait_acked',
    'wait_lost',
    'new_master_ms',
    'loaded',
  ],
  async *run(opts: BenchOptions): AsyncIterable<BenchRow> {
    const s = netnsSupport();
    if (!s.ok) throw new Error(`the partition benchmark runs on network namespaces and ${s.reason}`);
    setupBuild();
    const partitionMs = opts.durationMs ?? (opts.quick ? QUICK_PARTITION_MS : PARTITION_MS);
    const warmupMs = opts.quick ? 1000 : 3000;
    const systems: { system: string; config: string; deploy: () => Promise<Deployment> }[] = [
      {
        system: 'redis-sentinel',
        config: 'quorum 2',
        deploy: () => sentinelDeployment(false, DEFAULTS.downAfterMs),
      },
      {
        system: 'redis-sentinel',
        config: 'quorum 2, min-replicas 1/10 s',
        deploy: () => sentinelDeployment(true, DEFAULTS.downAfterMs),
      },
      {
        system: 'raftinel',
        config: `lease ${DEFAULTS.leaseMs} ms, et ${DEFAULTS.electionTimeoutMs} ms`,
        deploy: () => raftinelDeployment(DEFAULTS),
      },
    ];
    for (const sys of systems) {
      opts.progress(`partition: ${sys.system} (${sys.config}), down-after ${DEFAULTS.downAfterMs} ms`);
      const d = await sys.deploy();
      try {
        const figures = await measure(d, partitionMs, warmupMs, opts.progress);
        yield { system: sys.system, config: sys.config, partition_ms: partitionMs, ...figures };
      } finally {
        await d.destroy();
      }
    }
  },
};

export default partition;

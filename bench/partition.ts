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
 * In the "killed at the cut" cases the monitor beside the old master (its daemon, or its
 * redis-sentinel) is SIGKILLed at the moment of the cut and started again only after the old
 * master rejoined as a replica. The observer (this process, never partitioned) also tries one SET
 * on the old master every 50 ms, to time when it stopped acknowledging writes.
 *
 * Cases, side by side in one run (BENCH_PARTITION=id,id,... runs a subset):
 * - `sentinel`, `sentinel-killed`: three redis-sentinel processes (quorum 2),
 *   down-after-milliseconds as raftinel's down_after_ms, failover-timeout 10 s; no
 *   min-replicas-to-write.
 * - `sentinel-min10`, `sentinel-min10-killed`: the same with `min-replicas-to-write 1` and
 *   `min-replicas-max-lag 10` on every Redis (the Sentinel documentation's advice against this very
 *   loss).
 * - `sentinel-min1-killed`: `min-replicas-to-write 1`, `min-replicas-max-lag 1`: the setting
 *   raftinel's write guard uses, without the group that lowers it (bench/fence.ts measures that).
 * - `raftinel`, `raftinel-killed`: one daemon per host with the product defaults (heartbeat
 *   100 ms, election timeout 1000 ms, lease 2000 ms, down_after 3000 ms, write guard
 *   min_replicas_to_write / min_replicas_max_lag as the settings table has them).
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
import { respOnce, WriteSampler } from '../test/e2e/observe.js';
import setupBuild from '../test/support/build.js';
import { applyShardSettings, minReplicasOf, PRODUCT_TIMING, selectedCases } from './fence.js';
import type { Benchmark, BenchOptions, BenchRow } from './types.js';

/** raftinel's defaults; down_after is the one setting every system shares. */
const DEFAULTS: DaemonTiming = PRODUCT_TIMING;
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
  /** SIGKILL the monitor (daemon or redis-sentinel) on `host`. */
  killMonitor(host: number): void;
  /** Start the monitor on `host` again (after killMonitor). */
  restartMonitor(host: number): Promise<void>;
  /** Wait until the old master runs with its write guard (raftinel; a no-op for Sentinel). */
  guarded(timeoutMs: number): Promise<void>;
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

async function sentinelDeployment(
  minReplicas: { toWrite: number; maxLagS: number } | null,
  downAfterMs: number,
): Promise<Deployment> {
  const net = await TestNet.create(3);
  const dir = scratchDir('raftinel-bench-partition-');
  const redis = new Map<number, RedisNode>();
  const clients: ClientProc[] = [];
  try {
    const extra = minReplicas
      ? [`min-replicas-to-write ${minReplicas.toWrite}`, `min-replicas-max-lag ${minReplicas.maxLagS}`]
      : [];
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
      killMonitor: (h) => sentinels[h - 1]!.proc?.signal('SIGKILL'),
      restartMonitor: async (h) => {
        await sentinels[h - 1]!.proc?.kill();
        await sentinels[h - 1]!.start();
      },
      guarded: async () => {},
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
  try {
    await applyShardSettings(c.daemon(1).sentinelAddr);
  } catch (err) {
    await c.destroy();
    throw err;
  }
  return {
    net: c.net,
    redis: c.redis,
    sentinels: () => c.sentinels(),
    namedBy: (h) => namedAt(c.daemon(h).sentinelAddr),
    converged: async (timeoutMs) => (await c.waitConverged(undefined, timeoutMs)).master,
    client: (host, writers) => c.client(host, writers),
    killMonitor: (h) => c.daemon(h).signal('SIGKILL'),
    restartMonitor: async (h) => {
      await c.daemon(h).proc?.kill();
      await c.daemon(h).start();
    },
    // The leader raises the guard once it sees the replicas attached; with
    // min_replicas_to_write = 0 there is none, and the case runs without it.
    guarded: async (timeoutMs) => {
      await waitFor(
        async () =>
          ((await c.redisOn(1).call('CONFIG', 'GET', 'min-replicas-to-write')) as string[])[1] !== '0',
        timeoutMs,
        'the write guard on the master',
        100,
      ).catch(() => {});
    },
    destroy: () => c.destroy(),
  };
}

// ---------------------------------------------------------------------------------------------
// The measurement

/** The old master "stopped" acknowledging writes only if it accepted none in this last stretch. */
const STILL_ACCEPTING_MS = 1000;

async function measure(
  d: Deployment,
  o: { partitionMs: number; warmupMs: number; killAtCut: boolean },
  progress: (m: string) => void,
): Promise<Record<string, number | string | null>> {
  const { partitionMs } = o;
  const old = d.redis.get(1)!;
  const oldMaster = old.addr;
  const near = await d.client(1, [{ prefix: 'near' }, { prefix: 'nearw', wait: true }]);
  const far = await d.client(2, [{ prefix: 'far' }, { prefix: 'farw', wait: true }]);
  await Promise.all([near.waitAcks(50, 30_000), far.waitAcks(50, 30_000)]);
  await d.guarded(20_000);
  await sleep(o.warmupMs);
  const minReplicas = await minReplicasOf(old);
  const sampler = new WriteSampler([oldMaster], {
    intervalMs: 50,
    maxDurationMs: partitionMs + 120_000,
  }).start();

  progress(
    `  partition: host 1 (the master's) cut off for ${partitionMs} ms${o.killAtCut ? ', its monitor killed' : ''}`,
  );
  const cut = Date.now();
  if (o.killAtCut) d.killMonitor(1);
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
  // With its monitor dead, the others must make the old master a replica; then the monitor returns.
  const rejoinedMs = await waitFor(
    async () => {
      const m = await d.namedBy(2);
      const i = await old.info();
      return m &&
        i.role === 'slave' &&
        `${i.master_host}:${i.master_port}` === m &&
        i.master_link_status === 'up'
        ? Date.now() - healAt
        : null;
    },
    60_000,
    'the old master to replicate the new one',
    100,
  ).catch(() => null);
  await sampler.stop();
  if (o.killAtCut) await d.restartMonitor(1);
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
  // When the old master stopped acknowledging writes: its last accepted write (sampled or a
  // client's) before healing; null when it still accepted them at the end.
  const lastAccepted = Math.max(sampler.lastAccepted(oldMaster, healAt) ?? cut, ...byOld.map((a) => a.t));
  const stoppedMs = lastAccepted >= healAt - STILL_ACCEPTING_MS ? null : lastAccepted - cut;
  return {
    min_replicas: minReplicas,
    stopped_ms: stoppedMs,
    old_master_acked: byOld.length,
    old_master_lost: byOld.filter((a) => missing.has(a.a)).length,
    old_master_last_ack_ms: lastOld,
    acked: acks.length,
    lost: acks.filter((a) => missing.has(a.a)).length,
    wait_acked: waited.length,
    wait_lost: waited.filter((a) => missing.has(a.a)).length,
    new_master_ms: newMasterMs,
    rejoined_ms: rejoinedMs,
  };
}

interface Case {
  id: string;
  system: 'raftinel' | 'redis-sentinel';
  config: string;
  killAtCut: boolean;
  deploy: () => Promise<Deployment>;
}

const CASES: Case[] = [
  ...[false, true].map((killAtCut) => ({
    id: killAtCut ? 'sentinel-killed' : 'sentinel',
    system: 'redis-sentinel' as const,
    config: 'quorum 2',
    killAtCut,
    deploy: () => sentinelDeployment(null, DEFAULTS.downAfterMs),
  })),
  ...[false, true].map((killAtCut) => ({
    id: killAtCut ? 'sentinel-min10-killed' : 'sentinel-min10',
    system: 'redis-sentinel' as const,
    config: 'quorum 2, min-replicas 1/10 s',
    killAtCut,
    deploy: () => sentinelDeployment({ toWrite: 1, maxLagS: 10 }, DEFAULTS.downAfterMs),
  })),
  {
    id: 'sentinel-min1-killed',
    system: 'redis-sentinel',
    config: 'quorum 2, min-replicas 1/1 s',
    killAtCut: true,
    deploy: () => sentinelDeployment({ toWrite: 1, maxLagS: 1 }, DEFAULTS.downAfterMs),
  },
  ...[false, true].map((killAtCut) => ({
    id: killAtCut ? 'raftinel-killed' : 'raftinel',
    system: 'raftinel' as const,
    config: `lease ${DEFAULTS.leaseMs} ms, et ${DEFAULTS.electionTimeoutMs} ms`,
    killAtCut,
    deploy: () => raftinelDeployment(DEFAULTS),
  })),
];

const partition: Benchmark = {
  name: 'partition',
  description:
    "the master's host isolated with clients on its side, its monitor alive or killed at the cut: when the old master stopped acknowledging writes, and what it acknowledged and lost; redis-sentinel (with and without min-replicas-to-write) vs raftinel (needs root)",
  columns: [
    'system',
    'config',
    'killed_at_cut',
    'min_replicas',
    'partition_ms',
    'stopped_ms',
    'old_master_acked',
    'old_master_lost',
    'old_master_last_ack_ms',
    'acked',
    'lost',
    'wait_acked',
    'wait_lost',
    'new_master_ms',
    'rejoined_ms',
    'loaded',
  ],
  async *run(opts: BenchOptions): AsyncIterable<BenchRow> {
    const s = netnsSupport();
    if (!s.ok) throw new Error(`the partition benchmark runs on network namespaces and ${s.reason}`);
    setupBuild();
    const partitionMs = opts.durationMs ?? (opts.quick ? QUICK_PARTITION_MS : PARTITION_MS);
    const warmupMs = opts.quick ? 1000 : 3000;
    for (const c of selectedCases('BENCH_PARTITION', CASES)) {
      opts.progress(
        `partition: ${c.system} (${c.config})${c.killAtCut ? ', monitor killed at the cut' : ''}, down-after ${DEFAULTS.downAfterMs} ms`,
      );
      const d = await c.deploy();
      try {
        const figures = await measure(d, { partitionMs, warmupMs, killAtCut: c.killAtCut }, opts.progress);
        yield {
          system: c.system,
          config: c.config,
          killed_at_cut: c.killAtCut,
          partition_ms: partitionMs,
          ...figures,
        };
      } finally {
        await d.destroy();
      }
    }
  },
};

export default partition;

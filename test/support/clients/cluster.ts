/**
 * The deployment the Sentinel client tests run against: a Redis master with one or two replicas,
 * and three raftinel daemons (node 1 beside the master, node 2 beside the first replica, node 3
 * beside the second replica or with no Redis), one shard `mymaster`. Optionally every daemon's
 * Raft traffic goes through RaftProxies, so one daemon can be cut off (see partition.ts).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import { DaemonCluster, type NodeOptions, TIMING, waitFor } from '../daemons.js';
import { callOnce, RedisProcess } from '../redis.js';
import { parseAddr, type SentinelAddr } from './common.js';
import { RaftProxiesProcess } from './partition.js';

export interface ShardClusterOptions {
  /** Replicas beside the master (1 or 2). Default 1. */
  replicas?: 1 | 2;
  /** Route Raft traffic through proxies so a daemon can be cut off. */
  partitionable?: boolean;
  failover?: NodeOptions['failover'];
  raftTiming?: NodeOptions['raftTiming'];
  sentinelPassword?: string;
}

export const SHARD = 'mymaster';
export const IDS = [1, 2, 3] as const;

export class ShardCluster {
  private constructor(
    readonly c: DaemonCluster,
    readonly redis: RedisProcess[],
    readonly proxies: RaftProxiesProcess | null,
    readonly opts: ShardClusterOptions,
  ) {}

  static async start(opts: ShardClusterOptions = {}): Promise<ShardCluster> {
    const master = await RedisProcess.start();
    const redis = [master];
    for (let i = 0; i < (opts.replicas ?? 1); i++)
      redis.push(await RedisProcess.start({ replicaOf: master.addr }));
    const c = new DaemonCluster();
    const proxies = opts.partitionable
      ? await RaftProxiesProcess.start(
          (id) => c.nodes.get(id)?.proc?.pid,
          () => [...c.nodes.keys()],
        )
      : null;
    const sc = new ShardCluster(c, redis, proxies, opts);
    const common: NodeOptions = {
      ...(opts.failover ? { failover: opts.failover } : {}),
      ...(opts.raftTiming ? { raftTiming: opts.raftTiming } : {}),
      ...(opts.sentinelPassword ? { sentinelPassword: opts.sentinelPassword } : {}),
    };
    for (const id of IDS) {
      const r = redis[id - 1];
      const n = await c.define(id, {
        ...common,
        ...(id === 1 ? { single: true } : { join: [1] }),
        redis: r ? [{ shard: SHARD, addr: r.addr }] : [],
      });
      if (proxies) {
        const port = await proxies.add(id, n.ports.raft);
        const text = readFileSync(n.configPath, 'utf8');
        const listen = `listen = "${n.raftAddr}"`;
        if (!text.includes(listen)) throw new Error(`node ${id}: no [raft] listen line to add advertise to`);
        writeFileSync(n.configPath, text.replace(listen, `${listen}\nadvertise = "127.0.0.1:${port}"`));
      }
    }
    await c.node(1).start();
    await c.waitForLeader([1]);
    await Promise.all([c.node(2).start(), c.node(3).start()]);
    await c.waitForMembers([...IDS], [...IDS]);
    await sc.waitHealthy(master.addr);
    return sc;
  }

  /** Sentinel addresses of the daemons, in the order given (default 1, 2, 3). */
  sentinels(order: number[] = [...IDS]): SentinelAddr[] {
    return order.map((id) => parseAddr(this.c.node(id).sentinelAddr));
  }

  sentinel(id: number): SentinelAddr {
    return parseAddr(this.c.node(id).sentinelAddr);
  }

  redisAt(addr: string): RedisProcess {
    const r = this.redis.find((x) => x.addr === addr);
    if (!r) throw new Error(`no redis at ${addr}`);
    return r;
  }

  /** A short-lived connection to daemon `id`'s Sentinel port. */
  async sentinelCall(id: number, ...args: string[]): Promise<unknown> {
    const { host, port } = this.sentinel(id);
    const r = new Redis({
      host,
      port,
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      enableOfflineQueue: false,
      connectTimeout: 1000,
      commandTimeout: 2000,
      retryStrategy: () => null,
      ...(this.opts.sentinelPassword ? { password: this.opts.sentinelPassword } : {}),
    });
    return callOnce(r, args);
  }

  /** What daemon `id` answers to GET-MASTER-ADDR-BY-NAME ("host:port" or null). */
  async namedBy(id: number): Promise<string | null> {
    const r = (await this.sentinelCall(id, 'SENTINEL', 'get-master-addr-by-name', SHARD)) as
      | [string, string]
      | null;
    return r ? `${r[0]}:${r[1]}` : null;
  }

  /** Wait until each of `ids` names `addr` as the master. */
  async waitNamed(addr: string, ids: number[] = [...IDS], timeoutMs = 20_000): Promise<void> {
    await waitFor(
      async () => {
        const named = await Promise.all(ids.map((id) => this.namedBy(id).catch((e: Error) => e.message)));
        return named.every((n) => n === addr) ? true : null;
      },
      timeoutMs,
      { what: `daemons ${ids.join(', ')} to name ${addr}`, intervalMs: 50 },
    );
  }

  /**
   * Wait until every daemon names `master` with flags "master", sees every replica connected, and
   * lists the other daemons in SENTINEL SENTINELS by their SENTINEL MYID.
   */
  async waitHealthy(master: string, ids: number[] = [...IDS], timeoutMs = 20_000): Promise<void> {
    const replicas = this.redis.length - 1;
    const myIds = new Map<number, string>();
    for (const id of ids) myIds.set(id, String(await this.sentinelCall(id, 'SENTINEL', 'MYID')));
    await waitFor(
      async () => {
        for (const id of ids) {
          const others = ((await this.sentinelCall(id, 'SENTINEL', 'SENTINELS', SHARD)) as unknown[])
            .map((r) => toObject(r).runid)
            .sort();
          const want = ids
            .filter((x) => x !== id)
            .map((x) => myIds.get(x))
            .sort();
          if (JSON.stringify(others) !== JSON.stringify(want)) return null;
          if ((await this.namedBy(id)) !== master) return null;
          const m = toObject(await this.sentinelCall(id, 'SENTINEL', 'MASTER', SHARD));
          if (m.flags !== 'master') return null;
          const reps = (await this.sentinelCall(id, 'SENTINEL', 'REPLICAS', SHARD)) as unknown[];
          if (reps.length !== replicas) return null;
          if (!reps.every((r) => toObject(r).flags === 'slave')) return null;
        }
        return true;
      },
      timeoutMs,
      {
        what: `every daemon to name ${master} with its ${replicas} replica(s) connected and its peers listed`,
        intervalMs: 100,
      },
    );
  }

  /** The committed master of the shard, from daemon `id`'s GET /v1/shards. */
  async committedMaster(id: number): Promise<{ master: string | null; epoch: number }> {
    const r = await this.c.node(id).http('GET', '/v1/shards', { timeoutMs: 3000 });
    const s = (r.json as { shards: { name: string; master: string | null; epoch: number }[] }).shards.find(
      (x) => x.name === SHARD,
    );
    if (!s) throw new Error(`node ${id} has no shard ${SHARD}`);
    return { master: s.master, epoch: s.epoch };
  }

  async close(): Promise<void> {
    await this.proxies?.close();
  }
}

/** A Sentinel record (RESP2 flat array or RESP3 map) as an object. */
export function toObject(reply: unknown): Record<string, string> {
  if (Array.isArray(reply)) {
    const o: Record<string, string> = {};
    for (let i = 0; i + 1 < reply.length; i += 2) o[String(reply[i])] = String(reply[i + 1]);
    return o;
  }
  if (reply instanceof Map) return Object.fromEntries([...reply].map(([k, v]) => [String(k), String(v)]));
  if (reply && typeof reply === 'object') return reply as Record<string, string>;
  throw new Error(`not a Sentinel record: ${JSON.stringify(reply)}`);
}

export { TIMING };

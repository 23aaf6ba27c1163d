/**
 * Replica discovery, as Sentinel does it (`sentinelRefreshInstanceInfo` in Redis's sentinel.c): a
 * master's replicas are the `slaveN:ip=...,port=...` lines of its `INFO replication`, and each
 * replica's `slave_priority` and `replica_announced` come from the replica's own INFO. A shard
 * created with only its master (SENTINEL MONITOR, the admin API) thus learns the replicas it can
 * fail over to.
 *
 * Pure: from a shard, its committed master's INFO and the INFO known of other servers, what to
 * put in the shard (`shard.node.put`). The leader's engine reads, throttles and proposes; nothing
 * here touches Redis, a clock or the log.
 *
 * Differences from Sentinel, each for safety:
 * - A replica is added only once its own INFO was read and says `role:slave` (Sentinel adds it
 *   first and reads it later): it is never a candidate with the default priority while it runs with
 *   `replica-priority 0`, and a line the master still lists for a server that is a master now does
 *   not make reconciliation demote that server.
 * - A replica whose run id is that of a known node is the same server under another name (a daemon
 *   registered it by hostname, the master lists its IP): not added twice.
 * - Only nodes no daemon registered (`owner === null`) follow their INFO: a daemon's node keeps the
 *   priority of its config file, which the daemon re-registers whenever it differs.
 */
import type { Shard, ShardNode } from '../cluster/shards.js';
import { addressProblem, formatAddress } from '../config/address.js';
import { assert } from '../raft/assert.js';
import type { RedisInfo } from './redis.js';

/**
 * The most nodes besides its master a shard reaches through discovery (nodes). Every daemon probes
 * every node every round (10-50 ms) and reads its INFO every 500 ms, and a master's INFO may list
 * any number of replicas; replicas beyond this are left out (and logged), not probed.
 */
export const DISCOVERED_REPLICAS_MAX = 64;

/** Redis's default `replica-priority` (and Sentinel's SENTINEL_DEFAULT_SLAVE_PRIORITY). */
export const DEFAULT_REPLICA_PRIORITY = 100;

export interface DiscoveryChange {
  /** The node as it should be committed (a whole node: shard.node.put replaces it). */
  node: ShardNode;
  /** 'new': a replica the master lists that is not a node yet; 'update': a known node's INFO changed. */
  kind: 'new' | 'update';
  /** What changed, for the log. */
  why: string;
}

export interface Discovery {
  /** New nodes first, in the master's order, then updates of known nodes. */
  changes: DiscoveryChange[];
  /**
   * Replicas the master lists, not nodes yet, whose own INFO is unknown: read each, then ask again.
   * Nothing is added without it (see the module comment). They count against the bound.
   */
  unread: string[];
  /** Replicas the master lists that are not added, and why. */
  skipped: { addr: string; reason: string }[];
  /** Replicas left out because the shard reached DISCOVERED_REPLICAS_MAX. */
  overLimit: string[];
}

export function discoverReplicas(args: {
  shard: Shard;
  /** The committed master's INFO (null when unknown; used only when it reports role:master). */
  masterInfo: RedisInfo | null;
  /** The INFO known of a server (null or undefined: none yet). */
  infoOf: (addr: string) => RedisInfo | null | undefined;
}): Discovery {
  const { shard, masterInfo, infoOf } = args;
  const out: Discovery = { changes: [], unread: [], skipped: [], overLimit: [] };
  const known = new Set(shard.nodes.map((n) => n.addr));
  const runIds = new Map<string, string>();
  for (const n of shard.nodes) {
    const id = infoOf(n.addr)?.runId;
    if (id) runIds.set(id, n.addr);
  }
  const masterNode = shard.master ? shard.nodes.find((n) => n.addr === shard.master) : undefined;
  const roomAtStart = DISCOVERED_REPLICAS_MAX - shard.nodes.filter((n) => n.addr !== shard.master).length;
  let room = roomAtStart;

  // Only the committed master's own report: a node that reports role:slave lists no replicas of
  // the shard's master (Sentinel reads slave lines only from the instance it monitors as master).
  const lines = masterNode && masterInfo?.role === 'master' ? masterInfo.connectedReplicas : [];
  const listed = new Set<string>();
  for (const line of lines) {
    if (line.host === '' || !Number.isInteger(line.port) || line.port < 1 || line.port > 65535) {
      out.skipped.push({ addr: `${line.host}:${line.port}`, reason: 'not a valid address' });
      continue;
    }
    const addr = formatAddress(line.host, line.port);
    if (known.has(addr) || listed.has(addr)) continue;
    listed.add(addr);
    const problem = addressProblem(addr);
    if (problem !== null) {
      out.skipped.push({ addr, reason: `not a valid address (${problem})` });
      continue;
    }
    if (room <= 0) {
      out.overLimit.push(addr);
      continue;
    }
    const info = infoOf(addr);
    if (!info) {
      room--;
      out.unread.push(addr);
      continue;
    }
    if (info.role !== 'slave') {
      out.skipped.push({ addr, reason: 'reports role:master (the master listed it before it changed)' });
      continue;
    }
    const alias = info.runId ? runIds.get(info.runId) : undefined;
    if (alias !== undefined) {
      out.skipped.push({ addr, reason: `the same server (run id) as node ${alias}` });
      continue;
    }
    if (info.runId) runIds.set(info.runId, addr);
    room--;
    const node: ShardNode = {
      addr,
      owner: null,
      role: 'replica',
      priority: info.slavePriority ?? DEFAULT_REPLICA_PRIORITY,
      accessible: true,
      ...(info.replicaAnnounced === false ? { announced: false } : {}),
      // The shard's credentials: Sentinel's auth-pass/auth-user are the master's and its replicas'.
      ...(masterNode?.username !== undefined ? { username: masterNode.username } : {}),
      ...(masterNode?.password !== undefined ? { password: masterNode.password } : {}),
    };
    out.changes.push({
      node,
      kind: 'new',
      why: `listed by master ${shard.master} (priority ${node.priority}${node.announced === false ? ', not announced' : ''})`,
    });
  }

  for (const n of shard.nodes) {
    if (n.owner !== null) continue;
    const info = infoOf(n.addr);
    // A replica's own values only: a master reports neither.
    if (info?.role !== 'slave') continue;
    const next: ShardNode = { ...n };
    const why: string[] = [];
    const priority = info.slavePriority ?? null;
    if (priority !== null && priority !== n.priority) {
      next.priority = priority;
      why.push(`priority ${n.priority} -> ${priority}`);
    }
    const announced = info.replicaAnnounced ?? null;
    if (announced !== null && announced !== (n.announced ?? true)) {
      if (announced) delete next.announced;
      else next.announced = false;
      why.push(announced ? 'announced again' : 'not announced');
    }
    if (why.length > 0) out.changes.push({ node: next, kind: 'update', why: why.join(', ') });
  }

  // Discovery never takes over a daemon's node, never adds a node twice, and stays in its bound.
  const added = out.changes.filter((c) => c.kind === 'new');
  assert(
    out.changes.every((c) => c.node.owner === null && known.has(c.node.addr) === (c.kind === 'update')),
    'discovery changes only nodes no daemon registered',
  );
  assert(new Set(out.changes.map((c) => c.node.addr)).size === out.changes.length, 'one change per node');
  assert(
    added.length + out.unread.length <= Math.max(0, roomAtStart),
    `discovery stays within DISCOVERED_REPLICAS_MAX (${DISCOVERED_REPLICAS_MAX})`,
  );
  return out;
}

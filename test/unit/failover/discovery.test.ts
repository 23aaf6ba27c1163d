/**
 * Replica discovery (src/failover/discovery.ts): what a master's INFO and its replicas' INFO add to
 * or change in a shard. INFO texts are as Redis 7.0.15 prints them (checked against redis-server).
 */
import { describe, expect, it } from 'vitest';
import type { Shard, ShardNode } from '../../../src/cluster/shards.js';
import {
  DEFAULT_REPLICA_PRIORITY,
  DISCOVERED_REPLICAS_MAX,
  discoverReplicas,
} from '../../../src/failover/discovery.js';
import { parseInfo, type RedisInfo } from '../../../src/failover/redis.js';
import { shardFixture } from '../../support/shard-settings.js';

const M = '127.0.0.1:6379';
const R1 = '127.0.0.1:6380';
const R2 = '127.0.0.1:6381';

/** A master's INFO replication listing `replicas` (host:port). */
function masterInfo(replicas: string[], runId = 'm'.repeat(40)): RedisInfo {
  return parseInfo(
    [
      '# Server',
      `run_id:${runId}`,
      '# Replication',
      'role:master',
      `connected_slaves:${replicas.length}`,
      ...replicas.map((a, i) => {
        const colon = a.lastIndexOf(':');
        return `slave${i}:ip=${a.slice(0, colon)},port=${a.slice(colon + 1)},state=online,offset=42,lag=0`;
      }),
      'master_failover_state:no-failover',
      `master_replid:${'a'.repeat(40)}`,
      `master_replid2:${'0'.repeat(40)}`,
      'master_repl_offset:42',
      'second_repl_offset:-1',
    ].join('\r\n'),
  );
}

/** A replica's INFO (Redis 7.0: slave_priority, replica_announced). */
function replicaInfo(o: { runId?: string; priority?: number; announced?: 0 | 1 } = {}): RedisInfo {
  return parseInfo(
    [
      '# Server',
      `run_id:${o.runId ?? 'r'.repeat(40)}`,
      '# Replication',
      'role:slave',
      'master_host:127.0.0.1',
      'master_port:6379',
      'master_link_status:up',
      'master_last_io_seconds_ago:1',
      'master_sync_in_progress:0',
      'slave_read_repl_offset:42',
      'slave_repl_offset:42',
      `slave_priority:${o.priority ?? 100}`,
      'slave_read_only:1',
      `replica_announced:${o.announced ?? 1}`,
      'connected_slaves:0',
      `master_replid:${'a'.repeat(40)}`,
    ].join('\r\n'),
  );
}

function node(addr: string, o: Partial<ShardNode> = {}): ShardNode {
  return { addr, owner: null, role: 'replica', priority: 100, accessible: true, ...o };
}

function shard(nodes: ShardNode[], master = M): Shard {
  return shardFixture({ epoch: 0, lastEpoch: 0, master, nodes });
}

function infos(map: Record<string, RedisInfo>) {
  return (addr: string) => map[addr];
}

describe('parseInfo: what discovery reads (Redis 7.0)', () => {
  it('reads slave lines, slave_priority and replica_announced', () => {
    const m = masterInfo([R1, R2]);
    expect(m.connectedReplicas).toEqual([
      { host: '127.0.0.1', port: 6380, state: 'online', offset: 42 },
      { host: '127.0.0.1', port: 6381, state: 'online', offset: 42 },
    ]);
    expect(m.slavePriority).toBeNull();
    expect(m.replicaAnnounced).toBeNull();
    const r = replicaInfo({ priority: 0, announced: 0 });
    expect(r.slavePriority).toBe(0);
    expect(r.replicaAnnounced).toBe(false);
    expect(replicaInfo({ priority: 7, announced: 1 })).toMatchObject({
      slavePriority: 7,
      replicaAnnounced: true,
    });
  });

  it('a malformed or missing slave_priority is unknown, not a default', () => {
    expect(parseInfo('role:slave\r\nslave_priority:abc\r\n').slavePriority).toBeNull();
    expect(parseInfo('role:slave\r\n').slavePriority).toBeNull();
    expect(parseInfo('role:slave\r\n').replicaAnnounced).toBeNull();
  });
});

describe('discoverReplicas', () => {
  it('adds every replica the master lists, with its own priority, as a node no daemon owns', () => {
    const d = discoverReplicas({
      shard: shard([node(M)]),
      masterInfo: masterInfo([R1, R2]),
      infoOf: infos({ [R1]: replicaInfo({ runId: '1'.repeat(40), priority: 10 }), [R2]: replicaInfo() }),
    });
    expect(d.unread).toEqual([]);
    expect(d.changes).toEqual([
      {
        kind: 'new',
        node: { addr: R1, owner: null, role: 'replica', priority: 10, accessible: true },
        why: expect.stringContaining(`listed by master ${M}`),
      },
      {
        kind: 'new',
        node: { addr: R2, owner: null, role: 'replica', priority: 100, accessible: true },
        why: expect.any(String),
      },
    ]);
  });

  it('a replica with replica-priority 0 is added with priority 0 (never promoted)', () => {
    const d = discoverReplicas({
      shard: shard([node(M)]),
      masterInfo: masterInfo([R1]),
      infoOf: infos({ [R1]: replicaInfo({ priority: 0 }) }),
    });
    expect(d.changes.map((c) => c.node.priority)).toEqual([0]);
  });

  it('a replica whose INFO is unknown is not added: it is to be read first', () => {
    const d = discoverReplicas({
      shard: shard([node(M)]),
      masterInfo: masterInfo([R1, R2]),
      infoOf: infos({ [R2]: replicaInfo() }),
    });
    expect(d.unread).toEqual([R1]);
    expect(d.changes.map((c) => c.node.addr)).toEqual([R2]);
  });

  it('a replica already known is not added again, whoever registered it', () => {
    const owned = node(R1, { owner: 2, priority: 5 });
    const d = discoverReplicas({
      shard: shard([node(M), owned, node(R2)]),
      masterInfo: masterInfo([R1, R2]),
      infoOf: infos({ [R1]: replicaInfo({ runId: '1'.repeat(40), priority: 100 }), [R2]: replicaInfo() }),
    });
    // R1's daemon keeps the priority of its config file; R2 matches its INFO already.
    expect(d.changes).toEqual([]);
    expect(d.unread).toEqual([]);
  });

  it('copies the credentials of the master node', () => {
    const d = discoverReplicas({
      shard: shard([node(M, { username: 'u', password: 'p' })]),
      masterInfo: masterInfo([R1]),
      infoOf: infos({ [R1]: replicaInfo() }),
    });
    expect(d.changes[0]!.node).toMatchObject({ addr: R1, username: 'u', password: 'p' });
    const none = discoverReplicas({
      shard: shard([node(M)]),
      masterInfo: masterInfo([R1]),
      infoOf: infos({ [R1]: replicaInfo() }),
    });
    expect(none.changes[0]!.node).not.toHaveProperty('username');
    expect(none.changes[0]!.node).not.toHaveProperty('password');
  });

  it('a replica that reports replica-announced no is added, marked not announced', () => {
    const d = discoverReplicas({
      shard: shard([node(M)]),
      masterInfo: masterInfo([R1]),
      infoOf: infos({ [R1]: replicaInfo({ announced: 0 }) }),
    });
    expect(d.changes[0]!.node).toMatchObject({ addr: R1, announced: false, priority: 100 });
  });

  it('keeps priority and announced of nodes no daemon registered in step with their INFO', () => {
    const s = shard([node(M), node(R1, { priority: 100 }), node(R2, { announced: false })]);
    const d = discoverReplicas({
      shard: s,
      masterInfo: masterInfo([R1, R2]),
      infoOf: infos({
        [R1]: replicaInfo({ runId: '1'.repeat(40), priority: 0, announced: 0 }),
        [R2]: replicaInfo({ announced: 1 }),
      }),
    });
    expect(d.changes.map((c) => [c.kind, c.node])).toEqual([
      ['update', { addr: R1, owner: null, role: 'replica', priority: 0, accessible: true, announced: false }],
      ['update', { addr: R2, owner: null, role: 'replica', priority: 100, accessible: true }],
    ]);
  });

  it('never changes a node a daemon registered', () => {
    const d = discoverReplicas({
      shard: shard([node(M), node(R1, { owner: 3, priority: 50 })]),
      masterInfo: masterInfo([R1]),
      infoOf: infos({ [R1]: replicaInfo({ priority: 0, announced: 0 }) }),
    });
    expect(d.changes).toEqual([]);
  });

  it('stops at DISCOVERED_REPLICAS_MAX nodes besides the master, and says which were left out', () => {
    const listed = Array.from({ length: DISCOVERED_REPLICAS_MAX + 5 }, (_, i) => `10.0.1.${i + 1}:6379`);
    const all: Record<string, RedisInfo> = {};
    for (const [i, a] of listed.entries()) all[a] = replicaInfo({ runId: String(i).padStart(40, '0') });
    // Three nodes already: room for DISCOVERED_REPLICAS_MAX - 2 more (the master does not count).
    const s = shard([node(M), node(R1), node(R2)]);
    const d = discoverReplicas({
      shard: s,
      masterInfo: masterInfo(listed),
      infoOf: (a) => all[a] ?? replicaInfo({ runId: a.replace(/\D/g, '').padStart(40, 'f') }),
    });
    expect(d.changes.filter((c) => c.kind === 'new')).toHaveLength(DISCOVERED_REPLICAS_MAX - 2);
    expect(d.overLimit).toEqual(listed.slice(DISCOVERED_REPLICAS_MAX - 2));
    // Full: nothing more, whatever the master lists.
    const full = shard([
      node(M),
      ...Array.from({ length: DISCOVERED_REPLICAS_MAX }, (_, i) => node(`10.0.2.${i + 1}:6379`)),
    ]);
    const none = discoverReplicas({ shard: full, masterInfo: masterInfo([R1]), infoOf: infos({}) });
    expect(none.changes).toEqual([]);
    expect(none.unread).toEqual([]);
    expect(none.overLimit).toEqual([R1]);
  });

  it('replicas still to be read count against the bound', () => {
    const listed = Array.from({ length: DISCOVERED_REPLICAS_MAX + 1 }, (_, i) => `10.0.1.${i + 1}:6379`);
    const d = discoverReplicas({
      shard: shard([node(M)]),
      masterInfo: masterInfo(listed),
      infoOf: infos({}),
    });
    expect(d.unread).toHaveLength(DISCOVERED_REPLICAS_MAX);
    expect(d.overLimit).toEqual([listed[DISCOVERED_REPLICAS_MAX]]);
  });

  it('the same server under another name (same run id as a node) is not added twice', () => {
    const id = '9'.repeat(40);
    const d = discoverReplicas({
      shard: shard([node(M), node('redis-2.local:6380', { owner: 2 })]),
      masterInfo: masterInfo([R1]),
      infoOf: infos({ 'redis-2.local:6380': replicaInfo({ runId: id }), [R1]: replicaInfo({ runId: id }) }),
    });
    expect(d.changes).toEqual([]);
    expect(d.skipped).toEqual([{ addr: R1, reason: expect.stringContaining('redis-2.local:6380') }]);
  });

  it('a listed server that reports role:master itself is not added', () => {
    const d = discoverReplicas({
      shard: shard([node(M)]),
      masterInfo: masterInfo([R1]),
      infoOf: infos({ [R1]: masterInfo([], '1'.repeat(40)) }),
    });
    expect(d.changes).toEqual([]);
    expect(d.skipped.map((s) => s.addr)).toEqual([R1]);
  });

  it('reads replicas only from a master that reports role:master, and only its own report', () => {
    const asReplica = { ...masterInfo([R1]), role: 'slave' as const };
    for (const mi of [asReplica, null]) {
      const d = discoverReplicas({
        shard: shard([node(M)]),
        masterInfo: mi,
        infoOf: infos({ [R1]: replicaInfo() }),
      });
      expect(d.changes).toEqual([]);
      expect(d.unread).toEqual([]);
    }
    // A shard with no master discovers nothing.
    const d = discoverReplicas({
      shard: { ...shard([node(M)]), master: null },
      masterInfo: masterInfo([R1]),
      infoOf: infos({ [R1]: replicaInfo() }),
    });
    expect(d.changes).toEqual([]);
  });

  it('formats IPv6 replicas in brackets and skips lines that are not addresses', () => {
    const info = masterInfo([]);
    info.connectedReplicas = [
      { host: '::1', port: 6390, state: 'online', offset: 0 },
      { host: '', port: 6391, state: 'online', offset: 0 },
      { host: '127.0.0.1', port: 0, state: 'online', offset: 0 },
      { host: 'bad host', port: 6392, state: 'online', offset: 0 },
    ];
    const d = discoverReplicas({
      shard: shard([node(M)]),
      masterInfo: info,
      infoOf: infos({ '[::1]:6390': replicaInfo() }),
    });
    expect(d.changes.map((c) => c.node.addr)).toEqual(['[::1]:6390']);
    expect(d.skipped).toHaveLength(3);
  });

  it("the default priority is Redis's when a replica does not report one", () => {
    const d = discoverReplicas({
      shard: shard([node(M)]),
      masterInfo: masterInfo([R1]),
      infoOf: infos({ [R1]: parseInfo('run_id:x\r\nrole:slave\r\nmaster_host:127.0.0.1\r\n') }),
    });
    expect(d.changes[0]!.node.priority).toBe(DEFAULT_REPLICA_PRIORITY);
    expect(d.changes[0]!.node).not.toHaveProperty('announced');
  });
});

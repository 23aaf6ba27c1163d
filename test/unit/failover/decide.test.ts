import { describe, expect, it } from 'vitest';
import type { Shard, ShardNode } from '../../../src/cluster/shards.js';
import {
  compareHistories,
  judgeDown,
  type MasterLineage,
  mergeLineage,
  observeMaster,
  type ReceivedReport,
  rankCandidates,
  votesNeeded,
  waitForAheadCandidate,
} from '../../../src/failover/decide.js';
import type { NodeReport } from '../../../src/failover/prober.js';
import { parseInfo, type RedisInfo } from '../../../src/failover/redis.js';
import { shardFixture, shardSettings } from '../../support/shard-settings.js';

const M = '10.0.0.1:6379';

function report(from: number, receivedAtMs: number, failing: boolean, downForMs: number): ReceivedReport {
  const n: NodeReport = {
    addr: M,
    failing,
    downForMs,
    error: failing ? 'timeout' : null,
    role: failing ? null : 'master',
    upstream: null,
    linkUp: false,
    offset: 0,
    runId: 'r',
    keys: 1,
    infoAgeMs: 0,
  };
  return { from, receivedAtMs, stalledRecently: false, nodes: new Map([[M, n]]) };
}

describe('judgeDown: a master is down only when a majority of voting daemons saw it fail for down_after_ms', () => {
  const base = { addr: M, voters: [1, 2, 3], self: 1, nowMs: 10_000, downAfterMs: 1000, maxReportAgeMs: 300 };

  it('the leader alone seeing it fail is not enough (no failover on one vantage point)', () => {
    const reports = new Map([
      [2, report(2, 9_990, false, 0)],
      [3, report(3, 9_990, false, 0)],
    ]);
    const v = judgeDown({ ...base, selfDownForMs: 5000, reports });
    expect(v.down).toBe(false);
    expect(v.votes).toEqual([1]);
    expect(v.sawUp).toEqual([2, 3]);
    expect(v.needed).toBe(2);
  });

  it('two of three voters that saw it fail long enough make it down', () => {
    const reports = new Map([
      [2, report(2, 9_990, true, 1200)],
      [3, report(3, 9_990, false, 0)],
    ]);
    expect(judgeDown({ ...base, selfDownForMs: 1000, reports }).down).toBe(true);
  });

  it('not yet down_after_ms: no', () => {
    const reports = new Map([[2, report(2, 9_990, true, 500)]]);
    expect(judgeDown({ ...base, selfDownForMs: 999, reports }).down).toBe(false);
  });

  it("a report's age counts towards how long the node has been failing", () => {
    // Said "failing for 900 ms" 150 ms ago: 1050 ms now.
    const reports = new Map([[2, report(2, 9_850, true, 900)]]);
    expect(judgeDown({ ...base, selfDownForMs: 1000, reports }).down).toBe(true);
  });

  it('stale reports do not count, either way', () => {
    const reports = new Map([[2, report(2, 9_000, true, 5000)]]);
    const v = judgeDown({ ...base, selfDownForMs: 5000, reports });
    expect(v.down).toBe(false);
    expect(v.votes).toEqual([1]);
  });

  it('a deciding daemon that is not a voter does not vote', () => {
    const reports = new Map([[2, report(2, 9_990, true, 2000)]]);
    const v = judgeDown({ ...base, self: 9, voters: [1, 2, 3], selfDownForMs: null, reports });
    expect(v.votes).toEqual([2]);
    expect(v.down).toBe(false);
  });

  it('with five voters three are needed', () => {
    const reports = new Map([
      [2, report(2, 9_990, true, 1500)],
      [3, report(3, 9_990, true, 1500)],
    ]);
    const five = { ...base, voters: [1, 2, 3, 4, 5] };
    expect(judgeDown({ ...five, selfDownForMs: 0, reports }).down).toBe(false);
    expect(judgeDown({ ...five, selfDownForMs: 1500, reports }).down).toBe(true);
  });
});

function info(overrides: Partial<RedisInfo>): RedisInfo {
  return {
    runId: 'x',
    role: 'slave',
    masterHost: '10.0.0.1',
    masterPort: 6379,
    masterLinkUp: false,
    masterLinkDownSinceSeconds: 1,
    syncInProgress: false,
    offset: 1000,
    replId: 'a',
    replId2: '',
    secondReplOffset: -1,
    connectedReplicas: [],
    keys: 10,
    loading: false,
    rdbLastLoadKeys: null,
    aofEnabled: false,
    configFile: '',
    uptimeSeconds: 100,
    minSlavesGoodSlaves: null,
    raw: '',
    ...overrides,
  };
}

function shard(nodes: ShardNode[], maxLagBytes = 1_000_000): Shard {
  return shardFixture({ epoch: 3, lastEpoch: 3, master: M, nodes, settings: shardSettings({ maxLagBytes }) });
}

/** The master was seen with replication id 'a' (the default of info()). */
const LINEAGE: MasterLineage = { epoch: 3, master: M, ids: ['a'], lastKeys: 10 };

function node(addr: string, o: Partial<ShardNode> = {}): ShardNode {
  return { addr, owner: 1, role: 'replica', priority: 100, accessible: true, ...o };
}

describe('rankCandidates: which replica is promoted', () => {
  const a = node('10.0.0.2:6379');
  const b = node('10.0.0.3:6379');
  const c = node('10.0.0.4:6379');

  it('orders by priority, then offset, then run id', () => {
    const s = shard([node(M), a, b, c]);
    const r = rankCandidates({
      shard: s,
      facts: [
        { node: a, info: info({ offset: 500, runId: 'b' }) },
        { node: b, info: info({ offset: 900, runId: 'z' }) },
        { node: { ...c, priority: 10 }, info: info({ offset: 100, runId: 'a' }) },
      ],
      masterLastOffset: 900,
      masterDownForMs: 1000,
      force: false,
      lineage: LINEAGE,
    });
    expect(r.ranked.map((x) => x.addr)).toEqual([c.addr, b.addr, a.addr]);
  });

  it('never promotes observers or priority-0 nodes, even when they are the most advanced', () => {
    const s = shard([node(M), a, b]);
    const r = rankCandidates({
      shard: s,
      facts: [
        { node: { ...a, role: 'observer' }, info: info({ offset: 5000 }) },
        { node: { ...b, priority: 0 }, info: info({ offset: 5000 }) },
      ],
      masterLastOffset: 0,
      masterDownForMs: 1000,
      force: true,
    });
    expect(r.ranked).toEqual([]);
    expect(r.rejected.map((x) => x.reason)).toEqual([
      'observer (never promoted)',
      'priority 0 (never promoted)',
    ]);
  });

  it('excludes unreachable nodes, nodes replicating elsewhere, unsynced nodes and laggards', () => {
    const d = node('10.0.0.5:6379');
    const s = shard([node(M), a, b, c, d], 100);
    const r = rankCandidates({
      shard: s,
      facts: [
        { node: a, info: null },
        { node: b, info: info({ masterHost: '10.9.9.9', offset: 2000 }) },
        { node: c, info: info({ syncInProgress: true, offset: 0 }) },
        { node: d, info: info({ offset: 1000 }) },
      ],
      masterLastOffset: 1200,
      masterDownForMs: 1000,
      force: false,
      lineage: LINEAGE,
    });
    expect(r.ranked).toEqual([]);
    const reasons = Object.fromEntries(r.rejected.map((x) => [x.addr, x.reason]));
    expect(reasons[a.addr]).toBe('not reachable');
    expect(reasons[b.addr]).toMatch(/replicates 10\.9\.9\.9:6379/);
    expect(reasons[c.addr]).toMatch(/not completed a sync/);
    expect(reasons[d.addr]).toMatch(/lags 200 bytes/);
  });

  it('excludes a replica whose link went down long before the master failed', () => {
    const s = shard([node(M), a]);
    const r = rankCandidates({
      shard: s,
      facts: [{ node: a, info: info({ masterLinkDownSinceSeconds: 3600 }) }],
      masterLastOffset: 0,
      masterDownForMs: 2000,
      force: false,
      lineage: LINEAGE,
    });
    expect(r.ranked).toEqual([]);
    expect(r.rejected[0]!.reason).toMatch(/link to the master has been down for 3600 s/);
  });

  it('keeps a replica the master was demoted to follow, however long its link has been down (seed 7047)', () => {
    // The master crashed, stayed away (330 s here; 10 x down_after is the bound), came back from an older RDB than this replica holds,
    // and the restart guard made it a replica of this one: the link is down because the master
    // was, and this replica holds the most of the history. Refusing it left no master for good.
    const s = shard([node(M), a]);
    const args = {
      shard: s,
      facts: [{ node: a, info: info({ masterLinkDownSinceSeconds: 330 }) }],
      masterLastOffset: 0,
      masterDownForMs: 100,
      force: false,
      lineage: LINEAGE,
    };
    expect(rankCandidates(args).ranked).toEqual([]);
    expect(rankCandidates({ ...args, masterFollows: a.addr }).ranked.map((x) => x.addr)).toEqual([a.addr]);
    // Following some other node says nothing about this one.
    expect(rankCandidates({ ...args, masterFollows: '10.0.0.9:6379' }).ranked).toEqual([]);
  });

  it('takes a node promoted from the master history further than the RDB the master restarted from (seed 21297)', () => {
    const s = shard([node(M), a]);
    // The master restarted from its RDB: a new id 'n', continuing 'a' up to offset 3999.
    const lineage: MasterLineage = { epoch: 3, master: M, ids: ['n', 'a'], lastKeys: 10 };
    const promoted = (secondReplOffset: number) =>
      rankCandidates({
        shard: s,
        facts: [
          {
            node: a,
            info: info({ role: 'master', replId: 'p', replId2: 'a', secondReplOffset, offset: 6000 }),
          },
        ],
        masterLastOffset: 4000,
        masterDownForMs: 100,
        force: false,
        lineage,
        masterRestoredFrom: { replId: 'a', secondReplOffset: 4000 },
      });
    expect(promoted(5001).ranked.map((x) => x.addr)).toEqual([a.addr]);
    // Promoted from an earlier point than the RDB: still an older history.
    expect(promoted(3000).ranked).toEqual([]);
    expect(promoted(3000).rejected[0]!.reason).toMatch(/continuing an older history/);
    // A bounded id is one the master continued from after a failover (an old master's own).
    const bounded = rankCandidates({
      shard: s,
      facts: [{ node: a, info: info({ role: 'master', replId: 'p', replId2: 'a', secondReplOffset: 5001 }) }],
      masterLastOffset: 4000,
      masterDownForMs: 100,
      force: false,
      lineage: { ...lineage, bounds: { a: 2000 } },
      masterRestoredFrom: { replId: 'a', secondReplOffset: 4000 },
    });
    expect(bounded.ranked).toEqual([]);
  });

  it('force skips the lag and link checks but not the role checks', () => {
    const s = shard([node(M), a], 10);
    const r = rankCandidates({
      shard: s,
      facts: [{ node: a, info: info({ offset: 1, masterLinkDownSinceSeconds: 3600 }) }],
      masterLastOffset: 10_000,
      masterDownForMs: 1000,
      force: true,
    });
    expect(r.ranked.map((x) => x.addr)).toEqual([a.addr]);
  });
});

describe('parseInfo', () => {
  it('reads the fields of a replica and a master', () => {
    const replica = parseInfo(
      [
        '# Server',
        'run_id:abc',
        'config_file:/etc/redis/redis.conf',
        'uptime_in_seconds:42',
        '# Replication',
        'role:slave',
        'master_host:127.0.0.1',
        'master_port:6380',
        'master_link_status:up',
        'master_sync_in_progress:0',
        'slave_repl_offset:12345',
        'master_replid:deadbeef',
        '# Keyspace',
        'db0:keys=3,expires=0,avg_ttl=0',
        'db2:keys=4,expires=0,avg_ttl=0',
      ].join('\r\n'),
    );
    expect(replica).toMatchObject({
      runId: 'abc',
      role: 'slave',
      masterHost: '127.0.0.1',
      masterPort: 6380,
      masterLinkUp: true,
      offset: 12345,
      keys: 7,
      configFile: '/etc/redis/redis.conf',
    });
    const master = parseInfo(
      'role:master\r\nconnected_slaves:1\r\nslave0:ip=127.0.0.1,port=6381,state=online,offset=99,lag=0\r\nmaster_repl_offset:100\r\n',
    );
    expect(master.role).toBe('master');
    expect(master.offset).toBe(100);
    expect(master.masterHost).toBeNull();
    expect(master.connectedReplicas).toEqual([
      { host: '127.0.0.1', port: 6381, state: 'online', offset: 99 },
    ]);
  });
});

/** INFO of Redis 7.0.15 as read from real servers (issue 9 item 1). */
const REDIS70 = {
  /** A replica that never reached its master: a random id of its own, offset 1. */
  neverSynced: [
    'run_id:n1',
    'role:slave',
    'master_host:10.0.0.1',
    'master_port:6379',
    'master_link_status:down',
    'master_sync_in_progress:0',
    'slave_repl_offset:1',
    'master_link_down_since_seconds:-1',
    'master_replid:38f9d89186538f25000d78ffd8974b801c26a836',
    'master_replid2:0000000000000000000000000000000000000000',
    'master_repl_offset:0',
    'second_repl_offset:-1',
  ].join('\r\n'),
  /** Fully synced from a master that had no write yet: the master's id, offset 0. */
  syncedAtZero: [
    'run_id:s1',
    'role:slave',
    'master_host:10.0.0.1',
    'master_port:6379',
    'master_link_status:down',
    'master_sync_in_progress:0',
    'slave_repl_offset:0',
    'master_link_down_since_seconds:1',
    'master_replid:96d450bdfb17ae6d4c2a5ec50792cfc525e4a375',
    'master_replid2:0000000000000000000000000000000000000000',
    'master_repl_offset:0',
    'second_repl_offset:-1',
  ].join('\r\n'),
  masterId: '96d450bdfb17ae6d4c2a5ec50792cfc525e4a375',
};

describe('rankCandidates: "has synced" is read from replication ids, not offsets (issue 9 item 1)', () => {
  const a = node('10.0.0.2:6379', { priority: 10 });
  const b = node('10.0.0.3:6379');
  const lineage = observeMaster(undefined, 3, M, { replId: REDIS70.masterId, replId2: null, keys: 0 });

  it('a never-synced replica (offset 1) with a better priority is refused; one synced at offset 0 is promoted', () => {
    const s = shard([node(M), a, b]);
    const r = rankCandidates({
      shard: s,
      facts: [
        { node: a, info: parseInfo(REDIS70.neverSynced) },
        { node: b, info: parseInfo(REDIS70.syncedAtZero) },
      ],
      masterLastOffset: 0,
      masterDownForMs: 2000,
      force: false,
      lineage,
    });
    expect(r.ranked.map((x) => x.addr)).toEqual([b.addr]);
    expect(r.rejected).toEqual([{ addr: a.addr, reason: expect.stringMatching(/not completed a sync/) }]);
  });

  it('parseInfo reads master_replid2 (zeros: none) and second_repl_offset', () => {
    const promoted = parseInfo(
      'role:master\r\nmaster_replid:fec4\r\nmaster_replid2:96d4\r\nmaster_repl_offset:101\r\nsecond_repl_offset:102\r\n',
    );
    expect(promoted).toMatchObject({ replId: 'fec4', replId2: '96d4', secondReplOffset: 102, offset: 101 });
    expect(parseInfo(REDIS70.neverSynced)).toMatchObject({ replId2: '', secondReplOffset: -1, offset: 1 });
  });

  it('with no id of the master known, only replicas that share an id are accepted', () => {
    const c = node('10.0.0.4:6379');
    const s = shard([node(M), a, b, c]);
    const both = rankCandidates({
      shard: s,
      facts: [
        { node: a, info: parseInfo(REDIS70.neverSynced) },
        { node: b, info: parseInfo(REDIS70.syncedAtZero) },
        { node: c, info: parseInfo(REDIS70.syncedAtZero.replace('run_id:s1', 'run_id:s2')) },
      ],
      masterLastOffset: 0,
      masterDownForMs: 2000,
      force: false,
      lineage: null,
    });
    expect(both.ranked.map((x) => x.addr).sort()).toEqual([b.addr, c.addr]);
    const alone = rankCandidates({
      shard: s,
      facts: [{ node: b, info: parseInfo(REDIS70.syncedAtZero) }],
      masterLastOffset: 0,
      masterDownForMs: 2000,
      force: false,
      lineage: null,
    });
    expect(alone.ranked).toEqual([]);
    expect(alone.rejected[0]!.reason).toMatch(/no daemon saw the master's replication id/);
  });

  it('a node promoted from the master history by an attempt whose outcome was lost is still a candidate', () => {
    const s = shard([node(M), b]);
    const r = rankCandidates({
      shard: s,
      facts: [{ node: b, info: info({ role: 'master', masterHost: null, replId: 'new', replId2: 'a' }) }],
      masterLastOffset: 1000,
      masterDownForMs: 2000,
      force: false,
      lineage: LINEAGE,
    });
    expect(r.ranked.map((x) => x.addr)).toEqual([b.addr]);
    const stranger = rankCandidates({
      shard: s,
      facts: [{ node: b, info: info({ role: 'master', masterHost: null, replId: 'new', replId2: 'zzz' }) }],
      masterLastOffset: 1000,
      masterDownForMs: 2000,
      force: false,
      lineage: LINEAGE,
    });
    expect(stranger.rejected[0]!.reason).toBe('reports role:master');
  });

  it('an old master restarted from its RDB (replid2: an older id of the lineage) is not a candidate', () => {
    // Found by the system simulation (seed 6): the master of epoch 1 crashed before epoch 2 was
    // promoted from its history, then restarted from its RDB. Redis 7.0 gives it a new id and the
    // RDB's id as master_replid2, which is the id the epoch-2 master continued from: it holds
    // epoch 1, none of epoch 2, yet was ranked as "promoted from the master's history".
    const lineage: MasterLineage = { epoch: 2, master: M, ids: ['r2', 'r1'], lastKeys: 10 };
    const s = shard([node(M), b]);
    const r = rankCandidates({
      shard: s,
      facts: [{ node: b, info: info({ role: 'master', masterHost: null, replId: 'new', replId2: 'r1' }) }],
      masterLastOffset: 0,
      masterDownForMs: 2000,
      force: false,
      lineage,
    });
    expect(r.ranked).toEqual([]);
    expect(r.rejected[0]!.reason).toMatch(/role:master/);
    const promotedFromCurrent = rankCandidates({
      shard: s,
      facts: [{ node: b, info: info({ role: 'master', masterHost: null, replId: 'new', replId2: 'r2' }) }],
      masterLastOffset: 0,
      masterDownForMs: 2000,
      force: false,
      lineage,
    });
    expect(promotedFromCurrent.ranked.map((x) => x.addr)).toEqual([b.addr]);
    // An operator who forces a failover to it accepts the history it holds.
    const forced = rankCandidates({
      shard: s,
      facts: [{ node: b, info: info({ role: 'master', masterHost: null, replId: 'new', replId2: 'r1' }) }],
      masterLastOffset: 0,
      masterDownForMs: 0,
      force: true,
      lineage,
    });
    expect(forced.ranked.map((x) => x.addr)).toEqual([b.addr]);
  });
});

describe('observeMaster: the replication ids of the committed master', () => {
  it('keeps ids newest first with the id a promoted master continued from, and resets per epoch', () => {
    let l = observeMaster(undefined, 1, M, { replId: 'x', replId2: null, keys: 5 });
    l = observeMaster(l, 1, M, { replId: 'x', replId2: null, keys: 6 });
    expect(l.ids).toEqual(['x']);
    l = observeMaster(l, 2, 'other:1', { replId: 'y', replId2: 'x', keys: 6 });
    expect(l).toMatchObject({ epoch: 2, master: 'other:1', ids: ['y', 'x'] });
  });

  it('does not adopt the id of a master that came back empty (its replicas would hold nothing)', () => {
    let l = observeMaster(undefined, 1, M, { replId: 'x', replId2: null, keys: 5 });
    l = observeMaster(l, 1, M, { replId: 'empty', replId2: null, keys: 0 });
    expect(l.ids).toEqual(['x']);
    // A master restarted from its RDB keeps its data: its new id joins the lineage.
    l = observeMaster(l, 1, M, { replId: 'reloaded', replId2: null, keys: 5 });
    expect(l.ids).toEqual(['reloaded', 'x']);
    // Restarted loading nothing, and a client wrote before anyone looked: not adopted either.
    l = observeMaster(l, 1, M, { replId: 'fresh', replId2: null, keys: 1, noHistory: true });
    expect(l.ids).toEqual(['reloaded', 'x']);
  });
});

describe('rankCandidates: a candidate whose daemon is live is preferred (issue 9 item 7)', () => {
  it('a node with no live daemon is ranked after every node with one, whatever its priority', () => {
    const a = node('10.0.0.2:6379', { priority: 1, owner: null });
    const b = node('10.0.0.3:6379', { priority: 100 });
    const r = rankCandidates({
      shard: shard([node(M), a, b]),
      facts: [
        { node: a, info: info({}), ownerLive: false },
        { node: b, info: info({}), ownerLive: true },
      ],
      masterLastOffset: 1000,
      masterDownForMs: 2000,
      force: false,
      lineage: LINEAGE,
    });
    expect(r.ranked.map((x) => [x.addr, x.ownerLive])).toEqual([
      [b.addr, true],
      [a.addr, false],
    ]);
  });

  it('but never at the price of data: a live candidate that lags ranks after the most advanced one', () => {
    // System simulation seed 122: the daemon beside the up-to-date replica had just restarted.
    const a = node('10.0.0.2:6379');
    const b = node('10.0.0.3:6379');
    const r = rankCandidates({
      shard: shard([node(M), a, b]),
      facts: [
        { node: a, info: info({ offset: 12_542 }), ownerLive: true },
        { node: b, info: info({ offset: 22_802 }), ownerLive: false },
      ],
      masterLastOffset: 0,
      masterDownForMs: 2000,
      force: false,
      lineage: LINEAGE,
    });
    expect(r.ranked.map((x) => x.addr)).toEqual([b.addr, a.addr]);
  });
});

describe('judgeDown: the shard quorum (issue 9, also seen)', () => {
  it('needs max(majority, quorum) votes when the quorum can be met, a majority otherwise', () => {
    expect(votesNeeded(5, 4)).toBe(4);
    expect(votesNeeded(5, 2)).toBe(3);
    expect(votesNeeded(1, 2)).toBe(1);
    expect(votesNeeded(3, 3)).toBe(3);
    const reports = new Map([
      [2, report(2, 9_990, true, 1500)],
      [3, report(3, 9_990, true, 1500)],
    ]);
    const five = {
      addr: M,
      voters: [1, 2, 3, 4, 5],
      self: 1,
      nowMs: 10_000,
      downAfterMs: 1000,
      maxReportAgeMs: 300,
    };
    expect(judgeDown({ ...five, selfDownForMs: 1500, reports, quorum: 4 }).down).toBe(false);
    expect(judgeDown({ ...five, selfDownForMs: 1500, reports, quorum: 3 }).down).toBe(true);
    expect(judgeDown({ ...five, voters: [1], selfDownForMs: 1500, reports: new Map(), quorum: 2 }).down).toBe(
      true,
    );
  });
});

describe('waitForAheadCandidate: a briefly unreachable replica that holds more (sim seed 349)', () => {
  const lineage = { epoch: 2, master: M, ids: ['h2', 'h1'], lastKeys: 10 };
  const best = { addr: '10.0.0.5:6379', offset: 81_009 };
  const stalled = (o: Partial<{ offset: number; failingForMs: number; replId: string }> = {}) => ({
    addr: '10.0.0.3:6379',
    last: { role: 'slave' as const, replId: o.replId ?? 'h2', offset: o.offset ?? 88_000 },
    failingForMs: o.failingForMs ?? 1300,
  });

  it('waits while it has failed for less than down_after_ms, and says why', () => {
    const w = waitForAheadCandidate({ best, unreachable: [stalled()], lineage, downAfterMs: 3000 });
    expect(w?.addr).toBe('10.0.0.3:6379');
    expect(w?.reason).toMatch(/6991 bytes ahead of 10\.0\.0\.5:6379 .* unreachable for 1300 ms/);
  });

  it('goes on once it counts as down, when it holds no more, or when it is not of the history', () => {
    const args = { best, lineage, downAfterMs: 3000 };
    expect(waitForAheadCandidate({ ...args, unreachable: [stalled({ failingForMs: 3000 })] })).toBeNull();
    expect(waitForAheadCandidate({ ...args, unreachable: [stalled({ offset: 81_009 })] })).toBeNull();
    expect(waitForAheadCandidate({ ...args, unreachable: [stalled({ replId: 'other' })] })).toBeNull();
    expect(
      waitForAheadCandidate({ ...args, unreachable: [{ addr: 'x:1', last: null, failingForMs: 10 }] }),
    ).toBeNull();
  });
});

describe('mergeLineage: ids another daemon remembers (sim seed 846)', () => {
  it("adds a voter's ids of the same epoch and master after ours, and ignores other epochs", () => {
    const ours = { epoch: 1, master: M, ids: ['empty'], lastKeys: 0 };
    const committed = { epoch: 1, master: M };
    const merged = mergeLineage(ours, { epoch: 1, master: M, ids: ['data', 'empty'] }, committed);
    expect(merged?.ids).toEqual(['empty', 'data']);
    expect(mergeLineage(ours, { epoch: 2, master: M, ids: ['data'] }, committed)).toBe(ours);
    expect(mergeLineage(ours, { epoch: 1, master: 'other:1', ids: ['data'] }, committed)).toBe(ours);
    // None of our own (the master died before this daemon looked): the reporter's, if current.
    expect(mergeLineage(undefined, { epoch: 1, master: M, ids: ['data'] }, committed)?.ids).toEqual(['data']);
    expect(mergeLineage(undefined, { epoch: 0, master: M, ids: ['data'] }, committed)).toBeUndefined();
  });
});

describe('the id a promoted master continued from is its history only up to where it left it', () => {
  // System simulation seed 1209: 10.0.0.3 was promoted at offset 17402 from the old master's
  // history 'old' (its master_replid2, second_repl_offset 17403). The old master, cut off, went on
  // in 'old' to offset 18120, was re-pointed to the new master but never completed a sync (the
  // new master crashed). The new master came back empty; the old master, still 'old' at 18120,
  // outranked the replica that held the epoch's writes ('new' at 17935) and was promoted.
  const a = node('10.0.0.2:6379');
  const b = node('10.0.0.3:6379');
  const c = node('10.0.0.4:6379');
  const lineage = observeMaster(undefined, 3, M, {
    replId: 'new',
    replId2: 'old',
    secondReplOffset: 17_403,
    keys: 10,
  });

  it('a server past that point in the old history is refused; a replica short of it is not', () => {
    expect(lineage).toMatchObject({ ids: ['new', 'old'], bounds: { old: 17_403 } });
    const r = rankCandidates({
      shard: shard([node(M), a, b, c]),
      facts: [
        { node: a, info: info({ replId: 'old', offset: 18_120 }) },
        { node: b, info: info({ replId: 'new', offset: 17_935 }) },
        { node: c, info: info({ replId: 'old', offset: 17_402 }) },
      ],
      masterLastOffset: 0,
      masterDownForMs: 2000,
      force: false,
      lineage,
    });
    expect(r.ranked.map((x) => x.addr)).toEqual([b.addr, c.addr]);
    expect(r.rejected).toEqual([{ addr: a.addr, reason: expect.stringMatching(/diverged/) }]);
  });

  it('nor is a replica waited for when it is "ahead" only in the old history', () => {
    const unreachable = [
      { addr: a.addr, last: { role: 'slave' as const, replId: 'old', offset: 18_120 }, failingForMs: 100 },
    ];
    const best = { addr: b.addr, offset: 17_935 };
    expect(waitForAheadCandidate({ best, unreachable, lineage, downAfterMs: 5000 })).toBeNull();
  });

  it("an id also seen as the master's own (a restart from its RDB) is not bounded", () => {
    let l = observeMaster(undefined, 3, M, { replId: 'x', replId2: null, keys: 5 });
    l = observeMaster(l, 3, M, { replId: 'y', replId2: 'x', secondReplOffset: 100, keys: 5 });
    expect(l.ids).toEqual(['y', 'x']);
    expect(l.bounds).toEqual({});
    // Merged: the bound a daemon saw travels; a reporter that saw the id as the master's own lifts it.
    const merged = mergeLineage(
      { epoch: 3, master: M, ids: ['new'], lastKeys: 1 },
      {
        epoch: 3,
        master: M,
        ids: ['new', 'old'],
        bounds: { old: 17_403 },
      },
      { epoch: 3, master: M },
    );
    expect(merged).toMatchObject({ ids: ['new', 'old'], bounds: { old: 17_403 } });
    expect(
      mergeLineage(merged, { epoch: 3, master: M, ids: ['old'], bounds: {} }, { epoch: 3, master: M })!
        .bounds,
    ).toEqual({});
  });
});

describe('a master the restart guard demoted holds data: replicas behind it are not promoted (sim seed 21267)', () => {
  // M restarted from its RDB: a new id 'n', the RDB's 'a' as replid2 up to offset 5000; then the
  // guard made it a replica of the node that was ahead (which later restarted empty).
  const demoted = info({ replId: 'n', replId2: 'a', secondReplOffset: 5001, offset: 5000 });

  it('compareHistories compares two servers on the histories both hold', () => {
    expect(compareHistories(info({ replId: 'a', offset: 4000 }), demoted)).toBe('behind');
    expect(compareHistories(info({ replId: 'a', offset: 6000 }), demoted)).toBe('ahead');
    expect(compareHistories(info({ replId: 'a', offset: 5000 }), demoted)).toBe('equal');
    expect(compareHistories(info({ replId: 'z', offset: 9000 }), demoted)).toBe('unrelated');
    // A promoted node: its replid2 up to second_repl_offset - 1.
    expect(
      compareHistories(info({ role: 'master', replId: 'p', replId2: 'a', secondReplOffset: 5200 }), demoted),
    ).toBe('ahead');
  });

  it('refuses a replica behind the demoted master, keeps one that is not', () => {
    const behind = node('10.0.0.2:6379');
    const level = node('10.0.0.3:6379');
    const s = shard([node(M), behind, level]);
    const args = {
      shard: s,
      facts: [
        { node: behind, info: info({ replId: 'a', offset: 4000, masterLinkDownSinceSeconds: 0 }) },
        { node: level, info: info({ replId: 'a', offset: 5000, masterLinkDownSinceSeconds: 0 }) },
      ],
      masterLastOffset: 0,
      masterDownForMs: 2000,
      force: false,
      lineage: LINEAGE,
    };
    // Without the master's INFO both are candidates, the one behind too.
    expect(rankCandidates(args).ranked.map((x) => x.addr)).toEqual([level.addr, behind.addr]);
    const r = rankCandidates({ ...args, demotedMaster: demoted });
    expect(r.ranked.map((x) => x.addr)).toEqual([level.addr]);
    expect(r.rejected).toEqual([
      {
        addr: behind.addr,
        reason: expect.stringMatching(/less of the history than the master .* restored instead/),
      },
    ]);
  });
});

/**
 * Conformance of raftinel's Sentinel port with the real thing: the SAME assertions run against a
 * real redis-sentinel (three of them, Debian's 7.0, monitoring a real master and replica) and
 * against raftinel (three daemons, shard 'mymaster' on a real master and replica), in RESP2 and
 * RESP3, on the exact wire types (simple vs bulk strings, null array vs RESP3 null, flat records vs
 * maps, pushes). Where raftinel deliberately differs, the last describe block asserts raftinel's
 * documented behaviour on its own and says why.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { IDS, SHARD, ShardCluster } from '../support/clients/cluster.js';
import { parseAddr, sleep } from '../support/clients/common.js';
import { plain, type Resp, RespConn, recordFields } from '../support/clients/resp.js';
import { cleanupAll, dumpLogsIfFailed, waitFor } from '../support/daemons.js';
import { cleanupRedis, RedisProcess, SentinelProcess } from '../support/redis.js';

interface System {
  name: 'redis-sentinel' | 'raftinel';
  /** Sentinel ports of the three sentinels / daemons. */
  ports: number[];
  master: string;
  replica: string;
}

const real: System = { name: 'redis-sentinel', ports: [], master: '', replica: '' };
const ours: System = { name: 'raftinel', ports: [], master: '', replica: '' };
let sc: ShardCluster;
const conns: RespConn[] = [];

/** SENTINEL MASTER of a healthy master, in Sentinel's order (sentinel.c addReplySentinelRedisInstance). */
const MASTER_FIELDS = [
  'name',
  'ip',
  'port',
  'runid',
  'flags',
  'link-pending-commands',
  'link-refcount',
  'last-ping-sent',
  'last-ok-ping-reply',
  'last-ping-reply',
  'down-after-milliseconds',
  'info-refresh',
  'role-reported',
  'role-reported-time',
  'config-epoch',
  'num-slaves',
  'num-other-sentinels',
  'quorum',
  'failover-timeout',
  'parallel-syncs',
];
const REPLICA_FIELDS = [
  ...MASTER_FIELDS.slice(0, 14),
  'master-link-down-time',
  'master-link-status',
  'master-host',
  'master-port',
  'slave-priority',
  'slave-repl-offset',
  'replica-announced',
];
const SENTINEL_FIELDS = [
  ...MASTER_FIELDS.slice(0, 11),
  'last-hello-message',
  'voted-leader',
  'voted-leader-epoch',
];
/** Fields whose values are not numbers. */
const TEXT_FIELDS = new Set([
  'name',
  'ip',
  'runid',
  'flags',
  'role-reported',
  'master-link-status',
  'master-host',
  'voted-leader',
]);

async function startRealSentinels(): Promise<void> {
  const m = await RedisProcess.start();
  const r = await RedisProcess.start({ replicaOf: m.addr });
  const sentinels: SentinelProcess[] = [];
  for (let i = 0; i < 3; i++) {
    sentinels.push(
      await SentinelProcess.start({ name: SHARD, master: m.addr, quorum: 2, downAfterMs: 5000 }),
    );
  }
  real.ports = sentinels.map((s) => s.port);
  real.master = m.addr;
  real.replica = r.addr;
  // Sentinels find each other through hello messages on the master (every 2 s), and the replica
  // through the master's INFO.
  await waitFor(
    async () => {
      for (const port of real.ports) {
        const c = await RespConn.open(port);
        try {
          const s = await c.call('SENTINEL', 'SENTINELS', SHARD);
          const reps = await c.call('SENTINEL', 'REPLICAS', SHARD);
          const m = await c.call('SENTINEL', 'MASTER', SHARD);
          if (s.t !== 'array' || s.items.length !== 2) return false;
          if (reps.t !== 'array' || reps.items.length !== 1) return false;
          if (new Map(recordFields(m, 2)).get('flags') !== 'master') return false;
          if (new Map(recordFields(reps.items[0]!, 2)).get('master-link-status') !== 'ok') return false;
        } finally {
          c.close();
        }
      }
      return true;
    },
    30_000,
    { what: 'the three redis-sentinels to know each other and the replica', intervalMs: 250 },
  );
}

beforeAll(async () => {
  const [, cluster] = await Promise.all([startRealSentinels(), ShardCluster.start({ replicas: 1 })]);
  sc = cluster;
  ours.ports = IDS.map((id) => sc.sentinel(id).port);
  ours.master = sc.redis[0]!.addr;
  ours.replica = sc.redis[1]!.addr;
}, 120_000);

afterEach((ctx) => {
  for (const c of conns.splice(0)) c.close();
  dumpLogsIfFailed(ctx);
});

afterAll(async () => {
  await sc?.close();
  await cleanupAll();
  await cleanupRedis();
}, 60_000);

/** A connection to sentinel `i` of `sys`, in RESP `proto` (HELLO 3 sent for RESP3). */
async function open(sys: System, proto: 2 | 3, i = 0): Promise<RespConn> {
  const c = await RespConn.open(sys.ports[i]!);
  conns.push(c);
  if (proto === 3) {
    const h = await c.call('HELLO', '3');
    expect(h.t).toBe('map');
  }
  return c;
}

const simple = (s: string): Resp => ({ t: 'simple', s });
const error = (s: string): Resp => ({ t: 'error', s });
const bulk = (s: string): Resp => ({ t: 'bulk', s });

function expectNumericValues(fields: [string, string][], what: string): void {
  for (const [k, v] of fields) {
    if (TEXT_FIELDS.has(k)) continue;
    expect(v, `${what} ${k}`).toMatch(/^-?\d+$/);
  }
}

describe.each([real, ours])('$name', (sys) => {
  beforeEach(async () => {
    // Every daemon has its lease (on a loaded machine one can lose it for a moment; then it
    // rightly names no master, which is not what these shape checks are about).
    if (sys === ours) await sc.waitNamed(ours.master, [...IDS], 15_000);
  });

  describe.each([2, 3] as const)('RESP%i', (proto) => {
    it('GET-MASTER-ADDR-BY-NAME: [ip, port] as bulk strings; a null for an unknown name', async () => {
      const c = await open(sys, proto);
      const { host, port } = parseAddr(sys.master);
      expect(await c.call('SENTINEL', 'get-master-addr-by-name', SHARD)).toEqual({
        t: 'array',
        items: [bulk(host), bulk(String(port))],
      });
      // RESP2 a null array (*-1), RESP3 the null type (_).
      expect(await c.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', 'nosuch')).toEqual(
        proto === 2 ? { t: 'nullarray' } : { t: 'null' },
      );
    });

    it('MASTERS and MASTER: the record of a healthy master, fields in order, numbers as strings', async () => {
      const c = await open(sys, proto);
      const masters = await c.call('SENTINEL', 'MASTERS');
      expect(masters.t).toBe('array');
      if (masters.t !== 'array') return;
      expect(masters.items).toHaveLength(1);
      const one = await c.call('SENTINEL', 'MASTER', SHARD);
      for (const rec of [masters.items[0]!, one]) {
        const fields = recordFields(rec, proto);
        expect(fields.map(([k]) => k)).toEqual(MASTER_FIELDS);
        expectNumericValues(fields, 'master');
        const f = new Map(fields);
        const { host, port } = parseAddr(sys.master);
        expect(f.get('name')).toBe(SHARD);
        expect(f.get('ip')).toBe(host);
        expect(f.get('port')).toBe(String(port));
        expect(f.get('runid')).toMatch(/^[0-9a-f]{40}$/);
        expect(f.get('flags')).toBe('master');
        expect(f.get('role-reported')).toBe('master');
        expect(f.get('num-slaves')).toBe('1');
        expect(f.get('num-other-sentinels')).toBe('2');
        expect(f.get('quorum')).toBe('2');
        expect(f.get('parallel-syncs')).toBe('1');
      }
    });

    it('REPLICAS and SLAVES: the replica record, fields in order', async () => {
      const c = await open(sys, proto);
      for (const sub of ['REPLICAS', 'SLAVES']) {
        const reps = await c.call('SENTINEL', sub, SHARD);
        expect(reps.t, sub).toBe('array');
        if (reps.t !== 'array') return;
        expect(reps.items).toHaveLength(1);
        const fields = recordFields(reps.items[0]!, proto);
        expect(
          fields.map(([k]) => k),
          sub,
        ).toEqual(REPLICA_FIELDS);
        expectNumericValues(fields, sub);
        const f = new Map(fields);
        const m = parseAddr(sys.master);
        const r = parseAddr(sys.replica);
        expect(f.get('name')).toBe(sys.replica);
        expect(f.get('ip')).toBe(r.host);
        expect(f.get('port')).toBe(String(r.port));
        expect(f.get('flags')).toBe('slave');
        expect(f.get('role-reported')).toBe('slave');
        expect(f.get('master-link-status')).toBe('ok');
        expect(f.get('master-host')).toBe(m.host);
        expect(f.get('master-port')).toBe(String(m.port));
        expect(f.get('slave-priority')).toBe('100');
        expect(f.get('replica-announced')).toBe('1');
      }
    });

    it('SENTINELS: the other two, by their MYID, fields in order; MYID is 40 hex digits', async () => {
      const ids: string[] = [];
      for (let i = 0; i < 3; i++) {
        const ci = await open(sys, proto, i);
        const id = await ci.call('SENTINEL', 'MYID');
        expect(id.t).toBe('bulk');
        expect(plain(id)).toMatch(/^[0-9a-f]{40}$/);
        ids.push(String(plain(id)));
      }
      expect(new Set(ids).size).toBe(3);
      const c = await open(sys, proto, 0);
      const s = await c.call('SENTINEL', 'SENTINELS', SHARD);
      expect(s.t).toBe('array');
      if (s.t !== 'array') return;
      const recs = s.items.map((r) => recordFields(r, proto));
      for (const fields of recs) {
        expect(fields.map(([k]) => k)).toEqual(SENTINEL_FIELDS);
        expectNumericValues(fields, 'sentinel');
        const f = new Map(fields);
        expect(f.get('flags')).toBe('sentinel');
        expect(f.get('name')).toBe(f.get('runid'));
        expect(f.get('voted-leader')).toBe('?');
      }
      // Self excluded; each other one named by the id it gives itself, at its port.
      const byId = new Map(recs.map((fields) => [new Map(fields).get('runid'), new Map(fields).get('port')]));
      expect(new Map([...byId].sort())).toEqual(
        new Map(
          [
            [ids[1], String(sys.ports[1])],
            [ids[2], String(sys.ports[2])],
          ].sort() as [string, string][],
        ),
      );
    });

    it('CKQUORUM, ROLE, PING', async () => {
      const c = await open(sys, proto);
      expect(await c.call('SENTINEL', 'CKQUORUM', SHARD)).toEqual(
        simple('OK 3 usable Sentinels. Quorum and failover authorization can be reached'),
      );
      expect(await c.call('ROLE')).toEqual({
        t: 'array',
        items: [bulk('sentinel'), { t: 'array', items: [bulk(SHARD)] }],
      });
      expect(await c.call('PING')).toEqual(simple('PONG'));
      expect(await c.call('PING', 'hello there')).toEqual(bulk('hello there'));
    });

    it('INFO: a bulk string (also in RESP3); the sentinel section line by line', async () => {
      const c = await open(sys, proto);
      const info = await c.call('INFO', 'sentinel');
      expect(info.t).toBe('bulk');
      const lines = String(plain(info)).split('\r\n').filter(Boolean);
      expect(lines).toEqual([
        '# Sentinel',
        'sentinel_masters:1',
        'sentinel_tilt:0',
        'sentinel_tilt_since_seconds:-1',
        'sentinel_running_scripts:0',
        'sentinel_scripts_queue_length:0',
        'sentinel_simulate_failure_flags:0',
        `master0:name=${SHARD},status=ok,address=${sys.master},slaves=1,sentinels=3`,
      ]);
      const all = String(plain(await c.call('INFO')));
      expect(all.split('\r\n').filter((l) => l.startsWith('#'))).toEqual([
        '# Server',
        '# Clients',
        '# Stats',
        '# CPU',
        '# Sentinel',
      ]);
      expect(all).toMatch(/\r\nredis_mode:sentinel\r\n/);
      expect(all).toMatch(/\r\nredis_version:\d+\.\d+\.\d+\r\n/);
    });

    it('HELLO: RESP3 map / RESP2 flat array with the same keys, mode sentinel, no role', async () => {
      const c = await open(sys, 2);
      const h = await c.call('HELLO', String(proto));
      let keys: string[];
      if (proto === 3) {
        expect(h.t).toBe('map');
        if (h.t !== 'map') return;
        keys = h.entries.map(([k]) => String(plain(k)));
        const m = new Map(h.entries.map(([k, v]) => [String(plain(k)), v]));
        expect(m.get('proto')).toEqual({ t: 'int', n: 3 });
        expect(m.get('mode')).toEqual(bulk('sentinel'));
        expect(m.get('server')).toEqual(bulk('redis'));
        expect(m.get('modules')).toEqual({ t: 'array', items: [] });
      } else {
        expect(h.t).toBe('array');
        if (h.t !== 'array') return;
        keys = h.items.filter((_, i) => i % 2 === 0).map((k) => String(plain(k)));
        expect(h.items[5]).toEqual({ t: 'int', n: 2 });
      }
      expect(keys).toEqual(['server', 'version', 'proto', 'id', 'mode', 'modules']);
    });

    it('errors: unknown master, unknown subcommand, arity, SET, MONITOR, duplicate name, unknown command', async () => {
      const c = await open(sys, proto);
      const noSuch = error('ERR No such master with that name');
      for (const args of [
        ['MASTER', 'nosuch'],
        ['REPLICAS', 'nosuch'],
        ['SLAVES', 'nosuch'],
        ['SENTINELS', 'nosuch'],
        ['CKQUORUM', 'nosuch'],
        ['FAILOVER', 'nosuch'],
        ['REMOVE', 'nosuch'],
        ['SET', 'nosuch', 'quorum', '2'],
      ]) {
        expect(await c.call('SENTINEL', ...args), args.join(' ')).toEqual(noSuch);
      }
      expect(await c.call('SENTINEL', 'FOO')).toEqual(
        error("ERR unknown subcommand 'FOO'. Try SENTINEL HELP."),
      );
      expect(await c.call('SENTINEL', 'MASTERS', 'x')).toEqual(
        error("ERR wrong number of arguments for 'sentinel|masters' command"),
      );
      expect(await c.call('SENTINEL')).toEqual(error("ERR wrong number of arguments for 'sentinel' command"));
      expect(await c.call('SENTINEL', 'SET', SHARD, 'foo', '1')).toEqual(
        error("ERR Unknown option or number of arguments for SENTINEL SET 'foo'"),
      );
      expect(await c.call('SENTINEL', 'SET', SHARD, 'down-after-milliseconds', 'abc')).toEqual(
        error("ERR Invalid argument 'abc' for SENTINEL SET 'down-after-milliseconds'"),
      );
      expect(await c.call('SENTINEL', 'SET', SHARD, 'quorum', '0')).toEqual(
        error("ERR Invalid argument '0' for SENTINEL SET 'quorum'"),
      );
      expect(await c.call('SENTINEL', 'MONITOR', 'x', '127.0.0.1', 'abc', '2')).toEqual(
        error('ERR Invalid port'),
      );
      expect(await c.call('SENTINEL', 'MONITOR', 'x', '127.0.0.1', '70000', '2')).toMatchObject({
        t: 'error',
        s: expect.stringMatching(/^ERR Invalid port/),
      });
      expect(await c.call('SENTINEL', 'MONITOR', 'x', '127.0.0.1', '6379', 'abc')).toEqual(
        error('ERR Invalid quorum'),
      );
      expect(await c.call('SENTINEL', 'MONITOR', 'x', '127.0.0.1', '6379', '0')).toEqual(
        error('ERR Quorum must be 1 or greater.'),
      );
      expect(await c.call('SENTINEL', 'MONITOR', 'x', 'not-an-ip', '6379', '2')).toEqual(
        error('ERR Invalid IP address or hostname specified'),
      );
      // The name is taken (by another address).
      expect(await c.call('SENTINEL', 'MONITOR', SHARD, '127.0.0.1', '1', '2')).toEqual(
        error('ERR Duplicate master name.'),
      );
      expect(await c.call('FOO', 'a', 'b')).toEqual(
        error("ERR unknown command 'FOO', with args beginning with: 'a' 'b' "),
      );
      expect(await c.call('CONFIG', 'GET', 'x')).toEqual(
        error("ERR unknown command 'CONFIG', with args beginning with: 'GET' 'x' "),
      );
      // Nothing of the above changed anything.
      const role = await c.call('ROLE');
      expect(plain(role)).toEqual(['sentinel', [SHARD]]);
    });

    it('SUBSCRIBE / PSUBSCRIBE reply shapes (RESP3 pushes); PUBLISH only to the hello channel', async () => {
      const c = await open(sys, proto);
      expect(await c.call('PUBLISH', 'foo', 'bar')).toEqual(
        error('ERR Only HELLO messages are accepted by Sentinel instances.'),
      );
      const kind = proto === 2 ? 'array' : 'push';
      expect(await c.call('SUBSCRIBE', '+switch-master')).toEqual({
        t: kind,
        items: [bulk('subscribe'), bulk('+switch-master'), { t: 'int', n: 1 }],
      });
      expect(await c.call('PSUBSCRIBE', '*')).toEqual({
        t: kind,
        items: [bulk('psubscribe'), bulk('*'), { t: 'int', n: 2 }],
      });
      // PING in subscribed mode: RESP2 ["pong", ""], RESP3 a plain PONG.
      expect(await c.call('PING')).toEqual(
        proto === 2 ? { t: 'array', items: [bulk('pong'), bulk('')] } : simple('PONG'),
      );
      expect(await c.call('UNSUBSCRIBE', '+switch-master')).toEqual({
        t: kind,
        items: [bulk('unsubscribe'), bulk('+switch-master'), { t: 'int', n: 1 }],
      });
    });

    it('SENTINEL CONFIG GET / SET', async () => {
      const c = await open(sys, proto);
      const got = await c.call('SENTINEL', 'CONFIG', 'GET', 'resolve-hostnames');
      expect(got.t).toBe(proto === 2 ? 'array' : 'map');
      expect(plain(got)).toEqual(proto === 2 ? ['resolve-hostnames', 'no'] : [['resolve-hostnames', 'no']]);
      const all = plain(await c.call('SENTINEL', 'CONFIG', 'GET', '*')) as unknown[];
      const names = (
        proto === 2 ? all.filter((_, i) => i % 2 === 0) : all.map((e) => (e as unknown[])[0])
      ).map(String);
      // The parameters of Redis 7.0, in its order (raftinel adds 7.2's loglevel: see below).
      expect(names.slice(0, 6)).toEqual([
        'resolve-hostnames',
        'announce-hostnames',
        'announce-ip',
        'announce-port',
        'sentinel-user',
        'sentinel-pass',
      ]);
      expect(await c.call('SENTINEL', 'CONFIG', 'SET', 'foo', 'bar')).toEqual(
        error("ERR Invalid argument 'foo' to SENTINEL CONFIG SET"),
      );
      expect(await c.call('SENTINEL', 'CONFIG', 'BAR', 'x')).toEqual(
        error('ERR Only SENTINEL CONFIG GET <option> / SET <option> <value> are supported.'),
      );
      expect(await c.call('SENTINEL', 'CONFIG', 'SET', 'resolve-hostnames', 'no')).toEqual(simple('OK'));
    });
  });
});

describe('raftinel where it deliberately differs', () => {
  it('QUIT is accepted (+OK, then the connection closes): Sentinel 7.0 knows no QUIT, but clients send it on close', async () => {
    const c = await open(real, 2);
    expect(await c.call('QUIT')).toEqual(error("ERR unknown command 'QUIT', with args beginning with: "));
    const r = await open(ours, 2);
    expect(await r.call('QUIT')).toEqual(simple('OK'));
    expect(await r.waitClosed()).toBe(true);
  });

  it('MONITOR repeated with the same name and address is +OK (changes go through the log; repeating one is not an error)', async () => {
    const { host, port } = parseAddr(ours.master);
    const r = await open(ours, 2, 1);
    expect(await r.call('SENTINEL', 'MONITOR', SHARD, host, String(port), '2')).toEqual(simple('OK'));
    // Sentinel refuses any MONITOR of a known name.
    const m = parseAddr(real.master);
    const c = await open(real, 2);
    expect(await c.call('SENTINEL', 'MONITOR', SHARD, m.host, String(m.port), '2')).toEqual(
      error('ERR Duplicate master name.'),
    );
  });

  it('MONITOR of port 0 is refused (Sentinel 7.0 accepts it and monitors a master that cannot exist)', async () => {
    const r = await open(ours, 2);
    expect(await r.call('SENTINEL', 'MONITOR', 'x', '127.0.0.1', '0', '2')).toEqual(
      error('ERR Invalid port number.'),
    );
    expect(plain(await r.call('ROLE'))).toEqual(['sentinel', [SHARD]]);
  });

  it('SENTINEL CONFIG follows Redis 7.2: several parameters per call, loglevel, 7.2 errors (7.0 arity)', async () => {
    const r = await open(ours, 3);
    expect(plain(await r.call('SENTINEL', 'CONFIG', 'GET', 'loglevel'))).toEqual([['loglevel', 'notice']]);
    expect(
      await r.call('SENTINEL', 'CONFIG', 'SET', 'resolve-hostnames', 'no', 'announce-hostnames', 'no'),
    ).toEqual(simple('OK'));
    expect(await r.call('SENTINEL', 'CONFIG', 'SET', 'resolve-hostnames')).toEqual(
      error('ERR Missing argument'),
    );
    // Sentinel 7.0's arity (-3, what COMMAND INFO shows): too few words is its usage error.
    const usage = error('ERR Only SENTINEL CONFIG GET <option> / SET <option> <value> are supported.');
    expect(await r.call('SENTINEL', 'CONFIG', 'GET')).toEqual(usage);
    // Redis 7.0 answers both with its one-parameter usage error.
    const c = await open(real, 3);
    expect(await c.call('SENTINEL', 'CONFIG', 'SET', 'resolve-hostnames')).toEqual(usage);
    expect(await c.call('SENTINEL', 'CONFIG', 'GET')).toEqual(usage);
  });

  it('SENTINEL MASTER on a daemon cut off from the majority is an error, not a record (promise 2: node-redis then asks its next sentinel)', async () => {
    // A daemon alone: the other two paused.
    const [a, b, lone] = [1, 2, 3];
    sc.c.kill(a, 'SIGSTOP');
    sc.c.kill(b, 'SIGSTOP');
    try {
      const r = await open(ours, 2, lone - 1);
      await waitFor(
        async () => (await r.call('SENTINEL', 'get-master-addr-by-name', SHARD)).t === 'nullarray',
        5000,
        { what: 'the lone daemon to stop naming the master' },
      );
      expect(await r.call('SENTINEL', 'MASTER', SHARD)).toMatchObject({
        t: 'error',
        s: expect.stringMatching(/^NOQUORUM this Sentinel is cut off from the majority/),
      });
      // MASTERS still lists it, flagged s_down: what redis-py reads to skip to its next sentinel.
      const ms = await r.call('SENTINEL', 'MASTERS');
      expect(ms.t).toBe('array');
      if (ms.t === 'array') {
        const flags = new Map(recordFields(ms.items[0]!, 2)).get('flags');
        expect(flags).toBe('s_down,master,disconnected');
      }
      // CKQUORUM counts the Raft voters this daemon reaches (itself), where Sentinel counts the
      // sentinels it has not yet seen down for down-after-milliseconds.
      expect(await r.call('SENTINEL', 'CKQUORUM', SHARD)).toEqual(
        error(
          'NOQUORUM 1 usable Sentinels. Not enough available Sentinels to reach the specified quorum for this master. Not enough available Sentinels to reach the majority and authorize a failover',
        ),
      );
    } finally {
      sc.c.kill(a, 'SIGCONT');
      sc.c.kill(b, 'SIGCONT');
    }
    await sc.waitHealthy(ours.master, [...IDS], 30_000);
    await sleep(0);
  }, 60_000);
});

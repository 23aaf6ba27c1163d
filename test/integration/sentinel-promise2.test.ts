/**
 * Promise 2 of PRODUCT.md, per client: a daemon cut off from the group's majority stops naming a
 * master within one election timeout, in a way that makes each client library move on to another
 * daemon, and never leads a client to a stale master.
 *
 * Two ways to cut daemon 1 off on loopback:
 *  - SIGSTOP of the two other daemons (the majority is gone): daemon 1 stops naming within an
 *    election timeout, and a client that knows only daemon 1 finds no master, rather than one
 *    nobody vouches for.
 *  - A partition (every daemon's Raft traffic goes through proxies of ours; daemon 1's are cut):
 *    the majority (daemons 2 and 3) goes on, fails the master over after a kill -9, and every
 *    client, given daemon 1 FIRST in its list, moves on to daemons 2 and 3 and ends on the new
 *    master, while daemon 1 (which, without promise 2, would still name the dead master) names
 *    nothing. How each library moves on: ioredis and Jedis-like clients (redis-cli here) read
 *    GET-MASTER-ADDR-BY-NAME's null; redis-py reads the master flagged s_down in SENTINEL MASTERS;
 *    node-redis needs an error from SENTINEL MASTER (a record it rejects only makes it retry the
 *    same sentinel every second; an error makes it try the next one).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SHARD, ShardCluster, TIMING, toObject } from '../support/clients/cluster.js';
import { missingKeys, reportWriters, sleep, type Writer, waitAllAcks } from '../support/clients/common.js';
import { IoredisWriter, ioredisResolve, isIoredisDetectorRace } from '../support/clients/ioredis.js';
import { NodeRedisWriter, nodeRedisResolve } from '../support/clients/node-redis.js';
import { cliMasterAddr, jedisLikeMasterAddr } from '../support/clients/redis-cli.js';
import { cleanupClients, RedisPyWriter, redisPyDiscover } from '../support/clients/redis-py.js';
import { RespConn } from '../support/clients/resp.js';
import { cleanupAll, dumpLogsIfFailed } from '../support/daemons.js';
import { cleanupRedis } from '../support/redis.js';

let sc: ShardCluster;
const writers: Writer[] = [];
const ET = TIMING.electionTimeoutMs;

beforeAll(async () => {
  sc = await ShardCluster.start({ replicas: 1, partitionable: true });
}, 90_000);

afterEach((ctx) => dumpLogsIfFailed(ctx));

afterAll(async () => {
  await Promise.all(writers.splice(0).map((w) => w.stop().catch(() => {})));
  await sc?.close();
  await cleanupClients();
  await cleanupAll();
  await cleanupRedis();
}, 60_000);

/**
 * Poll daemon `id` (GET-MASTER-ADDR-BY-NAME on one connection, every 10 ms) until it stops naming
 * a master; returns the ms from `since` to the sending of the first poll that named none (a daemon
 * that lost touch with the group holds such a poll while an election may be under way, then
 * answers as cut off: it named no master from the moment it held it), and the slowest poll that
 * still named one (a busy machine shows up there).
 */
async function msUntilSilent(
  id: number,
  since: number,
  timeoutMs = 10_000,
): Promise<{ ms: number; slowestPoll: number }> {
  const c = await RespConn.open(sc.sentinel(id).port);
  let slowestPoll = 0;
  try {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const t0 = Date.now();
      const r = await c.call('SENTINEL', 'get-master-addr-by-name', SHARD);
      if (r.t === 'nullarray') return { ms: t0 - since, slowestPoll };
      slowestPoll = Math.max(slowestPoll, Date.now() - t0);
      await sleep(10);
    }
  } finally {
    c.close();
  }
  throw new Error(`daemon ${id} still names a master ${timeoutMs} ms after it was cut off`);
}

/** What daemon `id` and the proxies say, for a failure message. */
async function diagnose(id: number): Promise<string> {
  const st = await sc.c.status(id).catch((e: Error) => e.message);
  return JSON.stringify({
    links: await sc.proxies?.openLinks(),
    status:
      typeof st === 'string'
        ? st
        : {
            role: st.role,
            leader: st.leader,
            term: st.term,
            lease: (st as unknown as { lease: unknown }).lease,
          },
  });
}

/** Resolve until `want` comes back (at most 5 tries, 15 s): what each answer was, if not. */
async function eventually(
  what: string,
  resolve: () => Promise<string | null | Error>,
  want: string,
): Promise<string | null | Error> {
  const seen: string[] = [];
  const deadline = Date.now() + 15_000;
  for (let i = 0; i < 5 && Date.now() < deadline; i++) {
    const got = await resolve();
    if (got === want) {
      if (seen.length > 0) console.warn(`[sentinel-promise2] ${what}: ${want} after ${JSON.stringify(seen)}`);
      return got;
    }
    seen.push(got instanceof Error ? `error: ${got.message}` : String(got));
    await sleep(300);
  }
  throw new Error(`${what} never resolved ${want}: ${JSON.stringify(seen)}`);
}

describe('promise 2: no answer without a majority', () => {
  it('the majority SIGSTOPped: daemon 1 stops naming within an election timeout; a client knowing only it finds no master', async () => {
    const A = sc.redis[0]!.addr;
    const only1 = sc.sentinels([1]);
    expect(await eventually('ioredis', () => ioredisResolve(only1), A)).toBe(A);
    // Each node's lease counts from its last contact with the others: stop both at once.
    const stoppedAt = Date.now();
    sc.c.kill(2, 'SIGSTOP');
    sc.c.kill(3, 'SIGSTOP');
    try {
      const { ms, slowestPoll } = await msUntilSilent(1, stoppedAt);
      console.warn(
        `[sentinel-promise2] SIGSTOP of the majority: daemon 1 stopped naming after ${ms} ms (election timeout ${ET} ms; slowest poll ${slowestPoll} ms)`,
      );
      // Within one election timeout (plus scheduling slack on a busy machine, and a slow poll).
      expect(ms, await diagnose(1)).toBeLessThanOrEqual(ET + 300 + slowestPoll);

      // What each client reads from it now.
      // node-redis reads SENTINEL MASTER: an error sends it to its next sentinel.
      await expect(sc.sentinelCall(1, 'SENTINEL', 'MASTER', SHARD)).rejects.toThrow(
        /^NOQUORUM this Sentinel is cut off from the majority/,
      );
      // redis-py reads SENTINEL MASTERS: the master flagged s_down sends it to its next sentinel.
      const masters = ((await sc.sentinelCall(1, 'SENTINEL', 'MASTERS')) as unknown[]).map(toObject);
      expect(masters).toHaveLength(1);
      expect(String(masters[0]!.flags).split(',')).toEqual(
        expect.arrayContaining(['s_down', 'master', 'disconnected']),
      );
      await expect(sc.sentinelCall(1, 'SENTINEL', 'CKQUORUM', SHARD)).rejects.toThrow(
        /^NOQUORUM 1 usable Sentinels/,
      );
      expect(await cliMasterAddr(only1[0]!)).toBeNull();

      // No client connects to a master on its word.
      const io = await ioredisResolve(only1);
      expect(io, 'ioredis').toBeInstanceOf(Error);
      const py = await redisPyDiscover(only1);
      expect(py, 'redis-py').toBeInstanceOf(Error);
      expect(String(py)).toMatch(/MasterNotFoundError/);
      const nr = await nodeRedisResolve(only1);
      expect(nr, 'node-redis').toBeInstanceOf(Error);
      expect((await jedisLikeMasterAddr(only1)).master, 'Jedis-like').toBeNull();
    } finally {
      sc.c.kill(2, 'SIGCONT');
      sc.c.kill(3, 'SIGCONT');
    }
    await sc.waitHealthy(A, [1, 2, 3], 30_000);
  }, 120_000);

  it('daemon 1 partitioned: it names nothing; clients that list it first move on to daemons 2 and 3 and follow a failover', async () => {
    const proxies = sc.proxies!;
    const A = sc.redis[0]!.addr;
    const B = sc.redis[1]!.addr;
    const sentinels = sc.sentinels([1, 2, 3]);
    writers.push(
      new IoredisWriter(sentinels, 'p-ioredis'),
      new IoredisWriter(sentinels, 'p-ioredis-fd', { failoverDetector: true }),
      new NodeRedisWriter(sentinels, 'p-node-redis'),
      new RedisPyWriter(sentinels, 'p-redis-py'),
    );
    await Promise.all(writers.map((w) => w.start()));
    await Promise.all(writers.map((w) => w.waitForAcksAfter(0, 20, 20_000)));

    const cutAt = Date.now();
    await proxies.isolate(1);
    // Every Raft link left open is between daemons 2 and 3 (each one's source identified).
    const left = await proxies.openLinks();
    expect(
      left.filter((l) => l.from === null || l.from === 1 || l.to === 1),
      JSON.stringify(left),
    ).toEqual([]);
    const { ms, slowestPoll } = await msUntilSilent(1, cutAt);
    console.warn(
      `[sentinel-promise2] partition: daemon 1 stopped naming after ${ms} ms (election timeout ${ET} ms; slowest poll ${slowestPoll} ms)`,
    );
    // Within one election timeout (plus scheduling slack on a busy machine, and a slow poll).
    expect(ms, await diagnose(1)).toBeLessThanOrEqual(ET + 300 + slowestPoll);
    // The majority still names the master, so clients asking daemon 1 first go on to them.
    await sc.c.waitForLeader([2, 3], { timeoutMs: 20_000 });
    await sc.waitNamed(A, [2, 3], 10_000);
    // (Retried: a resolution that meets the two daemons mid-election finds no master and retries,
    // as the libraries themselves do; what must never happen is a client stuck on daemon 1.)
    expect(await eventually('ioredis', () => ioredisResolve(sentinels), A)).toBe(A);
    expect(await eventually('node-redis', () => nodeRedisResolve(sentinels), A)).toBe(A);
    expect(await eventually('redis-py', () => redisPyDiscover(sentinels), A)).toBe(A);
    // Jedis-like: daemon 1 answers null, so the address comes from daemon 2 or 3.
    const jedisLike = async () => {
      const j = await jedisLikeMasterAddr(sentinels);
      return j.from === sentinels[0] ? new Error(`answered by daemon 1: ${j.asked.join('; ')}`) : j.master;
    };
    expect(await eventually('Jedis-like', jedisLike, A)).toBe(A);

    // The master dies; only the majority can fail it over. Daemon 1 must not name the dead master.
    const namedBy1: (string | null)[] = [];
    let watching = true;
    const watch = (async () => {
      while (watching) {
        namedBy1.push(await sc.namedBy(1).catch(() => 'error'));
        await sleep(20);
      }
    })();
    const killedAt = Date.now();
    sc.redis[0]!.kill('SIGKILL');
    await sc.waitNamed(B, [2, 3], 30_000);
    const namedAt = Date.now();
    // (ioredis' own failoverDetector race can end that client for good on a master's death, with
    // redis-sentinel as well: tolerated, with a warning; see IoredisWriter.endedReason.)
    const live = await waitAllAcks(writers, namedAt, 20, 30_000, isIoredisDetectorRace);
    for (const w of live) expect(await missingKeys(B, w.acksAfter(namedAt)), w.name).toEqual([]);
    expect((writers[2] as NodeRedisWriter).connectedTo()).toBe(B);
    expect(await eventually('ioredis', () => ioredisResolve(sentinels), B)).toBe(B);
    expect(await eventually('node-redis', () => nodeRedisResolve(sentinels), B)).toBe(B);
    expect(await eventually('redis-py', () => redisPyDiscover(sentinels), B)).toBe(B);
    expect(await eventually('Jedis-like', jedisLike, B)).toBe(B);
    watching = false;
    await watch;
    // Daemon 1 named nothing all along: not the dead master, not the new one.
    expect(namedBy1.filter((x) => x === null).length).toBeGreaterThan(10);
    expect(namedBy1.filter((x) => x !== null && x !== 'error')).toEqual([]);

    await Promise.all(writers.map((w) => w.stop()));
    await reportWriters(
      'kill -9 of the master, daemon 1 (first in every list) partitioned',
      writers,
      B,
      killedAt,
    );

    // Healed, daemon 1 catches up and names the new master.
    await proxies.heal(1);
    await sc.waitNamed(B, [1, 2, 3], 30_000);
  }, 180_000);
});

/**
 * Stock Sentinel clients through `SENTINEL FAILOVER mymaster` sent to a follower daemon's Sentinel
 * port. raftinel deliberately differs from Sentinel here (documented in PRODUCT.md, promise 5, and
 * in SENTINEL HELP): with the master reachable, FAILOVER is a zero-loss switchover (pause writes,
 * wait for the replica's offset, demote, promote), where Sentinel promotes while the old master
 * keeps taking writes (redis/redis#6062; the reference measured 546 writes lost by ioredis). So
 * every client here must lose nothing it was told was written, and end on the new master.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { IDS, SHARD, ShardCluster, toObject } from '../support/clients/cluster.js';
import { type Ack, reportWriters, type Writer } from '../support/clients/common.js';
import { EventLog } from '../support/clients/events.js';
import { IoredisWriter } from '../support/clients/ioredis.js';
import { NodeRedisWriter } from '../support/clients/node-redis.js';
import { cliWaitNames } from '../support/clients/redis-cli.js';
import { cleanupClients, RedisPyWriter } from '../support/clients/redis-py.js';
import { RespConn } from '../support/clients/resp.js';
import { cleanupAll, dumpLogsIfFailed } from '../support/daemons.js';
import { cleanupRedis } from '../support/redis.js';

let sc: ShardCluster;
const writers: Writer[] = [];
let events: EventLog | null = null;

beforeAll(async () => {
  sc = await ShardCluster.start({ replicas: 1 });
}, 90_000);

afterEach((ctx) => dumpLogsIfFailed(ctx));

afterAll(async () => {
  await Promise.all(writers.splice(0).map((w) => w.stop().catch(() => {})));
  events?.close();
  await sc?.close();
  await cleanupClients();
  await cleanupAll();
  await cleanupRedis();
}, 60_000);

/** The longest time between two acknowledged writes of `acks` around `t`. */
function longestGap(acks: Ack[], from: number, to: number): number {
  let gap = 0;
  for (let i = 1; i < acks.length; i++) {
    if (acks[i]!.t < from || acks[i - 1]!.t > to) continue;
    gap = Math.max(gap, acks[i]!.t - acks[i - 1]!.t);
  }
  return gap;
}

describe('SENTINEL FAILOVER (a zero-loss switchover)', () => {
  it('every client continues on the new master and no acknowledged write is lost', async () => {
    const A = sc.redis[0]!.addr;
    const B = sc.redis[1]!.addr;
    const sentinels = sc.sentinels();
    events = await EventLog.start(sentinels, ['+switch-master']);

    writers.push(
      new IoredisWriter(sentinels, 'ioredis'),
      new IoredisWriter(sentinels, 'ioredis-fd', { failoverDetector: true }),
      new NodeRedisWriter(sentinels, 'node-redis'),
      new RedisPyWriter(sentinels, 'redis-py'),
    );
    await Promise.all(writers.map((w) => w.start()));
    await Promise.all(writers.map((w) => w.waitForAcksAfter(0, 30, 20_000)));
    for (const id of IDS) expect(await cliWaitNames(sc.sentinel(id), A)).toBe(A);

    // Sent to a follower: it goes to the leader through the group.
    const leader = (await sc.c.status(1)).leader!;
    const follower = IDS.find((id) => id !== leader)!;
    const other = IDS.find((id) => id !== leader && id !== follower)!;
    // (Two connections opened first, so the second FAILOVER follows the first within a few ms,
    // while the switchover is surely under way.)
    const [c1, c2] = await Promise.all([
      RespConn.open(sc.sentinel(follower).port),
      RespConn.open(sc.sentinel(other).port),
    ]);
    const requestedAt = Date.now();
    try {
      expect(await c1.call('SENTINEL', 'FAILOVER', SHARD)).toEqual({ t: 'simple', s: 'OK' });
      // Sentinel's answer to a second FAILOVER while one is under way.
      expect(await c2.call('SENTINEL', 'FAILOVER', SHARD)).toEqual({
        t: 'error',
        s: 'INPROG Failover already in progress',
      });
    } finally {
      c1.close();
      c2.close();
    }

    await sc.waitNamed(B, [...IDS], 30_000);
    const namedAt = Date.now();
    console.warn(
      `[sentinel-clients] switchover: every daemon named the new master after ${namedAt - requestedAt} ms`,
    );
    await Promise.all(writers.map((w) => w.waitForAcksAfter(namedAt, 30, 30_000)));
    for (const id of IDS) expect(await cliWaitNames(sc.sentinel(id), B)).toBe(B);
    expect((writers[2] as NodeRedisWriter).connectedTo()).toBe(B);

    await Promise.all(writers.map((w) => w.stop()));
    const report = await reportWriters('SENTINEL FAILOVER (switchover)', writers, B, requestedAt);
    for (const w of writers) {
      console.warn(
        `[sentinel-clients] switchover | ${w.name}: longest pause between two acknowledged writes ${Math.round(longestGap(w.acked, requestedAt - 1000, namedAt + 5000))} ms`,
      );
    }
    // Zero loss: every write any client was told succeeded is on the new master.
    for (const rep of report) expect(rep.lostKeys, `${rep.client} lost acknowledged writes`).toEqual([]);

    // The old master is a replica of the new one, and every daemon published the switch.
    expect(await sc.redis[0]!.role()).toEqual({ role: 'slave', upstream: B });
    const want = `${SHARD} ${A.replace(':', ' ')} ${B.replace(':', ' ')}`;
    for (let i = 0; i < sentinels.length; i++) {
      expect(
        events
          .subscribed('+switch-master')
          .filter((e) => e.from === i)
          .map((e) => e.message),
        `daemon ${i + 1}`,
      ).toEqual([want]);
    }
    const m = toObject(await sc.sentinelCall(follower, 'SENTINEL', 'MASTER', SHARD));
    expect(m.flags).toBe('master');
    expect(Number(m['config-epoch'])).toBeGreaterThan(0);
  }, 180_000);
});

/**
 * Stock Sentinel clients through a failover (kill -9 of the master), pointed at raftinel's Sentinel
 * ports and nothing else: ioredis (with and without failoverDetector), node-redis createSentinel,
 * redis-py's Sentinel.master_for, and redis-cli. Every client writes unique keys throughout; each
 * must keep working and end on the new master. Acknowledged writes lost (async replication lets a
 * kill -9 lose the last few) and the time from the kill to each client's first acknowledged write
 * are printed per client.
 *
 * Also the events (issue 5, item 4): every daemon publishes +switch-master with exactly
 * `<name> <oldip> <oldport> <newip> <newport>`, node-redis' PSUBSCRIBE patterns receive the events
 * they react to, and ioredis' FailoverDetector reacts to the +switch-master it receives.
 */
import { FailoverDetector } from 'ioredis/built/connectors/SentinelConnector/FailoverDetector.js';
import { createClient } from 'redis';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { IDS, SHARD, ShardCluster, toObject } from '../support/clients/cluster.js';
import {
  missingKeys,
  parseAddr,
  reportWriters,
  type Writer,
  waitAllAcks,
} from '../support/clients/common.js';
import { EventLog } from '../support/clients/events.js';
import { IoredisWriter, isIoredisDetectorRace } from '../support/clients/ioredis.js';
import { NodeRedisWriter } from '../support/clients/node-redis.js';
import { cliWaitNames, redisCli } from '../support/clients/redis-cli.js';
import { cleanupClients, RedisPyWriter } from '../support/clients/redis-py.js';
import { cleanupAll, dumpLogsIfFailed } from '../support/daemons.js';
import { cleanupRedis } from '../support/redis.js';

let sc: ShardCluster;
const writers: Writer[] = [];
let events: EventLog | null = null;
const nodeRedisSubs: ReturnType<typeof createClient>[] = [];

beforeAll(async () => {
  sc = await ShardCluster.start({ replicas: 1 });
}, 90_000);

afterEach((ctx) => dumpLogsIfFailed(ctx));

afterAll(async () => {
  await Promise.all(writers.splice(0).map((w) => w.stop().catch(() => {})));
  events?.close();
  for (const s of nodeRedisSubs.splice(0)) await s.destroy();
  await sc?.close();
  await cleanupClients();
  await cleanupAll();
  await cleanupRedis();
}, 60_000);

describe('kill -9 of the master', () => {
  it('every client keeps writing and ends on the new master; every daemon publishes +switch-master', async () => {
    const [oldMaster, replica] = sc.redis as [(typeof sc.redis)[0], (typeof sc.redis)[0]];
    const A = oldMaster.addr;
    const B = replica.addr;
    const sentinels = sc.sentinels();

    // Events, as each kind of client subscribes to them.
    events = await EventLog.start(sentinels, ['+switch-master']);
    const nodeRedisPatterns = [
      'switch-master',
      '[-+]sdown',
      '+slave',
      '+sentinel',
      '[-+]odown',
      '+slave-reconf-done',
    ];
    const nodeRedisSeen: { channel: string; message: string }[] = [];
    for (const s of sentinels) {
      const sub = createClient({ socket: { host: s.host, port: s.port, reconnectStrategy: false } });
      sub.on('error', () => {});
      await sub.connect();
      await sub.pSubscribe(nodeRedisPatterns, (message, channel) => nodeRedisSeen.push({ channel, message }));
      nodeRedisSubs.push(sub);
    }
    // (private in ioredis' typings: what its +switch-master handler calls to re-resolve.)
    const detectorDisconnects = vi.spyOn(
      FailoverDetector.prototype as unknown as { disconnect(): void },
      'disconnect',
    );

    writers.push(
      new IoredisWriter(sentinels, 'ioredis'),
      new IoredisWriter(sentinels, 'ioredis-fd', { failoverDetector: true }),
      new NodeRedisWriter(sentinels, 'node-redis'),
      new RedisPyWriter(sentinels, 'redis-py'),
    );
    await Promise.all(writers.map((w) => w.start()));
    await Promise.all(writers.map((w) => w.waitForAcksAfter(0, 20, 20_000)));

    // redis-cli (and so every get-master-addr client) names the master before.
    for (const id of IDS) expect(await cliWaitNames(sc.sentinel(id), A)).toBe(A);

    const killedAt = Date.now();
    oldMaster.kill('SIGKILL');
    await sc.waitNamed(B, [...IDS], 30_000);
    const namedAt = Date.now();
    console.warn(
      `[sentinel-clients] kill -9: every daemon named the new master after ${namedAt - killedAt} ms`,
    );

    // Each client continues on the new master.
    // (ioredis' own failoverDetector race can end that client for good on a master's death, with
    // redis-sentinel as well: tolerated, with a warning; see IoredisWriter.endedReason.)
    const live = await waitAllAcks(writers, namedAt, 20, 30_000, isIoredisDetectorRace);
    for (const id of IDS) expect(await cliWaitNames(sc.sentinel(id), B)).toBe(B);
    const resp3 = await redisCli(sc.sentinel(2), ['SENTINEL', 'get-master-addr-by-name', SHARD], {
      resp3: true,
    });
    expect(resp3.stdout.split('\n').filter(Boolean)).toEqual([parseAddr(B).host, String(parseAddr(B).port)]);
    // redis-cli -3: HELLO 3 on the Sentinel port, a map with mode sentinel.
    const hello = await redisCli(sc.sentinel(3), ['HELLO', '3'], { resp3: true });
    expect(hello.stdout.split('\n')).toEqual(
      expect.arrayContaining(['server redis', 'proto 3', 'mode sentinel']),
    );

    expect((writers[2] as NodeRedisWriter).connectedTo()).toBe(B);
    await Promise.all(writers.map((w) => w.stop()));
    const report = await reportWriters('kill -9 of the master', writers, B, killedAt);
    for (const w of live) {
      // Everything acknowledged once the new master was named is on it: the client is on B.
      expect(await missingKeys(B, w.acksAfter(namedAt)), `${w.name} writes after the failover`).toEqual([]);
    }
    for (const r of report.filter((x) => live.some((w) => x.client === `${w.name} [${w.prefix}]`)))
      expect(r.firstWriteAfterMs, r.client).not.toBeNull();

    // +switch-master from every daemon, exactly once, in Sentinel's five-token form.
    const want = `${SHARD} ${A.replace(':', ' ')} ${B.replace(':', ' ')}`;
    const switches = events.subscribed('+switch-master');
    for (let i = 0; i < sentinels.length; i++) {
      expect(
        switches.filter((e) => e.from === i).map((e) => e.message),
        `daemon ${i + 1}`,
      ).toEqual([want]);
    }
    // The other events of a crash failover, from every daemon (the %@ form). Each daemon
    // publishes +sdown from its own probes: as the master while it still is the master (at least
    // the majority that decided the failover), else as the replica the old master became.
    const [ip, p] = A.split(':');
    let sdownAsMaster = 0;
    for (let i = 0; i < sentinels.length; i++) {
      const all = events.all(i);
      expect(
        all.map((e) => e.channel),
        `daemon ${i + 1}`,
      ).toEqual(
        expect.arrayContaining(['+sdown', '+odown', '+try-failover', '+promoted-slave', '+failover-end']),
      );
      const sdown = all.filter((e) => e.channel === '+sdown').map((e) => e.message);
      expect(sdown, `daemon ${i + 1}`).toEqual(
        expect.arrayContaining([
          expect.stringMatching(
            new RegExp(
              `^(master ${SHARD} ${ip} ${p}|slave ${A} ${ip} ${p} @ ${SHARD} ${B.replace(':', ' ')})$`,
            ),
          ),
        ]),
      );
      if (sdown.includes(`master ${SHARD} ${ip} ${p}`)) sdownAsMaster++;
      expect(
        all.filter((e) => e.channel === '+odown').map((e) => e.message),
        `daemon ${i + 1}`,
      ).toEqual([`master ${SHARD} ${ip} ${p} #quorum 2/2`]);
    }
    expect(sdownAsMaster).toBeGreaterThanOrEqual(2);
    // node-redis' patterns: its literal 'switch-master' matches nothing (as with Sentinel), the
    // others deliver what it rediscovers on.
    expect(nodeRedisSeen.some((e) => e.channel === 'switch-master')).toBe(false);
    expect(nodeRedisSeen.map((e) => e.channel)).toEqual(
      expect.arrayContaining(['+sdown', '+odown', '+slave']),
    );
    // ioredis' FailoverDetector heard +switch-master and disconnected to re-resolve.
    expect(detectorDisconnects).toHaveBeenCalled();
    detectorDisconnects.mockRestore();

    // The old master is reported as a (down) replica of the new one, as Sentinel does.
    const reps = ((await sc.sentinelCall(1, 'SENTINEL', 'REPLICAS', SHARD)) as unknown[]).map(toObject);
    expect(reps.map((r) => r.name)).toEqual([A]);
  }, 180_000);
});

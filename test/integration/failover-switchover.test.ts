/**
 * Planned switchover under a steady write load (issue 4 item 7, promise 5), with real redis-server
 * processes, real daemons and an ioredis client in Sentinel mode pointed at the daemons' Sentinel
 * ports: no acknowledged write lost (checked key by key on the final master), the write pause
 * bounded by switchover_pause_ms; and a switchover whose target cannot catch up is rolled back.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { cleanupAll, dumpLogsIfFailed } from '../support/daemons.js';
import {
  acceptsWrite,
  checkPromiseOne,
  type JobView,
  missingKeys,
  SteadyWriter,
  sentinelClient,
  startFailoverCluster,
  waitFollows,
  waitForMaster,
} from '../support/failover.js';
import { cleanupRedis } from '../support/redis.js';

const SHARD = 'mymaster';
const PAUSE_MS = 2000;

afterEach(async (ctx) => {
  dumpLogsIfFailed(ctx);
  await cleanupAll();
  await cleanupRedis();
});

async function setup() {
  const fc = await startFailoverCluster({
    shards: [{ name: SHARD, nodes: [{ owner: 1 }, { owner: 2 }, { owner: 3 }] }],
    failover: { switchoverPauseMs: PAUSE_MS },
  });
  const client = sentinelClient(fc, SHARD);
  await client.connect();
  const writer = new SteadyWriter(client, 'w');
  writer.start();
  await writer.waitAcks(200);
  return { fc, client, writer };
}

describe('switchover', () => {
  it('under a steady write load: succeeds, loses no acknowledged write, pauses writes within switchover_pause_ms', async () => {
    const { fc, client, writer } = await setup();
    try {
      const [m, r1, r2] = [fc.r(SHARD, 0), fc.r(SHARD, 1), fc.r(SHARD, 2)];
      const before = await fc.view(1, SHARD);
      const ackedBefore = writer.acked.length;

      const r = await fc.cli(['switchover', SHARD, '--json'], 2);
      expect(r.code, r.stdout + r.stderr).toBe(0);
      const job = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as JobView;
      expect(job.state).toBe('succeeded');
      const result = job.result as { epoch: number; master: string; pausedMs: number };
      expect([r1.addr, r2.addr]).toContain(result.master);
      expect(result.epoch).toBe(before.epoch + 1);

      const { master, epoch } = await waitForMaster(fc, SHARD, (addr) => addr !== m.addr, {
        what: 'every daemon to name the switchover target',
      });
      expect(master).toBe(result.master);
      expect(epoch).toBe(result.epoch);
      // The client follows the new master and keeps writing.
      await writer.waitAcks(200);
      await writer.stop();
      console.log(
        `[failover-switchover] switchover to ${master}: job pausedMs ${result.pausedMs}, writer's longest gap ` +
          `${Math.round(writer.maxGapMs)} ms, longest write ${Math.round(writer.maxLatencyMs)} ms ` +
          `(switchover_pause_ms ${PAUSE_MS}); ${writer.acked.length} writes acknowledged ` +
          `(${writer.acked.length - ackedBefore} since the switchover began), ${writer.failures} failed`,
      );

      const promoted = fc.byAddr(master);
      expect(await missingKeys(promoted, writer.acked)).toEqual([]);
      expect(result.pausedMs).toBeLessThanOrEqual(PAUSE_MS);
      expect(writer.maxGapMs).toBeLessThanOrEqual(PAUSE_MS);
      // The old master is a replica of the new one, with everything too.
      await waitFollows(m, master);
      const other = master === r1.addr ? r2 : r1;
      await waitFollows(other, master);
      expect(await acceptsWrite(m)).toBe(false);
      await checkPromiseOne(fc, SHARD);
      const v = await fc.view(3, SHARD);
      expect(v.history.at(-1)).toMatchObject({ epoch, from: m.addr, to: master, kind: 'switchover' });
    } finally {
      await writer.stop();
      client.disconnect();
    }
  });

  it('rolls back with a reason when the target does not catch up; the old master stays master, nothing lost', async () => {
    const { fc, client, writer } = await setup();
    try {
      const [m, target] = [fc.r(SHARD, 0), fc.r(SHARD, 1)];
      const before = await fc.view(1, SHARD);
      // Cut the target's replication link and keep it cut (a wrong masterauth makes the replica's
      // reconnects fail): the target still answers INFO, but falls behind the writes.
      await target.call('CONFIG', 'SET', 'masterauth', 'wrong-password');
      await target.call('CLIENT', 'KILL', 'TYPE', 'master');
      await writer.waitAcks(50);

      const r = await fc.cli(['switchover', SHARD, '--to', target.addr], 3);
      expect(r.code, r.stdout + r.stderr).toBe(1);
      expect(r.stderr).toMatch(/did not catch up/);
      expect(r.stderr).toMatch(/rolled back/);

      const jobs = await fc.finishedJobs(SHARD);
      expect(jobs.map((j) => [j.kind, j.state])).toEqual([['shard.switchover', 'failed']]);
      expect(jobs[0]!.reason).toMatch(new RegExp(`${target.addr} did not catch up with ${m.addr}`));

      // The old master is still the master everywhere, at the same epoch, and takes writes.
      const { master, epoch } = await waitForMaster(fc, SHARD, () => true);
      expect(master).toBe(m.addr);
      expect(epoch).toBe(before.epoch);
      expect((await m.role()).role).toBe('master');
      await writer.waitAcks(200);
      await writer.stop();
      console.log(
        `[failover-switchover] rolled-back switchover: writer's longest gap ${Math.round(writer.maxGapMs)} ms ` +
          `(switchover_pause_ms ${PAUSE_MS}); ${writer.acked.length} writes acknowledged, ${writer.failures} failed`,
      );
      expect(writer.maxGapMs).toBeLessThanOrEqual(PAUSE_MS);
      expect(await missingKeys(m, writer.acked)).toEqual([]);
      expect(await acceptsWrite(m)).toBe(true);

      // With its link restored the target catches up again; history shows no change of master.
      await target.call('CONFIG', 'SET', 'masterauth', '');
      await waitFollows(target, m.addr);
      const v = await fc.view(2, SHARD);
      expect(v.history.map((h) => h.epoch)).toEqual([before.epoch]);
      await checkPromiseOne(fc, SHARD);
    } finally {
      await writer.stop();
      client.disconnect();
    }
  });
});

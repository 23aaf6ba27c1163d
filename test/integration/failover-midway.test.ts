/**
 * The Raft leader killed in the middle of a failover (issue 4 item 7, promise 1): the new leader
 * finishes or rolls back the half-done job, never starts a second one for the same epoch, never
 * commits two masters for one epoch, and the shard ends with one master every daemon names.
 *
 * To catch the failover in flight deterministically, the chosen replica (priority 10, the others
 * 100) refuses REPLICAOF through an ACL while still answering INFO: the decision is committed and
 * the job keeps retrying the promotion, and the leader is killed then.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { cleanupAll, dumpLogsIfFailed, type LogLine, waitFor } from '../support/daemons.js';
import {
  acceptsWrite,
  checkPromiseOne,
  type FailoverCluster,
  type JobView,
  missingKeys,
  SteadyWriter,
  seededKeys,
  sentinelClient,
  startFailoverCluster,
  waitFollows,
  waitForMaster,
} from '../support/failover.js';
import { cleanupRedis, type RedisProcess } from '../support/redis.js';

const SHARD = 'mymaster';
const seedKeys = seededKeys(SHARD);

afterEach(async (ctx) => {
  dumpLogsIfFailed(ctx);
  await cleanupAll();
  await cleanupRedis();
});

/** Master beside daemon 1; the preferred replica (priority 10) beside 2; another beside 3, leading. */
async function setup(switchoverPauseMs?: number): Promise<FailoverCluster> {
  const fc = await startFailoverCluster({
    shards: [{ name: SHARD, nodes: [{ owner: 1 }, { owner: 2, priority: 10 }, { owner: 3 }] }],
    ...(switchoverPauseMs ? { failover: { switchoverPauseMs } } : {}),
  });
  await fc.transferLeader(3);
  return fc;
}

const denyReplicaof = (r: RedisProcess) => r.call('ACL', 'SETUSER', 'default', '-replicaof', '-slaveof');
const allowReplicaof = (r: RedisProcess) => r.call('ACL', 'SETUSER', 'default', '+@all');

const msgIs =
  (msg: string) =>
  (l: LogLine): boolean =>
    l.json?.msg === msg && l.json.shard === SHARD;

/** Kill the master; when leader 3 is retrying the promotion of `target`, kill -9 the leader. */
async function killLeaderMidway(fc: FailoverCluster, target: RedisProcess) {
  const [m, leader] = [fc.r(SHARD, 0), fc.c.node(3)];
  const mark = leader.mark();
  m.kill('SIGKILL');
  const decided = await leader.waitForLog(msgIs('failover decided'), 20_000, mark);
  expect(decided.json!.to).toBe(target.addr);
  await leader.waitForLog(msgIs('promoting'), 5000, mark);
  await leader.crash();
  return { epoch: Number(decided.json!.epoch), jobId: String(decided.json!.job) };
}

describe('the leader killed in the middle of a failover', () => {
  it('the new leader resumes the half-done job: same epoch, same job, one master everywhere', async () => {
    const fc = await setup();
    const [m, r2, r3] = [fc.r(SHARD, 0), fc.r(SHARD, 1), fc.r(SHARD, 2)];
    const before = await fc.view(1, SHARD);
    await denyReplicaof(r2);
    const { epoch, jobId } = await killLeaderMidway(fc, r2);
    expect(epoch).toBe(before.epoch + 1);
    // The half-done state: the decision committed, nothing promoted, no master committed. (The
    // survivors may not have applied the decision yet: the next leader commits it in its term.)
    expect(fc.c.node(3).logs('new master committed')).toEqual([]);
    expect((await r2.role()).role).toBe('slave');
    await allowReplicaof(r2);

    const { master, epoch: now } = await waitForMaster(fc, SHARD, (addr) => addr !== m.addr, {
      ids: [1, 2],
      timeoutMs: 20_000,
      what: 'the new leader to finish the failover',
    });
    expect(master).toBe(r2.addr);
    expect(now).toBe(epoch);
    expect(await acceptsWrite(r2)).toBe(true);
    expect(await missingKeys(r2, seedKeys)).toEqual([]);
    // The node beside the dead leader's daemon is re-pointed by the new leader.
    await waitFollows(r3, r2.addr);
    const jobs = await fc.finishedJobs(SHARD);
    expect(jobs.map((j) => [j.id, j.state, j.params.epoch])).toEqual([[jobId, 'succeeded', epoch]]);
    await checkPromiseOne(fc, SHARD);

    // The dead leader's daemon comes back and names the same master at the same epoch.
    await fc.c.node(3).start();
    await waitForMaster(fc, SHARD, (addr, v) => addr === r2.addr && v.epoch === epoch, {
      what: 'every daemon, the restarted one too, to name the new master',
    });
    await checkPromiseOne(fc, SHARD);
  });

  it('the new leader rolls back a job it cannot finish; the retry takes the next epoch', async () => {
    const fc = await setup();
    const [m, r2, r3] = [fc.r(SHARD, 0), fc.r(SHARD, 1), fc.r(SHARD, 2)];
    const before = await fc.view(1, SHARD);
    await denyReplicaof(r2);
    const { epoch, jobId } = await killLeaderMidway(fc, r2);
    const newLeader = await fc.c.waitForLeader([1, 2], { exclude: 3 });
    // The new leader resumes the job, cannot promote, and rolls it back.
    const failed = await fc.c
      .node(newLeader)
      .waitForLog((l) => l.json?.msg === 'job failed' && l.json.job === jobId, 20_000);
    expect(String(failed.json!.reason)).toMatch(/did not become master/);
    await allowReplicaof(r2);

    // The next attempt (after the retry pause) uses the next epoch, and succeeds.
    const { master, epoch: now } = await waitForMaster(fc, SHARD, (addr) => addr !== m.addr, {
      ids: [1, 2],
      timeoutMs: 30_000,
      what: 'a failover after the rolled-back one',
    });
    expect(master).toBe(r2.addr);
    expect(now).toBe(epoch + 1);
    expect(await acceptsWrite(r2)).toBe(true);
    await waitFollows(r3, r2.addr);
    const jobs = await fc.finishedJobs(SHARD);
    expect(jobs.map((j) => [j.state, j.params.epoch])).toEqual([
      ['failed', epoch],
      ['succeeded', epoch + 1],
    ]);
    expect(jobs[0]!.id).toBe(jobId);
    const v = await fc.view(1, SHARD);
    expect(v.history.map((h) => [h.epoch, h.to])).toEqual([
      [before.epoch, m.addr],
      [epoch + 1, r2.addr],
    ]);
    await checkPromiseOne(fc, SHARD);
  });

  it('in the middle of a switchover under load, after the old master was demoted: the new leader finishes it, nothing lost', async () => {
    // A longer pause gives the promotion a budget of a second, in which the leader is killed.
    const fc = await setup(4000);
    const [m, r2, r3] = [fc.r(SHARD, 0), fc.r(SHARD, 1), fc.r(SHARD, 2)];
    const before = await fc.view(1, SHARD);
    const client = sentinelClient(fc, SHARD);
    const writer = new SteadyWriter(client, 'w');
    try {
      await client.connect();
      writer.start();
      await writer.waitAcks(200);
      await denyReplicaof(r2);
      const mark = fc.c.node(3).mark();
      const cli = fc.cli(['switchover', SHARD, '--to', r2.addr, '--json'], 1);
      await fc.c
        .node(3)
        .waitForLog((l) => l.json?.msg === 'job step' && /^demoting/.test(String(l.json.step)), 20_000, mark);
      // The old master demoted, the target not promoted (REPLICAOF refused): kill the leader now.
      await waitFor(async () => (await m.role()).role === 'slave', 5000, {
        what: 'the old master to be demoted',
        intervalMs: 5,
      });
      await fc.c.node(3).crash();
      expect(fc.c.node(3).logs('new master committed', mark)).toEqual([]);
      await allowReplicaof(r2);

      const r = await cli;
      expect(r.code, r.stdout + r.stderr).toBe(0);
      const job = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as JobView;
      expect(job.result).toMatchObject({ master: r2.addr, epoch: before.epoch + 1 });
      const { master, epoch } = await waitForMaster(fc, SHARD, (addr) => addr !== m.addr, { ids: [1, 2] });
      expect(master).toBe(r2.addr);
      expect(epoch).toBe(before.epoch + 1);
      await writer.waitAcks(200);
      await writer.stop();
      console.log(
        `[failover-midway] switchover finished by a new leader: writer's longest gap ${Math.round(writer.maxGapMs)} ms; ` +
          `${writer.acked.length} writes acknowledged, ${writer.failures} failed`,
      );
      expect(await missingKeys(r2, writer.acked)).toEqual([]);
      await waitFollows(m, r2.addr);
      await waitFollows(r3, r2.addr);
      expect(await acceptsWrite(m)).toBe(false);
      const jobs = await fc.finishedJobs(SHARD);
      expect(jobs.map((j) => [j.id, j.state, j.params.epoch])).toEqual([[job.id, 'succeeded', epoch]]);
      await checkPromiseOne(fc, SHARD);
    } finally {
      await writer.stop();
      client.disconnect();
    }
  });
});

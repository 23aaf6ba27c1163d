/**
 * Host loss with real redis-server processes and real daemons (issue 4 item 7): the master's Redis
 * and its daemon killed together (SIGKILL both), with the Raft leader elsewhere and with the
 * leader on the lost host (arranged with `raftinel transfer-leader`). Promise 4: detection and the
 * election run in parallel, so the failover still completes about down_after_ms after the loss.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { cleanupAll, dumpLogsIfFailed, waitFor } from '../support/daemons.js';
import {
  acceptsWrite,
  checkPromiseOne,
  FAST,
  missingKeys,
  seededKeys,
  startFailoverCluster,
  waitFollows,
  waitForMaster,
} from '../support/failover.js';
import { cleanupRedis } from '../support/redis.js';

const SHARD = 'mymaster';
const seedKeys = seededKeys(SHARD);

afterEach(async (ctx) => {
  dumpLogsIfFailed(ctx);
  await cleanupAll();
  await cleanupRedis();
});

describe('host loss: the master and its daemon killed together', () => {
  for (const leaderOnHost of [false, true]) {
    const title = leaderOnHost
      ? 'fails over when the lost daemon was the Raft leader'
      : 'fails over when the Raft leader is on another host';
    it(title, async () => {
      const fc = await startFailoverCluster({
        shards: [{ name: SHARD, nodes: [{ owner: 1 }, { owner: 2 }, { owner: 3 }] }],
      });
      const [m, r2, r3] = [fc.r(SHARD, 0), fc.r(SHARD, 1), fc.r(SHARD, 2)];
      await fc.transferLeader(leaderOnHost ? 1 : 2);
      const before = await fc.view(2, SHARD);
      const termBefore = (await fc.c.status(2)).term;

      const lostAt = performance.now();
      m.kill('SIGKILL');
      fc.c.kill(1, 'SIGKILL');
      const { master, epoch } = await waitForMaster(fc, SHARD, (addr) => addr !== m.addr, {
        ids: [2, 3],
        timeoutMs: 20_000,
        intervalMs: 10,
        what: 'both surviving daemons to name a new master',
      });
      const namedMs = performance.now() - lostAt;
      const promoted = fc.byAddr(master);
      await waitFor(() => acceptsWrite(promoted), 5000, {
        what: `${master} to accept a write`,
        intervalMs: 10,
      });
      const writableMs = performance.now() - lostAt;
      await fc.c.node(1).waitExit();
      const leader = await fc.c.waitForLeader([2, 3]);
      console.log(
        `[failover-hostloss] host loss (${leaderOnHost ? 'leader' : 'follower'} daemon lost): ` +
          `${master} named by both survivors after ${Math.round(namedMs)} ms, writable after ${Math.round(writableMs)} ms ` +
          `(down_after_ms ${FAST.downAfterMs}, election_timeout_ms ${FAST.electionTimeoutMs}); node ${leader} leads`,
      );

      expect([r2.addr, r3.addr]).toContain(master);
      expect(epoch).toBe(before.epoch + 1);
      if (leaderOnHost) expect((await fc.c.status(leader)).term).toBeGreaterThan(termBefore);
      // Generous: correctness on a busy machine, not speed (the benchmark measures that).
      expect(writableMs).toBeLessThan(FAST.downAfterMs + FAST.electionTimeoutMs + 8000);
      expect(await missingKeys(promoted, seedKeys)).toEqual([]);
      await waitFollows(master === r2.addr ? r3 : r2, master);
      await checkPromiseOne(fc, SHARD);
      const jobs = await fc.finishedJobs(SHARD);
      expect(jobs.map((j) => [j.state, j.params.epoch, j.params.to])).toEqual([['succeeded', epoch, master]]);
    });
  }
});

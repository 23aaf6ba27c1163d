/**
 * Several shards failing at once (issue 4 item 7): three shards whose masters all sit beside
 * daemon 1, and that host lost (the three Redis masters and daemon 1 killed together). Each shard
 * fails over on its own, in parallel, to its own replica, each at its epoch + 1.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { cleanupAll, dumpLogsIfFailed } from '../support/daemons.js';
import {
  acceptsWrite,
  checkPromiseOne,
  FAST,
  type JobView,
  missingKeys,
  startFailoverCluster,
  waitFollows,
  waitForMaster,
} from '../support/failover.js';
import { cleanupRedis } from '../support/redis.js';

const SHARDS = ['alpha', 'beta', 'gamma'];

afterEach(async (ctx) => {
  dumpLogsIfFailed(ctx);
  await cleanupAll();
  await cleanupRedis();
});

describe('three shards failing at once', () => {
  it('a host carrying three masters is lost: all three fail over in parallel, each to its own replica', async () => {
    const fc = await startFailoverCluster({
      shards: SHARDS.map((name) => ({ name, nodes: [{ owner: 1 }, { owner: 2 }, { owner: 3 }] })),
    });
    const before = new Map(await Promise.all(SHARDS.map(async (s) => [s, await fc.view(2, s)] as const)));

    const lostAt = performance.now();
    for (const s of SHARDS) fc.r(s, 0).kill('SIGKILL');
    fc.c.kill(1, 'SIGKILL');
    const results = await Promise.all(
      SHARDS.map(async (s) => {
        const r = await waitForMaster(fc, s, (addr) => addr !== fc.r(s, 0).addr, {
          ids: [2, 3],
          timeoutMs: 30_000,
          what: `a new master of ${s}`,
        });
        return { shard: s, ...r, ms: Math.round(performance.now() - lostAt) };
      }),
    );
    console.log(
      `[failover-shards] host with three masters lost: ${results.map((r) => `${r.shard} → ${r.master} after ${r.ms} ms`).join(', ')} (down_after_ms ${FAST.downAfterMs})`,
    );
    await fc.c.node(1).waitExit();

    for (const r of results) {
      const [m, a, b] = [0, 1, 2].map((i) => fc.r(r.shard, i));
      expect([a!.addr, b!.addr]).toContain(r.master);
      expect(r.epoch).toBe(before.get(r.shard)!.epoch + 1);
      const promoted = fc.byAddr(r.master);
      expect(await acceptsWrite(promoted)).toBe(true);
      expect(
        await missingKeys(
          promoted,
          Array.from({ length: 100 }, (_, i) => `seed:${r.shard}:${i}`),
        ),
      ).toEqual([]);
      await waitFollows(r.master === a!.addr ? b! : a!, r.master);
      expect(m!.running).toBe(false);
      await checkPromiseOne(fc, r.shard);
    }

    // In parallel: every job started before any of them finished (each job spends about a second
    // trying to re-point its dead old master, so failovers run one after the other would not overlap).
    const jobs: JobView[] = [];
    for (const s of SHARDS) jobs.push(...(await fc.finishedJobs(s)));
    expect(jobs.map((j) => j.state)).toEqual(['succeeded', 'succeeded', 'succeeded']);
    const lastStart = Math.max(...jobs.map((j) => j.createdAtMs));
    const firstEnd = Math.min(...jobs.map((j) => j.updatedAtMs));
    expect(
      lastStart,
      JSON.stringify(jobs.map((j) => [j.params.shard, j.createdAtMs, j.updatedAtMs])),
    ).toBeLessThan(firstEnd);
  });
});

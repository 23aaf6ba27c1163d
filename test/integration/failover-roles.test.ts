/**
 * Who may be promoted (issue 4 item 7), with real redis-server processes and real daemons:
 * observers and priority-0 replicas never are, a normal replica is even when an observer is ahead
 * of it; and a forced failover (`raftinel failover SHARD --to NODE --force`) promotes the chosen
 * replica while the master is gone, while the CLI refuses it without --force.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { cleanupAll, dumpLogsIfFailed } from '../support/daemons.js';
import {
  acceptsWrite,
  checkPromiseOne,
  FAST,
  missingKeys,
  seed,
  seededKeys,
  sleep,
  startFailoverCluster,
  waitFollows,
  waitForMaster,
  waitForShard,
} from '../support/failover.js';
import { cleanupRedis, type RedisProcess } from '../support/redis.js';

const SHARD = 'mymaster';
const seedKeys = seededKeys(SHARD);

afterEach(async (ctx) => {
  dumpLogsIfFailed(ctx);
  await cleanupAll();
  await cleanupRedis();
});

async function offset(r: RedisProcess): Promise<number> {
  const info = String(await r.call('INFO', 'replication'));
  return Number(/slave_repl_offset:(\d+)/.exec(info)?.[1] ?? -1);
}

describe('observers and priority-0 replicas', () => {
  it('are never promoted: with only those left, the master stays committed and nothing starts', async () => {
    const fc = await startFailoverCluster({
      shards: [
        { name: SHARD, nodes: [{ owner: 1 }, { owner: 2, role: 'observer' }, { owner: 3, priority: 0 }] },
      ],
    });
    const [m, obs, p0] = [fc.r(SHARD, 0), fc.r(SHARD, 1), fc.r(SHARD, 2)];
    const before = await fc.view(1, SHARD);
    const leader = await fc.c.waitForLeader(fc.ids);
    const mark = fc.c.node(leader).mark();

    await m.crash();
    const noCandidate = await fc.c
      .node(leader)
      .waitForLog(
        (l) => l.json?.msg === 'no replica can be promoted' && l.json.shard === SHARD,
        20_000,
        mark,
      );
    const rejected = noCandidate.json!.rejected as { addr: string; reason: string }[];
    expect(rejected).toEqual(
      expect.arrayContaining([
        { addr: obs.addr, reason: expect.stringMatching(/observer/) },
        { addr: p0.addr, reason: expect.stringMatching(/priority 0/) },
      ]),
    );
    // Time must pass to show that nothing is promoted later either.
    await sleep(2 * FAST.downAfterMs);
    for (const v of await fc.views(SHARD)) {
      expect(v.master).toBe(m.addr);
      expect(v.epoch).toBe(before.epoch);
      expect(v.pending).toBeNull();
      expect(v.nodes.find((n) => n.addr === m.addr)!.seen!.failing).toBe(true);
    }
    expect(await fc.failoverJobs(1, SHARD)).toEqual([]);
    expect((await obs.role()).role).toBe('slave');
    expect((await p0.role()).role).toBe('slave');
    // A forced failover to the observer is refused too.
    const r = await fc.cli(['failover', SHARD, '--to', obs.addr, '--force'], 2);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/observer/);
    expect((await obs.role()).role).toBe('slave');
    await checkPromiseOne(fc, SHARD);
  });

  it('a normal replica is promoted even when an observer has a higher offset', async () => {
    const fc = await startFailoverCluster({
      shards: [{ name: SHARD, nodes: [{ owner: 1 }, { owner: 2, role: 'observer' }, { owner: 3 }] }],
    });
    const [m, obs, rep] = [fc.r(SHARD, 0), fc.r(SHARD, 1), fc.r(SHARD, 2)];
    const before = await fc.view(1, SHARD);
    // Hold the replica back (a wrong masterauth keeps its link down) while the observer keeps up.
    await rep.call('CONFIG', 'SET', 'masterauth', 'wrong-password');
    await rep.call('CLIENT', 'KILL', 'TYPE', 'master');
    await seed(m, 'ahead', 300);
    await waitForShard(
      fc,
      SHARD,
      (v) => {
        const [mo, oo] = [m.addr, obs.addr].map((a) => v.nodes.find((n) => n.addr === a)?.seen?.offset ?? -1);
        return mo! > 0 && oo === mo;
      },
      { ids: [1], what: 'the observer to catch up with the master' },
    );
    const [obsOffset, repOffset] = [await offset(obs), await offset(rep)];
    expect(obsOffset).toBeGreaterThan(repOffset);

    await m.crash();
    const { master, epoch } = await waitForMaster(fc, SHARD, (addr) => addr !== m.addr, {
      timeoutMs: 20_000,
    });
    console.log(
      `[failover-roles] observer at offset ${obsOffset}, replica at ${repOffset}: ${master === rep.addr ? 'replica' : 'observer'} promoted`,
    );
    expect(master).toBe(rep.addr);
    expect(epoch).toBe(before.epoch + 1);
    expect(await acceptsWrite(rep)).toBe(true);
    expect(await missingKeys(rep, seedKeys)).toEqual([]);
    await waitFollows(obs, rep.addr);
    await checkPromiseOne(fc, SHARD);
  });
});

describe('forced failover', () => {
  it('is refused by the CLI without --force (exit 2); with --force promotes the chosen replica while the master is gone', async () => {
    // down_after_ms far beyond the test: no automatic failover gets in the way.
    const fc = await startFailoverCluster({
      shards: [{ name: SHARD, nodes: [{ owner: 1 }, { owner: 2 }, { owner: 3 }] }],
      failover: { downAfterMs: 120_000 },
    });
    const [m, r2, r3] = [fc.r(SHARD, 0), fc.r(SHARD, 1), fc.r(SHARD, 2)];
    const before = await fc.view(1, SHARD);

    await m.crash();
    await waitForShard(fc, SHARD, (v) => v.nodes.find((n) => n.addr === m.addr)?.seen?.failing === true, {
      what: 'every daemon to see the master down',
    });
    const refused = await fc.cli(['failover', SHARD, '--to', r3.addr], 2);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/--force/);
    expect((await r3.role()).role).toBe('slave');
    expect((await fc.view(2, SHARD)).pending).toBeNull();

    const r = await fc.cli(['failover', SHARD, '--to', r3.addr, '--force'], 2);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/succeeded/);
    const { master, epoch } = await waitForMaster(fc, SHARD, (addr) => addr !== m.addr);
    expect(master).toBe(r3.addr);
    expect(epoch).toBe(before.epoch + 1);
    expect(await acceptsWrite(r3)).toBe(true);
    expect(await missingKeys(r3, seedKeys)).toEqual([]);
    await waitFollows(r2, r3.addr);
    const v = await fc.view(1, SHARD);
    expect(v.history.at(-1)).toMatchObject({ epoch, from: m.addr, to: r3.addr, kind: 'forced' });
    await checkPromiseOne(fc, SHARD);
  });
});

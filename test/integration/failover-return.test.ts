/**
 * An old master returning, and a master restarting empty (issue 4 item 7, promise 6), with real
 * redis-server processes (no persistence: a restart comes back empty) and real daemons.
 */
import { appendFileSync } from 'node:fs';
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
  startThreeNodeShard,
  waitFollows,
  waitForMaster,
  waitForShard,
  waitReplicaSynced,
} from '../support/failover.js';
import { cleanupRedis, type RedisProcess } from '../support/redis.js';

const SHARD = 'mymaster';
const seedKeys = seededKeys(SHARD);

afterEach(async (ctx) => {
  dumpLogsIfFailed(ctx);
  await cleanupAll();
  await cleanupRedis();
});

const threeNodes = () => startThreeNodeShard(SHARD);

/**
 * The harness starts Redis with repl-diskless-sync-delay 0 to make tests fast; a restarted server
 * gets Redis's default (5 s) back, as in production. (With 0, a replica whose once-a-second
 * reconnect happens to come before the daemon's next probe could complete a full sync of the empty
 * dataset within a millisecond, before any sidecar can react; see the report on issue 4.)
 */
function productionSyncDelay(r: RedisProcess): void {
  appendFileSync(r.confPath, '\nrepl-diskless-sync-delay 5\n');
}

describe('the old master returning', () => {
  it('restarted empty after a failover: it becomes a replica of the new master and is never promoted', async () => {
    const fc = await threeNodes();
    const [m, r1, r2] = [fc.r(SHARD, 0), fc.r(SHARD, 1), fc.r(SHARD, 2)];
    const before = await fc.view(1, SHARD);

    await m.crash();
    const { master, epoch } = await waitForMaster(fc, SHARD, (addr) => addr !== m.addr, {
      timeoutMs: 20_000,
    });
    expect(epoch).toBe(before.epoch + 1);
    const promoted = fc.byAddr(master);
    await seed(promoted, 'after', 200);
    const afterKeys = Array.from({ length: 200 }, (_, i) => `after:${i}`);

    productionSyncDelay(m);
    const back = performance.now();
    await m.start();
    await waitFollows(m, master, 10_000);
    console.log(
      `[failover-return] old master restarted empty: replica of ${master} after ${Math.round(performance.now() - back)} ms`,
    );
    expect(await acceptsWrite(m)).toBe(false);
    // Time must pass to show it stays a replica: longer than down_after_ms.
    await sleep(FAST.downAfterMs + 500);
    const vs = await waitForShard(
      fc,
      SHARD,
      (v) => v.nodes.every((n) => n.seen !== null && !n.seen.failing),
      {
        what: 'every node healthy',
      },
    );
    for (const v of vs) {
      expect(v.master).toBe(master);
      expect(v.epoch).toBe(epoch);
      expect(v.history.filter((h) => h.to === m.addr).map((h) => h.epoch)).toEqual([before.epoch]);
    }
    expect((await m.role()).upstream).toBe(master);
    // Nothing was lost on the new master or the other replica, and the old master got it all.
    const other = master === r1.addr ? r2 : r1;
    await waitFollows(other, master);
    for (const r of [promoted, other]) expect(await missingKeys(r, [...seedKeys, ...afterKeys])).toEqual([]);
    await waitFollows(m, master);
    expect(await missingKeys(m, [...seedKeys, ...afterKeys])).toEqual([]);
    await checkPromiseOne(fc, SHARD);
  });

  it('restarted empty before any failover, its daemon alive: demoted at once, the shard fails over to a replica with the data', async () => {
    const fc = await threeNodes();
    const [m, r1, r2] = [fc.r(SHARD, 0), fc.r(SHARD, 1), fc.r(SHARD, 2)];
    const before = await fc.view(1, SHARD);
    // The daemon beside the master knows it held keys (from its last INFO).
    await waitForShard(fc, SHARD, (v) => (v.nodes.find((n) => n.addr === m.addr)?.seen?.keys ?? 0) >= 100, {
      ids: [1],
      what: 'daemon 1 to see the keys on the master',
    });

    const marks = fc.ids.map((id) => fc.c.node(id).mark());
    await m.crash();
    productionSyncDelay(m);
    await m.start();
    // Its daemon (or another one that saw it hold keys, whichever probes it first) demotes it.
    const guard = await Promise.any(
      fc.ids.map((id, i) =>
        fc.c
          .node(id)
          .waitForLog(
            (l) => /restarted empty/.test(String(l.json?.msg)) && l.json?.node === m.addr,
            10_000,
            marks[i],
          ),
      ),
    );
    expect([r1.addr, r2.addr]).toContain(guard.json!.replica_of);

    const { master, epoch } = await waitForMaster(fc, SHARD, (addr) => addr !== m.addr, {
      timeoutMs: 20_000,
      what: 'a failover away from the empty master',
    });
    expect([r1.addr, r2.addr]).toContain(master);
    expect(epoch).toBe(before.epoch + 1);
    const promoted = fc.byAddr(master);
    expect(await missingKeys(promoted, seedKeys)).toEqual([]);
    expect(await acceptsWrite(promoted)).toBe(true);
    const other = master === r1.addr ? r2 : r1;
    await waitFollows(other, master);
    expect(await missingKeys(other, seedKeys)).toEqual([]);
    // The empty node ends as a replica of the new master, with the data.
    await waitFollows(m, master);
    expect(await missingKeys(m, seedKeys)).toEqual([]);
    const v = await fc.view(2, SHARD);
    expect(v.history.map((h) => h.to)).toEqual([m.addr, master]);
    await checkPromiseOne(fc, SHARD);
  });

  it('restarted from an RDB older than its replicas: demoted, the shard fails over, the writes after the RDB survive', async () => {
    // Found by the whole-system simulation (seed 80 of `--layer system`): Redis 7.0 restores a
    // master from its RDB with a new replication id (the RDB's as master_replid2), so replicas
    // ahead of the RDB cannot PSYNC and full-resync from it, losing acknowledged writes. The
    // empty-restart guard only knew "no keys at all".
    const fc = await threeNodes();
    const [m, r1, r2] = [fc.r(SHARD, 0), fc.r(SHARD, 1), fc.r(SHARD, 2)];
    const before = await fc.view(1, SHARD);
    await waitForShard(fc, SHARD, (v) => (v.nodes.find((n) => n.addr === m.addr)?.seen?.keys ?? 0) >= 100, {
      what: 'every daemon to see the keys on the master',
    });
    expect(await m.call('SAVE')).toBe('OK');
    await seed(m, 'after-rdb', 200);
    const afterKeys = Array.from({ length: 200 }, (_, i) => `after-rdb:${i}`);
    await Promise.all([waitReplicaSynced(r1, m), waitReplicaSynced(r2, m)]);
    // Every daemon's last INFO of the replicas is past the RDB.
    await sleep(300);

    const marks = fc.ids.map((id) => fc.c.node(id).mark());
    await m.crash();
    productionSyncDelay(m);
    await m.start();
    // Restored from its RDB: a new replication id, the RDB's as master_replid2. (Its role may
    // already be slave: a daemon's guard can demote it before this INFO.)
    expect(String(await m.call('INFO', 'replication'))).toMatch(/master_replid2:(?!0{40})[0-9a-f]{40}/);
    const guard = await Promise.any(
      fc.ids.map((id, i) =>
        fc.c
          .node(id)
          .waitForLog(
            (l) => /older point than a replica/.test(String(l.json?.msg)) && l.json?.node === m.addr,
            10_000,
            marks[i],
          ),
      ),
    );
    expect([r1.addr, r2.addr]).toContain(guard.json!.replica_ahead);

    const { master, epoch } = await waitForMaster(fc, SHARD, (addr) => addr !== m.addr, {
      timeoutMs: 20_000,
      what: 'a failover away from the master restored from an older RDB',
    });
    expect([r1.addr, r2.addr]).toContain(master);
    expect(epoch).toBe(before.epoch + 1);
    const promoted = fc.byAddr(master);
    expect(await missingKeys(promoted, [...seedKeys, ...afterKeys])).toEqual([]);
    const other = master === r1.addr ? r2 : r1;
    await waitFollows(other, master);
    expect(await missingKeys(other, [...seedKeys, ...afterKeys])).toEqual([]);
    await waitFollows(m, master);
    expect(await missingKeys(m, [...seedKeys, ...afterKeys])).toEqual([]);
    await checkPromiseOne(fc, SHARD);
  });

  it('restarted empty while its daemon is down (a host reboot): never a source for the replicas; the shard fails over', async () => {
    const fc = await threeNodes();
    const [m, r1, r2] = [fc.r(SHARD, 0), fc.r(SHARD, 1), fc.r(SHARD, 2)];
    const before = await fc.view(2, SHARD);

    // The host goes down and its Redis comes back at once, empty; its daemon is still down.
    await Promise.all([m.crash(), fc.c.node(1).crash()]);
    productionSyncDelay(m);
    await m.start();

    const { master, epoch } = await waitForMaster(fc, SHARD, (addr) => addr !== m.addr, {
      ids: [2, 3],
      timeoutMs: 20_000,
      what: 'a failover away from the empty master',
    });
    expect([r1.addr, r2.addr]).toContain(master);
    expect(epoch).toBe(before.epoch + 1);
    const promoted = fc.byAddr(master);
    expect(await missingKeys(promoted, seedKeys)).toEqual([]);
    const other = master === r1.addr ? r2 : r1;
    await waitFollows(other, master);
    expect(await missingKeys(other, seedKeys)).toEqual([]);
    await waitFollows(m, master);
    expect(await missingKeys(m, seedKeys)).toEqual([]);

    // The daemon comes back and names the new master.
    await fc.c.node(1).start();
    await waitForMaster(fc, SHARD, (addr, v) => addr === master && v.epoch === epoch, {
      what: 'every daemon to name the new master',
    });
    await checkPromiseOne(fc, SHARD);
  });
});

/**
 * Replica discovery with real processes (issue 10): a master and two replicas started as plain
 * redis-servers, registered by no daemon, and a shard created only by `SENTINEL MONITOR` sent to
 * one daemon. Every daemon learns both replicas from the master's INFO, as Sentinel does, and the
 * shard fails over to one of them when the master is killed.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { toObject } from '../support/clients/cluster.js';
import { cleanupAll, DaemonCluster, dumpLogsIfFailed, waitFor } from '../support/daemons.js';
import { FAST, seed, waitFollows, waitReplicaSynced } from '../support/failover.js';
import { callPortOnce, cleanupRedis, RedisProcess } from '../support/redis.js';

const SHARD = 'mymaster';
const IDS = [1, 2, 3];

afterEach(async (ctx) => {
  dumpLogsIfFailed(ctx);
  await cleanupAll();
  await cleanupRedis();
});

/** One command on a fresh connection to daemon `id`'s Sentinel port. */
function sentinel(c: DaemonCluster, id: number, ...args: string[]): Promise<unknown> {
  return callPortOnce(c.node(id).ports.sentinel, args);
}

/**
 * A master with a seeded dataset and two synced replicas (`extra` redis.conf lines for each), all
 * plain redis-servers; three daemons beside none of them; `SENTINEL MONITOR` sent to daemon 2.
 */
async function monitored(extra: [string[], string[]] = [[], []]) {
  const master = await RedisProcess.start();
  const replicas = await Promise.all(
    extra.map((lines) => RedisProcess.start({ replicaOf: master.addr, extra: lines })),
  );
  await Promise.all(replicas.map((r) => waitFollows(r, master.addr, 20_000)));
  // Writes move the offsets past 0: a replica at offset 0 has not provably synced (no candidate).
  await seed(master, 'seed', 100);
  await Promise.all(replicas.map((r) => waitReplicaSynced(r, master)));
  const c = new DaemonCluster();
  await c.startGroup(IDS, {
    failover: FAST,
    raftTiming: { heartbeatMs: FAST.heartbeatMs, electionTimeoutMs: FAST.electionTimeoutMs },
    redis: [],
  });
  const [host, port] = master.addr.split(':') as [string, string];
  expect(await sentinel(c, 2, 'SENTINEL', 'MONITOR', SHARD, host, port, '2')).toBe('OK');
  return { c, master, replicas, monitoredAt: performance.now() };
}

/** Kill -9 the master; wait until every daemon names the same other master; return it. */
async function killMasterAndWaitNamed(c: DaemonCluster, master: RedisProcess): Promise<string> {
  master.kill('SIGKILL');
  return waitFor(
    async () => {
      const answers = await Promise.all(
        IDS.map(async (id) => {
          const r = (await sentinel(c, id, 'SENTINEL', 'GET-MASTER-ADDR-BY-NAME', SHARD)) as
            | [string, string]
            | null;
          return r ? `${r[0]}:${r[1]}` : null;
        }),
      );
      const first = answers[0];
      return first && first !== master.addr && answers.every((a) => a === first) ? first : null;
    },
    30_000,
    { what: 'every daemon to name a new master', intervalMs: 20 },
  );
}

describe('SENTINEL MONITOR of a master whose replicas no daemon registered', () => {
  it('every daemon lists both replicas within 10 s, and kill -9 of the master fails over to one of them', async () => {
    const { c, master, replicas, monitoredAt } = await monitored();
    const replicaAddrs = replicas.map((r) => r.addr).sort();

    await waitFor(
      async () => {
        for (const id of IDS) {
          const m = toObject(await sentinel(c, id, 'SENTINEL', 'MASTER', SHARD));
          if (m['num-slaves'] !== '2') return null;
          for (const sub of ['REPLICAS', 'SLAVES']) {
            const listed = ((await sentinel(c, id, 'SENTINEL', sub, SHARD)) as unknown[])
              .map((r) => toObject(r).name)
              .sort();
            if (JSON.stringify(listed) !== JSON.stringify(replicaAddrs)) return null;
          }
        }
        return true;
      },
      10_000,
      {
        what: 'every daemon to list both replicas (num-slaves 2, SENTINEL REPLICAS and SLAVES)',
        intervalMs: 50,
      },
    );
    const listedMs = performance.now() - monitoredAt;
    console.log(`[discovery] both replicas listed by every daemon ${Math.round(listedMs)} ms after MONITOR`);
    // Each replica's record says what the replica reports of itself.
    const records = ((await sentinel(c, 1, 'SENTINEL', 'REPLICAS', SHARD)) as unknown[]).map(toObject);
    for (const r of records) {
      expect(r['slave-priority']).toBe('100');
      expect(r['replica-announced']).toBe('1');
    }

    // Probed by every daemon (the failover needs a majority of them to see the master fail).
    const named = await killMasterAndWaitNamed(c, master);
    expect(replicaAddrs).toContain(named);
    const promoted = replicas.find((r) => r.addr === named)!;
    const other = replicas.find((r) => r.addr !== named)!;
    expect((await promoted.role()).role).toBe('master');
    await waitFollows(other, named, 20_000);
    expect(await promoted.call('GET', 'seed:0')).toBe('0');
  });
});

describe('replica-priority and replica-announced of discovered replicas, as Sentinel reads them', () => {
  it('a replica-priority 0 replica is never promoted; a replica-announced no one is hidden from SENTINEL REPLICAS only, and promoted', async () => {
    const { c, master, replicas } = await monitored([['replica-priority 0'], ['replica-announced no']]);
    const [never, hidden] = replicas as [RedisProcess, RedisProcess];
    await waitFor(
      async () => {
        for (const id of IDS) {
          // Sentinel counts every replica it knows in num-slaves (dictSize of its replicas).
          const m = toObject(await sentinel(c, id, 'SENTINEL', 'MASTER', SHARD));
          if (m['num-slaves'] !== '2') return null;
          const listed = ((await sentinel(c, id, 'SENTINEL', 'REPLICAS', SHARD)) as unknown[]).map(toObject);
          if (listed.length !== 1 || listed[0]!.name !== never.addr) return null;
          if (listed[0]!['slave-priority'] !== '0') return null;
        }
        return true;
      },
      10_000,
      {
        what: 'every daemon to count both replicas and list only the announced one, at priority 0',
        intervalMs: 50,
      },
    );
    const named = await killMasterAndWaitNamed(c, master);
    expect(named).toBe(hidden.addr);
    expect((await hidden.role()).role).toBe('master');
    await waitFollows(never, named, 20_000);
  });
});

/**
 * Partitions between real hosts (network namespaces, iptables), with clients writing through their
 * Sentinel support from both sides (promises 2, 3 and 6 of ../shared/PRODUCT.md):
 *
 * - the master's host isolated, with clients on its side: the old master is fenced, the majority
 *   fails over, only the writes acknowledged before the fence are lost, none acknowledged with
 *   WAIT 1; after healing, the old master replicates the new one;
 * - an old master whose daemon is back in contact, but that the leader cannot reach yet: it stays
 *   fenced until it is demoted;
 * - only the leader's link to the master's Redis cut: no failover (one vantage point);
 * - the leader isolated: a new leader, the isolated daemon stops naming a master, no failover;
 * - every host split from every other for longer than down_after_ms: after healing, no failover;
 * - a bridge (the master's host and the leader's cannot talk, a third host sees both): no failover,
 *   no split brain (and the measured price: the master stays fenced while it lasts);
 * - a minority of daemons isolated (5 daemons): they stop naming a master, clients pointed at all
 *   daemons move on to the majority.
 *
 * Every scenario ends healed and checked by checks.ts. Needs root: without it the suite prints why
 * and does not run.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_SHARD_SETTINGS } from '../../src/cluster/settings.js';
import { describeLosses, problems, settle } from './checks.js';
import { E2ECluster as Cluster, E2E_TIMING, type E2ECluster } from './cluster.js';
import { sleep, waitFor } from './hosts.js';
import { netnsSupport } from './netns.js';

const support = netnsSupport();
if (!support.ok) console.warn(`[e2e] partition scenarios not run: ${support.reason}`);

/**
 * A poll that names no master: a null answer, or none within the poll's timeout (a daemon whose
 * lease lapsed holds the question while an election may be under way, then answers null; see
 * DaemonSentinelBackend.unsettled). namedBetween checks that no name follows.
 */
const namesNone = (a: string) => a === 'null' || a === 'none';

describe.runIf(support.ok)('partitions on network namespaces', () => {
  let c: E2ECluster | null = null;

  afterEach(async (ctx) => {
    if (ctx.task.result?.state === 'fail') c?.dumpLogs();
    await c?.destroy();
    c = null;
  });

  it('isolates the master host with clients on its side: fenced, failed over, only pre-fence writes lost', async () => {
    c = await Cluster.start({ hosts: 3, redisHosts: [1, 2, 3] });
    const t = c.timing;
    const oldMaster = c.redisOn(1).addr;
    const { sampler, monitor } = c.observe();
    // Clients on the old master's side and on the majority side, each with a plain writer and a
    // writer that waits for one replica.
    const near = await c.client(1, [{ prefix: 'near' }, { prefix: 'nearw', wait: true }]);
    const far = await c.client(2, [{ prefix: 'far' }, { prefix: 'farw', wait: true }]);
    await Promise.all([near.waitAcks(100), far.waitAcks(100)]);

    const cut = Date.now();
    await c.net.isolate(1);
    // The majority names a new master.
    const newMaster = await waitFor(
      async () => {
        const p = await c!.namingMonitor().poll();
        const a2 = p.answers.get(2);
        return a2 && a2 !== oldMaster && a2 !== 'null' && a2 !== 'none' && p.answers.get(3) === a2
          ? a2
          : null;
      },
      20_000,
      'the majority to name a new master',
      50,
    );
    const namedNewMs = Date.now() - cut;
    // Clients on the majority side write to it; those on the old master's side are stuck.
    await far.waitAcks(50, 20_000);
    await sleep(1000);
    const healAt = Date.now();
    await c.net.heal();
    const out = await settle(c, { sampler, monitor, clients: [near, far], expectMaster: newMaster });

    const nullMs = (monitor.firstAfter(1, cut, namesNone) ?? Number.POSITIVE_INFINITY) - cut;
    const nearLoss = out.losses[0]!;
    const oldAcksAfterCut = near.acks.filter((a) => a.t >= cut && a.t <= healAt && a.v === oldMaster);
    // When the old master stopped taking writes: its last accepted write, sampled or a client's.
    const lastOldAccept =
      Math.max(sampler.lastAccepted(oldMaster, healAt) ?? cut, ...oldAcksAfterCut.map((a) => a.t)) - cut;
    console.log(
      `[e2e] isolated master: daemon 1 stopped naming a master after ${nullMs} ms, the old master last accepted a write ${lastOldAccept} ms after the cut (fence), the majority named ${newMaster} after ${namedNewMs} ms; old master acknowledged ${oldAcksAfterCut.length} client writes after the cut; ${describeLosses(out)}`,
    );
    expect(problems(out, { maxDisagreementMs: t.electionTimeoutMs })).toEqual([]);
    expect(out.failovers).toBe(1);
    expect(out.master).toBe(newMaster);
    // Promise 2: the cut-off daemon stops naming the master within an election timeout (plus slack
    // for a loaded machine).
    expect(nullMs, 'ms until daemon 1 stopped naming a master').toBeLessThanOrEqual(2 * t.electionTimeoutMs);
    // Promise 6: fenced within et + lease of the cut (slack for scheduling), before any promotion.
    expect(lastOldAccept, 'ms until the old master stopped accepting writes').toBeLessThanOrEqual(
      t.electionTimeoutMs + t.leaseMs + 500,
    );
    expect(lastOldAccept, 'the fence came before the new master').toBeLessThan(namedNewMs);
    // The majority fails over about down_after_ms after the cut (its election runs meanwhile).
    expect(namedNewMs, 'ms until the majority named a new master').toBeLessThanOrEqual(
      t.downAfterMs + 2 * t.electionTimeoutMs + 1500,
    );
    // The only writes lost are those the old master acknowledged around the cut and before its
    // fence (plus, just before the cut, any its replicas had not received yet).
    const outside = [...nearLoss.lostAcks, ...out.losses[1]!.lostAcks].filter(
      (a) => a.v !== oldMaster || a.t < cut - 1000 || a.t > cut + lastOldAccept,
    );
    expect(outside, 'lost writes not acknowledged by the old master before its fence').toEqual([]);
    // The clients on the old master's side wrote again after healing, to the new master.
    expect(near.acks.some((a) => a.t > healAt && a.v === newMaster)).toBe(true);
  }, 180_000);

  it("fails closed: the isolated master whose daemon dies at the cut stops acknowledging writes within the write guard's bound (min-replicas-max-lag + 2 s), and is made a replica after healing", async () => {
    // The default lease_ms (2 s): the dead daemon cannot fence, so Redis's own write guard
    // (min-replicas-to-write, managed by the group) must, within min-replicas-max-lag + 2 s. With
    // down_after_ms at least that bound (docs/ARCHITECTURE.md, "Timing"), it stops before the
    // majority promotes another: no two masters take writes at once.
    const guardBoundMs = (DEFAULT_SHARD_SETTINGS.minReplicasMaxLagSeconds + 2) * 1000;
    c = await Cluster.start({
      hosts: 3,
      redisHosts: [1, 2, 3],
      timing: { ...E2E_TIMING, leaseMs: 2000, downAfterMs: guardBoundMs + 500 },
    });
    const t = c.timing;
    const old = c.redisOn(1);
    const oldMaster = old.addr;
    const { sampler, monitor } = c.observe();
    const near = await c.client(1, [{ prefix: 'near' }]);
    const far = await c.client(2, [{ prefix: 'far' }]);
    await Promise.all([near.waitAcks(100), far.waitAcks(50)]);
    // The group raised the write guard on the master once its replicas attached.
    await waitFor(
      async () => (await old.info()).min_slaves_good_slaves !== undefined,
      20_000,
      'the write guard (min-replicas-to-write) on the master',
    );

    const cut = Date.now();
    c.daemon(1).signal('SIGKILL');
    await c.net.isolate(1);
    const newMaster = await waitFor(
      async () => {
        const p = await c!.namingMonitor().poll();
        const a2 = p.answers.get(2);
        return a2 && a2 !== oldMaster && a2 !== 'null' && a2 !== 'none' && p.answers.get(3) === a2
          ? a2
          : null;
      },
      20_000,
      'the majority to name a new master',
      50,
    );
    await far.waitAcks(50, 20_000);
    await sleep(1000);
    const healAt = Date.now();
    await c.net.heal();
    // Its daemon is still dead: the leader makes the old master a replica of the new one.
    await waitFor(
      async () => {
        const i = await old.info();
        return i.role === 'slave' && `${i.master_host}:${i.master_port}` === newMaster;
      },
      20_000,
      'the old master, whose daemon is dead, to be made a replica of the new master',
    );
    const oldAcksAfterCut = near.acks.filter((a) => a.t >= cut && a.t <= healAt && a.v === oldMaster);
    const lastOldAccept =
      Math.max(sampler.lastAccepted(oldMaster, healAt) ?? cut, ...oldAcksAfterCut.map((a) => a.t)) - cut;
    await c.daemon(1).start();
    const out = await settle(c, { sampler, monitor, clients: [near, far], expectMaster: newMaster });
    console.log(
      `[e2e] isolated master, daemon killed at the cut: the old master last accepted a write ${lastOldAccept} ms after the cut (write guard), acknowledged ${oldAcksAfterCut.length} client writes after the cut; ${describeLosses(out)}`,
    );
    // The guard's bound: min-replicas-max-lag (the default) + 2 s (whole-second ACK lag, re-counted
    // once a second), plus slack for a loaded machine. The target, lease_ms + 0.5 s, is met in the
    // median (docs/BENCHMARKS.md), not in the worst case Redis allows.
    expect(lastOldAccept, 'ms until the old master stopped accepting writes').toBeLessThanOrEqual(
      guardBoundMs + 500,
    );
    expect(problems(out, { maxDisagreementMs: t.electionTimeoutMs })).toEqual([]);
    expect(out.failovers).toBe(1);
    const outside = [...out.losses[0]!.lostAcks, ...out.losses[1]!.lostAcks].filter(
      (a) => a.v !== oldMaster || a.t < cut - 1000 || a.t > cut + lastOldAccept,
    );
    expect(outside, 'lost writes not acknowledged by the old master before its guard refused writes').toEqual(
      [],
    );
  }, 180_000);

  it('keeps a returning old master fenced while the leader cannot reach it to demote it', async () => {
    c = await Cluster.start({ hosts: 3, redisHosts: [1, 2, 3] });
    const t = c.timing;
    const oldMaster = c.redisOn(1).addr;
    const { sampler, monitor } = c.observe();
    const near = await c.client(1, [{ prefix: 'near' }, { prefix: 'nearw', wait: true }]);
    const far = await c.client(2, [{ prefix: 'far' }]);
    await Promise.all([near.waitAcks(50), far.waitAcks(50)]);

    await c.net.isolate(1);
    await waitFor(async () => (await c!.failovers(2)).length === 1, 20_000, 'a failover');
    const leader = await c.leader([2, 3]);
    // Host 1 is back in contact with everyone, except that the leader cannot reach its Redis:
    // nobody demotes it. Its daemon has the majority again, and the committed state says it is no
    // longer the master: it must stay fenced.
    const backAt = Date.now();
    await c.net.cutPort(leader, 1, 6379);
    await sleep(2 * t.leaseMs + 2000);
    const acceptedWhileBack = sampler.samples.filter(
      (s) => s.node === oldMaster && s.accepted && s.startMs >= backAt,
    );
    await c.net.heal();
    const out = await settle(c, { sampler, monitor, clients: [near, far] });
    console.log(
      `[e2e] returning old master, leader cut from it: it accepted ${acceptedWhileBack.length} sampled writes while back; ${describeLosses(out)}`,
    );
    expect(acceptedWhileBack.map((s) => new Date(s.endMs).toISOString())).toEqual([]);
    expect(problems(out, { maxDisagreementMs: t.electionTimeoutMs })).toEqual([]);
    expect(out.failovers).toBe(1);
  }, 180_000);

  it("cuts only the leader's link to the master's Redis: no failover (one vantage point)", async () => {
    c = await Cluster.start({ hosts: 3, redisHosts: [1, 2, 3] });
    const t = c.timing;
    const master = c.redisOn(1).addr;
    await c.transferLeader(2);
    const { sampler, monitor } = c.observe();
    const client = await c.client(3, [{ prefix: 'w' }, { prefix: 'ww', wait: true }]);
    await client.waitAcks(50);

    const cut = Date.now();
    await c.net.cutPort(2, 1, 6379);
    // The leader itself sees the master failing for well over down_after_ms...
    await waitFor(
      async () => {
        const v = await c!.daemon(2).shard('mymaster');
        const seen = v.nodes.find((n) => n.addr === master)?.seen as
          | { failing: boolean; down_for_ms: number }
          | undefined;
        return seen?.failing && seen.down_for_ms >= t.downAfterMs;
      },
      20_000,
      'the leader to see the master down for down_after_ms',
    );
    await sleep(t.downAfterMs);
    // ...but the other voters do not: nothing happens.
    expect(await c.failovers(2)).toEqual([]);
    expect((await c.views()).every((v) => v.master === master && v.epoch === 0 && v.pending === null)).toBe(
      true,
    );
    expect(await c.leader()).toBe(2);
    const during = [cut + 500, Date.now()] as const;
    await c.net.heal();
    const out = await settle(c, { sampler, monitor, clients: [client], expectMaster: master });
    const accepted = out.samples.filter(
      (s) => s.node === master && s.startMs >= during[0] && s.endMs <= during[1],
    );
    console.log(
      `[e2e] leader cut from the master: ${out.failovers} failovers; master accepted ${accepted.filter((s) => s.accepted).length}/${accepted.length} sampled writes during the cut; ${describeLosses(out)}`,
    );
    expect(problems(out, { maxDisagreementMs: t.electionTimeoutMs })).toEqual([]);
    expect(out.failovers).toBe(0);
    expect(out.epoch).toBe(0);
    // The master kept accepting writes throughout, and every daemon kept naming it.
    expect(accepted.filter((s) => !s.accepted).map((s) => s.outcome)).toEqual([]);
    for (const h of [1, 2, 3]) expect(monitor.namedBetween(h, during[0], during[1])).toEqual([master]);
    expect(out.losses[0]!.report.lost).toBe(0);
  }, 180_000);

  it('isolates the leader: a new leader, the isolated daemon stops naming a master, no failover', async () => {
    c = await Cluster.start({ hosts: 3, redisHosts: [1, 2, 3] });
    const t = c.timing;
    const master = c.redisOn(1).addr;
    await c.transferLeader(2);
    const { sampler, monitor } = c.observe();
    const client = await c.client(1, [{ prefix: 'w' }, { prefix: 'ww', wait: true }]);
    await client.waitAcks(50);

    const cut = Date.now();
    await c.net.isolate(2);
    const newLeader = await c.leader([1, 3], 20_000);
    const electedMs = Date.now() - cut;
    await client.waitAcks(50);
    await sleep(t.downAfterMs);
    const healAt = Date.now();
    await c.net.heal();
    const out = await settle(c, { sampler, monitor, clients: [client], expectMaster: master });
    const nullMs = (monitor.firstAfter(2, cut, namesNone) ?? Number.POSITIVE_INFINITY) - cut;
    console.log(
      `[e2e] leader isolated: node ${newLeader} elected within ${electedMs} ms; the old leader stopped naming a master after ${nullMs} ms; ${out.failovers} failovers; ${describeLosses(out)}`,
    );
    expect(newLeader).not.toBe(2);
    expect(nullMs).toBeLessThanOrEqual(2 * t.electionTimeoutMs);
    // It names nothing while cut off (once its lease is over), the others keep naming the master.
    expect(monitor.namedBetween(2, cut + 2 * t.electionTimeoutMs, healAt)).toEqual([]);
    for (const h of [1, 3]) expect(monitor.namedBetween(h, cut, healAt)).toEqual([master]);
    expect(problems(out, { maxDisagreementMs: t.electionTimeoutMs })).toEqual([]);
    expect(out.failovers).toBe(0);
    expect(out.losses[0]!.report.lost).toBe(0);
  }, 180_000);

  it('splits every host from every other for longer than down_after_ms: after healing, the master all daemons reach again is kept', async () => {
    // No majority anywhere: every daemon sees every remote node fail for the whole cut, and
    // names no master. Those views say nothing about the nodes once the group is back (sim seed
    // 9152: the master was failed over when a leader was elected 25 ms after the heal, before the
    // daemons' next probes answered). Here the election usually comes after the probes have
    // answered, so this run rarely meets that race: the unit test in engine-safety.test.ts and the
    // seed in system-regressions.test.ts pin it; this one checks the whole split on real processes.
    c = await Cluster.start({ hosts: 3, redisHosts: [1, 2, 3] });
    const t = c.timing;
    const master = c.redisOn(1).addr;
    const { sampler, monitor } = c.observe();
    const client = await c.client(1, [{ prefix: 'w' }, { prefix: 'ww', wait: true }]);
    await client.waitAcks(50);

    const cut = Date.now();
    await c.net.partition([[1], [2], [3]]);
    await sleep(t.downAfterMs + 2000);
    const healAt = Date.now();
    await c.net.heal();
    const out = await settle(c, { sampler, monitor, clients: [client], expectMaster: master });
    console.log(
      `[e2e] every host split for ${healAt - cut} ms: ${out.failovers} failovers; ${describeLosses(out)}`,
    );
    // Nobody names a master while no majority exists (once the leases are over).
    for (const h of [1, 2, 3])
      expect(monitor.namedBetween(h, cut + 2 * t.electionTimeoutMs, healAt)).toEqual([]);
    expect(problems(out, { maxDisagreementMs: t.electionTimeoutMs })).toEqual([]);
    expect(out.failovers).toBe(0);
    // What the master acknowledged before its fence stays: it is still the master.
    expect(out.losses[0]!.report.lost).toBe(0);
  }, 180_000);

  it('bridges: the master host and the leader host cannot talk, a third host sees both: safe, no failover', async () => {
    c = await Cluster.start({ hosts: 3, redisHosts: [1, 2, 3] });
    const t = c.timing;
    const master = c.redisOn(1).addr;
    // The leader on the far side of the bridge from the master: the hardest placement.
    await c.transferLeader(3);
    const { sampler, monitor } = c.observe();
    const client = await c.client(2, [{ prefix: 'w' }, { prefix: 'ww', wait: true }]);
    await client.waitAcks(50);

    const cut = Date.now();
    await c.net.bridge(2, [1], [3]);
    await sleep(t.downAfterMs + 3000);
    const healAt = Date.now();
    const during = sampler.samples.filter(
      (s) => s.node === master && s.startMs >= cut + 2 * t.electionTimeoutMs,
    );
    const leaderDuring = await c.leader([2, 3]).catch(() => null);
    await c.net.heal();
    const out = await settle(c, { sampler, monitor, clients: [client], expectMaster: master });
    const accepted = during.filter((s) => s.accepted && s.endMs <= healAt).length;
    console.log(
      `[e2e] bridge (1 | 3, 2 sees both; leader ${leaderDuring} during): ${out.failovers} failovers; the master accepted ${accepted}/${during.filter((s) => s.endMs <= healAt).length} sampled writes during the bridge; daemon 1 named ${JSON.stringify(monitor.namedBetween(1, cut + 2 * t.electionTimeoutMs, healAt))}; ${describeLosses(out)}`,
    );
    expect(problems(out, { maxDisagreementMs: t.electionTimeoutMs })).toEqual([]);
    // One daemon (3) cannot see the master: not a majority, no failover.
    expect(out.failovers).toBe(0);
    expect(out.losses[0]!.report.lost).toBe(0);
  }, 180_000);

  it('isolates a minority of daemons (2 of 5): they stop naming a master, clients move on to the majority', async () => {
    // Redis and voters on hosts 1-3 (master on 1), witnesses on 4 and 5; cut {3, 5} off.
    c = await Cluster.start({ hosts: 5, redisHosts: [1, 2, 3], witnessHosts: [4, 5] });
    const t = c.timing;
    const master = c.redisOn(1).addr;
    const { sampler, monitor } = c.observe();
    // Clients that ask the minority's daemons first: one in the observer's namespace (it reaches
    // them and gets null answers), one on host 4 (they time out from there).
    const order = [3, 5, 1, 2, 4];
    const observerClient = await c.client(0, [{ prefix: 'o' }, { prefix: 'ow', wait: true }], order);
    const hostClient = await c.client(4, [{ prefix: 'h' }], order);
    await Promise.all([observerClient.waitAcks(50), hostClient.waitAcks(50)]);

    const cut = Date.now();
    await c.net.partition([
      [3, 5],
      [1, 2, 4],
    ]);
    await sleep(2 * t.electionTimeoutMs);
    // A client that starts now must find the master through the majority.
    const fresh = await c.client(0, [{ prefix: 'f' }], order);
    await Promise.all([observerClient.waitAcks(50), hostClient.waitAcks(50), fresh.waitAcks(50)]);
    await sleep(t.downAfterMs);
    const healAt = Date.now();
    await c.net.heal();
    const out = await settle(c, {
      sampler,
      monitor,
      clients: [observerClient, hostClient, fresh],
      expectMaster: master,
    });
    const nullMs = [3, 5].map(
      (h) => (monitor.firstAfter(h, cut, namesNone) ?? Number.POSITIVE_INFINITY) - cut,
    );
    console.log(
      `[e2e] minority isolated: daemons 3 and 5 stopped naming a master after ${nullMs.join(' and ')} ms; ${out.failovers} failovers; ${describeLosses(out)}`,
    );
    for (const ms of nullMs) expect(ms).toBeLessThanOrEqual(2 * t.electionTimeoutMs);
    for (const h of [3, 5])
      expect(monitor.namedBetween(h, cut + 2 * t.electionTimeoutMs, healAt)).toEqual([]);
    for (const h of [1, 2, 4]) expect(monitor.namedBetween(h, cut, healAt)).toEqual([master]);
    expect(fresh.acks.every((a) => a.v === master)).toBe(true);
    expect(problems(out, { maxDisagreementMs: t.electionTimeoutMs })).toEqual([]);
    expect(out.failovers).toBe(0);
    for (const l of out.losses) expect(l.report.lost).toBe(0);
  }, 180_000);
});

import { describe, expect, it } from 'vitest';
import { encodeCommand } from '../../../src/cluster/commands.js';
import type { Shard, ShardSettings } from '../../../src/cluster/shards.js';
import { ClusterState } from '../../../src/cluster/state.js';
import { FENCED_MIN_REPLICAS, Fencer, fenceDecision, guardTarget } from '../../../src/failover/fence.js';
import { Prober } from '../../../src/failover/prober.js';
import { parseInfo, type RedisAdapter } from '../../../src/failover/redis.js';
import { silentLogger } from '../../../src/util/log.js';
import { Scheduler } from '../../sim/scheduler.js';
import { shardFixture, shardSettings } from '../../support/shard-settings.js';

const M = '10.0.0.1:6379';
const R = '10.0.0.2:6379';

const settings: ShardSettings = shardSettings({
  leaseMs: 400,
  minReplicasToWrite: 1,
  minReplicasMaxLagSeconds: 2,
});

function setup(opts: { minReplicas?: number; owner?: number | null; leader?: boolean } = {}) {
  const s = new Scheduler();
  const clock = s.clockFor(() => true);
  const calls: string[] = [];
  let role: 'master' | 'slave' = 'master';
  // What the Redis runs with: INFO shows min_slaves_good_slaves only while min-replicas-to-write is on.
  let minReplicas = 0;
  const adapter: RedisAdapter = {
    ping: async () => {},
    info: async () =>
      parseInfo(
        `run_id:abc\nrole:${role}\nmaster_host:10.0.0.2\nmaster_port:6379\nconfig_file:/etc/redis.conf\n${minReplicas > 0 ? 'min_slaves_good_slaves:0\n' : ''}`,
      ),
    reconfigure: async () => parseInfo('role:slave'),
    pauseWrites: async (n, ms) => {
      calls.push(`pause ${n.addr} ${ms}`);
    },
    unpause: async (n) => {
      calls.push(`unpause ${n.addr}`);
    },
    configSet: async (n, p, _t, opts) => {
      const v = Object.fromEntries(p);
      minReplicas = Number(v['min-replicas-to-write']);
      calls.push(
        `guard ${n.addr} ${v['min-replicas-to-write']}/${v['min-replicas-max-lag']}${opts?.rewrite ? ' rewrite' : ''}`,
      );
    },
    forget: () => {},
    close: async () => {},
  };
  const state = new ClusterState();
  let index = 0;
  const apply = (cmd: Parameters<typeof encodeCommand>[0]) =>
    state.apply({ index: ++index, term: 1, type: 'normal', data: encodeCommand(cmd) });
  apply({
    t: 'shard.create',
    name: 's',
    master: M,
    nodes: [
      {
        addr: M,
        owner: opts.owner === undefined ? 1 : opts.owner,
        role: 'replica',
        priority: 100,
        accessible: true,
      },
      { addr: R, owner: 2, role: 'replica', priority: 100, accessible: true },
    ],
    settings: { ...settings, minReplicasToWrite: opts.minReplicas ?? 1 },
    atMs: 0,
  });
  const prober = new Prober({
    adapter,
    clock,
    logger: silentLogger,
    targets: () => [{ addr: M, expectMaster: false }],
    probeIntervalMs: () => 20,
    infoIntervalMs: 20,
    stallThresholdMs: 10_000,
  });
  prober.start();
  let valid = true;
  let barrierOk = true;
  const fencer = new Fencer({
    nodeId: 1,
    state,
    prober,
    adapter,
    clock,
    logger: silentLogger,
    // A lease that is renewed every round while valid: contact is "now".
    lease: () => ({ valid, remainingMs: valid ? 200 : 0 }),
    electionTimeoutMs: 200,
    readBarrier: () => (barrierOk ? Promise.resolve() : Promise.reject(new Error('no leader'))),
    leader: () =>
      opts.leader
        ? {
            members: new Set([1, 2]),
            declaredDown: () => false,
            proposeGuard: async (_s, replicas, reason) => {
              calls.push(`propose-guard ${replicas}`);
              apply({ t: 'shard.guard', name: 's', epoch: 0, replicas, reason });
            },
          }
        : null,
  });
  const run = async (ms: number) => {
    const end = s.now + ms;
    while (s.now < end) {
      s.runUntil(Math.min(end, s.now + 20));
      fencer.round();
      await new Promise((r) => setImmediate(r));
    }
  };
  return {
    run,
    calls,
    fencer,
    apply,
    state,
    setValid: (v: boolean) => {
      valid = v;
    },
    setBarrier: (v: boolean) => {
      barrierOk = v;
    },
    setRole: (r: 'master' | 'slave') => {
      role = r;
    },
  };
}

function begin(epoch: number, from: string, to: string) {
  return {
    t: 'shard.failover.begin' as const,
    name: 's',
    expectEpoch: epoch - 1,
    epoch,
    from,
    to,
    kind: 'auto' as const,
    jobId: 'j',
    atMs: 1,
    job: {
      id: 'j',
      kind: 'shard.failover' as const,
      params: {},
      state: 'running' as const,
      reason: null,
      step: 'started',
      result: null,
      createdAtMs: 0,
      updatedAtMs: 0,
      origin: 2,
    },
  };
}

/** Commit a failover of shard s from M to `to` (epoch 1). */
function failOverTo(t: ReturnType<typeof setup>, to: string): void {
  t.apply(begin(1, M, to));
  t.apply({
    t: 'shard.master',
    name: 's',
    epoch: 1,
    master: to,
    from: M,
    kind: 'auto',
    jobId: 'j',
    atMs: 2,
    reason: 'down',
  });
}

const FENCED = `${FENCED_MIN_REPLICAS}/1 rewrite`;
const fencesOf = (calls: string[]) => calls.filter((c) => c === `guard ${M} ${FENCED}`);
const liftsOf = (calls: string[]) =>
  calls.filter((c) => c.startsWith(`guard ${M}`) && !c.includes(String(FENCED_MIN_REPLICAS)));
const pausesOf = (calls: string[]) => calls.filter((c) => c.startsWith('pause') || c.startsWith('unpause'));

describe('Fencer (promise 6: a fence that fails closed)', () => {
  it('fences its master lease_ms after losing the majority, not before, with a persisted min-replicas-to-write that refuses every write', async () => {
    const t = setup();
    await t.run(200);
    t.setValid(false);
    await t.run(300);
    expect(fencesOf(t.calls)).toEqual([]);
    expect(t.fencer.isFenced(M)).toBe(false);
    await t.run(200);
    expect(t.fencer.isFenced(M)).toBe(true);
    // One CONFIG SET (+ REWRITE): the setting outlives this daemon and a Redis restart, so it is
    // not re-issued like a pause, and nothing is lifted while out of contact.
    expect(fencesOf(t.calls)).toEqual([`guard ${M} ${FENCED}`]);
    const before = t.calls.length;
    await t.run(2000);
    expect(t.calls.slice(before).filter((c) => c.startsWith('guard'))).toEqual([]);
    // CLIENT PAUSE is the switchover's alone: a switchover's UNPAUSE cannot lift this fence.
    expect(pausesOf(t.calls)).toEqual([]);
  });

  it('lifts the fence once the majority is back and a read of the committed state still names the node master', async () => {
    const t = setup();
    t.setValid(false);
    await t.run(600);
    expect(t.fencer.isFenced(M)).toBe(true);
    t.setBarrier(false);
    t.setValid(true);
    await t.run(100);
    // The committed state could not be read: still fenced.
    expect(t.fencer.isFenced(M)).toBe(true);
    t.setBarrier(true);
    await t.run(100);
    expect(t.fencer.isFenced(M)).toBe(false);
    // Back to the committed write guard (0 until the leader raises it).
    expect(t.calls).toContain(`guard ${M} 0/2 rewrite`);
  });

  it('does not lift a fence while a failover away from that master is pending (issue 9 item 3)', async () => {
    const t = setup();
    t.setValid(false);
    await t.run(600);
    expect(t.fencer.isFenced(M)).toBe(true);
    // The majority decided to fail over to R; the promotion is not committed yet.
    t.apply(begin(1, M, R));
    t.setValid(true);
    await t.run(1000);
    expect(t.fencer.isFenced(M)).toBe(true);
    expect(liftsOf(t.calls)).toEqual([]);
  });

  it('fences a master in contact with the majority while a failover away from it is pending', async () => {
    const t = setup();
    await t.run(100);
    expect(t.fencer.isFenced(M)).toBe(false);
    t.apply(begin(1, M, R));
    await t.run(100);
    expect(t.fencer.isFenced(M)).toBe(true);
    // Rolled back: the fence goes once the barrier confirms it.
    t.apply({ t: 'shard.failover.abort', name: 's', epoch: 1, reason: 'x', atMs: 3 });
    await t.run(100);
    expect(t.fencer.isFenced(M)).toBe(false);
  });

  it('keeps the fence of an old master until it reports role:slave, however long that takes', async () => {
    const t = setup();
    t.setValid(false);
    await t.run(600);
    failOverTo(t, R);
    t.setValid(true);
    await t.run(2000);
    expect(t.fencer.isFenced(M)).toBe(true);
    expect(liftsOf(t.calls)).toEqual([]);
    t.setRole('slave');
    await t.run(200);
    expect(t.fencer.isFenced(M)).toBe(false);
  });

  it('fences a node of its own that acts as a master while another is committed, even without losing the majority', async () => {
    const t = setup();
    await t.run(100);
    failOverTo(t, R);
    await t.run(100);
    expect(t.fencer.isFenced(M)).toBe(true);
    expect(fencesOf(t.calls)).toEqual([`guard ${M} ${FENCED}`]);
  });

  it('does not fence the target of a failover in progress, nor act on a view the barrier cannot confirm', async () => {
    const t = setup();
    await t.run(100);
    failOverTo(t, R);
    t.apply({ ...begin(2, R, M), jobId: 'k', job: { ...begin(2, R, M).job, id: 'k' } });
    await t.run(200);
    expect(t.fencer.isFenced(M)).toBe(false);
    expect(fencesOf(t.calls)).toEqual([]);
    t.setBarrier(false);
    t.apply({ t: 'shard.failover.abort', name: 's', epoch: 2, reason: 'x', atMs: 3 });
    await t.run(200);
    expect(fencesOf(t.calls)).toEqual([]);
    t.setBarrier(true);
    await t.run(100);
    expect(t.fencer.isFenced(M)).toBe(true);
  });

  it('applies the committed write guard to its master, persisted, and re-applies it when Redis restarted', async () => {
    const t = setup();
    await t.run(100);
    expect(t.calls).toContain(`guard ${M} 0/2 rewrite`);
    t.apply({ t: 'shard.guard', name: 's', epoch: 0, replicas: 1, reason: 'attached' });
    await t.run(100);
    expect(t.calls.filter((c) => c === `guard ${M} 1/2 rewrite`)).toHaveLength(1);
    await t.run(500);
    expect(t.calls.filter((c) => c === `guard ${M} 1/2 rewrite`)).toHaveLength(1);
  });

  it('leader: guards a master that no member daemon sits beside (SENTINEL MONITOR shards, item 7)', async () => {
    const t = setup({ owner: null, leader: true });
    await t.run(100);
    expect(t.calls).toContain(`guard ${M} 0/2 rewrite`);
    const follower = setup({ owner: null, leader: false });
    await follower.run(100);
    expect(follower.calls.filter((c) => c.startsWith('guard'))).toEqual([]);
  });
});

describe('fenceDecision and guardTarget (pure rules)', () => {
  const shard = (over: Partial<Shard> = {}): Shard =>
    shardFixture({
      name: 's',
      master: M,
      nodes: [
        { addr: M, owner: 1, role: 'replica', priority: 100, accessible: true },
        { addr: R, owner: 2, role: 'replica', priority: 100, accessible: true },
      ],
      settings,
      ...over,
    });
  const pending = { epoch: 2, from: M, to: R, kind: 'auto' as const, jobId: 'j', startedAtMs: 0 };

  it('never lifts without a lease, fences only after lease_ms out of contact', () => {
    const base = { shard: shard(), addr: M, role: 'master' as const };
    expect(fenceDecision({ ...base, leaseValid: false, lostForMs: 399 }).kind).toBe('keep');
    expect(fenceDecision({ ...base, leaseValid: false, lostForMs: 400 }).kind).toBe('fence');
    // Not the owner: no opinion on contact it does not have.
    expect(fenceDecision({ ...base, leaseValid: false, lostForMs: null }).kind).toBe('keep');
    expect(fenceDecision({ ...base, leaseValid: true, lostForMs: 0 })).toEqual({
      kind: 'guard',
      minReplicas: 0,
    });
  });

  it('fences a stale master and a master being failed away from, never the target', () => {
    const stale = fenceDecision({
      shard: shard({ master: R }),
      addr: M,
      role: 'master',
      leaseValid: true,
      lostForMs: 0,
    });
    expect(stale.kind).toBe('fence');
    const away = fenceDecision({
      shard: shard({ pending }),
      addr: M,
      role: 'master',
      leaseValid: true,
      lostForMs: 0,
    });
    expect(away.kind).toBe('fence');
    // A switchover protects its writes by its own pause and catch-up: no fence on top.
    const sw = fenceDecision({
      shard: shard({ pending: { ...pending, kind: 'switchover' } }),
      addr: M,
      role: 'master',
      leaseValid: true,
      lostForMs: 0,
    });
    expect(sw).toEqual({ kind: 'guard', minReplicas: 0 });
    const target = fenceDecision({
      shard: shard({ pending }),
      addr: R,
      role: 'master',
      leaseValid: true,
      lostForMs: 0,
    });
    expect(target).toEqual({ kind: 'guard', minReplicas: 0 });
  });

  it("raises the guard on the leader's own view, lowers it only on a majority verdict", () => {
    const attached = {
      failing: false,
      info: parseInfo('role:slave\nmaster_host:10.0.0.1\nmaster_port:6379\nmaster_link_status:up\n'),
    };
    expect(guardTarget({ shard: shard(), view: () => attached, declaredDown: () => false })).toEqual({
      replicas: 1,
      reason: '1 replica(s) attached',
    });
    const gone = { failing: true, info: null };
    // The replica is failing in the leader's view, but no majority declared it down: keep 1.
    expect(
      guardTarget({ shard: shard({ guardReplicas: 1 }), view: () => gone, declaredDown: () => false }),
    ).toBe(null);
    expect(
      guardTarget({ shard: shard({ guardReplicas: 1 }), view: () => gone, declaredDown: () => true }),
    ).toEqual({
      replicas: 0,
      reason: '1 replica(s) declared down by a majority',
    });
    // Nothing while a failover is pending or with the guard off.
    expect(guardTarget({ shard: shard({ pending }), view: () => attached, declaredDown: () => false })).toBe(
      null,
    );
    expect(
      guardTarget({
        shard: shard({ settings: { ...settings, minReplicasToWrite: 0 } }),
        view: () => attached,
        declaredDown: () => false,
      }),
    ).toBe(null);
  });
});

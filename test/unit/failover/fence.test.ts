import { describe, expect, it } from 'vitest';
import { encodeCommand } from '../../../src/cluster/commands.js';
import type { ShardSettings } from '../../../src/cluster/shards.js';
import { ClusterState } from '../../../src/cluster/state.js';
import { Fencer } from '../../../src/failover/fence.js';
import { Prober } from '../../../src/failover/prober.js';
import { parseInfo, type RedisAdapter } from '../../../src/failover/redis.js';
import { silentLogger } from '../../../src/util/log.js';
import { Scheduler } from '../../sim/scheduler.js';
import { shardSettings } from '../../support/shard-settings.js';

const M = '10.0.0.1:6379';
const R = '10.0.0.2:6379';

const settings: ShardSettings = shardSettings({ leaseMs: 400 });

function setup(opts: { minReplicas?: number } = {}) {
  const s = new Scheduler();
  const clock = s.clockFor(() => true);
  const calls: string[] = [];
  let role: 'master' | 'slave' = 'master';
  const adapter: RedisAdapter = {
    ping: async () => {},
    info: async () => parseInfo(`run_id:abc\nrole:${role}\nmaster_host:10.0.0.2\nmaster_port:6379\n`),
    reconfigure: async () => parseInfo('role:slave'),
    pauseWrites: async (n, ms) => {
      calls.push(`pause ${n.addr} ${ms}`);
    },
    unpause: async (n) => {
      calls.push(`unpause ${n.addr}`);
    },
    configSet: async (n, p) => {
      calls.push(`config ${n.addr} ${JSON.stringify(p)}`);
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
      { addr: M, owner: 1, role: 'replica', priority: 100, accessible: true },
      { addr: R, owner: 2, role: 'replica', priority: 100, accessible: true },
    ],
    settings: { ...settings, minReplicasToWrite: opts.minReplicas ?? 0 },
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

describe('Fencer (promise 6: a master whose daemon lost the majority for lease_ms stops accepting writes)', () => {
  it('pauses writes on its master lease_ms after losing the majority, not before, and keeps re-issuing the pause', async () => {
    const t = setup();
    await t.run(200);
    t.setValid(false);
    await t.run(300);
    expect(t.calls.filter((c) => c.startsWith('pause'))).toEqual([]);
    expect(t.fencer.isFenced(M)).toBe(false);
    await t.run(200);
    expect(t.fencer.isFenced(M)).toBe(true);
    expect(t.calls[0]).toBe(`pause ${M} 800`);
    await t.run(1000);
    // Re-issued about every lease/2, never lifted while out of contact.
    const pauses = t.calls.filter((c) => c.startsWith('pause')).length;
    expect(pauses).toBeGreaterThanOrEqual(4);
    expect(t.calls.some((c) => c.startsWith('unpause'))).toBe(false);
  });

  it('lifts the fence once the majority is back and the committed state still names the node master', async () => {
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
    expect(t.calls).toContain(`unpause ${M}`);
  });

  it('does not lift the fence of a node that is no longer the master until it has become a replica', async () => {
    const t = setup();
    t.setValid(false);
    await t.run(600);
    // Meanwhile the majority failed over to R.
    t.apply({
      t: 'shard.failover.begin',
      name: 's',
      expectEpoch: 0,
      epoch: 1,
      from: M,
      to: R,
      kind: 'auto',
      jobId: 'j',
      atMs: 1,
      job: {
        id: 'j',
        kind: 'shard.failover',
        params: {},
        state: 'running',
        reason: null,
        step: 'started',
        result: null,
        createdAtMs: 0,
        updatedAtMs: 0,
        origin: 2,
      },
    });
    t.apply({
      t: 'shard.master',
      name: 's',
      epoch: 1,
      master: R,
      from: M,
      kind: 'auto',
      jobId: 'j',
      atMs: 2,
      reason: 'down',
    });
    t.setValid(true);
    await t.run(200);
    expect(t.fencer.isFenced(M)).toBe(true);
    expect(t.calls.some((c) => c.startsWith('unpause'))).toBe(false);
    t.setRole('slave');
    await t.run(200);
    expect(t.fencer.isFenced(M)).toBe(false);
  });

  it('keeps pausing an old master that is back in contact until it is a replica, however long that takes', async () => {
    const t = setup();
    t.setValid(false);
    await t.run(600);
    failOverTo(t, R);
    t.setValid(true);
    // Nobody demotes it for 5 × lease: the pause (2 × lease) must be renewed all along.
    await t.run(2000);
    const pauses = t.calls.filter((c) => c.startsWith('pause')).length;
    expect(pauses).toBeGreaterThanOrEqual(8);
    expect(t.calls.some((c) => c.startsWith('unpause'))).toBe(false);
    t.setRole('slave');
    await t.run(200);
    expect(t.fencer.isFenced(M)).toBe(false);
    expect(t.calls).toContain(`unpause ${M}`);
  });

  it('pauses a node of its own that acts as a master while another is committed, even without losing the majority', async () => {
    const t = setup();
    await t.run(100);
    failOverTo(t, R);
    await t.run(100);
    expect(t.fencer.isFenced(M)).toBe(true);
    expect(t.calls.filter((c) => c.startsWith('pause'))).toEqual([`pause ${M} 800`]);
  });

  it('does not pause the target of a failover in progress, nor act on a view the barrier cannot confirm', async () => {
    const t = setup();
    await t.run(100);
    // R became the master (epoch 1); now a failover back to M is in progress (epoch 2): M reports
    // role:master before that promotion is committed.
    failOverTo(t, R);
    t.apply({ ...begin(2, R, M), jobId: 'k', job: { ...begin(2, R, M).job, id: 'k' } });
    await t.run(200);
    expect(t.fencer.isFenced(M)).toBe(false);
    expect(t.calls.filter((c) => c.startsWith('pause'))).toEqual([]);
    // The failover is rolled back while M still reports role:master: M is stale now, but it is
    // paused only once a read barrier confirms the committed state.
    t.setBarrier(false);
    t.apply({ t: 'shard.failover.abort', name: 's', epoch: 2, reason: 'x', atMs: 3 });
    await t.run(200);
    expect(t.calls.filter((c) => c.startsWith('pause'))).toEqual([]);
    t.setBarrier(true);
    await t.run(100);
    expect(t.fencer.isFenced(M)).toBe(true);
  });

  it('manages min-replicas-to-write on its nodes when the shard asks for it', async () => {
    const t = setup({ minReplicas: 1 });
    await t.run(100);
    expect(t.calls).toContain(`config ${M} {"min-replicas-to-write":"1","min-replicas-max-lag":"10"}`);
    // Applied once per run id, not every round.
    await t.run(200);
    expect(t.calls.filter((c) => c.startsWith('config')).length).toBe(1);
  });
});

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  applyShardCommand,
  type Shard,
  type ShardCommand,
  type ShardSettings,
} from '../../../src/cluster/shards.js';
import { shardSettings } from '../../support/shard-settings.js';

const settings: ShardSettings = shardSettings();
const node = (addr: string) => ({
  addr,
  owner: null,
  role: 'replica' as const,
  priority: 100,
  accessible: true,
});
const A = 'a:1';
const B = 'b:1';
const C = 'c:1';

function fresh(): Map<string, Shard> {
  const m = new Map<string, Shard>();
  const r = applyShardCommand(m, {
    t: 'shard.create',
    name: 's',
    master: A,
    nodes: [node(A), node(B), node(C)],
    settings,
    atMs: 0,
  });
  expect(r.ok).toBe(true);
  return m;
}

const begin = (epoch: number, expectEpoch: number, to: string): ShardCommand => ({
  t: 'shard.failover.begin',
  name: 's',
  expectEpoch,
  epoch,
  from: A,
  to,
  kind: 'auto',
  jobId: `j${epoch}`,
  atMs: 1,
});

describe('shard state: one master per epoch (promise 1)', () => {
  it('a failover takes the next epoch and the new master is committed with it', () => {
    const m = fresh();
    expect(applyShardCommand(m, begin(1, 0, B)).ok).toBe(true);
    const r = applyShardCommand(m, {
      t: 'shard.master',
      name: 's',
      epoch: 1,
      master: B,
      from: A,
      kind: 'auto',
      jobId: 'j1',
      atMs: 2,
      reason: 'x',
    });
    expect(r.ok).toBe(true);
    const s = m.get('s')!;
    expect(s.master).toBe(B);
    expect(s.epoch).toBe(1);
    expect(s.pending).toBeNull();
    expect(s.history.at(-1)).toMatchObject({ epoch: 1, from: A, to: B });
  });

  it('refuses a second failover while one is pending, and a stale or skipped epoch', () => {
    const m = fresh();
    expect(applyShardCommand(m, begin(1, 0, B)).ok).toBe(true);
    expect(applyShardCommand(m, begin(2, 0, C))).toMatchObject({
      ok: false,
      error: expect.stringMatching(/already in progress/),
    });
    const m2 = fresh();
    expect(applyShardCommand(m2, begin(2, 0, B))).toMatchObject({
      ok: false,
      error: expect.stringMatching(/not the next epoch/),
    });
    expect(applyShardCommand(m2, begin(1, 5, B))).toMatchObject({
      ok: false,
      error: expect.stringMatching(/at epoch 0/),
    });
  });

  it('a master can only be committed for the pending failover: never a different node or epoch', () => {
    const m = fresh();
    applyShardCommand(m, begin(1, 0, B));
    const wrongNode = applyShardCommand(m, {
      t: 'shard.master',
      name: 's',
      epoch: 1,
      master: C,
      from: A,
      kind: 'auto',
      jobId: 'j1',
      atMs: 2,
      reason: '',
    });
    const wrongEpoch = applyShardCommand(m, {
      t: 'shard.master',
      name: 's',
      epoch: 2,
      master: B,
      from: A,
      kind: 'auto',
      jobId: 'j1',
      atMs: 2,
      reason: '',
    });
    expect(wrongNode.ok).toBe(false);
    expect(wrongEpoch.ok).toBe(false);
    expect(m.get('s')!.master).toBe(A);
  });

  it('an aborted failover frees the shard, and the next one uses a new epoch', () => {
    const m = fresh();
    applyShardCommand(m, begin(1, 0, B));
    applyShardCommand(m, { t: 'shard.failover.abort', name: 's', epoch: 1, reason: 'no', atMs: 3 });
    expect(m.get('s')!.pending).toBeNull();
    expect(m.get('s')!.lastAbortAtMs).toBe(3);
    expect(applyShardCommand(m, begin(1, 0, B)).ok).toBe(false);
    expect(applyShardCommand(m, begin(2, 0, C)).ok).toBe(true);
  });

  it('a discovered node (onlyUnowned) never takes over a node a daemon registered meanwhile', () => {
    const m = fresh();
    applyShardCommand(m, { t: 'shard.node.put', name: 's', node: { ...node(B), owner: 2 } });
    const r = applyShardCommand(m, {
      t: 'shard.node.put',
      name: 's',
      node: { ...node(B), priority: 5 },
      onlyUnowned: true,
    });
    expect(r).toEqual({ ok: true, events: [] });
    expect(m.get('s')!.nodes.find((n) => n.addr === B)).toMatchObject({ owner: 2, priority: 100 });
    applyShardCommand(m, {
      t: 'shard.node.put',
      name: 's',
      node: { ...node(C), priority: 5 },
      onlyUnowned: true,
    });
    expect(m.get('s')!.nodes.find((n) => n.addr === C)?.priority).toBe(5);
  });

  it('the master cannot be removed from its shard', () => {
    const m = fresh();
    expect(applyShardCommand(m, { t: 'shard.node.remove', name: 's', addr: A })).toMatchObject({ ok: false });
    expect(applyShardCommand(m, { t: 'shard.node.remove', name: 's', addr: C }).ok).toBe(true);
  });

  it('property: whatever commands arrive, epochs never go back and each epoch names at most one master', () => {
    const addrs = [A, B, C];
    const cmd = fc.oneof(
      fc.record({
        kind: fc.constant('begin'),
        epochDelta: fc.integer({ min: -1, max: 2 }),
        expectDelta: fc.integer({ min: -1, max: 1 }),
        to: fc.constantFrom(...addrs),
      }),
      fc.record({
        kind: fc.constant('master'),
        epochDelta: fc.integer({ min: -1, max: 2 }),
        to: fc.constantFrom(...addrs),
      }),
      fc.record({ kind: fc.constant('abort'), epochDelta: fc.integer({ min: -1, max: 1 }) }),
    );
    fc.assert(
      fc.property(fc.array(cmd, { maxLength: 60 }), (cmds) => {
        const m = fresh();
        const masterOfEpoch = new Map<number, string>([[0, A]]);
        let lastEpoch = 0;
        for (const c of cmds) {
          const s = m.get('s')!;
          if (c.kind === 'begin') {
            applyShardCommand(m, {
              ...begin(
                s.lastEpoch + c.epochDelta,
                s.epoch + (c as { expectDelta: number }).expectDelta,
                (c as { to: string }).to,
              ),
            });
          } else if (c.kind === 'master') {
            const epoch = (s.pending?.epoch ?? s.lastEpoch) + c.epochDelta;
            applyShardCommand(m, {
              t: 'shard.master',
              name: 's',
              epoch,
              master: (c as { to: string }).to,
              from: s.master,
              kind: 'auto',
              jobId: 'j',
              atMs: 0,
              reason: '',
            });
          } else {
            applyShardCommand(m, {
              t: 'shard.failover.abort',
              name: 's',
              epoch: (s.pending?.epoch ?? 0) + c.epochDelta,
              reason: '',
              atMs: 0,
            });
          }
          const after = m.get('s')!;
          expect(after.epoch).toBeGreaterThanOrEqual(lastEpoch);
          expect(after.lastEpoch).toBeGreaterThanOrEqual(after.epoch);
          lastEpoch = after.epoch;
          const named = masterOfEpoch.get(after.epoch);
          if (named !== undefined) expect(after.master).toBe(named);
          else masterOfEpoch.set(after.epoch, after.master!);
        }
      }),
      { numRuns: 300 },
    );
  });
});

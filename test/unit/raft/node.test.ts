/**
 * RaftNode, the driver: proposals and reads always settle, the lease reads the clock, and read
 * contexts never repeat across restarts. On the deterministic simulation (virtual time).
 */
import { describe, expect, it } from 'vitest';
import { type Message, RaftError } from '../../../src/raft/types.js';
import { SimCluster } from '../../sim/cluster.js';
import { runFor, runUntil } from '../../sim/run.js';

const ET = 100; // election timeout, ms

async function stableGroup(seed: number, voters = 3): Promise<SimCluster> {
  const c = new SimCluster({ seed, voters, heartbeatMs: 10, electionTimeoutMs: ET });
  expect(await runUntil(c, () => c.stableLeader()?.raft?.lease().valid === true, 5000)).toBe(true);
  return c;
}

/** Settle state of a promise, observable synchronously after the microtasks ran. */
function watch<T>(p: Promise<T>) {
  const s: { done: boolean; value?: T; error?: unknown } = { done: false };
  p.then(
    (value) => Object.assign(s, { done: true, value }),
    (error) => Object.assign(s, { done: true, error }),
  );
  return s;
}

describe('RaftNode proposals settle', () => {
  it('a proposal pending when the leader loses its majority is rejected, saying the outcome is unknown', async () => {
    const c = await stableGroup(11);
    const l = c.stableLeader()!;
    c.isolate(l.id);
    const s = watch(l.raft!.propose(new TextEncoder().encode('stuck')));
    await runFor(c, 3 * ET);
    expect(s.done).toBe(true);
    expect(s.error).toBeInstanceOf(RaftError);
    const e = s.error as RaftError;
    expect(['not_leader', 'proposal_timeout']).toContain(e.code);
    expect(e.message).toMatch(/outcome unknown/);
  });

  it('a proposal that cannot commit is rejected within the bound even while its leader still leads', async () => {
    const c = await stableGroup(12);
    const l = c.stableLeader()!;
    // Followers hear the leader (so it keeps leading) but their answers are lost: no commit.
    for (const id of c.members.keys()) if (id !== l.id) c.cutOneWay(id, l.id);
    const s = watch(l.raft!.propose(new TextEncoder().encode('slow')));
    await runFor(c, 2 * ET + 20);
    expect(s.done).toBe(true);
    expect(s.error).toBeInstanceOf(RaftError);
  });
});

describe('RaftNode lease', () => {
  it('after a stall, the lease is invalid before the tick timer has caught up', async () => {
    const c = await stableGroup(13);
    const l = c.stableLeader()!;
    expect(l.raft!.lease().valid).toBe(true);
    // The process stalls (nothing runs) for three election timeouts, then the first thing that
    // runs asks for the lease, before any timer fires.
    c.scheduler.now += 3 * ET;
    expect(l.raft!.lease()).toMatchObject({ valid: false, remainingMs: 0 });
  });

  it('a short delay of the tick timer only shortens the lease by that delay', async () => {
    const c = await stableGroup(14);
    const l = c.stableLeader()!;
    const before = l.raft!.lease();
    expect(before.valid).toBe(true);
    c.scheduler.now += 3;
    const after = l.raft!.lease();
    expect(after.remainingMs).toBeLessThanOrEqual(before.remainingMs - 3);
  });
});

describe('RaftNode reads', () => {
  it('a read_index_resp meant for an earlier incarnation does not satisfy a read of the new one', async () => {
    const c = await stableGroup(15);
    const l = c.stableLeader()!;
    const f = [...c.members.values()].find((m) => m.id !== l.id)!;
    const sent: Message[] = [];
    const prev = c.network.onSend;
    c.network.onSend = (m) => {
      prev?.(m);
      if (m.type === 'read_index' && m.from === f.id) sent.push(m);
    };
    void f.raft!.readBarrier().catch(() => {});
    expect(sent).toHaveLength(1);
    const first = sent[0]!;
    c.restart(f.id);
    await runUntil(c, () => f.raft!.status().leader === l.id, 5000);
    // Keep the new read's own request from reaching the leader; feed the old answer instead.
    c.cutOneWay(f.id, l.id);
    const s = watch(f.raft!.readBarrier(10 * ET));
    expect(sent).toHaveLength(2);
    const stale: Message = {
      type: 'read_index_resp',
      from: l.id,
      to: f.id,
      term: f.raft!.status().term,
      ctx: first.type === 'read_index' ? first.ctx : '',
      index: 0,
    };
    f.raft!.receive(stale);
    await runFor(c, 20);
    expect(s.done).toBe(false);
  });
});

/**
 * The whole-system simulation's checker catches what it claims to: each test breaks one promise
 * on purpose, in the middle of a real run, and expects the run to fail with that violation.
 */
import { describe, expect, it } from 'vitest';
import type { RedisRef } from '../../src/failover/redis.js';
import type { RaftNode } from '../../src/raft/node.js';
import { SHARD, SimSystem } from './system.js';

/** A formed group with a synced shard (the first phase of every seed). */
async function formed(seed: number): Promise<SimSystem> {
  const sys = new SimSystem({ seed });
  await sys.runFor(8000);
  return sys;
}

describe('whole-system simulation checker', () => {
  it('reports a violation raised in a promise callback (a Redis call), not only in a timer', async () => {
    const sys = await formed(1);
    const d = [...sys.daemons.values()].find(
      (x) => x.running && x.state?.shards.get(SHARD)?.pending === null,
    )!;
    const replica = [...sys.world.servers.values()].find((s) => s.masterAddr !== null)!;
    // A REPLICAOF NO ONE that no committed failover asked for: the adapter wrapper checks it
    // inside an async call, whose rejection the caller (here, nobody) would swallow.
    void d
      .redis!.reconfigure({ shard: SHARD, addr: replica.addr } as RedisRef, null, {
        rewriteConfig: false,
        timeoutMs: 1000,
      })
      .catch(() => {});
    await expect(sys.runFor(50)).rejects.toThrow(/REPLICAOF NO ONE\) with no committed failover/);
  });

  it('reports a read barrier that resolves before what was committed earlier is applied', async () => {
    const sys = await formed(2);
    // A real member's barrier passes the check.
    const leader = sys.leader()!;
    let resolved = false;
    void leader.raft!.readBarrier().then(() => {
      resolved = true;
    });
    await sys.runFor(200);
    expect(resolved).toBe(true);
    expect(sys.firstViolation).toBeNull();
    const stale = {
      readBarrier: () => Promise.resolve(),
      applied: 0,
    } as unknown as RaftNode;
    sys.checkReadBarriers(9, stale);
    await expect(stale.readBarrier()).rejects.toThrow(/read barrier on daemon 9 resolved at applied index 0/);
  });

  it('confirms writes with WAIT 1 and fails the run when one the next promoted replica held is lost, even inside the master window', async () => {
    const sys = await formed(3);
    for (let i = 0; i < 30; i++) {
      sys.clientRound();
      await sys.runFor(20);
    }
    await sys.runFor(500);
    expect(sys.durableAcks.length).toBeGreaterThan(0);
    const before = sys.leader()!.state!.shards.get(SHARD)!.master;
    sys.switchover();
    for (let i = 0; i < 100 && sys.leader()?.state?.shards.get(SHARD)?.master === before; i++)
      await sys.runFor(50);
    const promoted = sys.leader()!.state!.shards.get(SHARD)!.master!;
    expect(promoted).not.toBe(before);
    const a = sys.durableAcks.find((x) => x.holders.includes(promoted))!;
    expect(a.node).toBe(before);
    // Declare the acknowledging master's window over the write, then lose it everywhere: a plain
    // write would count as lost in a declared window; a WAIT 1 write the promoted replica held may not.
    const set = sys.acks.find((x) => x.key === a.key)!;
    sys.windows.push({ node: a.node, fromMs: set.atMs - 1, toMs: a.atMs + 1, why: 'test' });
    for (const s of sys.world.servers.values()) s.data.delete(a.key);
    await expect(sys.finish()).rejects.toThrow(
      new RegExp(`${a.key}, confirmed by WAIT 1 on ${a.node}.*${promoted} promoted next\\), is lost`),
    );
  });
});

/**
 * Linearizable reads (ReadIndex, etcd's TestReadOnlyOptionSafe family) and the lease query, on the
 * synchronous core network.
 */
import { describe, expect, it } from 'vitest';
import type { NodeId } from '../../../src/raft/types.js';
import { E, one, waitAgreedLeader } from '../../support/raft-helpers.js';
import { between, isType, RaftNet } from '../../support/raft-net.js';

const read = (net: RaftNet, id: NodeId, ctx: string) => net.with(id, (c) => c.readIndex(ctx));
const states = (net: RaftNet, id: NodeId) => net.node(id).readStates;

describe('ReadIndex', () => {
  it('a read on the leader resolves only after a heartbeat round issued after it is acknowledged by a majority', () => {
    const net = new RaftNet({ members: [1, 2, 3, 4, 5] });
    net.elect(1);
    one(net, 'x', 5);
    const commit = net.status(1).commit;
    // A heartbeat round already in flight when the read arrives does not count.
    net.tick(1, [1]);
    const old = net.queue.filter(isType('append'));
    expect(old).toHaveLength(4);
    read(net, 1, 'r1');
    const fresh = net.queue.filter(isType('append')).slice(4);
    expect(fresh.map((m) => m.to)).toEqual([2, 3, 4, 5]);
    expect(states(net, 1)).toEqual([]);
    // Deliver the old round, and its answers: not enough.
    for (const m of old) net.stepNode(m);
    net.queue = net.queue.filter((m) => !old.includes(m));
    net.deliverAll((m) => m.type === 'append_resp');
    expect(states(net, 1)).toEqual([]);
    // The new round: one answer from a follower is not a majority of five; two are.
    net.queue = net.queue.filter((m) => !fresh.includes(m));
    net.stepNode(fresh[0]!);
    net.deliverAll(isType('append_resp'));
    expect(states(net, 1)).toEqual([]);
    net.stepNode(fresh[1]!);
    net.deliverAll(isType('append_resp'));
    expect(states(net, 1)).toEqual([{ ctx: 'r1', index: commit }]);
  });

  it('a new leader answers reads only once it has committed an entry of its term', () => {
    const net = new RaftNet({ members: [1, 2, 3] });
    net.campaign(1);
    net.deliverAll(isType('prevote', 'prevote_resp', 'vote', 'vote_resp'));
    expect(net.status(1).leaderReady).toBe(false);
    read(net, 1, 'early');
    net.deliverAll((m) => m.type !== 'append' || m.entries.length === 0);
    expect(states(net, 1)).toEqual([]);
    net.stabilize();
    const noop = net.status(1).commit;
    expect(states(net, 1)).toEqual([{ ctx: 'early', index: noop }]);
  });

  it('a single voter answers at once with its commit index', () => {
    const net = new RaftNet({ members: [1, { id: 2, role: 'learner' }] });
    net.elect(1);
    one(net, 'solo', 2);
    read(net, 1, 'solo-read');
    expect(states(net, 1)).toEqual([{ ctx: 'solo-read', index: net.status(1).commit }]);
  });

  it('a partitioned old leader never resolves a read with a stale index', () => {
    for (const checkQuorum of [true, false]) {
      const net = new RaftNet({ members: [1, 2, 3], seed: 71, core: { checkQuorum } });
      net.elect(1);
      one(net, 'before', 3);
      net.isolate(1);
      read(net, 1, 'stale?');
      // The majority moves on and commits more.
      const l = waitAgreedLeader(net, [2, 3]);
      one(net, 'newer', 2);
      expect(l).not.toBe(1);
      net.tickAndStabilize(3 * E);
      // The old leader has answered nothing but failure (check-quorum: it stepped down and failed
      // the read), or nothing at all (no check-quorum: it still believes it leads).
      expect(states(net, 1).every((s) => s.index === -1)).toBe(true);
      if (checkQuorum) expect(states(net, 1)).toEqual([{ ctx: 'stale?', index: -1 }]);
      else expect(net.status(1).role).toBe('leader');
      net.heal();
      net.tickAndStabilize(2);
      expect(states(net, 1)).toEqual([{ ctx: 'stale?', index: -1 }]);
    }
  });

  it('a follower’s read is forwarded to the leader and comes back with the leader’s commit index', () => {
    const net = new RaftNet({ members: [1, 2, 3] });
    net.elect(1);
    one(net, 'a', 3);
    // The follower has not heard about the latest commit yet.
    net.propose(1, 'b');
    net.deliverAll((m) => m.type === 'append' || m.type === 'append_resp');
    const leaderCommit = net.status(1).commit;
    net.drop();
    read(net, 2, 'f1');
    expect(net.queue).toEqual([{ type: 'read_index', from: 2, to: 1, term: net.status(2).term, ctx: 'f1' }]);
    net.stabilize();
    expect(states(net, 2)).toEqual([{ ctx: 'f1', index: leaderCommit }]);
    expect(states(net, 1)).toEqual([]);
  });

  it('a forwarded read accepts an answer only from the leader it was sent to, in the term it was sent in', () => {
    const net = new RaftNet({ members: [1, 2, 3] });
    net.elect(1);
    one(net, 'a', 3);
    const term = net.status(2).term;
    const commit = net.status(1).commit;
    read(net, 2, 'q');
    net.drop();
    const answer = { type: 'read_index_resp', to: 2, ctx: 'q' } as const;
    // Not the leader it asked; a ctx it never sent; a term it was not sent in (an older one).
    net.stepNode({ ...answer, from: 3, term, index: 0 });
    net.stepNode({ ...answer, from: 1, term, ctx: 'never-sent', index: 0 });
    net.stepNode({ ...answer, from: 1, term: term - 1, index: 0 });
    expect(states(net, 2)).toEqual([]);
    // The real answer counts, once.
    net.stepNode({ ...answer, from: 1, term, index: commit });
    net.stepNode({ ...answer, from: 1, term, index: commit });
    expect(states(net, 2)).toEqual([{ ctx: 'q', index: commit }]);
    // A read forwarded in a term that ends fails at once; a late answer from that term is ignored.
    read(net, 2, 'r');
    net.drop();
    net.with(1, (c) => c.transferLeadership(3));
    net.stabilize();
    expect(net.status(2).term).toBeGreaterThan(term);
    expect(states(net, 2)).toContainEqual({ ctx: 'r', index: -1 });
    const n = states(net, 2).length;
    net.stepNode({ ...answer, ctx: 'r', from: 1, term: net.status(2).term, index: commit });
    expect(states(net, 2)).toHaveLength(n);
  });

  it('a follower without a leader fails the read at once; a member that does not lead answers a forwarded read with -1', () => {
    const net = new RaftNet({ members: [1, 2, 3] });
    read(net, 2, 'nobody');
    expect(states(net, 2)).toEqual([{ ctx: 'nobody', index: -1 }]);
    net.elect(1);
    net.stepNode({ type: 'read_index', from: 3, to: 2, term: net.status(2).term, ctx: 'misdirected' });
    expect(net.queue.find(between(2, 3, 'read_index_resp'))).toMatchObject({ ctx: 'misdirected', index: -1 });
  });

  it('pending reads fail when the leader steps down', () => {
    const net = new RaftNet({ members: [1, 2, 3] });
    net.elect(1);
    net.isolate(1);
    read(net, 1, 'r');
    read(net, 1, 's');
    net.stepNode({
      type: 'append_resp',
      from: 2,
      to: 1,
      term: 99,
      success: false,
      matchIndex: 0,
      rejectIndex: 0,
      hintIndex: 0,
      hintTerm: 0,
      seq: 0,
    });
    expect(states(net, 1)).toEqual([
      { ctx: 'r', index: -1 },
      { ctx: 's', index: -1 },
    ]);
  });
});

describe('lease', () => {
  it('a restarted voter refuses votes for an election timeout, so a leader it acknowledged keeps a safe lease', () => {
    // Without the guard: 1 leads with a lease that counts on 3; 3 restarts, forgets 1, and votes
    // for 2 at once; 2 leads while 1 still reports a valid lease. With the guard it cannot.
    for (const guard of [false, true]) {
      const net = new RaftNet({ members: [1, 2, 3], core: { startupVoteGuard: guard } });
      net.tickUntil(() => net.leader() !== undefined, 100);
      net.tickAndStabilize(E);
      const leader = net.leader()!;
      const [a, b] = [1, 2, 3].filter((x) => x !== leader) as [number, number];
      net.cutBoth(leader, a);
      net.tickAndStabilize(2);
      expect(net.core(leader).lease().valid).toBe(true);
      net.isolate(leader);
      net.restart(b);
      net.campaign(a);
      net.stabilize();
      const overlap = net.leaders().includes(a) && net.core(leader).lease().valid;
      expect(overlap).toBe(!guard);
      if (guard) {
        // After an election timeout the restarted voter votes again and the group moves on.
        net.tickUntil(() => net.leaders().includes(a) || net.leaders().includes(b), 10 * E);
        expect(net.core(leader).lease().valid).toBe(false);
      }
    }
  });

  it('a leader’s lease lapses within an election timeout after it loses its majority, before anyone else can lead', () => {
    for (const seed of [1, 2, 3, 4, 5]) {
      const net = new RaftNet({ members: [1, 2, 3, 4, 5], seed });
      net.elect(1);
      net.tickAndStabilize(3);
      const l0 = net.core(1).lease();
      expect(l0).toMatchObject({ role: 'leader', valid: true });
      expect(l0.remainingTicks).toBeGreaterThan(E - 3);
      net.isolate(1);
      let lapsedAt = -1;
      let newLeaderAt = -1;
      let prev = l0.remainingTicks;
      for (let t = 1; t <= 4 * E && newLeaderAt < 0; t++) {
        net.tickAndStabilize(1);
        const lease = net.core(1).lease();
        expect(lease.remainingTicks).toBeLessThanOrEqual(prev);
        prev = lease.remainingTicks;
        if (!lease.valid && lapsedAt < 0) lapsedAt = t;
        if (net.leaders().some((id) => id !== 1)) newLeaderAt = t;
        // Never two leaders with a valid lease.
        if (newLeaderAt > 0) expect(lease.valid).toBe(false);
      }
      expect(lapsedAt).toBeGreaterThan(0);
      expect(lapsedAt).toBeLessThanOrEqual(E);
      expect(newLeaderAt).toBeGreaterThan(lapsedAt);
    }
  });

  it('a follower’s lease never outlasts its leader’s: it ends when the leader loses its majority, though the follower still hears it', () => {
    const net = new RaftNet({ members: [1, 2, 3, 4, 5] });
    net.elect(1);
    net.tickAndStabilize(3);
    const f0 = net.core(2).lease();
    expect(f0).toMatchObject({ role: 'follower', leader: 1, valid: true });
    expect(f0.remainingTicks).toBeLessThanOrEqual(net.core(1).lease().remainingTicks);
    net.partition([1, 2], [3, 4, 5]);
    let followerLapsedAt = -1;
    for (let t = 1; t <= 3 * E; t++) {
      net.tickAndStabilize(1);
      const l = net.core(1).lease();
      const f = net.core(2).lease();
      if (f.valid) {
        expect([t, l.valid]).toEqual([t, true]);
        expect(f.remainingTicks).toBeLessThanOrEqual(l.remainingTicks);
      } else if (followerLapsedAt < 0) followerLapsedAt = t;
      // Never a valid lease in two terms at once.
      if (net.leaders().some((id) => id !== 1)) expect([t, f.valid]).toEqual([t, false]);
    }
    expect(followerLapsedAt).toBeGreaterThan(0);
    expect(followerLapsedAt).toBeLessThanOrEqual(E);
    // Without a known leader there is no lease at all.
    const fresh = new RaftNet({ members: [1, 2, 3] });
    expect(fresh.core(2).lease()).toEqual({
      role: 'follower',
      term: 1,
      leader: 0,
      valid: false,
      remainingTicks: 0,
    });
  });

  it('a follower’s lease counts from a tick of its own that precedes the leader’s message, so a delayed heartbeat does not stretch it', () => {
    const net = new RaftNet({ members: [1, 2, 3] });
    net.elect(1);
    net.tickAndStabilize(3);
    // A heartbeat to 2 is held back in the network for most of an election timeout.
    net.tick(1, [1]);
    const late = net.queue.find(between(1, 2, 'append'))!;
    net.drop((m) => m === late);
    net.stabilize();
    const leaseAtSend = net.core(1).lease().remainingTicks;
    net.isolate(1);
    net.tick(E - 3, [2]);
    net.drop();
    net.stepNode(late);
    net.drop();
    // The leader's lease is nearly gone by now; 2's cannot be longer.
    const l = net.core(1).lease();
    expect(l.remainingTicks).toBeLessThanOrEqual(leaseAtSend);
    const f = net.core(2).lease();
    expect(f.remainingTicks).toBeLessThanOrEqual(Math.max(0, leaseAtSend - (E - 3)));
  });

  it('a leader with no acknowledgement yet has no lease; the lease counts from when the acknowledged heartbeat was sent', () => {
    const net = new RaftNet({ members: [1, 2, 3] });
    net.campaign(1);
    net.deliverAll(isType('prevote', 'prevote_resp', 'vote', 'vote_resp'));
    expect(net.core(1).lease()).toMatchObject({ role: 'leader', valid: false });
    // A heartbeat sent now and answered 4 ticks later buys a lease from the sending tick only.
    net.drop();
    net.tick(1, [1]);
    const beats = net.queue.filter(isType('append'));
    net.drop();
    net.tick(4, [1]);
    net.drop();
    for (const b of beats) net.stepNode(b);
    net.deliverAll(isType('append_resp'));
    const margin = 1;
    expect(net.core(1).lease()).toMatchObject({ valid: true, remainingTicks: E - margin - 4 });
  });
});

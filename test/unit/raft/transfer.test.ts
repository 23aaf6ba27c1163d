/**
 * Leadership transfer (TimeoutNow), after etcd's TestLeaderTransfer* family, on the synchronous
 * core network with the default pre-vote and check-quorum.
 */
import { describe, expect, it } from 'vitest';
import type { NodeId } from '../../../src/raft/types.js';
import { RaftError } from '../../../src/raft/types.js';
import { agreedLeader, E, one, waitAgreedLeader } from '../../support/raft-helpers.js';
import { between, isType, RaftNet } from '../../support/raft-net.js';

function errorOf(fn: () => unknown): RaftError {
  try {
    fn();
  } catch (e) {
    if (e instanceof RaftError) return e;
    throw e;
  }
  throw new Error('expected a RaftError');
}

/** 1 leads a group of three voters (and whatever else is given). */
function group(extra: { id: NodeId; role: 'learner' | 'witness' }[] = [], seed = 1) {
  const net = new RaftNet({ members: [1, 2, 3, ...extra], seed });
  net.elect(1);
  net.tickAndStabilize(1);
  return net;
}

const transfer = (net: RaftNet, from: NodeId, to: NodeId) => net.with(from, (c) => c.transferLeadership(to));

describe('LeaderTransfer', () => {
  it('LeaderTransferToUpToDateNode: leadership moves to an up-to-date follower, and back', () => {
    const net = group();
    const term = net.status(1).term;
    net.recordMessages = true;
    net.resetStats();
    transfer(net, 1, 2);
    // Up to date already: TimeoutNow goes out at once.
    expect(net.queue.filter(isType('timeout_now'))).toMatchObject([
      { type: 'timeout_now', from: 1, to: 2, term },
    ]);
    net.stabilize();
    expect(net.status(2)).toMatchObject({ role: 'leader', term: term + 1 });
    expect(net.status(1)).toMatchObject({ role: 'follower', leader: 2, transferee: 0 });
    // The transferee skipped pre-vote and its votes bypassed the voters' leases.
    expect(
      net.log.filter((m) => m.type === 'vote' && m.from === 2).every((m) => m.type === 'vote' && m.transfer),
    ).toBe(true);
    expect(net.count('prevote')).toBe(0);
    net.tickAndStabilize(1);
    transfer(net, 2, 1);
    net.stabilize();
    expect(net.status(1)).toMatchObject({ role: 'leader', term: term + 2 });
    one(net, 'after', 3);
  });

  it('LeaderTransferToSlowFollower: a lagging target first catches up, then gets TimeoutNow', () => {
    const net = group();
    net.isolate(3);
    for (let k = 0; k < 20; k++) net.propose(1, `v${k}`);
    net.stabilize();
    net.heal();
    net.recordMessages = true;
    transfer(net, 1, 3);
    expect(net.status(1).transferee).toBe(3);
    expect(net.queue.filter(isType('timeout_now'))).toEqual([]);
    // Catch-up appends go out first (from the next heartbeat exchange, which reveals that the
    // appends sent while 3 was cut off were lost); TimeoutNow only once 3 matches the leader's log.
    net.tickAndStabilize(2);
    const sent = net.log.filter((m) => m.to === 3 && (m.type === 'append' || m.type === 'timeout_now'));
    const tnAt = sent.findIndex((m) => m.type === 'timeout_now');
    expect(tnAt).toBeGreaterThan(0);
    expect(sent.slice(0, tnAt).some((m) => m.type === 'append' && m.entries.length > 0)).toBe(true);
    expect(net.status(3).role).toBe('leader');
    expect(net.node(3).values).toEqual(Array.from({ length: 20 }, (_, k) => `v${k}`));
  });

  it('LeaderTransferAfterSnapshot: a target behind the compaction point gets the snapshot, then leads', () => {
    const net = new RaftNet({ members: [1, 2, 3], core: { snapshotChunkBytes: 64 }, snapshotPadding: 300 });
    net.elect(1);
    net.isolate(3);
    for (let k = 0; k < 10; k++) net.propose(1, `s${k}`);
    net.stabilize();
    net.compact(1);
    net.heal();
    net.recordMessages = true;
    transfer(net, 1, 3);
    net.tickAndStabilize(3);
    expect(net.count('snapshot')).toBeGreaterThan(3);
    expect(net.node(3).snapshotsInstalled).toBe(1);
    expect(net.status(3).role).toBe('leader');
  });

  it('LeaderTransferToSelf: a no-op; the leader stays and keeps accepting proposals', () => {
    const net = group();
    const term = net.status(1).term;
    transfer(net, 1, 1);
    expect(net.queue).toEqual([]);
    expect(net.status(1)).toMatchObject({ role: 'leader', term, transferee: 0 });
    expect(() => net.propose(1, 'still')).not.toThrow();
  });

  it('LeaderTransferBack: a transfer to self cancels a pending transfer', () => {
    const net = group();
    net.isolate(3);
    transfer(net, 1, 3);
    expect(net.status(1).transferee).toBe(3);
    transfer(net, 1, 1);
    expect(net.status(1).transferee).toBe(0);
    expect(() => net.propose(1, 'accepted again')).not.toThrow();
    net.heal();
    net.tickAndStabilize(3 * E);
    expect(net.status(1).role).toBe('leader');
  });

  it('LeaderTransferToNonExistingNode / to a learner: refused', () => {
    const net = group([{ id: 4, role: 'learner' }]);
    expect(errorOf(() => transfer(net, 1, 9))).toMatchObject({ code: 'unknown_member' });
    expect(errorOf(() => transfer(net, 1, 4))).toMatchObject({ code: 'invalid_request' });
    expect(net.status(1)).toMatchObject({ role: 'leader', transferee: 0 });
    // Learners ignore TimeoutNow even if one reaches them.
    net.stepNode({ type: 'timeout_now', from: 1, to: 4, term: net.status(4).term });
    expect(net.status(4).role).toBe('follower');
    expect(net.queue).toEqual([]);
  });

  it('LeaderTransferToWitness: a witness is a voter and may take over', () => {
    const net = group([{ id: 4, role: 'witness' }]);
    transfer(net, 1, 4);
    net.stabilize();
    expect(net.status(4).role).toBe('leader');
  });

  it('only the leader can transfer; a follower says who leads', () => {
    const net = group();
    expect(errorOf(() => transfer(net, 2, 3))).toMatchObject({ code: 'not_leader', leader: 1 });
  });

  it('LeaderTransferIgnoreProposal: proposals and config changes are refused while a transfer is pending', () => {
    const net = group();
    net.isolate(3);
    transfer(net, 1, 3);
    expect(errorOf(() => net.propose(1, 'x'))).toMatchObject({ code: 'transfer_in_progress', leader: 1 });
    expect(
      errorOf(() =>
        net.with(1, (c) => c.proposeConfigChange({ type: 'add', id: 5, role: 'learner', addr: 'n5' })),
      ),
    ).toMatchObject({ code: 'transfer_in_progress' });
    expect(net.status(1).lastIndex).toBe(net.status(2).lastIndex);
  });

  it('LeaderTransferTimeout: an unreachable target; the transfer aborts after an election timeout', () => {
    const net = group();
    net.isolate(3);
    transfer(net, 1, 3);
    let ticks = 0;
    while (net.status(1).transferee !== 0) {
      net.tickAndStabilize(1);
      ticks++;
      expect(ticks).toBeLessThanOrEqual(E);
    }
    expect(ticks).toBe(E);
    expect(net.status(1).role).toBe('leader');
    expect(() => net.propose(1, 'accepted again')).not.toThrow();
    net.stabilize();
  });

  it('LeaderTransferSecondTransferToSameNode: repeating the request does not extend the timeout', () => {
    const net = group();
    net.isolate(3);
    transfer(net, 1, 3);
    net.tickAndStabilize(E - 2);
    transfer(net, 1, 3);
    net.tickAndStabilize(2);
    expect(net.status(1).transferee).toBe(0);
  });

  it('LeaderTransferSecondTransferToAnotherNode: a second transfer replaces the first', () => {
    const net = group();
    net.isolate(3);
    transfer(net, 1, 3);
    transfer(net, 1, 2);
    expect(net.status(1).transferee).toBe(2);
    net.stabilize();
    expect(net.status(2).role).toBe('leader');
    net.heal();
    net.tickAndStabilize(3 * E);
    expect(waitAgreedLeader(net)).toBe(2);
  });

  it('LeaderTransferReceiveHigherTermVote: a higher-term election during a transfer ends it', () => {
    const net = new RaftNet({ members: [1, 2, 3], core: { checkQuorum: false, preVote: false } });
    net.elect(1);
    net.isolate(3);
    transfer(net, 1, 3);
    net.campaign(2);
    net.stabilize();
    expect(net.status(2).role).toBe('leader');
    expect(net.status(1)).toMatchObject({ role: 'follower', transferee: 0 });
  });

  it('the old leader’s lease is invalid from the moment TimeoutNow is sent', () => {
    const net = group();
    expect(net.core(1).lease().valid).toBe(true);
    transfer(net, 1, 2);
    expect(net.queue.some(between(1, 2, 'timeout_now'))).toBe(true);
    expect(net.core(1).lease()).toMatchObject({ role: 'leader', valid: false, remainingTicks: 0 });
  });

  it('the lease stays invalid after a transfer is called off while its TimeoutNow can still elect the target', () => {
    for (const callOff of ['abort', 'back-to-self'] as const) {
      const net = new RaftNet({ members: [1, 2, 3, 4, 5] });
      net.elect(1);
      net.tickAndStabilize(2);
      transfer(net, 1, 2);
      const tn = net.queue.find(between(1, 2, 'timeout_now'))!;
      expect(tn).toBeDefined();
      net.drop((m) => m === tn); // delayed in the network
      if (callOff === 'abort') net.with(1, (c) => c.abortTransfer());
      if (callOff === 'back-to-self') transfer(net, 1, 1);
      expect([callOff, net.status(1).transferee]).toEqual([callOff, 0]);
      expect([callOff, net.core(1).lease().valid]).toEqual([callOff, false]);
      // The late TimeoutNow arrives before 2 heard anything newer from 1; the voters' leases do
      // not stop a transfer campaign.
      net.cut(2, 1);
      net.stepNode(tn);
      net.stabilize();
      expect(net.status(2).role).toBe('leader');
      // 1 has not heard of it yet and still believes it leads: its lease must not say otherwise.
      expect(net.status(1).role).toBe('leader');
      expect([callOff, net.core(1).lease().valid]).toEqual([callOff, false]);
    }
  });

  it('a called-off transfer gives the lease back once the target acknowledged a later heartbeat; the late TimeoutNow is then ignored', () => {
    for (const callOff of ['abort', 'back-to-self', 'timeout'] as const) {
      const net = new RaftNet({ members: [1, 2, 3, 4, 5] });
      net.elect(1);
      net.tickAndStabilize(2);
      const term = net.status(1).term;
      transfer(net, 1, 2);
      const tn = net.queue.find(between(1, 2, 'timeout_now'))!;
      net.drop((m) => m === tn);
      if (callOff === 'abort') net.with(1, (c) => c.abortTransfer());
      if (callOff === 'back-to-self') transfer(net, 1, 1);
      if (callOff === 'timeout') net.tickAndStabilize(E);
      expect(net.status(1).transferee).toBe(0);
      // Heartbeats after the TimeoutNow reach the target and a majority, and are answered.
      net.tickUntil(() => net.core(1).lease().valid, 3 * E);
      expect([callOff, net.core(1).lease().valid]).toEqual([callOff, true]);
      // Now the stale TimeoutNow arrives: overtaken, it starts no election.
      net.stepNode(tn);
      net.stabilize();
      expect([callOff, net.status(2)]).toMatchObject([callOff, { role: 'follower', term, leader: 1 }]);
      expect(net.status(1)).toMatchObject({ role: 'leader', term });
      expect(net.core(1).lease().valid).toBe(true);
    }
  });

  it('a TimeoutNow addressed to an earlier run of the target is ignored after it restarts', () => {
    const net = new RaftNet({ members: [1, 2, 3, 4, 5] });
    net.elect(1);
    net.tickAndStabilize(2);
    const term = net.status(1).term;
    transfer(net, 1, 2);
    const tn = net.queue.find(between(1, 2, 'timeout_now'))!;
    net.drop((m) => m === tn);
    net.restart(2);
    // The restarted target hears from its leader again (the stale TimeoutNow carries a seq no
    // lower than what it has seen in this run), yet the TimeoutNow was for its previous run.
    net.tickUntil(() => net.status(2).leader === 1, 3 * E);
    net.drop();
    net.stepNode(tn);
    net.stabilize();
    expect(net.status(2)).toMatchObject({ role: 'follower', term, leader: 1 });
  });

  it('a leader elected by a transfer holds no lease for an election timeout, while members that did not vote may hold one from the old leader', () => {
    const net = new RaftNet({ members: [1, 2, 3, 4, 5] });
    net.elect(1);
    net.tickAndStabilize(3);
    expect(net.core(5).lease()).toMatchObject({ role: 'follower', leader: 1, valid: true });
    // 5 hears neither 2's campaign nor 2 as leader for a while.
    net.cutBoth(2, 5);
    transfer(net, 1, 2);
    net.stabilize();
    expect(net.status(2).role).toBe('leader');
    let overlap = 0;
    for (let t = 0; t < E; t++) {
      const a = net.core(2).lease();
      const b = net.core(5).lease();
      if (a.valid && b.valid && b.term < a.term) overlap++;
      net.tickAndStabilize(1);
    }
    expect(overlap).toBe(0);
    net.tickAndStabilize(2);
    expect(net.core(2).lease().valid).toBe(true);
  });

  it('a TimeoutNow from an old term is ignored', () => {
    const net = group();
    const term = net.status(2).term;
    net.stepNode({ type: 'timeout_now', from: 3, to: 2, term: term - 1 });
    expect(net.status(2)).toMatchObject({ role: 'follower', term, leader: 1 });
  });

  it('transfers under churn: leadership moves around the group and every committed value survives', () => {
    const net = new RaftNet({ members: [1, 2, 3, 4, 5], seed: 9 });
    const want: string[] = [];
    let l = waitAgreedLeader(net);
    for (let k = 0; k < 12; k++) {
      const target = net.ids()[(net.ids().indexOf(l) + 1 + (k % 4)) % 5]!;
      if (k % 3 === 0) {
        // Make the target lag behind first.
        net.isolate(target);
        net.propose(l, `lag${k}`);
        want.push(`lag${k}`);
        net.stabilize();
        net.heal();
      }
      transfer(net, l, target);
      net.tickUntil(() => agreedLeader(net) === target, 3 * E);
      l = target;
      one(net, `t${k}`, 5);
      want.push(`t${k}`);
    }
    for (const id of net.ids()) expect(net.node(id).values).toEqual(want);
  });
});

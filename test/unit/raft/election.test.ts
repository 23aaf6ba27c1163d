/**
 * Leader election: the Raft paper's §5.2 claims (after etcd's raft_paper_test.go), the MIT 6.824
 * 2A tests, and etcd's scenario tests for pre-vote and check-quorum, on the synchronous core
 * network (test/support/raft-net.ts).
 */
import { describe, expect, it } from 'vitest';
import { RaftCore } from '../../../src/raft/core.js';
import { encodeConfigRecord, initialMembership } from '../../../src/raft/membership.js';
import { tickPlan } from '../../../src/raft/node.js';
import type { Message, NodeId, VoteRequest } from '../../../src/raft/types.js';
import { seededRandom } from '../../../src/util/random.js';
import { agreedLeader, E, waitAgreedLeader } from '../../support/raft-helpers.js';
import { between, isType, RaftNet } from '../../support/raft-net.js';

describe('MIT 2A', () => {
  it('InitialElection: three peers elect exactly one leader, and with no failures the term stays put', () => {
    const net = new RaftNet({ members: [1, 2, 3], seed: 11 });
    expect(net.upIds().every((id) => net.status(id).role === 'follower')).toBe(true);
    const ticks = net.tickUntil(() => net.leader() !== undefined, 4 * E);
    // No one campaigns before a full election timeout, and the first timeout fires within 2 × E.
    expect(ticks).toBeGreaterThanOrEqual(E);
    expect(ticks).toBeLessThanOrEqual(2 * E);
    const l = waitAgreedLeader(net, [1, 2, 3]);
    const term = net.status(l).term;
    expect(term).toBeGreaterThanOrEqual(2);
    expect(net.leaders()).toEqual([l]);
    // Two election timeouts (and more) without failures: no new election.
    net.tickAndStabilize(4 * E);
    expect(agreedLeader(net, [1, 2, 3])).toBe(l);
    expect(net.status(l).term).toBe(term);
    expect([...net.leadersByTerm().keys()]).toEqual([term]);
  });

  it('ReElection: a new leader after the leader is cut off; the old one rejoins quietly; no leader without a quorum', () => {
    const net = new RaftNet({ members: [1, 2, 3], seed: 12 });
    const l1 = waitAgreedLeader(net, [1, 2, 3]);
    net.isolate(l1);
    const rest = [1, 2, 3].filter((id) => id !== l1);
    const l2 = waitAgreedLeader(net, rest);
    expect(l2).not.toBe(l1);
    // Check-quorum: the cut-off leader stepped down by itself.
    expect(net.status(l1).role).not.toBe('leader');

    // The old leader rejoins: it must not disturb the new one.
    const term2 = net.status(l2).term;
    net.heal();
    net.tickAndStabilize(4 * E);
    expect(agreedLeader(net, [1, 2, 3])).toBe(l2);
    expect(net.status(l2).term).toBe(term2);

    // No quorum: no leader among the connected.
    const [a, b] = [1, 2, 3].filter((id) => id !== l2) as [NodeId, NodeId];
    net.isolate(l2);
    net.isolate(a);
    net.tickAndStabilize(6 * E);
    expect(net.leaders()).toEqual([]);

    // Quorum restored (a and b connected again, l2 still cut off): a leader again.
    net.heal();
    net.isolate(l2);
    const l3 = waitAgreedLeader(net, [a, b]);
    expect([a, b]).toContain(l3);
    net.heal();
    expect(waitAgreedLeader(net, [1, 2, 3])).toBe(l3);
  });

  it('ManyElections: seven peers, three random ones cut off again and again: always one leader among the connected', () => {
    const net = new RaftNet({ members: [1, 2, 3, 4, 5, 6, 7], seed: 13 });
    const rnd = seededRandom(1313);
    waitAgreedLeader(net, net.ids());
    const terms: number[] = [];
    for (let iter = 0; iter < 10; iter++) {
      const ids = net.ids();
      const cut: NodeId[] = [];
      while (cut.length < 3) {
        const id = ids[rnd.int(ids.length)]!;
        if (!cut.includes(id)) cut.push(id);
      }
      for (const id of cut) net.isolate(id);
      const connected = ids.filter((id) => !cut.includes(id));
      const l = waitAgreedLeader(net, connected);
      expect(connected).toContain(l);
      terms.push(net.status(l).term);
      net.heal();
    }
    // Election safety was checked on every Ready by the harness; terms only grow.
    expect([...terms].sort((x, y) => x - y)).toEqual(terms);
    expect(waitAgreedLeader(net, net.ids())).toBeDefined();
  });
});

describe('paper §5.1-5.2 (etcd raft_paper_test)', () => {
  it('StartAsFollower and FollowerElectionTimeoutRandomized: a timeout is drawn from [E, 1.5E)', () => {
    const seen = new Set<number>();
    for (let seed = 1; seed <= 40; seed++) {
      const net = new RaftNet({ members: [1, 2, 3], seed, core: { preVote: false } });
      expect(net.status(1).role).toBe('follower');
      let t = 0;
      while (net.status(1).role === 'follower') {
        net.tick(1, [1]);
        t++;
      }
      expect(net.status(1).role).toBe('candidate');
      expect(t).toBeGreaterThanOrEqual(E);
      expect(t).toBeLessThan(1.5 * E);
      seen.add(t);
    }
    // Randomized: not one fixed value.
    expect(seen.size).toBeGreaterThan(3);
  });

  it('FollowerStartElection: on timeout a follower votes for itself in a new term and asks every other voter', () => {
    const net = new RaftNet({ members: [1, 2, 3], core: { preVote: false } });
    net.recordMessages = true;
    net.tickUntil(
      () =>
        net.status(1).role !== 'follower' ||
        net.status(2).role !== 'follower' ||
        net.status(3).role !== 'follower',
      3 * E,
    );
    const c = net.upIds().find((id) => net.status(id).role !== 'follower');
    // tickUntil stabilizes, so the election is over: the candidate won in term 2 with its own vote.
    expect(c).toBeDefined();
    const votes = net.log.filter((m) => m.type === 'vote' && m.from === c) as VoteRequest[];
    expect(votes.map((m) => m.to).sort()).toEqual([1, 2, 3].filter((id) => id !== c));
    expect(votes.every((m) => m.term === 2 && m.lastLogIndex === 1 && m.lastLogTerm === 1)).toBe(true);
    expect(net.status(c!).vote).toBe(c);
    expect(net.node(c!).storage.hardState).toMatchObject({ term: 2, vote: c });
  });

  it('PreVote: a pre-candidate asks for term + 1 without changing its own term or vote', () => {
    const net = new RaftNet({ members: [1, 2, 3] });
    net.recordMessages = true;
    net.campaign(1);
    expect(net.status(1)).toMatchObject({ role: 'precandidate', term: 1, vote: 0 });
    expect(net.queue.map((m) => [m.type, m.to, m.term])).toEqual([
      ['prevote', 2, 2],
      ['prevote', 3, 2],
    ]);
    net.deliver(between(1, 2));
    // The voter does not change its term or vote for a pre-vote.
    expect(net.status(2)).toMatchObject({ term: 1, vote: 0 });
    net.stabilize();
    expect(net.status(1)).toMatchObject({ role: 'leader', term: 2 });
  });

  it('LeaderElectionInOneRoundRPC: the outcome of one round of votes for group sizes 1, 3 and 5', () => {
    const cases: [number, Record<number, boolean>, 'leader' | 'candidate' | 'follower'][] = [
      [1, {}, 'leader'],
      [3, { 2: true, 3: true }, 'leader'],
      [3, { 2: true }, 'leader'],
      [5, { 2: true, 3: true, 4: true, 5: true }, 'leader'],
      [5, { 2: true, 3: true, 4: true }, 'leader'],
      [5, { 2: true, 3: true }, 'leader'],
      // Not enough answers yet: still a candidate.
      [3, {}, 'candidate'],
      [5, { 2: true }, 'candidate'],
      [5, { 2: false, 3: false }, 'candidate'],
      [5, {}, 'candidate'],
      // A majority refused: back to follower.
      [3, { 2: false, 3: false }, 'follower'],
      [5, { 2: true, 3: false, 4: false, 5: false }, 'follower'],
    ];
    for (const [size, answers, want] of cases) {
      const ids = Array.from({ length: size }, (_, i) => i + 1);
      const net = new RaftNet({ members: ids, core: { preVote: false } });
      net.campaign(1);
      net.drop();
      for (const [id, granted] of Object.entries(answers)) {
        net.stepNode({ type: 'vote_resp', from: Number(id), to: 1, term: 2, granted });
      }
      expect([size, answers, net.status(1).role]).toEqual([size, answers, want]);
      expect(net.status(1).term).toBe(2);
    }
  });

  it('FollowerVote: a voter grants at most one vote per term (first come, first served)', () => {
    const cases: [vote: NodeId, from: NodeId, granted: boolean][] = [
      [0, 2, true],
      [0, 3, true],
      [2, 2, true],
      [3, 3, true],
      [2, 3, false],
      [3, 2, false],
    ];
    for (const [vote, from, granted] of cases) {
      const net = new RaftNet({ members: [1, 2, 3], core: { preVote: false } });
      net.node(1).storage.hardState = { term: 1, vote, commit: 0 };
      net.restart(1);
      net.stepNode({ type: 'vote', from, to: 1, term: 1, lastLogIndex: 1, lastLogTerm: 1, transfer: false });
      const resp = net.queue.find(isType('vote_resp'));
      expect([vote, from, resp]).toEqual([
        vote,
        from,
        { type: 'vote_resp', from: 1, to: from, term: 1, granted },
      ]);
      expect(net.status(1).vote).toBe(granted ? from : vote);
    }
  });

  it('Voter: votes only for a candidate whose log is at least as up-to-date (§5.4.1)', () => {
    // Voter log: index 2 term 2, index 3 term 2 (after the bootstrap entry 1/1).
    const cases: [lastIndex: number, lastTerm: number, granted: boolean][] = [
      [3, 2, true], // same
      [4, 2, true], // longer, same term
      [2, 2, false], // shorter, same last term
      [1, 3, true], // higher last term wins even when shorter
      [9, 1, false], // longer but older last term
    ];
    for (const [lastLogIndex, lastLogTerm, granted] of cases) {
      const net = new RaftNet({ members: [1, 2, 3], core: { preVote: false } });
      net.setLog(1, [2, 2], 2);
      net.stepNode({ type: 'vote', from: 2, to: 1, term: 3, lastLogIndex, lastLogTerm, transfer: false });
      const resp = net.queue.find(isType('vote_resp'));
      expect([lastLogIndex, lastLogTerm, resp?.type === 'vote_resp' && resp.granted]).toEqual([
        lastLogIndex,
        lastLogTerm,
        granted,
      ]);
      // Either way the voter adopted the higher term.
      expect(net.status(1).term).toBe(3);
    }
  });

  it('FollowerUpdateTermFromMessage: every role adopts a higher term from any message and becomes follower', () => {
    for (const role of ['follower', 'candidate', 'leader'] as const) {
      const net = new RaftNet({ members: [1, 2, 3], core: { preVote: false, checkQuorum: false } });
      if (role === 'candidate') net.campaign(1);
      if (role === 'leader') net.elect(1);
      net.drop();
      const before = net.status(1).term;
      net.stepNode({
        type: 'append',
        from: 2,
        to: 1,
        term: 9,
        prevIndex: 0,
        prevTerm: 0,
        entries: [],
        commit: 0,
        seq: 0,
      });
      expect([role, net.status(1).term, net.status(1).role, net.status(1).leader]).toEqual([
        role,
        9,
        'follower',
        2,
      ]);
      expect(before).toBeLessThan(9);
    }
  });

  it('RejectStaleTermMessage: older-term appends are answered with our term, older votes are ignored', () => {
    const net = new RaftNet({ members: [1, 2, 3] });
    net.elect(1);
    net.drop();
    const term = net.status(2).term;
    net.stepNode({
      type: 'append',
      from: 3,
      to: 2,
      term: term - 1,
      prevIndex: 1,
      prevTerm: 1,
      entries: [],
      commit: 1,
      seq: 0,
    });
    expect(net.queue).toEqual([
      expect.objectContaining({ type: 'append_resp', to: 3, term, success: false }),
    ]);
    net.drop();
    net.stepNode({
      type: 'vote',
      from: 3,
      to: 2,
      term: term - 1,
      lastLogIndex: 99,
      lastLogTerm: 99,
      transfer: false,
    });
    expect(net.queue).toEqual([]);
    expect(net.status(2)).toMatchObject({ term, leader: 1, role: 'follower' });
  });

  it('CandidateFallback: a candidate that hears from a leader of its term becomes its follower', () => {
    const net = new RaftNet({ members: [1, 2, 3], core: { preVote: false } });
    net.campaign(1);
    net.drop();
    expect(net.status(1)).toMatchObject({ role: 'candidate', term: 2 });
    net.stepNode({
      type: 'append',
      from: 2,
      to: 1,
      term: 2,
      prevIndex: 1,
      prevTerm: 1,
      entries: [],
      commit: 0,
      seq: 1,
    });
    expect(net.status(1)).toMatchObject({ role: 'follower', term: 2, leader: 2 });
  });

  it('campaign() on a leader is ignored (etcd: MsgHup on a leader), so nothing is left half-abandoned', () => {
    const net = new RaftNet({ members: [1, 2, 3] });
    net.elect(1);
    const term = net.status(1).term;
    net.with(1, (c) => c.readIndex('pending'));
    net.campaign(1);
    expect(net.status(1)).toMatchObject({ role: 'leader', term });
    net.stabilize();
    expect(net.node(1).readStates).toEqual([{ ctx: 'pending', index: net.status(1).commit }]);
    expect(net.leadersByTerm().size).toBe(1);
  });

  it('LeaderBcastBeat: a leader sends a heartbeat to every member each heartbeat interval', () => {
    const net = new RaftNet({ members: [1, 2, 3, { id: 4, role: 'learner' }], core: { heartbeatTicks: 3 } });
    net.elect(1);
    for (let round = 0; round < 3; round++) {
      net.tick(2, [1]);
      expect(net.queue).toEqual([]);
      net.tick(1, [1]);
      const beats = net.queue.filter((m) => m.type === 'append' && m.entries.length === 0);
      expect(beats.map((m) => m.to).sort()).toEqual([2, 3, 4]);
      net.stabilize();
    }
  });
});

describe('etcd scenarios: pre-vote and check-quorum', () => {
  it('DuelingCandidates: two candidates, one wins; the loser with a short log cannot win later', () => {
    const net = new RaftNet({ members: [1, 2, 3], core: { preVote: false, checkQuorum: false } });
    net.cutBoth(1, 3);
    net.campaign(1);
    net.campaign(3);
    net.stabilize();
    // 1 wins with 2's vote; 3 got a refusal from 2 and nothing from 1: still a candidate.
    expect(net.status(1)).toMatchObject({ role: 'leader', term: 2 });
    expect(net.status(2)).toMatchObject({ role: 'follower', term: 2, leader: 1 });
    expect(net.status(3)).toMatchObject({ role: 'candidate', term: 2 });
    net.heal();
    // 3 campaigns again in term 3: it deposes 1 (no check-quorum) but both refuse it: its log is shorter.
    net.campaign(3);
    net.stabilize();
    for (const id of [1, 2, 3]) expect(net.status(id)).toMatchObject({ role: 'follower', term: 3 });
    expect(net.status(1).lastIndex).toBeGreaterThan(net.status(3).lastIndex);
    // Afterwards 1 or 2 (never 3) leads.
    const l = waitAgreedLeader(net, [1, 2, 3]);
    expect([1, 2]).toContain(l);
  });

  it('DuelingPreCandidates: with pre-vote the losing candidate never raises anyone’s term', () => {
    const net = new RaftNet({ members: [1, 2, 3], core: { preVote: true, checkQuorum: false } });
    net.cutBoth(1, 3);
    net.campaign(1);
    net.stabilize();
    // 3 campaigns after 1 won: 2 refuses its pre-vote (2 has a leader, and a longer log).
    net.campaign(3);
    net.stabilize();
    expect(net.status(1)).toMatchObject({ role: 'leader', term: 2 });
    expect(net.status(2)).toMatchObject({ role: 'follower', term: 2 });
    // The refusal carries 2's term: 3 catches up to the leader's term, never beyond it.
    expect(net.status(3)).toMatchObject({ role: 'follower', term: 2 });
    net.heal();
    net.campaign(3);
    net.stabilize();
    expect(net.status(1)).toMatchObject({ role: 'leader', term: 2 });
    expect(net.status(2)).toMatchObject({ role: 'follower', term: 2, leader: 1 });
    expect(net.status(3).term).toBe(2);
    expect(net.leadersByTerm().size).toBe(1);
    net.tickAndStabilize(1);
    expect(net.status(3)).toMatchObject({ role: 'follower', term: 2, leader: 1 });
  });

  it('LeaderStepdownWhenQuorumLost: with check-quorum a leader cut off from the majority steps down within an election timeout', () => {
    const net = new RaftNet({ members: [1, 2, 3], core: { checkQuorum: true } });
    net.elect(1);
    // With its quorum it stays leader indefinitely.
    net.tickAndStabilize(5 * E);
    expect(net.status(1).role).toBe('leader');
    const term = net.status(1).term;
    net.isolate(1);
    let ticks = 0;
    while (net.status(1).role === 'leader') {
      net.tick(1, [1]);
      net.drop();
      ticks++;
      expect(ticks).toBeLessThanOrEqual(E);
    }
    expect(ticks).toBeGreaterThanOrEqual(E - 1);
    expect(net.status(1)).toMatchObject({ role: 'follower', term, leader: 0 });

    // Without check-quorum, it would lead forever.
    const blind = new RaftNet({ members: [1, 2, 3], core: { checkQuorum: false } });
    blind.elect(1);
    blind.isolate(1);
    blind.tick(10 * E, [1]);
    expect(blind.status(1).role).toBe('leader');
  });

  it('FreeStuckCandidateWithCheckQuorum: a candidate with a higher term rejoins; the leader learns its term and a real leader emerges', () => {
    const net = new RaftNet({ members: [1, 2, 3], core: { preVote: false, checkQuorum: true } });
    net.elect(1);
    net.isolate(3);
    net.campaign(3);
    net.campaign(3);
    net.drop();
    expect(net.status(3)).toMatchObject({ role: 'candidate', term: 4 });
    expect(net.status(1)).toMatchObject({ role: 'leader', term: 2 });
    net.heal();
    // The leader's next heartbeat reaches 3, which answers with its higher term: the leader steps down.
    net.tick(1, [1]);
    net.stabilize();
    expect(net.status(1)).toMatchObject({ role: 'follower', term: 4 });
    expect(net.status(3).term).toBe(4);
    // The cluster recovers with a leader whose term is at least the stuck candidate's.
    const l = waitAgreedLeader(net, [1, 2, 3]);
    expect(l).not.toBe(3); // its log is behind
    expect(net.status(l).term).toBeGreaterThanOrEqual(4);
  });

  describe('pre-vote tie-break', () => {
    it('two survivors that start pre-voting at the same moment do not split the vote: the lower id wins in the next term', () => {
      const net = new RaftNet({ members: [1, 2, 3], seed: 7 });
      net.elect(1);
      net.tickAndStabilize(2);
      const term = net.status(1).term;
      net.crash(1);
      // Both time out in the same instant: each pre-vote request is in flight while the other
      // is already a pre-candidate.
      net.campaign(3);
      net.campaign(2);
      net.stabilize();
      expect(net.status(2).role).toBe('leader');
      expect(net.status(2).term).toBe(term + 1);
      expect(net.status(3)).toMatchObject({ role: 'follower', leader: 2, term: term + 1 });
      expect([...net.leadersByTerm()]).toEqual([
        [term, 1],
        [term + 1, 2],
      ]);
    });

    it('a member that can never win (so stays a pre-candidate) does not keep a higher id from winning', () => {
      // Five members, 1 and 5 down; 2 reaches only 3, and 4 reaches only 3. Only 3 can gather
      // three votes (its own, 2's and 4's); 2 keeps pre-voting forever with two at most.
      const net = new RaftNet({ members: [1, 2, 3, 4, 5], seed: 8 });
      net.elect(1);
      net.tickAndStabilize(2);
      net.crash(1);
      net.crash(5);
      net.cutBoth(2, 4);
      net.tickUntil(() => net.status(3).role === 'leader', 20 * E);
      expect(net.status(2).role).not.toBe('leader');
    });
  });

  describe('DisruptiveFollower', () => {
    /** Elect 1, cut 3 off until its election timer fires, then reconnect it. */
    function rejoin(preVote: boolean, checkQuorum: boolean) {
      const net = new RaftNet({ members: [1, 2, 3], seed: 5, core: { preVote, checkQuorum } });
      net.elect(1);
      net.tickAndStabilize(2);
      const term = net.status(1).term;
      net.isolate(3);
      // The group carries on without it.
      net.propose(1, 'while-3-was-away');
      // Keep 1 and 2 in touch while 3's timer runs out (at most 2E).
      for (let t = 0; t < 2 * E; t++) {
        net.tick(1);
        net.stabilize();
      }
      const isolatedTerm = net.status(3).term;
      net.heal();
      net.tickAndStabilize(3 * E);
      return { net, term, isolatedTerm };
    }

    it('with pre-vote (and check-quorum) a rejoining follower neither raises the term nor deposes the leader', () => {
      const { net, term, isolatedTerm } = rejoin(true, true);
      expect(isolatedTerm).toBe(term);
      expect(agreedLeader(net, [1, 2, 3])).toBe(1);
      expect(net.status(1).term).toBe(term);
      expect([...net.leadersByTerm()]).toEqual([[term, 1]]);
    });

    it('with pre-vote alone, a rejoining follower that missed entries is not disruptive either', () => {
      const { net, term } = rejoin(true, false);
      expect(agreedLeader(net, [1, 2, 3])).toBe(1);
      expect(net.status(1).term).toBe(term);
    });

    it('without pre-vote and check-quorum the same follower deposes the leader (the test has teeth)', () => {
      const { net, term, isolatedTerm } = rejoin(false, false);
      expect(isolatedTerm).toBeGreaterThan(term);
      expect(net.status(1).term).toBeGreaterThan(term);
      expect(net.leadersByTerm().size).toBeGreaterThan(1);
    });

    it('with check-quorum but no pre-vote it still disrupts: the leader learns the higher term from its answer (etcd TestDisruptiveFollower)', () => {
      const { net, term, isolatedTerm } = rejoin(false, true);
      expect(isolatedTerm).toBeGreaterThan(term);
      expect(net.status(1).term).toBeGreaterThan(term);
    });
  });

  it('a vote request from a member within the lease is ignored while the leader is alive (check-quorum)', () => {
    const net = new RaftNet({ members: [1, 2, 3], core: { preVote: false, checkQuorum: true } });
    net.elect(1);
    const term = net.status(2).term;
    const req: Message = {
      type: 'vote',
      from: 3,
      to: 2,
      term: term + 5,
      lastLogIndex: 99,
      lastLogTerm: 99,
      transfer: false,
    };
    net.stepNode(req);
    expect(net.status(2)).toMatchObject({ term, leader: 1 });
    expect(net.queue.filter(isType('vote_resp'))).toEqual([]);
    // After an election timeout without the leader, the same request is honoured.
    net.isolate(1);
    net.tick(E, [2]);
    net.stepNode(req);
    expect(net.status(2)).toMatchObject({ term: term + 5, vote: 3 });
  });
});

describe('LeaderSyncFollowerLog (paper Figure 7)', () => {
  it('a new leader brings each of the six follower logs of Figure 7 in line with its own', () => {
    // Terms of entries at indexes 2.. (index 1 is the bootstrap entry of term 1).
    const leader = [1, 1, 4, 4, 5, 5, 6, 6, 6];
    const followers: Record<number, number[]> = {
      2: [1, 1, 4, 4, 5, 5, 6, 6], // (a) missing one entry
      3: [1, 1, 4], // (b) missing many
      4: [1, 1, 4, 4, 5, 5, 6, 6, 6, 6], // (c) one extra uncommitted entry
      5: [1, 1, 4, 4, 5, 5, 6, 6, 6, 7, 7], // (d) extra entries of a later term
      6: [1, 1, 4, 4, 4, 4], // (e) missing, plus extra entries of term 4
      7: [1, 1, 2, 2, 2, 3, 3, 3, 3, 3], // (f) many extra entries of terms 2 and 3
    };
    const net = new RaftNet({ members: [1, 2, 3, 4, 5, 6, 7], core: { preVote: false, checkQuorum: false } });
    net.setLog(1, leader, 7);
    for (const [id, terms] of Object.entries(followers)) net.setLog(Number(id), terms, 7);
    net.elect(1);
    expect(net.status(1).term).toBe(8);
    net.tickAndStabilize(2);
    const want = net.logTerms(1);
    expect(want.map(([, t]) => t)).toEqual([1, ...leader, 8]);
    for (const id of [2, 3, 4, 5, 6, 7]) expect([id, net.logTerms(id)]).toEqual([id, want]);
    net.assertLogsEqual();
    for (const id of net.ids()) expect(net.status(id).commit).toBe(want.length);
  });
});

describe('RaftCore construction', () => {
  it('rejects bad ids and timing', () => {
    const recovered = { hardState: { term: 0, vote: 0, commit: 0 }, snapshot: null, entries: [] };
    const rnd = seededRandom(1);
    expect(() => new RaftCore({ id: 0, electionTicks: 10, heartbeatTicks: 1 }, rnd, recovered)).toThrow(
      RangeError,
    );
    expect(() => new RaftCore({ id: 1, electionTicks: 1, heartbeatTicks: 1 }, rnd, recovered)).toThrow(
      RangeError,
    );
    expect(() => new RaftCore({ id: 1, electionTicks: 10, heartbeatTicks: 0 }, rnd, recovered)).toThrow(
      RangeError,
    );
  });

  it('a process that is not (yet) a member never campaigns', () => {
    const boot = {
      index: 1,
      term: 1,
      type: 'config' as const,
      data: encodeConfigRecord({
        change: { type: 'add', id: 1, role: 'voter', addr: 'a' },
        membership: initialMembership([{ id: 1, role: 'voter', addr: 'a' }]),
      }),
    };
    const core = new RaftCore({ id: 2, electionTicks: 5, heartbeatTicks: 1 }, seededRandom(1), {
      hardState: { term: 1, vote: 0, commit: 0 },
      snapshot: null,
      entries: [boot],
    });
    for (let i = 0; i < 100; i++) core.tick();
    expect(core.status()).toMatchObject({ role: 'follower', term: 1, memberRole: null });
    expect(core.hasReady()).toBe(false);
  });
});

describe('tick plan', () => {
  it('ticks finely enough for about 20 distinct election timeouts, and never slower than the heartbeat', () => {
    for (const [hb, et] of [
      [100, 1000],
      [50, 300],
      [30, 150],
      [10, 1000],
      [500, 5000],
    ] as const) {
      const p = tickPlan(hb, et);
      expect(p.tickMs).toBeLessThanOrEqual(hb);
      expect(Math.abs(p.heartbeatTicks * p.tickMs - hb)).toBeLessThanOrEqual(p.tickMs / 2);
      expect(Math.abs(p.electionTicks * p.tickMs - et)).toBeLessThanOrEqual(p.tickMs / 2);
      // The randomized part spans E / 2 ticks: at least 15 values unless the heartbeat is the tick.
      if (p.tickMs < hb) expect(Math.ceil(p.electionTicks / 2)).toBeGreaterThanOrEqual(15);
    }
  });
});

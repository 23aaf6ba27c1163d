/**
 * Log replication and commitment: the MIT 6.824 2B/2C tests (agreement, failures, rejoin, fast
 * backup, persistence), the paper's Figure 8 scripted message by message, and etcd's commit
 * rules, on the synchronous core network. The harness checks election safety and state machine
 * safety on every Ready, so every scenario below also checks those.
 */
import { describe, expect, it } from 'vitest';
import type { AppendResponse, Message, NodeId } from '../../../src/raft/types.js';
import { RaftError } from '../../../src/raft/types.js';
import { agreedLeader, E, nCommitted, one, valueAt, waitAgreedLeader } from '../../support/raft-helpers.js';
import { between, bytes, isType, RaftNet, text } from '../../support/raft-net.js';

const others = (net: RaftNet, id: NodeId) => net.ids().filter((x) => x !== id);
const isReject = (m: Message): m is AppendResponse => m.type === 'append_resp' && !m.success;

describe('MIT 2B: agreement', () => {
  it('BasicAgree: each command commits at the next index on every peer, and not before it is started', () => {
    const net = new RaftNet({ members: [1, 2, 3, 4, 5], seed: 21 });
    const l = waitAgreedLeader(net);
    // Index 1 is the bootstrap configuration, index 2 the leader's no-op.
    const first = net.status(l).lastIndex + 1;
    for (let k = 0; k < 3; k++) {
      const index = first + k;
      expect(nCommitted(net, index)).toBe(0);
      expect(one(net, `basic${k}`, 5)).toBe(index);
      expect(nCommitted(net, index)).toBe(5);
    }
    for (const id of net.ids()) expect(net.node(id).values).toEqual(['basic0', 'basic1', 'basic2']);
  });

  it('Count: each entry travels to each follower once; an idle group exchanges only heartbeats', () => {
    const net = new RaftNet({ members: [1, 2, 3], seed: 22 });
    const l = waitAgreedLeader(net);
    net.recordMessages = true;
    net.resetStats();
    for (let k = 0; k < 10; k++) {
      net.propose(l, `c${k}`);
      net.stabilize();
    }
    for (const id of others(net, l)) {
      const carried = net.log
        .filter((m) => m.type === 'append' && m.to === id)
        .flatMap((m) => (m.type === 'append' ? m.entries : []));
      expect(carried.map((e) => text(e.data))).toEqual(Array.from({ length: 10 }, (_, k) => `c${k}`));
    }
    net.resetStats();
    net.tickAndStabilize(100);
    // heartbeatTicks = 1: one heartbeat and one answer per follower per tick, nothing else.
    expect(net.sent).toEqual({ append: 200, append_resp: 200 });
    expect(net.log.every((m) => m.type !== 'append' || m.entries.length === 0)).toBe(true);
  });

  it('FailAgree: agreement continues with a follower cut off, and it catches up when it returns', () => {
    const net = new RaftNet({ members: [1, 2, 3], seed: 23 });
    one(net, 'f101', 3);
    const l = waitAgreedLeader(net);
    const f = others(net, l)[0]!;
    net.isolate(f);
    one(net, 'f102', 2);
    one(net, 'f103', 2);
    net.tickAndStabilize(2 * E);
    one(net, 'f104', 2);
    one(net, 'f105', 2);
    expect(net.node(f).values).toEqual(['f101']);
    net.heal();
    one(net, 'f106', 3);
    one(net, 'f107', 3);
    for (const id of net.ids()) {
      expect(net.node(id).values).toEqual(['f101', 'f102', 'f103', 'f104', 'f105', 'f106', 'f107']);
    }
    net.assertLogsEqual();
  });

  it('FailNoAgree: with 3 of 5 cut off nothing commits; after repair the log is consistent and agreement resumes', () => {
    const net = new RaftNet({ members: [1, 2, 3, 4, 5], seed: 24 });
    one(net, 'n10', 5);
    const l = waitAgreedLeader(net);
    const [a, b, c] = others(net, l) as [NodeId, NodeId, NodeId, NodeId];
    net.isolate(a);
    net.isolate(b);
    net.isolate(c);
    const { index } = net.propose(l, 'n20');
    net.stabilize();
    for (let t = 0; t < 3 * E; t++) {
      net.tickAndStabilize(1);
      expect(nCommitted(net, index)).toBe(0);
    }
    // Check-quorum: the minority leader gave up.
    expect(net.status(l).role).not.toBe('leader');
    net.heal();
    const i2 = one(net, 'n30', 5);
    // n30 lands right after n10's index (n20's slot may be reused) or later.
    expect(i2).toBeGreaterThanOrEqual(index);
    one(net, 'n1000', 5);
    net.assertLogsEqual();
    const vals = net.node(1).values;
    expect(vals.filter((v) => v !== 'n20')).toEqual(['n10', 'n30', 'n1000']);
  });

  it('ConcurrentStarts: commands started together in one term all commit, in order, in that term', () => {
    const net = new RaftNet({ members: [1, 2, 3], seed: 25 });
    const l = waitAgreedLeader(net);
    const term = net.status(l).term;
    const placed = Array.from({ length: 5 }, (_, k) => net.propose(l, `cs${k}`));
    expect(placed.map((p) => p.term)).toEqual(Array(5).fill(term));
    expect(placed.map((p) => p.index - placed[0]!.index)).toEqual([0, 1, 2, 3, 4]);
    net.stabilize();
    for (const id of net.ids()) expect(net.node(id).values).toEqual(['cs0', 'cs1', 'cs2', 'cs3', 'cs4']);
    expect(net.status(l).term).toBe(term);
    // Pipelined: the five appends went out before any answer came back.
    for (const p of placed) expect(nCommitted(net, p.index)).toBe(3);
  });

  it('Rejoin: a partitioned leader with uncommitted entries rejoins and its entries are discarded', () => {
    const net = new RaftNet({ members: [1, 2, 3], seed: 26 });
    one(net, 'r101', 3);
    const l1 = waitAgreedLeader(net);
    net.isolate(l1);
    // The old leader accepts commands that can never commit.
    net.propose(l1, 'r102');
    net.propose(l1, 'r103');
    net.propose(l1, 'r104');
    net.stabilize();
    // The others elect a leader and commit.
    one(net, 'r103b', 2);
    const l2 = waitAgreedLeader(net, others(net, l1));
    net.isolate(l2);
    // The old leader comes back and, with the third node, forms a majority again.
    net.reconnect(l1);
    one(net, 'r104b', 2);
    net.heal();
    one(net, 'r105', 3);
    net.assertLogsEqual();
    for (const id of net.ids()) {
      expect(net.node(id).values).toEqual(['r101', 'r103b', 'r104b', 'r105']);
      expect(net.logValues(id)).not.toContain('r102');
    }
  });

  it('Backup: a leader backs up quickly over 50+ conflicting entries (fast backtracking)', () => {
    const net = new RaftNet({ members: [1, 2, 3, 4, 5], seed: 27 });
    one(net, 'b0', 5);
    const l1 = waitAgreedLeader(net);
    const [a, b, c, d] = others(net, l1) as [NodeId, NodeId, NodeId, NodeId];
    // Leader and one follower in a minority: 50 entries that never commit.
    net.partition([l1, a], [b, c, d]);
    for (let k = 0; k < 50; k++) net.propose(l1, `lost1-${k}`);
    net.stabilize();
    expect(net.logValues(a)).toHaveLength(51);
    // The majority side commits 50 entries of its own.
    const l2 = waitAgreedLeader(net, [b, c, d]);
    for (let k = 0; k < 50; k++) net.propose(l2, `kept1-${k}`);
    net.stabilize();
    expect(net.node(l2).values).toHaveLength(51);
    // Its leader and one follower are cut off in turn and take 50 more that never commit.
    const [x, y] = [b, c, d].filter((id) => id !== l2) as [NodeId, NodeId];
    net.heal();
    net.partition([l1, a], [l2, y], [x]);
    for (let k = 0; k < 50; k++) net.propose(l2, `lost2-${k}`);
    net.stabilize();
    expect(net.logValues(y)).toHaveLength(101);
    net.heal();
    net.partition([l1, a, x], [l2], [y]);
    // The first group comes back with x, whose log is the most up to date: it leads and commits.
    net.recordMessages = true;
    net.resetStats();
    const l3 = waitAgreedLeader(net, [l1, a, x]);
    expect(l3).toBe(x);
    for (let k = 0; k < 50; k++) net.propose(l3, `kept2-${k}`);
    net.stabilize();
    const rejectsA = net.log.filter((m) => isReject(m) && (m.from === l1 || m.from === a)).length;
    expect(net.node(l1).values).toHaveLength(101);
    // Everyone together: l2 and y back up over their 50 uncommitted entries.
    net.heal();
    net.resetStats();
    one(net, 'b-final', 5);
    const rejectsB = net.log.filter((m) => isReject(m) && (m.from === l2 || m.from === y)).length;
    const appendsB = net.log.filter(
      (m) => m.type === 'append' && m.entries.length > 0 && (m.to === l2 || m.to === y),
    );
    // With one rejection per conflicting term, two followers need at most a few round trips,
    // not one per entry (which would be 50+ each).
    expect(rejectsA).toBeLessThanOrEqual(4);
    expect(rejectsB).toBeLessThanOrEqual(4);
    expect(appendsB.length).toBeLessThanOrEqual(8);
    for (const id of net.ids()) {
      expect(net.node(id).values).toHaveLength(102);
      expect(net.node(id).values.some((v) => v.startsWith('lost'))).toBe(false);
    }
    net.assertLogsEqual();
  });
});

describe('fast backtracking', () => {
  /** Terms for indexes 2.. : a shared prefix of term 2, then `n` entries of `term`. */
  const logOf = (prefix: number, n: number, term: number) => [
    ...Array(prefix).fill(2),
    ...Array(n).fill(term),
  ];

  it('FastLogRejection: one rejection skips a whole conflicting term, even with no commit index to go on', () => {
    const cases: [leader: number[], follower: number[]][] = [
      // The follower has 30 entries of term 3 where the leader has 30 of term 4.
      [logOf(20, 30, 4), logOf(20, 30, 3)],
      // The follower's conflicting suffix is longer than the leader's log.
      [logOf(20, 10, 4), logOf(20, 60, 3)],
      // Two conflicting terms on the follower.
      [logOf(20, 30, 5), [...logOf(20, 15, 3), ...Array(15).fill(4)]],
      // The follower is simply behind (no conflict).
      [logOf(20, 30, 4), logOf(20, 0, 2)],
    ];
    for (const [leaderLog, followerLog] of cases) {
      const net = new RaftNet({ members: [1, 2, 3], core: { preVote: false, checkQuorum: false } });
      net.setLog(1, leaderLog, 6);
      net.setLog(2, followerLog, 6);
      net.setLog(3, logOf(20, 0, 2), 6);
      net.campaign(1);
      net.deliverAll(between(1, 3, 'vote'));
      net.deliverAll(between(3, 1, 'vote_resp'));
      expect(net.status(1).role).toBe('leader');
      net.recordMessages = true;
      net.stabilize();
      // One probe is rejected; the next append, at the point the hint names, fixes the log.
      const rejects = net.log.filter((m) => isReject(m) && m.from === 2).length;
      const appends = net.log.filter((m) => m.type === 'append' && m.to === 2).length;
      expect([followerLog.length, rejects, appends]).toEqual([followerLog.length, 1, 2]);
      expect(net.logTerms(2)).toEqual(net.logTerms(1));
      expect(net.status(2).commit).toBe(net.status(1).lastIndex);
    }
  });
});

describe('flow control and reordering (etcd)', () => {
  it('MsgAppFlowControl: at most maxInflightAppends appends are in flight to a follower; acknowledgements open the window', () => {
    const net = new RaftNet({ members: [1, 2, 3], core: { maxInflightAppends: 3, maxAppendBytes: 1 } });
    net.elect(1);
    net.tickAndStabilize(1);
    for (let k = 0; k < 10; k++) net.propose(1, `w${k}`);
    const inflight = (to: NodeId) =>
      net.queue.filter((m) => m.type === 'append' && m.to === to && m.entries.length > 0);
    expect(inflight(2)).toHaveLength(3);
    expect(inflight(3)).toHaveLength(3);
    // One acknowledgement frees one slot.
    net.deliver(between(1, 2, 'append'));
    net.deliver(between(2, 1, 'append_resp'));
    expect(inflight(2)).toHaveLength(3);
    expect(inflight(2).map((m) => (m.type === 'append' ? m.entries[0]!.index : 0))).toEqual(
      [1, 2, 3].map((k) => net.status(1).progress.find((p) => p.id === 2)!.match + k),
    );
    net.stabilize();
    for (const id of net.ids()) expect(net.node(id).values).toHaveLength(10);
  });

  it('LogReplicationWithReorderedMessage: acknowledgements arriving out of order neither move a follower back nor cause resends', () => {
    const net = new RaftNet({ members: [1, 2, 3], core: { maxAppendBytes: 1 } });
    net.elect(1);
    net.tickAndStabilize(1);
    net.recordMessages = true;
    net.resetStats();
    for (let k = 0; k < 5; k++) net.propose(1, `o${k}`);
    net.deliverAll((m) => m.type === 'append' && m.to === 2);
    const acks = net.queue.filter(between(2, 1, 'append_resp')).reverse();
    net.drop((m) => acks.includes(m));
    let prevMatch = 0;
    for (const a of acks) {
      net.stepNode(a);
      const match = net.status(1).progress.find((p) => p.id === 2)!.match;
      expect(match).toBeGreaterThanOrEqual(prevMatch);
      prevMatch = match;
    }
    expect(prevMatch).toBe(net.status(1).lastIndex);
    expect(net.status(1).commit).toBe(net.status(1).lastIndex);
    net.stabilize();
    // Every entry went to 2 exactly once.
    const sentTo2 = net.log.filter((m) => m.type === 'append' && m.to === 2 && m.entries.length > 0);
    expect(sentTo2).toHaveLength(5);
  });

  it('duplicated messages change nothing', () => {
    const net = new RaftNet({ members: [1, 2, 3] });
    net.elect(1);
    net.tickAndStabilize(1);
    net.propose(1, 'dup');
    // Deliver every message twice.
    let guard = 0;
    while (net.queue.length > 0 && guard++ < 1000) {
      const m = net.queue.shift()!;
      net.stepNode(structuredClone(m));
      net.stepNode(m);
    }
    for (const id of net.ids()) expect(net.node(id).values).toEqual(['dup']);
    net.assertLogsEqual();
  });
});

describe('MIT 2C: persistence', () => {
  /** Term, vote and log as the node sees them. */
  const durableView = (net: RaftNet, id: NodeId) => {
    const s = net.status(id);
    return { term: s.term, vote: s.vote, log: net.logTerms(id), values: net.logValues(id) };
  };

  it('Persist1: crash and restart of all, of the leader, of a follower: term, vote and log survive', () => {
    const net = new RaftNet({ members: [1, 2, 3], seed: 31 });
    one(net, 'p11', 3);
    const before = net.ids().map((id) => durableView(net, id));
    for (const id of net.ids()) net.crash(id);
    for (const id of net.ids()) net.restart(id);
    expect(net.ids().map((id) => durableView(net, id))).toEqual(before);
    one(net, 'p12', 3);

    const l1 = waitAgreedLeader(net);
    const v = durableView(net, l1);
    net.restart(l1);
    expect(durableView(net, l1)).toEqual(v);
    one(net, 'p13', 3);

    const l2 = waitAgreedLeader(net);
    net.crash(l2);
    one(net, 'p14', 2);
    net.restart(l2);
    net.tickUntil(() => nCommitted(net, net.status(agreedLeader(net) ?? l2).commit) === 3, 10 * E);

    const f = others(net, waitAgreedLeader(net))[0]!;
    net.crash(f);
    one(net, 'p15', 2);
    net.restart(f);
    one(net, 'p16', 3);
    for (const id of net.ids())
      expect(net.node(id).values).toEqual(['p11', 'p12', 'p13', 'p14', 'p15', 'p16']);
  });

  it('Persist2: repeated crashes of different minorities; a restarted majority keeps every committed entry', () => {
    const net = new RaftNet({ members: [1, 2, 3, 4, 5], seed: 32 });
    const ids = net.ids();
    const at = (l: NodeId, k: number) => ids[(ids.indexOf(l) + k) % ids.length]!;
    let index = 1;
    const want: string[] = [];
    const commit = (n: number) => {
      const v = `p2-${index++}`;
      one(net, v, n);
      want.push(v);
    };
    for (let iter = 0; iter < 5; iter++) {
      commit(5);
      const l = waitAgreedLeader(net);
      net.crash(at(l, 1));
      net.crash(at(l, 2));
      commit(3);
      net.crash(at(l, 0));
      net.crash(at(l, 3));
      net.crash(at(l, 4));
      // +1 and +2 restart with logs that miss the last entry; +3 has it and must be part of any majority.
      net.restart(at(l, 1));
      net.restart(at(l, 2));
      net.tickAndStabilize(E);
      net.restart(at(l, 3));
      commit(3);
      net.restart(at(l, 4));
      net.restart(at(l, 0));
    }
    commit(5);
    for (const id of ids) expect(net.node(id).values).toEqual(want);
  });

  it('Persist3: leader and a follower crash after a commit the third never saw; the restarted pair preserves it', () => {
    const net = new RaftNet({ members: [1, 2, 3], seed: 33 });
    one(net, 'p101', 3);
    const l = waitAgreedLeader(net);
    const [f1, f2] = others(net, l) as [NodeId, NodeId];
    net.isolate(f2);
    one(net, 'p102', 2);
    net.crash(l);
    net.crash(f1);
    net.heal();
    net.restart(l);
    one(net, 'p103', 2);
    net.restart(f1);
    one(net, 'p104', 3);
    for (const id of net.ids()) expect(net.node(id).values).toEqual(['p101', 'p102', 'p103', 'p104']);
  });

  it('a vote is persisted before it is sent, and a restarted voter does not vote twice in a term', () => {
    const net = new RaftNet({ members: [1, 2, 3], core: { preVote: false } });
    // Core level: the Ready carrying the grant also carries the hard state that records it.
    const core = net.core(2);
    core.step({ type: 'vote', from: 1, to: 2, term: 2, lastLogIndex: 1, lastLogTerm: 1, transfer: false });
    const rd = core.ready();
    expect(rd.messages).toEqual([{ type: 'vote_resp', from: 2, to: 1, term: 2, granted: true }]);
    expect(rd.hardState).toMatchObject({ term: 2, vote: 1 });
    net.node(2).storage.persist(rd.hardState, rd.entries, rd.snapshot);
    core.advance(rd);
    // Crash and restart: the same vote, so a rival candidate of term 2 is refused.
    net.restart(2);
    expect(net.status(2)).toMatchObject({ term: 2, vote: 1 });
    net.drop();
    net.stepNode({ type: 'vote', from: 3, to: 2, term: 2, lastLogIndex: 1, lastLogTerm: 1, transfer: false });
    expect(net.queue).toEqual([{ type: 'vote_resp', from: 2, to: 3, term: 2, granted: false }]);
    // The first candidate asking again (a retransmission) gets the same answer.
    net.drop();
    net.stepNode({ type: 'vote', from: 1, to: 2, term: 2, lastLogIndex: 1, lastLogTerm: 1, transfer: false });
    expect(net.queue).toEqual([{ type: 'vote_resp', from: 2, to: 1, term: 2, granted: true }]);
  });

  it('entries are acknowledged only once they are in the Ready that persists them', () => {
    const net = new RaftNet({ members: [1, 2, 3] });
    net.elect(1);
    net.propose(1, 'durable');
    const app = net.queue.find(between(1, 2, 'append'))!;
    net.drop();
    const core = net.core(2);
    core.step(app);
    const rd = core.ready();
    const ack = rd.messages.find(isType('append_resp')) as AppendResponse;
    expect(ack.success).toBe(true);
    // Everything the acknowledgement vouches for is in this Ready's entries or already stable.
    const stable = net.node(2).storage.lastIndex();
    const lastInReady = rd.entries.at(-1)?.index ?? stable;
    expect(Math.max(stable, lastInReady)).toBeGreaterThanOrEqual(ack.matchIndex);
    expect(rd.entries.map((e) => text(e.data))).toContain('durable');
  });
});

describe('commitment rules', () => {
  /**
   * The paper's Figure 8, message by message, on five nodes without pre-vote or check-quorum (as
   * in the paper). Appends carry one entry each. After the setup:
   * - S1 led term 2 and replicated x (index 3, term 2) only to S2, then crashed;
   * - S5 led term 3 with S3 and S4 and wrote its own index 3 (its no-op, term 3), then crashed;
   * - S1 restarted, won term 4 and replicated index 3 (term 2) to S3 and S4: x is now on S1..S4,
   *   a majority, while S1's own term-4 entry (index 4) is on S1 alone.
   */
  function figure8() {
    const net = new RaftNet({
      members: [1, 2, 3, 4, 5],
      core: { preVote: false, checkQuorum: false, maxAppendBytes: 1 },
    });
    // (a) S1 leads term 2; index 2 (its no-op) commits everywhere; x reaches S2 only.
    net.elect(1);
    expect(net.status(1).term).toBe(2);
    net.propose(1, 'x');
    net.deliver(between(1, 2, 'append'));
    net.drop();
    expect(net.logTerms(2).at(-1)).toEqual([3, 2]);
    net.crash(1);
    // (b) S5 wins term 3 with S3 and S4, writes index 3 of term 3 and crashes before sending it.
    net.campaign(5);
    net.deliverAll(isType('vote', 'vote_resp'));
    expect(net.status(5)).toMatchObject({ role: 'leader', term: 3 });
    expect(net.logTerms(5).at(-1)).toEqual([3, 3]);
    net.drop();
    net.crash(5);
    // (c) S1 restarts and wins term 4 (term 3 fails: S3 and S4 already voted for S5 in term 3).
    net.restart(1);
    net.campaign(1);
    net.deliverAll(isType('vote', 'vote_resp'));
    expect(net.status(1)).toMatchObject({ role: 'candidate', term: 3 });
    net.drop();
    net.campaign(1);
    net.deliverAll(isType('vote', 'vote_resp'));
    expect(net.status(1)).toMatchObject({ role: 'leader', term: 4 });
    expect(net.logTerms(1).slice(-2)).toEqual([
      [3, 2],
      [4, 4],
    ]);
    // S2 gets nothing in term 4 (it already holds x); S3 and S4 get exactly x.
    net.drop((m) => m.to === 2);
    for (const f of [3, 4]) {
      net.deliver(between(1, f, 'append')); // probe at index 3: rejected
      net.deliver(between(f, 1, 'append_resp'));
      const fix = net.deliver(between(1, f, 'append'))!; // index 3, term 2
      expect(fix.type === 'append' && fix.entries.map((e) => [e.index, e.term])).toEqual([[3, 2]]);
      net.deliver(between(f, 1, 'append_resp'));
      expect(net.logTerms(f).at(-1)).toEqual([3, 2]);
    }
    return net;
  }

  it('Figure8: an entry of an older term on a majority is not committed by counting replicas', () => {
    const net = figure8();
    const s1 = net.status(1);
    expect(
      s1.progress
        .filter((p) => p.match >= 3)
        .map((p) => p.id)
        .sort(),
    ).toEqual([3, 4]);
    // x is on S1, S2, S3, S4, but S1 must not commit it: it is from term 2, S1 leads term 4.
    expect(s1.commit).toBe(2);
    // (d) S1 crashes before its term-4 entry spreads; S5 restarts and can win (its last term 3 beats
    // the others' 2), so it overwrites x: had x been committed, that would lose a committed entry.
    net.drop();
    net.crash(1);
    net.restart(5);
    net.campaign(5); // term 4: S2, S3, S4 already voted in term 4
    net.deliverAll(isType('vote', 'vote_resp'));
    net.drop();
    net.campaign(5); // term 5
    net.deliverAll(isType('vote', 'vote_resp'));
    expect(net.status(5)).toMatchObject({ role: 'leader', term: 5 });
    net.stabilize();
    for (const id of [2, 3, 4, 5]) {
      expect(net.logTerms(id).slice(2)).toEqual([
        [3, 3],
        [4, 5],
      ]);
      expect(net.status(id).commit).toBe(4);
    }
    // x was never applied anywhere (the harness would have flagged the overwrite).
    for (const id of net.ids()) expect(net.node(id).values).not.toContain('x');
    expect(valueAt(net, 3)).toBeUndefined();
    net.restart(1);
    net.stabilize();
    net.tickAndStabilize(2);
    expect(net.logTerms(1)).toEqual(net.logTerms(5));
  });

  it('Figure8 (e): once an entry of the current term is on a majority, it and x before it are committed and survive', () => {
    const net = figure8();
    // S1's term-4 entry reaches S3 and S4 too.
    for (const f of [3, 4]) {
      net.deliver(between(1, f, 'append'));
      net.deliver(between(f, 1, 'append_resp'));
    }
    expect(net.status(1).commit).toBe(4);
    net.stabilize();
    expect(net.node(1).values).toEqual(['x']);
    net.crash(1);
    net.restart(5);
    // S5 can no longer win: S3 and S4 have a log of term 4.
    for (let k = 0; k < 3; k++) {
      net.campaign(5);
      net.stabilize();
      expect(net.status(5).role).not.toBe('leader');
    }
    net.restart(1);
    one(net, 'after', 5);
    for (const id of net.ids()) expect(net.node(id).values).toEqual(['x', 'after']);
  });

  it('LeaderOnlyCommitsLogFromCurrentTerm: acknowledgements of older-term entries commit nothing', () => {
    for (const [acked, wantCommit] of [
      [2, 0],
      [3, 0],
      [4, 4],
    ] as const) {
      const net = new RaftNet({ members: [1, 2, 3], core: { preVote: false, checkQuorum: false } });
      // Log: 1/1 (bootstrap), 2/2, 3/2; hard state term 2. Leader in term 3 appends its no-op at 4.
      net.setLog(1, [2, 2], 2);
      net.campaign(1);
      net.stepNode({ type: 'vote_resp', from: 2, to: 1, term: 3, granted: true });
      expect(net.status(1)).toMatchObject({ role: 'leader', term: 3, lastIndex: 4 });
      net.drop();
      net.stepNode({
        type: 'append_resp',
        from: 2,
        to: 1,
        term: 3,
        success: true,
        matchIndex: acked,
        rejectIndex: 0,
        hintIndex: 0,
        hintTerm: 0,
        seq: 0,
      });
      expect([acked, net.status(1).commit]).toEqual([acked, wantCommit]);
    }
  });

  it('the leader counts itself for commit only once its own copy is durable (acks racing its write)', () => {
    const net = new RaftNet({ members: [1, 2, 3, 4, 5] });
    net.elect(1);
    net.tickAndStabilize(1);
    const leader = net.core(1);
    const { index } = leader.propose(bytes('racing'));
    // The leader's write is still in progress (no advance yet) when two followers acknowledge.
    const rd = leader.ready();
    expect(rd.entries.map((e) => e.index)).toEqual([index]);
    for (const m of rd.messages.filter((x) => x.to === 2 || x.to === 3)) net.stepNode(m);
    for (const ack of net.queue.filter((m) => m.type === 'append_resp' && m.to === 1)) leader.step(ack);
    // Two followers plus a leader whose copy is not yet on disk are not three durable copies of five.
    expect(leader.status().commit).toBeLessThan(index);
    // The write completes: now it is committed.
    net.node(1).storage.persist(rd.hardState, rd.entries, rd.snapshot);
    leader.advance(rd);
    expect(leader.status().commit).toBe(index);
    net.drop();
    net.process(1);
    net.stabilize();
    net.tickAndStabilize(1);
    for (const id of net.ids()) expect(net.node(id).values).toEqual(['racing']);
  });

  it('CommitWithoutNewTermEntry: a new leader commits the previous term’s entries through its own no-op', () => {
    const net = new RaftNet({ members: [1, 2, 3, 4, 5], core: { preVote: false, checkQuorum: false } });
    net.elect(1);
    net.cut(1, 3);
    net.cut(1, 4);
    net.cut(1, 5);
    net.propose(1, 'some data');
    net.propose(1, 'more data');
    net.stabilize();
    const lastOld = net.status(1).lastIndex;
    expect(net.status(1).commit).toBe(lastOld - 2);
    net.heal();
    net.elect(2);
    net.stabilize();
    const s2 = net.status(2);
    expect(s2.commit).toBe(lastOld + 1);
    expect(net.termAtAll(lastOld)).toEqual([2, 2, 2, 2, 2]);
    for (const id of net.ids()) expect(net.node(id).values).toEqual(['some data', 'more data']);
  });

  it('FollowerCheckMsgApp / FollowerAppendEntries: consistency check, truncation of conflicts, commit from the leader', () => {
    const net = new RaftNet({ members: [1, 2, 3], core: { checkQuorum: false } });
    // Follower 2 holds 2/1, 3/2; term 2.
    net.setLog(2, [1, 2], 2);
    const app = (
      prevIndex: number,
      prevTerm: number,
      entries: [number, number][],
      commit: number,
    ): Message => ({
      type: 'append',
      from: 1,
      to: 2,
      term: 3,
      prevIndex,
      prevTerm,
      entries: entries.map(([index, term]) => ({
        index,
        term,
        type: 'normal',
        data: bytes(`i${index}t${term}`),
      })),
      commit,
      seq: 1,
    });
    const answer = () => {
      const m = net.queue.find(isType('append_resp')) as AppendResponse;
      net.drop();
      return m;
    };
    // Matching previous entry: accepted.
    net.stepNode(app(3, 2, [], 0));
    expect(answer()).toMatchObject({ success: true, matchIndex: 3 });
    // Previous entry's term differs: rejected, with a hint of where the logs may agree.
    net.stepNode(app(3, 3, [], 0));
    expect(answer()).toMatchObject({ success: false, rejectIndex: 3, hintIndex: 3, hintTerm: 2 });
    // Beyond our log: rejected with our last index.
    net.stepNode(app(5, 3, [], 0));
    expect(answer()).toMatchObject({ success: false, rejectIndex: 5, hintIndex: 3, hintTerm: 2 });
    // A conflicting entry replaces ours and everything after it; commit follows the leader (capped).
    net.stepNode(
      app(
        2,
        1,
        [
          [3, 3],
          [4, 3],
        ],
        9,
      ),
    );
    expect(answer()).toMatchObject({ success: true, matchIndex: 4 });
    expect(net.logTerms(2)).toEqual([
      [1, 1],
      [2, 1],
      [3, 3],
      [4, 3],
    ]);
    expect(net.status(2).commit).toBe(4);
    // Entries already present are not truncated by a stale, shorter append.
    net.stepNode(app(3, 3, [], 4));
    expect(answer()).toMatchObject({ success: true });
    expect(net.status(2).lastIndex).toBe(4);
  });

  it('a follower never truncates committed entries, and refuses a leader that tries', () => {
    const net = new RaftNet({ members: [1, 2, 3] });
    net.elect(1);
    one(net, 'kept', 3);
    const commit = net.status(2).commit;
    // An append of the same term below our commit index is simply acknowledged up to the commit.
    net.stepNode({
      type: 'append',
      from: 1,
      to: 2,
      term: net.status(2).term,
      prevIndex: commit - 1,
      prevTerm: net.core(2).termAt(commit - 1)!,
      entries: [{ index: commit, term: 99, type: 'normal', data: bytes('evil') }],
      commit,
      seq: 0,
    });
    expect(net.queue.find(isType('append_resp'))).toMatchObject({ success: true, matchIndex: commit });
    expect(net.node(2).values).toEqual(['kept']);
    expect(net.core(2).termAt(commit)).not.toBe(99);
  });

  it('proposals are refused by followers with the leader hint', () => {
    const net = new RaftNet({ members: [1, 2, 3] });
    net.elect(1);
    const err = (() => {
      try {
        net.propose(2, 'nope');
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(RaftError);
    expect(err).toMatchObject({ code: 'not_leader', leader: 1 });
    expect(agreedLeader(net)).toBe(1);
  });
});

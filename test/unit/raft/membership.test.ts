/**
 * Membership changes: the rules in src/raft/membership.ts (property tests) and how the core
 * applies them (single-server changes, learners, witnesses, removal of followers and of the
 * leader, the Ongaro fix, one change at a time, removed ids never return), on the synchronous
 * core network.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  applyConfigChange,
  decodeConfigRecord,
  encodeConfigRecord,
  initialMembership,
  isVoter,
  votersOf,
} from '../../../src/raft/membership.js';
import type { ConfigChange, MemberRole, Membership, NodeId } from '../../../src/raft/types.js';
import { RaftError } from '../../../src/raft/types.js';
import { agreedLeader, E, one, waitAgreedLeader } from '../../support/raft-helpers.js';
import { isType, RaftNet } from '../../support/raft-net.js';

// Fixed seed: the same cases on every run (fast-check prints the seed of any failure anyway).
fc.configureGlobal({ seed: 4242 });

function errorOf(fn: () => unknown): RaftError {
  try {
    fn();
  } catch (e) {
    if (e instanceof RaftError) return e;
    throw e;
  }
  throw new Error('expected a RaftError');
}

const change = (net: RaftNet, id: NodeId, c: ConfigChange) =>
  net.with(id, (core) => core.proposeConfigChange(c));

/** Propose through the leader and wait until the change is committed and applied on the leader. */
function commitChange(net: RaftNet, c: ConfigChange, l: NodeId = net.leader()!): number {
  const { index } = change(net, l, c);
  net.tickUntil(() => net.node(l).appliedIndex >= index || net.status(l).role !== 'leader', 5 * E);
  expect(net.node(l).appliedIndex).toBeGreaterThanOrEqual(index);
  return index;
}

describe('membership rules (property tests)', () => {
  const roleArb = fc.constantFrom<MemberRole>('voter', 'learner', 'witness');
  const idArb = fc.integer({ min: 1, max: 8 });
  const changeArb: fc.Arbitrary<ConfigChange> = fc.oneof(
    fc.record({
      type: fc.constant('add' as const),
      id: idArb,
      role: roleArb,
      addr: fc.constantFrom('a', 'b', ''),
    }),
    fc.record({ type: fc.constant('remove' as const), id: idArb }),
    fc.record({ type: fc.constant('set_role' as const), id: idArb, role: roleArb }),
    fc.record({ type: fc.constant('set_addr' as const), id: idArb, addr: fc.constantFrom('x', 'y', '') }),
  );

  it('applyConfigChange never yields zero voters, and removed ids stay removed forever', () => {
    fc.assert(
      fc.property(fc.array(changeArb, { minLength: 1, maxLength: 40 }), (changes) => {
        let m: Membership = initialMembership([{ id: 1, role: 'voter', addr: 'a' }]);
        const everRemoved = new Set<NodeId>();
        for (const c of changes) {
          let next: Membership;
          try {
            next = applyConfigChange(m, c);
          } catch (e) {
            expect(e).toBeInstanceOf(RaftError);
            const code = (e as RaftError).code;
            // Refusals say why, with the codes the admin API exposes.
            if (c.type === 'add' && everRemoved.has(c.id) && !m.members.some((x) => x.id === c.id)) {
              expect(code).toBe('id_removed');
            }
            expect(['member_exists', 'id_removed', 'unknown_member', 'invalid_request']).toContain(code);
            continue;
          }
          expect(votersOf(next).length).toBeGreaterThanOrEqual(1);
          for (const id of next.removed) expect(next.members.some((x) => x.id === id)).toBe(false);
          // The removed list only grows.
          for (const id of m.removed) expect(next.removed).toContain(id);
          if (c.type === 'remove') {
            everRemoved.add(c.id);
            expect(next.removed).toContain(c.id);
          }
          // Ids stay unique and sorted; the input is not mutated.
          const ids = next.members.map((x) => x.id);
          expect(ids).toEqual([...new Set(ids)].sort((a, b) => a - b));
          expect(decodeConfigRecord(encodeConfigRecord({ change: c, membership: next })).membership).toEqual(
            next,
          );
          m = next;
        }
        for (const id of everRemoved) expect(m.removed).toContain(id);
      }),
      { numRuns: 300 },
    );
  });

  it('spot checks: the last voter cannot go, a removed id cannot come back, bad input is refused', () => {
    const one3 = initialMembership([
      { id: 1, role: 'voter', addr: 'a' },
      { id: 2, role: 'learner', addr: 'b' },
    ]);
    expect(errorOf(() => applyConfigChange(one3, { type: 'remove', id: 1 })).code).toBe('invalid_request');
    expect(errorOf(() => applyConfigChange(one3, { type: 'set_role', id: 1, role: 'learner' })).code).toBe(
      'invalid_request',
    );
    const m2 = applyConfigChange(one3, { type: 'remove', id: 2 });
    expect(
      errorOf(() => applyConfigChange(m2, { type: 'add', id: 2, role: 'learner', addr: 'b' })).code,
    ).toBe('id_removed');
    expect(
      errorOf(() => applyConfigChange(one3, { type: 'add', id: 2, role: 'voter', addr: 'b' })).code,
    ).toBe('member_exists');
    expect(
      errorOf(() => applyConfigChange(one3, { type: 'add', id: 0, role: 'voter', addr: 'b' })).code,
    ).toBe('invalid_request');
    expect(errorOf(() => applyConfigChange(one3, { type: 'add', id: 3, role: 'voter', addr: '' })).code).toBe(
      'invalid_request',
    );
    expect(errorOf(() => applyConfigChange(one3, { type: 'remove', id: 9 })).code).toBe('unknown_member');
    expect(isVoter(applyConfigChange(one3, { type: 'set_role', id: 2, role: 'witness' }), 2)).toBe(true);
    expect(() => decodeConfigRecord(new TextEncoder().encode('{"x":1}'))).toThrow(/malformed/);
  });
});

describe('membership changes in the core', () => {
  it('add a learner, let it catch up, promote it; promotion is refused with not_caught_up while it lags', () => {
    const net = new RaftNet({ members: [1, 2, 3], seed: 51, core: { maxCatchUpLagEntries: 5 } });
    net.elect(1);
    for (let k = 0; k < 10; k++) one(net, `v${k}`, 3);
    net.addNode(4);
    net.isolate(4);
    commitChange(net, { type: 'add', id: 4, role: 'learner', addr: 'n4' });
    expect(net.status(1).membership.members.find((m) => m.id === 4)?.role).toBe('learner');
    // Cut off, it has nothing: promotion refused.
    const e1 = errorOf(() => change(net, 1, { type: 'set_role', id: 4, role: 'voter' }));
    expect(e1).toMatchObject({ code: 'not_caught_up', leader: 1 });
    expect(e1.message).toMatch(/not answering/);
    // Answering but far behind: still refused.
    net.heal();
    net.dropIf = (m) => m.type === 'append' && m.to === 4 && m.entries.length > 0;
    net.tickAndStabilize(2);
    expect(net.status(1).progress.find((p) => p.id === 4)?.ticksSinceAck).toBeLessThan(E);
    const e2 = errorOf(() => change(net, 1, { type: 'set_role', id: 4, role: 'voter' }));
    expect(e2.code).toBe('not_caught_up');
    expect(e2.message).not.toMatch(/not answering/);
    // Caught up: promoted.
    net.dropIf = null;
    net.tickAndStabilize(3);
    expect(net.node(4).values).toEqual(net.node(1).values);
    commitChange(net, { type: 'set_role', id: 4, role: 'voter' });
    net.stabilize();
    expect(net.status(4).memberRole).toBe('voter');
    // Now it counts: with 2 and 3 cut off, 1 and 4 are only 2 of 4: nothing commits.
    net.isolate(2);
    net.isolate(3);
    const { index } = net.propose(1, 'needs-3-of-4');
    net.stabilize();
    expect(net.status(1).commit).toBeLessThan(index);
    net.reconnect(2);
    net.tickAndStabilize(2);
    expect(net.status(1).commit).toBeGreaterThanOrEqual(index);
  });

  it('learners never vote or campaign and do not count for commit', () => {
    const net = new RaftNet({
      members: [1, 2, 3, { id: 4, role: 'learner' }, { id: 5, role: 'learner' }],
      seed: 52,
      core: { preVote: false },
    });
    net.recordMessages = true;
    waitAgreedLeader(net);
    const l = net.leader()!;
    // Vote requests only ever go to voters.
    expect(
      net.log.filter((m) => (m.type === 'vote' || m.type === 'prevote') && (m.to === 4 || m.to === 5)),
    ).toEqual([]);
    // With two of three voters cut off, the learners' acknowledgements do not make a majority.
    const [v1, v2] = [1, 2, 3].filter((id) => id !== l) as [NodeId, NodeId];
    net.isolate(v1);
    net.isolate(v2);
    const { index } = net.propose(l, 'learners-do-not-count');
    net.stabilize();
    expect(net.status(4).lastIndex).toBeGreaterThanOrEqual(index);
    expect(net.status(5).lastIndex).toBeGreaterThanOrEqual(index);
    expect(net.status(l).commit).toBeLessThan(index);
    // Learners cut off from everyone never campaign, however long they wait.
    net.heal();
    net.isolate(4);
    const term4 = net.status(4).term;
    net.tick(20 * E, [4]);
    expect(net.status(4)).toMatchObject({ role: 'follower', term: term4 });
    net.drop();
    // Even told to campaign, a learner does nothing; a TimeoutNow is ignored too.
    net.campaign(5);
    net.stepNode({ type: 'timeout_now', from: l, to: 5, term: net.status(5).term });
    expect(net.status(5).role).toBe('follower');
    // A stray vote grant from a learner is not counted by a candidate.
    net.heal();
    net.isolate(l);
    const c = v1;
    net.campaign(c);
    net.drop();
    net.stepNode({ type: 'vote_resp', from: 4, to: c, term: net.status(c).term, granted: true });
    net.stepNode({ type: 'vote_resp', from: 5, to: c, term: net.status(c).term, granted: true });
    expect(net.status(c).role).toBe('candidate');
  });

  it('a witness votes and counts for commit', () => {
    const net = new RaftNet({ members: [1, 2, { id: 3, role: 'witness' }], seed: 53 });
    net.elect(1);
    // 1 and the witness make a majority for commit.
    net.isolate(2);
    const i1 = one(net, 'with-witness', 2);
    expect(net.status(3).commit).toBeGreaterThanOrEqual(i1);
    // Without the witness, 1 and 2 make one too; without both, nothing commits.
    net.heal();
    net.isolate(3);
    one(net, 'without-witness', 2);
    net.isolate(2);
    const { index } = net.propose(1, 'alone');
    net.stabilize();
    expect(net.status(1).commit).toBeLessThan(index);
    // The witness's vote elects a leader when 1 is gone.
    net.heal();
    net.crash(1);
    const l = waitAgreedLeader(net, [2, 3]);
    expect([2, 3]).toContain(l);
    one(net, 'after', 2);
  });

  it('removal of a follower: it stops receiving entries and never disrupts the group', () => {
    const net = new RaftNet({ members: [1, 2, 3, 4], seed: 54 });
    net.elect(1);
    one(net, 'a', 4);
    commitChange(net, { type: 'remove', id: 4 });
    net.stabilize();
    expect(net.status(1).membership.removed).toEqual([4]);
    for (const id of [1, 2, 3]) expect(net.status(id).membership.members.map((m) => m.id)).toEqual([1, 2, 3]);
    const term = net.status(1).term;
    net.recordMessages = true;
    net.resetStats();
    one(net, 'b', 3);
    net.tickAndStabilize(20 * E);
    // Nothing goes to 4 any more (not even its own removal entry: the leader drops it from its
    // progress as soon as the change is appended). 4 still believes it is a voter and campaigns,
    // but pre-vote and the members' leases make that harmless.
    expect(net.log.filter((m) => m.to === 4)).toEqual([]);
    expect(net.log.filter((m) => m.from === 4).every((m) => m.type === 'prevote')).toBe(true);
    expect(net.node(4).values).toEqual(['a']);
    expect(agreedLeader(net, [1, 2, 3])).toBe(1);
    expect(net.status(1).term).toBe(term);
    // Three voters now: two make a majority.
    net.isolate(3);
    one(net, 'c', 2);
  });

  it('removal of the leader: it replicates until the change commits, then steps down; the rest elect and it never disrupts them', () => {
    const net = new RaftNet({ members: [1, 2, 3], seed: 55 });
    net.elect(1);
    one(net, 'a', 3);
    const { index } = change(net, 1, { type: 'remove', id: 1 });
    // Until the change commits, 1 is still the leader and still replicates.
    expect(net.status(1).role).toBe('leader');
    const { index: j } = net.propose(1, 'still-leading');
    expect(j).toBe(index + 1);
    net.deliverAll((m) => m.type === 'append' || m.type === 'append_resp');
    expect(net.status(1).commit).toBeGreaterThanOrEqual(index);
    net.stabilize();
    // Committed by 2 and 3 (the new configuration), and then 1 stepped down.
    expect(net.status(1)).toMatchObject({ role: 'follower', memberRole: null });
    expect(net.logValues(2)).toEqual(['a', 'still-leading']);
    const l = waitAgreedLeader(net, [2, 3]);
    expect([2, 3]).toContain(l);
    // The entry 1 replicated after its removal commits through the next leader's no-op.
    for (const id of [2, 3]) expect(net.node(id).values).toEqual(['a', 'still-leading']);
    const term = net.status(l).term;
    // RedisRaft test_removed_node_remains_dead: 1 never campaigns, and nothing it says moves the others.
    net.recordMessages = true;
    net.resetStats();
    net.tickAndStabilize(20 * E);
    expect(net.log.filter((m) => m.from === 1)).toEqual([]);
    expect(agreedLeader(net, [2, 3])).toBe(l);
    expect(net.status(l).term).toBe(term);
    one(net, 'b', 2);
  });

  it('demotion of the leader to learner: it steps down once the change commits and never campaigns again', () => {
    const net = new RaftNet({ members: [1, 2, 3], seed: 62 });
    net.elect(1);
    one(net, 'a', 3);
    commitChange(net, { type: 'set_role', id: 1, role: 'learner' }, 1);
    expect(net.status(1)).toMatchObject({ role: 'follower', memberRole: 'learner' });
    const l = waitAgreedLeader(net, [2, 3]);
    // 1 keeps replicating as a learner.
    one(net, 'b', 3);
    expect(net.node(1).values).toEqual(['a', 'b']);
    net.isolate(l);
    net.tickAndStabilize(10 * E);
    // With 2 voters left and one cut off, nobody can lead; the learner does not even try.
    expect(net.leaders().filter((id) => id !== l)).toEqual([]);
    expect(net.status(1).role).toBe('follower');
  });

  it('a removed node that missed its removal comes back and cannot disrupt the group (test_removed_node_remains_dead)', () => {
    for (const preVote of [true, false]) {
      const net = new RaftNet({ members: [1, 2, 3, 4], seed: 56, core: { preVote, checkQuorum: true } });
      net.elect(1);
      one(net, 'a', 4);
      net.crash(4);
      commitChange(net, { type: 'remove', id: 4 });
      one(net, 'b', 3);
      const term = net.status(1).term;
      // It restarts believing it is still a voter, campaigns again and again.
      net.restart(4);
      expect(net.status(4).memberRole).toBe('voter');
      net.tickAndStabilize(20 * E);
      expect([preVote, agreedLeader(net, [1, 2, 3])]).toEqual([preVote, 1]);
      expect(net.status(1).term).toBe(term);
      one(net, 'c', 3);
    }
  });

  it('at most one uncommitted change: config_change_pending', () => {
    const net = new RaftNet({ members: [1, 2, 3], seed: 57 });
    net.elect(1);
    change(net, 1, { type: 'add', id: 4, role: 'learner', addr: 'n4' });
    const e = errorOf(() => change(net, 1, { type: 'add', id: 5, role: 'learner', addr: 'n5' }));
    expect(e).toMatchObject({ code: 'config_change_pending', leader: 1 });
    net.stabilize();
    // Once committed, the next one is accepted.
    expect(() => change(net, 1, { type: 'add', id: 5, role: 'learner', addr: 'n5' })).not.toThrow();
  });

  it('a new leader refuses changes until it has committed an entry of its own term: leader_not_ready', () => {
    const net = new RaftNet({ members: [1, 2, 3], seed: 58 });
    net.campaign(1);
    net.deliverAll(isType('prevote', 'prevote_resp', 'vote', 'vote_resp'));
    expect(net.status(1)).toMatchObject({ role: 'leader', leaderReady: false });
    const e = errorOf(() => change(net, 1, { type: 'add', id: 4, role: 'learner', addr: 'n4' }));
    expect(e).toMatchObject({ code: 'leader_not_ready', leader: 1 });
    // Normal proposals are fine meanwhile.
    expect(() => net.propose(1, 'ok')).not.toThrow();
    net.stabilize();
    expect(net.status(1).leaderReady).toBe(true);
    expect(() => change(net, 1, { type: 'add', id: 4, role: 'learner', addr: 'n4' })).not.toThrow();
  });

  it('removed ids can never be re-added: id_removed, also after a snapshot and a restart', () => {
    const net = new RaftNet({ members: [1, 2, 3, 4], seed: 59 });
    net.elect(1);
    commitChange(net, { type: 'remove', id: 4 });
    net.stabilize();
    expect(errorOf(() => change(net, 1, { type: 'add', id: 4, role: 'learner', addr: 'n4' })).code).toBe(
      'id_removed',
    );
    for (const id of [1, 2, 3]) net.compact(id);
    for (const id of [1, 2, 3]) net.restart(id);
    const l = waitAgreedLeader(net, [1, 2, 3]);
    one(net, 'x', 3);
    expect(net.status(l).membership.removed).toEqual([4]);
    expect(errorOf(() => change(net, l, { type: 'add', id: 4, role: 'voter', addr: 'n4' })).code).toBe(
      'id_removed',
    );
  });

  it('an uncommitted configuration entry that a new leader overwrites is rolled back', () => {
    const net = new RaftNet({ members: [1, 2, 3], seed: 60 });
    net.elect(1);
    net.isolate(1);
    change(net, 1, { type: 'add', id: 9, role: 'learner', addr: 'n9' });
    expect(net.status(1).membership.members.map((m) => m.id)).toEqual([1, 2, 3, 9]);
    const l = waitAgreedLeader(net, [2, 3]);
    one(net, 'new-leader', 2);
    net.heal();
    net.tickUntil(() => agreedLeader(net, [1, 2, 3]) === l, 5 * E);
    expect(net.status(1).membership.members.map((m) => m.id)).toEqual([1, 2, 3]);
    // And 1 can lead and change membership again later.
    net.with(l, (c) => c.transferLeadership(1));
    net.tickUntil(() => agreedLeader(net, [1, 2, 3]) === 1, 5 * E);
    commitChange(net, { type: 'add', id: 9, role: 'learner', addr: 'n9' });
  });

  it('membership survives a restart: it is rebuilt from the config entries in the log', () => {
    const net = new RaftNet({ members: [1, 2, 3], seed: 61 });
    net.elect(1);
    commitChange(net, { type: 'add', id: 4, role: 'witness', addr: 'n4' });
    net.stabilize();
    for (const id of [1, 2, 3]) net.restart(id);
    for (const id of [1, 2, 3]) {
      expect(net.status(id).membership.members.map((m) => [m.id, m.role])).toEqual([
        [1, 'voter'],
        [2, 'voter'],
        [3, 'voter'],
        [4, 'witness'],
      ]);
    }
  });
});

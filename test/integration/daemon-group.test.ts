/**
 * Real daemons (bin/raftinel start) forming a group: bootstrap and join, status through the CLI,
 * leadership transfer, forwarding of mutations to the leader, learners and promotion.
 * One three-node group is shared by the tests of this file; each leaves it with three voters.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  cleanupAll,
  DaemonCluster,
  type DaemonStatus,
  dumpLogsIfFailed,
  metricValue,
} from '../support/daemons.js';

let c: DaemonCluster;

beforeAll(async () => {
  c = new DaemonCluster();
  await c.startGroup([1, 2, 3]);
});

afterEach(dumpLogsIfFailed);

afterAll(async () => {
  await cleanupAll();
});

describe('a group of three daemons', () => {
  it('bootstraps node 1 and joins nodes 2 and 3 as voters; status agrees everywhere', async () => {
    const leader = await c.waitForLeader([1, 2, 3]);
    const [r1, r2, r3, table] = await Promise.all([
      c.cli(['status', '--json'], { adminOf: 1 }),
      c.cli(['status', '--json'], { adminOf: 2 }),
      c.cli(['status', '--json'], { adminOf: 3 }),
      c.cli(['status'], { adminOf: 2 }),
    ]);
    for (const [id, r] of [
      [1, r1],
      [2, r2],
      [3, r3],
    ] as const) {
      expect(r.code, r.stderr).toBe(0);
      const s = JSON.parse(r.stdout) as DaemonStatus;
      expect(s.node_id).toBe(id);
      expect(s.leader).toBe(leader);
      expect(s.term).toBeGreaterThanOrEqual(1);
      expect(s.shards).toEqual([]);
      expect(s.members.map((m) => m.id).sort()).toEqual([1, 2, 3]);
      for (const m of s.members) {
        expect(m.role).toBe('voter');
        expect(m.raft).toBe(c.node(m.id).raftAddr);
        // Nobody is reported unreachable in a healthy group; the leader knows for each.
        expect(m.reachable === true || (m.reachable === null && id !== leader), JSON.stringify(m)).toBe(true);
        expect(m.leader).toBe(m.id === leader);
      }
      expect(s.members.find((m) => m.id === id)!.reachable).toBe(true);
    }
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout).toMatch(/ID\s+ROLE\s+RAFT/);
    for (const id of [1, 2, 3]) {
      expect(table.stdout).toMatch(
        new RegExp(`^${id}\\s+voter\\s+${c.node(id).raftAddr.replace(/\./g, '\\.')}`, 'm'),
      );
    }
    expect(table.stdout).toContain('no shards');
    expect(table.stdout).toContain(`leader node ${leader}`);
  });
});

describe('/metrics of a follower', () => {
  it('names the leader the status names', async () => {
    const leader = await c.waitForLeader([1, 2, 3]);
    const follower = [1, 2, 3].find((id) => id !== leader)!;
    const text = await c.node(follower).metrics();
    const s = await c.status(follower);
    expect(metricValue(text, 'raftinel_raft_leader_id')).toBe(s.leader);
    expect(metricValue(text, 'raftinel_raft_role', { role: 'follower' })).toBe(1);
    expect(metricValue(text, 'raftinel_raft_role', { role: 'leader' })).toBe(0);
    expect(metricValue(text, 'raftinel_raft_members', { role: 'voter' })).toBe(3);
    // Node 1 bootstrapped alone, then nodes 2 and 3 were added and promoted: several changes.
    expect(metricValue(text, 'raftinel_raft_membership_changes_total')).toBeGreaterThanOrEqual(2);
  });
});

describe('leadership transfer', () => {
  it('moves leadership to each voter in turn; --no-wait prints a job id that `raftinel job` waits for', async () => {
    const first = await c.waitForLeader([1, 2, 3]);
    for (const to of [...[1, 2, 3].filter((id) => id !== first), first]) {
      const via = (to % 3) + 1; // ask some node other than the target
      const mark = c.node(to).mark();
      const r = await c.cli(['transfer-leader', String(to)], { adminOf: via });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toContain('leader.transfer succeeded');
      await c.expectLeadershipMovedTo(to, mark, [1, 2, 3]);
    }

    const to = first === 1 ? 2 : 1;
    const mark = c.node(to).mark();
    const r = await c.cli(['transfer-leader', String(to), '--no-wait'], { adminOf: 3 });
    expect(r.code, r.stderr).toBe(0);
    const jobId = r.stdout.trim();
    expect(jobId).toMatch(/^[0-9a-f-]{36}$/);
    const w = await c.cli(['job', jobId], { adminOf: 2 });
    expect(w.code, w.stderr).toBe(0);
    expect(w.stdout).toContain('leader.transfer succeeded');
    await c.expectLeadershipMovedTo(to, mark, [1, 2, 3]);
  });
});

describe('forwarding', () => {
  it('a mutation sent to a follower is forwarded to the leader; every node answers GET /v1/jobs/{id}', async () => {
    const leader = await c.waitForLeader([1, 2, 3]);
    const follower = [1, 2, 3].find((id) => id !== leader)!;
    const target = [1, 2, 3].find((id) => id !== leader && id !== follower)!;
    const mark = c.node(target).mark();
    const r = await c.node(follower).http('POST', '/v1/leader/transfer', { body: { to: target } });
    expect(r.status, r.text).toBe(202);
    const job = (r.json as { job: { id: string; kind: string; origin: number } }).job;
    expect(job.kind).toBe('leader.transfer');
    // The job was created by the leader, not by the follower that was asked.
    expect(job.origin).toBe(leader);
    expect(r.headers.get('location')).toBe(`/v1/jobs/${job.id}`);
    for (const id of [1, 2, 3]) {
      const done = await c.waitFor(
        async () => {
          const g = await c.node(id).http('GET', `/v1/jobs/${job.id}`);
          const j = (g.json as { job?: { state: string } }).job;
          return g.status === 200 && j?.state === 'succeeded' ? j : null;
        },
        10_000,
        { what: `job ${job.id} succeeded on node ${id}` },
      );
      expect(done.state).toBe('succeeded');
    }
    await c.expectLeadershipMovedTo(target, mark, [1, 2, 3]);
  });
});

describe('learners', () => {
  it('a node started as a learner joins and stays one; transfer to it is refused; promote makes it a voter', async () => {
    const n4 = await c.start(4, { join: [2], role: 'learner' });
    await n4.waitForLog((l) => l.json?.msg === 'joined the group', 20_000);
    const statuses = await c.waitForMembers([1, 2, 3, 4], [1, 2, 3], [4]);
    for (const s of statuses) expect(s.members.find((m) => m.id === 4)!.role).toBe('learner');
    const s4 = await c.status(4);
    expect(s4.member_role).toBe('learner');
    expect(s4.role).toBe('follower');

    // A learner never votes and so cannot lead.
    const refused = await c.cli(['transfer-leader', '4'], { adminOf: 1 });
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/node 4 is a learner and cannot lead/);

    // It stays a learner: the leader does not promote it on its own.
    const before = (await c.status(1)).commit_index;
    await c.waitFor(async () => (await c.status(4)).applied_index >= before, 10_000);
    expect((await c.status(1)).members.find((m) => m.id === 4)!.role).toBe('learner');

    const p = await c.cli(['peer', 'promote', '4'], { adminOf: 3 });
    expect(p.code, p.stderr).toBe(0);
    expect(p.stdout).toContain('member.promote succeeded');
    await c.waitForMembers([1, 2, 3, 4], [1, 2, 3, 4]);
    expect((await c.status(4)).member_role).toBe('voter');

    // Leave the group as it was: remove node 4 again (its daemon exits by itself).
    const rm = await c.cli(['peer', 'remove', '4'], { adminOf: 1 });
    expect(rm.code, rm.stderr).toBe(0);
    expect(await n4.waitExit(15_000)).toEqual({ code: 0, signal: null });
    await c.waitForMembers([1, 2, 3], [1, 2, 3]);
  });
});

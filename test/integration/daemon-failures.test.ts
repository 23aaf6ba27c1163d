/**
 * Real daemons under process failures: kill -9 of the leader (election, restart from data_dir,
 * catch-up), a member down long enough to need a snapshot, and a graceful SIGTERM of the leader.
 * The three tests share one group (snapshot every 8 entries) and leave it with three live voters.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  cleanupAll,
  DaemonCluster,
  type DaemonStatus,
  dumpLogsIfFailed,
  metricValue,
  TIMING,
  waitFor,
} from '../support/daemons.js';

const ALL = [1, 2, 3];
let c: DaemonCluster;

beforeAll(async () => {
  c = new DaemonCluster();
  await c.startGroup(ALL, { snapshotEveryEntries: 8 });
});

afterEach(dumpLogsIfFailed);

afterAll(async () => {
  await cleanupAll();
});

/**
 * POST /v1/leader/transfer to `to` through node `via`, and wait for the job to finish. Used to write
 * log entries: a transfer that fails (an overloaded machine) wrote its entries too.
 */
async function transferLeader(via: number, to: number): Promise<void> {
  const r = await c.node(via).http('POST', '/v1/leader/transfer', { body: { to } });
  expect(r.status, r.text).toBe(202);
  const id = (r.json as { job: { id: string } }).job.id;
  const job = await waitFor(
    async () => {
      const g = await c.node(via).http('GET', `/v1/jobs/${id}`);
      const j = (g.json as { job?: { state: string; reason: string | null } }).job;
      return j && (j.state === 'succeeded' || j.state === 'failed') ? j : null;
    },
    15_000,
    { what: `transfer to node ${to}` },
  );
  if (job.state !== 'succeeded')
    console.warn(`[daemon-failures] transfer to node ${to} failed: ${job.reason}`);
}

describe('kill -9 of the leader', () => {
  it('elects a new leader quickly; the killed node restarts from its data_dir and catches up', async () => {
    const leader = await c.waitForLeader(ALL);
    const before = await c.status(leader);
    const others = ALL.filter((id) => id !== leader);

    const killedAt = Date.now();
    await c.node(leader).crash();
    const newLeader = await waitFor(
      async () => {
        const ss = await Promise.all(others.map((id) => c.status(id)));
        const l = ss[0]!.leader;
        return l !== null && l !== leader && ss.every((s) => s.leader === l) ? l : null;
      },
      10 * TIMING.electionTimeoutMs,
      { what: 'a new leader after kill -9', intervalMs: 20 },
    );
    const electionMs = Date.now() - killedAt;
    console.log(
      `[daemon-failures] kill -9 of leader ${leader}: node ${newLeader} leads after ${electionMs} ms ` +
        `(election_timeout_ms ${TIMING.electionTimeoutMs})`,
    );
    expect(others).toContain(newLeader);
    expect((await c.status(newLeader)).term).toBeGreaterThan(before.term);

    // Restart the killed node with the survivors paused: what it reports is what it read from disk.
    for (const id of others) c.kill(id, 'SIGSTOP');
    const n = c.node(leader);
    const mark = n.mark();
    try {
      await n.start();
      expect(n.logs('raftinel started', mark)[0]).toMatchObject({ mode: 'resume' });
      const recovered = await n.status();
      expect(recovered.term).toBeGreaterThanOrEqual(before.term);
      expect(recovered.last_index).toBeGreaterThanOrEqual(before.last_index);
      expect(recovered.members.map((m) => m.id).sort()).toEqual(ALL);
    } finally {
      for (const id of others) c.kill(id, 'SIGCONT');
    }

    const l = await c.waitForLeader(ALL, { timeoutMs: 15_000 });
    const caughtUp = await c.waitCaughtUp(leader, l);
    expect(caughtUp.term).toBeGreaterThan(before.term);
    expect(caughtUp.leader).toBe(l);
  });
});

describe('a member that needs a snapshot to catch up', () => {
  it('installs the leader snapshot after missing more entries than the leader keeps', async () => {
    const leader = await c.waitForLeader(ALL);
    // Keep the down node out of the transfers: they run between the two others.
    const down = ALL.find((id) => id !== leader)!;
    const [a, b] = ALL.filter((id) => id !== down) as [number, number];
    const n = c.node(down);
    const beforeDown = await n.status();
    await n.crash();

    let s: DaemonStatus = await c.status(a);
    const startIndex = s.last_index;
    // Each transfer job writes several entries (create, running, step, done, the new leader's noop).
    let to = s.leader === a ? b : a;
    for (let i = 0; i < 12 && s.last_index - startIndex <= 30; i++) {
      await transferLeader(to === a ? b : a, to);
      to = to === a ? b : a;
      s = await c.status(a);
    }
    expect(s.last_index - startIndex).toBeGreaterThan(30);
    const l = await c.waitForLeader([a, b]);
    const ls = await c.status(l);
    // The leader compacted its log past what the down node has.
    expect(ls.snapshot_index).toBeGreaterThan(beforeDown.last_index);

    const mark = n.mark();
    await n.start();
    const installed = await n.waitForLog(
      (line) => line.json?.msg === 'snapshot' && line.json.kind === 'installed',
      15_000,
      mark,
    );
    expect(installed.json!.index as number).toBeGreaterThan(beforeDown.last_index);
    const caughtUp = await c.waitCaughtUp(down, l);
    expect(caughtUp.members.map((m) => m.id).sort()).toEqual(ALL);
    const metrics = await n.metrics();
    expect(
      metricValue(metrics, 'raftinel_raft_snapshots_total', { kind: 'installed' }),
    ).toBeGreaterThanOrEqual(1);
  });
});

describe('graceful SIGTERM of the leader', () => {
  it('hands leadership over before exiting 0; a restart resumes', async () => {
    const leader = await c.waitForLeader(ALL);
    const others = ALL.filter((id) => id !== leader);
    // Every voter must be caught up, or the handover may pick nobody.
    for (const id of others) await c.waitCaughtUp(id, leader);
    const n = c.node(leader);
    const mark = n.mark();
    const marks = new Map(others.map((id) => [id, c.node(id).mark()]));
    c.kill(leader, 'SIGTERM');
    const handed = await n.waitForLog(
      (l) => l.json?.msg === 'handed leadership over before stopping',
      10_000,
      mark,
    );
    expect(handed.json).toMatchObject({ moved: true });
    expect(others).toContain(handed.json!.to);
    expect(await n.waitExit(10_000)).toEqual({ code: 0, signal: null });
    const to = Number(handed.json!.to);
    await c.expectLeadershipMovedTo(to, marks.get(to)!, others);
    const newLeader = await c.waitForLeader(others);

    const restartMark = n.mark();
    await n.start();
    expect(n.logs('raftinel started', restartMark)[0]).toMatchObject({ mode: 'resume' });
    await c.waitForMembers(ALL, ALL);
    await c.waitCaughtUp(leader, newLeader);
  });
});

/**
 * SENTINEL MONITOR/REMOVE/SET sent while the group has no leader (an election, or a daemon still
 * joining) wait for one within LEADER_WAIT_MS instead of failing at once; other refusals answer
 * at once.
 */
import { describe, expect, it } from 'vitest';
import type { AdminApi } from '../../../src/admin/api.js';
import {
  DaemonSentinelBackend,
  ELECTION_WAIT_ELECTION_TIMEOUTS,
  LEADER_WAIT_MS,
  type SentinelBackendDeps,
  STARTUP_WAIT_ELECTION_TIMEOUTS,
} from '../../../src/daemon/sentinel-backend.js';
import { systemClock } from '../../../src/util/clock.js';
import { Scheduler } from '../../sim/scheduler.js';

function backend(replies: { status: number; code?: string }[]) {
  const calls: string[] = [];
  const api = {
    handle: async (req: { method: string; path: string }) => {
      calls.push(`${req.method} ${req.path}`);
      const r = replies.shift() ?? { status: 503, code: 'no_leader' };
      return r.status < 300
        ? { status: r.status, body: { job: { id: 'j' } } }
        : { status: r.status, body: { error: { code: r.code, message: `refused: ${r.code}` } } };
    },
  } as unknown as AdminApi;
  const deps = {
    state: { onChange: () => () => {}, shards: new Map() },
    clock: systemClock,
    api: () => api,
    adminToken: undefined,
  } as unknown as SentinelBackendDeps;
  return { b: new DaemonSentinelBackend(deps), calls };
}

describe('Sentinel changes while the group elects a leader', () => {
  it('are retried until a leader answers', async () => {
    const { b, calls } = backend([
      { status: 503, code: 'no_leader' },
      { status: 503, code: 'leader_unreachable' },
      { status: 202 },
    ]);
    expect(await b.monitor('m', '127.0.0.1:6379', 2)).toEqual({ ok: true });
    expect(calls).toEqual(['POST /v1/shards', 'POST /v1/shards', 'POST /v1/shards']);
  });

  it('give up with the error after LEADER_WAIT_MS; other refusals are not retried', async () => {
    const { b } = backend([]);
    const start = performance.now();
    expect(await b.remove('m')).toMatchObject({ ok: false, code: 'no_leader' });
    const waited = performance.now() - start;
    expect(waited).toBeGreaterThanOrEqual(LEADER_WAIT_MS - 50);
    expect(waited).toBeLessThan(LEADER_WAIT_MS + 2000);
    const other = backend([{ status: 409, code: 'settings_rule' }]);
    expect(await other.b.set('m', { down_after_ms: 1 }, null)).toMatchObject({ ok: false });
    expect(other.calls).toHaveLength(1);
  });
});

/** A voting member on virtual time whose lease the test sets. */
function withLease(initial: boolean, electionTimeoutMs: number) {
  const s = new Scheduler();
  let lease = initial;
  const deps = {
    state: { onChange: () => () => {}, shards: new Map() },
    clock: s.clockFor(() => true),
    raft: { status: () => ({ memberRole: 'voter' }), lease: () => ({ valid: lease }) },
    electionTimeoutMs,
  } as unknown as SentinelBackendDeps;
  return { s, b: new DaemonSentinelBackend(deps), set: (v: boolean) => (lease = v) };
}

describe('a daemon just started (issue 10: it said "cut off" before it had heard from the group)', () => {
  function starting(electionTimeoutMs: number) {
    const t = withLease(false, electionTimeoutMs);
    return { s: t.s, b: t.b, hear: () => t.set(true) };
  }

  it('holds the commands that name masters until it has heard from the group', async () => {
    const { s, b, hear } = starting(1000);
    let done = false;
    void (b.unsettled() ?? Promise.resolve()).then(() => (done = true));
    s.runUntil(1500);
    await Promise.resolve();
    expect(done).toBe(false);
    hear();
    s.runUntil(1600);
    await new Promise((r) => setImmediate(r));
    expect(done).toBe(true);
    expect(b.fresh()).toBe(true);
  });

  it(`answers within STARTUP_WAIT_ELECTION_TIMEOUTS election timeouts when the group stays silent (then as cut off)`, async () => {
    const { s, b } = starting(1000);
    let doneAt = -1;
    void (b.unsettled() ?? Promise.resolve()).then(() => (doneAt = s.now));
    for (let t = 100; t <= 5000 && doneAt < 0; t += 100) {
      s.runUntil(t);
      await new Promise((r) => setImmediate(r));
    }
    expect(doneAt).toBeGreaterThanOrEqual(STARTUP_WAIT_ELECTION_TIMEOUTS * 1000);
    expect(doneAt).toBeLessThanOrEqual(STARTUP_WAIT_ELECTION_TIMEOUTS * 1000 + 100);
    expect(b.fresh()).toBe(false);
    // Later calls do not wait again: no promise at all.
    expect(b.unsettled()).toBeNull();
  });
});

describe('an election (issue 10: every daemon said "cut off" for the length of one)', () => {
  const member = () => withLease(true, 1000);

  /** Advance in probe rounds of 50 ms (each calls observe(), as the daemon does) until `until`. */
  async function rounds(t: ReturnType<typeof member>, untilMs: number, stop: () => boolean = () => false) {
    while (t.s.now < untilMs && !stop()) {
      t.s.runUntil(t.s.now + 50);
      t.b.observe();
      await new Promise((r) => setImmediate(r));
    }
  }

  it('a command that arrives after the lease lapsed is held until a new leader is heard from', async () => {
    const t = member();
    await rounds(t, 1000);
    t.set(false);
    await rounds(t, 1400);
    let doneAt = -1;
    void (t.b.unsettled() ?? Promise.resolve()).then(() => (doneAt = t.s.now));
    await rounds(t, 2200);
    expect(doneAt).toBe(-1);
    t.set(true);
    await rounds(t, 3000, () => doneAt >= 0);
    expect(doneAt).toBeGreaterThanOrEqual(2200);
    expect(doneAt).toBeLessThan(2300);
    expect(t.b.fresh()).toBe(true);
  });

  it(`held at most ELECTION_WAIT_ELECTION_TIMEOUTS election timeouts from the last contact; answered at once after that`, async () => {
    const t = member();
    await rounds(t, 1000);
    t.set(false);
    let doneAt = -1;
    void (t.b.unsettled() ?? Promise.resolve()).then(() => (doneAt = t.s.now));
    await rounds(t, 6000, () => doneAt >= 0);
    expect(doneAt).toBeGreaterThanOrEqual(1000 + ELECTION_WAIT_ELECTION_TIMEOUTS * 1000 - 50);
    expect(doneAt).toBeLessThanOrEqual(1000 + ELECTION_WAIT_ELECTION_TIMEOUTS * 1000 + 100);
    expect(t.b.fresh()).toBe(false);
    // A daemon cut off for longer answers at once (as cut off).
    expect(t.b.unsettled()).toBeNull();
  });
});

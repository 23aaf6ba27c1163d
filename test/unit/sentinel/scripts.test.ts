/**
 * Sentinel scripts on virtual time with a fake spawner: the queue's bounds, retries, time limit
 * and events follow Sentinel's script execution; the hooks run the right script with Sentinel's
 * arguments for the right events.
 */
import { describe, expect, it } from 'vitest';
import type { FailoverRecord, Shard } from '../../../src/cluster/shards.js';
import { LEADER_ONLY_EVENTS, NOTIFIED_EVENTS, ScriptHooks } from '../../../src/sentinel/script-hooks.js';
import {
  retryDelayMs,
  SCRIPT_QUEUE_MAX,
  SCRIPT_RETRY_MAX,
  SCRIPT_RUNNING_MAX,
  ScriptQueue,
} from '../../../src/sentinel/scripts.js';
import { Scheduler } from '../../sim/scheduler.js';

interface FakeChild {
  argv: readonly string[];
  pid: number;
  killed: boolean;
  exit: (code: number | null, signal?: number) => void;
}

function setup() {
  const s = new Scheduler();
  const clock = s.clockFor(() => true);
  const children: FakeChild[] = [];
  const events: string[] = [];
  let pid = 100;
  const q = new ScriptQueue({
    clock,
    spawn: (argv, onExit) => {
      if (argv[0] === '/missing') throw new Error('fork failed');
      const c: FakeChild = {
        argv,
        pid: ++pid,
        killed: false,
        exit: (code, signal = 0) => onExit(code, signal),
      };
      children.push(c);
      return {
        pid: c.pid,
        kill: () => {
          c.killed = true;
          s.schedule(0, () => c.exit(null, 9));
        },
      };
    },
    publish: (channel, message) => events.push(`${channel} ${message}`),
  });
  const running = () => q.pending().filter((p) => p.flags === 'running').length;
  return { s, q, children, events, running };
}

describe('the script queue (Sentinel semantics)', () => {
  it('runs a script once with its arguments; exit 0 removes it without an event', () => {
    const { s, q, children, events } = setup();
    q.schedule('/bin/notify', '+sdown', 'master mymaster 127.0.0.1 6379');
    expect(children.map((c) => c.argv)).toEqual([
      ['/bin/notify', '+sdown', 'master mymaster 127.0.0.1 6379'],
    ]);
    expect(q.pending()).toEqual([
      {
        argv: ['/bin/notify', '+sdown', 'master mymaster 127.0.0.1 6379'],
        flags: 'running',
        pid: children[0]!.pid,
        runTimeMs: 0,
        retryNum: 1,
      },
    ]);
    s.runUntil(50);
    children[0]!.exit(0);
    expect(q.pending()).toEqual([]);
    expect(events).toEqual([]);
  });

  it('exit 1 and death by signal are retried after 30 s, doubling, up to the retry limit; then -script-error', () => {
    const { s, q, children, events } = setup();
    q.schedule('/bin/flaky');
    for (let attempt = 1; attempt <= SCRIPT_RETRY_MAX; attempt++) {
      expect(children).toHaveLength(attempt);
      const last = children[attempt - 1]!;
      if (attempt === 2) last.exit(null, 15);
      else last.exit(1);
      if (attempt === SCRIPT_RETRY_MAX) break;
      const p = q.pending()[0]!;
      expect(p).toMatchObject({
        flags: 'scheduled',
        retryNum: attempt,
        runDelayMs: retryDelayMs(30_000, attempt),
      });
      // Not before its delay.
      s.runUntil(s.now + retryDelayMs(30_000, attempt) - 200);
      expect(children).toHaveLength(attempt);
      s.runUntil(s.now + 300);
    }
    expect(retryDelayMs(30_000, 1)).toBe(30_000);
    expect(retryDelayMs(30_000, 3)).toBe(120_000);
    expect(q.pending()).toEqual([]);
    expect(events).toEqual(['-script-error /bin/flaky 0 1']);
  });

  it('other exit codes end the run at once with -script-error; a failed start is signal 99, retried', () => {
    const { q, children, events } = setup();
    q.schedule('/bin/broken');
    children[0]!.exit(2);
    expect(events).toEqual(['-script-error /bin/broken 0 2']);
    expect(q.pending()).toEqual([]);
    q.schedule('/missing');
    expect(q.pending()).toMatchObject([{ argv: ['/missing'], flags: 'scheduled', retryNum: 1 }]);
  });

  it('kills a run past script-max-runtime (SIGKILL) with -script-timeout, then retries it', () => {
    const { s, q, children, events } = setup();
    q.scriptMaxRuntimeMs = 1000;
    q.schedule('/bin/slow', 'a');
    s.runUntil(900);
    expect(children[0]!.killed).toBe(false);
    s.runUntil(1200);
    expect(children[0]!.killed).toBe(true);
    expect(events).toEqual([`-script-timeout /bin/slow ${children[0]!.pid}`]);
    expect(q.pending()).toMatchObject([{ flags: 'scheduled', retryNum: 1 }]);
  });

  it(`runs at most ${SCRIPT_RUNNING_MAX} at once, oldest first, and keeps at most ${SCRIPT_QUEUE_MAX} (dropping the oldest waiting)`, () => {
    const { q, children, running } = setup();
    for (let i = 0; i < SCRIPT_QUEUE_MAX + 10; i++) q.schedule('/bin/n', String(i));
    expect(running()).toBe(SCRIPT_RUNNING_MAX);
    const pending = q.pending();
    expect(pending).toHaveLength(SCRIPT_QUEUE_MAX);
    // The running ones stay; the oldest waiting ones (16..25) were dropped.
    expect(pending.slice(0, SCRIPT_RUNNING_MAX).map((p) => p.argv[1])).toEqual(
      Array.from({ length: SCRIPT_RUNNING_MAX }, (_, i) => String(i)),
    );
    expect(pending[SCRIPT_RUNNING_MAX]!.argv[1]).toBe(String(SCRIPT_RUNNING_MAX + 10));
    children[0]!.exit(0);
    expect(running()).toBe(SCRIPT_RUNNING_MAX);
    expect(children.at(-1)!.argv[1]).toBe(String(SCRIPT_RUNNING_MAX + 10));
  });

  it('after close, nothing new starts', () => {
    const { q, children } = setup();
    q.close();
    q.schedule('/bin/notify');
    expect(children).toEqual([]);
    expect(q.pending()).toEqual([]);
  });
});

describe('script hooks', () => {
  const shard = (scripts?: Shard['scripts']) => ({ name: 'mymaster', scripts }) as Shard;
  const record: FailoverRecord = {
    epoch: 2,
    from: '10.0.0.1:6379',
    to: '10.0.0.2:6380',
    kind: 'auto',
    jobId: 'j',
    atMs: 0,
    reason: 'test',
  };

  function hooks(defaults = {}) {
    const runs: string[][] = [];
    const queue = { schedule: (...argv: string[]) => runs.push(argv) } as unknown as ScriptQueue;
    return { h: new ScriptHooks({ queue, defaults }), runs };
  }

  it("runs the shard's notification script for warning-level events only, as `script <event> <text>`", () => {
    const { h, runs } = hooks();
    const s = shard({ notification: '/opt/notify' });
    h.onEvent('+sdown', 'master mymaster 10.0.0.1 6379', s);
    h.onEvent('+slave', 'slave 10.0.0.3:6379 10.0.0.3 6379 @ mymaster 10.0.0.1 6379', s);
    h.onEvent('+switch-master', 'mymaster 10.0.0.1 6379 10.0.0.2 6380', s);
    h.onEvent('-script-error', '/opt/notify 0 2', null);
    expect(runs).toEqual([
      ['/opt/notify', '+sdown', 'master mymaster 10.0.0.1 6379'],
      ['/opt/notify', '+switch-master', 'mymaster 10.0.0.1 6379 10.0.0.2 6380'],
    ]);
    expect(NOTIFIED_EVENTS.has('+slave')).toBe(false);
  });

  it("runs the failover's own steps only on the daemon that led it; events every Sentinel emits run everywhere", () => {
    const { h, runs } = hooks();
    const s = shard({ notification: '/opt/notify' });
    h.onEvent('+try-failover', 'master mymaster 10.0.0.1 6379', s, false);
    h.onEvent('+promoted-slave', 'slave 10.0.0.2:6380 10.0.0.2 6380 @ mymaster 10.0.0.1 6379', s, false);
    h.onEvent('+odown', 'master mymaster 10.0.0.1 6379 #quorum 2/2', s, false);
    h.onEvent('+switch-master', 'mymaster 10.0.0.1 6379 10.0.0.2 6380', s, false);
    h.onEvent('+try-failover', 'master mymaster 10.0.0.1 6379', s, true);
    expect(runs.map((r) => r[1])).toEqual(['+odown', '+switch-master', '+try-failover']);
    for (const e of LEADER_ONLY_EVENTS) expect(NOTIFIED_EVENTS.has(e)).toBe(true);
  });

  it("runs the client-reconfig script with Sentinel's seven arguments; the daemon's own script when the shard has none", () => {
    const { h, runs } = hooks({
      clientReconfig: '/etc/raftinel/reconf',
      notification: '/etc/raftinel/notify',
    });
    h.onMasterChanged(shard({ clientReconfig: '/opt/reconf' }), record, 'leader');
    h.onMasterChanged(shard(), record, 'observer');
    h.onMasterChanged(shard(), { ...record, from: null }, 'leader');
    h.onEvent('+odown', 'master mymaster 10.0.0.1 6379 #quorum 2/2', shard());
    expect(runs).toEqual([
      ['/opt/reconf', 'mymaster', 'leader', 'start', '10.0.0.1', '6379', '10.0.0.2', '6380'],
      ['/etc/raftinel/reconf', 'mymaster', 'observer', 'start', '10.0.0.1', '6379', '10.0.0.2', '6380'],
      ['/etc/raftinel/notify', '+odown', 'master mymaster 10.0.0.1 6379 #quorum 2/2'],
    ]);
  });
});

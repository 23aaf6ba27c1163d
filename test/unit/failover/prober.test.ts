import { describe, expect, it } from 'vitest';
import { Prober, type ProbeTarget } from '../../../src/failover/prober.js';
import {
  parseInfo,
  type RedisAdapter,
  RedisCommandError,
  type RedisInfo,
} from '../../../src/failover/redis.js';
import { silentLogger } from '../../../src/util/log.js';
import { Scheduler } from '../../sim/scheduler.js';

/** A Redis model for the prober: up/down, its role, its run id and key count. */
class FakeRedis {
  up = true;
  role: 'master' | 'slave' = 'master';
  runId = 'run-1';
  keys = 5;
  loading = false;
  info(): RedisInfo {
    return parseInfo(
      `run_id:${this.runId}\nrole:${this.role}\nmaster_host:10.0.0.9\nmaster_port:1\nloading:${this.loading ? 1 : 0}\ndb0:keys=${this.keys},expires=0`,
    );
  }
}

function adapterFor(redis: FakeRedis): RedisAdapter {
  const fail = () => Promise.reject(new RedisCommandError('x', 'connection refused'));
  return {
    ping: () => (redis.up ? Promise.resolve() : fail()),
    info: () => (redis.up ? Promise.resolve(redis.info()) : fail()),
    reconfigure: () => Promise.resolve(redis.info()),
    pauseWrites: () => Promise.resolve(),
    unpause: () => Promise.resolve(),
    configSet: () => Promise.resolve(),
    forget: () => {},
    close: () => Promise.resolve(),
  };
}

async function run(s: Scheduler, ms: number): Promise<void> {
  const end = s.now + ms;
  while (s.now < end) {
    s.runUntil(Math.min(end, s.now + 5));
    await new Promise((r) => setImmediate(r));
  }
}

function setup(target: Partial<ProbeTarget> = {}) {
  const s = new Scheduler();
  const redis = new FakeRedis();
  const restarts: number[] = [];
  const prober = new Prober({
    adapter: adapterFor(redis),
    clock: s.clockFor(() => true),
    logger: silentLogger,
    targets: () => [{ addr: 'r:1', expectMaster: false, ...target }],
    probeIntervalMs: () => 20,
    infoIntervalMs: 100,
    stallThresholdMs: 200,
    onRestart: (v) => restarts.push(v.keysBeforeRestart),
  });
  prober.start();
  return { s, redis, prober, restarts };
}

describe('Prober', () => {
  it('measures how long a node has been failing, and resets when it answers again', async () => {
    const { s, redis, prober } = setup();
    await run(s, 200);
    expect(prober.downForMs('r:1')).toBe(0);
    redis.up = false;
    await run(s, 500);
    const down = prober.downForMs('r:1');
    expect(down).toBeGreaterThanOrEqual(480);
    expect(down).toBeLessThanOrEqual(520);
    expect(prober.report().nodes[0]).toMatchObject({ addr: 'r:1', failing: true });
    redis.up = true;
    await run(s, 60);
    expect(prober.downForMs('r:1')).toBe(0);
  });

  it('a stall of this daemon does not count as the node failing', async () => {
    const { s, redis, prober } = setup();
    await run(s, 100);
    redis.up = false;
    await run(s, 100);
    // The process stops running for 3 s (SIGSTOP, a long GC, a clock jump): no probe rounds.
    s.now += 3000;
    await run(s, 30);
    expect(prober.downForMs('r:1')).toBeLessThan(100);
    expect(prober.stalls).toBe(1);
    expect(prober.report().stalledRecently).toBe(true);
    // A node that stays down is counted again from the stall on.
    await run(s, 400);
    expect(prober.downForMs('r:1')).toBeGreaterThanOrEqual(380);
  });

  it('after requireFreshProbes a failure counts only once a probe sent since confirms it, then for its whole length (sim seed 9152)', async () => {
    const { s, redis, prober } = setup();
    await run(s, 100);
    redis.up = false;
    await run(s, 500);
    prober.requireFreshProbes('back in the group');
    // Still failing, but nothing sent since says so: neither down for a verdict nor healthy.
    expect(prober.view('r:1')!.failing).toBe(true);
    expect(prober.downForMs('r:1')).toBe(0);
    expect(prober.notFailing('r:1')).toBe(false);
    expect(prober.report().nodes[0]).toMatchObject({ failing: true, downForMs: 0 });
    await run(s, 30);
    // The next probe failed: the node has been down since its last answer, 500 ms and more ago.
    expect(prober.downForMs('r:1')).toBeGreaterThanOrEqual(500);
    expect(prober.report().nodes[0]!.downForMs).toBeGreaterThanOrEqual(500);
  });

  it('the committed master reporting role:slave counts as failing', async () => {
    const { s, redis, prober } = setup({ expectMaster: true });
    await run(s, 150);
    expect(prober.downForMs('r:1')).toBe(0);
    redis.role = 'slave';
    await run(s, 400);
    expect(prober.downForMs('r:1')).toBeGreaterThan(250);
    expect(prober.view('r:1')!.error).toMatch(/role:slave/);
  });

  it('master-reboot-down-after-period: a master restarted and still loading after the period fails, counted from its restart', async () => {
    const { s, redis, prober } = setup({ expectMaster: true, rebootDownAfterMs: 1000 });
    await run(s, 200);
    // It restarts and loads (a loading server answers PING with -LOADING, which counts as an answer).
    redis.runId = 'run-2';
    redis.loading = true;
    await run(s, 900);
    expect(prober.downForMs('r:1')).toBe(0);
    await run(s, 300);
    expect(prober.report().nodes[0]).toMatchObject({
      failing: true,
      error: expect.stringMatching(/still loading/),
    });
    expect(prober.downForMs('r:1')).toBeGreaterThanOrEqual(1000);
    // Done loading: it answers again.
    redis.loading = false;
    await run(s, 150);
    expect(prober.downForMs('r:1')).toBe(0);
    // Without the setting, a restart that loads for long is not a failure.
    const other = setup({ expectMaster: true });
    await run(other.s, 200);
    other.redis.runId = 'run-2';
    other.redis.loading = true;
    await run(other.s, 2000);
    expect(other.prober.downForMs('r:1')).toBe(0);
  });

  it('notices a restart (new run id) and remembers how many keys the node had', async () => {
    const { s, redis, restarts } = setup();
    await run(s, 150);
    redis.up = false;
    await run(s, 60);
    redis.runId = 'run-2';
    redis.keys = 0;
    redis.up = true;
    await run(s, 60);
    expect(restarts).toEqual([5]);
  });

  it('an event loop lagging below the stall threshold does not make a healthy node fail (issue 9)', async () => {
    const s = new Scheduler();
    const redis = new FakeRedis();
    let lagMs = 0;
    // A Redis that answers in 5 ms, on a daemon whose loop blocks `lagMs` right after each send.
    // As in Node, once the loop runs again an expired timer fires before a reply already
    // received is read: a reply delivered after the deadline loses to the timeout.
    const slow = <T>(value: () => T, timeoutMs: number): Promise<T> => {
      const sentAt = s.now;
      s.now += lagMs;
      return new Promise<T>((resolve, reject) => {
        s.schedule(5, () => {
          if (!redis.up) reject(new RedisCommandError('r:1', 'connection refused'));
          else if (s.now - sentAt > timeoutMs)
            reject(new RedisCommandError('r:1', `INFO timed out after ${timeoutMs} ms`));
          else resolve(value());
        });
      });
    };
    const adapter: RedisAdapter = {
      ...adapterFor(redis),
      ping: (_n, t) => slow(() => undefined, t),
      info: (_n, t) => slow(() => redis.info(), t),
    };
    const prober = new Prober({
      adapter,
      clock: s.clockFor(() => true),
      logger: silentLogger,
      targets: () => [{ addr: 'r:1', expectMaster: false }],
      probeIntervalMs: () => 20,
      infoIntervalMs: 100,
      stallThresholdMs: 200,
    });
    prober.start();
    await run(s, 200);
    lagMs = 150;
    let worst = 0;
    for (let i = 0; i < 40; i++) {
      await run(s, 20);
      worst = Math.max(worst, prober.downForMs('r:1'));
    }
    expect(prober.stalls).toBe(0);
    expect(worst).toBe(0);
    // A node that is really down is still seen failing while the loop lags.
    redis.up = false;
    for (let i = 0; i < 20; i++) await run(s, 20);
    expect(prober.downForMs('r:1')).toBeGreaterThan(1000);
  });
});

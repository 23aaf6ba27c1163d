/**
 * Small scripted Redis scenarios that run the same way on the model (test/sim/redis-model.ts, on
 * virtual time) and on real redis-server 7.0 processes (test/integration/redis-model-compat.test.ts).
 * Each returns a transcript of what matters to the failover layer (roles, replication-id lineage,
 * the offset 0/1 cases, link status, -NOREPLICAS, pause queueing, persistence, empty restarts);
 * the compat test requires the two transcripts to be equal, the unit test pins the model's.
 */
import { holdsNoHistory, parseInfo, type RedisInfo } from '../../src/failover/redis.js';
import { seededRandom } from '../../src/util/random.js';
import { SimRedisClient } from './redis-adapter.js';
import { RedisWorld, type Reply, ReplyError } from './redis-model.js';
import { Scheduler } from './scheduler.js';

/** A reply as the transcripts record it: error replies as { err }. */
export type Obs = string | number | boolean | null | { err: string } | Obs[];

export interface StartOpts {
  /** Name of the server to replicate from, or DEAD for an address nothing listens on. */
  replicaOf?: string;
  persistence?: boolean;
}

export const DEAD = '<dead>';

export interface RedisDriver {
  readonly kind: 'model' | 'real';
  start(name: string, opts?: StartOpts): Promise<void>;
  /** "host:port" of a server (DEAD: an address nothing listens on). */
  addr(name: string): string;
  /** One command on the driver's connection to `name`, awaited. */
  call(name: string, ...argv: string[]): Promise<Obs>;
  /** One command on a connection of its own; the reply comes whenever it comes. */
  send(name: string, ...argv: string[]): Promise<Obs>;
  info(name: string): Promise<RedisInfo>;
  /** Until `pred` holds, within `boundMs` (real time for real servers, virtual for the model). */
  waitFor(what: string, pred: () => Promise<boolean>, boundMs: number): Promise<void>;
  /** Let `ms` pass (only to show that something does NOT happen meanwhile). */
  pass(ms: number): Promise<void>;
  crash(name: string): Promise<void>;
  restart(name: string): Promise<void>;
  stall(name: string): void;
  resume(name: string): void;
  cleanup(): Promise<void>;
}

/** The error code of an error reply, else the reply. */
function code(o: Obs): Obs {
  return o !== null && typeof o === 'object' && 'err' in o ? { err: o.err.split(' ', 1)[0]! } : o;
}

function tracked<T>(p: Promise<T>): { p: Promise<T>; settled: () => boolean } {
  let done = false;
  p.then(
    () => {
      done = true;
    },
    () => {
      done = true;
    },
  );
  return { p, settled: () => done };
}

function hostPort(addr: string): [string, string] {
  const i = addr.lastIndexOf(':');
  return [addr.slice(0, i), addr.slice(i + 1)];
}

const isZeros = (id: string) => id === '' || /^0+$/.test(id);

export type Transcript = Record<string, Obs>;
export type Scenario = (d: RedisDriver) => Promise<Transcript>;

export const SCENARIOS: Record<string, Scenario> = {
  /** A replica that never reached its master; a master made a replica of a dead address. */
  async neverSynced(d) {
    await d.start('a');
    const a0 = await d.info('a');
    await d.start('b', { replicaOf: DEAD });
    await d.pass(1500);
    const b = await d.info('b');
    await d.call('a', 'REPLICAOF', ...hostPort(d.addr(DEAD)));
    await d.pass(1500);
    const a = await d.info('a');
    return {
      bRole: b.role,
      bLinkUp: b.masterLinkUp,
      bOffset: b.offset,
      bDownSince: b.masterLinkDownSinceSeconds,
      bReplidFresh: b.replId.length === 40 && b.replId !== a0.replId,
      bReplid2None: isZeros(b.replId2),
      bSyncing: b.syncInProgress,
      aRole: a.role,
      aOffset: a.offset,
      aKeepsReplid: a.replId === a0.replId,
      aDownSince: a.masterLinkDownSinceSeconds,
      writeOnReplica: code(await d.call('b', 'SET', 'k', 'v')),
    };
  },

  /** A replica fully synced from a master with no write: offset 0 until a write or PING. */
  async syncedNoWrite(d) {
    await d.start('a');
    const a0 = await d.info('a');
    await d.start('b', { replicaOf: 'a' });
    // Both ends: the replica reports its link up a moment before the master moves it from
    // wait_bgsave to online (a real redis-server showed wait_bgsave here under load).
    await d.waitFor(
      'b linked',
      async () =>
        (await d.info('b')).masterLinkUp &&
        (await d.info('a')).connectedReplicas.some((r) => r.state === 'online'),
      10_000,
    );
    const b = await d.info('b');
    const a = await d.info('a');
    const out: Transcript = {
      bOffset: b.offset,
      aOffset: a.offset,
      bHasAReplid: b.replId === a.replId,
      aNewReplidOnFirstBacklog: a.replId !== a0.replId,
      aReplicas: a.connectedReplicas.map((r) => r.state),
      aFullSyncs: Number(/sync_full:(\d+)/.exec(a.raw)?.[1]),
    };
    // The replication PING moves the offset with no write (period lowered to 1 s to keep it short).
    await d.call('a', 'CONFIG', 'SET', 'repl-ping-replica-period', '1');
    await d.waitFor('ping', async () => (await d.info('b')).offset > 0, 5000);
    out.bOffsetAfterPing = (await d.info('b')).offset % 14 === 0;
    await d.call('a', 'SET', 'k1', 'v1');
    await d.waitFor('write reaches b', async () => (await d.info('b')).keys === 1, 5000);
    const a2 = await d.info('a');
    const b2 = await d.info('b');
    out.sameOffsetAfterWrite = a2.offset === b2.offset || b2.offset % 14 === a2.offset % 14;
    out.bValue = await d.call('b', 'GET', 'k1');
    return out;
  },

  /** REPLICAOF NO ONE keeps the history as replid2; the other replica continues partially. */
  async promotionLineage(d) {
    await d.start('a');
    await d.start('b', { replicaOf: 'a' });
    await d.start('c', { replicaOf: 'a' });
    await d.waitFor(
      'linked',
      async () => (await d.info('b')).masterLinkUp && (await d.info('c')).masterLinkUp,
      10_000,
    );
    await d.call('a', 'SET', 'k1', 'v1');
    // Both replicas: b promoted before k1 reached it would be behind c, and c would full-resync
    // from it and lose k1 (a race of the scenario, not of Redis: it failed one run in five).
    await d.waitFor(
      'b and c have k1',
      async () => (await d.info('b')).keys === 1 && (await d.info('c')).keys === 1,
      5000,
    );
    const aOld = await d.info('a');
    await d.crash('a');
    await d.call('b', 'REPLICAOF', 'NO', 'ONE');
    const b = await d.info('b');
    await d.call('c', 'REPLICAOF', ...hostPort(d.addr('b')));
    await d.waitFor('c linked to b', async () => (await d.info('c')).masterLinkUp, 10_000);
    await d.call('b', 'SET', 'k2', 'v2');
    await d.waitFor('c has k2', async () => (await d.info('c')).keys === 2, 5000);
    const c = await d.info('c');
    const b2 = await d.info('b');
    return {
      bRole: b.role,
      bReplid2IsOld: b.replId2 === aOld.replId,
      bNewReplid: b.replId !== aOld.replId,
      bSecondOffset: b.secondReplOffset === b.offset + 1,
      cFollowsB: c.replId === b2.replId,
      cReplid2IsOld: c.replId2 === aOld.replId,
      bPartialOk: Number(/sync_partial_ok:(\d+)/.exec(b2.raw)?.[1]),
      bFull: Number(/sync_full:(\d+)/.exec(b2.raw)?.[1]),
      cKeys: c.keys,
    };
  },

  /** min-replicas-to-write: -NOREPLICAS when the replica stops acknowledging, writes again after. */
  async noReplicas(d) {
    await d.start('a');
    const alone = code(
      await d.call('a', 'CONFIG', 'SET', 'min-replicas-to-write', '1', 'min-replicas-max-lag', '1'),
    );
    const aloneWrite = code(await d.call('a', 'SET', 'k0', 'v'));
    await d.start('b', { replicaOf: 'a' });
    await d.waitFor('good replica', async () => (await d.info('a')).minSlavesGoodSlaves === 1, 10_000);
    const withReplica = code(await d.call('a', 'SET', 'k1', 'v'));
    d.stall('b');
    await d.waitFor('refused', async () => (await d.info('a')).minSlavesGoodSlaves === 0, 10_000);
    const stalled = code(await d.call('a', 'SET', 'k2', 'v'));
    d.resume('b');
    await d.waitFor('good again', async () => (await d.info('a')).minSlavesGoodSlaves === 1, 10_000);
    const resumed = code(await d.call('a', 'SET', 'k3', 'v'));
    return { alone, aloneWrite, withReplica, stalled, resumed, keys: (await d.info('a')).keys };
  },

  /** CLIENT PAUSE WRITE queues writes; a later shorter pause does not shorten it; UNPAUSE runs them. */
  async pauseQueues(d) {
    await d.start('a');
    await d.call('a', 'CLIENT', 'PAUSE', '20000', 'WRITE');
    const w1 = tracked(d.send('a', 'SET', 'k1', 'v1'));
    const read = await d.call('a', 'GET', 'k1');
    await d.pass(300);
    const queuedAfter300 = !w1.settled();
    await d.call('a', 'CLIENT', 'PAUSE', '50', 'WRITE');
    await d.pass(300);
    const stillQueued = !w1.settled();
    await d.call('a', 'CLIENT', 'UNPAUSE');
    const w1Reply = await w1.p;
    // Queued writes are checked again when they run: a server demoted meanwhile refuses them.
    await d.call('a', 'CLIENT', 'PAUSE', '20000', 'WRITE');
    const w2 = tracked(d.send('a', 'SET', 'k2', 'v2'));
    await d.pass(200);
    await d.call('a', 'REPLICAOF', ...hostPort(d.addr(DEAD)));
    const queuedOnReplica = !w2.settled();
    await d.call('a', 'CLIENT', 'UNPAUSE');
    const w2Reply = code(await w2.p);
    return { read, queuedAfter300, stillQueued, w1Reply, queuedOnReplica, w2Reply };
  },

  /** WAIT counts the replicas that acknowledged the connection's writes. */
  async waitCounts(d) {
    await d.start('a');
    await d.start('b', { replicaOf: 'a' });
    await d.waitFor('b linked', async () => (await d.info('b')).masterLinkUp, 10_000);
    await d.call('a', 'SET', 'k1', 'v1');
    const one = await d.call('a', 'WAIT', '1', '2000');
    const twoOfOne = await d.call('a', 'WAIT', '2', '200');
    const onReplica = code(await d.call('b', 'WAIT', '1', '100'));
    return { one, twoOfOne, onReplica };
  },

  /** Persistence: RDB + CONFIG REWRITE survive kill -9; settings not rewritten do not. */
  async persistenceRestart(d) {
    await d.start('a', { persistence: true });
    await d.start('b', { replicaOf: 'a' });
    await d.waitFor('b linked', async () => (await d.info('b')).masterLinkUp, 10_000);
    await d.call('a', 'SET', 'k1', 'v1');
    await d.call('a', 'CONFIG', 'SET', 'min-replicas-max-lag', '7');
    await d.call('a', 'CONFIG', 'REWRITE');
    await d.call('a', 'CONFIG', 'SET', 'repl-diskless-sync-delay', '3');
    await d.waitFor(
      'saved',
      async () => /rdb_changes_since_last_save:0/.test((await d.info('a')).raw),
      10_000,
    );
    const before = await d.info('a');
    await d.crash('a');
    await d.restart('a');
    const after = await d.info('a');
    await d.waitFor('b relinked', async () => (await d.info('b')).masterLinkUp, 10_000);
    const a2 = await d.info('a');
    return {
      keys: after.keys,
      loadedKeys: after.rdbLastLoadKeys,
      noHistory: holdsNoHistory(after),
      newRunId: after.runId !== before.runId,
      replid2IsOld: after.replId2 === before.replId,
      offsetKept: after.offset === before.offset,
      secondOffset: after.secondReplOffset === before.offset + 1,
      maxLag: await d.call('a', 'CONFIG', 'GET', 'min-replicas-max-lag'),
      delay: await d.call('a', 'CONFIG', 'GET', 'repl-diskless-sync-delay'),
      bPartial: Number(/sync_partial_ok:(\d+)/.exec(a2.raw)?.[1]),
      bFull: Number(/sync_full:(\d+)/.exec(a2.raw)?.[1]),
    };
  },

  /** A master restarted without persistence is empty, and its replica full-syncs the emptiness. */
  async emptyRestart(d) {
    await d.start('a');
    await d.start('b', { replicaOf: 'a' });
    await d.waitFor('b linked', async () => (await d.info('b')).masterLinkUp, 10_000);
    await d.call('a', 'SET', 'k1', 'v1');
    await d.waitFor('b has k1', async () => (await d.info('b')).keys === 1, 5000);
    const before = await d.info('a');
    await d.crash('a');
    await d.waitFor('b sees the link down', async () => !(await d.info('b')).masterLinkUp, 10_000);
    const bDown = await d.info('b');
    await d.restart('a');
    const after = await d.info('a');
    await d.waitFor(
      'b resynced',
      async () => {
        const b = await d.info('b');
        return b.masterLinkUp && b.replId === (await d.info('a')).replId;
      },
      15_000,
    );
    const b = await d.info('b');
    // A client writes before anyone looks: the restart still reads as one that lost the dataset.
    await d.call('a', 'SET', 'k2', 'v2');
    const written = await d.info('a');
    return {
      aKeys: after.keys,
      aLoadedKeys: after.rdbLastLoadKeys,
      aAof: after.aofEnabled,
      aWrittenKeys: written.keys,
      aNoHistoryAfterWrite: holdsNoHistory(written),
      bLoadedKeys: b.rdbLastLoadKeys,
      aRole: after.role,
      aNewRunId: after.runId !== before.runId,
      aNewReplid: after.replId !== before.replId && after.replId2 !== before.replId,
      aOffset: after.offset,
      bDownOffsetKept: bDown.offset === before.offset,
      bDownSinceCounts: bDown.masterLinkDownSinceSeconds >= 0,
      bKeysAfter: b.keys,
      aFull: Number(/sync_full:(\d+)/.exec((await d.info('a')).raw)?.[1]),
    };
  },
};

/**
 * Not yet matched against real Redis: on redis-server the old master did not report the swap
 * (role:slave, link up, no-failover) within 30 s in this script, while FAILOVER TO by hand works;
 * to investigate before the compat test runs it.
 */
export const UNVERIFIED_SCENARIOS: Record<string, Scenario> = {
  /** FAILOVER TO: the replica takes over with the history; the old master follows it. */
  async failoverTo(d) {
    await d.start('a');
    await d.start('b', { replicaOf: 'a' });
    await d.waitFor('b linked', async () => (await d.info('b')).masterLinkUp, 10_000);
    await d.call('a', 'SET', 'k1', 'v1');
    const aOld = await d.info('a');
    const abortNone = await d.call('a', 'FAILOVER', 'ABORT');
    const notReplica = await d.call('a', 'FAILOVER', 'TO', ...hostPort(d.addr(DEAD)), 'TIMEOUT', '1000');
    const onReplica = await d.call('b', 'FAILOVER');
    const ok = await d.call('a', 'FAILOVER', 'TO', ...hostPort(d.addr('b')), 'TIMEOUT', '5000');
    await d.waitFor(
      'swapped',
      async () => {
        const a = await d.info('a');
        return a.role === 'slave' && a.masterLinkUp && /master_failover_state:no-failover/.test(a.raw);
      },
      10_000,
    );
    const a = await d.info('a');
    const b = await d.info('b');
    return {
      abortNone,
      notReplica,
      onReplica,
      ok,
      bRole: b.role,
      aFollowsB: a.replId === b.replId && a.masterPort === Number(hostPort(d.addr('b'))[1]),
      bReplid2IsOld: b.replId2 === aOld.replId,
      bKeys: b.keys,
      writeOnA: code(await d.call('a', 'SET', 'k2', 'v2')),
      writeOnB: await d.call('b', 'SET', 'k2', 'v2'),
    };
  },
};

// ---------------------------------------------------------------------------------------------
// The model driver

const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

function obs(r: Reply): Obs {
  if (r instanceof ReplyError) return { err: r.message };
  if (Array.isArray(r)) return r.map(obs);
  return r;
}

/** Runs the scenarios on the model, on virtual time. */
export class ModelDriver implements RedisDriver {
  readonly kind = 'model';
  readonly scheduler = new Scheduler();
  readonly world: RedisWorld;
  private readonly client: SimRedisClient;
  private names = new Map<string, string>();
  private nextClient = 0;

  constructor(seed = 1) {
    this.world = new RedisWorld({ scheduler: this.scheduler, random: seededRandom(seed) });
    this.client = new SimRedisClient(this.world, 'driver');
  }

  addr(name: string): string {
    if (name === DEAD) return '10.9.9.9:6379';
    let a = this.names.get(name);
    if (!a) {
      a = `10.0.0.${this.names.size + 1}:6379`;
      this.names.set(name, a);
    }
    return a;
  }

  async start(name: string, opts: StartOpts = {}): Promise<void> {
    // As test/support/redis.ts configures real servers: diskless sync without delay.
    this.world.add(this.addr(name), {
      disklessSyncDelayMs: 0,
      persistence: opts.persistence ?? false,
      replicaOf: opts.replicaOf ? this.addr(opts.replicaOf) : null,
    });
  }

  private async settle<T>(p: Promise<T>, boundMs = 120_000): Promise<T> {
    const t = tracked(p);
    const end = this.scheduler.now + boundMs;
    await flush();
    while (!t.settled() && this.scheduler.now < end) {
      this.scheduler.runUntil(this.scheduler.now + 1);
      await flush();
    }
    if (!t.settled()) throw new Error(`no reply within ${boundMs} virtual ms`);
    return p;
  }

  async call(name: string, ...argv: string[]): Promise<Obs> {
    const r = await this.settle(this.client.call(this.addr(name), argv, 60_000));
    if (!r.ok && !r.replied) throw new Error(r.error);
    return r.ok ? obs(r.reply) : { err: r.error };
  }

  send(name: string, ...argv: string[]): Promise<Obs> {
    const c = new SimRedisClient(this.world, `driver-${++this.nextClient}`);
    return c.call(this.addr(name), argv, 600_000).then((r) => {
      c.close();
      if (!r.ok && !r.replied) throw new Error(r.error);
      return r.ok ? obs(r.reply) : { err: r.error };
    });
  }

  async info(name: string): Promise<RedisInfo> {
    return parseInfo(this.world.get(this.addr(name)).infoText());
  }

  async waitFor(what: string, pred: () => Promise<boolean>, boundMs: number): Promise<void> {
    const end = this.scheduler.now + boundMs;
    while (!(await pred())) {
      if (this.scheduler.now >= end) throw new Error(`model: ${what}: not within ${boundMs} ms`);
      this.scheduler.runUntil(this.scheduler.now + 10);
      await flush();
    }
  }

  async pass(ms: number): Promise<void> {
    const end = this.scheduler.now + ms;
    while (this.scheduler.now < end) {
      this.scheduler.runUntil(Math.min(end, this.scheduler.now + 5));
      await flush();
    }
  }

  async crash(name: string): Promise<void> {
    this.world.get(this.addr(name)).crash();
    await this.pass(5);
  }

  async restart(name: string): Promise<void> {
    this.world.get(this.addr(name)).start();
    await this.pass(5);
  }

  stall(name: string): void {
    this.world.get(this.addr(name)).stall();
  }

  resume(name: string): void {
    this.world.get(this.addr(name)).resume();
  }

  async cleanup(): Promise<void> {
    this.client.close();
  }
}

/**
 * The whole-system simulation (`npm run sim -- --layer system`): several daemons, each the very
 * objects the daemon runs (RaftNode over a simulated network and disk, ClusterState,
 * FailoverServices: engine, prober, fencer, job runner), beside a model of Redis 7.0
 * (test/sim/redis-model.ts), with clients writing unique keys, on virtual time. One seed chooses
 * everything: the group size, each Redis's persistence, the faults and when they happen.
 *
 * Faults: daemon crashes and restarts, process stalls (SIGSTOP-like: timers, messages and Redis
 * replies wait), clock drift and forward jumps of a daemon's monotonic clock, partitions between
 * hosts (Raft and Redis traffic), between daemons only, one-way cuts and the leader's host alone,
 * slow fsync, Redis crashes, empty restarts and stalls, operator switchovers, leadership transfers
 * and setting changes.
 *
 * Invariants, checked as the run goes (every few ms of virtual time) and at the end:
 * - at most one committed master per shard and epoch, in every daemon's state;
 * - Redis is told to become a master (REPLICAOF NO ONE) only for a committed failover decision;
 * - a promoted Redis holds part of the current master's replication history (Redis would let it
 *   PSYNC from that master: its replication id is the master's, or one the master continued, up
 *   to where the master's history left it), unless the failover was forced;
 * - an empty Redis is never the source of a full resync of a replica that held data;
 * - no two leaders' leases are valid at the same moment (no follower lease of another term either);
 * - at most one Redis of a shard acknowledges writes at any moment, and no acknowledged write is
 *   lost, outside the declared windows (around a fault of the host, Redis or daemon that acked it:
 *   from WINDOW_BEFORE_MS before it until the fence bound after it);
 * - no write confirmed by `WAIT 1` that reached the Redis promoted next is lost, whatever happened
 *   to the master that acknowledged it (its windows do not count), unless every copy was lost with
 *   a crash or was cut off (the declared only-copy cases). A write that reached only replicas that
 *   were not promoted is checked as any write: Redis's WAIT promises no more (seed 189: a master
 *   stalled past down_after_ms ran its queued writes as it resumed, its replica confirmed one, the
 *   failover had promoted another);
 * - every read barrier (ReadIndex) that resolves on a daemon has applied every entry committed
 *   anywhere before the barrier began (the fence is lifted only after one);
 * - after the faults stop: the shard has one writable master that every daemon names, no failover
 *   is pending and every request was answered.
 */

import { pino } from 'pino';
import { Refused } from '../../src/cluster/errors.js';
import { proposeCommand } from '../../src/cluster/jobs.js';
import type { JobRecord } from '../../src/cluster/jobs-model.js';
import { bodyOf } from '../../src/cluster/leader-link.js';
import { PeerService } from '../../src/cluster/peer-service.js';
import { changeSettings, GUARD_MAX_LAG_MIN_S, SettingsRuleError } from '../../src/cluster/settings.js';
import type { ShardSettings } from '../../src/cluster/shards.js';
import { ClusterState } from '../../src/cluster/state.js';
import { DEFAULTS, type FailoverConfig, type RedisConfig } from '../../src/config/types.js';
import { FailoverServices } from '../../src/daemon/failover-services.js';
import type { RedisAdapter } from '../../src/failover/redis.js';
import type { ClusterReply } from '../../src/raft/grpc/server.js';
import { encodeConfigRecord, initialMembership } from '../../src/raft/membership.js';
import { RaftNode } from '../../src/raft/node.js';
import type { Entry, Member, NodeId } from '../../src/raft/types.js';
import type { Clock, TimerHandle } from '../../src/util/clock.js';
import { type Logger, silentLogger } from '../../src/util/log.js';
import { type Random, seededRandom } from '../../src/util/random.js';
import { SimDisk } from './disk.js';
import { RELIABLE, SimNetwork } from './network.js';
import { SimRedisAdapter, SimRedisClient } from './redis-adapter.js';
import { RedisWorld, ZERO_ID } from './redis-model.js';
import { Scheduler } from './scheduler.js';

export const SHARD = 'mymaster';

/** The timing every daemon runs with: the config rules hold (lease + et <= down_after). */
export const SYSTEM_TIMING = {
  heartbeatMs: 50,
  electionTimeoutMs: 500,
  leaseMs: 1500,
  downAfterMs: 3000,
} as const;

/** The simulated operator sets min_replicas_max_lag to at most this (the fence bound follows). */
const MAX_LAG_SET_S = 3;
/** The declared window starts this long before a fault (writes acknowledged but not yet replicated). */
const WINDOW_BEFORE_MS = 300;
/** Bound of the fence after a fault: the daemon's lease, or Redis's write guard (max-lag + 2 s). */
function fenceBoundMs(maxLagS: number): number {
  return Math.max(SYSTEM_TIMING.leaseMs + SYSTEM_TIMING.electionTimeoutMs, (maxLagS + 2) * 1000) + 300;
}
/**
 * How old the view behind a failover can be when it commits: the probe timeout (at least 100 ms),
 * the age of the reports counted (engine.ts maxReportAgeMs: 4 probe intervals + 100 ms, 300 ms at
 * down_after_ms 3000), the candidates' INFO (up to 500 ms) and the commit. A Redis that returns
 * within it (a restart from its RDB, a healed cut) can still be failed over, as an instant earlier:
 * the verdict that found it down for down_after_ms was true when formed (seeds 1014, 1790: a
 * return 15 and 35 ms before the decision). What it alone held is lost then, declared. The engine
 * does not read the master once more at decision time: that read waited out its timeout on a
 * killed master's closed connection, and every kill -9 failover paid it (failover-safety measured
 * 2.6 s against its 2.3 s bound); bounded to 150 ms it missed both returns above.
 */
const VERDICT_STALENESS_MS = 1000;
/** A reply travels up to this long after the write it acknowledges ran. */
const ACK_SKEW_MS = 5;
/** Converged means converged for this long (virtual ms). */
const CONVERGE_STABLE_MS = 1000;
/** After the faults stop, the shard must converge within this much virtual time. */
const CONVERGE_BOUND_MS = 60_000;
/** Every request (client write, RPC, proposal) is answered within this bound. */
const REQUEST_BOUND_MS = 10_000;

/** Every kind of fault the chaos phase injects; a long run must inject each of them. */
export const FAULT_KINDS = [
  'isolate-host',
  'isolate-leader-host',
  'partition-daemons',
  'one-way-cut',
  'heal',
  'daemon-crash',
  'daemon-restart',
  'daemon-stall',
  'redis-crash',
  'redis-restart-empty',
  'redis-restart-data',
  'redis-stall',
  'clock-drift',
  'clock-jump',
  'slow-fsync',
  'switchover',
  'transfer',
  'setting-change',
  'setting-refused',
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export class SystemViolation extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SystemViolation';
  }
}

export interface SystemSeedResult {
  seed: number;
  ok: boolean;
  failure: string | null;
  daemons: number;
  failovers: number;
  switchovers: number;
  fences: number;
  stalls: number;
  partitions: number;
  restarts: number;
  acked: number;
  lost: number;
  /** Acknowledged writes lost inside a declared window (allowed, reported). */
  lostInWindow: number;
  /** Acknowledged writes lost because the only Redis holding them crashed (declared, reported). */
  lostWithCrash: number;
  /** Writes `WAIT 1` confirmed, and those lost with every copy (declared). */
  waitConfirmed: number;
  waitLostDeclared: number;
  /** Read barriers that resolved (each checked against what was committed before it). */
  readBarriers: number;
  /** Seeds where the current history was lost and the simulated operator forced a failover. */
  operatorForced: number;
  /** Full resyncs from an empty Redis with repl-diskless-sync-delay 0 (outside the promise). */
  emptySourceDelay0: number;
  /** Full resyncs from a Redis behind the replica with repl-diskless-sync-delay 0 (declared). */
  behindSourceDelay0: number;
  faults: Record<FaultKind, number>;
  virtualMs: number;
  trace: string[];
}

// ---------------------------------------------------------------------------------------------
// A simulated process: incarnations, stalls, a drifting clock

class Proc {
  up = false;
  inc = 0;
  stalled = false;
  private resumeQ: (() => void)[] = [];
  /** Local monotonic time = offset + rate × virtual time. */
  private rate = 1;
  private offset = 0;

  constructor(private readonly s: Scheduler) {}

  alive(inc: number): boolean {
    return this.up && this.inc === inc;
  }

  /** Run `fn` now, or when the process resumes; never for a later incarnation. */
  run(inc: number, fn: () => void): void {
    if (!this.alive(inc)) return;
    if (this.stalled) this.resumeQ.push(() => this.alive(inc) && fn());
    else fn();
  }

  /** Resolves once the process runs (at once when it is not stalled). */
  whenRunning(inc: number): Promise<void> {
    return new Promise((resolve) => this.run(inc, resolve));
  }

  stall(): void {
    this.stalled = true;
  }

  resume(): void {
    this.stalled = false;
    const q = this.resumeQ.splice(0);
    for (const f of q) f();
  }

  local(): number {
    return this.offset + this.rate * this.s.now;
  }

  setRate(rate: number): void {
    const now = this.local();
    this.rate = rate;
    this.offset = now - rate * this.s.now;
  }

  jump(ms: number): void {
    this.offset += ms;
  }

  clock(inc: number): Clock {
    return {
      nowMs: () => this.local(),
      wallMs: () => this.local(),
      setTimeout: (cb, ms) => this.s.schedule(ms / this.rate, () => this.run(inc, cb)),
    };
  }
}

// ---------------------------------------------------------------------------------------------
// A daemon

const REDIS_PORT = 6379;
const redisAddr = (host: number) => `10.0.0.${host}:${REDIS_PORT}`;

class SimDaemon {
  readonly proc: Proc;
  raft: RaftNode | null = null;
  state: ClusterState | null = null;
  services: FailoverServices | null = null;
  adapter: SimRedisAdapter | null = null;
  /** The adapter the daemon's services call (stall-aware, watched by the checker). */
  redis: RedisAdapter | null = null;

  constructor(
    readonly id: NodeId,
    readonly disk: SimDisk,
    s: Scheduler,
  ) {
    this.proc = new Proc(s);
  }

  get running(): boolean {
    return this.proc.up && !this.proc.stalled && this.raft !== null;
  }
}

/** Would Redis let `srv` PSYNC from a master whose history is `history` (see masterReplIds)? */
function inHistory(
  history: ReadonlyMap<string, number>,
  srv: { replid: string; replid2: string; offset: number; secondReplOffset: number },
): boolean {
  const own = history.get(srv.replid);
  if (own !== undefined && srv.offset <= own) return true;
  const continued = history.get(srv.replid2);
  return continued !== undefined && srv.secondReplOffset - 1 <= continued;
}

/** A RedisAdapter whose answers reach a stalled daemon only when it resumes. */
function stallAware(
  inner: RedisAdapter,
  proc: Proc,
  inc: number,
  onCall: (m: string, args: unknown[]) => void,
) {
  const wrap =
    <A extends unknown[], R>(name: string, f: (...a: A) => Promise<R>) =>
    async (...a: A): Promise<R> => {
      onCall(name, a);
      try {
        const r = await f(...a);
        await proc.whenRunning(inc);
        return r;
      } catch (err) {
        await proc.whenRunning(inc);
        throw err;
      }
    };
  const a: RedisAdapter = {
    ping: wrap('ping', inner.ping.bind(inner)),
    info: wrap('info', inner.info.bind(inner)),
    reconfigure: wrap('reconfigure', inner.reconfigure.bind(inner)),
    pauseWrites: wrap('pauseWrites', inner.pauseWrites.bind(inner)),
    unpause: wrap('unpause', inner.unpause.bind(inner)),
    configSet: wrap('configSet', inner.configSet.bind(inner)),
    forget: (addr) => inner.forget(addr),
    linkUp: (addr) => inner.linkUp?.(addr) ?? null,
    close: () => inner.close(),
  };
  return a;
}

// ---------------------------------------------------------------------------------------------
// The system

interface Ack {
  key: string;
  node: string;
  atMs: number;
}

/** A write `WAIT 1` confirmed: when, and which other Redis held it at that moment. */
interface DurableAck extends Ack {
  holders: string[];
}

/** Every WAIT_EVERY-th write is followed by `WAIT 1 WAIT_MS` on the same connection. */
const WAIT_EVERY = 3;
const WAIT_MS = 200;

interface Window {
  node: string;
  fromMs: number;
  toMs: number;
  why: string;
}

export interface SystemOptions {
  seed: number;
  trace?: boolean;
  /** Daemon logs to stderr at this pino level, stamped with virtual time (`--log debug`). */
  log?: string;
  /**
   * Follow every WAIT_EVERY-th write with `WAIT 1` (default true). The extra traffic changes
   * every seed's schedule: seeds found before it replay with false (`--no-wait-writes`).
   */
  waitWrites?: boolean;
}

export class SimSystem {
  readonly s = new Scheduler();
  readonly random: Random;
  readonly net: SimNetwork;
  readonly world: RedisWorld;
  readonly daemons = new Map<NodeId, SimDaemon>();
  readonly hosts: number[];
  readonly failover: FailoverConfig;
  readonly traceLines: string[] = [];
  private hostCuts = new Set<string>();
  readonly acks: Ack[] = [];
  readonly durableAcks: DurableAck[] = [];
  /** The highest commit index any daemon ever reported (a lower bound of what is committed). */
  private maxCommitSeen = 0;
  /** Read barriers that resolved and were checked. */
  readBarriers = 0;
  readonly windows: Window[] = [];
  /**
   * Keys whose only copy died with a Redis crash (see noteOnlyCopies), or was unreachable while
   * another master was committed (see noteUnreachableCopies): their loss is declared.
   */
  readonly onlyCopyLost = new Set<string>();
  /**
   * Keys whose only copy was in the memory of a Redis while it was unreachable (its host isolated,
   * or it stalled), from `fromMs` to `toMs`: declared lost if another master was committed meanwhile
   * (see noteUnreachableCopies).
   */
  private unreachableCopies: { addr: string; keys: string[]; fromMs: number; toMs: number }[] = [];
  /** Each Redis's last crash: when it went down and when it came back (see noteCopiesOnlyOnLongDown). */
  private readonly redisDown = new Map<string, { fromMs: number; toMs?: number }>();
  private clients: SimRedisClient[] = [];
  private writeSeq = 0;
  /** shard|epoch -> master, as any daemon ever applied it. */
  private committed = new Map<string, string>();
  /** When each committed master was first applied by any daemon, in order. */
  private masterTimeline: { atMs: number; master: string }[] = [];
  /** Replication ids the committed master of the current epoch was seen with. */
  /**
   * epoch -> the committed master's history: each replication id it was seen with, and the last
   * offset of that id in it (Infinity for its own id; second_repl_offset - 1 for its replid2, the
   * history it continued). A Redis holds part of that history when Redis itself would let it
   * PSYNC from the master (see inHistory).
   */
  private masterReplIds = new Map<number, Map<string, number>>();
  /** epoch -> the most keys the committed master was seen holding. */
  private masterLastKeys = new Map<number, number>();
  /** Requests not answered yet; `live` false once the process that waits for it is gone. */
  private pendingRequests = new Map<number, { what: string; sinceMs: number; live: () => boolean }>();
  private requestSeq = 0;
  stats = {
    failovers: 0,
    switchovers: 0,
    stalls: 0,
    partitions: 0,
    restarts: 0,
    fences: 0,
    operatorForced: 0,
    emptySourceDelay0: 0,
    behindSourceDelay0: 0,
  };
  /** How many of each kind of fault were injected (every kind must show up over a long run). */
  readonly faults: Record<FaultKind, number> = Object.fromEntries(FAULT_KINDS.map((k) => [k, 0])) as Record<
    FaultKind,
    number
  >;

  fault(kind: FaultKind): void {
    this.faults[kind]++;
  }
  readonly traceOn: boolean;

  constructor(readonly opts: SystemOptions) {
    this.traceOn = opts.trace ?? false;
    this.random = seededRandom(opts.seed);
    this.net = new SimNetwork(this.s, this.random);
    this.net.conditions = { ...RELIABLE };
    const n = this.random.int(3) === 0 ? 5 : 3;
    this.hosts = Array.from({ length: n }, (_, i) => i + 1);
    this.failover = {
      ...DEFAULTS.failover,
      downAfterMs: SYSTEM_TIMING.downAfterMs,
      leaseMs: SYSTEM_TIMING.leaseMs,
    };
    this.world = new RedisWorld({
      scheduler: this.s,
      random: this.random,
      canReach: (from, to) => !this.hostCuts.has(`${this.hostOf(from)}>${this.hostOf(to)}`),
      onFullSync: (e) => this.onFullSync(e),
    });
    const fsyncMs = 1 + this.random.int(this.random.int(4) === 0 ? 40 : 3);
    /** Slow fsync: a disk whose writes take up to 40 ms to be durable (a fault for the whole run). */
    if (fsyncMs > 10) this.fault('slow-fsync');
    const members: Member[] = this.hosts.map((id) => ({ id, role: 'voter', addr: `sim-${id}` }));
    const bootstrap: Entry = {
      index: 1,
      term: 1,
      type: 'config',
      data: encodeConfigRecord({
        change: { type: 'add', id: 1, role: 'voter', addr: 'sim-1' },
        membership: initialMembership(members),
      }),
    };
    for (const h of this.hosts) {
      // Host 1's Redis starts as the master, seeded; the others replicate it.
      this.world.add(redisAddr(h), {
        persistence: this.random.int(2) === 0,
        disklessSyncDelayMs: this.random.int(3) === 0 ? 0 : 5000,
        ...(h === 1 ? {} : { replicaOf: redisAddr(1) }),
      });
      const d = new SimDaemon(h, new SimDisk(this.s, this.random, fsyncMs), this.s);
      d.disk.durable = { hardState: { term: 1, vote: 0, commit: 0 }, snapshot: null, entries: [bootstrap] };
      this.daemons.set(h, d);
    }
    const seedClient = new SimRedisClient(this.world, 'c1-seed');
    for (let i = 0; i < 20; i++) void seedClient.set(redisAddr(1), `seed:${i}`, 'v', 1000);
    for (const h of this.hosts) this.startDaemon(h);
    for (let k = 0; k < 2; k++) this.clients.push(new SimRedisClient(this.world, `c${1 + (k % n)}-${k}`));
  }

  // -------------------------------------------------------------------------------------------
  // Tracing and checks

  trace(line: string): void {
    if (this.traceOn) this.traceLines.push(`${String(Math.round(this.s.now)).padStart(7)} ${line}`);
  }

  /**
   * The first violation. Checks also run in promise callbacks (a client's reply, a read
   * barrier), where a throw would only reject a promise nobody awaits: runFor rethrows it.
   */
  firstViolation: SystemViolation | null = null;
  /** The leader last traced (`id@term`, or none). */
  private tracedLeader = '';

  private violation(msg: string): never {
    this.trace(`VIOLATION ${msg}`);
    const err = new SystemViolation(`t=${Math.round(this.s.now)} ms: ${msg}`);
    this.firstViolation ??= err;
    throw err;
  }

  hostOf(endpoint: string): number {
    let m = /^10\.0\.0\.(\d+):/.exec(endpoint);
    if (m) return Number(m[1]);
    m = /^[dc](\d+)/.exec(endpoint);
    if (m) return Number(m[1]);
    return 0;
  }

  // -------------------------------------------------------------------------------------------
  // Daemons

  startDaemon(id: NodeId): void {
    const d = this.daemons.get(id)!;
    if (d.proc.up) return;
    d.proc.up = true;
    d.proc.inc++;
    const inc = d.proc.inc;
    const alive = () => d.proc.alive(inc);
    const clock = d.proc.clock(inc);
    const recovered = d.disk.load();
    const state = new ClusterState();
    const transport = this.net.transportFor(id, alive);
    const stallAwareTransport = {
      ...transport,
      onMessage: (h: Parameters<typeof transport.onMessage>[0]) =>
        transport.onMessage((m) => d.proc.run(inc, () => h(m))),
    };
    const raft = new RaftNode({
      core: { id },
      heartbeatMs: SYSTEM_TIMING.heartbeatMs,
      electionTimeoutMs: SYSTEM_TIMING.electionTimeoutMs,
      clock,
      random: this.random,
      transport: stallAwareTransport,
      storage: d.disk.storage(),
      stateMachine: state,
      recovered,
      logger: this.logger(id),
      snapshotEveryEntries: 200,
      snapshotTrailingEntries: 50,
    });
    const adapter = new SimRedisAdapter(this.world, `d${id}`);
    const redis: RedisConfig[] = [{ shard: SHARD, addr: redisAddr(id), role: 'replica', priority: 100 }];
    const watched = stallAware(adapter, d.proc, inc, (m, a) => this.onRedisCall(d, m, a));
    const services = new FailoverServices({
      nodeId: id,
      raft,
      state,
      adapter: watched,
      clock,
      logger: this.logger(id),
      electionTimeoutMs: SYSTEM_TIMING.electionTimeoutMs,
      defaults: this.failover,
      redis,
      callLeader: (method, body) => this.callLeader(d, inc, method, body),
    });
    state.onChange((c) => {
      if (c.type !== 'shard') return;
      const e = c.event;
      if (e.type === 'shard-created' && e.shard.master && this.masterTimeline.length === 0)
        this.masterTimeline.push({ atMs: this.s.now, master: e.shard.master });
      if (e.type === 'master-changed') {
        const key = `${e.shard.name}|${e.record.epoch}`;
        const before = this.committed.get(key);
        if (before !== undefined && before !== e.record.to)
          this.violation(`two masters committed for ${key}: ${before} and ${e.record.to}`);
        if (before === undefined) {
          this.committed.set(key, e.record.to);
          this.masterTimeline.push({ atMs: this.s.now, master: e.record.to });
          if (e.record.kind !== 'switchover' && e.record.kind !== 'initial')
            this.noteCopiesOnlyOnLongDown(e.shard.settings.downAfterMs);
          if (e.record.kind === 'switchover') this.stats.switchovers++;
          else if (e.record.kind !== 'initial') this.stats.failovers++;
          this.trace(`committed ${key} master ${e.record.to} (${e.record.kind}: ${e.record.reason})`);
        }
      }
    });
    this.checkReadBarriers(id, raft);
    d.raft = raft;
    d.state = state;
    d.services = services;
    d.adapter = adapter;
    d.redis = watched;
    raft.on((e) => {
      if (e.type === 'fatal') this.violation(`daemon ${id} hit a fatal Raft error: ${e.error.message}`);
    });
    raft.start();
    services.start();
    if (inc > 1) this.fault('daemon-restart');
    this.trace(`start daemon ${id} (incarnation ${inc})`);
  }

  crashDaemon(id: NodeId): void {
    const d = this.daemons.get(id)!;
    if (!d.proc.up) return;
    d.proc.up = false;
    d.proc.resume();
    this.stats.fences += d.services?.fencer.fences ?? 0;
    d.services?.stop();
    d.raft?.stop('crashed');
    void d.adapter?.close();
    d.raft = null;
    d.state = null;
    d.services = null;
    d.adapter = null;
    d.redis = null;
    d.disk.crash();
    this.stats.restarts++;
    this.fault('daemon-crash');
    this.trace(`crash daemon ${id}`);
  }

  /** Cluster calls to the leader, over the simulated network between daemons. */
  private callLeader(from: SimDaemon, inc: number, method: string, body: unknown): Promise<unknown> {
    const leaderId = from.raft?.status().leader ?? 0;
    const to = this.daemons.get(leaderId);
    if (!to || leaderId === 0) return Promise.reject(new Error('no leader'));
    const rid = ++this.requestSeq;
    this.pendingRequests.set(rid, {
      what: `${method} from ${from.id}`,
      sinceMs: this.s.now,
      live: () => from.proc.alive(inc),
    });
    const timeoutMs = method === 'probe.report' ? SYSTEM_TIMING.electionTimeoutMs : 2000;
    return new Promise<unknown>((resolve, reject) => {
      let done = false;
      const finish = (f: () => void) => {
        if (done) return;
        done = true;
        timer.cancel();
        this.pendingRequests.delete(rid);
        f();
      };
      const timer: TimerHandle = from.proc
        .clock(inc)
        .setTimeout(
          () => finish(() => reject(new Error(`${method}: no answer within ${timeoutMs} ms`))),
          timeoutMs,
        );
      if (!from.proc.alive(inc)) return;
      const toInc = to.proc.inc;
      const delay = () => 1 + this.random.int(3);
      if (this.net.isCut(from.id, to.id)) return;
      this.s.schedule(delay(), () => {
        to.proc.run(toInc, () => {
          void this.handleCluster(to, method, body).then(
            (reply) => {
              if (this.net.isCut(to.id, from.id)) return;
              this.s.schedule(delay(), () =>
                from.proc.run(inc, () =>
                  finish(() => {
                    try {
                      resolve(bodyOf(method, reply));
                    } catch (err) {
                      reject(err);
                    }
                  }),
                ),
              );
            },
            (err: Error) => {
              if (this.net.isCut(to.id, from.id)) return;
              this.s.schedule(delay(), () => from.proc.run(inc, () => finish(() => reject(err))));
            },
          );
        });
      });
    });
  }

  /** The daemon's peer service (the same method table the daemon serves) answers a call. */
  private async handleCluster(d: SimDaemon, method: string, body: unknown): Promise<ClusterReply> {
    const engine = d.services?.engine;
    if (!engine || !d.raft || !d.state)
      return { status: 503, body: { error: { message: 'daemon starting' } } };
    const peers = new PeerService({
      raft: d.raft,
      state: d.state,
      engine,
      // The simulated daemons do not forward: a call reaches the leader or is refused.
      forward: () => Promise.reject(new Refused('no_leader', 'not the leader')),
    });
    return peers.handle(method, body, { method, token: '', hops: 0, peer: `daemon-${d.id}` });
  }

  /** Checks on what daemons tell Redis to do. */
  private onRedisCall(d: SimDaemon, method: string, args: unknown[]): void {
    if (method !== 'reconfigure') return;
    const [node, target, opts] = args as [{ addr: string }, string | null, { killClients?: boolean }];
    this.trace(`daemon ${d.id}: ${node.addr} REPLICAOF ${target ?? 'NO ONE'}`);
    if (target !== null) return;
    const shard = d.state?.shards.get(SHARD);
    const p = shard?.pending;
    // Restoring the committed master the restart guard demoted (engine.ts restoreDemotedMaster):
    // the newest decision committed names it, and none is pending.
    const restoring =
      !!shard && !p && shard.master === node.addr && this.masterTimeline.at(-1)?.master === node.addr;
    if (restoring) {
      this.trace(`daemon ${d.id}: restores the committed master ${node.addr}`);
      return;
    }
    if (!shard || !p || (p.to !== node.addr && p.from !== node.addr))
      this.violation(
        `daemon ${d.id} made ${node.addr} a master (REPLICAOF NO ONE) with no committed failover to or from it (pending ${JSON.stringify(p)})`,
      );
    if (p.to === node.addr && p.kind !== 'forced' && opts?.killClients !== false) {
      const server = this.world.get(node.addr);
      const seen = this.masterReplIds.get(shard.epoch);
      if (seen && server.status === 'running' && !inHistory(seen, server))
        this.violation(
          `${node.addr} promoted (epoch ${p.epoch}) with replication id ${server.replid}, not the history of the master ${shard.master} (${[...seen].map(([id, upTo]) => `${id} up to ${upTo}`).join(', ')})`,
        );
    }
  }

  /**
   * An empty Redis is never the source of a full resync of a replica that held data. Checked
   * where the operations guide's precondition holds (repl-diskless-sync-delay of 1 s or more on
   * the source: with 0, a replica can copy an empty dataset within milliseconds of its restart,
   * before any daemon probes it); counted otherwise.
   */
  /** Servers emptied by a full resync from an empty source with repl-diskless-sync-delay 0 (until they get data again). */
  private readonly emptiedByDelay0 = new Set<string>();

  private onFullSync(e: {
    master: string;
    replica: string;
    replicaKeysBefore: number;
    rdbKeys: number;
  }): void {
    if (e.rdbKeys > 0) this.emptiedByDelay0.delete(e.replica);
    if (e.replicaKeysBefore === 0) return;
    const src = this.world.servers.get(e.master);
    // A source emptied itself by such a sync (a replica that copied an empty master with delay 0)
    // passes the empty dataset on down the chain: the same unchecked case (seed 22434).
    const srcDelay0 = src !== undefined && src.cfg.disklessSyncDelayMs < 1000;
    const delay0 = srcDelay0 || this.emptiedByDelay0.has(e.master);
    if (e.rdbKeys > 0) {
      // A source behind the replica (restarted from an older RDB): with a delay of 0 a replica
      // copies it as soon as it connects, before the restart guard can demote it, and once one
      // replica serves on its new history the guard stands down (seed 1461 with WAIT writes: a
      // replica resynced at once, the last one holding the writes 9 s later). What the replica
      // alone held is lost with its dataset: declared and counted. With the documented delay
      // (1 s or more), the lost-write check judges it.
      if (srcDelay0) {
        const lost = this.onlyCopies(e.replica, false).filter((k) => !src.data.has(k));
        if (lost.length > 0) {
          this.stats.behindSourceDelay0++;
          for (const k of lost) this.onlyCopyLost.add(k);
          this.trace(
            `${e.replica} full-resynced from ${e.master}, behind it by ${lost.length} keys (repl-diskless-sync-delay 0: declared)`,
          );
        }
      }
      return;
    }
    if (delay0) {
      this.stats.emptySourceDelay0++;
      this.emptiedByDelay0.add(e.replica);
      // Not checked, so what the replica alone held is lost with its dataset: declared.
      this.noteOnlyCopies(e.replica, false);
      this.trace(
        `${e.replica} full-resynced from empty ${e.master} (repl-diskless-sync-delay 0: not checked)`,
      );
      return;
    }
    this.violation(
      `${e.replica} (${e.replicaKeysBefore} keys) full-resynced from ${e.master}, which holds no keys`,
    );
  }

  /** Checks after each slice of virtual time. */
  checkStep(): void {
    // The committed master's replication ids in this epoch (for the promotion check).
    let epoch = -1;
    let master: string | null = null;
    for (const d of this.daemons.values()) {
      const sh = d.state?.shards.get(SHARD);
      if (sh && sh.epoch > epoch) {
        epoch = sh.epoch;
        master = sh.master;
      }
    }
    if (master) {
      const srv = this.world.servers.get(master);
      if (srv && srv.status === 'running' && srv.masterAddr === null) {
        const set = this.masterReplIds.get(epoch) ?? new Map<string, number>();
        this.masterReplIds.set(epoch, set);
        // A master that restarted empty starts a new history: a replica that synced from it did
        // not sync from the epoch's data, so its id is not one of the epoch's.
        // (Clients may have written to it before this check: keys do not tell.)
        const restartedEmpty =
          set.size > 0 &&
          !set.has(srv.replid) &&
          !set.has(srv.replid2) &&
          (this.masterLastKeys.get(epoch) ?? 0) > 0 &&
          (srv.data.size === 0 || srv.startedFromNothing);
        if (!restartedEmpty) {
          set.set(srv.replid, Number.POSITIVE_INFINITY);
          if (srv.replid2 !== ZERO_ID && srv.secondReplOffset > 0)
            set.set(srv.replid2, Math.max(set.get(srv.replid2) ?? 0, srv.secondReplOffset - 1));
        }
        this.masterLastKeys.set(epoch, Math.max(this.masterLastKeys.get(epoch) ?? 0, srv.data.size));
      }
    }
    if (this.traceOn) {
      const l = this.leader();
      const now = l ? `${l.id}@${l.raft!.status().term}` : 'none';
      if (now !== this.tracedLeader) this.trace(`leader ${now}`);
      this.tracedLeader = now;
    }
    // Leases: at most one leader's term holds a valid lease at any moment.
    const holders = new Set<string>();
    for (const d of this.daemons.values()) {
      if (!d.running) continue;
      const st = d.raft!.status();
      if (!d.raft!.lease().valid) continue;
      if (st.role === 'leader') holders.add(`${st.id}@${st.term}`);
      else if (st.leader !== 0) holders.add(`${st.leader}@${st.term}`);
    }
    if (holders.size > 1)
      this.violation(`leases of different leaders are valid at once: ${[...holders].join(', ')}`);
    // Requests answered within a bound.
    for (const [id, r] of this.pendingRequests) {
      if (!r.live()) this.pendingRequests.delete(id);
      else if (this.s.now - r.sinceMs > REQUEST_BOUND_MS)
        this.violation(`request ${r.what} unanswered for ${Math.round(this.s.now - r.sinceMs)} ms`);
    }
  }

  // -------------------------------------------------------------------------------------------
  // Clients

  /** The master a client on `host` is told (Sentinel semantics: only by a daemon with a lease). */
  private resolveMaster(host: number): string | null {
    const order = [host, ...this.hosts.filter((h) => h !== host)];
    for (const h of order) {
      if (h !== host && this.hostCuts.has(`${host}>${h}`)) continue;
      const d = this.daemons.get(h)!;
      if (!d.running || !d.raft!.lease().valid) continue;
      const m = d.state!.shards.get(SHARD)?.master;
      if (m) return m;
    }
    return null;
  }

  /** One write by every client (unique keys); acknowledged ones are recorded. */
  clientRound(): void {
    for (const c of this.clients) {
      const addr = this.resolveMaster(this.hostOf(c.name));
      if (!addr) continue;
      const key = `k${++this.writeSeq}`;
      const rid = ++this.requestSeq;
      this.pendingRequests.set(rid, {
        what: `client SET ${key} on ${addr}`,
        sinceMs: this.s.now,
        live: () => true,
      });
      const durable = this.opts.waitWrites !== false && this.writeSeq % WAIT_EVERY === 0;
      void c
        .set(addr, key, 'v', 1000)
        .then(async (r) => {
          if (!r.ok) return;
          this.acks.push({ key, node: addr, atMs: this.s.now });
          if (!durable) return;
          const w = await c.wait(addr, 1, WAIT_MS, 1000);
          if (!w.ok || typeof w.reply !== 'number' || w.reply < 1) return;
          const holders = [...this.world.servers.values()]
            .filter((o) => o.addr !== addr && o.data.has(key))
            .map((o) => o.addr);
          if (holders.length === 0)
            this.violation(`WAIT 1 on ${addr} answered ${w.reply} for ${key}, which no other Redis holds`);
          this.durableAcks.push({ key, node: addr, atMs: this.s.now, holders });
        })
        // A violation is recorded and rethrown by runFor; nobody awaits this promise.
        .catch(() => {})
        .finally(() => this.pendingRequests.delete(rid));
    }
  }

  // -------------------------------------------------------------------------------------------
  // Faults

  /** Daemon `id`'s logger: silent unless `log` was asked for. */
  logger(id: NodeId): Logger {
    if (!this.opts.log) return silentLogger;
    return pino(
      { level: this.opts.log, base: { node_id: id }, timestamp: () => `,"vt":${Math.round(this.s.now)}` },
      pino.destination(2),
    );
  }

  private declare(node: string, why: string, untilMs?: number): void {
    const bound = fenceBoundMs(Math.max(this.failover.minReplicasMaxLagSeconds, MAX_LAG_SET_S));
    this.windows.push({
      node,
      fromMs: this.s.now - WINDOW_BEFORE_MS,
      toMs: (untilMs ?? this.s.now) + bound,
      why,
    });
  }

  /** Hosts `h` can reach, itself included. */
  private reachableHosts(h: number): number {
    return this.hosts.filter((o) => o === h || !this.hostCuts.has(`${h}>${o}`)).length;
  }

  isolateHost(h: number): void {
    const majority = Math.floor(this.hosts.length / 2) + 1;
    const cutOffBefore = new Set(this.hosts.filter((o) => this.reachableHosts(o) < majority));
    for (const o of this.hosts) {
      if (o === h) continue;
      this.hostCuts.add(`${h}>${o}`).add(`${o}>${h}`);
    }
    this.net.isolate(h, this.hosts);
    this.stats.partitions++;
    this.declare(redisAddr(h), `host ${h} isolated`);
    // Isolating one host can leave another cut off from the majority too (hosts 3, then 2 of three
    // isolated: host 1 is alone, seed 9152): its Redis is an isolated master until its fence.
    for (const o of this.hosts) {
      if (o !== h && !cutOffBefore.has(o) && this.reachableHosts(o) < majority)
        this.declare(redisAddr(o), `host ${o} cut off from the majority by the isolation of host ${h}`);
    }
    this.noteUnreachableCopies(redisAddr(h), Number.POSITIVE_INFINITY);
    this.fault(this.leader()?.id === h ? 'isolate-leader-host' : 'isolate-host');
    this.trace(`isolate host ${h}`);
  }

  /** Raft traffic only: the daemons are split, Redis traffic flows. */
  partitionDaemons(groups: number[][]): void {
    this.net.partition(groups);
    this.stats.partitions++;
    this.fault('partition-daemons');
    this.trace(`partition daemons ${groups.map((g) => g.join(',')).join(' | ')}`);
  }

  cutOneWay(from: number, to: number): void {
    this.net.cutLink(from, to);
    this.stats.partitions++;
    this.fault('one-way-cut');
    this.trace(`cut daemons ${from}>${to}`);
  }

  heal(): void {
    // Writes acknowledged by a node that was cut off until now are inside a window until its
    // fence bound past the heal (it is made a replica then).
    for (const k of this.hostCuts) {
      const [a] = k.split('>').map(Number);
      this.declare(redisAddr(a!), 'partition healed');
    }
    this.hostCuts.clear();
    for (const u of this.unreachableCopies) if (u.toMs === Number.POSITIVE_INFINITY) u.toMs = this.s.now;
    this.net.heal();
    this.fault('heal');
    this.trace('heal');
  }

  stallDaemon(id: NodeId, ms: number): void {
    const d = this.daemons.get(id)!;
    if (!d.proc.up || d.proc.stalled) return;
    d.proc.stall();
    this.stats.stalls++;
    this.fault('daemon-stall');
    this.declare(redisAddr(id), `daemon ${id} stalled`, this.s.now + ms);
    this.trace(`stall daemon ${id} for ${ms} ms`);
    const inc = d.proc.inc;
    this.s.schedule(ms, () => {
      if (d.proc.inc !== inc) return;
      d.proc.resume();
      this.trace(`resume daemon ${id}`);
    });
  }

  crashRedis(h: number): void {
    const srv = this.world.get(redisAddr(h));
    if (srv.status === 'down') return;
    this.noteOnlyCopies(srv.addr);
    this.redisDown.set(srv.addr, { fromMs: this.s.now });
    srv.crash();
    this.stats.restarts++;
    this.declare(srv.addr, `redis ${h} crashed`);
    this.fault('redis-crash');
    this.trace(`crash redis ${h}`);
  }

  /**
   * Keys whose only copy is in the memory of `addr`, about to crash (or, `ownRdbKept` false, about
   * to be replaced by an empty full resync, which its RDB does not survive): no other Redis holds
   * them (in memory, or in its RDB when it is down with persistence) and `addr`'s own RDB does not.
   * Asynchronous replication loses them whatever the failover layer does (a master with no
   * replica attached, or writes younger than the replication stream): their loss is declared.
   */
  private noteOnlyCopies(addr: string, ownRdbKept = true): void {
    for (const k of this.onlyCopies(addr, ownRdbKept)) this.onlyCopyLost.add(k);
  }

  private onlyCopies(addr: string, ownRdbKept: boolean): string[] {
    const srv = this.world.get(addr);
    if (srv.status === 'down') return [];
    const others = [...this.world.servers.values()].filter((o) => o.addr !== addr);
    const holds = (o: typeof srv, k: string) =>
      o.status === 'down' ? o.cfg.persistence && !!o.rdb?.data.has(k) : o.data.has(k);
    const keys: string[] = [];
    for (const k of srv.data.keys()) {
      if (ownRdbKept && srv.cfg.persistence && srv.rdb?.data.has(k)) continue;
      if (others.some((o) => holds(o, k))) continue;
      keys.push(k);
    }
    return keys;
  }

  /**
   * `addr` becomes unreachable until `untilMs` (or the next heal) with its memory intact: what it
   * alone holds (its replicas were down, stalled or cut off while it acknowledged writes within
   * the write guard's max-lag + 2 s, so the stream never reached them) can reach no other Redis
   * until it is reachable again. A failover committed meanwhile must promote a Redis without those
   * keys, and the old master is then made its replica (its own RDB does not help): asynchronous
   * replication loses them whatever the failover layer does, short of never failing over an
   * unreachable master. Declared in finish() only if such a failover happened.
   */
  private noteUnreachableCopies(addr: string, untilMs: number): void {
    const keys = this.onlyCopies(addr, false);
    if (keys.length > 0) this.unreachableCopies.push({ addr, keys, fromMs: this.s.now, toMs: untilMs });
  }

  /**
   * A failover committed while every Redis holding some acknowledged writes is down (crashed,
   * the writes in its RDB) and has been for at least down_after_ms: the engine waits for a replica
   * last seen ahead of its candidate only that long (waitForAheadCandidate), then promotes the best
   * running one, as Sentinel and Patroni do; the down Redis come back as replicas of the new master
   * and lose what only they held (seed 7151). Their loss is declared; keys a running Redis or a
   * Redis down for less than down_after_ms holds are not (losing those is the engine's fault).
   * A Redis that came back within VERDICT_STALENESS_MS of the commit still counts as down.
   */
  private noteCopiesOnlyOnLongDown(downAfterMs: number): void {
    const now = this.s.now;
    const servers = [...this.world.servers.values()];
    const longDown = servers.filter((o) => {
      const span = this.redisDown.get(o.addr);
      if (!span || !o.cfg.persistence) return false;
      if (o.status === 'down') return now - span.fromMs >= downAfterMs;
      // Back from the crash, but after the verdict that found it down was formed (seed 1014).
      return (
        span.toMs !== undefined &&
        now - span.toMs <= VERDICT_STALENESS_MS &&
        span.toMs - span.fromMs >= downAfterMs
      );
    });
    const others = servers.filter((o) => !longDown.includes(o));
    const holds = (o: (typeof servers)[number], k: string) =>
      o.status === 'down' ? o.cfg.persistence && !!o.rdb?.data.has(k) : o.data.has(k);
    for (const o of longDown)
      for (const k of o.rdb?.data.keys() ?? [])
        if (!others.some((x) => holds(x, k))) this.onlyCopyLost.add(k);
  }

  restartRedis(h: number): void {
    const srv = this.world.get(redisAddr(h));
    if (srv.status !== 'down') return;
    const span = this.redisDown.get(srv.addr);
    if (span) span.toMs = this.s.now;
    srv.start();
    this.declare(srv.addr, `redis ${h} restarted`);
    this.fault(srv.data.size === 0 ? 'redis-restart-empty' : 'redis-restart-data');
    this.trace(`restart redis ${h} (${srv.data.size} keys)`);
  }

  stallRedis(h: number, ms: number): void {
    const srv = this.world.get(redisAddr(h));
    if (srv.status !== 'running') return;
    srv.stall();
    this.stats.stalls++;
    this.declare(srv.addr, `redis ${h} stalled`, this.s.now + ms);
    this.noteUnreachableCopies(srv.addr, this.s.now + ms);
    this.fault('redis-stall');
    this.trace(`stall redis ${h} for ${ms} ms`);
    this.s.schedule(ms, () => {
      if (srv.status === 'stalled') {
        srv.resume();
        this.trace(`resume redis ${h}`);
      }
    });
  }

  leader(): SimDaemon | undefined {
    let best: SimDaemon | undefined;
    for (const d of this.daemons.values()) {
      if (!d.running) continue;
      const st = d.raft!.status();
      if (st.role === 'leader' && st.leaderReady && (!best || st.term > best.raft!.status().term)) best = d;
    }
    return best;
  }

  switchover(): void {
    const l = this.leader();
    if (!l) return;
    this.fault('switchover');
    this.trace(`switchover requested on ${l.id}`);
    void l.services!.engine.requestSwitchover(SHARD, undefined).then(
      (j: JobRecord) => this.trace(`switchover job ${j.id}`),
      (err: Error) => this.trace(`switchover refused: ${err.message}`),
    );
  }

  transfer(): void {
    const l = this.leader();
    if (!l) return;
    const to = this.hosts.filter((h) => h !== l.id)[this.random.int(this.hosts.length - 1)]!;
    try {
      l.raft!.transferLeadership(to);
      this.fault('transfer');
      this.trace(`transfer leadership ${l.id} -> ${to}`);
    } catch (err) {
      this.trace(`transfer refused: ${(err as Error).message}`);
    }
  }

  /**
   * An operator changes a setting on the leader, through the rule check every path runs
   * (src/cluster/settings.ts changeSettings): max-lag or down-after within the rule, or a
   * down-after that breaks it (lease + election timeout > down-after), which must be refused.
   */
  changeSetting(): void {
    const l = this.leader();
    const shard = l?.state?.shards.get(SHARD);
    if (!l || !shard) return;
    let change: Partial<ShardSettings>;
    switch (this.random.int(3)) {
      case 0:
        change = {
          minReplicasMaxLagSeconds:
            GUARD_MAX_LAG_MIN_S + this.random.int(MAX_LAG_SET_S - GUARD_MAX_LAG_MIN_S + 1),
        };
        break;
      case 1:
        change = { downAfterMs: SYSTEM_TIMING.downAfterMs + this.random.int(1500) };
        break;
      default:
        change = {
          downAfterMs: SYSTEM_TIMING.leaseMs + SYSTEM_TIMING.electionTimeoutMs - 1 - this.random.int(1000),
        };
        break;
    }
    const what = Object.entries(change)
      .map(([k, v]) => `${k}=${v}`)
      .join(' ');
    try {
      changeSettings(shard.settings, change, SYSTEM_TIMING.electionTimeoutMs);
    } catch (err) {
      if (!(err instanceof SettingsRuleError)) throw err;
      this.fault('setting-refused');
      this.trace(`setting ${what} refused: ${err.message}`);
      return;
    }
    if (
      change.downAfterMs !== undefined &&
      change.downAfterMs < SYSTEM_TIMING.leaseMs + SYSTEM_TIMING.electionTimeoutMs
    )
      this.violation(`setting ${what} breaks the timing rule and was accepted`);
    this.fault('setting-change');
    this.trace(`set ${what}`);
    void proposeCommand(l.raft!, { t: 'shard.settings', name: SHARD, settings: change }).catch(() => {});
  }

  // -------------------------------------------------------------------------------------------
  // Running

  /** Advance virtual time in small slices, letting promise callbacks run between them. */
  async runFor(ms: number, sliceMs = 5): Promise<void> {
    const end = this.s.now + ms;
    while (this.s.now < end) {
      this.s.runUntil(Math.min(end, this.s.now + sliceMs));
      await flush();
      if (this.firstViolation) throw this.firstViolation;
      this.checkStep();
    }
  }

  /** After faults: one master named by every daemon, writable, nothing pending. */
  converged(): string | null {
    let master: string | null | undefined;
    for (const d of this.daemons.values()) {
      if (!d.running) return 'a daemon is not running';
      const sh = d.state!.shards.get(SHARD);
      if (!sh) return `daemon ${d.id} has no shard`;
      if (sh.pending) return `daemon ${d.id} sees a failover pending`;
      if (master === undefined) master = sh.master;
      else if (sh.master !== master) return `daemons disagree on the master (${master} vs ${sh.master})`;
    }
    if (!master) return 'no master';
    const srv = this.world.get(master);
    if (srv.status !== 'running' || srv.masterAddr !== null) return `${master} is not a running master`;
    for (const h of this.hosts) {
      const r = this.world.get(redisAddr(h));
      if (r.addr === master) continue;
      if (r.status !== 'running') return `${r.addr} not running`;
      if (r.masterAddr !== master || r.replState !== 'connected')
        return `${r.addr} does not replicate ${master}`;
    }
    const active = [...this.daemons.values()][0]!
      .state!.activeJobs()
      .filter((j) => j.kind.startsWith('shard.'));
    if (active.length > 0) return `jobs still running: ${active.map((j) => j.kind).join(', ')}`;
    return null;
  }

  /**
   * When the committed master is not a running master and no running Redis holds its history (a
   * replication id it was seen with in this epoch, as replica or as promoted from it), no failover
   * may happen on its own (a promotion would be from another history). Returns the Redis an
   * operator would force then (the one holding the most keys), or null when the history is held.
   */
  historyLostForcedTarget(): string | null {
    let shard: { epoch: number; master: string | null } | undefined;
    for (const d of this.daemons.values()) {
      const sh = d.state?.shards.get(SHARD);
      if (sh && (!shard || sh.epoch > shard.epoch)) shard = sh;
    }
    if (!shard?.master) return null;
    const m = this.world.get(shard.master);
    const seen = this.masterReplIds.get(shard.epoch) ?? new Map<string, number>();
    if (m.status === 'running' && m.masterAddr === null && seen.has(m.replid)) return null;
    let best: { addr: string; keys: number } | null = null;
    for (const srv of this.world.servers.values()) {
      if (srv.status !== 'running') return null;
      if (srv.addr === shard.master) continue;
      // As before the histories kept offsets: a Redis on one of the master's own ids (a
      // restarted former master continuing an older id is not promoted on its own; seed 1008).
      if (seen.get(srv.replid) === Number.POSITIVE_INFINITY) return null;
      if (seen.get(srv.replid2) === Number.POSITIVE_INFINITY) return null;
      if (!best || srv.data.size > best.keys) best = { addr: srv.addr, keys: srv.data.size };
    }
    return best?.addr ?? null;
  }

  /** The simulated operator accepts the loss of a history that no Redis holds any more. */
  forceFailover(to: string): void {
    const l = this.leader();
    if (!l) return;
    this.trace(`operator: the master's history is held by no Redis; forced failover to ${to}`);
    this.stats.operatorForced++;
    void l.services!.engine.requestForcedFailover(SHARD, to).then(
      (j: JobRecord) => this.trace(`forced failover job ${j.id}`),
      (err: Error) => this.trace(`forced failover refused: ${err.message}`),
    );
  }

  /** Acknowledged writes lost outside and inside the declared windows (set by finish()). */
  lost = 0;
  lostInWindow = 0;
  /** Acknowledged writes lost because the only Redis that held them crashed (declared). */
  lostWithCrash = 0;

  async finish(): Promise<void> {
    // The write must be accepted by the master the daemons name.
    const master = [...this.daemons.values()][0]!.state!.shards.get(SHARD)!.master!;
    const probe = new SimRedisClient(this.world, `c${this.hostOf(master)}-final`);
    let accepted = false;
    for (let i = 0; i < 200 && !accepted; i++) {
      // Virtual time only moves while we run it: wait for the answer by running (an await on the
      // reply alone would never return when it takes longer than a slice, seed 541).
      let answer: { ok: boolean } | null = null;
      void probe.set(master, `final:${i}`, 'v', 1000).then((r) => {
        answer = r;
      });
      for (let t = 0; answer === null && t < 2000; t += 10) await this.runFor(10);
      accepted = (answer as { ok: boolean } | null)?.ok === true;
      if (!accepted) await this.runFor(50);
    }
    if (!accepted) this.violation(`the converged master ${master} does not accept writes`);
    const data = this.world.get(master).data;
    for (const u of this.unreachableCopies)
      if (
        this.masterTimeline.some(
          (m) => m.master !== u.addr && m.atMs >= u.fromMs && m.atMs <= u.toMs + VERDICT_STALENESS_MS,
        )
      )
        for (const k of u.keys) this.onlyCopyLost.add(k);
    let lost = 0;
    let lostInWindow = 0;
    let lostWithCrash = 0;
    for (const a of this.acks) {
      if (data.has(a.key)) continue;
      if (this.onlyCopyLost.has(a.key)) {
        lostWithCrash++;
        continue;
      }
      const w = this.windows.find((x) => x.node === a.node && a.atMs >= x.fromMs && a.atMs <= x.toMs);
      if (w) {
        lostInWindow++;
        continue;
      }
      lost++;
      if (lost === 1)
        this.trace(`LOST ${a.key} acknowledged by ${a.node} at ${Math.round(a.atMs)} (no declared window)`);
    }
    // At most one Redis acknowledges writes at a time: every acknowledgement comes from the
    // committed master of that moment (as first applied anywhere), or inside a declared window.
    for (const ack of this.acks) {
      let master: string | null = null;
      for (const m of this.masterTimeline) if (m.atMs <= ack.atMs + ACK_SKEW_MS) master = m.master;
      if (master === ack.node) continue;
      if (this.windows.some((x) => x.node === ack.node && ack.atMs >= x.fromMs && ack.atMs <= x.toMs))
        continue;
      this.violation(
        `${ack.node} acknowledged ${ack.key} at ${Math.round(ack.atMs)} ms while the committed master was ${master} (two masters)`,
      );
    }
    this.lost = lost;
    this.lostInWindow = lostInWindow;
    this.lostWithCrash = lostWithCrash;
    if (lost > 0) this.violation(`${lost} acknowledged writes lost outside the declared windows`);
    // A write WAIT 1 confirmed reached a replica; when that replica is the next one promoted, the
    // master's own faults do not excuse losing it.
    for (const a of this.durableAcks) {
      if (data.has(a.key)) continue;
      const next = this.tookOverFrom(a.node, a.atMs);
      if (!next || !a.holders.includes(next.master) || this.onlyCopyLost.has(a.key)) {
        this.durableLostDeclared++;
        continue;
      }
      this.lost++;
      this.violation(
        `${a.key}, confirmed by WAIT 1 on ${a.node} at ${Math.round(a.atMs)} ms (held by ${a.holders.join(', ')}, ${next.master} promoted next), is lost`,
      );
    }
  }

  /**
   * The master that took over from `node` after it acknowledged a write at `atMs`: the committed
   * master of that moment when it was already another (the node acked as a stale master, and
   * that one never saw the write: seed 12284), else the next other master committed.
   */
  private tookOverFrom(node: string, atMs: number): { atMs: number; master: string } | undefined {
    let current: { atMs: number; master: string } | undefined;
    for (const m of this.masterTimeline) if (m.atMs <= atMs) current = m;
    if (current && current.master !== node) return current;
    return this.masterTimeline.find((m) => m.atMs > atMs && m.master !== node);
  }

  /** Writes WAIT 1 confirmed that were lost, and not held by the Redis promoted next or lost with every copy (declared, reported). */
  durableLostDeclared = 0;

  /** Reports every read barrier that resolved before every entry committed earlier was applied. */
  checkReadBarriers(id: NodeId, raft: RaftNode): void {
    const barrier = raft.readBarrier.bind(raft);
    raft.readBarrier = async (timeoutMs?: number) => {
      const committedBefore = this.noteCommits();
      await barrier(timeoutMs);
      this.readBarriers++;
      if (raft.applied < committedBefore)
        this.violation(
          `a read barrier on daemon ${id} resolved at applied index ${raft.applied}, though ${committedBefore} was committed before it began`,
        );
    };
  }

  /** The highest commit index any running daemon holds now, or ever held. */
  private noteCommits(): number {
    for (const d of this.daemons.values())
      if (d.raft) this.maxCommitSeen = Math.max(this.maxCommitSeen, d.raft.status().commit);
    return this.maxCommitSeen;
  }
}

const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

/** One seed: a chaos phase with random faults, then recovery, convergence and the checks. */
export async function runSystemSeed(
  seed: number,
  opts: { trace?: boolean; log?: string; waitWrites?: boolean } = {},
): Promise<SystemSeedResult> {
  const sys = new SimSystem({
    seed,
    trace: opts.trace ?? false,
    waitWrites: opts.waitWrites ?? true,
    ...(opts.log ? { log: opts.log } : {}),
  });
  const r = sys.random;
  let failure: string | null = null;
  try {
    // Form the group and the shard, and let the replicas sync.
    await sys.runFor(8000);
    const chaosEnd = sys.s.now + 20_000 + r.int(20_000);
    const crashed = new Set<number>();
    const downRedis = new Set<number>();
    let next = sys.s.now + 500 + r.int(2000);
    while (sys.s.now < chaosEnd) {
      if (sys.s.now >= next) {
        next = sys.s.now + 500 + r.int(3000);
        const h = sys.hosts[r.int(sys.hosts.length)]!;
        switch (r.int(14)) {
          case 0:
            sys.isolateHost(h);
            break;
          case 1: {
            const l = sys.leader();
            if (l) sys.isolateHost(l.id);
            break;
          }
          case 2:
            sys.partitionDaemons([[h], sys.hosts.filter((x) => x !== h)]);
            break;
          case 3:
            sys.cutOneWay(h, sys.hosts.filter((x) => x !== h)[r.int(sys.hosts.length - 1)]!);
            break;
          case 4:
            sys.heal();
            break;
          case 5:
            if (crashed.has(h)) {
              sys.startDaemon(h);
              crashed.delete(h);
            } else if (crashed.size * 2 + 2 < sys.hosts.length) {
              sys.crashDaemon(h);
              crashed.add(h);
            }
            break;
          case 6:
            sys.stallDaemon(h, 200 + r.int(3000));
            break;
          case 7:
            if (downRedis.has(h)) {
              sys.restartRedis(h);
              downRedis.delete(h);
            } else if (downRedis.size + 1 < sys.hosts.length) {
              sys.crashRedis(h);
              downRedis.add(h);
            }
            break;
          case 8:
            sys.stallRedis(h, 200 + r.int(3000));
            break;
          case 9: {
            const d = sys.daemons.get(h)!;
            if (r.int(2) === 0) {
              d.proc.setRate(1 + (r.int(5) - 2) / 1000);
              sys.fault('clock-drift');
            } else {
              d.proc.jump(100 + r.int(1400));
              sys.fault('clock-jump');
            }
            sys.trace(`clock of daemon ${h} changed`);
            break;
          }
          case 10:
            sys.switchover();
            break;
          case 11:
            sys.transfer();
            break;
          case 12:
            sys.changeSetting();
            break;
          default:
            break;
        }
      }
      sys.clientRound();
      await sys.runFor(20);
    }
    // Recovery: heal, restart, resume; keep writing.
    sys.heal();
    for (const h of crashed) sys.startDaemon(h);
    for (const h of downRedis) sys.restartRedis(h);
    const deadline = sys.s.now + CONVERGE_BOUND_MS;
    // A history no Redis holds any more is not failed over on its own: past down_after_ms and a
    // few job rounds, the simulated operator forces a failover (at most once a while).
    const forceAfterMs = SYSTEM_TIMING.downAfterMs + 10_000;
    let nextForceAt = sys.s.now + forceAfterMs;
    let why: string | null = 'not yet';
    let stableSince: number | null = null;
    while (sys.s.now < deadline) {
      sys.clientRound();
      await sys.runFor(50);
      why = sys.converged();
      // Converged and staying so: a state the daemons are about to change (an empty restarted
      // master its replicas re-attached to, before the guard demotes it) is not the end.
      if (why === null) {
        stableSince ??= sys.s.now;
        if (sys.s.now - stableSince >= CONVERGE_STABLE_MS) break;
        continue;
      }
      stableSince = null;
      if (sys.s.now >= nextForceAt) {
        const to = sys.historyLostForcedTarget();
        if (to) sys.forceFailover(to);
        nextForceAt = sys.s.now + forceAfterMs;
      }
    }
    if (why !== null)
      throw new SystemViolation(`no convergence within ${CONVERGE_BOUND_MS} ms after the faults: ${why}`);
    // Settle the in-flight writes, then check what survived.
    await sys.runFor(2000);
    await sys.finish();
    if (sys.firstViolation) throw sys.firstViolation;
  } catch (err) {
    failure = err instanceof SystemViolation ? err.message : `${(err as Error).stack ?? err}`;
  }
  for (const d of sys.daemons.values()) {
    sys.stats.fences += d.services?.fencer.fences ?? 0;
    d.services?.stop();
    d.raft?.stop('end');
  }
  return {
    seed,
    ok: failure === null,
    failure,
    daemons: sys.hosts.length,
    failovers: sys.stats.failovers,
    switchovers: sys.stats.switchovers,
    fences: sys.stats.fences,
    stalls: sys.stats.stalls,
    partitions: sys.stats.partitions,
    restarts: sys.stats.restarts,
    acked: sys.acks.length,
    lost: sys.lost,
    lostInWindow: sys.lostInWindow,
    lostWithCrash: sys.lostWithCrash,
    waitConfirmed: sys.durableAcks.length,
    waitLostDeclared: sys.durableLostDeclared,
    readBarriers: sys.readBarriers,
    operatorForced: sys.stats.operatorForced,
    emptySourceDelay0: sys.stats.emptySourceDelay0,
    behindSourceDelay0: sys.stats.behindSourceDelay0,
    faults: { ...sys.faults },
    virtualMs: sys.s.now,
    trace: sys.traceLines,
  };
}

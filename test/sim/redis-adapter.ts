/**
 * The daemon's side of the Redis model (test/sim/redis-model.ts): a RedisAdapter that sends what
 * src/failover/ioredis-adapter.ts sends (same transactions, same errors), over model connections
 * that reconnect on their own like ioredis does, and a plain client for the simulation's workload
 * (writes of unique keys, WAIT, reads) that records nothing itself.
 *
 * Each adapter or client is an endpoint with its own name, so `canReach` can cut one daemon off a
 * Redis while another still reaches it. Timeouts run on the virtual scheduler.
 */
import {
  parseInfo,
  type RedisAdapter,
  RedisCommandError,
  type RedisInfo,
  type RedisRef,
} from '../../src/failover/redis.js';
import type { TimerHandle } from '../../src/util/clock.js';
import { Conn, ConnectionClosedError, type RedisWorld, type Reply, ReplyError } from './redis-model.js';

const ACCEPTABLE_PING_ERRORS = /^(LOADING|MASTERDOWN)/;

/** Reject with RedisCommandError after `ms` of virtual time. */
function withTimeout<T>(
  world: RedisWorld,
  p: Promise<T>,
  ms: number,
  addr: string,
  what: string,
): Promise<T> {
  let timer: TimerHandle | undefined;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = world.scheduler.schedule(ms, () =>
        reject(new RedisCommandError(addr, `${what} timed out after ${ms} ms`)),
      );
    }),
  ]).finally(() => timer?.cancel());
}

interface Owner {
  readonly name: string;
  closed: boolean;
}

/**
 * One logical connection to one server, as an ioredis client keeps it: connected on creation,
 * reconnected after a close (10 ms, then backing off to 100 ms) while `autoReconnect`.
 */
class ClientLink {
  conn: Conn | null = null;
  everReady = false;
  private connecting = false;
  private attempts = 0;
  private readyWaiters = new Set<() => void>();
  private stopped = false;

  constructor(
    private readonly world: RedisWorld,
    private readonly owner: Owner,
    readonly addr: string,
    private readonly connectTimeoutMs: number,
    private readonly autoReconnect: boolean,
  ) {
    if (autoReconnect) this.connect();
  }

  get ready(): boolean {
    return this.conn !== null && !this.conn.clientClosed;
  }

  stop(): void {
    this.stopped = true;
    this.conn?.closeFromClient();
    this.conn = null;
  }

  private endpoint() {
    const owner = this.owner;
    return {
      name: owner.name,
      alive: () => !owner.closed,
      stalled: () => false,
      onResume: (fn: () => void) => fn(),
    };
  }

  /** Start a connection attempt unless one is under way; `onFail` hears a failed attempt. */
  connect(onFail?: (why: string) => void): void {
    if (this.stopped || this.owner.closed || this.ready) return;
    if (this.connecting) return;
    this.connecting = true;
    this.world.connect(this.endpoint(), 0, this.addr, this.connectTimeoutMs, (r) => {
      this.connecting = false;
      if (this.stopped || this.owner.closed) {
        if (r instanceof Conn) r.closeFromClient();
        return;
      }
      if (r instanceof Conn) {
        this.conn = r;
        this.everReady = true;
        this.attempts = 0;
        r.onClosed = () => {
          if (this.conn !== r) return;
          this.conn = null;
          if (this.autoReconnect) this.retry();
        };
        const ws = [...this.readyWaiters];
        this.readyWaiters.clear();
        for (const w of ws) w();
        return;
      }
      onFail?.(r === 'refused' ? 'connect ECONNREFUSED' : 'connect ETIMEDOUT');
      if (this.autoReconnect) this.retry();
    });
  }

  private retry(): void {
    if (this.stopped || this.owner.closed) return;
    this.attempts++;
    this.world.scheduler.schedule(Math.min(this.attempts * 10, 100), () => this.connect());
  }

  /** Resolves with the connection once it is ready (the caller bounds the wait). */
  whenReady(): Promise<Conn> {
    if (this.ready) return Promise.resolve(this.conn!);
    return new Promise<Conn>((resolve, reject) => {
      const w = () => resolve(this.conn!);
      this.readyWaiters.add(w);
      this.connect(
        this.autoReconnect
          ? undefined
          : (why) => {
              this.readyWaiters.delete(w);
              reject(new ConnectionClosedError(this.addr, why));
            },
      );
    });
  }
}

function asError(addr: string, what: string, err: unknown): RedisCommandError {
  if (err instanceof RedisCommandError) return err;
  return new RedisCommandError(addr, `${what}: ${(err as Error).message}`);
}

/** A RedisAdapter over the model, for one daemon (endpoint `name`). */
export class SimRedisAdapter implements RedisAdapter {
  readonly name: string;
  closed = false;
  private probes = new Map<string, ClientLink>();
  private admins = new Map<string, ClientLink>();
  /** Commands sent, for traces and checks ("addr CMD ..."). */
  readonly sent: string[] = [];

  constructor(
    private readonly world: RedisWorld,
    name: string,
    private readonly opts: { connectTimeoutMs?: number; keepSent?: boolean } = {},
  ) {
    this.name = name;
  }

  private link(pool: Map<string, ClientLink>, node: RedisRef): ClientLink {
    if (this.closed) throw new RedisCommandError(node.addr, 'adapter closed');
    let l = pool.get(node.addr);
    if (!l) {
      l = new ClientLink(this.world, this, node.addr, this.opts.connectTimeoutMs ?? 1000, true);
      pool.set(node.addr, l);
    }
    return l;
  }

  private async run<T>(
    pool: Map<string, ClientLink>,
    node: RedisRef,
    what: string,
    ms: number,
    f: (c: Conn) => Promise<T>,
  ): Promise<T> {
    if (this.opts.keepSent) this.sent.push(`${node.addr} ${what}`);
    const start = this.world.now();
    try {
      const l = this.link(pool, node);
      const c = await withTimeout(
        this.world,
        l.whenReady(),
        ms,
        node.addr,
        `not connected (${l.everReady ? 'reconnecting' : 'connecting'}) within ${ms} ms`,
      ).catch((err) => {
        throw err instanceof RedisCommandError && /timed out/.test(err.message)
          ? new RedisCommandError(node.addr, `not connected within ${ms} ms`)
          : err;
      });
      return await withTimeout(
        this.world,
        f(c),
        Math.max(1, ms - (this.world.now() - start)),
        node.addr,
        what,
      );
    } catch (err) {
      throw asError(node.addr, what, err);
    }
  }

  linkUp(addr: string): boolean | null {
    const l = this.probes.get(addr);
    if (!l) return null;
    return l.ready;
  }

  async ping(node: RedisRef, timeoutMs: number): Promise<void> {
    await this.run(this.probes, node, 'PING', timeoutMs, async (c) => {
      const r = await c.request(['PING']);
      if (r instanceof ReplyError && !ACCEPTABLE_PING_ERRORS.test(r.message))
        throw new RedisCommandError(node.addr, `PING: ${r.message}`);
    });
  }

  info(node: RedisRef, timeoutMs: number): Promise<RedisInfo> {
    return this.run(this.probes, node, 'INFO', timeoutMs, async (c) => {
      const r = await c.request(['INFO', 'server', 'replication', 'keyspace', 'persistence']);
      if (typeof r !== 'string') throw new RedisCommandError(node.addr, `INFO: ${String(r)}`);
      return parseInfo(r);
    });
  }

  reconfigure(
    node: RedisRef,
    target: string | null,
    opts: { rewriteConfig: boolean; timeoutMs: number; killClients?: boolean },
  ): Promise<RedisInfo> {
    const what = target === null ? 'REPLICAOF NO ONE' : `REPLICAOF ${target}`;
    return this.run(this.admins, node, what, opts.timeoutMs, async (c) => {
      const cmds: string[][] = [];
      if (target === null) {
        cmds.push(['REPLICAOF', 'NO', 'ONE'], ['CONFIG', 'SET', 'min-replicas-to-write', '0']);
      } else {
        const i = target.lastIndexOf(':');
        cmds.push(['REPLICAOF', target.slice(0, i), target.slice(i + 1)]);
      }
      if (opts.rewriteConfig) cmds.push(['CONFIG', 'REWRITE']);
      if (opts.killClients !== false)
        cmds.push(['CLIENT', 'KILL', 'TYPE', 'normal'], ['CLIENT', 'KILL', 'TYPE', 'pubsub']);
      const results = await c.multi(cmds);
      const first = results[0];
      if (first instanceof ReplyError)
        throw new RedisCommandError(node.addr, `${what} failed: ${first.message}`);
      const info = await c.request(['INFO', 'server', 'replication', 'keyspace']);
      if (typeof info !== 'string') throw new RedisCommandError(node.addr, `INFO: ${String(info)}`);
      return parseInfo(info);
    });
  }

  pauseWrites(node: RedisRef, ms: number, timeoutMs: number): Promise<void> {
    return this.run(this.admins, node, 'CLIENT PAUSE', timeoutMs, async (c) => {
      const r = await c.request(['CLIENT', 'PAUSE', String(Math.max(1, Math.round(ms))), 'WRITE']);
      if (r instanceof ReplyError) throw new RedisCommandError(node.addr, `CLIENT PAUSE: ${r.message}`);
    });
  }

  unpause(node: RedisRef, timeoutMs: number): Promise<void> {
    return this.run(this.admins, node, 'CLIENT UNPAUSE', timeoutMs, async (c) => {
      const r = await c.request(['CLIENT', 'UNPAUSE']);
      if (r instanceof ReplyError) throw new RedisCommandError(node.addr, `CLIENT UNPAUSE: ${r.message}`);
    });
  }

  configSet(
    node: RedisRef,
    params: readonly (readonly [string, string])[],
    timeoutMs: number,
    opts: { rewrite?: boolean } = {},
  ): Promise<void> {
    return this.run(this.admins, node, 'CONFIG SET', timeoutMs, async (c) => {
      if (params.length === 0) return;
      const cmds: string[][] = params.map(([k, v]) => ['CONFIG', 'SET', k, v]);
      if (opts.rewrite) cmds.push(['CONFIG', 'REWRITE']);
      const results = await c.multi(cmds);
      for (let i = 0; i < params.length; i++) {
        const r = results[i];
        if (r instanceof ReplyError)
          throw new RedisCommandError(node.addr, `CONFIG SET ${params[i]![0]} failed: ${r.message}`);
      }
    });
  }

  forget(addr: string): void {
    for (const pool of [this.probes, this.admins]) {
      pool.get(addr)?.stop();
      pool.delete(addr);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const pool of [this.probes, this.admins]) {
      for (const l of pool.values()) l.stop();
      pool.clear();
    }
  }
}

/** What a workload client's command came to. */
export type ClientOutcome =
  | { ok: true; reply: Reply }
  | {
      ok: false;
      error: string /** a reply from the server (-READONLY ...), not a lost connection */;
      replied: boolean;
    };

/**
 * A workload client (endpoint `name`): one connection per server, made on demand, never retried
 * on its own. `call` never throws: it tells whether the server answered and what.
 */
export class SimRedisClient {
  closed = false;
  private links = new Map<string, ClientLink>();

  constructor(
    private readonly world: RedisWorld,
    readonly name: string,
    private readonly connectTimeoutMs = 1000,
  ) {}

  async call(addr: string, argv: readonly string[], timeoutMs: number): Promise<ClientOutcome> {
    let l = this.links.get(addr);
    if (!l) {
      l = new ClientLink(this.world, this, addr, this.connectTimeoutMs, false);
      this.links.set(addr, l);
    }
    const start = this.world.now();
    try {
      const c = await withTimeout(this.world, l.whenReady(), timeoutMs, addr, 'connect');
      const r = await withTimeout(
        this.world,
        c.request(argv),
        Math.max(1, timeoutMs - (this.world.now() - start)),
        addr,
        argv[0] ?? '',
      );
      if (r instanceof ReplyError) return { ok: false, error: r.message, replied: true };
      return { ok: true, reply: r };
    } catch (err) {
      return { ok: false, error: (err as Error).message, replied: false };
    }
  }

  set(addr: string, key: string, value: string, timeoutMs: number): Promise<ClientOutcome> {
    return this.call(addr, ['SET', key, value], timeoutMs);
  }

  get(addr: string, key: string, timeoutMs: number): Promise<ClientOutcome> {
    return this.call(addr, ['GET', key], timeoutMs);
  }

  /** WAIT on the connection the writes went through. */
  wait(addr: string, replicas: number, waitMs: number, timeoutMs: number): Promise<ClientOutcome> {
    return this.call(addr, ['WAIT', String(replicas), String(waitMs)], timeoutMs);
  }

  /** Drop the connection to `addr` (the next call reconnects). */
  disconnect(addr: string): void {
    this.links.get(addr)?.stop();
    this.links.delete(addr);
  }

  close(): void {
    this.closed = true;
    for (const l of this.links.values()) l.stop();
    this.links.clear();
  }
}

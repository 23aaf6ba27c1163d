/**
 * The RedisAdapter of the daemon, on ioredis: one connection per server for probes (PING, INFO)
 * and one for changes (REPLICAOF transactions, CLIENT PAUSE), so a slow change never delays
 * detection. No offline queue and no retries: a command to a server that is down fails at once,
 * which is what a failure detector needs.
 */
import { Redis } from 'ioredis';
import { parseAddress } from '../config/address.js';
import type { Logger } from '../util/log.js';
import { parseInfo, type RedisAdapter, RedisCommandError, type RedisInfo, type RedisRef } from './redis.js';

const ACCEPTABLE_PING_ERRORS = /^(LOADING|MASTERDOWN)/;

function timeout<T>(p: Promise<T>, ms: number, addr: string, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new RedisCommandError(addr, `${what} timed out after ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** Wait until the connection is ready (it reconnects on its own), or fail at the deadline. */
function whenReady(c: Redis, ms: number, addr: string): Promise<void> {
  if (c.status === 'ready') return Promise.resolve();
  return new Promise((resolve, reject) => {
    const done = (err?: Error) => {
      clearTimeout(timer);
      c.off('ready', onReady);
      if (err) reject(err);
      else resolve();
    };
    const onReady = () => done();
    const timer = setTimeout(
      () => done(new RedisCommandError(addr, `not connected (${c.status}) within ${ms} ms`)),
      ms,
    );
    c.on('ready', onReady);
  });
}

export class IoRedisAdapter implements RedisAdapter {
  private probes = new Map<string, Redis>();
  private admins = new Map<string, Redis>();
  private closed = false;

  constructor(
    private readonly logger: Logger,
    private readonly opts: { connectTimeoutMs?: number; reconnectMs?: number; clientName?: string } = {},
  ) {}

  private conn(pool: Map<string, Redis>, node: RedisRef, kind: string): Redis {
    if (this.closed) throw new RedisCommandError(node.addr, 'adapter closed');
    const key = `${node.addr}|${node.username ?? ''}|${node.password ?? ''}`;
    let c = pool.get(key);
    if (c && c.status === 'ready' && !c.stream?.writable) {
      // ioredis 5 (readiness check off) marks a connection that closed during its handshake ready
      // all the same, and never reconnects it: every command then fails with "Stream isn't
      // writeable". It happens whenever another daemon's CLIENT KILL TYPE normal lands while
      // CLIENT SETNAME is in flight, e.g. several daemons reconfiguring a restarted node. Replace it.
      this.logger.debug(
        { addr: node.addr, kind },
        'replacing a redis connection that closed during its handshake',
      );
      c.disconnect();
      pool.delete(key);
      c = undefined;
    }
    if (!c) {
      const { host, port } = parseAddress(node.addr);
      c = new Redis({
        host,
        port,
        ...(node.username ? { username: node.username } : {}),
        ...(node.password ? { password: node.password } : {}),
        connectionName: `${this.opts.clientName ?? 'raftinel'}-${kind}`,
        lazyConnect: false,
        enableOfflineQueue: false,
        enableReadyCheck: false,
        maxRetriesPerRequest: 0,
        connectTimeout: this.opts.connectTimeoutMs ?? 1000,
        // Reconnect at once after CLIENT KILL or a restart, then back off to reconnectMs.
        retryStrategy: (times: number) => Math.min(times * 10, this.opts.reconnectMs ?? 100),
        // A server killed with SIGSTOP keeps the TCP connection: the command timeouts catch it.
        keepAlive: 1000,
      });
      c.on('error', (err: Error) =>
        this.logger.trace({ addr: node.addr, kind, err: err.message }, 'redis connection error'),
      );
      pool.set(key, c);
    }
    return c;
  }

  private async run<T>(
    pool: Map<string, Redis>,
    node: RedisRef,
    kind: string,
    what: string,
    ms: number,
    f: (c: Redis) => Promise<T>,
  ): Promise<T> {
    const c = this.conn(pool, node, kind);
    const start = performance.now();
    try {
      await whenReady(c, ms, node.addr);
      return await timeout(f(c), Math.max(1, ms - (performance.now() - start)), node.addr, what);
    } catch (err) {
      if (err instanceof RedisCommandError) throw err;
      throw new RedisCommandError(node.addr, `${what}: ${(err as Error).message}`);
    }
  }

  linkUp(addr: string): boolean | null {
    for (const [key, c] of this.probes) if (key.startsWith(`${addr}|`)) return c.status === 'ready';
    return null;
  }

  async ping(node: RedisRef, timeoutMs: number): Promise<void> {
    const c = this.conn(this.probes, node, 'probe');
    const start = performance.now();
    try {
      await whenReady(c, timeoutMs, node.addr);
      await timeout(c.ping(), Math.max(1, timeoutMs - (performance.now() - start)), node.addr, 'PING');
    } catch (err) {
      const msg = (err as Error).message;
      if (ACCEPTABLE_PING_ERRORS.test(msg)) return;
      throw err instanceof RedisCommandError ? err : new RedisCommandError(node.addr, `PING: ${msg}`);
    }
  }

  info(node: RedisRef, timeoutMs: number): Promise<RedisInfo> {
    return this.run(this.probes, node, 'probe', 'INFO', timeoutMs, async (c) => {
      const text = await c.info('server', 'replication', 'keyspace', 'persistence');
      return parseInfo(text);
    });
  }

  reconfigure(
    node: RedisRef,
    target: string | null,
    opts: { rewriteConfig: boolean; timeoutMs: number; killClients?: boolean },
  ): Promise<RedisInfo> {
    const what = target === null ? 'REPLICAOF NO ONE' : `REPLICAOF ${target}`;
    return this.run(this.admins, node, 'admin', what, opts.timeoutMs, async (c) => {
      const m = c.multi();
      if (target === null) {
        m.call('REPLICAOF', 'NO', 'ONE');
        m.call('CONFIG', 'SET', 'min-replicas-to-write', '0');
      } else {
        const { host, port } = parseAddress(target);
        m.call('REPLICAOF', host, String(port));
      }
      if (opts.rewriteConfig) m.call('CONFIG', 'REWRITE');
      if (opts.killClients !== false) {
        m.call('CLIENT', 'KILL', 'TYPE', 'normal');
        m.call('CLIENT', 'KILL', 'TYPE', 'pubsub');
      }
      const results = (await m.exec()) ?? [];
      const first = results[0];
      if (first?.[0]) throw new RedisCommandError(node.addr, `${what} failed: ${first[0].message}`);
      const rewrite = opts.rewriteConfig ? results[target === null ? 2 : 1] : undefined;
      if (rewrite?.[0])
        this.logger.warn({ addr: node.addr, err: rewrite[0].message }, 'CONFIG REWRITE failed');
      return parseInfo(await c.info('server', 'replication', 'keyspace'));
    });
  }

  pauseWrites(node: RedisRef, ms: number, timeoutMs: number): Promise<void> {
    return this.run(this.admins, node, 'admin', 'CLIENT PAUSE', timeoutMs, async (c) => {
      await c.call('CLIENT', 'PAUSE', String(Math.max(1, Math.round(ms))), 'WRITE');
    });
  }

  unpause(node: RedisRef, timeoutMs: number): Promise<void> {
    return this.run(this.admins, node, 'admin', 'CLIENT UNPAUSE', timeoutMs, async (c) => {
      await c.call('CLIENT', 'UNPAUSE');
    });
  }

  configSet(
    node: RedisRef,
    params: readonly (readonly [string, string])[],
    timeoutMs: number,
    opts: { rewrite?: boolean } = {},
  ): Promise<void> {
    return this.run(this.admins, node, 'admin', 'CONFIG SET', timeoutMs, async (c) => {
      if (params.length === 0) return;
      const m = c.multi();
      for (const [name, value] of params) m.call('CONFIG', 'SET', name, value);
      if (opts.rewrite) m.call('CONFIG', 'REWRITE');
      const results = (await m.exec()) ?? [];
      for (let i = 0; i < params.length; i++) {
        const err = results[i]?.[0];
        if (err) throw new RedisCommandError(node.addr, `CONFIG SET ${params[i]![0]} failed: ${err.message}`);
      }
      const rewrite = opts.rewrite ? results[params.length]?.[0] : undefined;
      if (rewrite) this.logger.warn({ addr: node.addr, err: rewrite.message }, 'CONFIG REWRITE failed');
    });
  }

  forget(addr: string): void {
    for (const pool of [this.probes, this.admins]) {
      for (const [key, c] of pool) {
        if (key.startsWith(`${addr}|`)) {
          c.disconnect();
          pool.delete(key);
        }
      }
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const pool of [this.probes, this.admins]) {
      for (const c of pool.values()) c.disconnect();
      pool.clear();
    }
  }
}

/**
 * The simulation's Redis model (test/sim/redis-model.ts) against real redis-server 7.0: every
 * scenario of test/sim/redis-scenarios.ts runs on real processes (random free ports, a config file
 * each, diskless sync without delay as test/support/redis.ts sets it) and on the model, and the two
 * transcripts must be equal. Real-time waits poll INFO within generous bounds.
 */
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { parseInfo, type RedisInfo } from '../../src/failover/redis.js';
import {
  DEAD,
  ModelDriver,
  type Obs,
  type RedisDriver,
  SCENARIOS,
  type StartOpts,
} from '../sim/redis-scenarios.js';
import { freePort } from '../support/ports.js';
import { cleanupRedis, haveBinary, RedisProcess } from '../support/redis.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function toObs(v: unknown): Obs {
  if (v === null || v === undefined) return null;
  if (Array.isArray(v)) return v.map(toObs);
  if (Buffer.isBuffer(v)) return v.toString();
  if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return v;
  return String(v);
}

/** Runs the scenarios on real redis-server processes. */
class RealDriver implements RedisDriver {
  readonly kind = 'real';
  private procs = new Map<string, RedisProcess>();
  private clients = new Map<string, Redis>();
  private extra: Redis[] = [];
  private deadPort = 0;

  async init(): Promise<this> {
    this.deadPort = await freePort();
    return this;
  }

  addr(name: string): string {
    if (name === DEAD) return `127.0.0.1:${this.deadPort}`;
    const p = this.procs.get(name);
    if (!p) throw new Error(`no server ${name}`);
    return p.addr;
  }

  async start(name: string, opts: StartOpts = {}): Promise<void> {
    const p = await RedisProcess.start({
      persistence: opts.persistence ?? false,
      ...(opts.replicaOf ? { replicaOf: this.addr(opts.replicaOf) } : {}),
    });
    this.procs.set(name, p);
  }

  private client(name: string): Redis {
    let c = this.clients.get(name);
    if (!c) {
      c = this.procs.get(name)!.client();
      this.clients.set(name, c);
    }
    return c;
  }

  private async run(c: Redis, argv: string[]): Promise<Obs> {
    if (c.status === 'wait') await c.connect();
    try {
      return toObs(await c.call(argv[0]!, ...argv.slice(1)));
    } catch (err) {
      const e = err as Error;
      if (e.name === 'ReplyError') return { err: e.message };
      throw err;
    }
  }

  call(name: string, ...argv: string[]): Promise<Obs> {
    return this.run(this.client(name), argv);
  }

  async send(name: string, ...argv: string[]): Promise<Obs> {
    const c = new Redis({
      port: this.procs.get(name)!.port,
      host: '127.0.0.1',
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      enableOfflineQueue: false,
      retryStrategy: () => null,
    });
    c.on('error', () => {});
    this.extra.push(c);
    await c.connect();
    try {
      return await this.run(c, argv);
    } finally {
      c.disconnect();
    }
  }

  async info(name: string): Promise<RedisInfo> {
    const text = String(await this.procs.get(name)!.call('INFO'));
    return parseInfo(text);
  }

  async waitFor(what: string, pred: () => Promise<boolean>, boundMs: number): Promise<void> {
    // Real time on a shared 2-core machine: three times the model's bound.
    const deadline = Date.now() + 3 * boundMs;
    while (!(await pred())) {
      if (Date.now() > deadline) {
        // What each server reports, so a failure says more than "not within".
        const states = await Promise.all(
          [...this.procs.keys()].map(async (n) => {
            const r = await this.procs
              .get(n)!
              .call('INFO', 'replication')
              .catch((e: Error) => e.message);
            return `${n}: ${String(r).replace(/\r\n/g, ' ')}`;
          }),
        );
        throw new Error(`real: ${what}: not within ${3 * boundMs} ms\n${states.join('\n')}`);
      }
      await sleep(25);
    }
  }

  async pass(ms: number): Promise<void> {
    await sleep(ms);
  }

  private dropClient(name: string): void {
    this.clients.get(name)?.disconnect();
    this.clients.delete(name);
  }

  async crash(name: string): Promise<void> {
    this.dropClient(name);
    await this.procs.get(name)!.crash();
  }

  async restart(name: string): Promise<void> {
    this.dropClient(name);
    await this.procs.get(name)!.start();
  }

  stall(name: string): void {
    this.procs.get(name)!.kill('SIGSTOP');
  }

  resume(name: string): void {
    this.procs.get(name)!.kill('SIGCONT');
  }

  async cleanup(): Promise<void> {
    for (const c of [...this.clients.values(), ...this.extra]) c.disconnect();
    this.clients.clear();
    this.extra = [];
  }
}

const drivers: RedisDriver[] = [];

afterEach(async () => {
  for (const d of drivers.splice(0)) await d.cleanup();
  await cleanupRedis();
});

describe.runIf(haveBinary('redis-server'))('the Redis model behaves like redis-server 7.0', () => {
  for (const [name, scenario] of Object.entries(SCENARIOS)) {
    it(name, async () => {
      const real = await new RealDriver().init();
      drivers.push(real);
      const realTranscript = await scenario(real);
      const model = new ModelDriver(1);
      drivers.push(model);
      const modelTranscript = await scenario(model);
      expect(modelTranscript).toEqual(realTranscript);
    });
  }
});

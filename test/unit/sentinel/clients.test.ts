/** Stock clients against the Sentinel port: ioredis (RESP2) and, when installed, redis-cli (RESP2/RESP3). */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { R } from '../../../src/sentinel/resp.js';
import type { SentinelServer, SentinelServerOptions } from '../../../src/sentinel/server.js';
import { startServer, waitUntil } from './helpers.js';

const run = promisify(execFile);

const servers: SentinelServer[] = [];
const redises: Redis[] = [];

async function setup(opts: SentinelServerOptions = {}): Promise<SentinelServer> {
  const s = await startServer(opts);
  servers.push(s);
  return s;
}

function ioredis(port: number, opts: Record<string, unknown> = {}): Redis {
  const r = new Redis({
    port,
    host: '127.0.0.1',
    enableReadyCheck: false,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    lazyConnect: true,
    ...opts,
  });
  r.on('error', () => {});
  redises.push(r);
  return r;
}

afterEach(async () => {
  for (const r of redises.splice(0)) r.disconnect();
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

describe('ioredis', () => {
  it('PING, CLIENT ID/SETNAME/GETNAME, errors, CLIENT SETINFO on connect', async () => {
    const s = await setup();
    const r = ioredis(s.port, { connectionName: 'svc-a' });
    await r.connect();
    expect(await r.ping()).toBe('PONG');
    expect(await r.ping('hi')).toBe('hi');
    const id = (await r.call('CLIENT', 'ID')) as number;
    expect(id).toBeGreaterThan(0);
    expect(await r.call('CLIENT', 'GETNAME')).toBe('svc-a');
    expect(await r.call('CLIENT', 'SETNAME', 'svc-b')).toBe('OK');
    expect(await r.call('CLIENT', 'GETNAME')).toBe('svc-b');
    await expect(r.call('FOO', 'a', 'b')).rejects.toThrow(
      "ERR unknown command 'FOO', with args beginning with: 'a' 'b' ",
    );
    await expect(r.call('CLIENT', 'SETNAME')).rejects.toThrow(
      "ERR wrong number of arguments for 'client|setname' command",
    );
    const me = s.client(id);
    expect(me?.libName).toBe('ioredis');
    expect(me?.libVer).toMatch(/^\d+\.\d+\.\d+/);
    const list = (await r.call('CLIENT', 'LIST')) as string;
    expect(list).toContain(`id=${id} `);
    expect(list).toContain('lib-name=ioredis');
  });

  it('subscribe and psubscribe receive published Sentinel events', async () => {
    const s = await setup();
    const sub = ioredis(s.port);
    await sub.connect();
    const got: string[] = [];
    sub.on('message', (channel: string, message: string) => got.push(`message ${channel} ${message}`));
    sub.on('pmessage', (pattern: string, channel: string, message: string) =>
      got.push(`pmessage ${pattern} ${channel} ${message}`),
    );
    expect(await sub.subscribe('+switch-master', '+sdown')).toBe(2);
    expect(await sub.psubscribe('*')).toBe(3);
    expect(s.publish('+switch-master', 'mymaster 127.0.0.1 6379 127.0.0.1 6380')).toBe(2);
    expect(s.publish('+odown', 'master mymaster 127.0.0.1 6379 #quorum 2/2')).toBe(1);
    await waitUntil(() => got.length === 3);
    expect(got).toEqual([
      'message +switch-master mymaster 127.0.0.1 6379 127.0.0.1 6380',
      'pmessage * +switch-master mymaster 127.0.0.1 6379 127.0.0.1 6380',
      'pmessage * +odown master mymaster 127.0.0.1 6379 #quorum 2/2',
    ]);
  });

  it('AUTH: password option, wrong password, none', async () => {
    const s = await setup({ requirepass: 'pw' });
    const good = ioredis(s.port, { password: 'pw' });
    await good.connect();
    expect(await good.ping()).toBe('PONG');
    const userAndPass = ioredis(s.port, { username: 'default', password: 'pw' });
    await userAndPass.connect();
    expect(await userAndPass.ping()).toBe('PONG');
    const none = ioredis(s.port);
    await none.connect();
    await expect(none.ping()).rejects.toThrow('NOAUTH Authentication required.');
    const bad = ioredis(s.port);
    await bad.connect();
    await expect(bad.call('AUTH', 'nope')).rejects.toThrow(
      'WRONGPASS invalid username-password pair or user is disabled.',
    );
  });

  it('CLIENT KILL TYPE pubsub makes subscribers see the close', async () => {
    const s = await setup();
    const sub = ioredis(s.port);
    await sub.connect();
    await sub.subscribe('+switch-master');
    const closed = new Promise<void>((resolve) => sub.once('close', () => resolve()));
    const admin = ioredis(s.port);
    await admin.connect();
    expect(await admin.call('CLIENT', 'KILL', 'TYPE', 'pubsub')).toBe(1);
    await closed;
  });

  it('discovers the master through the SENTINEL seam and reacts to +switch-master', async () => {
    const s = await setup();
    let lookups = 0;
    s.register({ name: 'sentinel', arity: -2 });
    s.registerSubcommand('sentinel', {
      name: 'get-master-addr-by-name',
      arity: 3,
      handler: (ctx) => {
        lookups++;
        return ctx.args[2] === 'mymaster' ? R.bulks(['127.0.0.1', String(ctx.server.port)]) : R.nullArray;
      },
    });
    s.registerSubcommand('sentinel', { name: 'sentinels', arity: 3, handler: () => R.array([]) });
    const r = new Redis({
      sentinels: [{ host: '127.0.0.1', port: s.port }],
      name: 'mymaster',
      enableReadyCheck: false,
      failoverDetector: true,
      sentinelRetryStrategy: () => null,
      lazyConnect: true,
    });
    r.on('error', () => {});
    redises.push(r);
    await r.connect();
    expect(await r.ping()).toBe('PONG');
    expect(lookups).toBe(1);
    await waitUntil(
      () => s.clients({ type: 'pubsub' }).length === 1,
      3000,
      'the failover detector to subscribe',
    );
    s.publish('+switch-master', `mymaster 127.0.0.1 1 127.0.0.1 ${s.port}`);
    await waitUntil(() => lookups === 2, 5000, 'ioredis to resolve the master again');
    expect(await r.ping()).toBe('PONG');
  });
});

const REDIS_CLI = ['/usr/bin/redis-cli', '/usr/local/bin/redis-cli'].find((p) => existsSync(p));

describe.skipIf(!REDIS_CLI)('redis-cli', () => {
  const cli = async (port: number, ...args: string[]): Promise<string> => {
    const { stdout } = await run(REDIS_CLI as string, ['-h', '127.0.0.1', '-p', String(port), ...args], {
      timeout: 10_000,
    });
    // redis-cli ends an error reply with an extra blank line when not on a terminal.
    return stdout.replace(/\n\n$/, '\n');
  };

  it('PING, errors, HELLO in RESP2 and RESP3 (-3)', async () => {
    const s = await setup();
    expect(await cli(s.port, 'PING')).toBe('PONG\n');
    expect(await cli(s.port, 'PING', 'hello world')).toBe('hello world\n');
    expect(await cli(s.port, 'FOO', 'bar')).toBe(
      "ERR unknown command 'FOO', with args beginning with: 'bar' \n",
    );
    const hello3 = await cli(s.port, '-3', 'HELLO', '3');
    expect(hello3).toMatch(/^server redis\nversion 7\.0\.15\nproto 3\nid \d+\nmode sentinel\nmodules \n$/);
    expect(await cli(s.port, '-3', 'PING')).toBe('PONG\n');
    expect(await cli(s.port, '-3', 'CLIENT', 'INFO')).toMatch(/^id=\d+ addr=127\.0\.0\.1:\d+ .* resp=3 /);
    expect(await cli(s.port, 'CLIENT', 'GETNAME')).toBe('\n');
  });

  it('AUTH with -a and --user/--pass, and NOAUTH without', async () => {
    const s = await setup({ requirepass: 'pw' });
    expect(await cli(s.port, 'PING')).toBe('NOAUTH Authentication required.\n');
    expect(await cli(s.port, '-a', 'pw', '--no-auth-warning', 'PING')).toBe('PONG\n');
    expect(await cli(s.port, '--user', 'default', '--pass', 'pw', '--no-auth-warning', '-3', 'PING')).toBe(
      'PONG\n',
    );
  });
});

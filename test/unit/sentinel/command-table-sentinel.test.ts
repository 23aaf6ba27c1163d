/**
 * The Sentinel port's command table is Sentinel 7.0's: Redis's own suite (tests/sentinel 00-base)
 * asserts `COMMAND LIST` has 72 entries and `COMMAND COUNT` is 15. Every listed command is one
 * Sentinel 7.0 has, described as it describes it, and answers (no "unknown command", no internal
 * error); QUIT and CLIENT SETINFO are accepted but never listed.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { SENTINEL_7_0_COMMANDS } from '../../../src/sentinel/command-catalog.js';
import type { SentinelServer } from '../../../src/sentinel/server.js';
import { RawClient, simple } from './helpers.js';
import { startDaemonLikePort } from './port-fixture.js';

let server: SentinelServer | null = null;
const clients: RawClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await server?.close();
  server = null;
});

async function connect(): Promise<RawClient> {
  const c = await RawClient.connect((server as SentinelServer).port);
  clients.push(c);
  return c;
}

/** Bulk strings of a flat RESP2 array reply. */
function bulks(reply: string): string[] {
  return [...reply.matchAll(/\$\d+\r\n([^\r]*)\r\n/g)].map((m) => m[1]!);
}

describe('COMMAND on the Sentinel port', () => {
  it('lists exactly Sentinel 7.0: COMMAND COUNT 15, COMMAND LIST 72, with its arities, flags and categories', async () => {
    server = await startDaemonLikePort();
    const c = await connect();
    expect(await c.call('COMMAND', 'COUNT')).toBe(':15\r\n');
    const list = bulks(await c.call('COMMAND', 'LIST'));
    expect(list).toHaveLength(72);
    expect([...list].sort()).toEqual(SENTINEL_7_0_COMMANDS.map((e) => e.name).sort());
    for (const e of SENTINEL_7_0_COMMANDS) {
      const cmd = server.commands.getListed(e.name);
      expect(cmd, e.name).toBeDefined();
      expect(cmd?.arity, e.name).toBe(e.arity);
      expect(cmd?.flags, e.name).toEqual(e.flags);
      expect(cmd?.categories, e.name).toEqual(e.categories);
    }
    // What the 7.2 suite looks for, and what Sentinel has not.
    for (const name of ['ping', 'info', 'subscribe']) expect(list).toContain(name);
    for (const name of ['save', 'bgrewriteaof', 'blpop', 'replicaof', 'quit', 'client|setinfo'])
      expect(list).not.toContain(name);
    expect((await c.call('COMMAND')).startsWith('*15\r\n')).toBe(true);
    expect(await c.call('COMMAND', 'INFO', 'quit', 'client|setinfo')).toBe('*2\r\n$-1\r\n$-1\r\n');
    expect(await c.call('COMMAND', 'DOCS', 'quit')).toBe('*0\r\n');
    expect(bulks(await c.call('COMMAND', 'LIST', 'FILTERBY', 'ACLCAT', 'pubsub')).sort()).toEqual([
      'psubscribe',
      'publish',
      'punsubscribe',
      'subscribe',
      'unsubscribe',
    ]);
    expect(await c.call('COMMAND', 'GETKEYS', 'sentinel', 'masters')).toBe(
      '-ERR The command has no key arguments\r\n',
    );
    expect(await c.call('COMMAND', 'GETKEYS', 'sentinel', 'nosuch')).toBe(
      '-ERR Invalid command specified\r\n',
    );
  });

  it('COMMAND DOCS carries the deprecation of SENTINEL SLAVES', async () => {
    server = await startDaemonLikePort();
    const c = await connect();
    await c.call('HELLO', '3');
    const docs = await c.call('COMMAND', 'DOCS', 'sentinel');
    expect(docs).toContain('$9\r\ndoc_flags\r\n~1\r\n+deprecated\r\n');
    expect(docs).toContain('$11\r\nreplaced_by\r\n$19\r\n`SENTINEL REPLICAS`\r\n');
  });

  it('every listed command but SHUTDOWN and SENTINEL answers (errors are its own, never unknown)', async () => {
    server = await startDaemonLikePort();
    for (const e of SENTINEL_7_0_COMMANDS) {
      // SENTINEL's subcommands need the daemon (see sentinel-*.test.ts); SHUTDOWN stops it.
      if (e.name === 'shutdown' || e.name.startsWith('sentinel')) continue;
      const words = e.name.split('|');
      const isContainer = SENTINEL_7_0_COMMANDS.some((x) => x.name.startsWith(`${e.name}|`));
      if (isContainer) continue;
      const argc = Math.abs(e.arity);
      const argv = [...words, ...Array.from({ length: Math.max(0, argc - words.length) }, () => '1')];
      const c = await connect();
      const reply = await c.call(...argv);
      expect(reply, e.name).not.toMatch(/unknown command|unknown subcommand|internal error|wrong number/);
      if (e.name === 'client|pause') await c.call('CLIENT', 'UNPAUSE');
    }
  });

  it('QUIT and CLIENT SETINFO are accepted (clients send them), though Sentinel 7.0 lists neither', async () => {
    server = await startDaemonLikePort();
    const c = await connect();
    expect(await c.call('CLIENT', 'SETINFO', 'LIB-NAME', 'ioredis')).toBe(simple('OK'));
    expect(await c.call('QUIT')).toBe(simple('OK'));
    expect(await c.untilClosed()).toBe('');
  });
});

/**
 * CLIENT PAUSE/UNPAUSE, REPLY, UNBLOCK and the client-side caching subcommands on the Sentinel
 * port, with Sentinel 7.0.15's replies (captured on the wire) and its behaviour: a pause holds
 * every client's commands (WRITE: only PUBLISH) until it ends or UNPAUSE.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { SentinelServer } from '../../../src/sentinel/server.js';
import { arr, bulk, err, int, RawClient, simple } from './helpers.js';
import { startDaemonLikePort } from './port-fixture.js';

let server: SentinelServer | null = null;
const clients: RawClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await server?.close();
  server = null;
});

async function connect(): Promise<RawClient> {
  server ??= await startDaemonLikePort();
  const c = await RawClient.connect(server.port);
  clients.push(c);
  return c;
}

describe('CLIENT PAUSE / UNPAUSE', () => {
  it('ALL holds every command of every client until UNPAUSE (which waits too, as in Redis)', async () => {
    const a = await connect();
    const b = await connect();
    expect(await a.call('CLIENT', 'PAUSE', '60000')).toBe(simple('OK'));
    b.cmd('PING');
    await new Promise((r) => setTimeout(r, 150));
    expect(b.pending).toBe('');
    server?.unpauseClients();
    expect(await b.reply()).toBe(simple('PONG'));
  });

  it('ends by itself; WRITE holds only PUBLISH', async () => {
    const a = await connect();
    const b = await connect();
    expect(await a.call('CLIENT', 'PAUSE', '300', 'WRITE')).toBe(simple('OK'));
    expect(await b.call('PING')).toBe(simple('PONG'));
    const started = Date.now();
    expect(await b.call('PUBLISH', 'x', 'y')).toBe(
      err('ERR Only HELLO messages are accepted by Sentinel instances.'),
    );
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    expect(await a.call('CLIENT', 'PAUSE', 'x')).toBe(err('ERR timeout is not an integer or out of range'));
    expect(await a.call('CLIENT', 'PAUSE', '-1')).toBe(err('ERR timeout is negative'));
    expect(await a.call('CLIENT', 'PAUSE', '10', 'foo')).toBe(
      err('ERR CLIENT PAUSE mode must be WRITE or ALL'),
    );
    expect(await a.call('CLIENT', 'PAUSE', '1', 'ALL', 'x')).toBe(
      err("ERR unknown subcommand or wrong number of arguments for 'PAUSE'. Try CLIENT HELP."),
    );
    expect(await a.call('CLIENT', 'UNPAUSE')).toBe(simple('OK'));
  });
});

describe('CLIENT REPLY, UNBLOCK', () => {
  it('SKIP drops the next reply, OFF every reply until ON', async () => {
    const c = await connect();
    c.cmd('CLIENT', 'REPLY', 'SKIP');
    c.cmd('PING');
    c.cmd('PING', 'x');
    expect(await c.reply()).toBe(bulk('x'));
    c.cmd('CLIENT', 'REPLY', 'OFF');
    c.cmd('PING');
    c.cmd('FOO');
    expect(await c.call('CLIENT', 'REPLY', 'ON')).toBe(simple('OK'));
    expect(await c.call('CLIENT', 'REPLY', 'x')).toBe(err('ERR syntax error'));
  });

  it('UNBLOCK: nothing blocks on a Sentinel', async () => {
    const c = await connect();
    expect(await c.call('CLIENT', 'UNBLOCK', '1')).toBe(int(0));
    expect(await c.call('CLIENT', 'UNBLOCK', '1', 'error')).toBe(int(0));
    expect(await c.call('CLIENT', 'UNBLOCK', 'x')).toBe(err('ERR value is not an integer or out of range'));
    expect(await c.call('CLIENT', 'UNBLOCK', '1', 'x')).toBe(
      err('ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR'),
    );
  });
});

describe('CLIENT TRACKING, CACHING, GETREDIR, TRACKINGINFO', () => {
  it('keeps the state Redis shows, with its errors', async () => {
    const c = await connect();
    const off = arr(bulk('flags'), arr(bulk('off')), bulk('redirect'), int(-1), bulk('prefixes'), arr());
    expect(await c.call('CLIENT', 'TRACKINGINFO')).toBe(off);
    expect(await c.call('CLIENT', 'GETREDIR')).toBe(int(-1));
    expect(await c.call('CLIENT', 'CACHING', 'yes')).toBe(
      err(
        'ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled',
      ),
    );
    expect(await c.call('CLIENT', 'TRACKING', 'on', 'optin')).toBe(simple('OK'));
    expect(await c.call('CLIENT', 'CACHING', 'yes')).toBe(simple('OK'));
    expect(await c.call('CLIENT', 'TRACKINGINFO')).toBe(
      arr(
        bulk('flags'),
        arr(bulk('on'), bulk('optin'), bulk('caching-yes')),
        bulk('redirect'),
        int(0),
        bulk('prefixes'),
        arr(),
      ),
    );
    // Forgotten after a command other than CLIENT.
    await c.call('PING');
    expect(await c.call('CLIENT', 'TRACKINGINFO')).toContain(arr(bulk('on'), bulk('optin')));
    expect(await c.call('CLIENT', 'CACHING', 'no')).toBe(
      err('ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.'),
    );
    expect(await c.call('CLIENT', 'TRACKING', 'on', 'optout')).toBe(
      err(
        "ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, and then re-enabling it with a different mode.",
      ),
    );
    expect(await c.call('CLIENT', 'LIST')).toMatch(/ flags=t /);
    expect(await c.call('CLIENT', 'TRACKING', 'off')).toBe(simple('OK'));
    expect(await c.call('CLIENT', 'TRACKING', 'on', 'bcast', 'prefix', 'a', 'prefix', 'ab')).toBe(
      err(
        "ERR Prefix 'a' overlaps with another provided prefix 'ab'. Prefixes for a single client must not overlap.",
      ),
    );
    expect(await c.call('CLIENT', 'TRACKING', 'on', 'redirect', '999')).toBe(
      err('ERR The client ID you want redirect to does not exist'),
    );
    expect(await c.call('CLIENT', 'TRACKING', 'on', 'bcast')).toBe(simple('OK'));
    expect(await c.call('CLIENT', 'TRACKING', 'on', 'bcast', 'prefix', 'x')).toBe(
      err(
        "ERR Prefix 'x' overlaps with an existing prefix ''. Prefixes for a single client must not overlap.",
      ),
    );
    expect(await c.call('CLIENT', 'TRACKING', 'on')).toBe(
      err(
        "ERR You can't switch BCAST mode on/off before disabling tracking for this client, and then re-enabling it with a different mode.",
      ),
    );
    expect(await c.call('CLIENT', 'TRACKING', 'maybe')).toBe(err('ERR syntax error'));
  });
});

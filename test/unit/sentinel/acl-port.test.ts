/**
 * ACL users on the Sentinel port (one process, users in memory), as Redis's
 * tests/sentinel/tests/09-acl-support.tcl and Sentinel 7.0.15 on the wire use them: AUTH and HELLO
 * AUTH as a user, NOPERM with ACL LOG, a deleted user's clients disconnected (the one that deleted
 * it after its reply), `default off` refusing new unauthenticated clients while connections
 * already authenticated keep working (Redis's documented rule), CLIENT KILL USER, and an ACL
 * change that never hangs (compare-and-set retried, every wait bounded).
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { AclUserRecord } from '../../../src/sentinel/acl.js';
import { type AclPutResult, MemoryAclStore } from '../../../src/sentinel/acl-users.js';
import type { SentinelServer, SentinelServerOptions } from '../../../src/sentinel/server.js';
import { arr, bulk, err, int, RawClient, simple, startServer } from './helpers.js';

let server: SentinelServer | null = null;
const clients: RawClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await server?.close();
  server = null;
});

async function setup(opts: SentinelServerOptions = {}): Promise<SentinelServer> {
  server = await startServer(opts);
  return server;
}

async function connect(): Promise<RawClient> {
  const c = await RawClient.connect((server as SentinelServer).port);
  clients.push(c);
  return c;
}

const WRONGPASS = err('WRONGPASS invalid username-password pair or user is disabled.');
const NOAUTH = err('NOAUTH Authentication required.');

describe('ACL users on the Sentinel port', () => {
  it('09-acl-support: a user with +@all, default off, CLIENT KILL USER default SKIPME no, AUTH user pass', async () => {
    await setup();
    const c = await connect();
    expect(await c.call('ACL', 'SETUSER', 'testuser', '>secret', '+@all', 'on')).toBe(simple('OK'));
    expect(await c.call('ACL', 'SETUSER', 'default', 'off')).toBe(simple('OK'));
    // Redis's rule: connections already authenticated keep working when their user is turned off.
    const other = await connect();
    expect(await c.call('PING')).toBe(simple('PONG'));
    // New connections are not authenticated any more.
    const fresh = await connect();
    expect(await fresh.call('PING')).toBe(NOAUTH);
    expect(await fresh.call('AUTH', 'default', 'x')).toBe(WRONGPASS);
    // The suite's way out: kill every default connection, this one too (after its reply).
    expect(await c.call('CLIENT', 'KILL', 'USER', 'default', 'SKIPME', 'no')).toMatch(/^:\d+\r\n$/);
    expect(await c.untilClosed()).toBe('');
    expect(await other.untilClosed()).toBe('');
    const again = await connect();
    expect(await again.call('AUTH', 'testuser', 'secret')).toBe(simple('OK'));
    expect(await again.call('ACL', 'WHOAMI')).toBe(bulk('testuser'));
    expect(await again.call('SENTINEL', 'MASTERS')).toMatch(/unknown command/);
    // Teardown as the suite does it.
    expect(await again.call('ACL', 'SETUSER', 'default', 'on')).toBe(simple('OK'));
    expect(await again.call('ACL', 'DELUSER', 'testuser')).toBe(int(1));
    // The caller authenticated as the deleted user gets its reply, then is disconnected.
    expect(await again.untilClosed()).toBe('');
    const last = await connect();
    expect(await last.call('ACL', 'WHOAMI')).toBe(bulk('default'));
  });

  it('AUTH and HELLO AUTH as a user; failures are WRONGPASS and go to ACL LOG', async () => {
    await setup();
    const admin = await connect();
    await admin.call('ACL', 'SETUSER', 'app', 'on', '>pw', '-@all', '+ping', '+hello', '+acl|whoami');
    const c = await connect();
    expect(await c.call('AUTH', 'app', 'nope')).toBe(WRONGPASS);
    expect(await c.call('AUTH', 'nosuch', 'pw')).toBe(WRONGPASS);
    expect(await c.call('HELLO', '2', 'AUTH', 'app', 'pw')).toMatch(/^\*12\r\n/);
    expect(await c.call('ACL', 'WHOAMI')).toBe(bulk('app'));
    // AUTH <password> alone is the default user's, which has none.
    expect(await c.call('AUTH', 'pw')).toBe(
      err(
        'ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?',
      ),
    );
    const log = await admin.call('ACL', 'LOG');
    expect(log).toMatch(/^\*2\r\n/);
    expect(log).toContain(`${bulk('reason')}${bulk('auth')}`);
    expect(log).toContain(`${bulk('object')}${bulk('AUTH')}${bulk('username')}${bulk('nosuch')}`);
    expect(await admin.call('ACL', 'LOG', 'RESET')).toBe(simple('OK'));
    expect(await admin.call('ACL', 'LOG')).toBe(arr());
  });

  it('NOPERM for commands and channels, logged in ACL LOG', async () => {
    await setup();
    const admin = await connect();
    await admin.call(
      'ACL',
      'SETUSER',
      'ro',
      'on',
      'nopass',
      '-@all',
      '+ping',
      '+client|getname',
      '+subscribe',
    );
    const c = await connect();
    expect(await c.call('AUTH', 'ro', 'x')).toBe(simple('OK'));
    expect(await c.call('CLIENT', 'GETNAME')).toBe('$-1\r\n');
    expect(await c.call('PING')).toBe(simple('PONG'));
    expect(await c.call('CLIENT', 'ID')).toBe(
      err("NOPERM this user has no permissions to run the 'client|id' command"),
    );
    // A new user has no channels (resetchannels): SUBSCRIBE is refused on the channel.
    expect(await c.call('SUBSCRIBE', '+switch-master')).toBe(
      err('NOPERM this user has no permissions to access one of the channels used as arguments'),
    );
    const log = await admin.call('ACL', 'LOG');
    expect(log).toContain(`${bulk('reason')}${bulk('channel')}`);
    expect(log).toContain(`${bulk('object')}${bulk('+switch-master')}`);
    expect(log).toContain(`${bulk('object')}${bulk('client|id')}`);
    expect(await admin.call('ACL', 'DRYRUN', 'ro', 'client', 'id')).toBe(
      bulk("This user has no permissions to run the 'client|id' command"),
    );
    expect(await admin.call('ACL', 'DRYRUN', 'ro', 'ping')).toBe(simple('OK'));
  });

  it('a subscriber whose channel is revoked is disconnected; one still allowed is not', async () => {
    await setup();
    const admin = await connect();
    await admin.call('ACL', 'SETUSER', 'sub', 'on', 'nopass', '+@all', '&news.*', '&alerts');
    const a = await connect();
    const b = await connect();
    for (const c of [a, b]) await c.call('AUTH', 'sub', 'x');
    expect(await a.call('SUBSCRIBE', 'news.x')).toMatch(/subscribe/);
    expect(await b.call('SUBSCRIBE', 'alerts')).toMatch(/subscribe/);
    expect(await admin.call('ACL', 'SETUSER', 'sub', 'resetchannels', '&news.*')).toBe(simple('OK'));
    expect(await b.untilClosed()).toBe('');
    expect(await a.call('PING')).toBe(arr(bulk('pong'), bulk('')));
  });

  it('CLIENT KILL USER names a known user or fails as Redis does', async () => {
    await setup();
    const c = await connect();
    expect(await c.call('CLIENT', 'KILL', 'USER', 'nosuch')).toBe(err("ERR No such user 'nosuch'"));
    await c.call('ACL', 'SETUSER', 'k', 'on', 'nopass', '+@all');
    const victim = await connect();
    await victim.call('AUTH', 'k', 'x');
    expect(await c.call('CLIENT', 'KILL', 'USER', 'k')).toBe(int(1));
    expect(await victim.untilClosed()).toBe('');
  });

  it('requirepass is the default password until ACL SETUSER default changes it', async () => {
    await setup({ requirepass: 's3cret' });
    const c = await connect();
    expect(await c.call('PING')).toBe(NOAUTH);
    expect(await c.call('AUTH', 's3cret')).toBe(simple('OK'));
    expect(await c.call('ACL', 'SETUSER', 'default', 'nopass')).toBe(simple('OK'));
    expect(await (await connect()).call('PING')).toBe(simple('PONG'));
    // The committed default user wins over a later requirepass.
    server?.setRequirePass('other');
    expect(await (await connect()).call('PING')).toBe(simple('PONG'));
    expect(await c.call('ACL', 'DELUSER', 'default')).toBe(err("ERR The 'default' user cannot be removed"));
  });
});

/** A store whose changes can be made to conflict or hang. */
class TestStore extends MemoryAclStore {
  conflicts = 0;
  puts = 0;
  hang = false;

  override async sync(): Promise<void> {
    if (this.hang) await new Promise(() => {});
  }

  override async put(user: AclUserRecord, revision: number): Promise<AclPutResult> {
    this.puts++;
    if (this.conflicts > 0) {
      this.conflicts--;
      // Another daemon's change got in first.
      await super.put({ ...user, name: `other${this.conflicts}` }, this.revision());
      return 'conflict';
    }
    return super.put(user, revision);
  }
}

describe('ACL changes never hang', () => {
  it('a SETUSER that lost a compare-and-set is computed again', async () => {
    const store = new TestStore();
    store.conflicts = 2;
    await setup({ acl: store });
    const c = await connect();
    expect(await c.call('ACL', 'SETUSER', 'u', 'on', '>pw')).toBe(simple('OK'));
    expect(store.puts).toBe(3);
    expect(await c.call('ACL', 'USERS')).toBe(
      arr(bulk('default'), bulk('other0'), bulk('other1'), bulk('u')),
    );
  });

  it('a SETUSER or DELUSER that cannot reach the group answers an error within its bound', async () => {
    const store = new TestStore();
    store.hang = true;
    await setup({ acl: store, genericCommands: { aclChangeTimeoutMs: 200 } });
    const c = await connect();
    const started = Date.now();
    expect(await c.call('ACL', 'SETUSER', 'u', 'on')).toBe(
      err('ERR ACL SETUSER not confirmed within 200 ms (the group may have no leader); it may still apply'),
    );
    expect(await c.call('ACL', 'DELUSER', 'u')).toMatch(/^-ERR ACL DELUSER not confirmed within 200 ms/);
    expect(Date.now() - started).toBeLessThan(2000);
    // The connection goes on.
    expect(await c.call('PING')).toBe(simple('PONG'));
  });
});

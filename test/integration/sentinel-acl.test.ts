/**
 * ACL users on the Sentinel port of a three-daemon group (real processes): an ACL SETUSER sent to
 * one daemon goes through the Raft log and is answered once committed, so every daemon knows the
 * user; AUTH user pass works on every daemon; `ACL SETUSER default off` refuses unauthenticated
 * clients everywhere (connections already authenticated keep working, as Redis documents); ACL
 * DELUSER disconnects the user's clients on every daemon; a restarted daemon still knows the users;
 * no password, clear or hashed, shows in logs, status or the unauthenticated GET of the users.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { plain, type Resp, RespConn } from '../support/clients/resp.js';
import { cleanupAll, DaemonCluster, dumpLogsIfFailed, waitFor } from '../support/daemons.js';

const IDS = [1, 2, 3];
const TOKEN = 'acl-test-token';
const PASSWORD = 'app-Secret-42';
const HASH = 'b5fa8b6ed4b6d2e8c7f5b7a4c67e0a7f44e9d5fc2f9b1b7f0a5f0d3e5b0e7a11';

let c: DaemonCluster;
const conns: RespConn[] = [];

beforeAll(async () => {
  c = new DaemonCluster();
  await c.startGroup(IDS, { token: TOKEN, snapshotEveryEntries: 5 });
}, 90_000);

afterEach((ctx) => dumpLogsIfFailed(ctx));

afterAll(async () => {
  for (const conn of conns) conn.close();
  await cleanupAll();
}, 60_000);

async function open(id: number): Promise<RespConn> {
  const conn = await RespConn.open(c.node(id).ports.sentinel);
  conns.push(conn);
  return conn;
}

async function call(id: number, ...args: string[]): Promise<unknown> {
  const conn = await open(id);
  try {
    return plain(await conn.call(...args));
  } finally {
    conn.close();
  }
}

function isError(r: Resp, prefix: string): boolean {
  return r.t === 'error' && r.s.startsWith(prefix);
}

/** Wait until `pred` holds on every daemon. */
async function onEvery(what: string, pred: (id: number) => Promise<boolean>): Promise<void> {
  await waitFor(async () => (await Promise.all(IDS.map(pred))).every(Boolean), 15_000, {
    what: `every daemon to ${what}`,
    intervalMs: 50,
  });
}

describe('the command table of a daemon', () => {
  it("is Sentinel 7.0's: COMMAND COUNT 15, COMMAND LIST 72 (tests/sentinel 00-base)", async () => {
    for (const id of IDS) {
      expect(await call(id, 'COMMAND', 'COUNT')).toBe(15);
      expect(await call(id, 'COMMAND', 'LIST')).toHaveLength(72);
    }
  });
});

describe('ACL users replicated through the log', () => {
  it('SETUSER on one daemon, AUTH on every daemon; default off everywhere; DELUSER disconnects everywhere; a restart remembers', async () => {
    const leader = (await c.status(1)).leader!;
    const follower = IDS.find((id) => id !== leader)!;

    // Connections authenticated as default before anything changes, one per daemon.
    const before = await Promise.all(IDS.map(open));
    for (const conn of before) expect(plain(await conn.call('PING'))).toBe('PONG');

    // Through a follower: answered once committed, and visible there at once.
    const admin = await open(follower);
    const set = await admin.call(
      'ACL',
      'SETUSER',
      'app',
      'on',
      `>${PASSWORD}`,
      '-@all',
      '+ping',
      '+acl|whoami',
      '+sentinel|myid',
    );
    expect(plain(set)).toBe('OK');
    expect(plain(await admin.call('ACL', 'USERS'))).toEqual(['app', 'default']);
    await onEvery('know user app', async (id) => {
      const users = await call(id, 'ACL', 'USERS');
      return JSON.stringify(users) === JSON.stringify(['app', 'default']);
    });
    for (const id of IDS) {
      const list = (await call(id, 'ACL', 'LIST')) as string[];
      expect(list[0]).toMatch(/^user app on #[0-9a-f]{64} resetchannels -@all /);
      expect(list[0]).not.toContain(PASSWORD);
    }

    // AUTH (and HELLO AUTH) as the user work on every daemon; its permissions hold everywhere.
    const apps: RespConn[] = [];
    for (const id of IDS) {
      const conn = await open(id);
      expect(plain(await conn.call('AUTH', 'app', PASSWORD))).toBe('OK');
      expect(plain(await conn.call('ACL', 'WHOAMI'))).toBe('app');
      expect(
        isError(
          await conn.call('CLIENT', 'ID'),
          "NOPERM this user has no permissions to run the 'client|id'",
        ),
      ).toBe(true);
      apps.push(conn);
      const hello = await open(id);
      expect((await hello.call('HELLO', '3', 'AUTH', 'app', PASSWORD)).t).toBe('map');
      expect(isError(await (await open(id)).call('AUTH', 'app', 'wrong'), 'WRONGPASS')).toBe(true);
    }

    // default off, sent to the leader: new unauthenticated clients are refused on every daemon.
    expect(plain(await (await open(leader)).call('ACL', 'SETUSER', 'default', 'off'))).toBe('OK');
    await onEvery('refuse unauthenticated clients', async (id) => {
      const conn = await open(id);
      const r = await conn.call('PING');
      conn.close();
      return isError(r, 'NOAUTH');
    });
    for (const id of IDS) {
      const conn = await open(id);
      expect(isError(await conn.call('AUTH', 'default', 'x'), 'WRONGPASS')).toBe(true);
      expect(plain(await conn.call('AUTH', 'app', PASSWORD))).toBe('OK');
    }
    // Redis's rule: a connection already authenticated as a user turned off keeps working.
    for (const conn of before) expect(plain(await conn.call('PING'))).toBe('PONG');

    // A restarted daemon knows the users (from its log or snapshot) as soon as it serves clients.
    const restarted = IDS.find((id) => id !== leader && id !== follower)!;
    await c.restart(restarted);
    await waitFor(
      async () => {
        try {
          const conn = await open(restarted);
          const fresh = await conn.call('PING');
          const auth = await conn.call('AUTH', 'app', PASSWORD);
          conn.close();
          return isError(fresh, 'NOAUTH') && plain(auth) === 'OK';
        } catch {
          return false;
        }
      },
      20_000,
      { what: `restarted daemon ${restarted} to know user app and default off` },
    );

    // DELUSER through the leader disconnects the user's clients on every daemon.
    const keeper = before[IDS.indexOf(leader)]!;
    expect(plain(await keeper.call('ACL', 'DELUSER', 'app'))).toBe(1);
    for (const conn of apps) expect(await conn.waitClosed(10_000)).toBe(true);
    await onEvery('have forgotten app', async (id) => {
      const conn = await open(id);
      const r = await conn.call('AUTH', 'app', PASSWORD);
      conn.close();
      return isError(r, 'WRONGPASS');
    });

    // Back to the default: open to all again, everywhere.
    expect(plain(await keeper.call('ACL', 'SETUSER', 'default', 'on'))).toBe('OK');
    await onEvery('accept unauthenticated clients again', async (id) => (await call(id, 'PING')) === 'PONG');
  }, 120_000);

  it('ACL changes never show a password: not in logs, status, or the GET of the users', async () => {
    expect(
      plain(await (await open(2)).call('ACL', 'SETUSER', 'viewer', 'on', `>${PASSWORD}`, `#${HASH}`)),
    ).toBe('OK');
    const r = await c.node(1).http('GET', '/v1/acl/users', { timeoutMs: 3000 });
    expect(r.status).toBe(200);
    const body = r.json as { users: { name: string; passwords: number }[] };
    expect(body.users.find((u) => u.name === 'viewer')?.passwords).toBe(2);
    expect(JSON.stringify(body)).not.toContain(HASH);
    const status = await c.node(1).http('GET', '/v1/status', { timeoutMs: 3000 });
    expect(JSON.stringify(status.json)).not.toContain(HASH);
    // A change through the admin API needs the token.
    const put = await c.node(1).http('DELETE', '/v1/acl/users/viewer', { timeoutMs: 3000 });
    expect(put.status).toBe(401);
    for (const id of IDS) {
      const logs = c
        .node(id)
        .lines.map((l) => l.raw)
        .join('\n');
      expect(logs).not.toContain(PASSWORD);
      expect(logs).not.toContain(HASH);
    }
  }, 60_000);
});

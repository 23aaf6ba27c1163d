import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { infoCommandSpec } from '../../../src/sentinel/commands-generic.js';
import { R } from '../../../src/sentinel/resp.js';
import { ReplyError, type SentinelServer, type SentinelServerOptions } from '../../../src/sentinel/server.js';
import {
  arr,
  bulk,
  err,
  helloReply,
  int,
  push,
  RawClient,
  simple,
  startServer,
  waitUntil,
} from './helpers.js';

const servers: SentinelServer[] = [];
const clients: RawClient[] = [];

async function setup(opts: SentinelServerOptions = {}): Promise<SentinelServer> {
  const s = await startServer(opts);
  servers.push(s);
  return s;
}

async function client(server: SentinelServer): Promise<RawClient> {
  const c = await RawClient.connect(server.port);
  clients.push(c);
  return c;
}

afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

const NULL2 = '$-1\r\n';
const NULL3 = '_\r\n';

describe('generic commands, byte-exact in RESP2 and RESP3', () => {
  it('PING, HELLO, CLIENT ID/SETNAME/GETNAME', async () => {
    const s = await setup();
    const c = await client(s);
    expect(await c.call('PING')).toBe(simple('PONG'));
    expect(await c.call('PING', 'hello')).toBe(bulk('hello'));
    expect(await c.call('ping', 'a', 'b')).toBe(err("ERR wrong number of arguments for 'ping' command"));
    const id = Number((await c.call('CLIENT', 'ID')).slice(1, -2));
    expect(id).toBeGreaterThan(0);
    expect(await c.call('CLIENT', 'GETNAME')).toBe(NULL2);
    expect(await c.call('HELLO')).toBe(helloReply(2, id));
    expect(await c.call('HELLO', '3')).toBe(helloReply(3, id));
    expect(await c.call('PING')).toBe(simple('PONG'));
    expect(await c.call('CLIENT', 'GETNAME')).toBe(NULL3);
    expect(await c.call('CLIENT', 'SETNAME', 'worker-1')).toBe(simple('OK'));
    expect(await c.call('CLIENT', 'GETNAME')).toBe(bulk('worker-1'));
    expect(await c.call('CLIENT', 'SETNAME', 'a b')).toBe(
      err('ERR Client names cannot contain spaces, newlines or special characters.'),
    );
    expect(await c.call('CLIENT', 'ID')).toBe(int(id));
    expect(await c.call('HELLO', '2', 'SETNAME', 'renamed')).toBe(helloReply(2, id));
    expect(await c.call('CLIENT', 'GETNAME')).toBe(bulk('renamed'));
    expect(await c.call('CLIENT', 'SETNAME', '')).toBe(simple('OK'));
    expect(await c.call('CLIENT', 'GETNAME')).toBe(NULL2);
    expect(await c.call('HELLO', '4')).toBe(err('NOPROTO unsupported protocol version'));
    expect(await c.call('HELLO', 'x')).toBe(err('ERR Protocol version is not an integer or out of range'));
    expect(await c.call('HELLO', '3', 'FOO')).toBe(err("ERR Syntax error in HELLO option 'FOO'"));
  });

  it('client ids are monotonic and HELLO reports the configured version', async () => {
    const s = await setup({ version: '7.2.4' });
    const a = await client(s);
    const b = await client(s);
    const idA = Number((await a.call('CLIENT', 'ID')).slice(1, -2));
    const idB = Number((await b.call('CLIENT', 'ID')).slice(1, -2));
    expect(idB).toBe(idA + 1);
    expect(await b.call('HELLO', '3')).toBe(helloReply(3, idB, '7.2.4'));
  });

  it('unknown commands, unknown subcommands and arity errors use Redis 7 texts', async () => {
    const s = await setup();
    const c = await client(s);
    expect(await c.call('FOO', 'a', 'b')).toBe(
      err("ERR unknown command 'FOO', with args beginning with: 'a' 'b' "),
    );
    expect(await c.call('GET')).toBe(err("ERR unknown command 'GET', with args beginning with: "));
    expect(await c.call('foo', 'x'.repeat(100), 'y'.repeat(100), 'z')).toBe(
      err(`ERR unknown command 'foo', with args beginning with: '${'x'.repeat(100)}' '${'y'.repeat(25)}' `),
    );
    expect(await c.call('CLIENT')).toBe(err("ERR wrong number of arguments for 'client' command"));
    expect(await c.call('client', 'foo')).toBe(err("ERR unknown subcommand 'foo'. Try CLIENT HELP."));
    expect(await c.call('CLIENT', 'SETNAME')).toBe(
      err("ERR wrong number of arguments for 'client|setname' command"),
    );
    expect(await c.call('CLIENT', 'GETNAME', 'x')).toBe(
      err("ERR wrong number of arguments for 'client|getname' command"),
    );
    expect(await c.call('AUTH')).toBe(err("ERR wrong number of arguments for 'auth' command"));
    expect(await c.call('SUBSCRIBE')).toBe(err("ERR wrong number of arguments for 'subscribe' command"));
    c.send('FOO\r\n');
    expect(await c.reply()).toBe(err("ERR unknown command 'FOO', with args beginning with: "));
    c.cmd('f\no', 'a\r\nb');
    expect(await c.reply()).toBe(err("ERR unknown command 'f o', with args beginning with: 'a  b' "));
  });

  it('QUIT replies +OK and closes; later pipelined commands are not run', async () => {
    const s = await setup();
    const c = await client(s);
    c.send('PING\r\nQUIT\r\nPING\r\n');
    expect(await c.untilClosed()).toBe('+PONG\r\n+OK\r\n');
    await waitUntil(() => s.clients().length === 0, 1000, 'the server to drop the connection');
  });

  it('CLIENT LIST / INFO / SETINFO', async () => {
    const s = await setup();
    const c = await client(s);
    expect(await c.call('CLIENT', 'SETINFO', 'LIB-NAME', 'ioredis')).toBe(simple('OK'));
    expect(await c.call('CLIENT', 'SETINFO', 'lib-ver', '5.11.1')).toBe(simple('OK'));
    expect(await c.call('CLIENT', 'SETINFO', 'lib-ver', 'a b')).toBe(
      err('ERR lib-ver cannot contain spaces, newlines or special characters.'),
    );
    expect(await c.call('CLIENT', 'SETINFO', 'foo', 'x')).toBe(err("ERR Unrecognized option 'foo'"));
    await c.call('CLIENT', 'SETNAME', 'me');
    const info = await c.call('CLIENT', 'INFO');
    expect(info).toMatch(
      /^\$\d+\r\nid=\d+ addr=127\.0\.0\.1:\d+ laddr=127\.0\.0\.1:\d+ fd=-?\d+ name=me age=0 idle=0 flags=N db=0 sub=0 psub=0 ssub=0 multi=-1 .* cmd=client\|info user=default redir=-1 resp=2 lib-name=ioredis lib-ver=5\.11\.1\n\r\n$/,
    );
    const other = await client(s);
    await other.call('SUBSCRIBE', 'x');
    const list = await c.call('CLIENT', 'LIST');
    expect(list.match(/\nid=/g)?.length).toBe(2);
    const pubsubOnly = await c.call('CLIENT', 'LIST', 'TYPE', 'pubsub');
    expect(pubsubOnly).toMatch(/flags=P .*sub=1 psub=0 .*cmd=subscribe/);
    expect(pubsubOnly.match(/\nid=/g)?.length).toBe(1);
    expect(await c.call('CLIENT', 'LIST', 'TYPE', 'master')).toBe(bulk(''));
    expect(await c.call('CLIENT', 'LIST', 'TYPE', 'x')).toBe(err("ERR Unknown client type 'x'"));
    expect(await c.call('CLIENT', 'LIST', 'ID', 'abc')).toBe(err('ERR Invalid client ID'));
    expect(await c.call('CLIENT', 'LIST', 'foo')).toBe(err('ERR syntax error'));
    await c.call('HELLO', '3');
    expect(await c.call('CLIENT', 'INFO')).toMatch(
      /^=\d+\r\ntxt:id=\d+ .* resp=3 lib-name=ioredis lib-ver=5\.11\.1\n\r\n$/,
    );
  });

  it('COMMAND, COMMAND COUNT/LIST/INFO/DOCS/GETKEYS/HELP', async () => {
    const s = await setup();
    const c = await client(s);
    const count = Number((await c.call('COMMAND', 'COUNT')).slice(1, -2));
    expect(count).toBe(s.commands.size);
    const list = await c.call('COMMAND', 'LIST');
    for (const name of ['ping', 'auth', 'hello', 'client', 'client|kill', 'command|docs', 'subscribe']) {
      expect(list).toContain(bulk(name));
    }
    // Sentinel 7.0 has neither QUIT nor CLIENT SETINFO: accepted, never listed.
    for (const name of ['save', 'quit', 'client|setinfo']) expect(list).not.toContain(bulk(name));
    expect(await c.call('COMMAND', 'LIST', 'FILTERBY', 'PATTERN', 'client|s*')).toBe(
      arr(bulk('client|setname')),
    );
    expect(await c.call('COMMAND', 'LIST', 'FILTERBY', 'ACLCAT', 'pubsub')).toBe(
      arr(bulk('subscribe'), bulk('unsubscribe'), bulk('psubscribe'), bulk('punsubscribe')),
    );
    expect(await c.call('COMMAND', 'LIST', 'x')).toBe(err('ERR syntax error'));
    expect(await c.call('COMMAND', 'INFO', 'ping', 'nosuch')).toBe(
      arr(
        arr(
          bulk('ping'),
          int(-1),
          arr(simple('fast')),
          int(0),
          int(0),
          int(0),
          arr(simple('@fast'), simple('@connection')),
          arr(bulk('request_policy:all_shards'), bulk('response_policy:all_succeeded')),
          arr(),
          arr(),
        ),
        NULL2,
      ),
    );
    await c.call('HELLO', '3');
    expect(await c.call('COMMAND', 'INFO', 'auth')).toBe(
      '*1\r\n*10\r\n$4\r\nauth\r\n:-2\r\n~6\r\n+noscript\r\n+loading\r\n+stale\r\n+fast\r\n+no_auth\r\n+allow_busy\r\n:0\r\n:0\r\n:0\r\n~2\r\n+@fast\r\n+@connection\r\n~0\r\n~0\r\n~0\r\n',
    );
    expect(await c.call('COMMAND', 'DOCS', 'ping')).toBe(
      `%1\r\n${bulk('ping')}%4\r\n${bulk('summary')}${bulk('Ping the server')}${bulk('since')}${bulk('1.0.0')}${bulk('group')}${bulk('connection')}${bulk('complexity')}${bulk('O(1)')}`,
    );
    const all = await c.call('COMMAND');
    expect(all.startsWith(`*${count}\r\n`)).toBe(true);
    expect(await c.call('COMMAND', 'GETKEYS', 'ping', 'x')).toBe(err('ERR The command has no key arguments'));
    expect(await c.call('COMMAND', 'GETKEYS', 'nosuch', 'x')).toBe(err('ERR Invalid command specified'));
    expect(await c.call('COMMAND', 'HELP')).toMatch(/^\*21\r\n\+COMMAND <subcommand>/);
    expect(await c.call('CLIENT', 'HELP')).toMatch(
      /^\*\d+\r\n\+CLIENT <subcommand> .*\+HELP\r\n\+ {4}Prints this help\.\r\n$/s,
    );
  });
});

describe('the daemon seam: register, registerSubcommand, handlers', () => {
  it('container commands give sentinel|xxx arity errors and SENTINEL HELP hints', async () => {
    const s = await setup();
    s.register({
      name: 'sentinel',
      arity: -2,
      flags: ['admin'],
      categories: ['@admin', '@slow', '@dangerous'],
    });
    s.registerSubcommand('sentinel', {
      name: 'get-master-addr-by-name',
      arity: 3,
      handler: (ctx) => (ctx.args[2] === 'mymaster' ? R.bulks(['127.0.0.1', '6379']) : R.nullArray),
    });
    s.registerSubcommand('sentinel', { name: 'masters', arity: 2, handler: () => R.array([]) });
    const c = await client(s);
    expect(await c.call('SENTINEL', 'get-master-addr-by-name', 'mymaster')).toBe(
      arr(bulk('127.0.0.1'), bulk('6379')),
    );
    expect(await c.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', 'nosuch')).toBe('*-1\r\n');
    expect(await c.call('SENTINEL', 'masters', 'x')).toBe(
      err("ERR wrong number of arguments for 'sentinel|masters' command"),
    );
    expect(await c.call('SENTINEL', 'foo')).toBe(err("ERR unknown subcommand 'foo'. Try SENTINEL HELP."));
    expect(await c.call('SENTINEL')).toBe(err("ERR wrong number of arguments for 'sentinel' command"));
    await c.call('HELLO', '3');
    expect(await c.call('SENTINEL', 'get-master-addr-by-name', 'nosuch')).toBe(NULL3);
    expect(await c.call('COMMAND', 'LIST', 'FILTERBY', 'PATTERN', 'sentinel*')).toBe(
      `*3\r\n${bulk('sentinel')}${bulk('sentinel|get-master-addr-by-name')}${bulk('sentinel|masters')}`,
    );
  });

  it('SHUTDOWN exists only with a hook; the generic commands can be left out', async () => {
    const plain = await setup();
    const c1 = await client(plain);
    expect(await c1.call('SHUTDOWN')).toBe(err("ERR unknown command 'SHUTDOWN', with args beginning with: "));
    let asked: string[] | undefined;
    const hooked = await setup({
      genericCommands: {
        shutdown: (ctx) => {
          asked = [...ctx.args];
          ctx.client.closeAfterReply();
          return R.ok;
        },
      },
    });
    const c2 = await client(hooked);
    c2.cmd('SHUTDOWN', 'NOSAVE');
    expect(await c2.untilClosed()).toBe(simple('OK'));
    expect(asked).toEqual(['SHUTDOWN', 'NOSAVE']);
    const bare = await setup({ genericCommands: false });
    const c3 = await client(bare);
    expect(await c3.call('PING')).toBe(err("ERR unknown command 'PING', with args beginning with: "));
    expect(bare.commands.size).toBe(0);
  });

  it('async handlers keep replies in request order; errors become replies', async () => {
    const s = await setup();
    s.register('slow', -2, async (ctx) => {
      await new Promise((r) => setTimeout(r, Math.random() * 15));
      return R.bulk(ctx.argv[1] as Buffer);
    });
    s.register('fail', 1, () => {
      throw new ReplyError('NOQUORUM 1 usable Sentinels.');
    });
    s.register('crash', 1, async () => {
      throw new Error('boom');
    });
    const c = await client(s);
    const expected: string[] = [];
    let batch = '';
    for (let i = 0; i < 60; i++) {
      if (i % 3 === 0) {
        batch += `slow ${i}\r\n`;
        expected.push(bulk(String(i)));
      } else if (i % 3 === 1) {
        batch += `PING ${i}\r\n`;
        expected.push(bulk(String(i)));
      } else {
        batch += i % 2 ? 'fail\r\n' : 'crash\r\n';
        expected.push(i % 2 ? err('NOQUORUM 1 usable Sentinels.') : err('ERR internal error'));
      }
    }
    c.send(batch);
    const got: string[] = [];
    for (let i = 0; i < expected.length; i++) got.push(await c.reply());
    expect(got).toEqual(expected);
    expect(await c.call('PING')).toBe(simple('PONG'));
  });

  it('handlers see a typed context: args, raw argv, client state, protocol, server', async () => {
    const s = await setup();
    let seen: unknown;
    s.register('whoami', -1, (ctx) => {
      seen = {
        args: ctx.args,
        raw: ctx.argv[1]?.toString('hex'),
        proto: ctx.protocol,
        name: ctx.client.name,
        id: ctx.client.id,
        full: ctx.command.fullName,
        port: ctx.server.port,
      };
      return R.map([['id', R.int(ctx.client.id)]]);
    });
    const c = await client(s);
    await c.call('CLIENT', 'SETNAME', 'x');
    await c.call('HELLO', '3');
    expect(await c.call('WHOAMI', Buffer.from([0xff]))).toMatch(/^%1\r\n\$2\r\nid\r\n:\d+\r\n$/);
    expect(seen).toMatchObject({ raw: 'ff', proto: 3, name: 'x', full: 'whoami', port: s.port });
  });

  it('INFO from infoCommandSpec: generic sections plus the daemon sections, bulk even in RESP3', async () => {
    const s = await setup();
    s.register(
      infoCommandSpec(s, {
        sections: [{ name: 'sentinel', fields: () => [['sentinel_masters', 1]] }],
        serverFields: () => ({ run_id: 'a'.repeat(40) }),
      }),
    );
    const c = await client(s);
    await c.call('HELLO', '3');
    const all = await c.call('INFO');
    expect(all.startsWith('$')).toBe(true);
    for (const k of [
      '# Server',
      'redis_version:7.0.15',
      'redis_mode:sentinel',
      `tcp_port:${s.port}`,
      `run_id:${'a'.repeat(40)}`,
      '# Clients',
      'maxclients:10000',
      '# CPU',
      'used_cpu_user:',
      '# Stats',
      '# Sentinel',
      'sentinel_masters:1',
    ]) {
      expect(all).toContain(k);
    }
    for (const k of ['used_memory', 'rdb_last_bgsave', 'master_repl_offset', 'cluster_enabled'])
      expect(all).not.toContain(k);
    expect(await c.call('INFO', 'sentinel')).toBe(bulk('# Sentinel\r\nsentinel_masters:1\r\n'));
    expect(await c.call('INFO', 'foo')).toBe(bulk(''));
    const two = await c.call('INFO', 'SENTINEL', 'clients');
    expect(two.indexOf('# Clients')).toBeLessThan(two.indexOf('\r\n\r\n# Sentinel'));
  });
});

describe('AUTH', () => {
  it('without a password: Sentinel texts', async () => {
    const s = await setup();
    const c = await client(s);
    expect(await c.call('AUTH', 'pw')).toBe(
      err(
        'ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?',
      ),
    );
    expect(await c.call('AUTH', 'default', 'anything')).toBe(simple('OK'));
    expect(await c.call('AUTH', 'other', 'anything')).toBe(
      err('WRONGPASS invalid username-password pair or user is disabled.'),
    );
    expect(await c.call('AUTH', 'a', 'b', 'c')).toBe(err('ERR syntax error'));
  });

  it('with requirepass: NOAUTH, WRONGPASS, 1- and 2-arg AUTH, HELLO AUTH, pre-auth limits', async () => {
    const s = await setup({ requirepass: 's3cret' });
    const c = await client(s);
    expect(await c.call('PING')).toBe(err('NOAUTH Authentication required.'));
    expect(await c.call('CLIENT', 'ID')).toBe(err('NOAUTH Authentication required.'));
    expect(await c.call('FOO')).toBe(err("ERR unknown command 'FOO', with args beginning with: "));
    expect(await c.call('HELLO', '3')).toBe(
      err(
        'NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time',
      ),
    );
    expect(await c.call('AUTH', 'nope')).toBe(
      err('WRONGPASS invalid username-password pair or user is disabled.'),
    );
    expect(await c.call('AUTH', 'default', 'nope')).toBe(
      err('WRONGPASS invalid username-password pair or user is disabled.'),
    );
    expect(await c.call('HELLO', '3', 'AUTH', 'default', 'nope')).toBe(
      err('WRONGPASS invalid username-password pair or user is disabled.'),
    );
    expect(await c.call('SUBSCRIBE', 'x')).toBe(err('NOAUTH Authentication required.'));
    expect(await c.call('AUTH', 's3cret')).toBe(simple('OK'));
    expect(await c.call('PING')).toBe(simple('PONG'));

    const d = await client(s);
    const id = s.clients().at(-1)?.id as number;
    expect(await d.call('HELLO', '3', 'AUTH', 'default', 's3cret', 'SETNAME', 'lettuce')).toBe(
      helloReply(3, id),
    );
    expect(await d.call('CLIENT', 'GETNAME')).toBe(bulk('lettuce'));

    const e = await client(s);
    expect(await e.call('AUTH', 'default', 's3cret')).toBe(simple('OK'));
    expect(
      await e.call('CLIENT', 'LIST', 'ID', ...Array.from({ length: 12 }, (_, i) => String(i + 1))),
    ).toMatch(/^\$/);

    const f = await client(s);
    f.send('*11\r\n');
    expect(await f.untilClosed()).toBe(err('ERR Protocol error: unauthenticated multibulk length'));
    const g = await client(s);
    g.send('*2\r\n$4\r\nAUTH\r\n$16385\r\n');
    expect(await g.untilClosed()).toBe(err('ERR Protocol error: unauthenticated bulk length'));
    // The limits are lifted by a pipelined AUTH for the requests after it.
    const h = await client(s);
    h.send(`AUTH s3cret\r\n*12\r\n$4\r\nPING\r\n${'$1\r\nx\r\n'.repeat(11)}`);
    expect(await h.reply()).toBe(simple('OK'));
    expect(await h.reply()).toBe(err("ERR wrong number of arguments for 'ping' command"));
  });

  it('requirepass can change at run time', async () => {
    const s = await setup();
    const old = await client(s);
    expect(await old.call('PING')).toBe(simple('PONG'));
    s.setRequirePass('pw');
    expect(await old.call('PING')).toBe(simple('PONG'));
    const fresh = await client(s);
    expect(await fresh.call('PING')).toBe(err('NOAUTH Authentication required.'));
    s.setRequirePass(undefined);
    expect(await fresh.call('PING')).toBe(simple('PONG'));
  });
});

describe('pub/sub', () => {
  it('RESP2: subscribe, psubscribe, message, pmessage, unsubscribe shapes', async () => {
    const s = await setup();
    const c = await client(s);
    c.cmd('SUBSCRIBE', '+switch-master', '+sdown');
    expect(await c.reply()).toBe(arr(bulk('subscribe'), bulk('+switch-master'), int(1)));
    expect(await c.reply()).toBe(arr(bulk('subscribe'), bulk('+sdown'), int(2)));
    expect(await c.call('PSUBSCRIBE', '*')).toBe(arr(bulk('psubscribe'), bulk('*'), int(3)));
    expect(await c.call('SUBSCRIBE', '+sdown')).toBe(arr(bulk('subscribe'), bulk('+sdown'), int(3)));
    const payload = 'mymaster 127.0.0.1 6379 127.0.0.1 6380';
    expect(s.publish('+switch-master', payload)).toBe(2);
    expect(await c.reply()).toBe(arr(bulk('message'), bulk('+switch-master'), bulk(payload)));
    expect(await c.reply()).toBe(arr(bulk('pmessage'), bulk('*'), bulk('+switch-master'), bulk(payload)));
    expect(await c.call('PING')).toBe(arr(bulk('pong'), bulk('')));
    expect(await c.call('PING', 'hi')).toBe(arr(bulk('pong'), bulk('hi')));
    expect(await c.call('GET', 'k')).toBe(err("ERR unknown command 'GET', with args beginning with: 'k' "));
    expect(await c.call('CLIENT', 'ID')).toBe(
      err(
        "ERR Can't execute 'client|id': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context",
      ),
    );
    expect(await c.call('HELLO', '3')).toBe(
      err(
        "ERR Can't execute 'hello': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context",
      ),
    );
    c.cmd('UNSUBSCRIBE');
    expect(await c.reply()).toBe(arr(bulk('unsubscribe'), bulk('+switch-master'), int(2)));
    expect(await c.reply()).toBe(arr(bulk('unsubscribe'), bulk('+sdown'), int(1)));
    expect(await c.call('PUNSUBSCRIBE', 'nosuch')).toBe(arr(bulk('punsubscribe'), bulk('nosuch'), int(1)));
    expect(await c.call('PUNSUBSCRIBE')).toBe(arr(bulk('punsubscribe'), bulk('*'), int(0)));
    expect(await c.call('UNSUBSCRIBE')).toBe(arr(bulk('unsubscribe'), NULL2, int(0)));
    expect(await c.call('PUNSUBSCRIBE')).toBe(arr(bulk('punsubscribe'), NULL2, int(0)));
    expect(await c.call('CLIENT', 'ID')).toMatch(/^:\d+\r\n$/); // out of the subscribed context
    expect(s.publish('+switch-master', payload)).toBe(0);
  });

  it('RESP3: push replies, no command restriction while subscribed', async () => {
    const s = await setup();
    const c = await client(s);
    await c.call('HELLO', '3');
    expect(await c.call('SUBSCRIBE', '+switch-master')).toBe(
      push(bulk('subscribe'), bulk('+switch-master'), int(1)),
    );
    expect(await c.call('PSUBSCRIBE', '[-+]sdown')).toBe(push(bulk('psubscribe'), bulk('[-+]sdown'), int(2)));
    expect(s.publish('-sdown', 'master mymaster 127.0.0.1 6379')).toBe(1);
    expect(await c.reply()).toBe(
      push(bulk('pmessage'), bulk('[-+]sdown'), bulk('-sdown'), bulk('master mymaster 127.0.0.1 6379')),
    );
    s.publish('+switch-master', 'x');
    expect(await c.reply()).toBe(push(bulk('message'), bulk('+switch-master'), bulk('x')));
    expect(await c.call('PING')).toBe(simple('PONG'));
    expect(await c.call('CLIENT', 'ID')).toMatch(/^:\d+\r\n$/);
    expect(await c.call('UNSUBSCRIBE', 'nosuch')).toBe(push(bulk('unsubscribe'), bulk('nosuch'), int(2)));
    await c.call('PUNSUBSCRIBE');
    await c.call('UNSUBSCRIBE');
    expect(await c.call('UNSUBSCRIBE')).toBe(push(bulk('unsubscribe'), NULL3, int(0)));
  });

  it('messages published while a reply batch is pending keep their order', async () => {
    const s = await setup();
    s.register('emit', 2, (ctx) => {
      ctx.server.publish('events', ctx.argv[1] as Buffer);
      return R.ok;
    });
    const c = await client(s);
    await c.call('HELLO', '3');
    await c.call('SUBSCRIBE', 'events');
    c.send('emit a\r\nemit b\r\n');
    expect(await c.reply()).toBe(push(bulk('message'), bulk('events'), bulk('a')));
    expect(await c.reply()).toBe(simple('OK'));
    expect(await c.reply()).toBe(push(bulk('message'), bulk('events'), bulk('b')));
    expect(await c.reply()).toBe(simple('OK'));
  });

  it('QUIT works while subscribed', async () => {
    const s = await setup();
    const c = await client(s);
    await c.call('SUBSCRIBE', 'x');
    c.cmd('QUIT');
    expect(await c.untilClosed()).toBe(simple('OK'));
    await waitUntil(() => s.pubsub.channelCount === 0);
  });
});

describe('connection management', () => {
  it('CLIENT KILL TYPE pubsub disconnects every subscriber but the caller', async () => {
    const s = await setup();
    const subs = await Promise.all([client(s), client(s), client(s)]);
    await subs[0]?.call('SUBSCRIBE', '+switch-master');
    await subs[1]?.call('PSUBSCRIBE', '*');
    const normal = await client(s);
    expect(await normal.call('PING')).toBe(simple('PONG'));
    const admin = await client(s);
    expect(await admin.call('CLIENT', 'KILL', 'TYPE', 'pubsub')).toBe(int(2));
    await subs[0]?.untilClosed();
    await subs[1]?.untilClosed();
    expect(await subs[2]?.call('PING')).toBe(simple('PONG'));
    expect(await normal.call('PING')).toBe(simple('PONG'));
    expect(s.pubsub.channelCount + s.pubsub.patternCount).toBe(0);
    expect(await admin.call('CLIENT', 'KILL', 'TYPE', 'master')).toBe(int(0));
    expect(await admin.call('CLIENT', 'KILL', 'TYPE', 'foo')).toBe(err("ERR Unknown client type 'foo'"));
  });

  it('CLIENT KILL by ID, ADDR, USER, old ip:port form, and of oneself', async () => {
    const s = await setup();
    const a = await client(s);
    const b = await client(s);
    const admin = await client(s);
    const idA = Number((await a.call('CLIENT', 'ID')).slice(1, -2));
    expect(await admin.call('CLIENT', 'KILL', 'ID', String(idA))).toBe(int(1));
    await a.untilClosed();
    const idB = Number((await b.call('CLIENT', 'ID')).slice(1, -2));
    const addrB = s.client(idB)?.addr as string;
    expect(await admin.call('CLIENT', 'KILL', addrB)).toBe(simple('OK'));
    await b.untilClosed();
    expect(await admin.call('CLIENT', 'KILL', addrB)).toBe(err('ERR No such client'));
    expect(await admin.call('CLIENT', 'KILL', 'ID', '0')).toBe(err('ERR client-id should be greater than 0'));
    expect(await admin.call('CLIENT', 'KILL', 'USER', 'bob')).toBe(err("ERR No such user 'bob'"));
    expect(await admin.call('CLIENT', 'KILL', 'SKIPME', 'maybe')).toBe(err('ERR syntax error'));
    expect(await admin.call('CLIENT', 'KILL', 'USER', 'default')).toBe(int(0));
    admin.cmd('CLIENT', 'KILL', 'USER', 'default', 'SKIPME', 'no');
    admin.cmd('PING');
    expect(await admin.untilClosed()).toBe(int(1));
  });

  it('disconnects a pub/sub client that does not read, at the output buffer limit; others keep up', async () => {
    const s = await setup({
      outputLimits: { pubsub: { hardBytes: 256 * 1024, softBytes: 0, softSeconds: 0 } },
    });
    const slow = await client(s);
    const fast = await client(s);
    await slow.call('SUBSCRIBE', 'events');
    await fast.call('SUBSCRIBE', 'events');
    slow.socket.pause();
    let fastBytes = 0;
    fast.socket.on('data', (d: Buffer) => {
      fastBytes += d.length;
    });
    const message = 'x'.repeat(1024);
    let published = 0;
    for (let round = 0; round < 4000 && s.clients({ type: 'pubsub' }).length === 2; round++) {
      for (let i = 0; i < 32; i++) {
        s.publish('events', message);
        published++;
      }
      await new Promise((r) => setImmediate(r));
    }
    expect(s.clients({ type: 'pubsub' })).toHaveLength(1);
    const perMessage = Buffer.byteLength(`*3\r\n$7\r\nmessage\r\n$6\r\nevents\r\n$1024\r\n${message}\r\n`);
    await waitUntil(() => fastBytes >= published * perMessage, 5000, 'the fast subscriber to get everything');
    slow.socket.resume();
    await slow.untilClosed(5000);
  });

  it('applies the soft output limit after its grace period', async () => {
    const s = await setup({
      outputLimits: { pubsub: { hardBytes: 0, softBytes: 64 * 1024, softSeconds: 0.2 } },
    });
    const slow = await client(s);
    await slow.call('SUBSCRIBE', 'events');
    slow.socket.pause();
    const message = 'y'.repeat(4096);
    const conn = s.clients()[0];
    expect(conn).toBeDefined();
    const deadline = Date.now() + 10_000;
    while (!conn?.isClosed && (conn?.outputBufferBytes ?? 0) <= 64 * 1024 && Date.now() < deadline) {
      for (let i = 0; i < 64; i++) s.publish('events', message);
      await new Promise((r) => setTimeout(r, 5));
    }
    const over = Date.now();
    expect(conn?.isClosed).toBe(false);
    await waitUntil(() => s.clients().length === 0, 3000, 'the soft limit to apply');
    expect(Date.now() - over).toBeGreaterThanOrEqual(150);
  });

  it('closes idle clients after the idle timeout, but not subscribers or active clients', async () => {
    const s = await setup({ idleTimeoutMs: 300 });
    const idle = await client(s);
    const sub = await client(s);
    const active = await client(s);
    await sub.call('SUBSCRIBE', 'x');
    const started = Date.now();
    const timer = setInterval(() => active.cmd('PING'), 50);
    try {
      await idle.untilClosed(3000);
      expect(Date.now() - started).toBeGreaterThanOrEqual(250);
      await new Promise((r) => setTimeout(r, 400));
      expect(sub.closed).toBe(false);
      expect(active.closed).toBe(false);
    } finally {
      clearInterval(timer);
    }
  });

  it('refuses clients over maxClients with the Redis error', async () => {
    const s = await setup({ maxClients: 2 });
    const a = await client(s);
    const b = await client(s);
    const c = await client(s);
    expect(await c.untilClosed()).toBe(err('ERR max number of clients reached'));
    expect(await a.call('PING')).toBe(simple('PONG'));
    expect(await b.call('PING')).toBe(simple('PONG'));
    expect(s.snapshotStats().rejectedConnections).toBe(1);
  });

  it('answers everything a client sent before closing its side (half-close)', async () => {
    const s = await setup();
    const c = await client(s);
    c.socket.end('PING\r\nPING x\r\n');
    expect(await c.untilClosed()).toBe(`+PONG\r\n${bulk('x')}`);
  });

  it('close() stops listening and drops clients at once', async () => {
    const s = await startServer();
    const c = await RawClient.connect(s.port);
    await c.call('SUBSCRIBE', 'x');
    const started = Date.now();
    await s.close();
    expect(Date.now() - started).toBeLessThan(1000);
    await c.untilClosed(1000);
    await expect(RawClient.connect(s.port)).rejects.toThrow();
    expect(s.listening).toBe(false);
  });
});

describe('hostile input', () => {
  it('garbage gets the protocol error and a close; the server keeps serving others', async () => {
    const s = await setup();
    const good = await client(s);
    const bad = await client(s);
    bad.send('*1\r\nHELLO\r\n');
    expect(await bad.untilClosed()).toBe(err("ERR Protocol error: expected '$', got 'H'"));
    const quotes = await client(s);
    quotes.send('PING\r\nSET "a\r\nPING\r\n');
    expect(await quotes.untilClosed()).toBe(
      `+PONG\r\n${err('ERR Protocol error: unbalanced quotes in request')}`,
    );
    expect(await good.call('PING')).toBe(simple('PONG'));
  });

  it('rejects *1000000000 and $2000000000 without allocating them', async () => {
    const s = await setup();
    const before = process.memoryUsage().arrayBuffers;
    const a = await client(s);
    a.send('*1000000000\r\n');
    expect(await a.untilClosed()).toBe(err('ERR Protocol error: invalid multibulk length'));
    const b = await client(s);
    b.send('*1\r\n$2000000000\r\n');
    expect(await b.untilClosed()).toBe(err('ERR Protocol error: invalid bulk length'));
    // Within the limits but never sent: memory follows what arrives.
    const c = await client(s);
    c.send('*1048576\r\n$16777216\r\nabc');
    await waitUntil(() => s.clients().some((x) => x.queryBufferBytes === 3));
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(8 * 1024 * 1024);
    const good = await client(s);
    expect(await good.call('PING')).toBe(simple('PONG'));
  });

  it('closes, without a reply, a client whose request outgrows the query buffer limit', async () => {
    const s = await setup({ parserLimits: { maxQueryBuffer: 1024 * 1024 } });
    const c = await client(s);
    c.send('*2\r\n$3\r\nSET\r\n$4000000\r\n');
    const chunk = Buffer.alloc(64 * 1024, 120);
    for (let i = 0; i < 20 && !c.closed; i++) {
      c.send(chunk);
      await new Promise((r) => setTimeout(r, 1));
    }
    expect(await c.untilClosed()).toBe('');
  });

  it('a flood of connections sending random bytes never takes the server down', async () => {
    const s = await setup();
    const sockets = Array.from({ length: 20 }, (_, i) => {
      const sock = connect(s.port, '127.0.0.1');
      sock.on('error', () => {});
      sock.resume(); // read (and discard) the error replies so that the close is seen
      const bytes = Buffer.alloc(4096);
      for (let j = 0; j < bytes.length; j++) bytes[j] = (j * 7919 + i * 104729) & 0xff;
      sock.end(bytes);
      return sock;
    });
    await Promise.all(sockets.map((sock) => new Promise((r) => sock.on('close', r))));
    const good = await client(s);
    expect(await good.call('PING')).toBe(simple('PONG'));
  });
});

/**
 * The connection-level commands every Sentinel answers, with Redis 7's reply shapes and error
 * texts: PING, AUTH, HELLO, CLIENT (ID, GETNAME, SETNAME, LIST, INFO, KILL, NO-EVICT, PAUSE,
 * UNPAUSE, REPLY, TRACKING, TRACKINGINFO, GETREDIR, CACHING, UNBLOCK, HELP), COMMAND (COUNT, LIST,
 * INFO, DOCS, GETKEYS, GETKEYSANDFLAGS, HELP), ACL (acl-commands.ts), SUBSCRIBE, PSUBSCRIBE,
 * UNSUBSCRIBE, PUNSUBSCRIBE, and SHUTDOWN when the daemon gives a hook; QUIT and CLIENT SETINFO
 * are accepted though Sentinel 7.0 has neither (hidden: never listed).
 *
 * INFO is sentinel-specific in its last section, so it is not registered here: the daemon
 * registers `infoCommandSpec(server, { sections: [sentinelSection], server: ... })`, which builds
 * the generic `server`, `clients`, `stats` and `cpu` sections from the server's counters (in
 * Redis' order: stats before cpu).
 */
import { arch, machine, release, type } from 'node:os';
import { aclCommandSpec } from './acl-commands.js';
import { clientExtraSubcommands } from './client-extras.js';
import {
  arityError,
  type Command,
  type CommandContext,
  type CommandHandler,
  type CommandSpec,
  type HandlerResult,
} from './command-table.js';
import { stringMatch } from './pubsub.js';
import { parseRedisInteger, R, type Reply } from './resp.js';
import type { ClientConnection, ClientFilter, ClientType, SentinelServer } from './server.js';

export interface GenericCommandOptions {
  /** Runs SHUTDOWN; without a hook SHUTDOWN is not registered (unknown command). */
  shutdown?: CommandHandler;
  /** Bound of an ACL SETUSER/DELUSER (ms); default ACL_CHANGE_TIMEOUT_MS. */
  aclChangeTimeoutMs?: number;
}

const CONNECTION: Pick<CommandSpec, 'categories'> = { categories: ['@slow', '@connection'] };
const CLIENT_SUB_FLAGS = ['noscript', 'loading', 'stale'];
const ADMIN_CATEGORIES = ['@admin', '@slow', '@dangerous', '@connection'];

const syntaxError = (): Reply => R.err('syntax error');

function eqi(b: Buffer | undefined, word: string): boolean {
  return b !== undefined && b.length === word.length && b.toString('latin1').toLowerCase() === word;
}

/** A byte string as it appears inside an error message (`%s` in C: stops at NUL). */
function cText(b: Buffer): string {
  const nul = b.indexOf(0);
  return (nul < 0 ? b : b.subarray(0, nul)).toString('latin1');
}

function helpReply(container: string, lines: readonly string[]): Reply {
  return R.array(
    [
      `${container} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:`,
      ...lines,
      'HELP',
      '    Prints this help.',
    ].map((s) => R.simple(s)),
  );
}

/** Redis's check on client names and SETINFO values: printable ASCII without spaces. */
function validAttribute(b: Buffer): boolean {
  for (const c of b) if (c < 0x21 || c > 0x7e) return false;
  return true;
}

/** CLIENT SETNAME / HELLO SETNAME: null when accepted, else the error reply. */
function setClientName(client: ClientConnection, name: Buffer): Reply | null {
  if (!validAttribute(name))
    return R.err('Client names cannot contain spaces, newlines or special characters.');
  client.name = name.length === 0 ? null : name.toString('latin1');
  return null;
}

/**
 * AUTH / HELLO AUTH (Redis's ACLAuthenticateUser): the client runs as `user` from now on; a
 * failure is logged in ACL LOG under the command name as typed.
 */
function authenticate(ctx: CommandContext, user: Buffer, pass: Buffer): boolean {
  const { server, client } = ctx;
  const name = user.toString('latin1');
  const found = server.acl.authenticate(name, pass);
  if (!found) {
    server.aclLog.add({
      reason: 'auth',
      object: (ctx.argv[0] as Buffer).toString('latin1'),
      username: name,
      atMs: Date.now(),
      clientInfo: clientInfoLine(client),
    });
    return false;
  }
  client.authenticated = true;
  client.user = found.name;
  client.refreshAuth();
  return true;
}

const WRONGPASS = R.errCode('WRONGPASS', 'invalid username-password pair or user is disabled.');

// --- PING, AUTH, HELLO, QUIT ------------------------------------------------------------------

function ping(ctx: CommandContext): HandlerResult {
  const { argv, client } = ctx;
  if (argv.length > 2) return arityError('ping');
  if (client.protocol === 2 && client.isPubSub) {
    return R.array([R.bulk('pong'), R.bulk(argv[1] ?? '')]);
  }
  return argv.length === 2 ? R.bulk(argv[1] as Buffer) : R.pong;
}

function auth(ctx: CommandContext): HandlerResult {
  const { argv, server } = ctx;
  if (argv.length > 3) return syntaxError();
  if (argv.length === 2) {
    if (!server.passwordRequired) {
      return R.err(
        'AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?',
      );
    }
    return authenticate(ctx, Buffer.from('default'), argv[1] as Buffer) ? R.ok : WRONGPASS;
  }
  return authenticate(ctx, argv[1] as Buffer, argv[2] as Buffer) ? R.ok : WRONGPASS;
}

function hello(ctx: CommandContext): HandlerResult {
  const { argv, server, client } = ctx;
  let version = 0;
  let next = 1;
  if (argv.length >= 2) {
    const b = argv[next++] as Buffer;
    const v = parseRedisInteger(b, 0, b.length);
    if (v === null) return R.err('Protocol version is not an integer or out of range');
    if (v < 2 || v > 3) return R.errCode('NOPROTO', 'unsupported protocol version');
    version = v;
  }
  let user: Buffer | undefined;
  let pass: Buffer | undefined;
  let name: Buffer | undefined;
  for (let j = next; j < argv.length; j++) {
    const more = argv.length - 1 - j;
    const opt = argv[j] as Buffer;
    if (eqi(opt, 'auth') && more >= 2) {
      user = argv[j + 1];
      pass = argv[j + 2];
      j += 2;
    } else if (eqi(opt, 'setname') && more >= 1) {
      name = argv[j + 1];
      j += 1;
    } else {
      return R.err(`Syntax error in HELLO option '${cText(opt)}'`);
    }
  }
  if (user && pass && !authenticate(ctx, user, pass)) return WRONGPASS;
  // Redis checks the client's own flag here, not whether the default user needs AUTH.
  if (!client.authenticated) {
    return R.errCode(
      'NOAUTH',
      'HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time',
    );
  }
  if (name) {
    const err = setClientName(client, name);
    if (err) return err;
  }
  if (version) client.protocol = version as 2 | 3;
  return R.map([
    ['server', R.bulk('redis')],
    ['version', R.bulk(server.version)],
    ['proto', R.int(client.protocol)],
    ['id', R.int(client.id)],
    ['mode', R.bulk('sentinel')],
    ['modules', R.emptyArray],
  ]);
}

function quit(ctx: CommandContext): HandlerResult {
  ctx.client.closeAfterReply();
  return R.ok;
}

// --- Pub/Sub ----------------------------------------------------------------------------------

const SUBSCRIBE = R.bulk('subscribe');
const UNSUBSCRIBE = R.bulk('unsubscribe');
const PSUBSCRIBE = R.bulk('psubscribe');
const PUNSUBSCRIBE = R.bulk('punsubscribe');

function subscriptionReply(kind: Reply, name: Buffer | null, count: number): Reply {
  return R.push([kind, name === null ? R.null : R.bulk(name), R.int(count)]);
}

function subscribe(ctx: CommandContext): HandlerResult {
  const { argv, client, server } = ctx;
  const out: Reply[] = [];
  for (let i = 1; i < argv.length; i++) {
    server.pubsub.subscribe(client, argv[i] as Buffer);
    out.push(subscriptionReply(SUBSCRIBE, argv[i] as Buffer, client.subscriptionCount));
  }
  return out;
}

function psubscribe(ctx: CommandContext): HandlerResult {
  const { argv, client, server } = ctx;
  const out: Reply[] = [];
  for (let i = 1; i < argv.length; i++) {
    server.pubsub.psubscribe(client, argv[i] as Buffer);
    out.push(subscriptionReply(PSUBSCRIBE, argv[i] as Buffer, client.subscriptionCount));
  }
  return out;
}

function unsubscribe(ctx: CommandContext): HandlerResult {
  const { argv, client, server } = ctx;
  const out: Reply[] = [];
  const names = argv.length > 1 ? argv.slice(1) : [...client.channels.values()];
  for (const name of names) {
    server.pubsub.unsubscribe(client, name);
    out.push(subscriptionReply(UNSUBSCRIBE, name, client.subscriptionCount));
  }
  if (out.length === 0) out.push(subscriptionReply(UNSUBSCRIBE, null, client.subscriptionCount));
  return out;
}

function punsubscribe(ctx: CommandContext): HandlerResult {
  const { argv, client, server } = ctx;
  const out: Reply[] = [];
  const names = argv.length > 1 ? argv.slice(1) : [...client.patterns.values()];
  for (const name of names) {
    server.pubsub.punsubscribe(client, name);
    out.push(subscriptionReply(PUNSUBSCRIBE, name, client.subscriptionCount));
  }
  if (out.length === 0) out.push(subscriptionReply(PUNSUBSCRIBE, null, client.subscriptionCount));
  return out;
}

// --- CLIENT -----------------------------------------------------------------------------------

/** CLIENT LIST `flags`, in Redis's order (P pubsub, t tracking, B broadcast tracking; N none). */
function clientFlags(c: ClientConnection): string {
  let f = '';
  if (c.isPubSub) f += 'P';
  if (c.tracking) f += 't';
  if (c.tracking?.bcast) f += 'B';
  return f === '' ? 'N' : f;
}

/** One CLIENT LIST line (Redis 7.2 field set). */
export function clientInfoLine(c: ClientConnection, now = Date.now()): string {
  const qbuf = c.queryBufferBytes;
  const omem = c.outputBufferBytes;
  const fields: [string, string | number][] = [
    ['id', c.id],
    ['addr', c.addr],
    ['laddr', c.laddr],
    ['fd', c.fd],
    ['name', c.name ?? ''],
    ['age', Math.floor((now - c.createdAtMs) / 1000)],
    ['idle', Math.floor((now - c.lastInteractionMs) / 1000)],
    ['flags', clientFlags(c)],
    ['db', 0],
    ['sub', c.channels.size],
    ['psub', c.patterns.size],
    ['ssub', 0],
    ['multi', -1],
    ['qbuf', qbuf],
    ['qbuf-free', 0],
    ['argv-mem', 0],
    ['multi-mem', 0],
    ['rbs', 0],
    ['rbp', 0],
    ['obl', 0],
    ['oll', 0],
    ['omem', omem],
    ['tot-mem', qbuf + omem],
    ['events', omem > 0 ? 'rw' : 'r'],
    ['cmd', c.lastCommand ?? 'NULL'],
    ['user', c.user],
    ['redir', -1],
    ['resp', c.protocol],
    ['lib-name', c.libName ?? ''],
    ['lib-ver', c.libVer ?? ''],
  ];
  return fields.map(([k, v]) => `${k}=${v}`).join(' ');
}

function parseClientType(b: Buffer): ClientType | 'master' | 'replica' | null {
  const t = b.toString('latin1').toLowerCase();
  if (t === 'normal' || t === 'pubsub' || t === 'master') return t;
  if (t === 'replica' || t === 'slave') return 'replica';
  return null;
}

function clientList(ctx: CommandContext): HandlerResult {
  const { argv, server } = ctx;
  let clients: ClientConnection[];
  if (argv.length === 2) {
    clients = server.clients();
  } else if (argv.length === 4 && eqi(argv[2], 'type')) {
    const t = parseClientType(argv[3] as Buffer);
    if (t === null) return R.err(`Unknown client type '${cText(argv[3] as Buffer)}'`);
    clients = t === 'master' || t === 'replica' ? [] : server.clients({ type: t });
  } else if (argv.length > 3 && eqi(argv[2], 'id')) {
    const ids: number[] = [];
    for (let j = 3; j < argv.length; j++) {
      const b = argv[j] as Buffer;
      const id = parseRedisInteger(b, 0, b.length);
      if (id === null) return R.err('Invalid client ID');
      ids.push(id);
    }
    clients = server.clients({ ids });
  } else {
    return syntaxError();
  }
  const now = Date.now();
  return R.verbatim(clients.map((c) => `${clientInfoLine(c, now)}\n`).join(''));
}

function clientKill(ctx: CommandContext): HandlerResult {
  const { argv, server, client } = ctx;
  if (argv.length === 3) {
    // Old form: CLIENT KILL ip:port — may kill the caller itself.
    const addr = (argv[2] as Buffer).toString('latin1');
    const victims = server.clients({ addr });
    if (victims.length === 0) return R.err('No such client');
    for (const v of victims) {
      if (v === client) v.closeAfterReply();
      else v.kill('CLIENT KILL');
    }
    return R.ok;
  }
  const filter: ClientFilter = {};
  let skipme = true;
  let noneOfType = false;
  for (let i = 2; i < argv.length; i += 2) {
    const opt = argv[i] as Buffer;
    const value = argv[i + 1];
    if (value === undefined) return syntaxError();
    if (eqi(opt, 'id')) {
      const id = parseRedisInteger(value, 0, value.length);
      if (id === null || id < 1) return R.err('client-id should be greater than 0');
      filter.id = id;
    } else if (eqi(opt, 'type')) {
      const t = parseClientType(value);
      if (t === null) return R.err(`Unknown client type '${cText(value)}'`);
      if (t === 'master' || t === 'replica') noneOfType = true;
      else filter.type = t;
    } else if (eqi(opt, 'addr')) {
      filter.addr = value.toString('latin1');
    } else if (eqi(opt, 'laddr')) {
      filter.laddr = value.toString('latin1');
    } else if (eqi(opt, 'user')) {
      const user = value.toString('latin1');
      if (!server.acl.record(user)) return R.err(`No such user '${cText(value)}'`);
      filter.user = user;
    } else if (eqi(opt, 'skipme')) {
      if (eqi(value, 'yes')) skipme = true;
      else if (eqi(value, 'no')) skipme = false;
      else return syntaxError();
    } else {
      return syntaxError();
    }
  }
  if (noneOfType) return R.int(0);
  if (skipme) filter.skip = client;
  const victims = server.clients(filter);
  for (const v of victims) {
    if (v === client) v.closeAfterReply();
    else v.kill('CLIENT KILL');
  }
  return R.int(victims.length);
}

function clientSetinfo(ctx: CommandContext): HandlerResult {
  const { argv, client } = ctx;
  const attr = argv[2] as Buffer;
  const value = argv[3] as Buffer;
  const which = eqi(attr, 'lib-name') ? 'libName' : eqi(attr, 'lib-ver') ? 'libVer' : null;
  if (which === null) return R.err(`Unrecognized option '${cText(attr)}'`);
  if (!validAttribute(value)) {
    return R.err(`${cText(attr)} cannot contain spaces, newlines or special characters.`);
  }
  client[which] = value.length === 0 ? null : value.toString('latin1');
  return R.ok;
}

/** CLIENT HELP as Sentinel 7.0 answers it (SETINFO is accepted but, as in 7.0, not listed). */
const CLIENT_HELP = [
  'CACHING (YES|NO)',
  '    Enable/disable tracking of the keys for next command in OPTIN/OPTOUT modes.',
  'GETREDIR',
  '    Return the client ID we are redirecting to when tracking is enabled.',
  'GETNAME',
  '    Return the name of the current connection.',
  'ID',
  '    Return the ID of the current connection.',
  'INFO',
  '    Return information about the current client connection.',
  'KILL <ip:port>',
  '    Kill connection made from <ip:port>.',
  'KILL <option> <value> [<option> <value> [...]]',
  '    Kill connections. Options are:',
  '    * ADDR (<ip:port>|<unixsocket>:0)',
  '      Kill connections made from the specified address',
  '    * LADDR (<ip:port>|<unixsocket>:0)',
  '      Kill connections made to specified local address',
  '    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)',
  '      Kill connections by type.',
  '    * USER <username>',
  '      Kill connections authenticated by <username>.',
  '    * SKIPME (YES|NO)',
  '      Skip killing current connection (default: yes).',
  'LIST [options ...]',
  '    Return information about client connections. Options:',
  '    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)',
  '      Return clients of specified type.',
  'UNPAUSE',
  '    Stop the current client pause, resuming traffic.',
  'PAUSE <timeout> [WRITE|ALL]',
  '    Suspend all, or just write, clients for <timeout> milliseconds.',
  'REPLY (ON|OFF|SKIP)',
  '    Control the replies sent to the current connection.',
  'SETNAME <name>',
  '    Assign the name <name> to the current connection.',
  'UNBLOCK <clientid> [TIMEOUT|ERROR]',
  '    Unblock the specified blocked client.',
  'TRACKING (ON|OFF) [REDIRECT <id>] [BCAST] [PREFIX <prefix> [...]]',
  '         [OPTIN] [OPTOUT] [NOLOOP]',
  '    Control server assisted client side caching.',
  'TRACKINGINFO',
  '    Report tracking status for the current connection.',
  'NO-EVICT (ON|OFF)',
  '    Protect current client connection from eviction.',
];

function clientSpec(): CommandSpec {
  const since: Record<string, string> = {
    id: '5.0.0',
    getname: '2.6.9',
    setname: '2.6.9',
    setinfo: '7.2.0',
    info: '6.2.0',
    'no-evict': '7.0.0',
    help: '5.0.0',
  };
  const sub = (
    name: string,
    arity: number,
    handler: CommandHandler,
    summary: string,
    extra: Partial<CommandSpec> = {},
  ): CommandSpec => ({
    name,
    arity,
    handler,
    flags: CLIENT_SUB_FLAGS,
    ...CONNECTION,
    doc: { summary, since: since[name] ?? '2.4.0', group: 'connection', complexity: 'O(1)' },
    ...extra,
  });
  return {
    name: 'client',
    arity: -2,
    categories: ['@slow'],
    doc: {
      summary: 'A container for client connection commands',
      since: '2.4.0',
      group: 'connection',
      complexity: 'Depends on subcommand.',
    },
    subcommands: [
      sub('id', 2, (ctx) => R.int(ctx.client.id), 'Returns the client ID for the current connection'),
      sub('getname', 2, (ctx) => R.bulkOrNull(ctx.client.name), 'Get the current connection name'),
      sub(
        'setname',
        3,
        (ctx) => setClientName(ctx.client, ctx.argv[2] as Buffer) ?? R.ok,
        'Set the current connection name',
      ),
      // Redis 7.2's; clients send it on connect and ignore an error, but CLIENT LIST shows it.
      sub('setinfo', 4, clientSetinfo, 'Set client or connection specific info', { hidden: true }),
      sub(
        'info',
        2,
        (ctx) => R.verbatim(`${clientInfoLine(ctx.client)}\n`),
        'Returns information about the current client connection.',
        { tips: ['nondeterministic_output'] },
      ),
      sub('list', -2, clientList, 'Get the list of client connections', {
        flags: ['admin', ...CLIENT_SUB_FLAGS],
        categories: ADMIN_CATEGORIES,
        tips: ['nondeterministic_output'],
      }),
      sub('kill', -3, clientKill, 'Kill the connection of a client', {
        flags: ['admin', ...CLIENT_SUB_FLAGS],
        categories: ADMIN_CATEGORIES,
      }),
      sub(
        'no-evict',
        3,
        (ctx) => (eqi(ctx.argv[2], 'on') || eqi(ctx.argv[2], 'off') ? R.ok : syntaxError()),
        'Set client eviction mode for the current connection',
        { flags: ['admin', ...CLIENT_SUB_FLAGS], categories: ADMIN_CATEGORIES },
      ),
      ...clientExtraSubcommands((name, arity, handler, summary) =>
        sub(name, arity, handler as CommandHandler, summary),
      ),
      sub(
        'help',
        2,
        () => helpReply('CLIENT', CLIENT_HELP),
        'Show helpful text about the different subcommands',
        {
          flags: ['loading', 'stale'],
        },
      ),
    ],
  };
}

// --- COMMAND ----------------------------------------------------------------------------------

function commandInfoReply(cmd: Command): Reply {
  return R.array([
    R.bulk(cmd.fullName),
    R.int(cmd.arity),
    R.set(cmd.flags.map((f) => R.simple(f))),
    R.int(0),
    R.int(0),
    R.int(0),
    R.set(cmd.categories.map((c) => R.simple(c))),
    R.set(cmd.tips.map((t) => R.bulk(t))),
    R.set([]),
    cmd.isContainer ? R.array(cmd.listedSubcommands().map(commandInfoReply)) : R.set([]),
  ]);
}

function commandDocReply(cmd: Command): Reply {
  const entries: [string, Reply][] = [];
  if (cmd.doc) {
    entries.push(['summary', R.bulk(cmd.doc.summary)]);
    entries.push(['since', R.bulk(cmd.doc.since)]);
    entries.push(['group', R.bulk(cmd.doc.group)]);
    if (cmd.doc.complexity) entries.push(['complexity', R.bulk(cmd.doc.complexity)]);
    if (cmd.doc.docFlags) entries.push(['doc_flags', R.set(cmd.doc.docFlags.map((f) => R.simple(f)))]);
    if (cmd.doc.deprecatedSince) entries.push(['deprecated_since', R.bulk(cmd.doc.deprecatedSince)]);
    if (cmd.doc.replacedBy) entries.push(['replaced_by', R.bulk(cmd.doc.replacedBy)]);
  }
  if (cmd.isContainer) {
    entries.push([
      'subcommands',
      R.map(cmd.listedSubcommands().map((s) => [s.fullName, commandDocReply(s)] as const)),
    ]);
  }
  return R.map(entries);
}

/** Every listed command and subcommand, containers first. */
function allCommands(server: SentinelServer): Command[] {
  return server.commands.listedWithSubcommands();
}

function commandList(ctx: CommandContext): HandlerResult {
  const { argv, server } = ctx;
  if (argv.length === 2) return R.bulks(allCommands(server).map((c) => c.fullName));
  if (argv.length !== 5 || !eqi(argv[2], 'filterby')) return syntaxError();
  const value = (argv[4] as Buffer).toString('latin1');
  if (eqi(argv[3], 'module')) return R.emptyArray;
  if (eqi(argv[3], 'aclcat')) {
    const cat = `@${value.toLowerCase()}`;
    return R.bulks(
      allCommands(server)
        .filter((c) => c.categories.includes(cat))
        .map((c) => c.fullName),
    );
  }
  if (eqi(argv[3], 'pattern')) {
    return R.bulks(
      allCommands(server)
        .filter((c) => stringMatch(value, c.fullName, true))
        .map((c) => c.fullName),
    );
  }
  return syntaxError();
}

function commandGetkeys(ctx: CommandContext): HandlerResult {
  const name = (ctx.argv[2] as Buffer).toString('latin1');
  const sub = ctx.argv[3]?.toString('latin1');
  const cmd = ctx.server.commands.getListed(name);
  // Redis's lookupCommand: a container followed by an argument names that subcommand.
  const target =
    cmd?.isContainer && sub !== undefined
      ? cmd.listedSubcommands().find((s) => s.name === sub.toLowerCase())
      : cmd;
  if (!target) return R.err('Invalid command specified');
  return R.err('The command has no key arguments');
}

const COMMAND_HELP = [
  '(no subcommand)',
  '    Return details about all Redis commands.',
  'COUNT',
  '    Return the total number of commands in this Redis server.',
  'LIST',
  '    Return a list of all commands in this Redis server.',
  'INFO [<command-name> ...]',
  '    Return details about multiple Redis commands.',
  '    If no command names are given, documentation details for all',
  '    commands are returned.',
  'DOCS [<command-name> ...]',
  '    Return documentation details about multiple Redis commands.',
  '    If no command names are given, documentation details for all',
  '    commands are returned.',
  'GETKEYS <full-command>',
  '    Return the keys from a full Redis command.',
  'GETKEYSANDFLAGS <full-command>',
  '    Return the keys and the access flags from a full Redis command.',
];

function commandSpec(): CommandSpec {
  const flags = ['loading', 'stale'];
  const since: Record<string, string> = { count: '2.8.13', info: '2.8.13', getkeys: '2.8.13', help: '5.0.0' };
  const sub = (
    name: string,
    arity: number,
    handler: CommandHandler,
    summary: string,
    tips: string[] = [],
  ): CommandSpec => ({
    name,
    arity,
    handler,
    flags,
    ...CONNECTION,
    tips,
    doc: { summary, since: since[name] ?? '7.0.0', group: 'server' },
  });
  const nondeterministic = ['nondeterministic_output_order'];
  return {
    name: 'command',
    arity: -1,
    flags,
    ...CONNECTION,
    tips: nondeterministic,
    doc: {
      summary: 'Get array of Redis command details',
      since: '2.8.13',
      group: 'server',
      complexity: 'O(N) where N is the total number of Redis commands',
    },
    handler: (ctx) => R.array(ctx.server.commands.listed().map(commandInfoReply)),
    subcommands: [
      sub('count', 2, (ctx) => R.int(ctx.server.commands.size), 'Get total number of Redis commands'),
      sub('list', -2, commandList, 'Get an array of Redis command names', nondeterministic),
      sub(
        'info',
        -2,
        (ctx) => {
          if (ctx.argv.length === 2) return R.array(ctx.server.commands.listed().map(commandInfoReply));
          return R.array(
            ctx.argv.slice(2).map((b) => {
              const cmd = ctx.server.commands.getListed(b.toString('latin1'));
              return cmd ? commandInfoReply(cmd) : R.null;
            }),
          );
        },
        'Get array of specific Redis command details, or all when no argument is given.',
        nondeterministic,
      ),
      sub(
        'docs',
        -2,
        (ctx) => {
          const cmds =
            ctx.argv.length === 2
              ? ctx.server.commands.listed()
              : ctx.argv
                  .slice(2)
                  .map((b) => ctx.server.commands.getListed(b.toString('latin1')))
                  .filter((c): c is Command => c !== undefined);
          return R.map(cmds.map((c) => [c.fullName, commandDocReply(c)] as const));
        },
        'Get array of specific Redis command documentation',
        nondeterministic,
      ),
      sub('getkeys', -4, commandGetkeys, 'Extract keys given a full Redis command'),
      sub('getkeysandflags', -4, commandGetkeys, 'Extract keys and access flags given a full Redis command'),
      sub(
        'help',
        2,
        () => helpReply('COMMAND', COMMAND_HELP),
        'Show helpful text about the different subcommands',
      ),
    ],
  };
}

// --- registration -----------------------------------------------------------------------------

const PUBSUB_FLAGS = ['pubsub', 'noscript', 'loading', 'stale'];
const PUBSUB_CATEGORIES = ['@pubsub', '@slow'];
const NO_AUTH_FLAGS = ['noscript', 'loading', 'stale', 'fast', 'no_auth', 'allow_busy'];

/** The specs of the generic commands (registered by the server unless told otherwise). */
export function genericCommandSpecs(opts: GenericCommandOptions = {}): CommandSpec[] {
  const specs: CommandSpec[] = [
    {
      name: 'ping',
      arity: -1,
      handler: ping,
      flags: ['fast'],
      categories: ['@fast', '@connection'],
      tips: ['request_policy:all_shards', 'response_policy:all_succeeded'],
      subscribedContext: true,
      doc: { summary: 'Ping the server', since: '1.0.0', group: 'connection', complexity: 'O(1)' },
    },
    {
      name: 'auth',
      arity: -2,
      handler: auth,
      flags: NO_AUTH_FLAGS,
      categories: ['@fast', '@connection'],
      doc: {
        summary: 'Authenticate to the server',
        since: '1.0.0',
        group: 'connection',
        complexity: 'O(N) where N is the number of passwords defined for the user',
      },
    },
    {
      name: 'hello',
      arity: -1,
      handler: hello,
      flags: NO_AUTH_FLAGS,
      categories: ['@fast', '@connection'],
      doc: { summary: 'Handshake with Redis', since: '6.0.0', group: 'connection', complexity: 'O(1)' },
    },
    clientSpec(),
    commandSpec(),
    aclCommandSpec(opts.aclChangeTimeoutMs === undefined ? {} : { changeTimeoutMs: opts.aclChangeTimeoutMs }),
    {
      // Sentinel 7.0 has no QUIT, but clients send it before closing: accepted, never listed.
      name: 'quit',
      arity: -1,
      handler: quit,
      flags: ['allow_busy', 'noscript', 'loading', 'stale', 'fast', 'no_auth'],
      categories: ['@fast', '@connection'],
      subscribedContext: true,
      hidden: true,
      doc: { summary: 'Close the connection', since: '1.0.0', group: 'connection', complexity: 'O(1)' },
    },
    {
      name: 'subscribe',
      arity: -2,
      handler: subscribe,
      flags: PUBSUB_FLAGS,
      categories: PUBSUB_CATEGORIES,
      subscribedContext: true,
      doc: {
        summary: 'Listen for messages published to the given channels',
        since: '2.0.0',
        group: 'pubsub',
        complexity: 'O(N) where N is the number of channels to subscribe to.',
      },
    },
    {
      name: 'unsubscribe',
      arity: -1,
      handler: unsubscribe,
      flags: PUBSUB_FLAGS,
      categories: PUBSUB_CATEGORIES,
      subscribedContext: true,
      doc: {
        summary: 'Stop listening for messages posted to the given channels',
        since: '2.0.0',
        group: 'pubsub',
        complexity: 'O(N) where N is the number of clients already subscribed to a channel.',
      },
    },
    {
      name: 'psubscribe',
      arity: -2,
      handler: psubscribe,
      flags: PUBSUB_FLAGS,
      categories: PUBSUB_CATEGORIES,
      subscribedContext: true,
      doc: {
        summary: 'Listen for messages published to channels matching the given patterns',
        since: '2.0.0',
        group: 'pubsub',
        complexity: 'O(N) where N is the number of patterns the client is already subscribed to.',
      },
    },
    {
      name: 'punsubscribe',
      arity: -1,
      handler: punsubscribe,
      flags: PUBSUB_FLAGS,
      categories: PUBSUB_CATEGORIES,
      subscribedContext: true,
      doc: {
        summary: 'Stop listening for messages posted to channels matching the given patterns',
        since: '2.0.0',
        group: 'pubsub',
        complexity:
          'O(N+M) where N is the number of patterns the client is already subscribed and M is the number of total patterns subscribed in the system.',
      },
    },
  ];
  if (opts.shutdown) {
    specs.push({
      name: 'shutdown',
      arity: -1,
      handler: opts.shutdown,
      flags: ['admin', 'noscript', 'loading', 'stale', 'no_multi', 'allow_busy'],
      categories: ['@admin', '@slow', '@dangerous'],
      doc: {
        summary: 'Synchronously save the dataset to disk and then shut down the server',
        since: '1.0.0',
        group: 'server',
        complexity:
          'O(N) when saving, where N is the total number of keys in all databases when saving data, otherwise O(1)',
      },
    });
  }
  return specs;
}

export function registerGenericCommands(server: SentinelServer, opts: GenericCommandOptions = {}): void {
  for (const spec of genericCommandSpecs(opts)) server.register(spec);
}

// --- INFO -------------------------------------------------------------------------------------

/** One `# Title` section of INFO: `key:value` fields. */
export interface InfoSection {
  /** Lowercase name as INFO takes it (`sentinel`). */
  name: string;
  /** Heading; default the name capitalized (`# Sentinel`). */
  title?: string;
  fields: () => Iterable<readonly [string, string | number]>;
}

export interface InfoOptions {
  /** Sections after server, clients, stats, cpu (the daemon's `sentinel`). */
  sections?: readonly InfoSection[];
  /** Extra or overriding `# Server` fields: run_id, executable, config_file, ... */
  serverFields?: () => Record<string, string | number>;
}

function cpuSeconds(micros: number): string {
  return (micros / 1e6).toFixed(6);
}

/** The generic sections: server, clients, stats, cpu (Redis' order), from the server's counters. */
export function genericInfoSections(server: SentinelServer, opts: InfoOptions = {}): InfoSection[] {
  return [
    {
      name: 'server',
      fields: () => {
        const now = Date.now();
        const uptime = Math.floor((now - server.stats.startedAtMs) / 1000);
        const base: Record<string, string | number> = {
          redis_version: server.version,
          redis_git_sha1: '00000000',
          redis_git_dirty: 0,
          redis_build_id: '0',
          redis_mode: 'sentinel',
          os: `${type()} ${release()} ${machine()}`,
          arch_bits: arch().endsWith('64') ? 64 : 32,
          monotonic_clock: 'POSIX clock_gettime',
          multiplexing_api: 'epoll',
          atomicvar_api: 'c11-builtin',
          gcc_version: '0.0.0',
          process_id: process.pid,
          process_supervised: 'no',
          run_id: '',
          tcp_port: server.port,
          server_time_usec: now * 1000,
          uptime_in_seconds: uptime,
          uptime_in_days: Math.floor(uptime / 86400),
          hz: 10,
          configured_hz: 10,
          // Redis's LRU clock: seconds, 24 bits.
          lru_clock: Math.floor(now / 1000) % 2 ** 24,
          executable: process.argv[1] ?? process.execPath,
          config_file: '',
          io_threads_active: 0,
          ...opts.serverFields?.(),
        };
        return Object.entries(base);
      },
    },
    {
      name: 'clients',
      fields: () => {
        const s = server.snapshotStats();
        return [
          ['connected_clients', s.connectedClients],
          ['cluster_connections', 0],
          ['maxclients', s.maxClients],
          ['client_recent_max_input_buffer', s.clientMaxInputBuffer],
          ['client_recent_max_output_buffer', s.clientMaxOutputBuffer],
          ['blocked_clients', 0],
          ['tracking_clients', server.clients().filter((c) => c.tracking !== null).length],
          ['clients_in_timeout_table', 0],
        ];
      },
    },
    {
      name: 'stats',
      fields: () => {
        const s = server.snapshotStats();
        // Sentinel 7.0's field set; what a Sentinel port never does (keys, forks, replication,
        // defrag) stays 0 as on a real Sentinel.
        return [
          ['total_connections_received', s.totalConnectionsReceived],
          ['total_commands_processed', s.totalCommandsProcessed],
          ['instantaneous_ops_per_sec', 0],
          ['total_net_input_bytes', s.totalNetInputBytes],
          ['total_net_output_bytes', s.totalNetOutputBytes],
          ['total_net_repl_input_bytes', 0],
          ['total_net_repl_output_bytes', 0],
          ['instantaneous_input_kbps', '0.00'],
          ['instantaneous_output_kbps', '0.00'],
          ['instantaneous_input_repl_kbps', '0.00'],
          ['instantaneous_output_repl_kbps', '0.00'],
          ['rejected_connections', s.rejectedConnections],
          ['sync_full', 0],
          ['sync_partial_ok', 0],
          ['sync_partial_err', 0],
          ['expired_keys', 0],
          ['expired_stale_perc', '0.00'],
          ['expired_time_cap_reached_count', 0],
          ['expire_cycle_cpu_milliseconds', 0],
          ['evicted_keys', 0],
          ['evicted_clients', 0],
          ['total_eviction_exceeded_time', 0],
          ['current_eviction_exceeded_time', 0],
          ['keyspace_hits', 0],
          ['keyspace_misses', 0],
          ['pubsub_channels', s.pubsubChannels],
          ['pubsub_patterns', s.pubsubPatterns],
          ['pubsubshard_channels', 0],
          ['latest_fork_usec', 0],
          ['total_forks', 0],
          ['migrate_cached_sockets', 0],
          ['slave_expires_tracked_keys', 0],
          ['active_defrag_hits', 0],
          ['active_defrag_misses', 0],
          ['active_defrag_key_hits', 0],
          ['active_defrag_key_misses', 0],
          ['total_active_defrag_time', 0],
          ['current_active_defrag_time', 0],
          ['tracking_total_keys', 0],
          ['tracking_total_items', 0],
          ['tracking_total_prefixes', 0],
          ['unexpected_error_replies', 0],
          ['total_error_replies', s.totalErrorReplies],
          ['dump_payload_sanitizations', 0],
          ['total_reads_processed', 0],
          ['total_writes_processed', 0],
          ['io_threaded_reads_processed', 0],
          ['io_threaded_writes_processed', 0],
          ['reply_buffer_shrinks', 0],
          ['reply_buffer_expands', 0],
        ];
      },
    },
    {
      name: 'cpu',
      title: 'CPU',
      fields: () => {
        const u = process.cpuUsage();
        return [
          ['used_cpu_sys', cpuSeconds(u.system)],
          ['used_cpu_user', cpuSeconds(u.user)],
          ['used_cpu_sys_children', '0.000000'],
          ['used_cpu_user_children', '0.000000'],
          ['used_cpu_sys_main_thread', cpuSeconds(u.system)],
          ['used_cpu_user_main_thread', cpuSeconds(u.user)],
        ];
      },
    },
  ];
}

/** The INFO text of the requested sections (`default`, `all`, `everything` = all of them). */
export function renderInfo(sections: readonly InfoSection[], requested: readonly string[]): string {
  const wanted = new Set(requested.map((s) => s.toLowerCase()));
  const everything =
    wanted.size === 0 || wanted.has('default') || wanted.has('all') || wanted.has('everything');
  const parts: string[] = [];
  for (const section of sections) {
    if (!everything && !wanted.has(section.name)) continue;
    const title = section.title ?? section.name.charAt(0).toUpperCase() + section.name.slice(1);
    let text = `# ${title}\r\n`;
    for (const [k, v] of section.fields()) text += `${k}:${v}\r\n`;
    parts.push(text);
  }
  return parts.join('\r\n');
}

/**
 * INFO as Sentinel answers it: sections server, clients, stats, cpu, then `opts.sections`; a plain
 * bulk string even under RESP3.
 */
export function infoCommandSpec(server: SentinelServer, opts: InfoOptions = {}): CommandSpec {
  const sections = [...genericInfoSections(server, opts), ...(opts.sections ?? [])];
  return {
    name: 'info',
    arity: -1,
    flags: ['loading', 'stale'],
    categories: ['@slow', '@dangerous'],
    tips: ['nondeterministic_output', 'request_policy:all_shards', 'response_policy:special'],
    doc: {
      summary: 'Get information and statistics about the server',
      since: '1.0.0',
      group: 'server',
      complexity: 'O(1)',
    },
    handler: (ctx) => R.bulk(renderInfo(sections, ctx.args.slice(1))),
  };
}

/**
 * The ACL command of the Sentinel port (CAT, DELUSER, DRYRUN, GENPASS, GETUSER, LIST, LOAD, LOG,
 * SAVE, SETUSER, USERS, WHOAMI, HELP) with Redis 7.0's replies and error texts.
 *
 * SETUSER and DELUSER change the users where the port keeps them (AclStore: in the daemon, the
 * replicated state, through the leader) and answer once the change is committed and visible on
 * this daemon. A SETUSER is computed here from the committed users and put with a compare-and-set
 * on their revision; when another change got in first it is computed again. Every wait is bounded
 * (ACL_CHANGE_TIMEOUT_MS): no ACL command hangs, even on a daemon cut off from the group.
 */
import { randomBytes } from 'node:crypto';
import {
  ACL_GENPASS_MAX_BITS,
  type AclCommand,
  AclRuleError,
  channelsText,
  describeUser,
  keysText,
  sameUser,
  userFlags,
  validUsername,
} from './acl.js';
import { subcommandSyntaxError } from './client-extras.js';
import { ACL_CATEGORIES } from './command-catalog.js';
import { type CommandContext, type CommandSpec, type HandlerResult, ReplyError } from './command-table.js';
import { parseRedisInteger, R, type Reply } from './resp.js';
import type { SentinelServer } from './server.js';

/** Longest an ACL SETUSER or DELUSER may take, all retries included. */
export const ACL_CHANGE_TIMEOUT_MS = 10_000;
/** How many times a SETUSER is computed again when another change committed first. */
export const ACL_CHANGE_ATTEMPTS = 5;

const NO_ACL_FILE =
  'This Redis instance is not configured to use an ACL file. You may want to specify users via the ACL SETUSER command and then issue a CONFIG REWRITE (assuming you have a Redis configuration file set) in order to store users in the Redis configuration.';

const ACL_HELP = [
  'CAT [<category>]',
  '    List all commands that belong to <category>, or all command categories',
  '    when no category is specified.',
  'DELUSER <username> [<username> ...]',
  '    Delete a list of users.',
  'DRYRUN <username> <command> [<arg> ...]',
  '    Returns whether the user can execute the given command without executing the command.',
  'GETUSER <username>',
  "    Get the user's details.",
  'GENPASS [<bits>]',
  '    Generate a secure 256-bit user password. The optional `bits` argument can',
  '    be used to specify a different size.',
  'LIST',
  '    Show users details in config file format.',
  'LOAD',
  '    Reload users from the ACL file.',
  'LOG [<count> | RESET]',
  '    Show the ACL log entries.',
  'SAVE',
  '    Save the current config to the ACL file.',
  'SETUSER <username> <attribute> [<attribute> ...]',
  '    Create or modify a user with the specified attributes.',
  'USERS',
  '    List all the registered usernames.',
  'WHOAMI',
  '    Return the current connection username.',
];

/** A user-given string (bytes read as latin1) as a bulk reply of the same bytes. */
function bytes(s: string): Reply {
  return R.bulk(Buffer.from(s, 'latin1'));
}

function latin1(argv: readonly Buffer[], from: number): string[] {
  return argv.slice(from).map((b) => b.toString('latin1'));
}

/** `work` bounded by what is left of `deadline`: a timeout is an error saying the outcome is unknown. */
async function bounded<T>(work: Promise<T>, deadline: Deadline, what: string): Promise<T> {
  const left = deadline.atMs - Date.now();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          ReplyError.err(
            `${what} not confirmed within ${deadline.totalMs} ms (the group may have no leader); it may still apply`,
          ),
        ),
      Math.max(0, left),
    );
    timer.unref();
  });
  try {
    return await Promise.race([work, timeout]);
  } catch (err) {
    if (err instanceof ReplyError) throw err;
    throw ReplyError.err(`${what} failed: ${(err as Error).message}`);
  } finally {
    clearTimeout(timer);
  }
}

interface Deadline {
  atMs: number;
  totalMs: number;
}

function deadlineIn(totalMs: number): Deadline {
  return { atMs: Date.now() + totalMs, totalMs };
}

async function setuser(ctx: CommandContext, timeoutMs: number): Promise<HandlerResult> {
  const { server, argv } = ctx;
  const name = (argv[2] as Buffer).toString('latin1');
  if (!validUsername(name)) return R.err("Usernames can't contain spaces or null characters");
  const rules = latin1(argv, 3);
  const store = server.acl.store;
  const deadline = deadlineIn(timeoutMs);
  for (let attempt = 0; attempt < ACL_CHANGE_ATTEMPTS; attempt++) {
    await bounded(store.sync(), deadline, 'ACL SETUSER');
    const revision = store.revision();
    let next: ReturnType<typeof server.acl.computeUser>;
    try {
      next = server.acl.computeUser(name, rules);
    } catch (err) {
      if (err instanceof AclRuleError) return R.err(err.message);
      throw err;
    }
    // Nothing to change: answer at once (the user is committed as it would be).
    if (sameUser(store.users().get(name), next)) return R.ok;
    const r = await bounded(store.put(next, revision), deadline, 'ACL SETUSER');
    if (r === 'ok') return R.ok;
  }
  return R.err(`ACL SETUSER: the users kept changing under it (${ACL_CHANGE_ATTEMPTS} attempts); try again`);
}

async function deluser(ctx: CommandContext, timeoutMs: number): Promise<HandlerResult> {
  const { server, argv } = ctx;
  const names = latin1(argv, 2);
  if (names.includes('default')) return R.err("The 'default' user cannot be removed");
  const store = server.acl.store;
  const deadline = deadlineIn(timeoutMs);
  await bounded(store.sync(), deadline, 'ACL DELUSER');
  let deleted = 0;
  for (const name of new Set(names)) {
    if (!store.users().has(name)) continue;
    if (await bounded(store.remove(name), deadline, 'ACL DELUSER')) deleted++;
  }
  return R.int(deleted);
}

function getuser(ctx: CommandContext): HandlerResult {
  const r = ctx.server.acl.record((ctx.argv[2] as Buffer).toString('latin1'));
  if (!r) return R.null;
  return R.map([
    ['flags', R.set(userFlags(r).map((f) => R.bulk(f)))],
    ['passwords', R.bulks(r.passwords)],
    ['commands', bytes(r.commands)],
    ['keys', bytes(keysText(r))],
    ['channels', bytes(channelsText(r))],
    ['selectors', R.emptyArray],
  ]);
}

function cat(ctx: CommandContext): HandlerResult {
  const { argv, server } = ctx;
  if (argv.length === 2) return R.bulks(ACL_CATEGORIES);
  if (argv.length > 3) return subcommandSyntaxError(argv);
  const name = (argv[2] as Buffer).toString('latin1');
  const category = name.toLowerCase();
  if (!ACL_CATEGORIES.includes(category)) return R.err(`Unknown category '${name.slice(0, 128)}'`);
  return R.bulks(
    server
      .aclIndex()
      .ordered.filter((c) => c.categories.includes(`@${category}`))
      .map((c) => c.fullName),
  );
}

function genpass(ctx: CommandContext): HandlerResult {
  const { argv } = ctx;
  if (argv.length > 3) return subcommandSyntaxError(argv);
  let bits = 256;
  if (argv.length === 3) {
    const b = argv[2] as Buffer;
    const n = parseRedisInteger(b, 0, b.length);
    if (n === null) return R.err('value is not an integer or out of range');
    bits = n;
  }
  if (bits <= 0 || bits > ACL_GENPASS_MAX_BITS) {
    return R.err(
      `ACL GENPASS argument must be the number of bits for the output password, a positive number up to ${ACL_GENPASS_MAX_BITS}`,
    );
  }
  const chars = Math.floor((bits + 3) / 4);
  return R.bulk(
    randomBytes(Math.ceil(chars / 2))
      .toString('hex')
      .slice(0, chars),
  );
}

function log(ctx: CommandContext): HandlerResult {
  const { argv, server } = ctx;
  if (argv.length > 3) return subcommandSyntaxError(argv);
  let count = 10;
  if (argv.length === 3) {
    const b = argv[2] as Buffer;
    if (b.toString('latin1').toLowerCase() === 'reset') {
      server.aclLog.reset();
      return R.ok;
    }
    const n = parseRedisInteger(b, 0, b.length);
    if (n === null) return R.err('value is not an integer or out of range');
    count = Math.max(0, n);
  }
  const now = Date.now();
  return R.array(
    server.aclLog.list(count).map((e) =>
      R.map([
        ['count', R.int(e.count)],
        ['reason', R.bulk(e.reason)],
        ['context', R.bulk(e.context)],
        ['object', bytes(e.object)],
        ['username', bytes(e.username)],
        ['age-seconds', R.double((now - e.atMs) / 1000)],
        ['client-info', bytes(e.clientInfo)],
      ]),
    ),
  );
}

/** Redis's lookupCommand for DRYRUN: a container followed by an argument names that subcommand. */
function lookupForDryrun(server: SentinelServer, args: readonly string[]): AclCommand | undefined {
  const index = server.aclIndex();
  const base = index.get(args[0] ?? '');
  if (!base || base.parent !== null) return undefined;
  if (args.length === 1 || base.subcommands.length === 0) return base;
  return index.get(`${base.fullName}|${args[1]}`);
}

function dryrun(ctx: CommandContext): HandlerResult {
  const { argv, server } = ctx;
  const name = (argv[2] as Buffer).toString('latin1');
  const user = server.acl.user(name);
  if (!user) return R.err(`User '${name}' not found`);
  const args = latin1(argv, 3);
  const cmd = lookupForDryrun(server, args);
  if (!cmd) return R.err(`Command '${args[0]}' not found`);
  const arity = server.commands.get(cmd.fullName)?.arity ?? -1;
  if ((arity > 0 && arity !== args.length) || args.length < -arity) {
    return R.err(`wrong number of arguments for '${cmd.fullName}' command`);
  }
  const denial = user.check(cmd, args);
  if (!denial) return R.ok;
  return denial.reason === 'command'
    ? bytes(`This user has no permissions to run the '${cmd.fullName}' command`)
    : bytes(`This user has no permissions to access the '${args[denial.pos]}' channel`);
}

function helpReply(lines: readonly string[]): Reply {
  return R.array(
    [
      'ACL <subcommand> [<arg> [value] [opt] ...]. Subcommands are:',
      ...lines,
      'HELP',
      '    Prints this help.',
    ].map((s) => R.simple(s)),
  );
}

/** The ACL container and its subcommands (descriptions come from the Sentinel catalog). */
export function aclCommandSpec(opts: { changeTimeoutMs?: number } = {}): CommandSpec {
  const timeoutMs = opts.changeTimeoutMs ?? ACL_CHANGE_TIMEOUT_MS;
  const sub = (name: string, arity: number, handler: CommandSpec['handler']): CommandSpec => ({
    name,
    arity,
    handler,
    flags: ['admin', 'noscript', 'loading', 'stale'],
    categories: ['@admin', '@slow', '@dangerous'],
  });
  return {
    name: 'acl',
    arity: -2,
    categories: ['@slow'],
    subcommands: [
      sub('cat', -2, cat),
      sub('deluser', -3, (ctx) => deluser(ctx, timeoutMs)),
      sub('dryrun', -4, dryrun),
      sub('genpass', -2, genpass),
      sub('getuser', 3, getuser),
      sub('list', 2, (ctx) =>
        R.array(
          ctx.server.acl
            .names()
            .map((n) => ctx.server.acl.record(n))
            .filter((r) => r !== undefined)
            .map((r) => bytes(describeUser(r))),
        ),
      ),
      sub('load', 2, () => R.err(NO_ACL_FILE)),
      sub('log', -2, log),
      sub('save', 2, () => R.err(NO_ACL_FILE)),
      sub('setuser', -3, (ctx) => setuser(ctx, timeoutMs)),
      sub('users', 2, (ctx) => R.array(ctx.server.acl.names().map(bytes))),
      sub('whoami', 2, (ctx) => bytes(ctx.client.user)),
      sub('help', 2, () => helpReply(ACL_HELP)),
    ],
  };
}

/**
 * The CLIENT subcommands Sentinel 7.0 has besides the usual ones, with its replies and error
 * texts: PAUSE / UNPAUSE (commands are held, as in Redis), REPLY ON|OFF|SKIP, UNBLOCK (nothing
 * ever blocks on a Sentinel: always 0), and the client-side caching ones (TRACKING, CACHING,
 * GETREDIR, TRACKINGINFO). A Sentinel has no keys, so tracking never produces an invalidation:
 * only the state these commands show is kept.
 */
import type { CommandContext, CommandSpec, HandlerResult } from './command-table.js';
import { parseRedisInteger, R, type Reply } from './resp.js';
import type { PauseType, TrackingState } from './server.js';

const syntaxError = (): Reply => R.err('syntax error');

/** Redis's addReplySubcommandSyntaxError: a known subcommand with a count of arguments it refuses. */
export function subcommandSyntaxError(argv: readonly Buffer[]): Reply {
  const container = (argv[0] as Buffer).toString('latin1').toUpperCase();
  const sub = (argv[1] as Buffer).toString('latin1').slice(0, 128);
  return R.err(`unknown subcommand or wrong number of arguments for '${sub}'. Try ${container} HELP.`);
}

function eqi(b: Buffer | undefined, word: string): boolean {
  return b !== undefined && b.toString('latin1').toLowerCase() === word;
}

function int(b: Buffer | undefined): number | null {
  return b === undefined ? null : parseRedisInteger(b, 0, b.length);
}

function pause(ctx: CommandContext): HandlerResult {
  const { argv, server } = ctx;
  if (argv.length > 4) return subcommandSyntaxError(argv);
  let type: PauseType = 'all';
  if (argv.length === 4) {
    if (eqi(argv[3], 'write')) type = 'write';
    else if (!eqi(argv[3], 'all')) return R.err('CLIENT PAUSE mode must be WRITE or ALL');
  }
  const ms = int(argv[2]);
  if (ms === null) return R.err('timeout is not an integer or out of range');
  if (ms < 0) return R.err('timeout is negative');
  server.pauseClients(ms > 0 ? Date.now() + ms : 0, type);
  return R.ok;
}

function reply(ctx: CommandContext): HandlerResult {
  const mode = ctx.argv[2] as Buffer;
  if (eqi(mode, 'on')) {
    ctx.client.setReplyMode('on');
    return R.ok;
  }
  if (eqi(mode, 'off')) ctx.client.setReplyMode('off');
  else if (eqi(mode, 'skip')) ctx.client.setReplyMode('skip');
  else return syntaxError();
  return undefined;
}

function unblock(ctx: CommandContext): HandlerResult {
  const { argv } = ctx;
  if (argv.length > 4) return subcommandSyntaxError(argv);
  if (argv.length === 4 && !eqi(argv[3], 'timeout') && !eqi(argv[3], 'error')) {
    return R.err('CLIENT UNBLOCK reason should be TIMEOUT or ERROR');
  }
  if (int(argv[2]) === null) return R.err('value is not an integer or out of range');
  return R.int(0);
}

function prefixOverlap(a: string, b: string): boolean {
  return a.startsWith(b) || b.startsWith(a);
}

function tracking(ctx: CommandContext): HandlerResult {
  const { argv, server, client } = ctx;
  let redirect = 0;
  let bcast = false;
  let optin = false;
  let optout = false;
  let noloop = false;
  const prefixes: string[] = [];
  for (let j = 3; j < argv.length; j++) {
    const more = argv.length - 1 - j;
    const opt = argv[j] as Buffer;
    if (eqi(opt, 'redirect') && more > 0) {
      j++;
      if (redirect !== 0) return R.err('A client can only redirect to a single other client');
      const id = int(argv[j]);
      if (id === null) return R.err('value is not an integer or out of range');
      if (!server.client(id)) return R.err('The client ID you want redirect to does not exist');
      redirect = id;
    } else if (eqi(opt, 'bcast')) bcast = true;
    else if (eqi(opt, 'optin')) optin = true;
    else if (eqi(opt, 'optout')) optout = true;
    else if (eqi(opt, 'noloop')) noloop = true;
    else if (eqi(opt, 'prefix') && more > 0) {
      j++;
      prefixes.push((argv[j] as Buffer).toString('latin1'));
    } else return syntaxError();
  }
  if (eqi(argv[2], 'off')) {
    client.tracking = null;
    return R.ok;
  }
  if (!eqi(argv[2], 'on')) return syntaxError();
  const current = client.tracking;
  if (!bcast && prefixes.length > 0) return R.err('PREFIX option requires BCAST mode to be enabled');
  if (current && current.bcast !== bcast) {
    return R.err(
      "You can't switch BCAST mode on/off before disabling tracking for this client, and then re-enabling it with a different mode.",
    );
  }
  if (bcast && (optin || optout)) return R.err('OPTIN and OPTOUT are not compatible with BCAST');
  if (optin && optout) return R.err("You can't specify both OPTIN mode and OPTOUT mode");
  if ((optin && current?.optout) || (optout && current?.optin)) {
    return R.err(
      "You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, and then re-enabling it with a different mode.",
    );
  }
  let all = current?.prefixes ?? [];
  if (bcast) {
    for (let i = 0; i < prefixes.length; i++) {
      const p = prefixes[i]!;
      const old = all.find((x) => prefixOverlap(x, p));
      if (old !== undefined) {
        return R.err(
          `Prefix '${p}' overlaps with an existing prefix '${old}'. Prefixes for a single client must not overlap.`,
        );
      }
      const other = prefixes.slice(i + 1).find((x) => prefixOverlap(x, p));
      if (other !== undefined) {
        return R.err(
          `Prefix '${p}' overlaps with another provided prefix '${other}'. Prefixes for a single client must not overlap.`,
        );
      }
    }
    // Redis tracks every key (the empty prefix) when BCAST names none.
    all = [...all, ...(prefixes.length > 0 ? prefixes : [''])];
  }
  const state: TrackingState = {
    bcast,
    optin,
    optout,
    noloop,
    caching: current?.caching ?? false,
    redirect,
    prefixes: bcast ? [...new Set(all)].sort() : [],
  };
  client.tracking = state;
  return R.ok;
}

function caching(ctx: CommandContext): HandlerResult {
  const t = ctx.client.tracking;
  if (!t) {
    return R.err(
      'CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled',
    );
  }
  const opt = ctx.argv[2] as Buffer;
  if (eqi(opt, 'yes')) {
    if (!t.optin) return R.err('CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode.');
  } else if (eqi(opt, 'no')) {
    if (!t.optout) return R.err('CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.');
  } else {
    return syntaxError();
  }
  t.caching = true;
  return R.ok;
}

function trackingInfo(ctx: CommandContext): HandlerResult {
  const t = ctx.client.tracking;
  const flags = [t ? 'on' : 'off'];
  if (t?.bcast) flags.push('bcast');
  if (t?.optin) flags.push('optin', ...(t.caching ? ['caching-yes'] : []));
  if (t?.optout) flags.push('optout', ...(t.caching ? ['caching-no'] : []));
  if (t?.noloop) flags.push('noloop');
  return R.map([
    ['flags', R.set(flags.map((f) => R.bulk(f)))],
    ['redirect', R.int(t ? t.redirect : -1)],
    ['prefixes', R.bulks((t?.prefixes ?? []).map((p) => Buffer.from(p, 'latin1')))],
  ]);
}

/** The extra CLIENT subcommands (descriptions come from the Sentinel catalog). */
export function clientExtraSubcommands(
  sub: (name: string, arity: number, handler: CommandSpec['handler'], summary: string) => CommandSpec,
): CommandSpec[] {
  return [
    sub('pause', -3, pause, 'Stop processing commands from clients for some time'),
    sub(
      'unpause',
      2,
      (ctx) => {
        ctx.server.unpauseClients();
        return R.ok;
      },
      'Resume processing of clients that were paused',
    ),
    sub('reply', 3, reply, 'Instruct the server whether to reply to commands'),
    sub('tracking', -3, tracking, 'Enable or disable server assisted client side caching support'),
    sub('trackinginfo', 2, trackingInfo, 'Return information about server assisted client side caching'),
    sub(
      'getredir',
      2,
      (ctx) => R.int(ctx.client.tracking ? ctx.client.tracking.redirect : -1),
      'Get tracking notifications redirection client ID if any',
    ),
    sub('caching', 3, caching, 'Instruct the server about tracking or not keys in the next request'),
    sub('unblock', -3, unblock, 'Unblock a client blocked in a blocking command from a different connection'),
  ];
}

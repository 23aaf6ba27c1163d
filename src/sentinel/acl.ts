/**
 * ACL users of the Sentinel port, with Redis 7.0's semantics for what a Sentinel needs: the rules
 * of ACL SETUSER, the descriptions of ACL LIST / GETUSER, the permission check run before every
 * command (NOPERM), AUTH, and the ACL LOG.
 *
 * Pure: no I/O, no clock of its own. Users are kept as records (AclUserRecord, the shape the Raft
 * log and snapshots carry): passwords only as SHA-256 hex, command rules as their canonical
 * description (`+@all -sentinel|set`), which every daemon compiles against its own command table.
 * A change is computed where the client asked for it (applyAclRules) and only the resulting
 * record is replicated, so no clear-text password ever leaves that daemon.
 *
 * Strings are the bytes of the request read as latin1 (binary-safe, as Redis compares bytes).
 *
 * Scope (what a Sentinel has): flags on/off, nopass, (skip-)sanitize-payload; passwords >, <, #,
 * !, resetpass; reset; commands +@all/-@all/allcommands/nocommands, +@cat/-@cat, +cmd/-cmd,
 * +cmd|sub and +cmd|first-arg; keys ~pattern, %R~/%W~/%RW~, allkeys, resetkeys (a Sentinel
 * has no keys: accepted and shown, no effect); channels &pattern, allchannels, resetchannels
 * (checked on SUBSCRIBE, PSUBSCRIBE and PUBLISH, as Sentinel does). Selectors `(...)` are refused.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { AclUserRecord } from '../cluster/commands.js';
import { ACL_CATEGORIES } from './command-catalog.js';
import { stringMatch } from './pubsub.js';

export type { AclUserRecord };

/** Most entries ACL LOG keeps (Redis `acllog-max-len` default). */
export const ACL_LOG_MAX_ENTRIES = 128;
/** Denials of the same kind within this window bump one entry's count (Redis's grouping). */
export const ACL_LOG_GROUPING_MS = 60_000;
/** How many recent entries a new denial is compared with for grouping (Redis scans 10). */
const ACL_LOG_GROUPING_SCAN = 10;
/** ACL GENPASS's largest size. */
export const ACL_GENPASS_MAX_BITS = 4096;
/** Length of a SHA-256 password hash in hex. */
const HASH_HEX_LENGTH = 64;

/** A rule ACL SETUSER refused; `message` is Redis's whole error text (without `ERR `). */
export class AclRuleError extends Error {
  override readonly name = 'AclRuleError';
}

const REASONS = {
  ENOENT: 'Unknown command or category name in ACL',
  EINVAL: 'Syntax error',
  EEXIST:
    "Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not have any effect. Try 'resetkeys' to start with an empty list of patterns",
  EISDIR:
    "Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid and does not have any effect. Try 'resetchannels' to start with an empty list of channels",
  ENODEV: 'The password you are trying to remove from the user does not exist',
  EBADMSG:
    'The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters',
  ECHILD: 'Allowing first-arg of a subcommand is not supported',
  SELECTORS: 'Selectors are not supported on this Sentinel (raftinel): use root permissions only',
} as const;

class RuleFailure extends Error {
  constructor(readonly reason: string) {
    super(reason);
  }
}

/** SHA-256 hex of a password's bytes (Redis's ACLHashPassword). */
export function hashPassword(password: Buffer | string): string {
  const bytes = typeof password === 'string' ? Buffer.from(password, 'latin1') : password;
  return createHash('sha256').update(bytes).digest('hex');
}

function hasSpaces(s: string): boolean {
  return /[\s\0]/.test(s);
}

/** Redis's check on user names. */
export function validUsername(name: string): boolean {
  return !hasSpaces(name);
}

// --- the command table as ACL sees it ----------------------------------------------------------

/** One command or subcommand for the ACL rules. */
export interface AclCommand {
  /** `ping`, `client|kill`. */
  fullName: string;
  /** `@admin`, ... */
  categories: readonly string[];
  /** Full names of its subcommands (a container), in table order. */
  subcommands: readonly string[];
  /** A subcommand's container. */
  parent: string | null;
  /** `no_auth` commands (AUTH, HELLO) pass the command check, as in Redis. */
  noAuth: boolean;
}

/** The commands the rules name, by full name, in table order (containers before their subcommands). */
export class AclCommandIndex {
  readonly ordered: readonly AclCommand[];
  private readonly byName = new Map<string, AclCommand>();

  constructor(commands: readonly AclCommand[]) {
    this.ordered = commands;
    for (const c of commands) this.byName.set(c.fullName.toLowerCase(), c);
  }

  get(fullName: string): AclCommand | undefined {
    return this.byName.get(fullName.toLowerCase());
  }

  /** Redis's ACLLookupCommand: `name` or `container|sub` (one level), any case. */
  lookup(name: string): AclCommand | undefined {
    const parts = name.split('|');
    if (parts.length > 2) return undefined;
    const base = this.get(parts[0] ?? '');
    if (!base || base.parent !== null) return undefined;
    if (parts.length === 1) return base;
    if (base.subcommands.length === 0) return undefined;
    return this.get(`${base.fullName}|${parts[1]}`);
  }

  /** Top-level commands in table order. */
  topLevel(): AclCommand[] {
    return this.ordered.filter((c) => c.parent === null);
  }
}

// --- a user while rules are applied ------------------------------------------------------------

interface KeyPattern {
  read: boolean;
  write: boolean;
  pattern: string;
}

/** A user as the rules see it: Redis's user and root selector. */
interface WorkingUser {
  enabled: boolean;
  nopass: boolean;
  payload: 'sanitize' | 'skip' | null;
  passwords: string[];
  /** Redis's reserved "future commands" bit: set by +@all, cleared by -@all only. */
  future: boolean;
  allowed: Set<string>;
  /** Allowed first arguments of commands otherwise denied (`+ping|x`), lowercase-compared. */
  firstArgs: Map<string, string[]>;
  allKeys: boolean;
  keys: KeyPattern[];
  allChannels: boolean;
  channels: string[];
}

function emptyWorking(): WorkingUser {
  // Redis 7.0 creates users off, with no permissions and `acl-pubsub-default resetchannels`.
  return {
    enabled: false,
    nopass: false,
    payload: null,
    passwords: [],
    future: false,
    allowed: new Set(),
    firstArgs: new Map(),
    allKeys: false,
    keys: [],
    allChannels: false,
    channels: [],
  };
}

function changePerm(u: WorkingUser, cmd: AclCommand, allow: boolean): void {
  const set = (name: string) => (allow ? u.allowed.add(name) : u.allowed.delete(name));
  set(cmd.fullName);
  u.firstArgs.delete(cmd.fullName);
  for (const sub of cmd.subcommands) set(sub);
}

function setCategory(u: WorkingUser, category: string, allow: boolean, index: AclCommandIndex): boolean {
  const cat = category.toLowerCase();
  if (!ACL_CATEGORIES.includes(cat)) return false;
  const tag = `@${cat}`;
  // Redis's order: a container in the category takes all its subcommands with it, then each
  // subcommand in the category is set on its own.
  for (const cmd of index.ordered) if (cmd.categories.includes(tag)) changePerm(u, cmd, allow);
  return true;
}

function isHashHex(s: string): boolean {
  return s.length === HASH_HEX_LENGTH && /^[0-9a-f]+$/.test(s);
}

/** Redis's ACLSetSelector for the root selector; throws RuleFailure. */
function applySelectorRule(u: WorkingUser, op: string, index: AclCommandIndex): void {
  const lower = op.toLowerCase();
  if (lower === 'allkeys' || lower === '~*') {
    u.allKeys = true;
    u.keys = [];
  } else if (lower === 'resetkeys') {
    u.allKeys = false;
    u.keys = [];
  } else if (lower === 'allchannels' || lower === '&*') {
    u.allChannels = true;
    u.channels = [];
  } else if (lower === 'resetchannels') {
    u.allChannels = false;
    u.channels = [];
  } else if (lower === 'allcommands' || lower === '+@all') {
    u.future = true;
    u.allowed = new Set(index.ordered.map((c) => c.fullName));
    u.firstArgs.clear();
  } else if (lower === 'nocommands' || lower === '-@all') {
    u.future = false;
    u.allowed.clear();
    u.firstArgs.clear();
  } else if (op[0] === '~' || op[0] === '%') {
    if (u.allKeys) throw new RuleFailure(REASONS.EEXIST);
    let read = true;
    let write = true;
    let offset = 1;
    if (op[0] === '%') {
      read = false;
      write = false;
      let ok = true;
      for (; offset < op.length; offset++) {
        const c = op[offset]!.toUpperCase();
        if (c === 'R' && !read) read = true;
        else if (c === 'W' && !write) write = true;
        else if (c === '~') {
          offset++;
          break;
        } else {
          ok = false;
          break;
        }
      }
      if ((!read && !write) || !ok) throw new RuleFailure(REASONS.EINVAL);
    }
    const pattern = op.slice(offset);
    if (hasSpaces(pattern)) throw new RuleFailure(REASONS.EINVAL);
    const existing = u.keys.find((k) => k.pattern === pattern);
    if (existing) {
      existing.read ||= read;
      existing.write ||= write;
    } else {
      u.keys.push({ read, write, pattern });
    }
  } else if (op[0] === '&') {
    if (u.allChannels) throw new RuleFailure(REASONS.EISDIR);
    const pattern = op.slice(1);
    if (hasSpaces(pattern)) throw new RuleFailure(REASONS.EINVAL);
    if (!u.channels.includes(pattern)) u.channels.push(pattern);
  } else if (op[0] === '+' && op[1] !== '@') {
    const bar = op.lastIndexOf('|');
    if (bar < 0) {
      const cmd = index.lookup(op.slice(1));
      if (!cmd) throw new RuleFailure(REASONS.ENOENT);
      changePerm(u, cmd, true);
      return;
    }
    const cmd = index.lookup(op.slice(1, bar));
    const sub = op.slice(bar + 1);
    if (!cmd) throw new RuleFailure(REASONS.ENOENT);
    if (cmd.parent !== null) throw new RuleFailure(REASONS.ECHILD);
    if (sub === '') throw new RuleFailure(REASONS.EINVAL);
    if (cmd.subcommands.length > 0) {
      const subcmd = index.lookup(op.slice(1));
      if (!subcmd) throw new RuleFailure(REASONS.ENOENT);
      changePerm(u, subcmd, true);
      return;
    }
    // A first argument of an otherwise denied command (Redis's `+select|0`).
    const args = u.firstArgs.get(cmd.fullName) ?? [];
    if (!args.some((a) => a.toLowerCase() === sub.toLowerCase())) args.push(sub);
    u.firstArgs.set(cmd.fullName, args);
  } else if (op[0] === '-' && op[1] !== '@') {
    const cmd = index.lookup(op.slice(1));
    if (!cmd) throw new RuleFailure(REASONS.ENOENT);
    changePerm(u, cmd, false);
  } else if ((op[0] === '+' || op[0] === '-') && op[1] === '@') {
    if (!setCategory(u, op.slice(2), op[0] === '+', index)) throw new RuleFailure(REASONS.ENOENT);
  } else {
    throw new RuleFailure(REASONS.EINVAL);
  }
}

/** Redis's ACLSetUser for one rule; throws RuleFailure. */
function applyRule(u: WorkingUser, op: string, index: AclCommandIndex): void {
  if (op === '') return;
  const lower = op.toLowerCase();
  if (lower === 'on') u.enabled = true;
  else if (lower === 'off') u.enabled = false;
  else if (lower === 'skip-sanitize-payload') u.payload = 'skip';
  else if (lower === 'sanitize-payload') u.payload = 'sanitize';
  else if (lower === 'nopass') {
    u.nopass = true;
    u.passwords = [];
  } else if (lower === 'resetpass') {
    u.nopass = false;
    u.passwords = [];
  } else if (op[0] === '>' || op[0] === '#') {
    let hash: string;
    if (op[0] === '>') hash = hashPassword(op.slice(1));
    else {
      hash = op.slice(1);
      if (!isHashHex(hash)) throw new RuleFailure(REASONS.EBADMSG);
    }
    if (!u.passwords.includes(hash)) u.passwords.push(hash);
    u.nopass = false;
  } else if (op[0] === '<' || op[0] === '!') {
    let hash: string;
    if (op[0] === '<') hash = hashPassword(op.slice(1));
    else {
      hash = op.slice(1);
      if (!isHashHex(hash)) throw new RuleFailure(REASONS.EBADMSG);
    }
    const at = u.passwords.indexOf(hash);
    if (at < 0) throw new RuleFailure(REASONS.ENODEV);
    u.passwords.splice(at, 1);
  } else if (op[0] === '(' && op[op.length - 1] === ')') {
    throw new RuleFailure(REASONS.SELECTORS);
  } else if (lower === 'clearselectors') {
    // There are never selectors besides the root one: nothing to clear.
  } else if (lower === 'reset') {
    u.nopass = false;
    u.passwords = [];
    u.allKeys = false;
    u.keys = [];
    u.allChannels = false;
    u.channels = [];
    u.enabled = false;
    u.payload = 'sanitize';
    applySelectorRule(u, '-@all', index);
  } else {
    applySelectorRule(u, op, index);
  }
}

/**
 * Redis's ACLMergeSelectorArguments: a selector spread over several arguments is one rule. Throws
 * AclRuleError on an unmatched parenthesis.
 */
function mergeSelectorArguments(rules: readonly string[]): string[] {
  const out: string[] = [];
  let selector: string | null = null;
  let start = '';
  for (const op of rules) {
    if (selector === null && op[0] === '(' && op[op.length - 1] !== ')') {
      selector = op;
      start = op;
      continue;
    }
    if (selector !== null) {
      selector += ` ${op}`;
      if (op[op.length - 1] === ')') {
        out.push(selector);
        selector = null;
      }
      continue;
    }
    out.push(op);
  }
  if (selector !== null)
    throw new AclRuleError(`Unmatched parenthesis in acl selector starting at '${start}'.`);
  return out;
}

// --- records ------------------------------------------------------------------------------------

function keyPatternText(k: KeyPattern): string {
  if (k.read && k.write) return `~${k.pattern}`;
  return `${k.read ? '%R~' : '%W~'}${k.pattern}`;
}

function sameSet(a: ReadonlySet<string>, b: ReadonlySet<string>): boolean {
  if (a.size !== b.size) return false;
  for (const x of a) if (!b.has(x)) return false;
  return true;
}

/**
 * The command rules that rebuild `u`'s permissions from nothing: Redis's
 * ACLDescribeSelectorCommandRules (+@all or -@all, the categories that fit best, then single
 * commands and first arguments), replayed on a scratch user so the result is exact.
 */
function describeCommands(u: WorkingUser, index: AclCommandIndex): string {
  const additive = !u.future;
  const rules: string[] = [additive ? '-@all' : '+@all'];
  const fake = emptyWorking();
  applySelectorRule(fake, rules[0]!, index);
  const temp = emptyWorking();
  temp.allowed = new Set(u.allowed);
  const applied = new Set<string>();
  for (;;) {
    let best: string | null = null;
    let minDiff = Number.MAX_SAFE_INTEGER;
    let maxSame = 0;
    for (const cat of ACL_CATEGORIES) {
      if (applied.has(cat)) continue;
      let on = 0;
      let off = 0;
      for (const cmd of index.ordered) {
        if (!cmd.categories.includes(`@${cat}`)) continue;
        if (temp.allowed.has(cmd.fullName)) on++;
        else off++;
      }
      const diff = additive ? off : on;
      const same = additive ? on : off;
      if (same > diff && (diff < minDiff || (diff === minDiff && same > maxSame))) {
        best = cat;
        minDiff = diff;
        maxSame = same;
      }
    }
    if (best === null) break;
    setCategory(fake, best, additive, index);
    setCategory(temp, best, !additive, index);
    rules.push(`${additive ? '+' : '-'}@${best}`);
    applied.add(best);
  }
  const single = (cmd: AclCommand): void => {
    const userBit = u.allowed.has(cmd.fullName);
    if (userBit !== fake.allowed.has(cmd.fullName)) {
      rules.push(`${userBit ? '+' : '-'}${cmd.fullName}`);
      changePerm(fake, cmd, userBit);
    }
    for (const sub of cmd.subcommands) {
      const s = index.get(sub);
      if (s) single(s);
    }
    if (!userBit)
      for (const arg of u.firstArgs.get(cmd.fullName) ?? []) rules.push(`+${cmd.fullName}|${arg}`);
  };
  for (const cmd of index.topLevel()) single(cmd);
  if (!sameSet(fake.allowed, u.allowed)) {
    // Cannot happen (the replay is exact by construction); refuse rather than store a lie.
    throw new Error(`ACL description does not rebuild the user's commands: ${rules.join(' ')}`);
  }
  return rules.join(' ');
}

function toRecord(name: string, u: WorkingUser, index: AclCommandIndex): AclUserRecord {
  return {
    name,
    enabled: u.enabled,
    nopass: u.nopass,
    ...(u.payload ? { payload: u.payload } : {}),
    passwords: [...u.passwords],
    commands: describeCommands(u, index),
    allKeys: u.allKeys,
    keys: u.keys.map(keyPatternText),
    allChannels: u.allChannels,
    channels: [...u.channels],
  };
}

/**
 * A record as a working user: its command rules replayed on the current table. A rule the table
 * does not know (a record written by another version) is skipped rather than failing the user.
 */
function fromRecord(r: AclUserRecord, index: AclCommandIndex): WorkingUser {
  const u = emptyWorking();
  u.enabled = r.enabled;
  u.nopass = r.nopass;
  u.payload = r.payload ?? null;
  u.passwords = [...r.passwords];
  for (const rule of r.commands.split(' ')) {
    try {
      applySelectorRule(u, rule, index);
    } catch {
      // unknown here: skipped
    }
  }
  u.allKeys = r.allKeys;
  u.keys = r.keys.map((text) => {
    const probe = emptyWorking();
    applySelectorRule(probe, text, index);
    return probe.keys[0]!;
  });
  u.allChannels = r.allChannels;
  u.channels = [...r.channels];
  return u;
}

/** A new user as Redis creates it (`ACL SETUSER name` alone): off, no permissions. */
export function newUserRecord(name: string, index: AclCommandIndex): AclUserRecord {
  return toRecord(name, emptyWorking(), index);
}

/** The default user as Redis starts it (`+@all ~* &* on nopass`), with `requirepass` if any. */
export function defaultUserRecord(index: AclCommandIndex, requirepass?: string | Buffer): AclUserRecord {
  const u = emptyWorking();
  for (const op of ['+@all', '~*', '&*', 'on']) applyRule(u, op, index);
  if (requirepass === undefined) applyRule(u, 'nopass', index);
  // A configured password is text (UTF-8), as AUTH sends it.
  else
    u.passwords = [
      hashPassword(typeof requirepass === 'string' ? Buffer.from(requirepass, 'utf8') : requirepass),
    ];
  return toRecord('default', u, index);
}

/**
 * ACL SETUSER: `rules` applied in order to `base` (undefined: a new user), all or nothing.
 * Throws AclRuleError with Redis's error text.
 */
export function applyAclRules(
  name: string,
  base: AclUserRecord | undefined,
  rules: readonly string[],
  index: AclCommandIndex,
): AclUserRecord {
  const merged = mergeSelectorArguments(rules);
  const work = base ? fromRecord(base, index) : emptyWorking();
  for (const op of merged) {
    try {
      applyRule(work, op, index);
    } catch (err) {
      if (err instanceof RuleFailure)
        throw new AclRuleError(`Error in ACL SETUSER modifier '${op}': ${err.reason}`);
      throw err;
    }
  }
  return toRecord(name, work, index);
}

/** Whether two records describe the same user. */
export function sameUser(a: AclUserRecord | undefined, b: AclUserRecord | undefined): boolean {
  if (!a || !b) return a === b;
  return JSON.stringify(normalized(a)) === JSON.stringify(normalized(b));
}

function normalized(r: AclUserRecord) {
  return {
    name: r.name,
    enabled: r.enabled,
    nopass: r.nopass,
    payload: r.payload ?? null,
    passwords: r.passwords,
    commands: r.commands,
    allKeys: r.allKeys,
    keys: r.keys,
    allChannels: r.allChannels,
    channels: r.channels,
  };
}

/** User flags in Redis's order (ACL GETUSER `flags`). */
export function userFlags(r: AclUserRecord): string[] {
  const flags = [r.enabled ? 'on' : 'off'];
  if (r.nopass) flags.push('nopass');
  if (r.payload === 'skip') flags.push('skip-sanitize-payload');
  if (r.payload === 'sanitize') flags.push('sanitize-payload');
  return flags;
}

/** ACL GETUSER's `keys`: `~*`, or the patterns separated by spaces. */
export function keysText(r: AclUserRecord): string {
  return r.allKeys ? '~*' : r.keys.join(' ');
}

/** ACL GETUSER's `channels`: `&*`, or `&pattern`s separated by spaces. */
export function channelsText(r: AclUserRecord): string {
  return r.allChannels ? '&*' : r.channels.map((c) => `&${c}`).join(' ');
}

/** ACL LIST's line for a user: `user <name> <flags> #<hash>... <keys> <channels> <commands>`. */
export function describeUser(r: AclUserRecord): string {
  const parts = ['user', r.name, ...userFlags(r), ...r.passwords.map((p) => `#${p}`)];
  if (r.allKeys) parts.push('~*');
  else parts.push(...r.keys);
  if (r.allChannels) parts.push('&*');
  else parts.push('resetchannels', ...r.channels.map((c) => `&${c}`));
  parts.push(r.commands);
  return parts.join(' ');
}

// --- checks -------------------------------------------------------------------------------------

/** A record compiled for checks against the current table. */
export class AclUser {
  private readonly allowed: ReadonlySet<string>;
  private readonly firstArgs: ReadonlyMap<string, readonly string[]>;
  private readonly passwords: readonly Buffer[];

  constructor(
    readonly record: AclUserRecord,
    index: AclCommandIndex,
  ) {
    const u = fromRecord(record, index);
    this.allowed = u.allowed;
    this.firstArgs = u.firstArgs;
    this.passwords = record.passwords.map((h) => Buffer.from(h, 'hex'));
  }

  get name(): string {
    return this.record.name;
  }

  get enabled(): boolean {
    return this.record.enabled;
  }

  get nopass(): boolean {
    return this.record.nopass;
  }

  /** Redis's ACLCheckUserCredentials (constant time per password). */
  checkPassword(password: Buffer): boolean {
    if (!this.record.enabled) return false;
    if (this.record.nopass) return true;
    const d = createHash('sha256').update(password).digest();
    let ok = false;
    for (const p of this.passwords) if (p.length === d.length && timingSafeEqual(p, d)) ok = true;
    return ok;
  }

  /** Whether a channel (or, for PSUBSCRIBE, a pattern taken literally) is allowed. */
  channelAllowed(channel: string, isPattern: boolean): boolean {
    if (this.record.allChannels) return true;
    return this.record.channels.some((p) => (isPattern ? p === channel : stringMatch(p, channel)));
  }

  /**
   * Redis's ACLSelectorCheckCmd for `cmd` with `args` (latin1; args[0] is the command name): null
   * when allowed, else what is denied and, for a channel, the argument's position.
   */
  check(cmd: AclCommand, args: readonly string[]): AclDenial | null {
    if (!cmd.noAuth && !this.allowed.has(cmd.fullName)) {
      const allowedArgs = this.firstArgs.get(cmd.fullName);
      const at = cmd.parent !== null ? 2 : 1;
      const first = args[at]?.toLowerCase();
      if (first === undefined || !allowedArgs?.some((a) => a.toLowerCase() === first)) {
        return { reason: 'command', pos: 0 };
      }
    }
    const channels = CHANNEL_ARGS[cmd.fullName];
    if (channels && !this.record.allChannels) {
      const isPattern = channels.pattern;
      const last = channels.all ? args.length - 1 : 1;
      for (let i = 1; i <= last; i++) {
        if (!this.channelAllowed(args[i] ?? '', isPattern)) return { reason: 'channel', pos: i };
      }
    }
    return null;
  }
}

export interface AclDenial {
  reason: 'command' | 'channel';
  /** The denied argument (channel), 0 for the command. */
  pos: number;
}

/** The Pub/Sub commands whose arguments are channels (Redis's channel key specs). */
const CHANNEL_ARGS: Readonly<Record<string, { all: boolean; pattern: boolean }>> = {
  subscribe: { all: true, pattern: false },
  psubscribe: { all: true, pattern: true },
  publish: { all: false, pattern: false },
};

/** The NOPERM error Redis 7.0 answers for a denial. */
export function nopermText(denial: AclDenial, fullName: string): string {
  return denial.reason === 'command'
    ? `NOPERM this user has no permissions to run the '${fullName}' command`
    : 'NOPERM this user has no permissions to access one of the channels used as arguments';
}

/**
 * Redis's ACLKillPubsubClientsIfNeeded: whether a subscriber of `before`'s user loses channels it
 * is subscribed to under `after`. `channels` and `patterns` are its subscriptions.
 */
export function pubsubRevoked(
  after: AclUser,
  channels: Iterable<string>,
  patterns: Iterable<string>,
): boolean {
  if (after.record.allChannels) return false;
  for (const p of patterns) if (!after.channelAllowed(p, true)) return true;
  for (const c of channels) if (!after.channelAllowed(c, false)) return true;
  return false;
}

// --- ACL LOG ------------------------------------------------------------------------------------

export interface AclLogEntry {
  count: number;
  reason: 'command' | 'key' | 'channel' | 'auth';
  context: 'toplevel';
  object: string;
  username: string;
  atMs: number;
  clientInfo: string;
}

/** ACL LOG: the latest denials, newest first, similar ones grouped (Redis's addACLLogEntry). */
export class AclLog {
  private entries: AclLogEntry[] = [];

  constructor(private readonly maxEntries = ACL_LOG_MAX_ENTRIES) {}

  add(e: Omit<AclLogEntry, 'count' | 'context'>): void {
    const scan = Math.min(ACL_LOG_GROUPING_SCAN, this.entries.length);
    for (let i = 0; i < scan; i++) {
      const cur = this.entries[i]!;
      if (
        cur.reason === e.reason &&
        Math.abs(cur.atMs - e.atMs) <= ACL_LOG_GROUPING_MS &&
        cur.object === e.object &&
        cur.username === e.username
      ) {
        this.entries.splice(i, 1);
        this.entries.unshift({ ...cur, count: cur.count + 1, atMs: e.atMs, clientInfo: e.clientInfo });
        return;
      }
    }
    this.entries.unshift({ ...e, count: 1, context: 'toplevel' });
    if (this.entries.length > this.maxEntries) this.entries.length = this.maxEntries;
  }

  list(count: number): readonly AclLogEntry[] {
    return this.entries.slice(0, Math.max(0, count));
  }

  reset(): void {
    this.entries = [];
  }

  get size(): number {
    return this.entries.length;
  }
}

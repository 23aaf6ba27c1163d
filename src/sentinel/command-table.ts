/**
 * The command table of the Sentinel port: what a command handler is, the context it runs in, and
 * how a request's argv is looked up (container commands with subcommands, arity) with Redis's
 * exact error texts.
 */
import type { CatalogDoc, CatalogEntry } from './command-catalog.js';
import type { ProtocolVersion, Reply } from './resp.js';
import type { ClientConnection, SentinelServer } from './server.js';

/** What a handler returns: one reply, several replies in order, or none. */
export type HandlerResult = Reply | readonly Reply[] | undefined;

/** A command implementation. May be async: replies still go out in request order. */
export type CommandHandler = (ctx: CommandContext) => HandlerResult | Promise<HandlerResult>;

/** What a handler sees of the request and its connection. */
export interface CommandContext {
  readonly server: SentinelServer;
  readonly client: ClientConnection;
  readonly command: Command;
  /** The request as received: argv[0] is the command name as typed. */
  readonly argv: readonly Buffer[];
  /** argv decoded as UTF-8 (decoded on first use). */
  readonly args: readonly string[];
  /** The connection's protocol when the command started (HELLO may change it). */
  readonly protocol: ProtocolVersion;
}

/** Documentation for COMMAND DOCS. */
export type CommandDoc = CatalogDoc;

/** Descriptions by full name that a table takes over what registrations say (command-catalog.ts). */
export type CommandCatalog = ReadonlyMap<string, CatalogEntry>;

export interface CommandSpec {
  /** Lowercase name (`ping`, or `masters` for a subcommand of `sentinel`). */
  name: string;
  /** Redis arity: N means exactly N arguments including the name(s); -N means at least N. */
  arity: number;
  /** Runs the command. A container with subcommands may omit it (its arity then needs ≥ 2 args). */
  handler?: CommandHandler;
  /** COMMAND flags, e.g. `fast`, `loading`, `stale`, `noscript`, `admin`, `no_auth`, `pubsub`. */
  flags?: readonly string[];
  /** ACL categories, e.g. `@fast`, `@connection`. */
  categories?: readonly string[];
  /** Command tips (`nondeterministic_output`, `request_policy:all_shards`, ...). */
  tips?: readonly string[];
  doc?: CommandDoc;
  /** Allowed while a RESP2 connection is subscribed (Redis allows only (P)(UN)SUBSCRIBE, PING, QUIT, RESET). */
  subscribedContext?: boolean;
  /**
   * Accepted but never listed (COMMAND, COMMAND COUNT/LIST/INFO/DOCS, ACL CAT) nor subject to ACL
   * rules: a leniency for what clients send though Sentinel 7.0 does not know it (QUIT).
   */
  hidden?: boolean;
  subcommands?: readonly CommandSpec[];
}

/**
 * Thrown by a handler to reply with a specific error, e.g.
 * `throw new ReplyError('NOQUORUM 1 usable Sentinels...')` or `ReplyError.err('No such master with that name')`.
 * Any other exception becomes `-ERR internal error` (and is logged).
 */
export class ReplyError extends Error {
  override readonly name = 'ReplyError';

  /** `text` starts with the error code: `ERR ...`, `NOAUTH ...`. */
  constructor(readonly text: string) {
    super(text);
  }

  static err(message: string): ReplyError {
    return new ReplyError(`ERR ${message}`);
  }

  get reply(): Reply {
    return { t: 'error', s: this.text };
  }
}

export class Command {
  readonly name: string;
  /** `ping`, or `client|setname` for a subcommand. */
  readonly fullName: string;
  readonly arity: number;
  readonly handler: CommandHandler | undefined;
  readonly flags: readonly string[];
  readonly categories: readonly string[];
  readonly tips: readonly string[];
  readonly doc: CommandDoc | undefined;
  readonly noAuth: boolean;
  readonly subscribedContext: boolean;
  readonly hidden: boolean;
  readonly subcommands = new Map<string, Command>();

  /** With a catalog, its entry for this command (if any) sets arity, flags, categories, tips, doc. */
  constructor(
    spec: CommandSpec,
    readonly parent?: Command,
    private readonly catalog?: CommandCatalog,
  ) {
    const name = spec.name.toLowerCase();
    if (name === '' || /[\s|]/.test(name)) throw new Error(`invalid command name "${spec.name}"`);
    this.name = name;
    this.fullName = parent ? `${parent.fullName}|${name}` : name;
    const described = catalog?.get(this.fullName);
    const arity = described?.arity ?? spec.arity;
    if (!Number.isInteger(arity) || arity === 0) {
      throw new Error(`invalid arity ${arity} for command "${spec.name}"`);
    }
    this.arity = arity;
    this.handler = spec.handler;
    this.flags = described?.flags ?? spec.flags ?? [];
    this.categories = described?.categories ?? spec.categories ?? [];
    this.tips = described?.tips ?? (described ? [] : (spec.tips ?? []));
    this.doc = described?.doc ?? spec.doc;
    this.noAuth = this.flags.includes('no_auth');
    this.subscribedContext = spec.subscribedContext ?? false;
    this.hidden = (spec.hidden ?? false) || (parent?.hidden ?? false);
    for (const sub of spec.subcommands ?? []) this.addSubcommand(sub);
  }

  addSubcommand(spec: CommandSpec): Command {
    const sub = new Command(spec, this, this.catalog);
    this.subcommands.set(sub.name, sub);
    return sub;
  }

  get isContainer(): boolean {
    return this.subcommands.size > 0;
  }

  /** Subcommands COMMAND and ACL show (not hidden), in registration order. */
  listedSubcommands(): Command[] {
    return [...this.subcommands.values()].filter((c) => !c.hidden);
  }

  /** Whether `argc` arguments (including the command name) satisfy the arity. */
  arityAccepts(argc: number): boolean {
    return this.arity > 0 ? argc === this.arity : argc >= -this.arity;
  }
}

export type Lookup = { readonly command: Command } | { readonly error: Reply };

function lowerName(b: Buffer): string {
  return b.toString('latin1').toLowerCase();
}

/** `%.Ns` of C: at most `max` bytes, stopping at a NUL. */
function cString(b: Buffer, max: number): Buffer {
  const nul = b.indexOf(0);
  const end = Math.min(nul < 0 ? b.length : nul, max);
  return b.subarray(0, end);
}

function errorBytes(...parts: (string | Buffer)[]): Reply {
  const buf = Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'latin1') : p)));
  // Redis's rejectCommandFormat turns CR/LF into spaces.
  for (let i = 0; i < buf.length; i++) if (buf[i] === 13 || buf[i] === 10) buf[i] = 32;
  return { t: 'error', s: buf };
}

/** `-ERR unknown command 'foo', with args beginning with: 'a' 'b' ` exactly as Redis 7 formats it. */
export function unknownCommandError(argv: readonly Buffer[]): Reply {
  const args: Buffer[] = [];
  let length = 0;
  for (let i = 1; i < argv.length && length < 128; i++) {
    const part = Buffer.concat([
      Buffer.from("'", 'latin1'),
      cString(argv[i] as Buffer, 128 - length),
      Buffer.from("' ", 'latin1'),
    ]);
    args.push(part);
    length += part.length;
  }
  return errorBytes(
    "ERR unknown command '",
    cString(argv[0] ?? Buffer.alloc(0), 128),
    "', with args beginning with: ",
    ...args,
  );
}

/** `-ERR unknown subcommand 'foo'. Try CLIENT HELP.` */
export function unknownSubcommandError(container: Buffer, sub: Buffer): Reply {
  return errorBytes(
    "ERR unknown subcommand '",
    cString(sub, 128),
    "'. Try ",
    cString(container, Number.MAX_SAFE_INTEGER).toString('latin1').toUpperCase(),
    ' HELP.',
  );
}

/** `-ERR wrong number of arguments for 'client|setname' command` */
export function arityError(fullName: string): Reply {
  return { t: 'error', s: `ERR wrong number of arguments for '${fullName}' command` };
}

export class CommandTable {
  private readonly commands = new Map<string, Command>();
  private changes = 0;

  /** With a catalog, registered commands take their descriptions from it (see Command). */
  constructor(private readonly catalog?: CommandCatalog) {}

  /** Adds (or replaces) a top-level command. */
  register(spec: CommandSpec): Command {
    const cmd = new Command(spec, undefined, this.catalog);
    this.commands.set(cmd.name, cmd);
    this.changes++;
    return cmd;
  }

  /** Adds (or replaces) a subcommand of a registered container (e.g. `sentinel`). */
  registerSubcommand(parent: string, spec: CommandSpec): Command {
    const container = this.commands.get(parent.toLowerCase());
    if (!container) throw new Error(`no command "${parent}" to add subcommand "${spec.name}" to`);
    this.changes++;
    return container.addSubcommand(spec);
  }

  unregister(name: string): boolean {
    this.changes++;
    return this.commands.delete(name.toLowerCase());
  }

  /** Changes with every registration: what caches derived from the table compare. */
  get version(): number {
    return this.changes;
  }

  get(name: string): Command | undefined {
    const [base, sub] = name.toLowerCase().split('|', 2);
    const cmd = this.commands.get(base ?? '');
    return sub === undefined ? cmd : cmd?.subcommands.get(sub);
  }

  /** Top-level commands in registration order, hidden ones included. */
  all(): Command[] {
    return [...this.commands.values()];
  }

  /** Top-level commands COMMAND and ACL show (not hidden), in registration order. */
  listed(): Command[] {
    return this.all().filter((c) => !c.hidden);
  }

  /** Every listed command and subcommand, each container followed by its subcommands. */
  listedWithSubcommands(): Command[] {
    const out: Command[] = [];
    for (const cmd of this.listed()) out.push(cmd, ...cmd.listedSubcommands());
    return out;
  }

  /** A listed command by name (`ping`, `client|kill`; any case), else undefined. */
  getListed(name: string): Command | undefined {
    const cmd = this.get(name);
    return cmd && !cmd.hidden ? cmd : undefined;
  }

  /** How many top-level commands are listed (COMMAND COUNT). */
  get size(): number {
    return this.listed().length;
  }

  /** Resolves argv to a command, or to the error Redis replies (unknown command/subcommand, arity). */
  lookup(argv: readonly Buffer[]): Lookup {
    const name = argv[0] as Buffer;
    const raw = name.toString('latin1');
    // toLowerCase() only folds ASCII into ASCII for latin1 text, so it cannot create false matches
    // with the (ASCII) registered names.
    const base = this.commands.get(raw) ?? this.commands.get(raw.toLowerCase());
    if (!base) return { error: unknownCommandError(argv) };
    let cmd = base;
    if (argv.length >= 2 && base.isContainer) {
      const sub = base.subcommands.get(lowerName(argv[1] as Buffer));
      if (!sub) return { error: unknownSubcommandError(name, argv[1] as Buffer) };
      cmd = sub;
    }
    if (!cmd.arityAccepts(argv.length) || !cmd.handler) return { error: arityError(cmd.fullName) };
    return { command: cmd };
  }
}

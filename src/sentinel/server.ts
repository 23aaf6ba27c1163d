/**
 * The Sentinel port: a TCP server speaking RESP2/RESP3 to stock Redis Sentinel clients.
 *
 * Per connection: requests are parsed incrementally and executed one at a time in arrival order;
 * a handler may be async, in which case later pipelined requests wait (as in Redis, each request
 * sees the effects of the previous one: AUTH, HELLO, QUIT, CLIENT KILL). Replies produced while
 * handling one read are written with a single socket write.
 *
 * Flow control and limits: reading pauses while a slow async handler has a backlog, or while the
 * client does not read its replies; a request larger than the query buffer limit closes the
 * connection; a subscriber whose pending output passes the pub/sub output limit is disconnected
 * (Redis `client-output-buffer-limit pubsub`); idle clients are closed after `idleTimeoutMs`
 * (0 = never; subscribers are exempt, as in Redis); at most `maxClients` connections.
 *
 * The daemon extends the command table (`register`, `registerSubcommand`) with SENTINEL, INFO,
 * ROLE, SHUTDOWN ..., and emits events with `publish`.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { formatAddress } from '../config/address.js';
import { type Logger, silentLogger } from '../util/log.js';
import { type AclCommand, AclCommandIndex, AclLog, nopermText, pubsubRevoked } from './acl.js';
import { AclDirectory, type AclStore, MemoryAclStore } from './acl-users.js';
import { SENTINEL_CATALOG } from './command-catalog.js';
import {
  Command,
  type CommandCatalog,
  type CommandContext,
  type CommandHandler,
  type CommandSpec,
  CommandTable,
  type HandlerResult,
  ReplyError,
} from './command-table.js';
import { clientInfoLine, type GenericCommandOptions, registerGenericCommands } from './commands-generic.js';
import { type Bytes, type OutgoingMessage, PubSubHub, type Subscriber } from './pubsub.js';
import {
  DEFAULT_PARSER_LIMITS,
  type ParserLimits,
  ProtocolError,
  type ProtocolVersion,
  type Reply,
  ReplyWriter,
  RespParser,
  writeReply,
} from './resp.js';

export type { CommandContext, CommandHandler, CommandSpec, HandlerResult };
export { Command, ReplyError };

/** Redis `client-output-buffer-limit <class> <hard> <soft> <soft-seconds>`; 0 disables a limit. */
export interface OutputBufferLimit {
  hardBytes: number;
  softBytes: number;
  softSeconds: number;
}

export interface SentinelServerOptions {
  /** Listen host. Default 127.0.0.1. */
  host?: string;
  /** Listen port; 0 picks a free one (see `port` after listen()). Default 26379. */
  port?: number;
  logger?: Logger;
  /**
   * Password of the default user; undefined = no AUTH needed (nopass). An ACL SETUSER default
   * committed in `acl` takes over.
   */
  requirepass?: string;
  /** Where ACL users live (the daemon: the replicated state). Default: in memory. */
  acl?: AclStore;
  /**
   * Descriptions commands take over their registrations (COMMAND, ACL categories). Default:
   * Sentinel 7.0's (command-catalog.ts); null: each registration as it is.
   */
  commandCatalog?: CommandCatalog | null;
  /** Reported by HELLO (and INFO's redis_version). Default "7.0.15". */
  version?: string;
  /** Most simultaneous clients; more are refused with `-ERR max number of clients reached`. Default 10000. */
  maxClients?: number;
  /** Close clients idle for this long (ms); subscribers are exempt. Default 0 = never (Redis `timeout 0`). */
  idleTimeoutMs?: number;
  /** Request parsing limits; see DEFAULT_PARSER_LIMITS. */
  parserLimits?: Partial<ParserLimits>;
  /** Default: normal clients unlimited; pubsub hard 32 MiB, soft 8 MiB for 60 s (as Redis). */
  outputLimits?: { normal?: Partial<OutputBufferLimit>; pubsub?: Partial<OutputBufferLimit> };
  /** TCP keepalive initial delay (ms); 0 disables. Default 300000 (Redis `tcp-keepalive 300`). */
  tcpKeepAliveMs?: number;
  /**
   * Register the generic commands (PING, AUTH, HELLO, CLIENT, COMMAND, QUIT, (P)(UN)SUBSCRIBE,
   * and SHUTDOWN if a hook is given). Default true.
   */
  genericCommands?: boolean | GenericCommandOptions;
}

export const DEFAULT_OUTPUT_LIMITS: Readonly<{ normal: OutputBufferLimit; pubsub: OutputBufferLimit }> =
  Object.freeze({
    normal: { hardBytes: 0, softBytes: 0, softSeconds: 0 },
    pubsub: { hardBytes: 32 * 1024 * 1024, softBytes: 8 * 1024 * 1024, softSeconds: 60 },
  });

export const DEFAULT_MAX_CLIENTS = 10_000;
export const DEFAULT_VERSION = '7.0.15';

/** Stop reading from a client while an async handler runs and this much input is waiting. */
const READ_BACKLOG_BYTES = 256 * 1024;
/** Stop executing a client's requests while this much of its output is unsent. */
const OUTPUT_BACKLOG_BYTES = 1024 * 1024;
/** How long a closing connection may take to flush its last reply before it is destroyed. */
const CLOSE_FLUSH_TIMEOUT_MS = 5_000;

export type ClientType = 'normal' | 'pubsub';

/** CLIENT PAUSE: every command, or only those that may replicate (PUBLISH, on a Sentinel). */
export type PauseType = 'all' | 'write';
/** Commands CLIENT PAUSE WRITE holds: Sentinel 7.0's `may_replicate` ones. */
const WRITE_PAUSED_COMMANDS: ReadonlySet<string> = new Set(['publish']);

/** CLIENT TRACKING state: a Sentinel has no keys, so it never sends an invalidation. */
export interface TrackingState {
  bcast: boolean;
  optin: boolean;
  optout: boolean;
  noloop: boolean;
  /** CLIENT CACHING yes/no given for the next command. */
  caching: boolean;
  /** Client id invalidations would go to (0: none). */
  redirect: number;
  prefixes: string[];
}

/** Running counters (INFO stats). */
export interface ServerCounters {
  startedAtMs: number;
  maxClients: number;
  totalConnectionsReceived: number;
  rejectedConnections: number;
  totalCommandsProcessed: number;
  totalErrorReplies: number;
  totalNetInputBytes: number;
  totalNetOutputBytes: number;
}

/** Counters and gauges for INFO. */
export interface ServerStats extends ServerCounters {
  connectedClients: number;
  pubsubChannels: number;
  pubsubPatterns: number;
  /** Largest query buffer / output backlog among current clients. */
  clientMaxInputBuffer: number;
  clientMaxOutputBuffer: number;
}

/** Filter of CLIENT KILL / CLIENT LIST (all given fields must match). */
export interface ClientFilter {
  id?: number;
  ids?: readonly number[];
  type?: ClientType;
  addr?: string;
  laddr?: string;
  user?: string;
  /** Skip this client. */
  skip?: ClientConnection;
}

function isPromise(v: unknown): v is Promise<HandlerResult> {
  return typeof v === 'object' && v !== null && typeof (v as { then?: unknown }).then === 'function';
}

class Context implements CommandContext {
  private decoded: string[] | undefined;

  constructor(
    readonly server: SentinelServer,
    readonly client: ClientConnection,
    readonly command: Command,
    readonly argv: readonly Buffer[],
    readonly protocol: ProtocolVersion,
  ) {}

  get args(): readonly string[] {
    this.decoded ??= this.argv.map((a) => a.toString('utf8'));
    return this.decoded;
  }
}

const NOAUTH: Reply = { t: 'error', s: 'NOAUTH Authentication required.' };
const INTERNAL_ERROR: Reply = { t: 'error', s: 'ERR internal error' };

/** One client connection and its state (what CLIENT LIST shows). */
export class ClientConnection implements Subscriber {
  readonly id: number;
  /** Peer `ip:port`. */
  readonly addr: string;
  /** Local `ip:port`. */
  readonly laddr: string;
  readonly createdAtMs: number;
  lastInteractionMs: number;
  name: string | null = null;
  libName: string | null = null;
  libVer: string | null = null;
  protocol: ProtocolVersion = 2;
  authenticated: boolean;
  /** The ACL user this client runs as (its name; `default` until AUTH). */
  user = 'default';
  /** CLIENT TRACKING, when on. */
  tracking: TrackingState | null = null;
  /** CLIENT REPLY OFF: no replies until CLIENT REPLY ON. */
  private replyOff = false;
  /** CLIENT REPLY SKIP: drop the reply of the next command. */
  private replySkipNext = false;
  private replySkipCurrent = false;
  /** Full name of the last command run (`client|list`), or null. */
  lastCommand: string | null = null;
  readonly channels = new Map<string, Buffer>();
  readonly patterns = new Map<string, Buffer>();

  private readonly parser: RespParser;
  private readonly writer = new ReplyWriter();
  /** An async handler is running. */
  private busy = false;
  private pumping = false;
  private outputBlocked = false;
  private readPaused = false;
  private readEnded = false;
  private closeAfter = false;
  private closed = false;
  private softLimitSinceMs = 0;
  private flushTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly server: SentinelServer,
    readonly socket: Socket,
    id: number,
    private readonly log: Logger,
  ) {
    this.id = id;
    this.addr = formatAddress(socket.remoteAddress ?? '?', socket.remotePort ?? 0);
    this.laddr = formatAddress(socket.localAddress ?? '?', socket.localPort ?? 0);
    this.createdAtMs = Date.now();
    this.lastInteractionMs = this.createdAtMs;
    this.authenticated = server.defaultAuthenticates();
    this.parser = new RespParser(server.parserLimits);
    this.parser.authRequired = server.authRequired(this);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('end', () => this.onEnd());
    socket.on('drain', () => this.onDrain());
    socket.on('error', (err) => this.log.debug({ client_id: id, err: err.message }, 'client socket error'));
    socket.on('close', () => this.onClose());
  }

  // --- state visible to commands -------------------------------------------------------------

  get subscriptionCount(): number {
    return this.channels.size + this.patterns.size;
  }

  /** Redis's CLIENT_PUBSUB flag: the client has at least one subscription. */
  get isPubSub(): boolean {
    return this.channels.size + this.patterns.size > 0;
  }

  get type(): ClientType {
    return this.isPubSub ? 'pubsub' : 'normal';
  }

  /** Bytes of requests received and not yet executed. */
  get queryBufferBytes(): number {
    return this.parser.pendingBytes;
  }

  /** Bytes of replies not yet handed to the kernel. */
  get outputBufferBytes(): number {
    return this.socket.writableLength + this.writer.length;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** The socket's file descriptor when known (CLIENT LIST `fd=`), else -1. */
  get fd(): number {
    const handle = (this.socket as unknown as { _handle?: { fd?: unknown } })._handle;
    return typeof handle?.fd === 'number' ? handle.fd : -1;
  }

  /** Close the connection once the replies so far are sent (QUIT, CLIENT KILL of oneself). */
  closeAfterReply(): void {
    this.closeAfter = true;
  }

  /**
   * Disconnect a client whose user went away: like kill(), but a command in flight still gets its
   * reply first (Redis closes the current client after its command: ACL DELUSER of oneself).
   */
  terminate(reason: string): void {
    if (this.closed) return;
    this.authenticated = false;
    if (this.busy) {
      this.log.debug({ client_id: this.id, addr: this.addr, reason }, 'closing client after its reply');
      this.closeAfter = true;
      return;
    }
    this.kill(reason);
  }

  /** Close the connection now, dropping unsent output (CLIENT KILL, limits, server close). */
  kill(reason: string): void {
    if (this.closed) return;
    this.log.debug({ client_id: this.id, addr: this.addr, reason }, 'closing client');
    this.closed = true;
    this.parser.release();
    this.socket.destroy();
  }

  /** Queue a reply outside of a command's result (flushed with the current batch). */
  write(reply: Reply): void {
    if (this.closed) return;
    writeReply(this.writer, reply, this.protocol);
    if (reply.t === 'error') this.server.stats.totalErrorReplies++;
    if (!this.pumping && !this.busy) this.flush();
  }

  /** Pub/Sub delivery (called by the hub). */
  deliver(message: OutgoingMessage): void {
    if (this.closed) return;
    this.flush();
    if (this.closed) return;
    const bytes = message.encoded(this.protocol);
    this.server.stats.totalNetOutputBytes += bytes.length;
    this.socket.write(bytes);
    this.checkOutputLimits();
  }

  /** CLIENT REPLY ON|OFF|SKIP (Redis: SKIP has no effect while OFF). */
  setReplyMode(mode: 'on' | 'off' | 'skip'): void {
    if (mode === 'on') {
      this.replyOff = false;
      this.replySkipNext = false;
      this.replySkipCurrent = false;
    } else if (mode === 'off') {
      this.replyOff = true;
    } else if (!this.replyOff) {
      this.replySkipNext = true;
    }
  }

  /** Called by the server after a change of requirepass. */
  refreshAuth(): void {
    this.parser.authRequired = this.server.authRequired(this);
  }

  // --- request processing --------------------------------------------------------------------

  private onData(chunk: Buffer): void {
    if (this.closed || this.closeAfter) return;
    this.lastInteractionMs = Date.now();
    this.server.stats.totalNetInputBytes += chunk.length;
    this.parser.feed(chunk);
    this.pump();
  }

  private onEnd(): void {
    this.readEnded = true;
    if (!this.busy) this.pump();
  }

  private onDrain(): void {
    if (this.outputBlocked) {
      this.outputBlocked = false;
      this.pump();
    }
  }

  private onClose(): void {
    this.closed = true;
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.parser.release();
    this.server.detach(this);
  }

  /** Executes every complete request while nothing (async handler, slow reader) stands in the way. */
  private pump(): void {
    if (this.pumping || this.closed) return;
    this.pumping = true;
    let exhausted = false;
    try {
      while (!this.busy && !this.closed && !this.closeAfter && !this.outputBlocked) {
        let argv: Buffer[] | null;
        try {
          argv = this.parser.next();
        } catch (e) {
          if (!(e instanceof ProtocolError)) throw e;
          this.onProtocolError(e);
          break;
        }
        if (argv === null) {
          exhausted = true;
          break;
        }
        this.execute(argv);
        if (this.writer.length > OUTPUT_BACKLOG_BYTES) this.flush();
      }
    } finally {
      this.pumping = false;
    }
    this.flush();
    if (this.closed) return;
    if (this.readEnded && exhausted && !this.closeAfter) {
      // The client sent FIN: everything complete was executed; close once replies are out.
      this.closeAfter = true;
      this.flush();
      return;
    }
    this.updateReading();
  }

  private execute(argv: Buffer[]): void {
    const server = this.server;
    server.stats.totalCommandsProcessed++;
    // CLIENT REPLY SKIP drops the reply of the command after it, whatever that command is.
    this.replySkipCurrent = this.replySkipNext;
    this.replySkipNext = false;
    const found = server.commands.lookup(argv);
    if ('error' in found) {
      this.writeResult(found.error);
      return;
    }
    const cmd = found.command;
    this.lastCommand = cmd.fullName;
    if (server.authRequired(this) && !cmd.noAuth) {
      this.writeResult(NOAUTH);
      return;
    }
    const denied = cmd.hidden ? null : server.checkPermission(this, cmd, argv);
    if (denied) {
      this.writeResult(denied);
      return;
    }
    if (this.protocol === 2 && this.isPubSub && !cmd.subscribedContext) {
      this.writeResult({
        t: 'error',
        s: `ERR Can't execute '${cmd.fullName}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context`,
      });
      return;
    }
    this.run(cmd, argv);
  }

  /** Runs a command that passed the checks, unless CLIENT PAUSE holds it (then once it ends). */
  private run(cmd: Command, argv: Buffer[]): void {
    const server = this.server;
    if (server.holds(cmd)) {
      this.busy = true;
      server.whenUnpaused(() => {
        this.busy = false;
        if (this.closed) return;
        if (!this.closeAfter) this.run(cmd, argv);
        if (!this.busy) this.pump();
      });
      return;
    }
    const ctx = new Context(server, this, cmd, argv, this.protocol);
    let result: HandlerResult | Promise<HandlerResult>;
    try {
      result = (cmd.handler as CommandHandler)(ctx);
    } catch (e) {
      result = this.handlerFailure(cmd, e);
    }
    if (isPromise(result)) {
      this.busy = true;
      result.then(
        (r) => this.finishAsync(cmd, r),
        (e: unknown) => this.finishAsync(cmd, this.handlerFailure(cmd, e)),
      );
      return;
    }
    this.writeResult(result);
    this.afterCommand(cmd);
  }

  private finishAsync(cmd: Command, result: HandlerResult): void {
    this.busy = false;
    if (this.closed) return;
    this.writeResult(result);
    this.afterCommand(cmd);
    this.pump();
  }

  private afterCommand(cmd: Command): void {
    this.parser.authRequired = this.server.authRequired(this);
    // Redis forgets CLIENT CACHING once a command other than CLIENT ran.
    if (this.tracking && (cmd.parent ?? cmd).name !== 'client') this.tracking.caching = false;
  }

  private handlerFailure(cmd: Command, e: unknown): Reply {
    if (e instanceof ReplyError) return e.reply;
    this.log.error({ err: e, command: cmd.fullName, client_id: this.id }, 'command handler failed');
    return INTERNAL_ERROR;
  }

  private writeResult(result: HandlerResult): void {
    if (result === undefined || this.closed) return;
    const stats = this.server.stats;
    if (this.replyOff || this.replySkipCurrent) {
      // CLIENT REPLY OFF/SKIP: nothing is sent; errors still count (Redis counts them as made).
      for (const r of Array.isArray(result) ? (result as readonly Reply[]) : [result as Reply])
        if (r.t === 'error') stats.totalErrorReplies++;
      return;
    }
    if (Array.isArray(result)) {
      for (const r of result as readonly Reply[]) {
        writeReply(this.writer, r, this.protocol);
        if (r.t === 'error') stats.totalErrorReplies++;
      }
    } else {
      const r = result as Reply;
      writeReply(this.writer, r, this.protocol);
      if (r.t === 'error') stats.totalErrorReplies++;
    }
  }

  private onProtocolError(e: ProtocolError): void {
    this.log.debug({ client_id: this.id, addr: this.addr, error: e.kind }, 'protocol error from client');
    if (e.reply) {
      writeReply(this.writer, { t: 'error', s: e.reply }, this.protocol);
      this.server.stats.totalErrorReplies++;
      this.closeAfter = true;
    } else {
      this.log.warn(
        { client_id: this.id, addr: this.addr, limit: this.server.parserLimits.maxQueryBuffer },
        'closing client that reached max query buffer length',
      );
      this.flush();
      this.kill('query buffer limit');
    }
  }

  /** Hands pending replies to the socket; ends the connection when a close was requested. */
  private flush(): void {
    if (this.closed) return;
    if (this.writer.length > 0) {
      const out = this.writer.take();
      this.server.stats.totalNetOutputBytes += out.length;
      this.lastInteractionMs = Date.now();
      this.socket.write(out);
      if (this.socket.writableLength > OUTPUT_BACKLOG_BYTES) this.outputBlocked = true;
      this.checkOutputLimits();
      if (this.closed) return;
    }
    if (this.closeAfter && !this.busy && !this.flushTimer) {
      // Like Redis: close once the last reply is written. Input keeps being read (and dropped)
      // until then, so that unread input does not turn the close into a reset.
      this.socket.end(() => this.socket.destroy());
      this.flushTimer = setTimeout(() => this.kill('close timeout'), CLOSE_FLUSH_TIMEOUT_MS);
      this.flushTimer.unref();
    }
  }

  private updateReading(): void {
    const shouldPause =
      !this.closeAfter &&
      (this.outputBlocked || (this.busy && this.parser.pendingBytes > READ_BACKLOG_BYTES));
    if (shouldPause && !this.readPaused) {
      this.readPaused = true;
      this.socket.pause();
    } else if (!shouldPause && this.readPaused) {
      this.readPaused = false;
      this.socket.resume();
    }
  }

  /** Applies the output buffer limit of the client's class; returns false if it was closed. */
  checkOutputLimits(now = Date.now()): boolean {
    if (this.closed) return false;
    const limit = this.isPubSub ? this.server.outputLimits.pubsub : this.server.outputLimits.normal;
    const pending = this.outputBufferBytes;
    if (limit.hardBytes > 0 && pending > limit.hardBytes) {
      this.overLimit(pending, 'hard');
      return false;
    }
    if (limit.softBytes > 0 && pending > limit.softBytes) {
      if (this.softLimitSinceMs === 0) this.softLimitSinceMs = now;
      else if (now - this.softLimitSinceMs >= limit.softSeconds * 1000) {
        this.overLimit(pending, 'soft');
        return false;
      }
    } else {
      this.softLimitSinceMs = 0;
    }
    return true;
  }

  private overLimit(pending: number, which: 'hard' | 'soft'): void {
    this.log.warn(
      { client_id: this.id, addr: this.addr, type: this.type, pending_bytes: pending, limit: which },
      'client scheduled to be closed for overcoming of output buffer limits',
    );
    this.kill('output buffer limit');
  }

  /** Whether the idle timeout applies to this client now. */
  idleExempt(): boolean {
    return this.isPubSub || this.busy;
  }

  /** Whether the soft output limit may need a timed check. */
  get softLimitPending(): boolean {
    return this.softLimitSinceMs !== 0;
  }

  matches(f: ClientFilter): boolean {
    if (f.skip === this) return false;
    if (f.id !== undefined && f.id !== this.id) return false;
    if (f.ids !== undefined && !f.ids.includes(this.id)) return false;
    if (f.type !== undefined && f.type !== this.type) return false;
    if (f.addr !== undefined && f.addr !== this.addr) return false;
    if (f.laddr !== undefined && f.laddr !== this.laddr) return false;
    if (f.user !== undefined && f.user !== this.user) return false;
    return true;
  }
}

export class SentinelServer {
  readonly commands: CommandTable;
  readonly pubsub = new PubSubHub();
  readonly version: string;
  readonly maxClients: number;
  readonly idleTimeoutMs: number;
  readonly parserLimits: Readonly<ParserLimits>;
  readonly outputLimits: { readonly normal: OutputBufferLimit; readonly pubsub: OutputBufferLimit };
  readonly stats: ServerCounters;
  readonly logger: Logger;

  /** ACL users as this port uses them. */
  readonly acl: AclDirectory;
  /** ACL LOG: this port's recent denials and failed authentications. */
  readonly aclLog = new AclLog();

  private readonly host: string;
  private readonly requestedPort: number;
  private readonly keepAliveMs: number;
  private aclIndexCache: { version: number; index: AclCommandIndex } | null = null;
  private pause: { type: PauseType; endMs: number; timer: NodeJS.Timeout } | null = null;
  private pauseWaiters: (() => void)[] = [];
  private readonly clientsById = new Map<number, ClientConnection>();
  private nextClientId = 1;
  private server: Server | null = null;
  private boundPort = 0;
  private sweeper: NodeJS.Timeout | undefined;

  constructor(opts: SentinelServerOptions = {}) {
    const catalog = opts.commandCatalog === undefined ? SENTINEL_CATALOG : opts.commandCatalog;
    this.commands = new CommandTable(catalog ?? undefined);
    this.host = opts.host ?? '127.0.0.1';
    this.requestedPort = opts.port ?? 26379;
    this.logger = (opts.logger ?? silentLogger).child({ component: 'sentinel-port' });
    this.version = opts.version ?? DEFAULT_VERSION;
    this.maxClients = opts.maxClients ?? DEFAULT_MAX_CLIENTS;
    this.idleTimeoutMs = opts.idleTimeoutMs ?? 0;
    this.keepAliveMs = opts.tcpKeepAliveMs ?? 300_000;
    this.parserLimits = { ...DEFAULT_PARSER_LIMITS, ...opts.parserLimits };
    this.outputLimits = {
      normal: { ...DEFAULT_OUTPUT_LIMITS.normal, ...opts.outputLimits?.normal },
      pubsub: { ...DEFAULT_OUTPUT_LIMITS.pubsub, ...opts.outputLimits?.pubsub },
    };
    const store = opts.acl ?? new MemoryAclStore();
    this.acl = new AclDirectory(store, () => this.aclIndex(), opts.requirepass);
    store.onChange(() => this.onAclChange());
    this.stats = {
      startedAtMs: Date.now(),
      maxClients: this.maxClients,
      totalConnectionsReceived: 0,
      rejectedConnections: 0,
      totalCommandsProcessed: 0,
      totalErrorReplies: 0,
      totalNetInputBytes: 0,
      totalNetOutputBytes: 0,
    };
    const generic = opts.genericCommands ?? true;
    if (generic !== false) registerGenericCommands(this, generic === true ? {} : generic);
  }

  // --- lifecycle -----------------------------------------------------------------------------

  /** Starts listening; resolves with the bound address (the actual port when 0 was asked). */
  async listen(): Promise<{ host: string; port: number }> {
    if (this.server) throw new Error('SentinelServer is already listening');
    const server = createServer({ allowHalfOpen: true, noDelay: true }, (socket) => this.accept(socket));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error): void => {
        this.server = null;
        reject(err);
      };
      server.once('error', onError);
      server.listen(this.requestedPort, this.host, () => {
        server.off('error', onError);
        resolve();
      });
    });
    server.on('error', (err) => this.logger.error({ err }, 'sentinel listener error'));
    const address = server.address();
    this.boundPort = typeof address === 'object' && address ? address.port : this.requestedPort;
    this.startSweeper();
    this.logger.info({ listen: formatAddress(this.host, this.boundPort) }, 'sentinel port listening');
    return { host: this.host, port: this.boundPort };
  }

  /** The bound port (after listen()). */
  get port(): number {
    return this.boundPort;
  }

  get address(): string {
    return formatAddress(this.host, this.boundPort);
  }

  get listening(): boolean {
    return this.server !== null;
  }

  /** Stops listening and drops every client now. */
  async close(): Promise<void> {
    const server = this.server;
    if (this.sweeper) clearInterval(this.sweeper);
    this.sweeper = undefined;
    if (this.pause) clearTimeout(this.pause.timer);
    this.pause = null;
    this.pauseWaiters = [];
    for (const c of [...this.clientsById.values()]) c.kill('server closing');
    if (!server) return;
    this.server = null;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    this.logger.info('sentinel port closed');
  }

  // --- command table -------------------------------------------------------------------------

  /** Adds or replaces a top-level command: `register(spec)` or `register(name, arity, handler, extra)`. */
  register(spec: CommandSpec): Command;
  register(name: string, arity: number, handler: CommandHandler, extra?: Partial<CommandSpec>): Command;
  register(
    specOrName: CommandSpec | string,
    arity?: number,
    handler?: CommandHandler,
    extra?: Partial<CommandSpec>,
  ): Command {
    if (typeof specOrName === 'string') {
      return this.commands.register({ ...extra, name: specOrName, arity: arity as number, handler });
    }
    return this.commands.register(specOrName);
  }

  /** Adds or replaces a subcommand of a registered container command (e.g. `sentinel`). */
  registerSubcommand(parent: string, spec: CommandSpec): Command {
    return this.commands.registerSubcommand(parent, spec);
  }

  // --- pub/sub -------------------------------------------------------------------------------

  /**
   * Publishes to every client subscribed to `channel` or to a pattern matching it (e.g.
   * `publish('+switch-master', 'mymaster 10.0.0.1 6379 10.0.0.2 6379')`). Returns the number of
   * deliveries.
   */
  publish(channel: Bytes, message: Bytes): number {
    return this.pubsub.publish(channel, message);
  }

  // --- auth ----------------------------------------------------------------------------------

  /** Whether the default user has passwords (not `nopass`): AUTH <password> is meaningful. */
  get passwordRequired(): boolean {
    return !this.acl.defaultUser().nopass;
  }

  /**
   * Changes requirepass at run time (the default user's password while no ACL SETUSER default is
   * committed); connected clients keep their authentication state.
   */
  setRequirePass(password: string | undefined): void {
    this.acl.setRequirePass(password);
    for (const c of this.clientsById.values()) c.refreshAuth();
  }

  /** Whether a new connection starts authenticated (Redis: the default user is nopass and on). */
  defaultAuthenticates(): boolean {
    const d = this.acl.defaultUser();
    return d.nopass && d.enabled;
  }

  /** Whether `client` must authenticate before running commands not flagged `no_auth` (Redis's rule). */
  authRequired(client: ClientConnection): boolean {
    return !this.defaultAuthenticates() && !client.authenticated;
  }

  /** The command table as the ACL rules see it (listed commands only), rebuilt when it changes. */
  aclIndex(): AclCommandIndex {
    const version = this.commands.version;
    if (this.aclIndexCache?.version === version) return this.aclIndexCache.index;
    const entries: AclCommand[] = this.commands.listedWithSubcommands().map((c) => ({
      fullName: c.fullName,
      categories: c.categories,
      subcommands: c.listedSubcommands().map((s) => s.fullName),
      parent: c.parent?.fullName ?? null,
      noAuth: c.noAuth,
    }));
    const index = new AclCommandIndex(entries);
    this.aclIndexCache = { version, index };
    return index;
  }

  /**
   * Redis's ACL check before a command runs: null when `client`'s user may run it, else the
   * NOPERM error (and an ACL LOG entry).
   */
  checkPermission(client: ClientConnection, cmd: Command, argv: readonly Buffer[]): Reply | null {
    const entry = this.aclIndex().get(cmd.fullName);
    if (!entry) return null;
    const args = argv.map((b) => b.toString('latin1'));
    const user = this.acl.user(client.user);
    const denial = user ? user.check(entry, args) : { reason: 'command' as const, pos: 0 };
    if (!denial) return null;
    this.aclLog.add({
      reason: denial.reason,
      object: denial.reason === 'command' ? cmd.fullName : (args[denial.pos] ?? ''),
      username: client.user,
      atMs: Date.now(),
      clientInfo: clientInfoLine(client),
    });
    return { t: 'error', s: nopermText(denial, cmd.fullName) };
  }

  /**
   * After a change of the ACL users: clients of a deleted user are disconnected, subscribers that
   * lost a channel they listen to too (Redis's rules); everyone's auth state is refreshed.
   */
  private onAclChange(): void {
    this.acl.prune();
    for (const c of [...this.clientsById.values()]) {
      const user = this.acl.user(c.user);
      if (!user) {
        this.logger.info(
          { client_id: c.id, addr: c.addr, user: c.user },
          'closing client of a deleted ACL user',
        );
        c.terminate('ACL user deleted');
        continue;
      }
      if (c.isPubSub && pubsubRevoked(user, c.channels.keys(), c.patterns.keys())) {
        this.logger.info(
          { client_id: c.id, addr: c.addr, user: c.user },
          'closing subscriber that lost channel permissions',
        );
        c.terminate('channel permissions revoked');
        continue;
      }
      c.refreshAuth();
    }
  }

  // --- CLIENT PAUSE --------------------------------------------------------------------------

  /** CLIENT PAUSE: hold commands until `endMs` (wall clock); merges with a pause under way as Redis. */
  pauseClients(endMs: number, type: PauseType): void {
    const current = this.pause;
    const merged = {
      type: current?.type === 'all' || type === 'all' ? ('all' as const) : ('write' as const),
      endMs: Math.max(current?.endMs ?? 0, endMs),
    };
    if (current) clearTimeout(current.timer);
    const timer = setTimeout(() => this.unpauseClients(), Math.max(0, merged.endMs - Date.now()));
    timer.unref();
    this.pause = { ...merged, timer };
  }

  /** CLIENT UNPAUSE (or the pause's end): held commands run. */
  unpauseClients(): void {
    if (this.pause) clearTimeout(this.pause.timer);
    this.pause = null;
    const waiters = this.pauseWaiters;
    this.pauseWaiters = [];
    for (const w of waiters) w();
  }

  /** Whether CLIENT PAUSE holds `cmd` now. */
  holds(cmd: Command): boolean {
    const p = this.pause;
    if (!p) return false;
    if (Date.now() >= p.endMs) {
      this.unpauseClients();
      return false;
    }
    return p.type === 'all' || WRITE_PAUSED_COMMANDS.has(cmd.fullName);
  }

  /** Runs `fn` once the pause ends. */
  whenUnpaused(fn: () => void): void {
    this.pauseWaiters.push(fn);
  }

  // --- clients -------------------------------------------------------------------------------

  clients(filter: ClientFilter = {}): ClientConnection[] {
    return [...this.clientsById.values()].filter((c) => c.matches(filter));
  }

  client(id: number): ClientConnection | undefined {
    return this.clientsById.get(id);
  }

  /** Current counters (INFO clients / stats). */
  snapshotStats(): ServerStats {
    let maxIn = 0;
    let maxOut = 0;
    for (const c of this.clientsById.values()) {
      maxIn = Math.max(maxIn, c.queryBufferBytes);
      maxOut = Math.max(maxOut, c.outputBufferBytes);
    }
    return {
      ...this.stats,
      connectedClients: this.clientsById.size,
      pubsubChannels: this.pubsub.channelCount,
      pubsubPatterns: this.pubsub.patternCount,
      clientMaxInputBuffer: maxIn,
      clientMaxOutputBuffer: maxOut,
    };
  }

  /** @internal called by a connection when its socket closes. */
  detach(client: ClientConnection): void {
    if (this.clientsById.get(client.id) !== client) return;
    this.clientsById.delete(client.id);
    this.pubsub.removeSubscriber(client);
    this.logger.debug({ client_id: client.id, addr: client.addr }, 'client disconnected');
  }

  private accept(socket: Socket): void {
    if (!this.server) {
      socket.destroy();
      return;
    }
    if (this.clientsById.size >= this.maxClients) {
      this.stats.rejectedConnections++;
      socket.on('error', () => {});
      socket.end('-ERR max number of clients reached\r\n');
      setTimeout(() => socket.destroy(), 1000).unref();
      this.logger.debug({ addr: socket.remoteAddress }, 'refused client: max number of clients reached');
      return;
    }
    if (this.keepAliveMs > 0) socket.setKeepAlive(true, this.keepAliveMs);
    const id = this.nextClientId++;
    const conn = new ClientConnection(this, socket, id, this.logger);
    this.clientsById.set(id, conn);
    this.stats.totalConnectionsReceived++;
    this.logger.debug({ client_id: id, addr: conn.addr }, 'client connected');
  }

  private startSweeper(): void {
    const softSeconds = Math.min(
      this.outputLimits.normal.softBytes > 0
        ? this.outputLimits.normal.softSeconds
        : Number.POSITIVE_INFINITY,
      this.outputLimits.pubsub.softBytes > 0
        ? this.outputLimits.pubsub.softSeconds
        : Number.POSITIVE_INFINITY,
    );
    const candidates = [1000];
    if (this.idleTimeoutMs > 0) candidates.push(Math.max(10, Math.floor(this.idleTimeoutMs / 4)));
    if (Number.isFinite(softSeconds)) candidates.push(Math.max(10, softSeconds * 250));
    const interval = Math.min(...candidates);
    this.sweeper = setInterval(() => this.sweep(), interval);
    this.sweeper.unref();
  }

  /** Closes idle clients and clients over the soft output limit for too long (Redis clientsCron). */
  private sweep(): void {
    const now = Date.now();
    for (const c of [...this.clientsById.values()]) {
      if (this.idleTimeoutMs > 0 && !c.idleExempt() && now - c.lastInteractionMs > this.idleTimeoutMs) {
        this.logger.debug({ client_id: c.id, addr: c.addr }, 'closing idle client');
        c.kill('idle timeout');
        continue;
      }
      if (c.softLimitPending) c.checkOutputLimits(now);
    }
  }
}

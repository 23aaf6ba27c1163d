/**
 * A deterministic in-memory model of Redis 7.0 servers for the whole-system simulation.
 *
 * Everything runs on the simulation's virtual Scheduler and draws its randomness (run ids,
 * replication ids, network delays) from the seeded Random it is given; nothing reads the real
 * clock or opens a socket, so a seed replays exactly. Reachability between endpoints (servers are
 * named by "host:port", clients by any name) comes from the pluggable `canReach(from, to)`, so the
 * simulation's partitions (including one-way ones) apply to Redis traffic too.
 *
 * What it models (checked against real redis-server 7.0 by test/integration/redis-model-compat.test.ts):
 * - Connections as ordered pipes: a message waits (TCP retransmits) while its direction is cut and is
 *   delivered when the cut heals; a stalled (SIGSTOP) process receives nothing until resumed, but
 *   its connections stay open; a crashed one closes them (peers learn it when a packet gets through).
 *   New connections: refused at once when the server is down, SYN retransmits (1, 2, 4 ... s) while
 *   unreachable, accepted by the kernel while the server is stalled.
 * - Replication ids and offsets as 7.0 keeps them: master_replid / master_replid2 /
 *   second_repl_offset, master_repl_offset counted in RESP bytes (SET, SELECT after a history
 *   change, PING every repl-ping-replica-period = 10 s of master uptime while it has replicas).
 *   PSYNC is partial when the replica's id (or the master's replid2 up to second_repl_offset) matches
 *   and the offset is in the backlog (1 MB), else a full sync; creating the first backlog on a
 *   master gives it a new replid (syncCommand); diskless sync waits repl-diskless-sync-delay (5 s by
 *   default, checked once a second as 7.0's cron does). Replicas retry their master once a second,
 *   send REPLCONF ACK once a second, time out a silent link after repl-timeout (60 s).
 *   REPLICAOF NO ONE keeps the old id as replid2; a master made a replica psyncs with its own history.
 * - INFO quirks: a replica with neither a master link nor a cached master reports
 *   slave_repl_offset:1 (7.0's default); master_link_down_since_seconds:-1 until a link was lost;
 *   a replica that fully synced before the master's first write or PING reports offset 0.
 * - Writes: READONLY on replicas, -NOREPLICAS from min-replicas-to-write/min-replicas-max-lag with
 *   the good-replica count refreshed by the once-a-second cron (lag in whole seconds), CLIENT PAUSE
 *   WRITE|ALL queueing writes that are processed again (and may then fail) when the pause ends or
 *   CLIENT UNPAUSE runs (one client pause per server: a new one only extends it; UNPAUSE lifts the
 *   client pause, not a FAILOVER's or SHUTDOWN's), WAIT (GETACK to the replicas), CLIENT KILL TYPE,
 *   CONFIG SET (several pairs at once) / GET / REWRITE, FAILOVER [TO host port] [TIMEOUT ms] [FORCE]
 *   and FAILOVER ABORT (master_failover_state), SHUTDOWN [NOSAVE|SAVE] (waits up to 10 s for
 *   replicas), kill -9, restart, SIGSTOP/SIGCONT.
 * - Persistence: with it (`save 1 1`), an RDB is written once a second when dirty, at SHUTDOWN and
 *   when a replica finishes a full sync; a restart loads the last RDB (a crash loses what came after)
 *   with its replication id and offset (a master: new replid, old one as replid2). Without it a
 *   restart is empty with a new run id and replid. A config file keeps what CONFIG REWRITE wrote
 *   (replicaof, min-replicas-*); without one CONFIG REWRITE fails.
 *
 * What it does not model: databases other than 0, commands other than those listed, expiry,
 * eviction, AOF, MULTI around writes (a transaction runs at once, without pause semantics), ACLs
 * and AUTH, client output buffer limits, the RDB transfer time beyond one network delay,
 * repl-diskless-sync-max-replicas, replica-serve-stale-data no, Sentinel itself, and the exact
 * RESP size of anything but SET/SELECT/PING (offsets match real Redis for those).
 */
import type { TimerHandle } from '../../src/util/clock.js';
import type { Random } from '../../src/util/random.js';
import type { Scheduler } from './scheduler.js';

// ---------------------------------------------------------------------------------------------
// Replies

/** An error reply ("-ERR ...", "-READONLY ..."): the message without the leading dash. */
export class ReplyError {
  constructor(readonly message: string) {}
  get code(): string {
    return this.message.split(' ', 1)[0]!;
  }
}

export type Reply = string | number | null | ReplyError | Reply[];

/** The connection closed before the reply came (server crashed, CLIENT KILL, refused). */
export class ConnectionClosedError extends Error {
  constructor(
    readonly addr: string,
    reason: string,
  ) {
    super(`${addr}: connection closed (${reason})`);
    this.name = 'ConnectionClosedError';
  }
}

const READONLY = "READONLY You can't write against a read only replica.";
const NOREPLICAS = 'NOREPLICAS Not enough good replicas to write.';
/** master_replid2 of a server that continues no other history. */
export const ZERO_ID = '0'.repeat(40);

/** Limits and timings of the model, as Redis 7.0 defaults them. */
export const REDIS_DEFAULTS = {
  disklessSyncDelayMs: 5000,
  replPingPeriodMs: 10_000,
  replTimeoutMs: 60_000,
  backlogBytes: 1024 * 1024,
  cronPeriodMs: 1000,
  saveIntervalMs: 1000,
  shutdownTimeoutMs: 10_000,
  /** Linux SYN retransmissions: first after 1 s, doubling. */
  synRetransmitFirstMs: 1000,
  /** A cut link retransmits data this often (the data arrives at most this late after a heal). */
  retransmitMs: 200,
} as const;

/** RESP length of a command: what it adds to the replication offset. */
export function respBytes(argv: readonly string[]): number {
  let n = `*${argv.length}\r\n`.length;
  for (const a of argv) {
    const len = Buffer.byteLength(a);
    n += `$${len}\r\n`.length + len + 2;
  }
  return n;
}

// ---------------------------------------------------------------------------------------------
// The network: endpoints, ordered pipes, connections

interface Endpoint {
  readonly name: string;
  /** Is the process that owned the connection at `incarnation` still running (maybe stalled)? */
  alive(incarnation: number): boolean;
  stalled(): boolean;
  /** Run `fn` when the process resumes from a stall. */
  onResume(fn: () => void): void;
}

/** One direction of a TCP connection: ordered, held while cut or while the receiver is stalled. */
class Pipe {
  private queue: (() => void)[] = [];
  private timer: TimerHandle | null = null;
  private waitingForResume = false;
  closed = false;

  constructor(
    private readonly world: RedisWorld,
    private readonly from: Endpoint,
    private readonly to: Endpoint,
    private readonly toIncarnation: number,
    /** The receiving process is gone: the sender learns of it (a RST). */
    private readonly onDeadReceiver: () => void,
  ) {}

  send(fn: () => void): void {
    if (this.closed) return;
    this.queue.push(fn);
    if (this.timer === null && !this.waitingForResume) this.arm(this.world.delayMs());
  }

  /** Stop delivering (the connection is gone); queued messages are dropped. */
  close(): void {
    this.closed = true;
    this.queue = [];
    this.timer?.cancel();
    this.timer = null;
  }

  private arm(ms: number): void {
    this.timer = this.world.scheduler.schedule(ms, () => {
      this.timer = null;
      this.pump();
    });
  }

  private pump(): void {
    if (this.closed || this.queue.length === 0) return;
    if (!this.world.reachable(this.from.name, this.to.name)) {
      this.arm(REDIS_DEFAULTS.retransmitMs);
      return;
    }
    if (!this.to.alive(this.toIncarnation)) {
      this.close();
      this.onDeadReceiver();
      return;
    }
    if (this.to.stalled()) {
      this.waitingForResume = true;
      this.to.onResume(() => {
        this.waitingForResume = false;
        this.pump();
      });
      return;
    }
    // Deliver what is queued now, in order; a message may close the pipe or send more.
    const batch = this.queue;
    this.queue = [];
    for (const fn of batch) {
      if (this.closed) return;
      fn();
    }
  }
}

let connIds = 0;

/**
 * A client connection to a server. The client side calls `request`/`multi`; the server side
 * registers it in `server.clients`. Closing from either side reaches the other when a packet can.
 */
export class Conn {
  readonly id = ++connIds;
  readonly toServer: Pipe;
  readonly toClient: Pipe;
  /** The server no longer has it (it closed it, or learned the client did). */
  serverClosed = false;
  /** The client no longer has it (it closed it, or learned the server did). */
  clientClosed = false;
  /** Server side: what kind of client this is (CLIENT KILL TYPE). */
  type: 'normal' | 'replica' | 'master' | 'pubsub' = 'normal';
  /** Server side: the offset after this client's last write (WAIT). */
  woff = 0;
  private nextReq = 0;
  private pending = new Map<number, { resolve: (r: Reply) => void; reject: (e: Error) => void }>();
  /** Client side: called once when the client learns the connection closed. */
  onClosed: ((reason: string) => void) | null = null;

  constructor(
    readonly world: RedisWorld,
    readonly client: Endpoint,
    readonly clientIncarnation: number,
    readonly server: RedisServer,
    readonly serverIncarnation: number,
  ) {
    this.toServer = new Pipe(world, client, server.endpoint, serverIncarnation, () =>
      this.clientSideClosed('connection reset'),
    );
    this.toClient = new Pipe(world, server.endpoint, client, clientIncarnation, () =>
      this.serverSideClosed(),
    );
  }

  get closed(): boolean {
    return this.serverClosed || this.clientClosed;
  }

  /** Send one command; resolves with its reply (error replies resolve as ReplyError). */
  request(argv: readonly string[]): Promise<Reply> {
    if (this.clientClosed) return Promise.reject(new ConnectionClosedError(this.server.addr, 'closed'));
    const id = this.nextReq++;
    return new Promise<Reply>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.toServer.send(() => this.server.receive(this, [argv], (replies) => this.reply(id, replies[0]!)));
    });
  }

  /** MULTI ... EXEC: the commands run together, with no other client in between. */
  multi(argvs: readonly (readonly string[])[]): Promise<Reply[]> {
    if (this.clientClosed) return Promise.reject(new ConnectionClosedError(this.server.addr, 'closed'));
    const id = this.nextReq++;
    return new Promise<Reply[]>((resolve, reject) => {
      this.pending.set(id, { resolve: (r) => resolve(r as Reply[]), reject });
      this.toServer.send(() => this.server.receive(this, argvs, (replies) => this.reply(id, replies)));
    });
  }

  /** Server side: send something to the client process (replication stream, replies). */
  sendToClient(fn: () => void): void {
    if (!this.serverClosed) this.toClient.send(fn);
  }

  /** Client side: send something to the server (a replica's ACKs). */
  sendToServer(fn: () => void): void {
    if (!this.clientClosed) this.toServer.send(fn);
  }

  private reply(id: number, r: Reply): void {
    this.sendToClient(() => {
      const p = this.pending.get(id);
      if (!p) return;
      this.pending.delete(id);
      p.resolve(r);
    });
  }

  /** The client closes it (QUIT, or its process died): the server learns it when a FIN gets through. */
  closeFromClient(): void {
    if (this.clientClosed) return;
    this.clientClosed = true;
    this.failPending('closed by client');
    this.toClient.close();
    this.toServer.send(() => this.serverSideClosed());
  }

  /** The server closes it (CLIENT KILL, timeout, crash): the client learns it when a FIN gets through. */
  closeFromServer(reason: string): void {
    if (this.serverClosed) return;
    this.serverClosed = true;
    this.server.dropClient(this);
    this.toServer.close();
    this.toClient.send(() => this.clientSideClosed(reason));
  }

  private serverSideClosed(): void {
    if (this.serverClosed) return;
    this.serverClosed = true;
    this.server.dropClient(this);
    this.toServer.close();
  }

  private clientSideClosed(reason: string): void {
    if (this.clientClosed) return;
    this.clientClosed = true;
    this.toClient.close();
    this.toServer.close();
    this.failPending(reason);
    this.onClosed?.(reason);
  }

  private failPending(reason: string): void {
    const pending = [...this.pending.values()];
    this.pending.clear();
    for (const p of pending) p.reject(new ConnectionClosedError(this.server.addr, reason));
  }
}

// ---------------------------------------------------------------------------------------------
// The world

export interface RedisWorldOptions {
  scheduler: Scheduler;
  random: Random;
  /** May a packet go from endpoint `from` to endpoint `to` right now? Default: always. */
  canReach?: (from: string, to: string) => boolean;
  /** One-way network delay, uniformly in [min, max] ms (default 0..1). */
  minDelayMs?: number;
  /** Called as a replica loads a full-resync RDB, before its dataset is replaced (for checkers). */
  onFullSync?: (e: { master: string; replica: string; replicaKeysBefore: number; rdbKeys: number }) => void;
  maxDelayMs?: number;
}

export class RedisWorld {
  readonly scheduler: Scheduler;
  readonly random: Random;
  canReach: (from: string, to: string) => boolean;
  onFullSync: RedisWorldOptions['onFullSync'];
  readonly servers = new Map<string, RedisServer>();
  private readonly minDelayMs: number;
  private readonly maxDelayMs: number;

  constructor(opts: RedisWorldOptions) {
    this.scheduler = opts.scheduler;
    this.random = opts.random;
    this.canReach = opts.canReach ?? (() => true);
    this.onFullSync = opts.onFullSync;
    this.minDelayMs = opts.minDelayMs ?? 0;
    this.maxDelayMs = opts.maxDelayMs ?? 1;
    if (this.minDelayMs < 0 || this.maxDelayMs < this.minDelayMs)
      throw new RangeError(`bad delays ${this.minDelayMs}..${this.maxDelayMs} ms`);
  }

  now(): number {
    return this.scheduler.now;
  }

  reachable(from: string, to: string): boolean {
    return from === to || this.canReach(from, to);
  }

  delayMs(): number {
    return this.minDelayMs + this.random.int(this.maxDelayMs - this.minDelayMs + 1);
  }

  /** 40 random hex digits (run ids, replication ids). */
  randomId(): string {
    let s = '';
    for (let i = 0; i < 40; i++) s += '0123456789abcdef'[this.random.int(16)];
    return s;
  }

  /** Create a server and start it (unless `start: false`). */
  add(addr: string, opts: RedisServerOptions = {}): RedisServer {
    if (this.servers.has(addr)) throw new Error(`redis ${addr} exists`);
    const s = new RedisServer(this, addr, opts);
    this.servers.set(addr, s);
    if (opts.start !== false) s.start();
    return s;
  }

  get(addr: string): RedisServer {
    const s = this.servers.get(addr);
    if (!s) throw new Error(`no redis ${addr}`);
    return s;
  }

  /**
   * Open a TCP connection from `client` to `addr`: refused after a round trip when no process
   * listens, SYN retransmits while unreachable until `timeoutMs`, accepted by the kernel even when
   * the server is stalled.
   */
  connect(
    client: Endpoint,
    clientIncarnation: number,
    addr: string,
    timeoutMs: number,
    done: (r: Conn | 'refused' | 'timeout') => void,
  ): void {
    const start = this.now();
    let retransmit: number = REDIS_DEFAULTS.synRetransmitFirstMs;
    let finished = false;
    const deadline = this.scheduler.schedule(timeoutMs, () => {
      if (finished) return;
      finished = true;
      done('timeout');
    });
    const attempt = () => {
      if (finished) return;
      if (!client.alive(clientIncarnation)) {
        finished = true;
        deadline.cancel();
        return;
      }
      if (this.reachable(client.name, addr) && this.reachable(addr, client.name)) {
        this.scheduler.schedule(2 * this.delayMs(), () => {
          if (finished) return;
          finished = true;
          deadline.cancel();
          const s = this.servers.get(addr);
          if (!s || s.status === 'down' || !client.alive(clientIncarnation)) done('refused');
          else done(s.accept(client, clientIncarnation));
        });
        return;
      }
      const next = Math.min(retransmit, start + timeoutMs - this.now());
      retransmit *= 2;
      if (next > 0) this.scheduler.schedule(next, attempt);
    };
    attempt();
  }
}

// ---------------------------------------------------------------------------------------------
// A server

/** What a config file (or the command line) holds. */
export interface RedisConfig {
  replicaOf: string | null;
  minReplicasToWrite: number;
  minReplicasMaxLagS: number;
  /** `save 1 1` when true, `save ""` when false. */
  persistence: boolean;
  disklessSyncDelayMs: number;
  replPingPeriodMs: number;
  replTimeoutMs: number;
  backlogBytes: number;
  replicaPriority: number;
}

export interface RedisServerOptions extends Partial<RedisConfig> {
  /** Started with a config file (CONFIG REWRITE works, and what it wrote survives a restart). Default true. */
  configFile?: boolean;
  /** Start now (default true). */
  start?: boolean;
}

type StreamItem = { argv: string[]; bytes: number };

interface ReplicaState {
  conn: Conn;
  /** Where the replica listens ("host:port"), as REPLCONF listening-port tells. */
  addr: string;
  state: 'wait_bgsave' | 'send_bulk' | 'online';
  ackOffset: number;
  ackTimeMs: number;
  waitingSinceMs: number;
  /** Receives the stream (after its PSYNC reply or its snapshot). */
  streaming: boolean;
}

interface Postponed {
  conn: Conn;
  argv: string[];
  respond: (r: Reply) => void;
}

interface Waiter {
  conn: Conn;
  n: number;
  offset: number;
  respond: (r: Reply) => void;
  timer: TimerHandle | null;
}

type PausePurpose = 'client' | 'failover' | 'shutdown';
type PauseType = 'write' | 'all';

export class RedisServer {
  readonly host: string;
  readonly port: number;
  readonly endpoint: Endpoint;
  status: 'down' | 'running' | 'stalled' = 'down';
  incarnation = 0;
  readonly hasConfigFile: boolean;

  // Durable state: survives crashes.
  fileConfig: RedisConfig;
  rdb: { data: Map<string, string>; replid: string; offset: number } | null = null;

  // Process state.
  runId = '';
  startedAtMs = 0;
  cfg!: RedisConfig;
  replid = '';
  replid2 = ZERO_ID;
  secondReplOffset = -1;
  /** master_repl_offset: the end of the history this server holds. */
  offset = 0;
  data = new Map<string, string>();
  private backlog: { firstByte: number; items: { end: number; item: StreamItem }[]; bytes: number } | null =
    null;
  masterAddr: string | null = null;
  replState: 'none' | 'connect' | 'connecting' | 'handshake' | 'transfer' | 'connected' = 'none';
  private masterConn: Conn | null = null;
  private cachedMaster: { replid: string; offset: number } | null = null;
  private replStateSinceMs = 0;
  private lastMasterIoMs = 0;
  /** When the master link was last lost (0: never, since the last sync). */
  private downSinceMs = 0;
  private readonly replicas = new Map<Conn, ReplicaState>();
  private goodReplicas = 0;
  readonly clients = new Set<Conn>();
  private pauses = new Map<PausePurpose, { endMs: number; type: PauseType; timer: TimerHandle | null }>();
  private postponed: Postponed[] = [];
  private waiters: Waiter[] = [];
  private failover: {
    state: 'waiting-for-sync' | 'failover-in-progress';
    target: string | null;
    endMs: number;
    force: boolean;
  } | null = null;
  private shuttingDown = false;
  private cronLoops = 0;
  private dirty = 0;
  /** rdb_last_load_keys_loaded: keys of the last RDB loaded (at startup, or by a full sync). */
  private lastLoadKeys = 0;

  /** Did this server start from nothing (no RDB) and neither sync nor get promoted since? */
  get startedFromNothing(): boolean {
    return this.lastLoadKeys === 0 && this.replid2 === ZERO_ID && this.masterAddr === null;
  }
  private lastSaveMs = 0;
  private needSelect = true;
  private resumeQueue: (() => void)[] = [];
  /** Counters for the simulation's reports. */
  stats = { fullSyncs: 0, partialSyncs: 0, writes: 0, restarts: 0 };
  /** INFO stats of this process. */
  private syncFull = 0;
  private syncPartialOk = 0;

  constructor(
    readonly world: RedisWorld,
    readonly addr: string,
    opts: RedisServerOptions,
  ) {
    const i = addr.lastIndexOf(':');
    this.host = addr.slice(0, i);
    this.port = Number(addr.slice(i + 1));
    if (!Number.isInteger(this.port) || this.port <= 0) throw new RangeError(`bad redis address ${addr}`);
    this.hasConfigFile = opts.configFile ?? true;
    this.fileConfig = {
      replicaOf: opts.replicaOf ?? null,
      minReplicasToWrite: opts.minReplicasToWrite ?? 0,
      minReplicasMaxLagS: opts.minReplicasMaxLagS ?? 10,
      persistence: opts.persistence ?? false,
      disklessSyncDelayMs: opts.disklessSyncDelayMs ?? REDIS_DEFAULTS.disklessSyncDelayMs,
      replPingPeriodMs: opts.replPingPeriodMs ?? REDIS_DEFAULTS.replPingPeriodMs,
      replTimeoutMs: opts.replTimeoutMs ?? REDIS_DEFAULTS.replTimeoutMs,
      backlogBytes: opts.backlogBytes ?? REDIS_DEFAULTS.backlogBytes,
      replicaPriority: opts.replicaPriority ?? 100,
    };
    this.endpoint = {
      name: addr,
      alive: (inc) => this.status !== 'down' && this.incarnation === inc,
      stalled: () => this.status === 'stalled',
      onResume: (fn) => this.resumeQueue.push(fn),
    };
  }

  // ------------------------------------------------------------------------------------------
  // Process lifecycle

  /** Start the process (from its config file and its RDB, if any). */
  start(): void {
    if (this.status !== 'down') throw new Error(`redis ${this.addr} is already running`);
    this.incarnation++;
    this.status = 'running';
    this.stats.restarts += this.incarnation > 1 ? 1 : 0;
    this.cfg = { ...this.fileConfig };
    this.runId = this.world.randomId();
    this.startedAtMs = this.world.now();
    this.replid = this.world.randomId();
    this.replid2 = ZERO_ID;
    this.secondReplOffset = -1;
    this.offset = 0;
    this.data = new Map();
    this.backlog = null;
    this.masterAddr = null;
    this.replState = 'none';
    this.masterConn = null;
    this.cachedMaster = null;
    this.downSinceMs = 0;
    this.replicas.clear();
    this.goodReplicas = 0;
    this.clients.clear();
    this.pauses.clear();
    this.postponed = [];
    this.waiters = [];
    this.failover = null;
    this.shuttingDown = false;
    this.cronLoops = 0;
    this.syncFull = 0;
    this.syncPartialOk = 0;
    this.dirty = 0;
    this.lastSaveMs = this.world.now();
    this.needSelect = true;
    this.resumeQueue = [];
    this.lastLoadKeys = 0;
    if (this.cfg.persistence && this.rdb) {
      this.data = new Map(this.rdb.data);
      this.lastLoadKeys = this.data.size;
      this.offset = this.rdb.offset;
      if (this.cfg.replicaOf) {
        // loadDataFromDisk: a replica keeps its master's id and offset and can psync.
        this.replid = this.rdb.replid;
        this.cachedMaster = { replid: this.replid, offset: this.offset };
      } else {
        // A master restored from RDB: new id, the RDB's as replid2, a backlog from there.
        this.replid2 = this.rdb.replid;
        this.secondReplOffset = this.offset + 1;
        this.createBacklog();
      }
    }
    if (this.cfg.replicaOf) {
      this.masterAddr = this.cfg.replicaOf;
      this.setReplState('connect');
    }
    this.timer(REDIS_DEFAULTS.cronPeriodMs, () => this.cron());
  }

  /** kill -9: connections close, nothing is saved. */
  crash(): void {
    if (this.status === 'down') return;
    this.die('crashed');
  }

  /** SIGSTOP: the process makes no progress; its connections stay open. */
  stall(): void {
    if (this.status === 'running') this.status = 'stalled';
  }

  /** SIGCONT. */
  resume(): void {
    if (this.status !== 'stalled') return;
    this.status = 'running';
    const q = this.resumeQueue;
    this.resumeQueue = [];
    for (const fn of q) if (this.status === 'running') fn();
  }

  /** SHUTDOWN / SIGTERM: waits (up to 10 s) for replicas to catch up, saves when configured, exits. */
  shutdown(opts: { save?: boolean } = {}, done?: () => void): void {
    if (this.status === 'down' || this.shuttingDown) return;
    this.shuttingDown = true;
    const finish = () => {
      if (this.status === 'down') return;
      if (opts.save ?? this.cfg.persistence) this.save();
      this.die('shutdown');
      done?.();
    };
    if (this.masterAddr !== null || this.onlineReplicas().length === 0) {
      finish();
      return;
    }
    this.pause('shutdown', REDIS_DEFAULTS.shutdownTimeoutMs, 'write');
    this.requestAcks();
    const started = this.world.now();
    const check = () => {
      if (this.status === 'down') return;
      const lagging = this.onlineReplicas().some((r) => r.ackOffset < this.offset);
      if (!lagging || this.world.now() - started >= REDIS_DEFAULTS.shutdownTimeoutMs) finish();
      else this.timer(100, check);
    };
    this.timer(0, check);
  }

  private die(reason: string): void {
    this.status = 'down';
    for (const c of [...this.clients]) c.closeFromServer(reason);
    this.masterConn?.closeFromClient();
    this.masterConn = null;
    this.clients.clear();
    this.replicas.clear();
    for (const p of this.pauses.values()) p.timer?.cancel();
    this.pauses.clear();
    this.postponed = [];
    this.waiters = [];
    this.resumeQueue = [];
  }

  /** A timer of this process: dies with it, waits while it is stalled. */
  private timer(ms: number, fn: () => void): TimerHandle {
    const inc = this.incarnation;
    return this.world.scheduler.schedule(ms, () => {
      if (this.status === 'down' || this.incarnation !== inc) return;
      if (this.status === 'stalled') this.resumeQueue.push(() => this.incarnation === inc && fn());
      else fn();
    });
  }

  /** The kernel accepted a connection for this process. */
  accept(client: Endpoint, clientIncarnation: number): Conn {
    const c = new Conn(this.world, client, clientIncarnation, this, this.incarnation);
    this.clients.add(c);
    return c;
  }

  dropClient(c: Conn): void {
    this.clients.delete(c);
    if (this.replicas.delete(c)) this.refreshGoodReplicas();
    this.postponed = this.postponed.filter((p) => p.conn !== c);
    this.waiters = this.waiters.filter((w) => {
      if (w.conn !== c) return true;
      w.timer?.cancel();
      return false;
    });
    if (c === this.masterConn) this.masterLinkLost();
  }

  private save(): void {
    this.rdb = { data: new Map(this.data), replid: this.replid, offset: this.offset };
    this.dirty = 0;
    this.lastSaveMs = this.world.now();
  }

  // ------------------------------------------------------------------------------------------
  // The cron (replicationCron, serverCron), once a second

  private cron(): void {
    this.timer(REDIS_DEFAULTS.cronPeriodMs, () => this.cron());
    this.cronLoops++;
    const now = this.world.now();
    if (this.masterAddr !== null) {
      if (this.replState === 'connect') this.connectToMaster();
      else if (
        (this.replState === 'connecting' ||
          this.replState === 'handshake' ||
          this.replState === 'transfer') &&
        now - this.replStateSinceMs > this.cfg.replTimeoutMs
      ) {
        this.cancelHandshake();
      } else if (this.replState === 'connected') {
        if (now - this.lastMasterIoMs > this.cfg.replTimeoutMs) {
          this.masterConn?.closeFromClient();
          this.masterLinkLost();
        } else {
          this.sendAck();
        }
      }
    }
    // Master side (a replica with sub-replicas too).
    const pingEvery = Math.max(1, Math.round(this.cfg.replPingPeriodMs / 1000));
    if (
      this.masterAddr === null &&
      this.replicas.size > 0 &&
      this.cronLoops % pingEvery === 0 &&
      this.failover?.state !== 'failover-in-progress'
    ) {
      this.feed(['PING']);
    }
    for (const r of [...this.replicas.values()]) {
      if (r.state === 'online' && now - r.ackTimeMs > this.cfg.replTimeoutMs)
        r.conn.closeFromServer('timeout');
    }
    const waiting = [...this.replicas.values()].filter((r) => r.state === 'wait_bgsave');
    if (waiting.some((r) => now - r.waitingSinceMs >= this.cfg.disklessSyncDelayMs)) this.startBgsave();
    this.refreshGoodReplicas();
    this.updateFailover();
    if (this.cfg.persistence && this.dirty > 0 && now - this.lastSaveMs >= REDIS_DEFAULTS.saveIntervalMs)
      this.save();
  }

  private refreshGoodReplicas(): void {
    const nowS = Math.floor(this.world.now() / 1000);
    this.goodReplicas = [...this.replicas.values()].filter(
      (r) => r.state === 'online' && nowS - Math.floor(r.ackTimeMs / 1000) <= this.cfg.minReplicasMaxLagS,
    ).length;
  }

  private onlineReplicas(): ReplicaState[] {
    return [...this.replicas.values()].filter((r) => r.state === 'online');
  }

  // ------------------------------------------------------------------------------------------
  // The replication stream (master side)

  private createBacklog(): void {
    this.backlog = { firstByte: this.offset + 1, items: [], bytes: 0 };
  }

  /** Append to this server's history: apply nothing, just offsets, backlog and replicas. */
  private feed(argv: string[]): void {
    if (argv[0] !== 'PING' && this.needSelect) {
      this.needSelect = false;
      this.feed(['SELECT', '0']);
    }
    const item: StreamItem = { argv, bytes: respBytes(argv) };
    this.offset += item.bytes;
    const end = this.offset;
    if (this.backlog) {
      this.backlog.items.push({ end, item });
      this.backlog.bytes += item.bytes;
      while (this.backlog.bytes > this.cfg.backlogBytes && this.backlog.items.length > 1) {
        const first = this.backlog.items.shift()!;
        this.backlog.bytes -= first.item.bytes;
        this.backlog.firstByte = first.end + 1;
      }
    }
    for (const r of this.replicas.values()) {
      if (r.streaming) r.conn.sendToClient(() => this.world.get(r.addr).applyStream(r.conn, item, end));
    }
  }

  /** Ask every replica for an ACK now (WAIT, FAILOVER, SHUTDOWN). */
  private requestAcks(): void {
    for (const r of this.replicas.values()) {
      if (r.state === 'online') r.conn.sendToClient(() => this.world.get(r.addr).sendAck());
    }
  }

  /** A replica's REPLCONF ACK arrived. */
  private onAck(conn: Conn, offset: number): void {
    const r = this.replicas.get(conn);
    if (!r) return;
    r.ackOffset = offset;
    r.ackTimeMs = this.world.now();
    if (r.state === 'send_bulk') {
      r.state = 'online';
      this.refreshGoodReplicas();
    }
    this.checkWaiters();
    this.updateFailover();
  }

  /** PSYNC from a replica (or a demoted master finishing a FAILOVER, `failover` set). */
  private onPsync(conn: Conn, fromAddr: string, replid: string, wantOffset: number, failover: boolean): void {
    const answer = (fn: (replica: RedisServer) => void) =>
      conn.sendToClient(() => {
        const s = this.world.servers.get(fromAddr);
        if (s) fn(s);
      });
    if (failover) {
      if (this.masterAddr !== fromAddr) {
        answer((s) => s.onPsyncError(conn, 'ERR PSYNC FAILOVER target is not a replica of the sender'));
        return;
      }
      this.replicaOfNoOne();
    }
    if (this.masterAddr !== null && this.replState !== 'connected') {
      answer((s) => s.onPsyncError(conn, "NOMASTERLINK Can't SYNC while not connected with my master"));
      return;
    }
    conn.type = 'replica';
    const b = this.backlog;
    const idMatches =
      replid === this.replid || (replid === this.replid2 && wantOffset <= this.secondReplOffset);
    if (idMatches && b && wantOffset >= b.firstByte && wantOffset <= this.offset + 1) {
      this.stats.partialSyncs++;
      this.syncPartialOk++;
      const r: ReplicaState = {
        conn,
        addr: fromAddr,
        state: 'online',
        ackOffset: wantOffset - 1,
        ackTimeMs: this.world.now(),
        waitingSinceMs: this.world.now(),
        streaming: true,
      };
      this.replicas.set(conn, r);
      const myId = this.replid;
      answer((s) => s.onContinue(conn, myId));
      for (const { end, item } of b.items) {
        if (end - item.bytes + 1 >= wantOffset)
          conn.sendToClient(() => this.world.get(fromAddr).applyStream(conn, item, end));
      }
      this.refreshGoodReplicas();
      return;
    }
    // Full resync. The first backlog of a master starts a new history (syncCommand).
    if (!this.backlog) {
      if (this.masterAddr === null) {
        this.replid = this.world.randomId();
        this.replid2 = ZERO_ID;
        this.secondReplOffset = -1;
      }
      this.createBacklog();
    }
    this.replicas.set(conn, {
      conn,
      addr: fromAddr,
      state: 'wait_bgsave',
      ackOffset: 0,
      ackTimeMs: this.world.now(),
      waitingSinceMs: this.world.now(),
      streaming: false,
    });
    if (this.cfg.disklessSyncDelayMs === 0) this.startBgsave();
  }

  /** Start the (diskless) RDB transfer to every replica waiting for one. */
  private startBgsave(): void {
    const snapshot = new Map(this.data);
    const replid = this.replid;
    const offset = this.offset;
    // The next write after a full sync starts with SELECT (slaveseldb = -1).
    this.needSelect = true;
    for (const r of this.replicas.values()) {
      if (r.state !== 'wait_bgsave') continue;
      this.stats.fullSyncs++;
      this.syncFull++;
      r.state = 'send_bulk';
      r.streaming = true;
      r.conn.sendToClient(() => this.world.get(r.addr).onFullResync(r.conn));
      r.conn.sendToClient(() => this.world.get(r.addr).onRdb(r.conn, snapshot, replid, offset));
    }
  }

  // ------------------------------------------------------------------------------------------
  // Replica side

  private setReplState(s: RedisServer['replState']): void {
    this.replState = s;
    this.replStateSinceMs = this.world.now();
  }

  private connectToMaster(failover = false): void {
    const master = this.masterAddr;
    if (master === null) return;
    this.setReplState('connecting');
    const inc = this.incarnation;
    this.world.connect(this.endpoint, inc, master, this.cfg.replTimeoutMs, (r) => {
      if (this.incarnation !== inc || this.status === 'down') {
        if (r instanceof Conn) r.closeFromClient();
        return;
      }
      const apply = () => {
        if (this.masterAddr !== master || this.replState !== 'connecting') {
          if (r instanceof Conn) r.closeFromClient();
          return;
        }
        if (!(r instanceof Conn)) {
          this.setReplState('connect');
          if (this.failover?.state === 'failover-in-progress') this.abortFailover('target unreachable');
          return;
        }
        this.masterConn = r;
        r.onClosed = () => {
          if (this.masterConn === r) this.masterLinkLost();
        };
        this.setReplState('handshake');
        const psync = this.cachedMaster ?? { replid: '?', offset: -2 };
        const me = this.addr;
        r.sendToServer(() =>
          r.server.onPsync(r, me, psync.replid, psync.offset + 1, failover || this.failover !== null),
        );
      };
      if (this.status === 'stalled') this.resumeQueue.push(apply);
      else apply();
    });
  }

  private cancelHandshake(): void {
    this.masterConn?.closeFromClient();
    this.masterConn = null;
    this.setReplState('connect');
    if (this.failover) this.abortFailover('handshake timed out');
  }

  private onPsyncError(conn: Conn, _message: string): void {
    if (conn !== this.masterConn) return;
    conn.closeFromClient();
    this.masterConn = null;
    this.setReplState('connect');
    if (this.failover?.state === 'failover-in-progress') this.abortFailover('target refused');
  }

  /** +CONTINUE: a partial resync; the master's id becomes ours (ours becomes replid2). */
  private onContinue(conn: Conn, masterReplid: string): void {
    if (conn !== this.masterConn) return;
    if (masterReplid !== this.replid) {
      this.replid2 = this.replid;
      this.secondReplOffset = this.offset + 1;
      this.replid = masterReplid;
      this.dropReplicas('replication id changed');
    }
    this.cachedMaster = null;
    if (!this.backlog) this.createBacklog();
    this.linkUp();
  }

  /** +FULLRESYNC: the cached master is discarded (INFO shows offset 1 until the RDB is loaded). */
  private onFullResync(conn: Conn): void {
    if (conn !== this.masterConn) return;
    this.cachedMaster = null;
    this.setReplState('transfer');
  }

  private onRdb(conn: Conn, snapshot: Map<string, string>, replid: string, offset: number): void {
    if (conn !== this.masterConn) return;
    this.world.onFullSync?.({
      master: this.masterAddr ?? '?',
      replica: this.addr,
      replicaKeysBefore: this.data.size,
      rdbKeys: snapshot.size,
    });
    this.data = new Map(snapshot);
    this.lastLoadKeys = snapshot.size;
    this.replid = replid;
    this.replid2 = ZERO_ID;
    this.secondReplOffset = -1;
    this.offset = offset;
    this.dropReplicas('full resync');
    this.createBacklog();
    // The replica writes the RDB it received to disk (repl-diskless-load disabled).
    if (this.cfg.persistence) this.save();
    this.linkUp();
  }

  private linkUp(): void {
    this.setReplState('connected');
    this.downSinceMs = 0;
    this.lastMasterIoMs = this.world.now();
    this.sendAck();
    if (this.failover?.state === 'failover-in-progress') this.finishFailover();
  }

  private applyStream(conn: Conn, item: StreamItem, end: number): void {
    if (conn !== this.masterConn || this.replState !== 'connected') return;
    this.lastMasterIoMs = this.world.now();
    if (end <= this.offset) return;
    if (end - item.bytes !== this.offset)
      throw new Error(`${this.addr}: stream gap (have ${this.offset}, item ends at ${end})`);
    if (item.argv[0] === 'SET') {
      this.data.set(item.argv[1]!, item.argv[2]!);
      this.dirty++;
    }
    // Forward to sub-replicas as-is (same history).
    this.offset = end;
    if (this.backlog) {
      this.backlog.items.push({ end, item });
      this.backlog.bytes += item.bytes;
      while (this.backlog.bytes > this.cfg.backlogBytes && this.backlog.items.length > 1) {
        const first = this.backlog.items.shift()!;
        this.backlog.bytes -= first.item.bytes;
        this.backlog.firstByte = first.end + 1;
      }
    }
    for (const r of this.replicas.values()) {
      if (r.streaming) r.conn.sendToClient(() => this.world.get(r.addr).applyStream(r.conn, item, end));
    }
  }

  /** REPLCONF ACK <offset> to the master. */
  private sendAck(): void {
    const c = this.masterConn;
    if (!c || this.replState !== 'connected') return;
    const off = this.offset;
    c.sendToServer(() => c.server.onAck(c, off));
  }

  private masterLinkLost(): void {
    const wasConnected = this.replState === 'connected';
    this.masterConn = null;
    if (this.masterAddr === null) return;
    if (wasConnected) {
      this.cachedMaster = { replid: this.replid, offset: this.offset };
      this.downSinceMs = this.world.now();
    }
    this.setReplState('connect');
    if (this.failover?.state === 'failover-in-progress') this.abortFailover('link lost');
  }

  private dropReplicas(reason: string): void {
    for (const r of [...this.replicas.values()]) r.conn.closeFromServer(reason);
    this.replicas.clear();
    this.refreshGoodReplicas();
  }

  /** REPLICAOF host port. */
  private replicaOf(target: string): void {
    const wasMaster = this.masterAddr === null;
    if (this.masterConn) {
      const c = this.masterConn;
      this.masterConn = null;
      if (this.replState === 'connected') {
        this.cachedMaster = { replid: this.replid, offset: this.offset };
        this.downSinceMs = this.world.now();
      }
      c.closeFromClient();
    }
    this.masterAddr = target;
    if (wasMaster) this.cachedMaster = { replid: this.replid, offset: this.offset };
    this.dropReplicas('replicaof');
    this.unblockWaiters(
      'UNBLOCKED force unblock from blocking operation, instance state changed (master -> replica?)',
    );
    this.setReplState('connect');
    this.connectToMaster();
  }

  /** REPLICAOF NO ONE: keep the history under a new id, the old one as replid2. */
  private replicaOfNoOne(): void {
    if (this.masterAddr === null) return;
    this.masterConn?.closeFromClient();
    this.masterConn = null;
    this.masterAddr = null;
    this.cachedMaster = null;
    this.setReplState('none');
    this.replid2 = this.replid;
    this.secondReplOffset = this.offset + 1;
    this.replid = this.world.randomId();
    this.needSelect = true;
    this.dropReplicas('promoted');
    if (!this.backlog) this.createBacklog();
  }

  // ------------------------------------------------------------------------------------------
  // Pauses, WAIT, FAILOVER

  private pause(purpose: PausePurpose, ms: number, type: PauseType): void {
    const now = this.world.now();
    const old = this.pauses.get(purpose);
    const endMs = Math.max(old?.endMs ?? 0, now + ms);
    const t: PauseType = old?.type === 'all' || type === 'all' ? 'all' : 'write';
    old?.timer?.cancel();
    const p = { endMs, type: t, timer: null as TimerHandle | null };
    if (Number.isFinite(endMs)) p.timer = this.timer(endMs - now, () => this.unpause(purpose));
    this.pauses.set(purpose, p);
  }

  private unpause(purpose: PausePurpose): void {
    const p = this.pauses.get(purpose);
    if (!p) return;
    p.timer?.cancel();
    this.pauses.delete(purpose);
    if (this.pauses.size > 0) return;
    // Postponed clients run their command again, with every check (READONLY, NOREPLICAS).
    const queued = this.postponed;
    this.postponed = [];
    for (const q of queued) {
      if (q.conn.serverClosed) continue;
      const r = this.execOne(q.conn, q.argv, q.respond);
      if (r !== undefined) q.respond(r);
    }
  }

  private paused(isWrite: boolean): boolean {
    for (const p of this.pauses.values()) if (p.type === 'all' || isWrite) return true;
    return false;
  }

  private checkWaiters(): void {
    this.waiters = this.waiters.filter((w) => {
      const acked = this.ackedAt(w.offset);
      if (acked < w.n) return true;
      w.timer?.cancel();
      w.respond(acked);
      return false;
    });
  }

  private ackedAt(offset: number): number {
    return this.onlineReplicas().filter((r) => r.ackOffset >= offset).length;
  }

  private unblockWaiters(message: string): void {
    const ws = this.waiters;
    this.waiters = [];
    for (const w of ws) {
      w.timer?.cancel();
      w.respond(new ReplyError(message));
    }
  }

  private updateFailover(): void {
    const f = this.failover;
    if (f?.state !== 'waiting-for-sync') return;
    const target = f.target ? this.onlineReplicas().find((r) => r.addr === f.target) : undefined;
    if (target && target.ackOffset >= this.offset) {
      this.startFailoverHandover(target.addr);
      return;
    }
    if (this.world.now() >= f.endMs) {
      if (f.force && f.target) this.startFailoverHandover(f.target);
      else this.abortFailover('replica never caught up before timeout');
    }
  }

  private startFailoverHandover(target: string): void {
    const f = this.failover!;
    f.state = 'failover-in-progress';
    // Become the target's replica; the PSYNC carries FAILOVER, which makes the target a master.
    this.masterAddr = target;
    this.cachedMaster = { replid: this.replid, offset: this.offset };
    this.dropReplicas('failover');
    this.connectToMaster(true);
  }

  private finishFailover(): void {
    this.failover = null;
    this.unpause('failover');
  }

  private abortFailover(_reason: string): void {
    const f = this.failover;
    if (!f) return;
    this.failover = null;
    if (f.state === 'failover-in-progress') {
      this.masterConn?.closeFromClient();
      this.masterConn = null;
      this.masterAddr = null;
      this.cachedMaster = null;
      this.setReplState('none');
    }
    this.unpause('failover');
  }

  // ------------------------------------------------------------------------------------------
  // Commands

  /** A request (one command, or a MULTI of several) arrived on `conn`. */
  receive(conn: Conn, argvs: readonly (readonly string[])[], respond: (replies: Reply[]) => void): void {
    if (conn.serverClosed) return;
    if (argvs.length === 1) {
      let answered = false;
      const once = (r: Reply) => {
        if (answered) return;
        answered = true;
        respond([r]);
      };
      const r = this.execOne(conn, [...argvs[0]!], once);
      if (r !== undefined) once(r);
      return;
    }
    const replies: Reply[] = [];
    for (const argv of argvs) {
      const r = this.execOne(conn, [...argv], () => {}, true);
      replies.push(r === undefined ? new ReplyError('ERR command would block inside MULTI') : r);
    }
    respond(replies);
  }

  /** Run a command; a reply now, or undefined when `respond` will be called later. */
  private execOne(
    conn: Conn,
    argv: string[],
    respond: (r: Reply) => void,
    inMulti = false,
  ): Reply | undefined {
    const cmd = (argv[0] ?? '').toUpperCase();
    const arg = (i: number) => (argv[i] ?? '').toUpperCase();
    switch (cmd) {
      case 'PING':
        return 'PONG';
      case 'INFO':
        return this.infoText();
      case 'DBSIZE':
        return this.data.size;
      case 'GET':
        if (!inMulti && this.paused(false)) return this.postpone(conn, argv, respond);
        return this.data.get(argv[1] ?? '') ?? null;
      case 'SET': {
        if (argv.length !== 3) return new ReplyError("ERR wrong number of arguments for 'set' command");
        if (this.masterAddr !== null) return new ReplyError(READONLY);
        if (
          this.cfg.minReplicasToWrite > 0 &&
          this.cfg.minReplicasMaxLagS > 0 &&
          this.goodReplicas < this.cfg.minReplicasToWrite
        )
          return new ReplyError(NOREPLICAS);
        if (!inMulti && this.paused(true)) return this.postpone(conn, argv, respond);
        this.data.set(argv[1]!, argv[2]!);
        this.dirty++;
        this.stats.writes++;
        this.feed(['SET', argv[1]!, argv[2]!]);
        conn.woff = this.offset;
        return 'OK';
      }
      case 'WAIT': {
        if (this.masterAddr !== null)
          return new ReplyError(
            'ERR WAIT cannot be used with replica instances. Please also note that since Redis 4.0 if a replica is configured to be writable (which is not the default) writes to replicas are just local and are not propagated.',
          );
        const n = Number(argv[1]);
        const ms = Number(argv[2]);
        if (!Number.isInteger(n) || !Number.isInteger(ms) || ms < 0)
          return new ReplyError('ERR timeout is not an integer or out of range');
        const acked = this.ackedAt(conn.woff);
        if (acked >= n || inMulti) return acked;
        const w: Waiter = { conn, n, offset: conn.woff, respond, timer: null };
        if (ms > 0)
          w.timer = this.timer(ms, () => {
            this.waiters = this.waiters.filter((x) => x !== w);
            respond(this.ackedAt(w.offset));
          });
        this.waiters.push(w);
        this.requestAcks();
        return undefined;
      }
      case 'REPLICAOF':
      case 'SLAVEOF': {
        if (arg(1) === 'NO' && arg(2) === 'ONE') {
          if (this.failover) return new ReplyError('ERR REPLICAOF not allowed while failing over.');
          this.replicaOfNoOne();
          return 'OK';
        }
        const port = Number(argv[2]);
        if (!Number.isInteger(port) || port <= 0 || port > 65535)
          return new ReplyError('ERR Invalid master port');
        if (this.failover) return new ReplyError('ERR REPLICAOF not allowed while failing over.');
        const target = `${argv[1]}:${port}`;
        if (this.masterAddr === target) return 'OK Already connected to specified master';
        this.replicaOf(target);
        return 'OK';
      }
      case 'CONFIG':
        return this.configCommand(argv);
      case 'CLIENT':
        return this.clientCommand(conn, argv);
      case 'FAILOVER':
        return this.failoverCommand(argv);
      case 'SHUTDOWN': {
        const save = arg(1) === 'NOSAVE' ? false : arg(1) === 'SAVE' ? true : undefined;
        this.shutdown(save === undefined ? {} : { save });
        return undefined;
      }
      case 'ROLE':
        return this.masterAddr === null
          ? ['master', this.offset, []]
          : ['slave', this.host, this.port, this.replState, this.offset];
      default:
        return new ReplyError(`ERR unknown command '${argv[0]}'`);
    }
  }

  private postpone(conn: Conn, argv: string[], respond: (r: Reply) => void): undefined {
    this.postponed.push({ conn, argv, respond });
    return undefined;
  }

  private configCommand(argv: string[]): Reply {
    const sub = (argv[1] ?? '').toUpperCase();
    if (sub === 'REWRITE') {
      if (!this.hasConfigFile) return new ReplyError('ERR The server is running without a config file');
      this.fileConfig = { ...this.cfg, replicaOf: this.masterAddr };
      return 'OK';
    }
    if (sub === 'GET') {
      const name = (argv[2] ?? '').toLowerCase();
      const v = this.configValue(name);
      return v === undefined ? [] : [name, v];
    }
    if (sub === 'SET') {
      const pairs = argv.slice(2);
      if (pairs.length === 0 || pairs.length % 2 !== 0)
        return new ReplyError("ERR wrong number of arguments for 'config|set' command");
      const next = { ...this.cfg };
      for (let i = 0; i < pairs.length; i += 2) {
        const name = pairs[i]!.toLowerCase();
        const value = pairs[i + 1]!;
        const n = Number(value);
        const int = Number.isInteger(n) && value.trim() !== '' ? n : null;
        const bad = new ReplyError(
          `ERR CONFIG SET failed (possibly related to argument '${name}') - argument couldn't be parsed into an integer`,
        );
        switch (name) {
          case 'min-replicas-to-write':
          case 'min-slaves-to-write':
            if (int === null || int < 0) return bad;
            next.minReplicasToWrite = int;
            break;
          case 'min-replicas-max-lag':
          case 'min-slaves-max-lag':
            if (int === null || int < 0) return bad;
            next.minReplicasMaxLagS = int;
            break;
          case 'repl-diskless-sync-delay':
            if (int === null || int < 0) return bad;
            next.disklessSyncDelayMs = int * 1000;
            break;
          case 'repl-ping-replica-period':
            if (int === null || int <= 0) return bad;
            next.replPingPeriodMs = int * 1000;
            break;
          case 'repl-timeout':
            if (int === null || int <= 0) return bad;
            next.replTimeoutMs = int * 1000;
            break;
          case 'replica-priority':
          case 'slave-priority':
            if (int === null || int < 0) return bad;
            next.replicaPriority = int;
            break;
          case 'save':
            next.persistence = value.trim() !== '';
            break;
          default:
            return new ReplyError(`ERR Unknown option or number of arguments for CONFIG SET - '${name}'`);
        }
      }
      this.cfg = next;
      this.refreshGoodReplicas();
      return 'OK';
    }
    return new ReplyError(`ERR unknown subcommand '${argv[1]}'`);
  }

  private configValue(name: string): string | undefined {
    const c = this.cfg;
    switch (name) {
      case 'min-replicas-to-write':
      case 'min-slaves-to-write':
        return String(c.minReplicasToWrite);
      case 'min-replicas-max-lag':
      case 'min-slaves-max-lag':
        return String(c.minReplicasMaxLagS);
      case 'repl-diskless-sync-delay':
        return String(c.disklessSyncDelayMs / 1000);
      case 'replicaof':
      case 'slaveof':
        return this.masterAddr ? this.masterAddr.replace(/:(\d+)$/, ' $1') : '';
      case 'save':
        return c.persistence ? '1 1' : '';
      case 'replica-priority':
        return String(c.replicaPriority);
      default:
        return undefined;
    }
  }

  private clientCommand(conn: Conn, argv: string[]): Reply {
    const sub = (argv[1] ?? '').toUpperCase();
    switch (sub) {
      case 'SETNAME':
        return 'OK';
      case 'PAUSE': {
        const ms = Number(argv[2]);
        if (!Number.isInteger(ms) || ms < 0)
          return new ReplyError('ERR timeout is not an integer or out of range');
        const mode = (argv[3] ?? 'ALL').toUpperCase();
        if (mode !== 'WRITE' && mode !== 'ALL') return new ReplyError('ERR syntax error');
        this.pause('client', ms, mode === 'WRITE' ? 'write' : 'all');
        return 'OK';
      }
      case 'UNPAUSE':
        this.unpause('client');
        return 'OK';
      case 'KILL': {
        if ((argv[2] ?? '').toUpperCase() !== 'TYPE') return new ReplyError('ERR syntax error');
        const t = (argv[3] ?? '').toLowerCase();
        const type = t === 'slave' ? 'replica' : t;
        if (!['normal', 'replica', 'master', 'pubsub'].includes(type))
          return new ReplyError(`ERR Unknown client type '${argv[3]}'`);
        let killed = 0;
        for (const c of [...this.clients]) {
          if (c === conn || c.type !== type) continue;
          c.closeFromServer('killed');
          killed++;
        }
        if (type === 'master' && this.masterConn) {
          this.masterConn.closeFromClient();
          this.masterLinkLost();
          killed++;
        }
        return killed;
      }
      default:
        return new ReplyError(`ERR unknown subcommand '${argv[1]}'`);
    }
  }

  private failoverCommand(argv: string[]): Reply {
    let target: string | null = null;
    let timeoutMs = 0;
    let force = false;
    let abort = false;
    for (let i = 1; i < argv.length; i++) {
      const a = argv[i]!.toUpperCase();
      if (a === 'TO' && i + 2 < argv.length) {
        target = `${argv[i + 1]}:${Number(argv[i + 2])}`;
        i += 2;
      } else if (a === 'TIMEOUT' && i + 1 < argv.length) {
        timeoutMs = Number(argv[++i]);
        if (!Number.isInteger(timeoutMs) || timeoutMs <= 0)
          return new ReplyError('ERR FAILOVER timeout must be greater than 0');
      } else if (a === 'FORCE') force = true;
      else if (a === 'ABORT') abort = true;
      else return new ReplyError('ERR syntax error');
    }
    if (abort) {
      if (target || timeoutMs || force)
        return new ReplyError('ERR FAILOVER abort cannot be used with other arguments');
      if (!this.failover) return new ReplyError('ERR No failover in progress.');
      this.abortFailover('aborted');
      return 'OK';
    }
    if (this.masterAddr !== null)
      return new ReplyError('ERR FAILOVER is not valid when server is a replica.');
    if (this.replicas.size === 0) return new ReplyError('ERR FAILOVER requires connected replicas.');
    if (this.failover) return new ReplyError('ERR FAILOVER already in progress.');
    if (force && (!timeoutMs || !target))
      return new ReplyError('ERR FAILOVER with force option requires both a timeout and target HOST and IP.');
    if (target) {
      const r = [...this.replicas.values()].find((x) => x.addr === target);
      if (!r) return new ReplyError('ERR FAILOVER target HOST and PORT is not a replica.');
      if (r.state !== 'online') return new ReplyError('ERR FAILOVER target replica is not online.');
    } else {
      const best = this.onlineReplicas().sort((a, b) => b.ackOffset - a.ackOffset)[0];
      if (!best) return new ReplyError('ERR FAILOVER requires connected replicas.');
      target = best.addr;
    }
    const endMs = timeoutMs ? this.world.now() + timeoutMs : Number.POSITIVE_INFINITY;
    this.failover = { state: 'waiting-for-sync', target, endMs, force };
    this.pause('failover', timeoutMs || Number.POSITIVE_INFINITY, 'write');
    this.requestAcks();
    if (timeoutMs) this.timer(timeoutMs, () => this.updateFailover());
    return 'OK';
  }

  // ------------------------------------------------------------------------------------------
  // INFO

  /** The text of `INFO server replication keyspace persistence`, as 7.0 prints it. */
  infoText(): string {
    const now = this.world.now();
    const nowS = Math.floor(now / 1000);
    const L: string[] = [];
    L.push('# Server', 'redis_version:7.0.15', 'redis_mode:standalone', `run_id:${this.runId}`);
    L.push(`tcp_port:${this.port}`, `uptime_in_seconds:${Math.floor((now - this.startedAtMs) / 1000)}`);
    L.push(`config_file:${this.hasConfigFile ? `/etc/redis/redis-${this.port}.conf` : ''}`, '');
    L.push('# Persistence', 'loading:0', `rdb_changes_since_last_save:${this.dirty}`);
    L.push(
      'rdb_last_load_keys_expired:0',
      `rdb_last_load_keys_loaded:${this.lastLoadKeys}`,
      'aof_enabled:0',
      '',
    );
    L.push('# Stats', `sync_full:${this.syncFull}`, `sync_partial_ok:${this.syncPartialOk}`, '');
    L.push('# Replication');
    if (this.masterAddr === null) {
      L.push('role:master');
    } else {
      const up = this.replState === 'connected';
      const [mh, mp] = [
        this.masterAddr.slice(0, this.masterAddr.lastIndexOf(':')),
        this.masterAddr.slice(this.masterAddr.lastIndexOf(':') + 1),
      ];
      const slaveOffset = up ? this.offset : this.cachedMaster ? this.cachedMaster.offset : 1;
      L.push('role:slave', `master_host:${mh}`, `master_port:${mp}`);
      L.push(`master_link_status:${up ? 'up' : 'down'}`);
      L.push(`master_last_io_seconds_ago:${up ? nowS - Math.floor(this.lastMasterIoMs / 1000) : -1}`);
      L.push(`master_sync_in_progress:${this.replState === 'transfer' ? 1 : 0}`);
      L.push(`slave_read_repl_offset:${slaveOffset}`, `slave_repl_offset:${slaveOffset}`);
      if (!up)
        L.push(
          `master_link_down_since_seconds:${this.downSinceMs ? nowS - Math.floor(this.downSinceMs / 1000) : -1}`,
        );
      L.push(`slave_priority:${this.cfg.replicaPriority}`, 'slave_read_only:1', 'replica_announced:1');
    }
    L.push(`connected_slaves:${this.replicas.size}`);
    if (this.cfg.minReplicasToWrite > 0 && this.cfg.minReplicasMaxLagS > 0)
      L.push(`min_slaves_good_slaves:${this.goodReplicas}`);
    let i = 0;
    for (const r of this.replicas.values()) {
      const [h, p] = [r.addr.slice(0, r.addr.lastIndexOf(':')), r.addr.slice(r.addr.lastIndexOf(':') + 1)];
      L.push(
        `slave${i++}:ip=${h},port=${p},state=${r.state},offset=${r.ackOffset},lag=${nowS - Math.floor(r.ackTimeMs / 1000)}`,
      );
    }
    L.push(`master_failover_state:${this.failover?.state ?? 'no-failover'}`);
    L.push(`master_replid:${this.replid}`, `master_replid2:${this.replid2}`);
    L.push(`master_repl_offset:${this.offset}`, `second_repl_offset:${this.secondReplOffset}`);
    const b = this.backlog;
    L.push(`repl_backlog_active:${b && (this.replicas.size > 0 || this.masterAddr !== null) ? 1 : 0}`);
    L.push(`repl_backlog_size:${this.cfg.backlogBytes}`);
    L.push(
      `repl_backlog_first_byte_offset:${b ? b.firstByte : 0}`,
      `repl_backlog_histlen:${b ? this.offset - b.firstByte + 1 : 0}`,
      '',
    );
    L.push('# Keyspace');
    if (this.data.size > 0) L.push(`db0:keys=${this.data.size},expires=0,avg_ttl=0`);
    return `${L.join('\r\n')}\r\n`;
  }

  /** Is a client pause (any purpose) in effect? */
  isPaused(): boolean {
    return this.pauses.size > 0;
  }

  /** How many postponed (paused) client commands wait. */
  queuedWrites(): number {
    return this.postponed.length;
  }
}

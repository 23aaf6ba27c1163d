/**
 * The raftinel daemon, as a composition root: opens the data_dir, builds the Raft member over
 * gRPC, the replicated cluster state, the failover services (engine, fencer, job runner), the
 * peer service, membership upkeep, the admin API and the Sentinel port, wires them, starts them
 * and stops them. Each of those lives in its own module; nothing here decides anything.
 * Stops gracefully: a leader hands over first, storage is flushed, and a restart resumes from
 * data_dir.
 */
import { AdminApi } from '../admin/api.js';
import { AdminHttpServer } from '../admin/http.js';
import { DaemonMetrics } from '../admin/metrics.js';
import { LeaderLink } from '../cluster/leader-link.js';
import { membershipExecutors } from '../cluster/membership-jobs.js';
import { PeerService } from '../cluster/peer-service.js';
import { ClusterState } from '../cluster/state.js';
import { formatAddress, isWildcardHost, parseAddress } from '../config/address.js';
import type { NodeConfig } from '../config/types.js';
import type { FailoverEngine } from '../failover/engine.js';
import type { Fencer } from '../failover/fence.js';
import { IoRedisAdapter } from '../failover/ioredis-adapter.js';
import type { RedisAdapter } from '../failover/redis.js';
import { ClusterClient } from '../raft/grpc/cluster.js';
import { GrpcServer } from '../raft/grpc/server.js';
import { GrpcRaftTransport } from '../raft/grpc/transport.js';
import { handOverLeadership } from '../raft/handover.js';
import { RaftNode } from '../raft/node.js';
import { FileStorage } from '../raft/storage/file-storage.js';
import type { NodeId } from '../raft/types.js';
import type { ScriptQueue } from '../sentinel/scripts.js';
import type { SentinelServer } from '../sentinel/server.js';
import { type Clock, systemClock, type TimerHandle } from '../util/clock.js';
import { createLogger, type Logger } from '../util/log.js';
import { systemRandom } from '../util/random.js';
import { VERSION } from '../util/version.js';
import { DaemonAdminBackend } from './admin-backend.js';
import { FailoverServices } from './failover-services.js';
import { MembershipUpkeep } from './membership-upkeep.js';
import { watchRaftEvents } from './raft-events.js';
import { spawnScript } from './script-spawner.js';
import { loadOrCreateSentinelId } from './sentinel-id.js';
import { openSentinelPort, type SentinelPort } from './sentinel-port.js';
import { decideStartMode } from './startup.js';

export { StartupError } from './startup.js';

export interface DaemonOptions {
  logger?: Logger;
  clock?: Clock;
  /** How to talk to Redis; ioredis by default. */
  redisAdapter?: RedisAdapter;
}

export interface ListeningPorts {
  raft: number;
  admin: number;
  metrics: number | null;
  sentinel: number;
}

/** A listen address made dialable: a wildcard host is replaced by `fallbackHost`. */
function dialable(listen: string, port: number, fallbackHost: string): string {
  const { host } = parseAddress(listen);
  return formatAddress(isWildcardHost(host) ? fallbackHost : host, port);
}

export class Daemon {
  readonly nodeId: number;
  readonly log: Logger;
  readonly state = new ClusterState();
  raft!: RaftNode;
  ports: ListeningPorts = { raft: 0, admin: 0, metrics: null, sentinel: 0 };
  /** Resolves with the exit code once the daemon has stopped (by request, removal, or failure). */
  readonly stopped: Promise<number>;
  engine!: FailoverEngine;
  fencer: Fencer | null = null;
  sentinelId = '';

  private resolveStopped!: (code: number) => void;
  private readonly clock: Clock;
  private storage!: FileStorage;
  private grpcServer!: GrpcServer;
  private transport!: GrpcRaftTransport;
  private readonly clusterClient: ClusterClient;
  private leader!: LeaderLink;
  private api!: AdminApi;
  private http!: AdminHttpServer;
  private metricsHttp: AdminHttpServer | null = null;
  private metrics!: DaemonMetrics;
  private adapter!: RedisAdapter;
  /** Engine, fencer and job runner, wired as the whole-system simulation wires them. */
  private services!: FailoverServices;
  private peers!: PeerService;
  private upkeep!: MembershipUpkeep;
  private sentinel!: SentinelServer;
  private sentinelRound: SentinelPort['round'] | null = null;
  private scripts: ScriptQueue | null = null;
  private timers: TimerHandle[] = [];
  private stopping: Promise<void> | null = null;

  private constructor(
    readonly config: NodeConfig,
    private readonly opts: DaemonOptions,
  ) {
    this.nodeId = config.nodeId;
    this.clock = opts.clock ?? systemClock;
    this.log = opts.logger ?? createLogger({ nodeId: config.nodeId, level: config.logLevel });
    this.clusterClient = new ClusterClient({ logger: this.log.child({ component: 'cluster-client' }) });
    this.stopped = new Promise((resolve) => {
      this.resolveStopped = resolve;
    });
  }

  static async start(config: NodeConfig, opts: DaemonOptions = {}): Promise<Daemon> {
    const d = new Daemon(config, opts);
    try {
      await d.init();
    } catch (err) {
      await d.teardown().catch(() => {});
      throw err;
    }
    return d;
  }

  // -------------------------------------------------------------------------------------------
  // Start-up: construct and wire

  private async init(): Promise<void> {
    const c = this.config;
    const { storage, state: recovered } = await FileStorage.open(c.dataDir, {
      nodeId: c.nodeId,
      logger: this.log.child({ component: 'storage' }),
    });
    this.storage = storage;
    const mode = await decideStartMode(c, this.raftAddr(), recovered, storage, this.log);

    this.grpcServer = new GrpcServer({
      listen: c.raft.listen,
      logger: this.log.child({ component: 'grpc' }),
    });
    this.transport = new GrpcRaftTransport({
      selfId: c.nodeId,
      advertise: c.raft.advertise,
      logger: this.log.child({ component: 'transport' }),
    });
    this.transport.attachTo(this.grpcServer);
    this.raft = new RaftNode({
      core: { id: c.nodeId },
      heartbeatMs: c.raft.heartbeatMs,
      electionTimeoutMs: c.raft.electionTimeoutMs,
      clock: this.clock,
      random: systemRandom,
      transport: this.transport,
      storage: this.storage,
      stateMachine: this.state,
      recovered: mode.recovered,
      logger: this.log.child({ component: 'raft' }),
      snapshotEveryEntries: c.raft.snapshotEveryEntries,
      snapshotTrailingEntries: Math.min(1000, Math.floor(c.raft.snapshotEveryEntries / 2)),
    });
    this.metrics = new DaemonMetrics(c.nodeId, {
      raftStatus: () => this.raft.status(),
      leaseRemainingMs: () => this.raft.lease().remainingMs,
      transportStats: () => this.transport.stats(),
      fencedNodes: () => this.fencer?.fencedNodes().length ?? 0,
      jobCounts: () => {
        const counts: Record<string, number> = {};
        for (const j of this.state.jobs.values()) counts[j.state] = (counts[j.state] ?? 0) + 1;
        return counts;
      },
    });
    this.leader = new LeaderLink({
      raft: this.raft,
      client: this.clusterClient,
      onError: (method) => this.metrics.grpcErrors.inc({ kind: method }),
    });
    this.adapter =
      this.opts.redisAdapter ??
      new IoRedisAdapter(this.log.child({ component: 'redis' }), { clientName: `raftinel-${c.nodeId}` });
    this.services = new FailoverServices({
      nodeId: c.nodeId,
      raft: this.raft,
      state: this.state,
      adapter: this.adapter,
      clock: this.clock,
      logger: this.log,
      electionTimeoutMs: c.raft.electionTimeoutMs,
      defaults: c.failover,
      redis: c.redis,
      // A probe report is stale after a few probe rounds: a call stuck on a leader that was just
      // cut off must fail fast, or this daemon reports nothing to the new leader until it does.
      callLeader: (method, body) =>
        this.leader.request(
          method,
          body,
          method === 'probe.report' ? { timeoutMs: c.raft.electionTimeoutMs } : {},
        ),
      onRound: () => this.sentinelRound?.(this.state.shards.values()),
      otherExecutors: membershipExecutors,
    });
    this.engine = this.services.engine;
    this.fencer = this.services.fencer;
    this.upkeep = new MembershipUpkeep({
      nodeId: c.nodeId,
      role: c.raft.role,
      join: c.raft.join,
      electionTimeoutMs: c.raft.electionTimeoutMs,
      raft: this.raft,
      state: this.state,
      client: this.clusterClient,
      leader: this.leader,
      clock: this.clock,
      log: this.log,
      addrs: () => ({ raft: this.raftAddr(), sentinel: this.sentinelAddr(), admin: this.adminAddr() }),
      sentinelId: () => this.sentinelId,
      stop: (reason, code) => this.stop(reason, code),
      stopping: () => this.stopping !== null,
      sleep: (ms) => new Promise((resolve) => this.clock.setTimeout(resolve, ms)),
    });
    this.upkeep.joining = mode.kind === 'join';
    const backend = new DaemonAdminBackend({
      nodeId: c.nodeId,
      raft: this.raft,
      state: this.state,
      engine: this.engine,
      fencer: () => this.fencer,
      leader: this.leader,
      client: this.clusterClient,
      clock: this.clock,
      log: this.log,
      electionTimeoutMs: c.raft.electionTimeoutMs,
      failoverDefaults: c.failover,
      forgetRedis: (addr) => this.adapter.forget(addr),
      denyScriptsReconfig: c.sentinel.denyScriptsReconfig,
      joining: () => this.upkeep.joining,
    });
    this.api = new AdminApi(backend, c.admin.token);
    this.peers = new PeerService({
      raft: this.raft,
      state: this.state,
      engine: this.engine,
      forward: (method, body, hops) => this.leader.call(method, body, { hops }),
      admin: { handle: (req) => this.api.handle(req), token: c.admin.token },
    });
    for (const method of this.peers.methods())
      this.grpcServer.registerCluster(method, (body, meta) => this.peers.handle(method, body, meta));
    watchRaftEvents({
      nodeId: this.nodeId,
      raft: this.raft,
      state: this.state,
      metrics: this.metrics,
      log: this.log,
      stop: (reason, code) => void this.stop(reason, code),
    });
    this.ports.raft = await this.grpcServer.start();

    this.sentinelId = await loadOrCreateSentinelId(c.dataDir);
    const { host, port } = parseAddress(c.sentinel.listen);
    const sentinel = await openSentinelPort({
      host,
      port,
      requirepass: c.sentinel.requirepass,
      sentinelId: this.sentinelId,
      configFile: c.file ?? '',
      nodeId: c.nodeId,
      electionTimeoutMs: c.raft.electionTimeoutMs,
      raft: this.raft,
      state: this.state,
      engine: this.engine,
      clock: this.clock,
      log: this.log,
      api: () => this.api,
      adminToken: c.admin.token,
      peerConnected: (id) => this.peerReachable(id),
      failover: (name) =>
        this.peers.handle(
          'sentinel.failover',
          { name },
          { method: 'sentinel.failover', token: '', hops: 0, peer: 'local' },
        ),
      shutdown: () => void this.stop('SHUTDOWN on the Sentinel port'),
      denyScriptsReconfig: c.sentinel.denyScriptsReconfig,
      scripts: {
        ...(c.sentinel.notificationScript ? { notification: c.sentinel.notificationScript } : {}),
        ...(c.sentinel.clientReconfigScript ? { clientReconfig: c.sentinel.clientReconfigScript } : {}),
      },
      spawnScript,
    });
    this.scripts = sentinel.scripts;
    this.sentinel = sentinel.server;
    this.sentinelRound = sentinel.round;
    this.ports.sentinel = sentinel.port;

    this.http = new AdminHttpServer({
      listen: c.admin.listen,
      logger: this.log.child({ component: 'admin' }),
      api: this.api,
      ...(c.admin.metricsListen ? {} : { metrics: () => this.metrics.render() }),
    });
    this.ports.admin = await this.http.start();
    if (c.admin.metricsListen) {
      this.metricsHttp = new AdminHttpServer({
        listen: c.admin.metricsListen,
        logger: this.log.child({ component: 'metrics' }),
        metrics: () => this.metrics.render(),
      });
      this.ports.metrics = await this.metricsHttp.start();
    }

    this.raft.start();
    if (mode.kind === 'bootstrap') this.raft.campaign();
    this.services.start();
    this.every(1000, () => this.upkeep.reconcileMemberInfo());
    this.every(Math.max(200, c.raft.electionTimeoutMs), () => this.upkeep.checkRemoved());
    this.log.info(
      {
        mode: mode.kind,
        raft: this.raftAddr(),
        admin: this.adminAddr(),
        sentinel: c.sentinel.advertise,
        data_dir: c.dataDir,
        version: VERSION,
      },
      'raftinel started',
    );
    if (mode.kind === 'join') void this.upkeep.joinLoop();
  }

  // -------------------------------------------------------------------------------------------
  // Addresses

  /** Can this daemon (or, on a follower, its leader) reach member `id`? */
  private peerReachable(id: NodeId): boolean {
    const st = this.raft.status();
    if (st.role === 'leader') return this.services.reachableMembers().includes(id);
    if (!this.raft.lease().valid) return false;
    if (id === st.leader) return true;
    return this.engine.leaderReachable(2 * this.config.raft.electionTimeoutMs)?.has(id) ?? false;
  }

  private sentinelAddr(): string {
    const host = parseAddress(this.config.raft.advertise).host;
    return dialable(
      this.config.sentinel.advertise,
      this.ports.sentinel || parseAddress(this.config.sentinel.advertise).port,
      host,
    );
  }

  private raftAddr(): string {
    return this.config.raft.advertise;
  }

  private adminAddr(): string {
    const host = parseAddress(this.config.raft.advertise).host;
    return dialable(
      this.config.admin.listen,
      this.ports.admin || parseAddress(this.config.admin.listen).port,
      host,
    );
  }

  private every(ms: number, fn: () => Promise<void> | void): void {
    const loop = () => {
      if (this.stopping) return;
      Promise.resolve()
        .then(fn)
        .catch((err) => this.log.warn({ err }, 'background task failed'))
        .finally(() => {
          if (!this.stopping) this.timers.push(this.clock.setTimeout(loop, ms));
        });
    };
    this.timers.push(this.clock.setTimeout(loop, ms));
  }

  // -------------------------------------------------------------------------------------------
  // Shutdown

  /** Stop gracefully: a leader hands over first; storage is flushed. Idempotent. */
  stop(reason = 'requested', exitCode = 0): Promise<void> {
    if (this.stopping) return this.stopping;
    this.stopping = (async () => {
      this.log.info({ reason }, 'stopping');
      for (const t of this.timers) t.cancel();
      if (this.raft)
        await handOverLeadership(this.raft, this.clock, 2 * this.config.raft.electionTimeoutMs, this.log);
      await this.teardown();
      this.log.info('stopped');
      this.resolveStopped(exitCode);
    })();
    return this.stopping;
  }

  private async teardown(): Promise<void> {
    this.engine?.stop();
    this.services?.runner.stop();
    this.raft?.stop('daemon stopping');
    await this.services?.runner.idle();
    await Promise.allSettled([
      this.sentinel?.close(),
      this.scripts?.close(),
      this.http?.stop(),
      this.metricsHttp?.stop(),
      this.grpcServer?.stop(),
      this.transport?.close(),
    ]);
    this.clusterClient.close();
    await this.adapter?.close();
    await this.storage?.close();
  }
}

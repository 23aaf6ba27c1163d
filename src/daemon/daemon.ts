/**
 * The raftinel daemon: opens the data_dir, bootstraps or joins the group, runs the Raft member
 * over gRPC, the replicated cluster state and its job runner, the admin HTTP API and metrics.
 * Stops gracefully: a leader hands over first, storage is flushed, and a restart resumes from
 * data_dir.
 */
import { randomUUID } from 'node:crypto';
import {
  AdminApi,
  type AdminBackend,
  AdminError,
  type AdminRequest,
  type AdminResponse,
  type ShardOp,
} from '../admin/api.js';
import { AdminHttpServer } from '../admin/http.js';
import { DaemonMetrics } from '../admin/metrics.js';
import { type JobRunner, proposeCommand } from '../cluster/jobs.js';
import type { JobKind, JobRecord } from '../cluster/jobs-model.js';
import { membershipExecutors } from '../cluster/membership-jobs.js';
import {
  changeSettings,
  defaultSettings,
  newShardSettings,
  SettingsRuleError,
  type ShardSettings,
} from '../cluster/settings.js';
import { findNode, publicShard, type Shard } from '../cluster/shards.js';
import { ClusterState } from '../cluster/state.js';
import { formatAddress, isWildcardHost, parseAddress } from '../config/address.js';
import type { NodeConfig } from '../config/types.js';
import { type FailoverEngine, FailoverRefused } from '../failover/engine.js';
import type { Fencer } from '../failover/fence.js';
import { IoRedisAdapter } from '../failover/ioredis-adapter.js';
import type { RedisAdapter } from '../failover/redis.js';
import { ClusterCallError, ClusterClient } from '../raft/grpc/cluster.js';
import { type ClusterCallMeta, type ClusterReply, GrpcServer } from '../raft/grpc/server.js';
import { GrpcRaftTransport } from '../raft/grpc/transport.js';
import { encodeConfigRecord, findMember, isVotingRole, votersOf } from '../raft/membership.js';
import { RaftNode } from '../raft/node.js';
import { majority } from '../raft/quorum.js';
import { FileStorage } from '../raft/storage/file-storage.js';
import type { RecoveredState } from '../raft/storage/types.js';
import { type Entry, type MemberRole, type NodeId, RaftError } from '../raft/types.js';
import { infoCommandSpec } from '../sentinel/commands-generic.js';
import { eventsOfShardChange, LocalEvents, sentinelDetails } from '../sentinel/events.js';
import { SentinelCommands } from '../sentinel/sentinel-commands.js';
import { SentinelServer } from '../sentinel/server.js';
import { type Clock, systemClock, type TimerHandle } from '../util/clock.js';
import { createLogger, type Logger } from '../util/log.js';
import { systemRandom } from '../util/random.js';
import { VERSION } from '../util/version.js';
import { FailoverServices } from './failover-services.js';
import { DaemonSentinelBackend } from './sentinel-backend.js';
import { loadOrCreateSentinelId } from './sentinel-id.js';

/** The daemon cannot start: the message says why and what to do. */
export class StartupError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
    this.name = 'StartupError';
  }
}

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

export class Daemon implements AdminBackend {
  readonly nodeId: number;
  readonly log: Logger;
  readonly state = new ClusterState();
  raft!: RaftNode;
  ports: ListeningPorts = { raft: 0, admin: 0, metrics: null, sentinel: 0 };
  /** Resolves with the exit code once the daemon has stopped (by request, removal, or failure). */
  readonly stopped: Promise<number>;

  private resolveStopped!: (code: number) => void;
  private readonly clock: Clock;
  private storage!: FileStorage;
  private grpcServer!: GrpcServer;
  private transport!: GrpcRaftTransport;
  private readonly clusterClient: ClusterClient;
  private runner!: JobRunner;
  private api!: AdminApi;
  private http!: AdminHttpServer;
  private metricsHttp: AdminHttpServer | null = null;
  private metrics!: DaemonMetrics;
  private adapter!: RedisAdapter;
  /** Engine, fencer and job runner, wired as the whole-system simulation wires them. */
  private services!: FailoverServices;
  engine!: FailoverEngine;
  private sentinel!: SentinelServer;
  private localEvents: LocalEvents | null = null;
  fencer: Fencer | null = null;
  sentinelId = '';
  private timers: TimerHandle[] = [];
  private stopping: Promise<void> | null = null;
  private lastLeader = 0;
  private lastRole = 'follower';
  private leaderlessSinceMs: number | null = null;
  private joining = false;

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
  // Start-up

  private async init(): Promise<void> {
    const c = this.config;
    const { storage, state: recovered } = await FileStorage.open(c.dataDir, {
      nodeId: c.nodeId,
      logger: this.log.child({ component: 'storage' }),
    });
    this.storage = storage;
    const mode = await this.decideMode(recovered);

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
        this.forwardCluster(
          method,
          body,
          0,
          undefined,
          method === 'probe.report' ? c.raft.electionTimeoutMs : undefined,
        ),
      onRound: () => this.localEvents?.round(this.state.shards.values()),
      otherExecutors: membershipExecutors,
    });
    this.engine = this.services.engine;
    this.fencer = this.services.fencer;
    this.runner = this.services.runner;
    this.watchRaft();
    this.registerClusterMethods();
    this.ports.raft = await this.grpcServer.start();
    await this.startSentinelPort();

    this.api = new AdminApi(this, c.admin.token);
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
    this.every(1000, () => this.reconcileMemberInfo());
    this.every(Math.max(200, c.raft.electionTimeoutMs), () => this.checkRemoved());
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
    if (mode.kind === 'join') void this.joinLoop();
  }

  /** Bootstrap a new group, join one, or resume from data_dir. */
  private async decideMode(
    recovered: RecoveredState,
  ): Promise<{ kind: 'bootstrap' | 'join' | 'resume'; recovered: RecoveredState }> {
    const c = this.config;
    const hasState =
      recovered.hardState.term > 0 || recovered.entries.length > 0 || recovered.snapshot !== null;
    if (hasState) {
      if (c.raft.single || c.raft.join.length > 0) {
        this.log.info('data_dir holds Raft state: resuming; single/join are ignored');
      }
      const membership = this.membershipOf(recovered);
      if (membership.removed.includes(c.nodeId)) {
        throw new StartupError(
          `node ${c.nodeId} was removed from its group and cannot rejoin with this id; to join again, wipe ${c.dataDir} and start with a new node_id`,
          3,
        );
      }
      return { kind: 'resume', recovered };
    }
    if (c.raft.single) {
      const entry: Entry = {
        index: 1,
        term: 1,
        type: 'config',
        data: encodeConfigRecord({
          change: { type: 'add', id: c.nodeId, role: c.raft.role, addr: this.raftAddr() },
          membership: { members: [{ id: c.nodeId, role: c.raft.role, addr: this.raftAddr() }], removed: [] },
        }),
      };
      const hardState = { term: 1, vote: 0, commit: 0 };
      await new Promise<void>((resolve, reject) =>
        this.storage.persist({ hardState, entries: [entry], snapshot: null }, (err) =>
          err ? reject(err) : resolve(),
        ),
      );
      this.log.info('bootstrapped a new one-member group');
      return { kind: 'bootstrap', recovered: { hardState, snapshot: null, entries: [entry] } };
    }
    if (c.raft.join.length > 0) {
      this.joining = true;
      return { kind: 'join', recovered };
    }
    throw new StartupError(
      `data_dir ${c.dataDir} holds no Raft state: start with --single (or raft.single = true) to bootstrap a new group, or --join host:port to join an existing one`,
      2,
    );
  }

  private membershipOf(recovered: RecoveredState) {
    let m = recovered.snapshot?.meta.membership ?? { members: [], removed: [] as NodeId[] };
    for (const e of recovered.entries) {
      if (e.type === 'config') m = JSON.parse(new TextDecoder().decode(e.data)).membership;
    }
    return m;
  }

  /** Ask members to add us until we are a member with our role; exit if refused for good. */
  private async joinLoop(): Promise<void> {
    const c = this.config;
    const body = {
      id: c.nodeId,
      role: c.raft.role,
      raft: this.raftAddr(),
      sentinel: c.sentinel.advertise,
      admin: this.adminAddr(),
      version: VERSION,
    };
    let attempt = 0;
    let jobId: string | null = null;
    let jobAddr: string | null = null;
    while (!this.stopping) {
      const me = findMember(this.raft.status().membership, c.nodeId);
      if (me && me.role === c.raft.role) {
        this.joining = false;
        this.log.info({ role: me.role }, 'joined the group');
        return;
      }
      try {
        if (jobId && jobAddr) {
          const r = await this.clusterClient.call(jobAddr, 'job.get', { id: jobId }, { timeoutMs: 3000 });
          const job = (r.body as { job?: JobRecord }).job;
          if (r.status === 200 && job?.state === 'failed') {
            this.log.error({ reason: job.reason }, 'joining the group failed');
            jobId = null;
            void this.stop('join failed', 1);
            return;
          }
        } else {
          const addr = c.raft.join[attempt % c.raft.join.length]!;
          const r = await this.clusterClient.call(addr, 'join', body, { timeoutMs: 5000 });
          if (r.status === 202 || r.status === 200) {
            const job = (r.body as { job?: JobRecord }).job;
            if (job) {
              jobId = job.id;
              jobAddr = addr;
              this.log.info({ job: job.id, via: addr }, 'join requested; waiting to be added and caught up');
            }
          } else if (r.status === 409 || r.status === 400) {
            const msg = (r.body as { error?: { message?: string } }).error?.message ?? JSON.stringify(r.body);
            this.log.error({ via: addr, reason: msg }, 'the group refused to add this node');
            void this.stop(`join refused: ${msg}`, 1);
            return;
          } else {
            this.log.warn({ via: addr, status: r.status, body: r.body }, 'join attempt failed; retrying');
          }
        }
      } catch (err) {
        this.log.warn({ err: (err as Error).message, attempt }, 'join attempt failed; retrying');
        jobId = null;
      }
      attempt++;
      await this.sleep(Math.min(2000, 200 * attempt));
    }
  }

  // -------------------------------------------------------------------------------------------
  // Raft events

  private watchRaft(): void {
    // Committed membership (the driver's own event fires as soon as a change is appended).
    this.state.onChange((c) => {
      if (c.type !== 'membership') return;
      this.metrics.membershipChanges.inc();
      if (c.membership.removed.includes(this.nodeId))
        void this.stop('this node was removed from the group', 0);
    });
    this.raft.on((e) => {
      switch (e.type) {
        case 'role': {
          const { role, leader, term } = e.state;
          if (role === 'precandidate' || role === 'candidate') this.metrics.elections.inc();
          // A campaign that wins at once (a one-voter group) is never seen as a candidate state.
          else if (role === 'leader' && this.lastRole !== 'precandidate' && this.lastRole !== 'candidate')
            this.metrics.elections.inc();
          this.lastRole = role;
          if (leader !== this.lastLeader) {
            if (leader !== 0) this.metrics.leaderChanges.inc();
            this.lastLeader = leader;
          }
          this.log.info({ role, leader: leader || null, term }, 'raft role changed');
          return;
        }
        case 'membership':
          this.log.info(
            { members: e.membership.members, removed: e.membership.removed },
            'membership in effect changed',
          );
          return;
        case 'snapshot':
          this.metrics.snapshots.inc({ kind: e.kind });
          this.log.info({ kind: e.kind, index: e.index }, 'snapshot');
          return;
        case 'fatal':
          this.log.fatal({ err: e.error }, 'raft failed; stopping');
          void this.stop('raft failure', 1);
          return;
        case 'applied':
          return;
      }
    });
  }

  // -------------------------------------------------------------------------------------------
  // Cluster service (daemon to daemon)

  private registerClusterMethods(): void {
    const s = this.grpcServer;
    s.registerCluster('admin', (body, meta) => this.onForwardedAdmin(body, meta));
    s.registerCluster('join', (body, meta) => this.onJoin(body, meta));
    s.registerCluster('job.get', async (body) => {
      const id = (body as { id?: unknown })?.id;
      const job = typeof id === 'string' ? this.state.job(id) : undefined;
      return job
        ? { status: 200, body: { job } }
        : { status: 404, body: { error: { message: `no job ${String(id)}` } } };
    });
    s.registerCluster('membership', async () => ({
      status: 200,
      body: { leader: this.raft.status().leader, membership: this.raft.status().membership },
    }));
    s.registerCluster('raft.progress', async () => {
      const st = this.raft.status();
      if (st.role !== 'leader') return { status: 409, body: { error: { message: 'not the leader' } } };
      return {
        status: 200,
        body: {
          leader: st.id,
          term: st.term,
          progress: st.progress.map((p) => ({
            id: p.id,
            match: p.match,
            ack_age_ms: p.ticksSinceAck === null ? null : p.ticksSinceAck * this.raft.tickMs,
          })),
        },
      };
    });
    s.registerCluster('probe.report', async (body) => this.engine.receiveReport(body));
    s.registerCluster('sentinel.failover', async (body, meta) => {
      if (!this.isLeader()) return this.forwardCluster('sentinel.failover', body, meta.hops);
      const name = (body as { name?: unknown })?.name;
      if (typeof name !== 'string')
        return { status: 400, body: { error: { message: 'sentinel.failover needs name' } } };
      try {
        return { status: 202, body: { job: await this.engine.requestSentinelFailover(name) } };
      } catch (err) {
        if (err instanceof FailoverRefused) {
          return { status: err.status, body: { error: { code: err.code, message: err.message } } };
        }
        throw err;
      }
    });
    s.registerCluster('shard.register', async (body, meta) => {
      if (!this.isLeader()) return this.forwardCluster('shard.register', body, meta.hops);
      return this.engine.register(body);
    });
    s.registerCluster('member.info', async (body) => {
      const b = body as { id?: number; sentinel?: string; admin?: string; version?: string; runId?: unknown };
      if (!this.isLeader()) return { status: 409, body: { error: { message: 'not the leader' } } };
      if (typeof b?.id !== 'number' || typeof b.sentinel !== 'string' || typeof b.admin !== 'string') {
        return { status: 400, body: { error: { message: 'member.info needs id, sentinel and admin' } } };
      }
      const r = await proposeCommand(this.raft, {
        t: 'member.info',
        id: b.id,
        sentinel: b.sentinel,
        admin: b.admin,
        version: String(b.version ?? 'unknown'),
        // A follower's Sentinel run id (SENTINEL MYID): what SENTINEL SENTINELS and +sentinel
        // name it by. Dropped here, it was never recorded, and the follower re-sent it forever.
        ...(typeof b.runId === 'string' ? { runId: b.runId } : {}),
      });
      return r.ok ? { status: 200, body: {} } : { status: 409, body: { error: { message: r.error } } };
    });
  }

  private async onForwardedAdmin(body: unknown, meta: ClusterCallMeta): Promise<ClusterReply> {
    const b = body as { method?: unknown; path?: unknown; body?: unknown };
    if (typeof b?.method !== 'string' || typeof b.path !== 'string') {
      return {
        status: 400,
        body: { error: { code: 'invalid_request', message: 'forwarded admin call needs method and path' } },
      };
    }
    const r = await this.api.handle({
      method: b.method,
      path: b.path,
      body: b.body,
      token: meta.token === '' ? undefined : meta.token,
      hops: meta.hops,
    });
    return { status: r.status, body: r.body };
  }

  private async onJoin(body: unknown, meta: ClusterCallMeta): Promise<ClusterReply> {
    const b = body as {
      id?: unknown;
      role?: unknown;
      raft?: unknown;
      sentinel?: unknown;
      admin?: unknown;
      version?: unknown;
    };
    const req: AdminRequest = {
      method: 'POST',
      path: '/v1/members',
      body: { id: b?.id, role: b?.role, raft: b?.raft, sentinel: b?.sentinel, admin: b?.admin },
      token: undefined,
      hops: meta.hops,
    };
    if (!this.isLeader()) {
      try {
        return await this.forwardCluster('join', body, meta.hops);
      } catch (err) {
        return { status: 503, body: { error: { code: 'no_leader', message: (err as Error).message } } };
      }
    }
    // A join is internal: it needs no admin token (the Raft port must be private, see docs/OPERATIONS.md).
    const active = this.state.activeJobs().find((j) => j.kind === 'member.add' && j.params.id === b?.id);
    if (active) return { status: 202, body: { job: active } };
    const r = await this.api.handle({ ...req, token: this.config.admin.token });
    return { status: r.status, body: r.body };
  }

  private async forwardCluster(
    method: string,
    body: unknown,
    hops: number,
    token?: string,
    timeoutMs = 10_000,
  ): Promise<ClusterReply> {
    const st = this.raft.status();
    const leader = st.leader !== 0 ? findMember(st.membership, st.leader) : undefined;
    if (!leader)
      throw new AdminError(503, 'no_leader', 'no leader: the group is electing one or has lost its majority');
    try {
      return await this.clusterClient.call(leader.addr, method, body, {
        hops: hops + 1,
        timeoutMs,
        ...(token !== undefined ? { token } : {}),
      });
    } catch (err) {
      this.metrics.grpcErrors.inc({ kind: method });
      const msg = err instanceof ClusterCallError ? err.message : (err as Error).message;
      throw new AdminError(
        503,
        'leader_unreachable',
        `could not reach the leader (node ${leader.id}): ${msg}`,
      );
    }
  }

  // -------------------------------------------------------------------------------------------
  // AdminBackend

  isLeader(): boolean {
    return this.raft.status().role === 'leader';
  }

  async forwardToLeader(req: AdminRequest): Promise<AdminResponse> {
    const r = await this.forwardCluster(
      'admin',
      { method: req.method, path: req.path, body: req.body },
      req.hops - 1,
      req.token,
    );
    return { status: r.status, body: r.body };
  }

  job(id: string): JobRecord | undefined {
    return this.state.job(id);
  }

  jobs(): JobRecord[] {
    return [...this.state.jobs.values()];
  }

  async createJob(kind: JobKind, params: Record<string, unknown>): Promise<JobRecord> {
    this.validateJob(kind, params);
    const now = this.clock.wallMs();
    const job: JobRecord = {
      id: randomUUID(),
      kind,
      params,
      state: 'pending',
      reason: null,
      step: null,
      result: null,
      createdAtMs: now,
      updatedAtMs: now,
      origin: this.nodeId,
    };
    try {
      await proposeCommand(this.raft, { t: 'job.create', job });
    } catch (err) {
      if (err instanceof RaftError) {
        throw new AdminError(503, err.code, `could not start the job: ${err.message}; retry`);
      }
      throw err;
    }
    return this.state.job(job.id) ?? job;
  }

  /** Refuse at once what would certainly fail, with a clear status. */
  private validateJob(kind: JobKind, params: Record<string, unknown>): void {
    const m = this.raft.status().membership;
    const id = (params.id ?? params.to) as NodeId;
    const member = findMember(m, id);
    if (kind === 'member.add') {
      if (m.removed.includes(id)) {
        throw new AdminError(
          409,
          'id_removed',
          `node id ${id} was removed from this group and can never be reused; pick a new id`,
        );
      }
      if (member && member.addr !== params.raft) {
        throw new AdminError(
          409,
          'member_exists',
          `node ${id} is already a member with Raft address ${member.addr}`,
        );
      }
      return;
    }
    if (!member) {
      if (kind === 'member.remove' && m.removed.includes(id)) return;
      throw new AdminError(404, 'unknown_member', `node ${id} is not a member`);
    }
    if (kind === 'leader.transfer' && !isVotingRole(member.role)) {
      throw new AdminError(400, 'invalid_request', `node ${id} is a ${member.role} and cannot lead`);
    }
    if (kind === 'member.remove') {
      const voters = m.members.filter((x) => isVotingRole(x.role));
      if (isVotingRole(member.role) && voters.length === 1) {
        throw new AdminError(409, 'invalid_request', `node ${id} is the last voter and cannot be removed`);
      }
    }
    if (kind === 'member.promote' && member.role === (params.role as MemberRole)) {
      // Already done: the job succeeds at once; allowed so that retries are harmless.
    }
  }

  shards(): unknown[] {
    return [...this.state.shards.values()].map((s) => this.shardView(s));
  }

  shard(name: string): unknown | undefined {
    const s = this.state.shards.get(name);
    return s ? this.shardView(s) : undefined;
  }

  /** A shard as this daemon reports it: committed state plus what this daemon sees of each node. */
  private shardView(s: Shard) {
    const pub = publicShard(s);
    return {
      name: s.name,
      epoch: s.epoch,
      master: s.master,
      pending: s.pending,
      settings: s.settings,
      nodes: pub.nodes.map((n) => ({
        ...n,
        seen: this.engine.nodeView(n.addr),
        ...(n.owner === this.nodeId ? { fenced: this.fencer?.isFenced(n.addr) ?? false } : {}),
      })),
      history: s.history,
    };
  }

  private leaderOnly<T>(f: () => Promise<T>): Promise<T> {
    return f().catch((err) => {
      if (err instanceof FailoverRefused) throw new AdminError(err.status, err.code, err.message);
      if (err instanceof RaftError) throw new AdminError(503, err.code, `${err.message}; retry`);
      throw err;
    });
  }

  switchover(name: string, to: string | undefined): Promise<JobRecord> {
    return this.leaderOnly(() => this.engine.requestSwitchover(name, to));
  }

  forcedFailover(name: string, to: string): Promise<JobRecord> {
    return this.leaderOnly(() => this.engine.requestForcedFailover(name, to));
  }

  changeShards(op: ShardOp): Promise<JobRecord> {
    return this.leaderOnly(async () => {
      const shard = this.state.shards.get(op.name);
      // The rules across settings, on the leader, before proposing (answered 400 by the API).
      const checked = (f: () => ShardSettings): ShardSettings => {
        try {
          return f();
        } catch (err) {
          if (!(err instanceof SettingsRuleError)) throw err;
          throw new AdminError(400, 'settings_rule', err.message, { rules: err.rules });
        }
      };
      const et = this.config.raft.electionTimeoutMs;
      let description = '';
      let result: { ok: boolean; error?: string } = { ok: true };
      const at = this.clock.wallMs();
      switch (op.op) {
        case 'add': {
          if (shard) {
            if (shard.master === op.master)
              return this.recordChange(op, `shard ${op.name} already exists with master ${op.master}`);
            throw new AdminError(
              409,
              'shard_exists',
              `shard ${op.name} exists with master ${shard.master ?? 'none'}`,
            );
          }
          const nodes = [
            { addr: op.master, role: 'replica' as const, priority: 100 },
            ...op.nodes.filter((n: { addr: string }) => n.addr !== op.master),
          ];
          result = await proposeCommand(this.raft, {
            t: 'shard.create',
            name: op.name,
            master: op.master,
            nodes: nodes.map((n) => ({ ...n, owner: null, accessible: true })),
            settings: checked(() => newShardSettings(defaultSettings(this.config.failover), op.settings, et)),
            atMs: at,
          });
          description = `shard ${op.name} added with master ${op.master}`;
          break;
        }
        case 'remove':
          if (!shard) return this.recordChange(op, `shard ${op.name} does not exist`);
          result = await proposeCommand(this.raft, { t: 'shard.remove', name: op.name });
          description = `shard ${op.name} removed`;
          break;
        case 'set':
          if (!shard) throw new AdminError(404, 'unknown_shard', `no shard ${op.name}`);
          if (Object.keys(op.settings).length > 0) {
            checked(() => changeSettings(shard.settings, op.settings, et));
            result = await proposeCommand(this.raft, {
              t: 'shard.settings',
              name: op.name,
              settings: op.settings,
            });
          }
          if (result.ok && op.auth) {
            // The credentials of every node of the shard (Sentinel's auth-pass/auth-user).
            for (const n of shard.nodes) {
              const { username: _u, password: _p, ...rest } = n;
              const node = {
                ...rest,
                ...(op.auth.username ? { username: op.auth.username } : {}),
                ...(op.auth.password ? { password: op.auth.password } : {}),
              };
              result = await proposeCommand(this.raft, { t: 'shard.node.put', name: op.name, node });
              if (!result.ok) break;
              this.adapter.forget(n.addr);
            }
          }
          description = `settings of ${op.name} changed`;
          break;
        case 'node.add': {
          if (!shard) throw new AdminError(404, 'unknown_shard', `no shard ${op.name}`);
          const existing = findNode(shard, op.node.addr);
          result = await proposeCommand(this.raft, {
            t: 'shard.node.put',
            name: op.name,
            node: { ...existing, ...op.node, owner: existing?.owner ?? null },
          });
          description = `${op.node.addr} added to ${op.name}`;
          break;
        }
        case 'node.remove':
          if (!shard) throw new AdminError(404, 'unknown_shard', `no shard ${op.name}`);
          if (shard.master === op.addr) {
            throw new AdminError(
              409,
              'is_master',
              `${op.addr} is the master of ${op.name}; switch over first`,
            );
          }
          result = await proposeCommand(this.raft, { t: 'shard.node.remove', name: op.name, addr: op.addr });
          description = `${op.addr} removed from ${op.name}`;
          break;
      }
      if (!result.ok) throw new AdminError(409, 'conflict', result.error ?? 'refused');
      this.log.info({ shard: op.name, op: op.op }, description);
      return this.recordChange(op, description);
    });
  }

  /** Record a shard change that already happened as a finished job, for the audit trail. */
  private async recordChange(op: ShardOp, reason: string): Promise<JobRecord> {
    const now = this.clock.wallMs();
    const job: JobRecord = {
      id: randomUUID(),
      kind: 'shard.change',
      // Credentials never go into a job record: jobs are visible to anyone reading the API.
      params: { shard: op.name, ...op, ...('auth' in op && op.auth ? { auth: '[redacted]' } : {}) },
      state: 'succeeded',
      reason,
      step: 'done',
      result: null,
      createdAtMs: now,
      updatedAtMs: now,
      origin: this.nodeId,
    };
    await proposeCommand(this.raft, { t: 'job.create', job });
    return this.state.job(job.id) ?? job;
  }

  async status(): Promise<unknown> {
    const st = this.raft.status();
    const lease = this.raft.lease();
    let progress: { id: number; ack_age_ms: number | null; match: number }[] | null = null;
    if (st.role === 'leader') {
      progress = st.progress.map((p) => ({
        id: p.id,
        match: p.match,
        ack_age_ms: p.ticksSinceAck === null ? null : p.ticksSinceAck * this.raft.tickMs,
      }));
    } else if (st.leader !== 0) {
      const leader = findMember(st.membership, st.leader);
      if (leader) {
        try {
          const r = await this.clusterClient.call(leader.addr, 'raft.progress', {}, { timeoutMs: 1000 });
          if (r.status === 200) progress = (r.body as { progress: typeof progress }).progress;
        } catch {
          progress = null;
        }
      }
    }
    const reachableWithin = this.config.raft.electionTimeoutMs;
    const members = st.membership.members.map((m) => {
      const p = progress?.find((x) => x.id === m.id);
      const info = this.state.memberInfo.get(m.id);
      let reachable: boolean | null = null;
      if (m.id === this.nodeId) reachable = true;
      else if (m.id === st.leader && progress !== null) reachable = true;
      else if (p) reachable = p.ack_age_ms !== null && p.ack_age_ms < reachableWithin;
      return {
        id: m.id,
        role: m.role,
        raft: m.addr,
        sentinel: info?.sentinel ?? null,
        admin: info?.admin ?? null,
        version: info?.version ?? null,
        reachable,
        leader: m.id === st.leader,
        match_index: m.id === this.nodeId ? st.persistedIndex : (p?.match ?? null),
      };
    });
    return {
      node_id: this.nodeId,
      version: VERSION,
      role: st.role,
      member_role: st.memberRole,
      leader: st.leader === 0 ? null : st.leader,
      term: st.term,
      commit_index: st.commit,
      applied_index: st.applied,
      last_index: st.lastIndex,
      snapshot_index: st.snapshotIndex,
      lease: { valid: lease.valid, remaining_ms: lease.remainingMs },
      joining: this.joining,
      members,
      removed: st.membership.removed,
      shards: this.shards(),
      active_jobs: this.state
        .activeJobs()
        .map((j) => ({ id: j.id, kind: j.kind, state: j.state, step: j.step })),
    };
  }

  // -------------------------------------------------------------------------------------------
  // Background duties

  /** The Redis Sentinel protocol port: commands, INFO, and the events of every applied change. */
  private async startSentinelPort(): Promise<void> {
    const c = this.config;
    this.sentinelId = await loadOrCreateSentinelId(c.dataDir);
    const { host, port } = parseAddress(c.sentinel.listen);
    this.sentinel = new SentinelServer({
      host,
      port,
      logger: this.log,
      ...(c.sentinel.requirepass ? { requirepass: c.sentinel.requirepass } : {}),
      genericCommands: {
        shutdown: () => {
          void this.stop('SHUTDOWN on the Sentinel port');
          return undefined;
        },
      },
    });
    const publish = (channel: string, message: string) => {
      this.sentinel.publish(channel, message);
    };
    const backend = new DaemonSentinelBackend({
      myId: this.sentinelId,
      nodeId: this.nodeId,
      raft: this.raft,
      state: this.state,
      engine: this.engine,
      clock: this.clock,
      api: () => this.api,
      adminToken: c.admin.token,
      peerConnected: (id) => this.peerReachable(id),
      failover: (name) =>
        this.isLeader()
          ? this.engine.requestSentinelFailover(name).then(
              (job) => ({ status: 202, body: { job } }),
              (err) =>
                err instanceof FailoverRefused
                  ? { status: err.status, body: { error: { code: err.code, message: err.message } } }
                  : Promise.reject(err),
            )
          : this.forwardCluster('sentinel.failover', { name }, 0),
      publish,
    });
    const commands = new SentinelCommands(backend, { electionTimeoutMs: c.raft.electionTimeoutMs });
    commands.register(this.sentinel);
    this.sentinel.register(
      infoCommandSpec(this.sentinel, {
        sections: [commands.infoSection()],
        serverFields: () => ({
          run_id: this.sentinelId,
          config_file: c.file ?? '',
          raftinel_version: VERSION,
        }),
      }),
    );
    this.localEvents = new LocalEvents(publish, (addr) => backend.seen(addr));
    this.state.onChange((change) => {
      if (change.type === 'shard') {
        const voters = votersOf(this.raft.status().membership).length;
        for (const [channel, message] of eventsOfShardChange(change.event, majority(voters)))
          publish(channel, message);
      } else if (change.type === 'member-info') {
        const info = this.state.memberInfo.get(change.id);
        if (!info?.runId || change.id === this.nodeId) return;
        for (const s of this.state.shards.values()) {
          publish(
            '+sentinel',
            sentinelDetails(info.runId ?? String(change.id), info.sentinel, s.name, s.master),
          );
        }
      }
    });
    const bound = await this.sentinel.listen();
    this.ports.sentinel = bound.port;
  }

  /** Leader: members that acknowledged it within an election timeout (itself included). */
  private reachableMembers(): NodeId[] {
    return this.services.reachableMembers();
  }

  /** Can this daemon (or, on a follower, its leader) reach member `id`? */
  private peerReachable(id: NodeId): boolean {
    const st = this.raft.status();
    if (st.role === 'leader') return this.reachableMembers().includes(id);
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

  /** Make sure the replicated state knows where this member's Sentinel and admin ports are. */
  private async reconcileMemberInfo(): Promise<void> {
    const st = this.raft.status();
    if (st.leader === 0 || !findMember(st.membership, this.nodeId)) return;
    const want = {
      sentinel: this.sentinelAddr(),
      admin: this.adminAddr(),
      version: VERSION,
      runId: this.sentinelId,
    };
    const have = this.state.memberInfo.get(this.nodeId);
    if (
      have &&
      have.sentinel === want.sentinel &&
      have.admin === want.admin &&
      have.version === want.version &&
      have.runId === want.runId
    )
      return;
    const body = { id: this.nodeId, ...want };
    try {
      if (st.role === 'leader') {
        if (st.leaderReady) await proposeCommand(this.raft, { t: 'member.info', ...body });
      } else await this.forwardCluster('member.info', body, 0);
    } catch (err) {
      this.log.debug({ err: (err as Error).message }, 'could not publish member info yet');
    }
  }

  /** A member removed while it was cut off never hears of it from the log: ask the others. */
  private async checkRemoved(): Promise<void> {
    const st = this.raft.status();
    if (st.leader !== 0 || this.joining) {
      this.leaderlessSinceMs = null;
      return;
    }
    const now = this.clock.nowMs();
    this.leaderlessSinceMs ??= now;
    if (now - this.leaderlessSinceMs < 3 * this.config.raft.electionTimeoutMs) return;
    for (const m of st.membership.members) {
      if (m.id === this.nodeId) continue;
      try {
        const r = await this.clusterClient.call(m.addr, 'membership', {}, { timeoutMs: 1000 });
        const view = r.body as { leader?: number; membership?: { removed?: number[] } };
        if (view.leader && view.membership?.removed?.includes(this.nodeId)) {
          this.log.warn({ told_by: m.id }, 'this node was removed from the group while it was cut off');
          void this.stop('this node was removed from the group', 0);
          return;
        }
      } catch {
        // Unreachable peer: try the next.
      }
    }
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

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.clock.setTimeout(resolve, ms));
  }

  // -------------------------------------------------------------------------------------------
  // Shutdown

  /** Stop gracefully: a leader hands over first; storage is flushed. Idempotent. */
  stop(reason = 'requested', exitCode = 0): Promise<void> {
    if (this.stopping) return this.stopping;
    this.stopping = (async () => {
      this.log.info({ reason }, 'stopping');
      for (const t of this.timers) t.cancel();
      await this.handOverLeadership();
      await this.teardown();
      this.log.info('stopped');
      this.resolveStopped(exitCode);
    })();
    return this.stopping;
  }

  private async handOverLeadership(): Promise<void> {
    if (!this.raft) return;
    const st = this.raft.status();
    if (st.role !== 'leader' || this.raft.failed) return;
    const candidates = st.progress
      .filter((p) => {
        const m = findMember(st.membership, p.id);
        return m !== undefined && isVotingRole(m.role) && p.ticksSinceAck !== null;
      })
      .sort((a, b) => b.match - a.match || a.id - b.id);
    const to = candidates[0];
    if (!to) return;
    try {
      this.raft.transferLeadership(to.id);
    } catch {
      return;
    }
    const deadline = this.clock.nowMs() + 2 * this.config.raft.electionTimeoutMs;
    while (this.clock.nowMs() < deadline && this.raft.status().role === 'leader') await this.sleep(10);
    this.log.info(
      { to: to.id, moved: this.raft.status().role !== 'leader' },
      'handed leadership over before stopping',
    );
  }

  private async teardown(): Promise<void> {
    this.engine?.stop();
    this.runner?.stop();
    this.raft?.stop('daemon stopping');
    await this.runner?.idle();
    await Promise.allSettled([
      this.sentinel?.close(),
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

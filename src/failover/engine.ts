/**
 * The failover engine. On every daemon: probe every Redis node, report to the leader, register
 * the daemon's own [[redis]] nodes, and guard its own nodes against an empty restart. On the
 * leader: decide that a master is down (majority of voting daemons), choose the replica, and run
 * failovers and switchovers as jobs whose decision is committed before Redis is touched; keep
 * every node pointed at the committed master.
 */
import { randomUUID } from 'node:crypto';
import { type RefusalCode, Refused } from '../cluster/errors.js';
import {
  type JobContext,
  type JobExecutor,
  JobFailed,
  LostLeadership,
  proposeCommand,
} from '../cluster/jobs.js';
import type { JobKind, JobRecord } from '../cluster/jobs-model.js';
import { defaultSettings } from '../cluster/settings.js';
import type { FailoverKind, Shard, ShardNode } from '../cluster/shards.js';
import { findNode } from '../cluster/shards.js';
import type { ClusterState } from '../cluster/state.js';
import type { FailoverConfig, RedisConfig } from '../config/types.js';
import { votersOf } from '../raft/membership.js';
import type { RaftNode } from '../raft/node.js';
import { type NodeId, RaftError } from '../raft/types.js';
import type { Clock } from '../util/clock.js';
import type { Logger } from '../util/log.js';
import {
  type CandidateFacts,
  compareHistories,
  holdsSomeLineage,
  judgeDown,
  type MasterLineage,
  mergeLineage,
  observeMaster,
  type ReceivedReport,
  rankCandidates,
  waitForAheadCandidate,
} from './decide.js';
import { DISCOVERED_REPLICAS_MAX, type Discovery, discoverReplicas } from './discovery.js';
import { type NodeReport, type NodeView, type ProbeReport, Prober, type ProbeTarget } from './prober.js';
import type { RedisAdapter, RedisInfo } from './redis.js';
import { holdsNoHistory, upstreamOf } from './redis.js';
import { refOf } from './refs.js';

/** A failover, switchover or registration the engine refuses, and why (a domain error). */
export class FailoverRefused extends Refused {
  constructor(code: RefusalCode, message: string) {
    super(code, message);
    this.name = 'FailoverRefused';
  }
}

export interface EngineOptions {
  nodeId: NodeId;
  raft: RaftNode;
  state: ClusterState;
  adapter: RedisAdapter;
  clock: Clock;
  logger: Logger;
  defaults: FailoverConfig;
  redis: RedisConfig[];
  /**
   * Send a peer call (src/cluster/peer-service.ts) to the current leader; resolves with the body
   * of its answer. Throws Refused('no_leader' | 'leader_unreachable') when there is no leader or
   * it cannot be reached, and an error naming the reason when the leader refused.
   */
  callLeader: (method: string, body: unknown) => Promise<unknown>;
  /** Called after every probe round (Sentinel events from this daemon's view). */
  onRound?: () => void;
  /** Leader: the members it currently hears from (sent back with each report, for followers' views). */
  reachableMembers?: () => NodeId[];
  /** The group's election timeout (see CUT_OFF_SHARE_OF_ELECTION_TIMEOUT; absent: 0). */
  electionTimeoutMs?: number;
}

export { refOf };

const REDIS_TIMEOUT_MS = 1000;
/** How often the empty-restart guard retries a node that is still empty and masterful. */
const EMPTY_GUARD_RETRY_MS = 100;
/**
 * How often the leader runs replica discovery for one shard (ms): the prober re-reads every
 * node's INFO every 500 ms, so looking more often finds nothing new. (Sentinel reads a master's
 * INFO every 10 s.)
 */
const DISCOVERY_INTERVAL_MS = 500;
/** The oldest INFO of the master that discovery reads its replicas from (ms): a few INFO reads. */
const DISCOVERY_MASTER_INFO_MAX_AGE_MS = 2000;

function isLiveReplica(v: NodeView | undefined): boolean {
  return !!v && !v.failing && v.info?.role === 'slave';
}

/** A follower's lineage of one shard's master, sent with its probe report. */
interface ReportedLineage {
  shard: string;
  epoch: number;
  master: string;
  ids: readonly string[];
  bounds?: Readonly<Record<string, number>>;
}
/** Lineages a report carries at most (one per shard). */
const REPORT_LINEAGES_MAX = 10_000;
/**
 * How many report ages (maxReportAgeMs: 4 probe rounds + 100 ms) a down verdict must hold while
 * the leader's own probe sees the master answer (overruledBySelf): a probe in flight when a
 * partition heals times out within 2 rounds or 100 ms, the next round's probe and report follow.
 */
const SELF_UP_CONFIRM_REPORT_AGES = 2;
/**
 * A daemon out of the group (no leader, or a leader without its lease) for at least this share
 * of the election timeout, with no answer from any node but its own meanwhile, counts the
 * failures it saw only once a probe sent after its return confirms them
 * (Prober.requireFreshProbes): what it saw fail may only have been its own isolation (seed 9152:
 * every host isolated for 15 s; 25 ms after the heal a new leader failed over the master all
 * three daemons could reach again, on probes that had not come back yet). An ordinary election
 * leaves a member without a leader for a few round trips, far less than this; a slow one (a
 * failed round) may not be, but the survivors of a lost host still hear the other hosts' Redis;
 * and a node that really is down is confirmed by the next probe.
 */
const CUT_OFF_SHARE_OF_ELECTION_TIMEOUT = 0.5;

export class FailoverEngine {
  readonly prober: Prober;
  private reports = new Map<NodeId, ReceivedReport>();
  private reporting = false;
  /** The leader's last answer: which members it hears from, and when we got it. */
  private leaderView: { reachable: Set<NodeId>; atMs: number } | null = null;
  private registering = false;
  private lastRegisterAttemptMs = 0;
  private lastFix = new Map<string, number>();
  private deciding = new Set<string>();
  /** Per shard: when this daemon applied the last aborted failover (monotonic ms). */
  private abortSeenAtMs = new Map<string, number>();
  /**
   * Per shard: since when (monotonic ms) a majority reports its master down while this leader's
   * own probe sees it answer (see overruledBySelf).
   */
  private selfSawUpSinceMs = new Map<string, { master: string; sinceMs: number }>();
  private warned = new Map<string, number>();
  /** Per shard: the replication ids its committed master was seen with (decide.ts MasterLineage). */
  private lineage = new Map<string, MasterLineage>();
  /** Probe reports refused because their sender is not a voting member (tests, metrics). */
  rejectedReports = 0;
  /** Per shard: when this leader first saw it with no master (monotonic ms), for registration. */
  private masterlessSinceMs = new Map<string, number>();
  /** Nodes that came back empty while masterful, guarded every round until they are not. */
  /** Nodes that restarted after holding keys, until they are no longer an empty or behind master. */
  private emptyRestarted = new Map<
    string,
    { keysBefore: number; historyBefore: string[]; lastTryMs: number }
  >();
  private lastPendingCheckMs = new Map<string, number>();
  /** Per shard: when the leader last ran replica discovery (monotonic ms), and the runs under way. */
  private lastDiscoveryMs = new Map<string, number>();
  private discovering = new Set<string>();
  /** Since when (monotonic ms) this daemon has been cut off from the group; null while in it. */
  private cutOffSinceMs: number | null = null;
  /** Times this daemon came back to the group after a cut-off and asked for fresh probes (tests, metrics). */
  cutOffReturns = 0;
  private stopped = false;
  private readonly log: Logger;

  constructor(private readonly o: EngineOptions) {
    this.log = o.logger;
    o.state.onChange((c) => {
      if (c.type === 'shard' && c.event.type === 'failover-abort') {
        this.abortSeenAtMs.set(c.event.shard.name, this.o.clock.nowMs());
      }
    });
    this.prober = new Prober({
      adapter: o.adapter,
      clock: o.clock,
      logger: o.logger.child({ component: 'prober' }),
      targets: () => this.probeTargets(),
      local: (addr) => this.o.redis.some((r) => r.addr === addr),
      probeIntervalMs: () => this.probeIntervalMs(),
      infoIntervalMs: 500,
      stallThresholdMs: 250,
      onRestart: (view, before) => this.noteRestart(view, before),
      onRound: () => this.afterRound(),
    });
  }

  start(): void {
    this.prober.start();
  }

  stop(): void {
    this.stopped = true;
    this.prober.stop();
  }

  /** Probe rounds are a twentieth of the shortest down_after_ms, between 10 and 50 ms. */
  probeIntervalMs(): number {
    return Math.max(10, Math.min(50, Math.floor(this.shortestDownAfterMs() / 20)));
  }

  private shortestDownAfterMs(): number {
    let min = this.o.defaults.downAfterMs;
    for (const s of this.o.state.shards.values()) min = Math.min(min, s.settings.downAfterMs);
    return min;
  }

  /**
   * Track whether this daemon is in the group: a follower that knows its leader, or a leader
   * holding its lease. Coming back after CUT_OFF_SHARE_OF_ELECTION_TIMEOUT of an election timeout
   * or more, its failures need a fresh probe (see the constant). Runs before every report and
   * every verdict.
   */
  private noteGroupContact(): void {
    const st = this.o.raft.status();
    const inGroup =
      st.role === 'leader' ? this.o.raft.lease().valid : st.role === 'follower' && st.leader !== 0;
    const now = this.o.clock.nowMs();
    if (!inGroup) {
      this.cutOffSinceMs ??= now;
      return;
    }
    if (this.cutOffSinceMs === null) return;
    const cutOffMs = now - this.cutOffSinceMs;
    this.cutOffSinceMs = null;
    if (cutOffMs < CUT_OFF_SHARE_OF_ELECTION_TIMEOUT * (this.o.electionTimeoutMs ?? 0)) return;
    // A node on another host answered meanwhile: this daemon was not isolated, what it saw fail
    // is its true view (the leader lost with its host, a slow election).
    if (this.prober.remoteAnswerMs() > now - cutOffMs) return;
    this.cutOffReturns++;
    this.prober.requireFreshProbes(`back in the group after ${Math.round(cutOffMs)} ms out of it`);
  }

  private maxReportAgeMs(): number {
    return 4 * this.probeIntervalMs() + 100;
  }

  private probeTargets(): ProbeTarget[] {
    const out: ProbeTarget[] = [];
    for (const s of this.o.state.shards.values()) {
      for (const n of s.nodes)
        out.push({
          ...refOf(n),
          expectMaster: n.addr === s.master,
          ...(n.addr === s.master && s.settings.masterRebootDownAfterMs > 0
            ? { rebootDownAfterMs: s.settings.masterRebootDownAfterMs }
            : {}),
        });
    }
    return out;
  }

  private isLeader(): boolean {
    const st = this.o.raft.status();
    return st.role === 'leader' && st.leaderReady;
  }

  private afterRound(): void {
    if (this.stopped) return;
    this.noteGroupContact();
    this.observeMasters();
    this.guardEmptyRestarts();
    this.o.onRound?.();
    if (this.isLeader()) {
      this.decide();
    } else {
      void this.sendReport();
    }
    void this.registerOwnNodes();
  }

  // -------------------------------------------------------------------------------------------
  // Reports (followers → leader)

  private async sendReport(): Promise<void> {
    const st = this.o.raft.status();
    if (this.reporting || st.leader === 0 || st.memberRole === null) return;
    this.reporting = true;
    try {
      const lineages: ReportedLineage[] = [...this.lineage]
        .slice(0, REPORT_LINEAGES_MAX)
        .map(([shard, l]) => ({
          shard,
          epoch: l.epoch,
          master: l.master,
          ids: l.ids,
          bounds: l.bounds ?? {},
        }));
      const r = await this.o.callLeader('probe.report', {
        from: this.o.nodeId,
        report: { ...this.prober.report(), lineages },
      });
      const reachable = (r as { reachable?: unknown } | undefined)?.reachable;
      if (Array.isArray(reachable)) {
        this.leaderView = {
          reachable: new Set(reachable.filter((x): x is number => typeof x === 'number')),
          atMs: this.o.clock.nowMs(),
        };
      }
    } catch {
      // The leader is unreachable or changing: the next round reports again.
    } finally {
      this.reporting = false;
    }
  }

  /** Cluster handler on the leader: store a report. Validates what it stores. */
  receiveReport(body: unknown): { reachable: NodeId[]; ignored?: string } {
    const b = body as { from?: unknown; report?: ProbeReport };
    if (typeof b?.from !== 'number' || !b.report || !Array.isArray(b.report.nodes))
      throw new FailoverRefused('invalid_request', 'probe.report needs from and report.nodes');
    // Only a voting member's view counts towards a verdict. A report from a non-member (removed,
    // stray or spoofed) is refused and counted; a learner's is answered (it needs the leader's
    // view of the members) but not stored.
    const membership = this.o.raft.status().membership;
    if (b.from === this.o.nodeId || !membership.members.some((m) => m.id === b.from)) {
      this.rejectedReports++;
      this.warnOnce(`report-from:${b.from}`, { from: b.from }, 'refused a probe report: not from a member');
      throw new FailoverRefused('not_a_member', `node ${b.from} is not a member of the group`);
    }
    if (!votersOf(membership).includes(b.from))
      return { reachable: this.o.reachableMembers?.() ?? [], ignored: 'not a voter' };
    const nodes = new Map<string, NodeReport>();
    for (const n of b.report.nodes.slice(0, 10_000)) {
      if (typeof n?.addr === 'string' && typeof n.failing === 'boolean' && typeof n.downForMs === 'number')
        nodes.set(n.addr, n);
    }
    this.reports.set(b.from, {
      from: b.from,
      receivedAtMs: this.o.clock.nowMs(),
      stalledRecently: b.report.stalledRecently === true,
      nodes,
    });
    // What the reporter remembers of each master's replication ids (see mergeLineage).
    const lineages = (b.report as { lineages?: unknown }).lineages;
    if (Array.isArray(lineages)) {
      for (const r of lineages.slice(0, REPORT_LINEAGES_MAX) as Partial<ReportedLineage>[]) {
        if (typeof r?.shard !== 'string' || typeof r.epoch !== 'number' || typeof r.master !== 'string')
          continue;
        if (!Array.isArray(r.ids)) continue;
        const ids = r.ids.filter((id): id is string => typeof id === 'string' && /^[0-9a-f]{40}$/.test(id));
        const shard = this.o.state.shards.get(r.shard);
        if (!shard) continue;
        const bounds =
          r.bounds && typeof r.bounds === 'object'
            ? Object.fromEntries(
                Object.entries(r.bounds).filter(
                  ([id, b]) => ids.includes(id) && typeof b === 'number' && Number.isFinite(b),
                ),
              )
            : undefined;
        const next = mergeLineage(
          this.lineage.get(r.shard),
          { epoch: r.epoch, master: r.master, ids, ...(bounds ? { bounds } : {}) },
          { epoch: shard.epoch, master: shard.master },
        );
        if (next) this.lineage.set(r.shard, next);
      }
    }
    for (const shard of this.o.state.shards.values()) {
      const n = shard.master ? nodes.get(shard.master) : undefined;
      if (n?.role === 'master' && typeof n.replId === 'string')
        this.noteMaster(shard, {
          replId: n.replId,
          replId2: n.replId2 ?? null,
          secondReplOffset: typeof n.secondReplOffset === 'number' ? n.secondReplOffset : null,
          keys: typeof n.keys === 'number' ? n.keys : 0,
          noHistory: n.noHistory === true,
        });
    }
    if (this.isLeader()) this.decide();
    return { reachable: this.o.reachableMembers?.() ?? [] };
  }

  /** Follower: members the leader heard from recently, as of its last answer (null when stale). */
  leaderReachable(maxAgeMs: number): Set<NodeId> | null {
    if (!this.leaderView || this.o.clock.nowMs() - this.leaderView.atMs > maxAgeMs) return null;
    return this.leaderView.reachable;
  }

  /** Fold one daemon's INFO of a shard's committed master into the shard's lineage. */
  private noteMaster(shard: Shard, obs: Parameters<typeof observeMaster>[3]): void {
    if (!shard.master) return;
    const prev = this.lineage.get(shard.name);
    const next = observeMaster(prev, shard.epoch, shard.master, obs);
    this.lineage.set(shard.name, next);
  }

  /** This daemon's own view of every committed master. */
  private observeMasters(): void {
    for (const shard of this.o.state.shards.values()) {
      if (!shard.master) continue;
      const info = this.prober.view(shard.master)?.info;
      if (info?.role === 'master')
        this.noteMaster(shard, {
          replId: info.replId,
          replId2: info.replId2,
          secondReplOffset: info.secondReplOffset,
          keys: info.keys,
          noHistory: holdsNoHistory(info),
        });
    }
  }

  /** The replication ids the committed master of `name` was seen with (null: none known). */
  lineageOf(name: string): MasterLineage | null {
    const shard = this.o.state.shards.get(name);
    const l = this.lineage.get(name);
    if (!shard || !l || l.epoch !== shard.epoch || l.master !== shard.master) return null;
    return l;
  }

  /** The latest view each voting daemon reported (for status and Sentinel flags). */
  reportOf(id: NodeId): ReceivedReport | undefined {
    return this.reports.get(id);
  }

  // -------------------------------------------------------------------------------------------
  // Detection and reconciliation (leader)

  private decide(): void {
    // Every Redis action of the leader needs a valid lease: a deposed leader that has not noticed
    // yet must not re-point nodes at a master another leader replaced.
    this.noteGroupContact();
    if (!this.o.raft.lease().valid) return;
    for (const shard of this.o.state.shards.values()) {
      if (shard.pending) this.resolveOrphanedPending(shard);
      if (!shard.master || shard.pending || this.deciding.has(shard.name)) continue;
      if (this.hasActiveJob(shard.name)) continue;
      const verdict = this.masterVerdict(shard);
      if (verdict.down && !this.overruledBySelf(shard, verdict.sawUp.includes(this.o.nodeId))) {
        void this.startAutomaticFailover(shard, verdict.votes);
      } else if (!verdict.down) {
        this.selfSawUpSinceMs.delete(shard.name);
        this.reconcile(shard);
        this.discover(shard);
      }
    }
  }

  /**
   * A majority reports the master down, but this leader's own probe sees it answer. A report's
   * "failing" is what its daemon's last probe said, and that probe may have been sent before a
   * partition healed (seed 131 of the WAIT writes: a master back from a 19 s cut was failed over
   * on two such reports 116 ms after the heal, its fresh writes lost). The verdict is acted on
   * only once the disagreement has outlived every report formed before the master came back:
   * SELF_UP_CONFIRM_REPORT_AGES report ages. A master only the leader can reach is still failed
   * over, that much later; a master the leader sees fail is not delayed at all.
   */
  private overruledBySelf(shard: Shard, selfSawUp: boolean): boolean {
    const master = shard.master!;
    if (!selfSawUp) {
      this.selfSawUpSinceMs.delete(shard.name);
      return false;
    }
    const now = this.o.clock.nowMs();
    const seen = this.selfSawUpSinceMs.get(shard.name);
    if (!seen || seen.master !== master) {
      this.selfSawUpSinceMs.set(shard.name, { master, sinceMs: now });
      return true;
    }
    return now - seen.sinceMs < SELF_UP_CONFIRM_REPORT_AGES * this.maxReportAgeMs();
  }

  /** Whether a majority of voting daemons saw `addr` fail for the shard's down_after_ms (the write guard). */
  declaredDown(shard: Shard, addr: string): boolean {
    return this.masterVerdict({ ...shard, master: addr }).down;
  }

  /**
   * A failover is pending but its job is gone or finished (it failed by a path that did not
   * abort, or its record was lost): nothing will ever resolve it and the shard would be stuck.
   * Abort it, so the next verdict can start a new one.
   */
  private resolveOrphanedPending(shard: Shard): void {
    const pending = shard.pending!;
    const job = this.o.state.job(pending.jobId);
    if (job && job.state !== 'succeeded' && job.state !== 'failed') return;
    const now = this.o.clock.nowMs();
    if (now - (this.lastPendingCheckMs.get(shard.name) ?? Number.NEGATIVE_INFINITY) < 1000) return;
    this.lastPendingCheckMs.set(shard.name, now);
    const reason = `failover job ${pending.jobId} ended (${job?.state ?? 'record lost'}) without resolving epoch ${pending.epoch}`;
    this.log.warn({ shard: shard.name, epoch: pending.epoch, job: pending.jobId }, reason);
    void proposeCommand(this.o.raft, {
      t: 'shard.failover.abort',
      name: shard.name,
      epoch: pending.epoch,
      reason,
      atMs: this.o.clock.wallMs(),
    }).catch((err: Error) =>
      this.log.debug({ err: err.message }, 'could not abort an orphaned failover yet'),
    );
  }

  /** Whether the master of `shard` is down, by the voting daemons (see decide.ts votesNeeded). */
  masterVerdict(shard: Shard) {
    const voters = votersOf(this.o.raft.status().membership);
    return judgeDown({
      quorum: shard.settings.quorum,
      addr: shard.master!,
      voters,
      self: this.o.nodeId,
      selfDownForMs: voters.includes(this.o.nodeId) ? this.prober.downForMs(shard.master!) : null,
      selfSawUp: this.prober.notFailing(shard.master!),
      reports: this.reports,
      nowMs: this.o.clock.nowMs(),
      downAfterMs: shard.settings.downAfterMs,
      maxReportAgeMs: this.maxReportAgeMs(),
    });
  }

  private hasActiveJob(shardName: string): boolean {
    return this.o.state
      .activeJobs()
      .some(
        (j) => (j.kind === 'shard.failover' || j.kind === 'shard.switchover') && j.params.shard === shardName,
      );
  }

  /** Point every node that disagrees with the committed state back at the committed master. */
  private reconcile(shard: Shard): void {
    const master = shard.master!;
    if (this.prober.downForMs(master) > 0) return;
    const now = this.o.clock.nowMs();
    for (const n of shard.nodes) {
      if (n.addr === master) continue;
      const v = this.prober.view(n.addr);
      if (!v?.info || v.failing || now - v.infoAtMs > 2000) continue;
      const upstream = upstreamOf(v.info);
      let why: string | null = null;
      if (v.info.role === 'master') why = 'reports role:master (an old master returning?)';
      else if (upstream !== master) why = `replicates ${upstream ?? 'nothing'} instead of ${master}`;
      if (!why) continue;
      if (now - (this.lastFix.get(n.addr) ?? Number.NEGATIVE_INFINITY) < 1000) continue;
      this.lastFix.set(n.addr, now);
      // The view may be up to 2 s old: the node may already follow the master (a job re-pointed
      // it since). followMaster re-reads it first, so a replica that already follows keeps its
      // clients (REPLICAOF is sent with CLIENT KILL).
      this.followMaster(n, master)
        .then((changed) => {
          if (changed)
            this.log.warn(
              { shard: shard.name, epoch: shard.epoch, node: n.addr, master, why },
              'reconfigured a node to follow the master',
            );
        })
        .catch((err: Error) =>
          this.log.warn({ shard: shard.name, node: n.addr, err: err.message }, 'could not reconfigure node'),
        );
    }
  }

  /**
   * Leader: replica discovery (discovery.ts), through the log. Called from decide(), so only with a
   * valid lease, a master that is not down, and no failover pending or running; at most once per
   * DISCOVERY_INTERVAL_MS per shard, one run at a time. A node put in the shard is probed by every
   * daemon from its next round on (the prober re-reads its targets from the committed state).
   */
  private discover(shard: Shard): void {
    const name = shard.name;
    const now = this.o.clock.nowMs();
    if (this.discovering.has(name)) return;
    if (now - (this.lastDiscoveryMs.get(name) ?? Number.NEGATIVE_INFINITY) < DISCOVERY_INTERVAL_MS) return;
    this.lastDiscoveryMs.set(name, now);
    this.discovering.add(name);
    this.discoverNow(name)
      .catch((err: Error) =>
        this.log.warn({ shard: name, err: err.message }, 'replica discovery: could not commit a change'),
      )
      .finally(() => this.discovering.delete(name));
  }

  private async discoverNow(name: string): Promise<void> {
    // INFO of listed replicas that are not nodes yet, so not probed: read here, once per run.
    // A replica is added only with its own INFO read (rather than added at priority 0 until read):
    // one entry with its true priority and replica-announced, so a `replica-priority 0` replica is
    // never a candidate with priority 100, a node added at 0 is not briefly unpromotable while it
    // is in fact the best candidate, and SENTINEL REPLICAS never shows a priority the replica does
    // not have. A replica this leader cannot read could not be promoted by it either (a failover
    // reads every candidate first); the next run tries again.
    const read = new Map<string, RedisInfo>();
    const run = (): Discovery | null => {
      const shard = this.o.state.shards.get(name);
      if (!shard?.master || shard.pending || this.hasActiveJob(name)) return null;
      if (!this.isLeader() || !this.o.raft.lease().valid) return null;
      const mv = this.prober.view(shard.master);
      const fresh =
        !!mv?.info && !mv.failing && this.o.clock.nowMs() - mv.infoAtMs <= DISCOVERY_MASTER_INFO_MAX_AGE_MS;
      return discoverReplicas({
        shard,
        masterInfo: fresh ? mv.info : null,
        infoOf: (addr) => read.get(addr) ?? this.prober.view(addr)?.info,
      });
    };
    const first = run();
    if (!first) return;
    if (first.overLimit.length > 0)
      this.warnOnce(
        `discovery-limit:${name}`,
        { shard: name, left_out: first.overLimit.slice(0, 10), count: first.overLimit.length },
        'replica discovery: the shard has the most nodes discovery adds (DISCOVERED_REPLICAS_MAX); replicas left out',
      );
    for (const s of first.skipped)
      this.log.debug({ shard: name, addr: s.addr, reason: s.reason }, 'replica discovery: not added');
    if (first.unread.length > 0) {
      // With the shard's credentials (the master's), as the node would be added.
      const shard = this.o.state.shards.get(name);
      const masterNode = shard?.master ? findNode(shard, shard.master) : undefined;
      await Promise.all(
        first.unread.map(async (addr) => {
          const ref = { addr, username: masterNode?.username, password: masterNode?.password };
          const info = await this.o.adapter.info(ref, REDIS_TIMEOUT_MS).catch((err: Error) => {
            this.log.debug({ shard: name, addr, err: err.message }, 'replica discovery: cannot read it yet');
            return null;
          });
          if (info) read.set(addr, info);
        }),
      );
    }
    // One entry per change, each computed from the committed state as it is then (a daemon may
    // register one of these nodes meanwhile: its entry wins, discovery never touches it after).
    // Every change committed makes that change disappear from the next run: bounded anyway.
    const bound = DISCOVERED_REPLICAS_MAX + (this.o.state.shards.get(name)?.nodes.length ?? 0) + 1;
    for (let i = 0; i < bound; i++) {
      const change = run()?.changes[0];
      if (!change) return;
      // onlyUnowned: a daemon registering this node meanwhile keeps its ownership (the fence).
      const r = await proposeCommand(this.o.raft, {
        t: 'shard.node.put',
        name,
        node: change.node,
        onlyUnowned: true,
      });
      if (!r.ok) throw new Error(r.error);
      this.log.info(
        { shard: name, addr: change.node.addr, priority: change.node.priority, why: change.why },
        change.kind === 'new' ? 'replica discovered' : 'replica updated from its INFO',
      );
    }
  }

  /**
   * Make `n` a replica of `master` unless a fresh INFO shows it already is one: true when it was
   * reconfigured. The one path for re-pointing a node at a committed master.
   */
  private async followMaster(n: ShardNode, master: string): Promise<boolean> {
    const info = await this.o.adapter.info(refOf(n), REDIS_TIMEOUT_MS);
    if (info.role === 'slave' && upstreamOf(info) === master) return false;
    await this.o.adapter.reconfigure(refOf(n), master, {
      rewriteConfig: info.configFile !== '',
      timeoutMs: REDIS_TIMEOUT_MS,
    });
    return true;
  }

  private async startAutomaticFailover(shard: Shard, votes: NodeId[]): Promise<void> {
    const name = shard.name;
    const retryPause = Math.min(
      shard.settings.failoverTimeoutMs,
      Math.max(2 * shard.settings.downAfterMs, 1000),
    );
    // When this daemon applied the last abort, on its own monotonic clock: wall clocks of
    // different daemons are not comparable (a leader an hour ahead would block retries for an hour).
    const abortedAt = this.abortSeenAtMs.get(name);
    if (abortedAt !== undefined && this.o.clock.nowMs() - abortedAt < retryPause) return;
    this.deciding.add(name);
    try {
      const master = shard.master!;
      // Once per 5 s per shard and epoch: a shard with no candidate is re-decided every report.
      this.warnOnce(
        `down:${name}:${shard.epoch}`,
        { shard: name, epoch: shard.epoch, master, votes },
        'master is down (majority of voting daemons agree)',
      );
      const downFor = this.prober.downForMs(master);
      const choice = await this.chooseCandidate(shard, { force: false, masterDownForMs: downFor });
      if (!choice.to) {
        if (await this.restoreDemotedMaster(shard, choice.facts)) return;
        this.warnOnce(
          `no-candidate:${name}`,
          { shard: name, rejected: choice.rejected },
          'no replica can be promoted',
        );
        return;
      }
      await this.beginFailover(
        shard,
        'auto',
        choice.to,
        `master ${master} down (seen by nodes ${votes.join(', ')})${choice.note}`,
      );
    } catch (err) {
      this.log.warn({ shard: name, err: (err as Error).message }, 'could not start a failover');
    } finally {
      this.deciding.delete(name);
    }
  }

  /** Read fresh INFO from every possible candidate and rank them. */
  async chooseCandidate(shard: Shard, opts: { force: boolean; masterDownForMs: number; only?: string }) {
    const candidates = shard.nodes.filter(
      (n) => n.addr !== shard.master && (!opts.only || n.addr === opts.only),
    );
    const facts: CandidateFacts[] = await Promise.all(
      candidates.map(async (node) => ({
        node,
        info: await this.o.adapter
          .info(refOf(node), Math.min(500, shard.settings.downAfterMs))
          .catch(() => null),
        ownerLive: this.ownerLive(node),
      })),
    );
    const ranking = this.rank(shard, facts, opts.force, opts.masterDownForMs);
    let best = ranking.ranked[0];
    if (best && !opts.force) {
      const wait = waitForAheadCandidate({
        best,
        unreachable: facts
          .filter((f) => f.info === null)
          .map((f) => {
            const info = this.prober.view(f.node.addr)?.info;
            return {
              addr: f.node.addr,
              last: info ? { role: info.role, replId: info.replId, offset: info.offset } : null,
              failingForMs: this.prober.downForMs(f.node.addr),
            };
          }),
        lineage: this.lineageOf(shard.name),
        downAfterMs: shard.settings.downAfterMs,
      });
      if (wait) {
        ranking.rejected.push({ addr: best.addr, reason: wait.reason });
        best = undefined;
      }
    }
    this.log.debug(
      {
        shard: shard.name,
        ranked: ranking.ranked.map((r) => `${r.addr} offset ${r.offset} priority ${r.priority}`),
        rejected: ranking.rejected,
      },
      'failover candidates',
    );
    // A node with no live daemon is never fenced if it is cut off later: chosen only when no
    // other is eligible (ranking puts it last), and the job's reason says so.
    const note =
      best && !best.ownerLive
        ? `; ${best.addr} has no live daemon beside it (no other replica was eligible): it is not fenced if it is cut off`
        : '';
    return { to: best?.addr ?? null, ranked: ranking.ranked, rejected: ranking.rejected, note, facts };
  }

  /**
   * The committed master reports role:slave: the restart guard made it follow a replica that held
   * more of the history than the RDB it restarted from (guardEmptyRestart), and the failover to
   * that replica never came (found by the system simulation, seed 21267: no leader for 22 s, then
   * that replica restarted empty). When no other node holds more of the master's histories than
   * the master itself, as read now or, for a node that does not answer, as last seen, the master
   * holds the most there is: make it master again (REPLICAOF NO ONE) in the same epoch, which
   * names it already. A node answering ahead of it is the failover's candidate; one that does not
   * answer and was last seen ahead (or never read) keeps the shard waiting until it has failed for
   * down_after_ms, the same bound a candidate ahead is waited for. Leader only, under a valid
   * lease, with no failover pending. True when the master was restored.
   */
  private async restoreDemotedMaster(shard: Shard, facts: readonly CandidateFacts[]): Promise<boolean> {
    const master = shard.master;
    const node = master ? findNode(shard, master) : undefined;
    if (!master || !node || shard.pending || this.hasActiveJob(shard.name)) return false;
    if (!this.isLeader() || !this.o.raft.lease().valid) return false;
    const info = await this.o.adapter.info(refOf(node), REDIS_TIMEOUT_MS).catch(() => null);
    if (info?.role !== 'slave' || info.loading || info.syncInProgress || holdsNoHistory(info)) return false;
    // Only a master that holds the shard's history (an id the committed master was seen with):
    // one that restarted empty and then synced from another restarted node holds something else
    // (found by the system simulation, seed 21066: that master was restored, and the old master
    // holding every write resynced from it).
    if (!holdsSomeLineage(this.lineageOf(shard.name), info)) return false;
    for (const n of shard.nodes) {
      if (n.addr === master) continue;
      const read = facts.find((f) => f.node.addr === n.addr)?.info ?? null;
      const seen = read ?? this.prober.view(n.addr)?.info ?? null;
      const ahead = seen === null || compareHistories(seen, info) === 'ahead';
      // As for a candidate (waitForAheadCandidate): a node that does not answer is waited for
      // until it has been failing for down_after_ms; past that, what only it held counts as lost
      // with it, and restoring the master keeps all the rest.
      const waited = read === null && this.prober.downForMs(n.addr) >= shard.settings.downAfterMs;
      if (ahead && (read !== null || !waited)) {
        this.warnOnce(
          `restore-wait:${shard.name}`,
          { shard: shard.name, master, node: n.addr, seen: seen !== null },
          seen
            ? 'the master the restart guard demoted is not restored: a node holds more of its history'
            : 'the master the restart guard demoted is not restored: a node that may hold more of its history was never read',
        );
        return false;
      }
    }
    const fresh = this.o.state.shards.get(shard.name);
    if (fresh?.master !== master || fresh.pending || fresh.epoch !== shard.epoch) return false;
    this.log.warn(
      {
        shard: shard.name,
        epoch: shard.epoch,
        master,
        offset: info.offset,
        was_replica_of: upstreamOf(info),
      },
      'restoring the master the restart guard demoted: no other node holds more of its history',
    );
    await this.o.adapter.reconfigure(refOf(node), null, {
      rewriteConfig: info.configFile !== '',
      timeoutMs: REDIS_TIMEOUT_MS,
    });
    return true;
  }

  /** rankCandidates with what this daemon knows of the shard's master. */
  private rank(shard: Shard, facts: CandidateFacts[], force: boolean, masterDownForMs: number) {
    const masterInfo = shard.master ? this.prober.view(shard.master)?.info : undefined;
    const lineage = this.lineageOf(shard.name);
    return rankCandidates({
      shard,
      facts,
      masterLastOffset: masterInfo?.role === 'master' ? masterInfo.offset : 0,
      masterDownForMs,
      masterFollows: masterInfo ? upstreamOf(masterInfo) : null,
      demotedMaster:
        masterInfo?.role === 'slave' && holdsSomeLineage(lineage, masterInfo) ? masterInfo : null,
      masterRestoredFrom:
        masterInfo?.role === 'master' && masterInfo.replId2 !== ''
          ? { replId: masterInfo.replId2, secondReplOffset: masterInfo.secondReplOffset }
          : null,
      force,
      lineage,
    });
  }

  /**
   * Why `node`, as its INFO reads now, may no longer be promoted (null: it still may). A decision
   * is taken on INFO read before it commits; a job that retries or is resumed by another leader
   * promotes later, and the node may have restarted empty or from an older RDB meanwhile (found
   * by the system simulation, seed 878 with WAIT writes: a job resumed 26 s after its decision
   * promoted its target moments after that Redis restarted empty). The lag is measured against
   * the master's last offset seen, as at the decision.
   */
  private noLongerEligible(shard: Shard, node: ShardNode, info: RedisInfo, force: boolean): string | null {
    const masterDownForMs = shard.master ? this.prober.downForMs(shard.master) : 0;
    const r = this.rank(shard, [{ node, info, ownerLive: true }], force, masterDownForMs);
    return r.ranked.length > 0 ? null : (r.rejected[0]?.reason ?? 'not eligible');
  }

  /** The daemon beside `node` is a voting or learning member this leader hears from. */
  private ownerLive(node: ShardNode): boolean {
    if (node.owner === null) return false;
    const st = this.o.raft.status();
    if (!st.membership.members.some((m) => m.id === node.owner)) return false;
    if (node.owner === this.o.nodeId) return true;
    return (this.o.reachableMembers?.() ?? []).includes(node.owner);
  }

  /** Commit the decision: the next epoch, the chosen node, and the job, in one entry. */
  private async beginFailover(
    shard: Shard,
    kind: FailoverKind,
    to: string,
    reason: string,
  ): Promise<JobRecord> {
    const jobKind: JobKind = kind === 'switchover' ? 'shard.switchover' : 'shard.failover';
    const now = this.o.clock.wallMs();
    const epoch = shard.lastEpoch + 1;
    const job: JobRecord = {
      id: randomUUID(),
      kind: jobKind,
      params: { shard: shard.name, epoch, from: shard.master, to, kind, reason },
      // Created running: the decision entry is all that must be committed before Redis is touched.
      state: 'running',
      reason: null,
      step: 'started',
      result: null,
      createdAtMs: now,
      updatedAtMs: now,
      origin: this.o.nodeId,
    };
    const r = await proposeCommand(this.o.raft, {
      t: 'shard.failover.begin',
      name: shard.name,
      expectEpoch: shard.epoch,
      epoch,
      from: shard.master,
      to,
      kind,
      jobId: job.id,
      atMs: now,
      job,
    });
    if (!r.ok) throw new FailoverRefused('conflict', r.error);
    this.log.warn(
      { shard: shard.name, epoch, from: shard.master, to, kind, job: job.id, reason },
      'failover decided',
    );
    return this.o.state.job(job.id) ?? job;
  }

  private warnOnce(key: string, fields: object, msg: string): void {
    const now = this.o.clock.nowMs();
    if (now - (this.warned.get(key) ?? Number.NEGATIVE_INFINITY) < 5000) return;
    this.warned.set(key, now);
    this.log.warn(fields, msg);
  }

  // -------------------------------------------------------------------------------------------
  // Operator requests (on the leader)

  async requestSwitchover(name: string, to: string | undefined): Promise<JobRecord> {
    const shard = this.shardOrThrow(name);
    if (!shard.master)
      throw new FailoverRefused('no_master', `shard ${name} has no master to switch over from`);
    if (shard.pending || this.hasActiveJob(name))
      throw new FailoverRefused('in_progress', `a failover of ${name} is already in progress`);
    if (to !== undefined) this.nodeOrThrow(shard, to);
    if (to === shard.master)
      throw new FailoverRefused('invalid_request', `${to} is already the master of ${name}`);
    const choice = await this.chooseCandidate(shard, {
      force: false,
      masterDownForMs: 0,
      ...(to ? { only: to } : {}),
    });
    if (!choice.to) {
      const why = choice.rejected.map((r) => `${r.addr}: ${r.reason}`).join('; ') || 'no replicas';
      throw new FailoverRefused('no_candidate', `no replica of ${name} can take over: ${why}`);
    }
    return this.beginFailover(shard, 'switchover', choice.to, `switchover requested${choice.note}`);
  }

  /**
   * SENTINEL FAILOVER: a zero-loss switchover when the master answers. When it does not answer
   * this leader, a failover only on the voting daemons' verdict (the same votes an automatic
   * failover needs, see masterVerdict): one vantage point failing to reach the master is not
   * proof that it is down, and promoting on it would make two masters. Without that verdict the
   * request is refused with a clear error (retry, or `raftinel failover --force` to accept it).
   */
  async requestSentinelFailover(name: string): Promise<JobRecord> {
    const shard = this.shardOrThrow(name);
    if (shard.pending || this.hasActiveJob(name))
      throw new FailoverRefused('in_progress', `a failover of ${name} is already in progress`);
    if (shard.master && this.prober.downForMs(shard.master) === 0)
      return this.requestSwitchover(name, undefined);
    let reason = `SENTINEL FAILOVER of a shard with no master`;
    if (shard.master) {
      const verdict = this.masterVerdict(shard);
      if (!verdict.down)
        throw new FailoverRefused(
          'master_not_down',
          `the master ${shard.master} of ${name} does not answer this leader, but only ${verdict.votes.length} of the ${verdict.needed} voting daemons needed saw it down for down_after_ms (${shard.settings.downAfterMs} ms); not failing over on one view (retry once it is declared down, or force a failover to a named replica)`,
        );
      reason = `SENTINEL FAILOVER with the master down (seen by nodes ${verdict.votes.join(', ')})`;
    }
    const choice = await this.chooseCandidate(shard, {
      force: false,
      masterDownForMs: this.prober.downForMs(shard.master ?? ''),
    });
    if (!choice.to) {
      const why = choice.rejected.map((r) => `${r.addr}: ${r.reason}`).join('; ') || 'no replicas';
      throw new FailoverRefused('no_candidate', `no replica of ${name} can take over: ${why}`);
    }
    return this.beginFailover(shard, 'forced', choice.to, `${reason}${choice.note}`);
  }

  async requestForcedFailover(name: string, to: string): Promise<JobRecord> {
    const shard = this.shardOrThrow(name);
    const node = this.nodeOrThrow(shard, to);
    if (to === shard.master)
      throw new FailoverRefused('invalid_request', `${to} is already the master of ${name}`);
    if (node.role === 'observer')
      throw new FailoverRefused('not_promotable', `${to} is an observer and is never promoted`);
    if (shard.pending || this.hasActiveJob(name))
      throw new FailoverRefused('in_progress', `a failover of ${name} is already in progress`);
    const choice = await this.chooseCandidate(shard, { force: true, masterDownForMs: 0, only: to });
    if (!choice.to) {
      const why = choice.rejected.map((r) => r.reason).join('; ') || 'not reachable';
      throw new FailoverRefused('no_candidate', `cannot promote ${to}: ${why}`);
    }
    return this.beginFailover(shard, 'forced', to, 'forced failover requested');
  }

  private shardOrThrow(name: string): Shard {
    const s = this.o.state.shards.get(name);
    if (!s) throw new FailoverRefused('unknown_shard', `no shard ${name}`);
    return s;
  }

  private nodeOrThrow(shard: Shard, addr: string): ShardNode {
    const n = findNode(shard, addr);
    if (!n) throw new FailoverRefused('unknown_node', `${addr} is not a node of ${shard.name}`);
    return n;
  }

  // -------------------------------------------------------------------------------------------
  // Job executors

  executors(): Partial<Record<JobKind, JobExecutor>> {
    return {
      'shard.failover': (ctx) => this.resolvingPending(ctx, () => this.runFailover(ctx)),
      'shard.switchover': (ctx) => this.resolvingPending(ctx, () => this.runSwitchover(ctx)),
    };
  }

  /**
   * A failover job ends with its pending failover resolved, whichever way it fails: committed by
   * the executor, or aborted here (an unexpected error, a refused commit, a superseded epoch). Only
   * a change of leader leaves it pending, for the next leader's runner to resume.
   */
  private async resolvingPending<T>(ctx: JobContext, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (err) {
      const leaderLeft =
        err instanceof LostLeadership || (err instanceof RaftError && err.code === 'not_leader');
      const shard = this.o.state.shards.get(ctx.job.params.shard as string);
      if (!leaderLeft && shard?.pending?.jobId === ctx.job.id) {
        const reason = `failover job failed: ${(err as Error).message}`;
        ctx.log.warn(
          { shard: shard.name, epoch: shard.pending.epoch },
          'aborting the failover of a failed job',
        );
        await proposeCommand(ctx.raft, {
          t: 'shard.failover.abort',
          name: shard.name,
          epoch: shard.pending.epoch,
          reason,
          atMs: ctx.clock.wallMs(),
        }).catch((e: Error) =>
          // The leader's decide() aborts a pending failover whose job has ended (resolveOrphanedPending).
          ctx.log.warn({ err: e.message }, 'could not abort yet; the leader will'),
        );
      }
      throw err;
    }
  }

  /**
   * The fencing token of a job's Redis action: checked right before every role change. This daemon
   * leads with a valid lease (no other leader can exist), and the shard's failover at `epoch` is
   * still this job's (pending), or, once committed, `epoch` is still the committed epoch. A
   * deposed leader that stalled after committing a step never acts on what a new leader decided.
   */
  private async assertToken(ctx: JobContext, epoch: number, phase: 'pending' | 'committed'): Promise<void> {
    await ctx.awaitLease(ctx.electionTimeoutMs);
    const s = this.o.state.shards.get(ctx.job.params.shard as string);
    const ok =
      phase === 'pending'
        ? s?.pending?.epoch === epoch && s.pending.jobId === ctx.job.id
        : s?.epoch === epoch && s.pending === null;
    if (!ok)
      throw new JobFailed(
        `epoch ${epoch} of ${String(ctx.job.params.shard)} is no longer this job's (now epoch ${s?.epoch ?? '?'}, pending ${s?.pending?.epoch ?? 'none'}); not touching Redis`,
      );
  }

  private jobShard(ctx: JobContext): Shard {
    const s = this.o.state.shards.get(ctx.job.params.shard as string);
    if (!s) throw new JobFailed(`shard ${String(ctx.job.params.shard)} no longer exists`);
    return s;
  }

  private async abort(ctx: JobContext, shard: Shard, epoch: number, reason: string): Promise<never> {
    await proposeCommand(ctx.raft, {
      t: 'shard.failover.abort',
      name: shard.name,
      epoch,
      reason,
      atMs: ctx.clock.wallMs(),
    });
    throw new JobFailed(reason);
  }

  /**
   * REPLICAOF NO ONE on `to`, retried within `budgetMs`, until it reports role:master (read on the
   * same connection). Returns the run id of the server that reported it, or the error.
   * `recheck` (failovers, resumed switchovers): before each
   * attempt, read the node and give up when it may no longer be promoted (noLongerEligible). A
   * switchover has just seen its target catch up with the paused master, and its old master may
   * already replicate the target, which that check would misread.
   */
  private async promote(
    ctx: JobContext,
    to: ShardNode,
    budgetMs: number,
    recheck: { shard: Shard; force: boolean } | null,
  ): Promise<{ runId: string } | { error: string }> {
    const deadline = ctx.clock.nowMs() + budgetMs;
    let lastErr = 'no answer';
    let rewriteConfig = this.prober.view(to.addr)?.info?.configFile !== '';
    const epoch = ctx.job.params.epoch as number;
    while (ctx.clock.nowMs() < deadline) {
      await this.assertToken(ctx, epoch, 'pending');
      if (recheck) {
        // What the node holds now, not when the decision was taken (see noLongerEligible).
        const now = await this.o.adapter.info(refOf(to), REDIS_TIMEOUT_MS).catch((err: Error) => {
          lastErr = err.message;
          return null;
        });
        if (now === null) {
          await ctx.sleep(10);
          continue;
        }
        const refused = this.noLongerEligible(recheck.shard, to, now, recheck.force);
        if (refused !== null) return { error: `${to.addr} may no longer be promoted: ${refused}` };
        if (now.role === 'master') return { runId: now.runId };
      }
      try {
        const after = await this.o.adapter.reconfigure(refOf(to), null, {
          rewriteConfig,
          timeoutMs: REDIS_TIMEOUT_MS,
        });
        if (after.role === 'master') return { runId: after.runId };
        rewriteConfig = after.configFile !== '';
        lastErr = 'still reports role:slave';
      } catch (err) {
        lastErr = (err as Error).message;
        // REPLICAOF NO ONE may have run and only the INFO after it failed (timed out): the outcome
        // is unknown, not failed. Read the role again before trying anything else (a recheck
        // reads it at the top of the next attempt).
        if (!recheck) {
          const runId = await this.reportsMaster(to);
          if (runId !== null) return { runId };
        }
      }
      await ctx.sleep(10);
    }
    const runId = await this.reportsMaster(to);
    if (runId !== null) return { runId };
    return { error: `${to.addr} did not become master within ${budgetMs} ms: ${lastErr}` };
  }

  /** The run id of `node` when it reports role:master, else null. */
  private async reportsMaster(node: ShardNode): Promise<string | null> {
    const info = await this.o.adapter.info(refOf(node), REDIS_TIMEOUT_MS).catch(() => null);
    return info?.role === 'master' ? info.runId : null;
  }

  private async commitMaster(
    ctx: JobContext,
    shard: Shard,
    epoch: number,
    to: string,
    kind: FailoverKind,
    reason: string,
    runId: string,
  ): Promise<void> {
    const r = await proposeCommand(ctx.raft, {
      t: 'shard.master',
      name: shard.name,
      epoch,
      master: to,
      from: ctx.job.params.from as string | null,
      kind,
      jobId: ctx.job.id,
      atMs: ctx.clock.wallMs(),
      reason,
      runId,
    });
    if (!r.ok) throw new JobFailed(`could not commit the new master: ${r.error}`);
    ctx.log.warn({ shard: shard.name, epoch, master: to }, 'new master committed');
  }

  /** Point every other node at the new master, in parallel, bounded in time. */
  private async repointOthers(ctx: JobContext, shard: Shard, master: string): Promise<string[]> {
    await this.assertToken(ctx, ctx.job.params.epoch as number, 'committed');
    const others = this.o.state.shards.get(shard.name)?.nodes.filter((n) => n.addr !== master) ?? [];
    const failed: string[] = [];
    await Promise.all(
      others.map(async (n) => {
        try {
          await this.followMaster(n, master);
        } catch (err) {
          failed.push(`${n.addr} (${(err as Error).message})`);
        }
      }),
    );
    if (failed.length > 0)
      ctx.log.warn(
        { shard: shard.name, failed },
        'some nodes could not be re-pointed yet; they will be when reachable',
      );
    return failed;
  }

  private async runFailover(ctx: JobContext) {
    const shard = this.jobShard(ctx);
    const epoch = ctx.job.params.epoch as number;
    const to = ctx.job.params.to as string;
    const kind = ctx.job.params.kind as FailoverKind;
    if (shard.master === to && shard.epoch === epoch) {
      await this.repointOthers(ctx, shard, to);
      return { reason: `${to} is the master (epoch ${epoch})` };
    }
    if (!shard.pending || shard.pending.epoch !== epoch)
      throw new JobFailed(`failover epoch ${epoch} of ${shard.name} was superseded`);
    const node = findNode(shard, to);
    if (!node) return this.abort(ctx, shard, epoch, `${to} is no longer a node of ${shard.name}`);
    ctx.log.warn({ shard: shard.name, epoch, to }, 'promoting');
    const promoted = await this.promote(ctx, node, Math.max(2000, shard.settings.downAfterMs), {
      shard,
      force: kind === 'forced',
    });
    if ('error' in promoted) return this.abort(ctx, shard, epoch, promoted.error);
    await this.commitMaster(
      ctx,
      shard,
      epoch,
      to,
      kind,
      String(ctx.job.params.reason ?? kind),
      promoted.runId,
    );
    await ctx.step('re-pointing the other nodes');
    const failed = await this.repointOthers(ctx, shard, to);
    return {
      reason: `promoted ${to} (epoch ${epoch})${failed.length ? `; not yet re-pointed: ${failed.join(', ')}` : ''}`,
      result: { epoch, master: to },
    };
  }

  /**
   * Planned switchover: pause writes on the master, wait until the target has the master's
   * offset, demote the old master (REPLICAOF the target, its clients still connected and paused),
   * promote the target, commit, then close the old master's clients (they re-resolve to the new
   * master) and resume. Two masters never accept writes at once. The
   * pause is bounded: if the target does not catch up in time, the switchover is rolled back.
   * A new leader resuming it rolls forward once the old master was demoted, else rolls back.
   */
  private async runSwitchover(ctx: JobContext) {
    const shard = this.jobShard(ctx);
    const epoch = ctx.job.params.epoch as number;
    const to = ctx.job.params.to as string;
    const from = ctx.job.params.from as string;
    if (shard.master === to && shard.epoch === epoch) {
      await this.repointOthers(ctx, shard, to);
      return { reason: `${to} is the master (epoch ${epoch})` };
    }
    if (!shard.pending || shard.pending.epoch !== epoch)
      throw new JobFailed(`switchover epoch ${epoch} of ${shard.name} was superseded`);
    const oldNode = findNode(shard, from);
    const newNode = findNode(shard, to);
    if (!oldNode || !newNode)
      return this.abort(ctx, shard, epoch, 'a node of the switchover is no longer in the shard');
    const pauseMs = shard.settings.switchoverPauseMs;
    const unpauseOld = () => this.o.adapter.unpause(refOf(oldNode), REDIS_TIMEOUT_MS).catch(() => {});
    const started = ctx.clock.nowMs();
    /**
     * Roll back once the old master may have been demoted: it has everything the target has (it
     * has not synced from the target: Redis waits repl-diskless-sync-delay before a full resync),
     * so it is made master again and the target its replica.
     */
    const rollBack = async (reason: string) => {
      await this.assertToken(ctx, epoch, 'pending');
      await this.o.adapter
        .reconfigure(refOf(oldNode), null, { rewriteConfig: false, timeoutMs: REDIS_TIMEOUT_MS })
        .catch(() => {});
      await this.o.adapter
        .reconfigure(refOf(newNode), from, { rewriteConfig: false, timeoutMs: REDIS_TIMEOUT_MS })
        .catch(() => {});
      await unpauseOld();
      return this.abort(ctx, shard, epoch, reason);
    };

    const resumed = ctx.job.step !== null && ctx.job.step !== 'started';
    if (resumed) {
      const [m, t] = await Promise.all([
        this.o.adapter.info(refOf(oldNode), REDIS_TIMEOUT_MS).catch(() => null),
        this.o.adapter.info(refOf(newNode), REDIS_TIMEOUT_MS).catch(() => null),
      ]);
      const demoted = m?.role === 'slave' && upstreamOf(m) === to;
      // The target may have restarted (empty, or from an older RDB) since the switchover began:
      // an empty Redis that starts as a master is not a finished promotion (found by the system
      // simulation, seed 624 with WAIT writes: the switchover was finished onto it, 428 writes lost).
      const lost = t === null ? null : this.noLongerEligible(shard, newNode, t, false);
      if (lost !== null) {
        const why = `switchover interrupted by a leader change; ${to} may no longer be promoted: ${lost}; rolled back`;
        if (demoted) return rollBack(why);
        await unpauseOld();
        return this.abort(ctx, shard, epoch, why);
      }
      if (t?.role !== 'master' && !demoted) {
        await unpauseOld();
        return this.abort(
          ctx,
          shard,
          epoch,
          `switchover interrupted by a leader change before ${from} was demoted; rolled back`,
        );
      }
      ctx.log.warn(
        { shard: shard.name, epoch },
        'resuming an interrupted switchover: the old master was demoted, finishing it',
      );
    } else {
      await ctx.step(`pausing writes on ${from} for at most ${pauseMs} ms`);
      await this.assertToken(ctx, epoch, 'pending');
      try {
        await this.o.adapter.pauseWrites(refOf(oldNode), pauseMs, REDIS_TIMEOUT_MS);
      } catch (err) {
        return this.abort(ctx, shard, epoch, `could not pause writes on ${from}: ${(err as Error).message}`);
      }
      // Catch up within half the pause, so demotion and promotion fit in the rest.
      const catchUpDeadline = started + pauseMs / 2;
      for (;;) {
        const [m, t] = await Promise.all([
          this.o.adapter.info(refOf(oldNode), REDIS_TIMEOUT_MS).catch(() => null),
          this.o.adapter.info(refOf(newNode), REDIS_TIMEOUT_MS).catch(() => null),
        ]);
        if (m && t && t.role === 'slave' && upstreamOf(t) === from && t.masterLinkUp && t.offset >= m.offset)
          break;
        if (ctx.clock.nowMs() >= catchUpDeadline) {
          await unpauseOld();
          const detail = m && t ? `${m.offset - t.offset} bytes behind` : 'could not read both offsets';
          return this.abort(
            ctx,
            shard,
            epoch,
            `${to} did not catch up with ${from} within ${Math.round(pauseMs / 2)} ms (${detail}); switchover rolled back, ${from} is still the master`,
          );
        }
        await ctx.sleep(2);
      }
      await this.assertToken(ctx, epoch, 'pending');
      // Extend the pause so the rest happens while the old master is still paused.
      await this.o.adapter.pauseWrites(refOf(oldNode), pauseMs, REDIS_TIMEOUT_MS).catch(() => {});
      await ctx.step(`demoting ${from} and promoting ${to}`);
      await this.assertToken(ctx, epoch, 'pending');
      try {
        const info = await this.o.adapter.info(refOf(oldNode), REDIS_TIMEOUT_MS);
        // Its clients stay connected, their writes paused, until the new master is committed:
        // see the CLIENT KILL after commitMaster below.
        await this.o.adapter.reconfigure(refOf(oldNode), to, {
          rewriteConfig: info.configFile !== '',
          timeoutMs: REDIS_TIMEOUT_MS,
          killClients: false,
        });
      } catch (err) {
        await unpauseOld();
        return this.abort(
          ctx,
          shard,
          epoch,
          `could not demote ${from}: ${(err as Error).message}; switchover rolled back`,
        );
      }
    }
    // A resumed switchover re-reads its target before each attempt, as a failover does.
    const promoted = await this.promote(
      ctx,
      newNode,
      Math.max(500, pauseMs / 4),
      resumed ? { shard, force: false } : null,
    );
    if ('error' in promoted)
      return rollBack(`${promoted.error}; switchover rolled back, ${from} is the master again`);
    await this.commitMaster(ctx, shard, epoch, to, 'switchover', 'switchover', promoted.runId);
    await this.assertToken(ctx, epoch, 'committed');
    // Only now, with the new master named and +switch-master published, close the old master's
    // client connections (REPLICAOF of the same master is a no-op; the transaction's CLIENT KILLs
    // are the point), then resume its paused writes, which fail with READONLY. Clients re-resolve
    // straight to the new master instead of churning on a demoted master that is still named, and
    // ioredis' failoverDetector, which ends its client for good when +switch-master reaches it in
    // the middle of a reconnection, is still connected when it hears the switch.
    await this.o.adapter
      .reconfigure(refOf(oldNode), to, { rewriteConfig: false, timeoutMs: REDIS_TIMEOUT_MS })
      .catch(() => {});
    await unpauseOld();
    const pausedMs = Math.round(ctx.clock.nowMs() - started);
    await ctx.step('re-pointing the other nodes');
    await this.repointOthers(ctx, shard, to);
    return {
      reason: `switched over from ${from} to ${to} (epoch ${epoch}); writes paused ${pausedMs} ms`,
      result: { epoch, master: to, pausedMs },
    };
  }

  // -------------------------------------------------------------------------------------------
  // Registration of this daemon's own nodes, and their guard

  private async registerOwnNodes(): Promise<void> {
    if (this.registering || this.o.redis.length === 0) return;
    const now = this.o.clock.nowMs();
    if (now - this.lastRegisterAttemptMs < 1000) return;
    const st = this.o.raft.status();
    if (st.leader === 0 || st.memberRole === null) return;
    const missing = this.o.redis.filter((r) => {
      const shard = this.o.state.shards.get(r.shard);
      const node = shard ? findNode(shard, r.addr) : undefined;
      return (
        !node ||
        node.owner !== this.o.nodeId ||
        node.role !== r.role ||
        node.priority !== r.priority ||
        node.username !== r.username ||
        node.password !== r.password ||
        (shard!.master === null && shard!.pending === null)
      );
    });
    if (missing.length === 0) return;
    this.registering = true;
    this.lastRegisterAttemptMs = now;
    try {
      for (const r of missing) {
        const body = { owner: this.o.nodeId, ...r, defaults: this.o.defaults };
        try {
          if (this.isLeader()) await this.register(body);
          else await this.o.callLeader('shard.register', body);
          this.log.info({ shard: r.shard, addr: r.addr }, 'registered Redis node');
        } catch (err) {
          // No leader yet, or it is out of reach: the next attempt (a second later) goes on.
          if (err instanceof Refused && (err.code === 'no_leader' || err.code === 'leader_unreachable'))
            throw err;
          this.log.warn(
            { shard: r.shard, addr: r.addr, err: (err as Error).message },
            'registering a Redis node failed',
          );
        }
      }
    } catch (err) {
      this.log.debug({ err: (err as Error).message }, 'could not register Redis nodes yet');
    } finally {
      this.registering = false;
    }
  }

  /**
   * Leader: register (or update) a node. A new shard's master is chosen among its registered
   * nodes that report role:master (assignInitialMaster): the one with data, never an empty one
   * while any node holds data. Any other node is made a replica of the committed master by
   * reconciliation.
   */
  async register(body: unknown): Promise<{ shard: string }> {
    const b = body as Partial<RedisConfig> & { owner?: number | null; defaults?: FailoverConfig };
    if (typeof b?.shard !== 'string' || typeof b.addr !== 'string')
      throw new FailoverRefused('invalid_request', 'shard.register needs shard and addr');
    const node: ShardNode = {
      addr: b.addr,
      owner: typeof b.owner === 'number' ? b.owner : null,
      role: b.role === 'observer' ? 'observer' : 'replica',
      priority: typeof b.priority === 'number' ? b.priority : 100,
      accessible: true,
      ...(b.username ? { username: b.username } : {}),
      ...(b.password ? { password: b.password } : {}),
    };
    const info = await this.o.adapter.info(refOf(node), REDIS_TIMEOUT_MS).catch(() => null);
    let shard = this.o.state.shards.get(b.shard);
    const at = this.o.clock.wallMs();
    if (!shard) {
      // Named master at creation only when it holds data (the common case: an existing master
      // brought under raftinel); an empty one waits for the other nodes (assignInitialMaster).
      const master = info?.role === 'master' && !info.loading && info.keys > 0 ? node.addr : null;
      const r = await proposeCommand(this.o.raft, {
        t: 'shard.create',
        name: b.shard,
        master,
        nodes: [node],
        settings: defaultSettings(b.defaults ?? this.o.defaults),
        atMs: at,
      });
      if (!r.ok && !this.o.state.shards.has(b.shard)) throw new FailoverRefused('conflict', r.error);
      this.log.warn({ shard: b.shard, master, epoch: 0 }, 'shard created');
      shard = this.o.state.shards.get(b.shard)!;
    }
    const existing = findNode(shard, node.addr);
    if (!existing || JSON.stringify(existing) !== JSON.stringify(node)) {
      const r = await proposeCommand(this.o.raft, { t: 'shard.node.put', name: b.shard, node });
      if (!r.ok) throw new FailoverRefused('conflict', r.error);
    }
    if (shard.master === null && shard.pending === null) await this.assignInitialMaster(shard.name);
    else if (!existing && info) await this.replaceEmptyInitialMaster(shard.name, node, info);
    return { shard: shard.name };
  }

  /**
   * A node holding data registers (its daemon started late) as master of a shard whose only
   * master so far is the empty one named at creation: without this, reconciliation would make the
   * node with the data a replica of the empty one, and the data would be gone. Instead, fail over
   * to it (a committed decision like any other; the empty master is re-pointed at it). Only while
   * the shard never changed master and the committed master still holds no key.
   */
  private async replaceEmptyInitialMaster(name: string, node: ShardNode, info: RedisInfo): Promise<void> {
    const shard = this.o.state.shards.get(name);
    if (!shard?.master || shard.pending || shard.master === node.addr || this.hasActiveJob(name)) return;
    if (info.role !== 'master' || info.loading || info.keys === 0) return;
    if (!shard.history.every((h) => h.kind === 'initial')) return;
    const masterNode = findNode(shard, shard.master);
    const masterInfo = masterNode
      ? await this.o.adapter.info(refOf(masterNode), REDIS_TIMEOUT_MS).catch(() => null)
      : null;
    if (masterInfo?.role !== 'master' || masterInfo.keys > 0 || masterInfo.loading) return;
    this.log.warn(
      { shard: name, empty_master: shard.master, node: node.addr, keys: info.keys },
      'a node with data registered as master of a shard whose master is empty: failing over to it',
    );
    await this.beginFailover(
      shard,
      'forced',
      node.addr,
      `${node.addr} holds ${info.keys} keys and the initial master ${shard.master} none`,
    ).catch((err: Error) =>
      this.log.warn({ shard: name, err: err.message }, 'could not fail over to the node with data'),
    );
  }

  /** How long a new shard with only empty masters waits for the other daemons to register. */
  private initialMasterGraceMs(shard: Shard): number {
    return Math.max(1500, shard.settings.downAfterMs);
  }

  /**
   * Leader: name the first master of a shard that has none, from the INFO of every registered
   * node. Among the nodes reporting role:master: most keys, then highest offset, then address.
   * An empty node is named only when no registered node holds any key (a brand-new shard), and
   * only once every daemon had time to register its nodes (several fresh servers all report
   * role:master; the first to register is not special). While some node holds data but none
   * with data reports role:master, no master is named: an operator decides.
   */
  private async assignInitialMaster(name: string): Promise<void> {
    const shard = this.o.state.shards.get(name);
    if (!shard || shard.master !== null || shard.pending !== null) return;
    const now = this.o.clock.nowMs();
    if (!this.masterlessSinceMs.has(name)) this.masterlessSinceMs.set(name, now);
    const since = this.masterlessSinceMs.get(name)!;
    const seen = await Promise.all(
      shard.nodes.map(async (n) => ({
        n,
        info: await this.o.adapter.info(refOf(n), REDIS_TIMEOUT_MS).catch(() => null),
      })),
    );
    const masters = seen
      .filter((x): x is { n: ShardNode; info: RedisInfo } => x.info?.role === 'master' && !x.info.loading)
      .sort(
        (a, b) =>
          b.info.keys - a.info.keys ||
          b.info.offset - a.info.offset ||
          (a.n.addr < b.n.addr ? -1 : a.n.addr > b.n.addr ? 1 : 0),
      );
    const best = masters[0];
    if (!best) return;
    if (best.info.keys === 0) {
      const withData = seen.filter((x) => (x.info?.keys ?? 0) > 0).map((x) => x.n.addr);
      if (withData.length > 0) {
        this.warnOnce(
          `initial-master:${name}`,
          { shard: name, with_data: withData },
          'not naming an empty master while other nodes hold data that no master has; name one by hand',
        );
        return;
      }
      if (now - since < this.initialMasterGraceMs(shard)) return;
    }
    const fresh = this.o.state.shards.get(name);
    if (!fresh || fresh.master !== null || fresh.pending !== null) return;
    const r = await proposeCommand(this.o.raft, {
      t: 'shard.master',
      name,
      epoch: fresh.lastEpoch + 1,
      master: best.n.addr,
      from: null,
      kind: 'initial',
      jobId: null,
      atMs: this.o.clock.wallMs(),
      reason: `${best.n.addr} reports role:master with ${best.info.keys} keys (the most of ${masters.length} masters)`,
      runId: best.info.runId,
    });
    if (r.ok) {
      this.masterlessSinceMs.delete(name);
      this.log.warn({ shard: name, master: best.n.addr, keys: best.info.keys }, 'master assigned');
    }
  }

  /** The prober saw `view` restart (new run id): guard it if it held keys before. */
  private noteRestart(view: NodeView, before: RedisInfo | null): void {
    if (view.keysBeforeRestart <= 0) return;
    this.emptyRestarted.set(view.addr, {
      keysBefore: view.keysBeforeRestart,
      historyBefore: [before?.replId ?? '', before?.replId2 ?? ''].filter((id) => id !== ''),
      lastTryMs: Number.NEGATIVE_INFINITY,
    });
    this.guardEmptyRestarts();
  }

  /**
   * A node that restarted as a master from an older point of its own history than a replica
   * holds. Redis 7.0 restores a master from its RDB with a new replication id and the RDB's id as
   * master_replid2 (an id the node had before: its own as master, or its master's as a replica),
   * so a replica ahead of the RDB's offset cannot continue (PSYNC) and full-resyncs from it,
   * losing what it had past that point (acknowledged writes). Offsets run on across promotions,
   * so within the node's history before the restart they compare. The RDB's id need not be one a
   * daemon saw: a master takes a new id when its first replica syncs (Redis creates its backlog),
   * so an RDB saved before that (Redis 7.0 saves after 3600 s with one change) carries an id older
   * than any INFO read since, and a replica on the later id full-resyncs from it all the same
   * (found by the system simulation, seed 21311: 58 acknowledged writes lost). Returns that
   * replica, or null (not behind, no replica ahead: nothing to save; or restored from no
   * replication history, e.g. an AOF: not judged here).
   */
  private restartedBehind(addr: string, historyBefore: readonly string[], info: RedisInfo): string | null {
    if (info.role !== 'master' || info.replId2 === '') return null;
    const restoredOffset = info.secondReplOffset - 1;
    for (const n of this.otherNodesOf(addr)) {
      // Only a replica answering now: the last INFO of one that has been failing is stale (it
      // may have lost that data since, e.g. crashed and restarted empty).
      const v = this.prober.view(n.addr);
      const r = v?.info;
      if (isLiveReplica(v) && r && historyBefore.includes(r.replId) && r.offset > restoredOffset)
        return n.addr;
    }
    return null;
  }

  /** The other nodes of every shard `addr` belongs to. */
  private *otherNodesOf(addr: string): Iterable<ShardNode> {
    for (const shard of this.o.state.shards.values()) {
      if (!findNode(shard, addr)) continue;
      for (const n of shard.nodes) if (n.addr !== addr) yield n;
    }
  }

  /**
   * May a replica still turn out to be ahead of `addr`'s restored point? While another node of its
   * shards does not answer (cut off, down), its state is unknown: it may hold the history from
   * before the restart further than the RDB did, and full-resync from `addr` (losing that) as soon
   * as it reaches it. The guard waits to see it (found by the system simulation, seed 1373: the
   * daemon that saw the restart was cut off from the replicas, dropped the guard, and when the
   * partition healed a replica ahead resynced from the restarted master). Unless `addr` already
   * took writes on its new history, or serves a replica on it: that history is then the one its
   * clients write to, and demoting it would lose those writes (so a replica that comes back hours
   * later does not demote a master that has worked since).
   */
  private restartUndecided(addr: string, info: RedisInfo): boolean {
    if (info.secondReplOffset > 0 && info.offset > info.secondReplOffset - 1) return false;
    let unknown = false;
    for (const n of this.otherNodesOf(addr)) {
      const v = this.prober.view(n.addr);
      const r = v?.info;
      if (!v || v.failing || !r) unknown = true;
      else if (r.role === 'slave' && upstreamOf(r) === addr && r.masterLinkUp && r.replId === info.replId)
        return false;
    }
    return unknown;
  }

  /**
   * Was this incarnation of `addr` (its run id) named master by a committed decision of the current
   * epoch? Then the group chose it after its restart, knowing what it holds: the guard must not
   * demote it (a role change nobody committed, and the epoch's writes live only on it).
   */
  private chosenSinceRestart(addr: string, runId: string): boolean {
    for (const shard of this.o.state.shards.values()) {
      if (shard.master !== addr) continue;
      const last = shard.history.at(-1);
      if (last && last.epoch === shard.epoch && last.to === addr && last.runId === runId) return true;
    }
    return false;
  }

  /**
   * Every round, until each node that restarted after holding keys is no longer both empty and
   * masterful: demote it (guardEmptyRestart). Not once per restart: the first attempt can fail
   * (the node still loading, a connection not yet re-established), and a replica reconnects
   * within a second whatever happened to the attempt.
   */
  private guardEmptyRestarts(): void {
    const now = this.o.clock.nowMs();
    for (const [addr, g] of this.emptyRestarted) {
      const v = this.prober.view(addr);
      const info = v?.info;
      const behind = info && !info.loading ? this.restartedBehind(addr, g.historyBefore, info) : null;
      if (
        !v ||
        info?.role === 'slave' ||
        (info && !info.loading && !holdsNoHistory(info) && !behind && !this.restartUndecided(addr, info)) ||
        (info && this.chosenSinceRestart(addr, info.runId))
      ) {
        this.emptyRestarted.delete(addr);
        continue;
      }
      if (!info || info.loading || v.failing || now - g.lastTryMs < EMPTY_GUARD_RETRY_MS) continue;
      g.lastTryMs = now;
      void this.guardEmptyRestart(addr, g.keysBefore, info, behind);
    }
  }

  /**
   * A Redis came back empty after a restart while it was (or believes it is) the master: make it
   * a replica at once, before any replica resyncs from its empty dataset. (A replica refuses to
   * serve a sync while its own link is down, -NOMASTERLINK, so nothing flows.) The leader then
   * fails the shard over to the best replica. Every daemon that saw the node holding keys guards it,
   * not only the one beside it: after a host reboot that daemon is down (or restarted with no
   * memory of the keys), the leader may have been on that host too, and the replicas reconnect
   * within a second. Demoting an empty node never creates a master, so several daemons doing it is
   * safe.
   *
   * The target is the best reachable replica; when none is reachable, the best replica this daemon
   * last saw, reachable or not. Demoting it all the same is the choice here (not fencing it with
   * CLIENT PAUSE, nor leaving it): a replica of an unreachable address refuses writes (READONLY)
   * and serves no sync (-NOMASTERLINK) until its upstream returns, persistently (REPLICAOF is
   * rewritten into its config file) and without any daemon alive; when the replica returns, the
   * empty node syncs its data from it. Only a shard with no other node is left alone (nothing to
   * protect).
   */
  private async guardEmptyRestart(
    addr: string,
    keysBefore: number,
    info: RedisInfo | null,
    aheadReplica: string | null,
  ): Promise<void> {
    if (info?.role !== 'master' || keysBefore === 0) return;
    if (!holdsNoHistory(info) && aheadReplica === null) return;
    for (const shard of this.o.state.shards.values()) {
      const node = findNode(shard, addr);
      if (!node) continue;
      const others = shard.nodes
        .filter((n) => n.addr !== addr)
        .map((n) => ({ n, v: this.prober.view(n.addr) }))
        .sort(
          (a, b) =>
            Number(isLiveReplica(b.v)) - Number(isLiveReplica(a.v)) ||
            Number(b.n.role !== 'observer') - Number(a.n.role !== 'observer') ||
            (b.v?.info?.offset ?? -1) - (a.v?.info?.offset ?? -1) ||
            (a.n.addr < b.n.addr ? -1 : a.n.addr > b.n.addr ? 1 : 0),
        );
      const best = others[0];
      if (!best) {
        this.log.error(
          { shard: shard.name, node: addr },
          'redis restarted empty and the shard has no other node: nothing to protect',
        );
        this.emptyRestarted.delete(addr);
        return;
      }
      const target = best.n.addr;
      this.log.error(
        {
          shard: shard.name,
          node: addr,
          keys_before: keysBefore,
          keys_now: info.keys,
          ...(aheadReplica
            ? { replica_ahead: aheadReplica, restored_offset: info.secondReplOffset - 1 }
            : {}),
          replica_of: target,
          target_reachable: isLiveReplica(best.v),
        },
        holdsNoHistory(info)
          ? 'redis restarted empty while master: made it a replica so no replica resyncs from an empty dataset'
          : 'redis restarted as master from an older point than a replica holds: made it a replica so no replica resyncs from it and loses writes',
      );
      // Several daemons guard the node: one may have demoted it since this daemon's INFO was read.
      // A node that is a replica already is left alone (REPLICAOF is sent with CLIENT KILL: a
      // second one would cut the clients of a node that needed nothing).
      const now = await this.o.adapter.info(refOf(node), REDIS_TIMEOUT_MS).catch(() => null);
      if (now?.role === 'slave') return;
      await this.o.adapter
        .reconfigure(refOf(node), target, {
          rewriteConfig: info.configFile !== '',
          timeoutMs: REDIS_TIMEOUT_MS,
        })
        .catch((err: Error) =>
          this.log.error({ node: addr, err: err.message }, 'could not demote the empty node yet; retrying'),
        );
      return;
    }
  }

  /** For status: what this daemon sees of a node. */
  nodeView(addr: string) {
    const v = this.prober.view(addr);
    if (!v) return null;
    return {
      failing: v.failing,
      down_for_ms: Math.round(this.prober.downForMs(addr)),
      error: v.error,
      role: v.info?.role ?? null,
      upstream: v.info ? upstreamOf(v.info) : null,
      link_up: v.info?.masterLinkUp ?? null,
      offset: v.info?.offset ?? null,
      keys: v.info?.keys ?? null,
    };
  }
}

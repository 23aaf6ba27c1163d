/**
 * The daemon's side of the Sentinel port: serves the Sentinel commands from the committed state,
 * the prober's view and the Raft member's lease; sends SENTINEL MONITOR/REMOVE/SET/FAILOVER
 * through the log via the admin API (forwarded to the leader).
 */
import type { AdminApi } from '../admin/api.js';
import type { AclUserRecord } from '../cluster/commands.js';
import type { Shard, ShardScripts } from '../cluster/shards.js';
import type { ClusterState } from '../cluster/state.js';
import type { FailoverEngine } from '../failover/engine.js';
import { votersOf } from '../raft/membership.js';
import type { RaftNode } from '../raft/node.js';
import type { AclPutResult, AclStore } from '../sentinel/acl-users.js';
import { ReplyError } from '../sentinel/command-table.js';
import { stringMatch } from '../sentinel/pubsub.js';
import type { PendingScript, ScriptQueue } from '../sentinel/scripts.js';
import {
  type PeerSentinel,
  SCRIPTS_DENIED,
  type SeenNode,
  type SentinelBackend,
  type SetResult,
} from '../sentinel/sentinel-commands.js';
import type { Clock } from '../util/clock.js';
import { notExecutable } from '../util/executable.js';

export interface SentinelBackendDeps {
  myId: string;
  nodeId: number;
  raft: RaftNode;
  state: ClusterState;
  engine: FailoverEngine;
  clock: Clock;
  api: () => AdminApi;
  /** Admin token, so that internal calls pass the API's check (the Sentinel port has its own AUTH). */
  adminToken: string | undefined;
  /** Is the gRPC link to member `id` up? */
  peerConnected: (id: number) => boolean;
  /** SENTINEL FAILOVER on the leader (the daemon forwards it when it is not). */
  failover: (name: string) => Promise<{ status: number; body?: unknown }>;
  publish: (channel: string, message: string, shard: string | null) => void;
  denyScriptsReconfig: boolean;
  scripts: ScriptQueue;
  /** raft.election_timeout_ms: bounds how long commands that name masters are held (unsettled()). */
  electionTimeoutMs: number;
}

/**
 * How long, in election timeouts, a daemon just started holds the Sentinel commands that name
 * masters until it has heard from the group (a restart of the leader's host needs an election,
 * at most about two election timeouts); then it answers as cut off, which is then true.
 */
export const STARTUP_WAIT_ELECTION_TIMEOUTS = 3;
/**
 * How long, in election timeouts from the last moment this daemon was in touch with the group,
 * it holds those commands when it loses touch: the leader died or stepped down, and the group
 * elects another (its followers' leases lapse first; a new leader follows within about one more
 * election timeout, two with a split vote). Past that it answers as cut off, which is then true.
 * Without the hold, every daemon answered "cut off" to every client for the length of an election
 * (Redis's own Sentinel test suite failed on it, issue 10); with it, the answer comes late but
 * names the master the group elected.
 */
export const ELECTION_WAIT_ELECTION_TIMEOUTS = 2;
const SETTLE_POLL_MS = 20;

/** How long a SENTINEL MONITOR/REMOVE/SET waits for a leader before it answers the error. */
export const LEADER_WAIT_MS = 3000;
/** How often it asks again meanwhile. */
const LEADER_RETRY_MS = 100;

export class DaemonSentinelBackend implements SentinelBackend {
  private peerSeen = new Map<number, number>();
  /** Shards removed through the log since this daemon started (a repeated REMOVE is +OK). */
  private removed = new Set<string>();

  /** The last moment this daemon was seen in touch with the group (null: not since it started). */
  private lastFreshMs: number | null = null;
  private readonly startWaitUntilMs: number;

  constructor(private readonly d: SentinelBackendDeps) {
    this.startWaitUntilMs = d.clock.nowMs() + STARTUP_WAIT_ELECTION_TIMEOUTS * d.electionTimeoutMs;
    d.state.onChange((c) => {
      if (c.type !== 'shard') return;
      if (c.event.type === 'shard-removed') this.removed.add(c.event.name);
      else if (c.event.type === 'shard-created') this.removed.delete(c.event.shard.name);
    });
  }

  wasRemoved(name: string): boolean {
    return this.removed.has(name);
  }

  myId(): string {
    return this.d.myId;
  }

  fresh(): boolean {
    const st = this.d.raft.status();
    return st.memberRole !== null && this.d.raft.lease().valid;
  }

  /** Note whether this daemon is in touch with the group now (called every probe round). */
  observe(): void {
    if (this.fresh()) this.lastFreshMs = this.d.clock.nowMs();
  }

  /**
   * Null when a command naming masters may be answered now: this daemon is in touch with the
   * group, or has been out of touch for longer than an election takes (then it answers as cut
   * off). Otherwise a promise that resolves once one of these holds: a just-started daemon waits
   * up to STARTUP_WAIT_ELECTION_TIMEOUTS, one that lost touch up to ELECTION_WAIT_ELECTION_TIMEOUTS
   * from its last contact.
   */
  unsettled(): Promise<void> | null {
    const now = this.d.clock.nowMs();
    if (this.fresh()) {
      this.lastFreshMs = now;
      return null;
    }
    const holdUntilMs =
      this.lastFreshMs === null
        ? this.startWaitUntilMs
        : this.lastFreshMs + ELECTION_WAIT_ELECTION_TIMEOUTS * this.d.electionTimeoutMs;
    if (now >= holdUntilMs) return null;
    return new Promise<void>((r) => this.d.clock.setTimeout(r, SETTLE_POLL_MS)).then(
      () => this.unsettled() ?? undefined,
    );
  }

  shards(): Shard[] {
    return [...this.d.state.shards.values()];
  }

  seen(addr: string): SeenNode | null {
    const v = this.d.engine.prober.view(addr);
    if (!v) return null;
    const now = this.d.clock.nowMs();
    const i = v.info;
    return {
      failing: v.failing,
      // As Sentinel's link flag: disconnected the moment the connection closes (a kill -9), not
      // a probe timeout later. node-redis rejects a master flagged disconnected; without the
      // flag, a node-redis re-resolving right after the kill connects to the dead master and
      // waits for it forever.
      connected: v.connected && this.d.engine.prober.linkUp(addr) !== false,
      downForMs: this.d.engine.prober.downForMs(addr),
      msSinceOk: Math.max(0, now - v.lastOkMs),
      runId: i?.runId ?? '',
      role: i?.role ?? null,
      msSinceRoleChange: Math.max(0, now - v.roleSinceMs),
      msSinceInfo: i ? Math.max(0, now - v.infoAtMs) : 0,
      masterHost: i?.masterHost ?? null,
      masterPort: i?.masterPort ?? null,
      linkUp: i?.masterLinkUp ?? false,
      linkDownMs: i && i.masterLinkDownSinceSeconds >= 0 ? i.masterLinkDownSinceSeconds * 1000 : 0,
      offset: i?.offset ?? 0,
      rawInfo: i?.raw ?? null,
    };
  }

  confirmLink(addr: string): Promise<boolean | null> {
    return this.d.engine.prober.pingNow(addr, 100);
  }

  objectivelyDown(shard: Shard): boolean {
    if (shard.pending?.kind === 'auto') return true;
    const st = this.d.raft.status();
    return st.role === 'leader' && shard.master !== null && this.d.engine.masterVerdict(shard).down;
  }

  failoverState(shard: Shard): string | null {
    if (!shard.pending) return null;
    const job = this.d.state.job(shard.pending.jobId);
    if (job?.step?.startsWith('pausing')) return 'select_slave';
    return 'wait_promotion';
  }

  peers(): PeerSentinel[] {
    const now = this.d.clock.nowMs();
    const out: PeerSentinel[] = [];
    for (const m of this.d.raft.status().membership.members) {
      if (m.id === this.d.nodeId) continue;
      const info = this.d.state.memberInfo.get(m.id);
      if (!info) continue;
      const connected = this.d.peerConnected(m.id);
      if (connected) this.peerSeen.set(m.id, now);
      out.push({
        runId: info.runId ?? `${m.id}`.padStart(40, '0'),
        addr: info.sentinel,
        connected,
        msSinceContact: now - (this.peerSeen.get(m.id) ?? 0),
      });
    }
    return out;
  }

  votingMembers(): number {
    return votersOf(this.d.raft.status().membership).length;
  }

  usableVoters(): number {
    const voters = votersOf(this.d.raft.status().membership);
    if (!this.fresh()) return voters.includes(this.d.nodeId) ? 1 : 0;
    return voters.filter((id) => id === this.d.nodeId || this.d.peerConnected(id)).length;
  }

  private async call(
    method: string,
    path: string,
    body?: unknown,
  ): Promise<SetResult & { status?: number; code?: string }> {
    // A change sent while the group elects a leader (or while this daemon is still joining) waits
    // for one, within a bound, as a client of Sentinel would not see an election at all.
    const deadline = this.d.clock.nowMs() + LEADER_WAIT_MS;
    let r = await this.d.api().handle({ method, path, body, token: this.d.adminToken, hops: 0 });
    while (r.status >= 300 && this.d.clock.nowMs() < deadline) {
      const code = (r.body as { error?: { code?: string } } | null)?.error?.code;
      if (code !== 'no_leader' && code !== 'leader_unreachable' && code !== 'not_leader') break;
      await new Promise<void>((done) => this.d.clock.setTimeout(done, LEADER_RETRY_MS));
      r = await this.d.api().handle({ method, path, body, token: this.d.adminToken, hops: 0 });
    }
    if (r.status < 300) return { ok: true };
    const e = (r.body as { error?: { code?: string; message?: string } }).error;
    return {
      ok: false,
      error: e?.message ?? `failed (${r.status})`,
      status: r.status,
      ...(e?.code ? { code: e.code } : {}),
    };
  }

  async monitor(name: string, addr: string, quorum: number): Promise<SetResult> {
    const r = await this.call('POST', '/v1/shards', { name, master: addr, settings: { quorum } });
    if (!r.ok && r.code === 'shard_exists') return { ok: false, error: 'Duplicate master name.' };
    return r;
  }

  remove(name: string): Promise<SetResult> {
    return this.call('DELETE', `/v1/shards/${encodeURIComponent(name)}`);
  }

  async set(
    name: string,
    settings: Record<string, number>,
    auth: { username?: string; password?: string } | null,
    scripts?: ShardScripts | null,
  ): Promise<SetResult> {
    const r = await this.call('PATCH', `/v1/shards/${encodeURIComponent(name)}`, {
      settings,
      ...(auth ? { auth } : {}),
      ...(scripts ? { scripts } : {}),
    });
    // The leader refused by its own deny_scripts_reconfig: say it in Sentinel's words.
    if (!r.ok && r.code === 'scripts_denied') return { ok: false, error: SCRIPTS_DENIED };
    return r;
  }

  scriptsReconfigDenied(): boolean {
    return this.d.denyScriptsReconfig;
  }

  scriptExecutable(path: string): boolean {
    return notExecutable(path) === null;
  }

  pendingScripts(): PendingScript[] {
    return this.d.scripts.pending();
  }

  setTimer(name: string, valueMs: number): boolean {
    const k = name.toLowerCase();
    if (k === 'script-max-runtime') this.d.scripts.scriptMaxRuntimeMs = valueMs;
    else if (k === 'script-retry-delay') this.d.scripts.scriptRetryDelayMs = valueMs;
    else return false;
    return true;
  }

  async failover(name: string): Promise<void> {
    const r = await this.d.failover(name);
    if (r.status < 300) return;
    const e = (r.body as { error?: { code?: string; message?: string } })?.error;
    if (e?.code === 'in_progress') throw new ReplyError('INPROG Failover already in progress');
    if (e?.code === 'no_candidate') throw new ReplyError('NOGOODSLAVE No suitable replica to promote');
    if (e?.code === 'unknown_shard') throw ReplyError.err('No such master with that name');
    throw ReplyError.err(e?.message ?? `failover failed (${r.status})`);
  }

  reset(pattern: string): number {
    let n = 0;
    for (const s of this.d.state.shards.values()) {
      if (!stringMatch(pattern, s.name)) continue;
      n++;
      this.d.publish(
        '+reset-master',
        `master ${s.name} ${(s.master ?? '0.0.0.0:0').replace(/:(\d+)$/, ' $1')}`,
        s.name,
      );
    }
    return n;
  }

  timers(): [string, number][] {
    const probe = this.d.engine.probeIntervalMs();
    return [
      ['INFO-PERIOD', 500],
      ['PING-PERIOD', probe],
      ['ASK-PERIOD', probe],
      ['PUBLISH-PERIOD', probe],
      ['DEFAULT-DOWN-AFTER', 30000],
      ['DEFAULT-FAILOVER-TIMEOUT', 180000],
      ['TILT-TRIGGER', 250],
      ['TILT-PERIOD', 500],
      ['SLAVE-RECONF-TIMEOUT', 1000],
      ['MIN-LINK-RECONNECT-PERIOD', 100],
      ['ELECTION-TIMEOUT', 0],
      ['SCRIPT-MAX-RUNTIME', this.d.scripts.scriptMaxRuntimeMs],
      ['SCRIPT-RETRY-DELAY', this.d.scripts.scriptRetryDelayMs],
    ];
  }
}

/** How long a read barrier of an ACL change may take on this daemon. */
export const ACL_READ_BARRIER_MS = 5_000;

export interface AclStoreDeps {
  state: ClusterState;
  raft: RaftNode;
  api: () => AdminApi;
  /** Admin token, so that the internal calls pass the API's check. */
  adminToken: string | undefined;
}

/**
 * The Sentinel port's ACL users in the replicated state: changes go to the leader through the
 * admin API (forwarded, bounded), and resolve once this daemon has applied them (a read barrier),
 * so the client that asked sees its change at once, on this daemon as on every other.
 */
export class DaemonAclStore implements AclStore {
  constructor(private readonly d: AclStoreDeps) {}

  users(): ReadonlyMap<string, AclUserRecord> {
    return this.d.state.aclUsers;
  }

  revision(): number {
    return this.d.state.aclRevision;
  }

  sync(): Promise<void> {
    return this.d.raft.readBarrier(ACL_READ_BARRIER_MS);
  }

  private async call(method: string, name: string, body?: unknown) {
    const r = await this.d.api().handle({
      method,
      path: `/v1/acl/users/${encodeURIComponent(name)}`,
      body,
      token: this.d.adminToken,
      hops: 0,
    });
    const error = (r.body as { error?: { message?: string; acl_revision?: number } } | null)?.error;
    return { status: r.status, body: r.body, error };
  }

  async put(user: AclUserRecord, revision: number): Promise<AclPutResult> {
    const r = await this.call('PUT', user.name, { user, revision });
    if (r.status === 409 && r.error?.acl_revision !== undefined) return 'conflict';
    if (r.status >= 300) throw new Error(r.error?.message ?? `refused (${r.status})`);
    await this.sync();
    return 'ok';
  }

  async remove(name: string): Promise<boolean> {
    const r = await this.call('DELETE', name);
    if (r.status >= 300) throw new Error(r.error?.message ?? `refused (${r.status})`);
    await this.sync();
    return (r.body as { deleted?: boolean }).deleted === true;
  }

  onChange(listener: () => void): () => void {
    return this.d.state.onChange((c) => {
      if (c.type === 'acl' || c.type === 'restored') listener();
    });
  }
}

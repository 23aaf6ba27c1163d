/**
 * The admin API's backend on a daemon (src/admin/api.ts calls it): jobs, shard changes,
 * switchovers and the status view, read from the replicated state and proposed through Raft.
 * Refusals are domain errors (src/cluster/errors.ts); the API maps them to statuses.
 */
import { randomUUID } from 'node:crypto';
import type { AdminBackend, AdminRequest, AdminResponse, ShardOp } from '../admin/api.js';
import type { AclUserRecord } from '../cluster/commands.js';
import { Refused } from '../cluster/errors.js';
import { proposeCommand } from '../cluster/jobs.js';
import type { JobKind, JobRecord } from '../cluster/jobs-model.js';
import type { LeaderLink } from '../cluster/leader-link.js';
import { changeSettings, defaultSettings, newShardSettings } from '../cluster/settings.js';
import { findNode, publicShard, type Shard, withCredentials } from '../cluster/shards.js';
import type { ClusterState } from '../cluster/state.js';
import type { FailoverConfig } from '../config/types.js';
import type { FailoverEngine } from '../failover/engine.js';
import type { Fencer } from '../failover/fence.js';
import type { ClusterClient } from '../raft/grpc/cluster.js';
import { findMember, isVotingRole } from '../raft/membership.js';
import type { RaftNode } from '../raft/node.js';
import type { MemberRole, NodeId } from '../raft/types.js';
import { channelsText, keysText, userFlags } from '../sentinel/acl.js';
import type { Clock } from '../util/clock.js';
import { notExecutable } from '../util/executable.js';
import type { Logger } from '../util/log.js';
import { VERSION } from '../util/version.js';

export interface AdminBackendDeps {
  nodeId: NodeId;
  raft: RaftNode;
  state: ClusterState;
  engine: FailoverEngine;
  /** The fencer, once there is one (null on a daemon that fences nothing). */
  fencer: () => Fencer | null;
  leader: LeaderLink;
  /** Asks the leader for its replication progress (status on a follower). */
  client: ClusterClient;
  clock: Clock;
  log: Logger;
  electionTimeoutMs: number;
  failoverDefaults: FailoverConfig;
  /** Drop cached Redis connections to a node whose credentials changed. */
  forgetRedis: (addr: string) => void;
  /** Is this daemon still joining the group (for status)? */
  joining: () => boolean;
  /** `[sentinel] deny_scripts_reconfig`: a change of a shard's script paths is refused. */
  denyScriptsReconfig: boolean;
}

export class DaemonAdminBackend implements AdminBackend {
  readonly nodeId: NodeId;

  constructor(private readonly o: AdminBackendDeps) {
    this.nodeId = o.nodeId;
  }

  isLeader(): boolean {
    return this.o.raft.status().role === 'leader';
  }

  async forwardToLeader(req: AdminRequest): Promise<AdminResponse> {
    const r = await this.o.leader.call(
      'admin',
      { method: req.method, path: req.path, body: req.body },
      { hops: req.hops - 1, ...(req.token !== undefined ? { token: req.token } : {}) },
    );
    return { status: r.status, body: r.body };
  }

  job(id: string): JobRecord | undefined {
    return this.o.state.job(id);
  }

  jobs(): JobRecord[] {
    return [...this.o.state.jobs.values()];
  }

  async createJob(kind: JobKind, params: Record<string, unknown>): Promise<JobRecord> {
    this.validateJob(kind, params);
    return this.commitJob({ kind, params, state: 'pending', reason: null, step: null });
  }

  /** Commit a new job record (this daemon its origin); resolves with it as applied. */
  private async commitJob(
    fields: Pick<JobRecord, 'kind' | 'params' | 'state' | 'reason' | 'step'>,
  ): Promise<JobRecord> {
    const now = this.o.clock.wallMs();
    const job: JobRecord = {
      id: randomUUID(),
      ...fields,
      result: null,
      createdAtMs: now,
      updatedAtMs: now,
      origin: this.o.nodeId,
    };
    await proposeCommand(this.o.raft, { t: 'job.create', job });
    return this.o.state.job(job.id) ?? job;
  }

  /** Refuse at once what would certainly fail, saying why. */
  private validateJob(kind: JobKind, params: Record<string, unknown>): void {
    const m = this.o.raft.status().membership;
    const id = (params.id ?? params.to) as NodeId;
    const member = findMember(m, id);
    if (kind === 'member.add') {
      if (m.removed.includes(id)) {
        throw new Refused(
          'id_removed',
          `node id ${id} was removed from this group and can never be reused; pick a new id`,
        );
      }
      if (member && member.addr !== params.raft) {
        throw new Refused('member_exists', `node ${id} is already a member with Raft address ${member.addr}`);
      }
      return;
    }
    if (!member) {
      if (kind === 'member.remove' && m.removed.includes(id)) return;
      throw new Refused('unknown_member', `node ${id} is not a member`);
    }
    if (kind === 'leader.transfer' && !isVotingRole(member.role)) {
      throw new Refused('invalid_request', `node ${id} is a ${member.role} and cannot lead`);
    }
    if (kind === 'member.remove') {
      const voters = m.members.filter((x) => isVotingRole(x.role));
      if (isVotingRole(member.role) && voters.length === 1) {
        throw new Refused('last_voter', `node ${id} is the last voter and cannot be removed`);
      }
    }
    if (kind === 'member.promote' && member.role === (params.role as MemberRole)) {
      // Already done: the job succeeds at once; allowed so that retries are harmless.
    }
  }

  shards(): unknown[] {
    return [...this.o.state.shards.values()].map((s) => this.shardView(s));
  }

  shard(name: string): unknown | undefined {
    const s = this.o.state.shards.get(name);
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
        seen: this.o.engine.nodeView(n.addr),
        ...(n.owner === this.o.nodeId ? { fenced: this.o.fencer()?.isFenced(n.addr) ?? false } : {}),
      })),
      history: s.history,
    };
  }

  /** Users without their password hashes: GET needs no token, so it shows how many, not which. */
  aclUsers(): unknown {
    return {
      revision: this.o.state.aclRevision,
      users: [...this.o.state.aclUsers.values()].map((u) => ({
        name: u.name,
        flags: userFlags(u),
        passwords: u.passwords.length,
        commands: u.commands,
        keys: keysText(u),
        channels: channelsText(u),
      })),
    };
  }

  async putAclUser(user: AclUserRecord, revision: number): Promise<number> {
    const r = await proposeCommand(this.o.raft, { t: 'acl.user.put', user, revision });
    if (!r.ok) {
      // The users moved on since the asking daemon computed this one: it computes again.
      throw new Refused('conflict', r.error, { acl_revision: this.o.state.aclRevision });
    }
    this.o.log.info({ acl_user: user.name, revision: r.value }, 'ACL user changed');
    return r.value as number;
  }

  async deleteAclUser(name: string): Promise<boolean> {
    const r = await proposeCommand(this.o.raft, { t: 'acl.user.delete', name });
    if (!r.ok) throw new Refused('conflict', r.error);
    if (r.value === true) this.o.log.info({ acl_user: name }, 'ACL user deleted');
    return r.value === true;
  }

  switchover(name: string, to: string | undefined): Promise<JobRecord> {
    return this.o.engine.requestSwitchover(name, to);
  }

  forcedFailover(name: string, to: string): Promise<JobRecord> {
    return this.o.engine.requestForcedFailover(name, to);
  }

  async changeShards(op: ShardOp): Promise<JobRecord> {
    const shard = this.o.state.shards.get(op.name);
    // The rules across settings are checked on the leader before proposing (a broken rule
    // throws SettingsRuleError, answered 400 with the rules).
    const et = this.o.electionTimeoutMs;
    let description = '';
    let result: { ok: boolean; error?: string } = { ok: true };
    const at = this.o.clock.wallMs();
    switch (op.op) {
      case 'add': {
        if (shard) {
          if (shard.master === op.master)
            return this.recordChange(op, `shard ${op.name} already exists with master ${op.master}`);
          throw new Refused('shard_exists', `shard ${op.name} exists with master ${shard.master ?? 'none'}`);
        }
        const nodes = [
          { addr: op.master, role: 'replica' as const, priority: 100 },
          ...op.nodes.filter((n: { addr: string }) => n.addr !== op.master),
        ];
        result = await proposeCommand(this.o.raft, {
          t: 'shard.create',
          name: op.name,
          master: op.master,
          nodes: nodes.map((n) => ({ ...n, owner: null, accessible: true })),
          settings: newShardSettings(defaultSettings(this.o.failoverDefaults), op.settings, et),
          atMs: at,
        });
        description = `shard ${op.name} added with master ${op.master}`;
        break;
      }
      case 'remove':
        if (!shard) return this.recordChange(op, `shard ${op.name} does not exist`);
        result = await proposeCommand(this.o.raft, { t: 'shard.remove', name: op.name });
        description = `shard ${op.name} removed`;
        break;
      case 'set':
        if (!shard) throw new Refused('unknown_shard', `no shard ${op.name}`);
        if (Object.keys(op.settings).length > 0) {
          changeSettings(shard.settings, op.settings, et);
          result = await proposeCommand(this.o.raft, {
            t: 'shard.settings',
            name: op.name,
            settings: op.settings,
          });
        }
        if (result.ok && op.scripts && Object.keys(op.scripts).length > 0) {
          // Sentinel's rule, on the daemon that makes the change (the Sentinel port checks it on
          // the daemon the client talks to as well, with Sentinel's own words).
          if (this.o.denyScriptsReconfig)
            throw new Refused(
              'scripts_denied',
              'changing script paths is denied by deny_scripts_reconfig on the leader',
            );
          for (const [k, path] of Object.entries(op.scripts)) {
            const why = path === '' ? null : notExecutable(path);
            if (why)
              throw new Refused('not_executable', `${k} script ${path} is not executable here (${why})`);
          }
          result = await proposeCommand(this.o.raft, {
            t: 'shard.scripts',
            name: op.name,
            scripts: op.scripts,
          });
        }
        if (result.ok && op.auth) {
          // The credentials of every node of the shard (Sentinel's auth-pass/auth-user).
          for (const n of shard.nodes) {
            const node = withCredentials(n, op.auth);
            result = await proposeCommand(this.o.raft, { t: 'shard.node.put', name: op.name, node });
            if (!result.ok) break;
            this.o.forgetRedis(n.addr);
          }
        }
        description = `settings of ${op.name} changed`;
        break;
      case 'node.add': {
        if (!shard) throw new Refused('unknown_shard', `no shard ${op.name}`);
        const existing = findNode(shard, op.node.addr);
        result = await proposeCommand(this.o.raft, {
          t: 'shard.node.put',
          name: op.name,
          node: { ...existing, ...op.node, owner: existing?.owner ?? null },
        });
        description = `${op.node.addr} added to ${op.name}`;
        break;
      }
      case 'node.remove':
        if (!shard) throw new Refused('unknown_shard', `no shard ${op.name}`);
        if (shard.master === op.addr) {
          throw new Refused('is_master', `${op.addr} is the master of ${op.name}; switch over first`);
        }
        result = await proposeCommand(this.o.raft, { t: 'shard.node.remove', name: op.name, addr: op.addr });
        description = `${op.addr} removed from ${op.name}`;
        break;
    }
    if (!result.ok) throw new Refused('conflict', result.error ?? 'refused');
    this.o.log.info({ shard: op.name, op: op.op }, description);
    return this.recordChange(op, description);
  }

  /** Record a shard change that already happened as a finished job, for the audit trail. */
  private async recordChange(op: ShardOp, reason: string): Promise<JobRecord> {
    return this.commitJob({
      kind: 'shard.change',
      // Credentials never go into a job record: jobs are visible to anyone reading the API.
      params: { shard: op.name, ...op, ...('auth' in op && op.auth ? { auth: '[redacted]' } : {}) },
      state: 'succeeded',
      reason,
      step: 'done',
    });
  }

  async status(): Promise<unknown> {
    const st = this.o.raft.status();
    const lease = this.o.raft.lease();
    let progress: { id: number; ack_age_ms: number | null; match: number }[] | null = null;
    if (st.role === 'leader') {
      progress = st.progress.map((p) => ({
        id: p.id,
        match: p.match,
        ack_age_ms: p.ticksSinceAck === null ? null : p.ticksSinceAck * this.o.raft.tickMs,
      }));
    } else if (st.leader !== 0) {
      const leader = findMember(st.membership, st.leader);
      if (leader) {
        try {
          const r = await this.o.client.call(leader.addr, 'raft.progress', {}, { timeoutMs: 1000 });
          if (r.status === 200) progress = (r.body as { progress: typeof progress }).progress;
        } catch {
          progress = null;
        }
      }
    }
    const reachableWithin = this.o.electionTimeoutMs;
    const members = st.membership.members.map((m) => {
      const p = progress?.find((x) => x.id === m.id);
      const info = this.o.state.memberInfo.get(m.id);
      let reachable: boolean | null = null;
      if (m.id === this.o.nodeId) reachable = true;
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
        match_index: m.id === this.o.nodeId ? st.persistedIndex : (p?.match ?? null),
      };
    });
    return {
      node_id: this.o.nodeId,
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
      joining: this.o.joining(),
      members,
      removed: st.membership.removed,
      shards: this.shards(),
      active_jobs: this.o.state
        .activeJobs()
        .map((j) => ({ id: j.id, kind: j.kind, state: j.state, step: j.step })),
    };
  }
}

/**
 * The replicated state of a raftinel group, built by applying committed log entries in order on
 * every daemon: the membership, what each member serves (its Sentinel and admin addresses), and
 * the jobs operators and the leader started (membership changes, transfers, failovers).
 *
 * Deterministic: apply() reads nothing but the entry. Times in it (createdAtMs, ...) are chosen by
 * the proposer and carried in the command. Snapshots are versioned JSON so a newer daemon can read
 * an older daemon's snapshot.
 */
import { decodeConfigRecord, EMPTY_MEMBERSHIP } from '../raft/membership.js';
import type { StateMachine } from '../raft/node.js';
import type { Entry, Membership, NodeId, SnapshotMeta } from '../raft/types.js';
import { type AclUserRecord, type Command, decodeCommand } from './commands.js';
import { type JobRecord, type JobState, TERMINAL_JOB_STATES } from './jobs-model.js';
import { withAbsentSettings } from './settings.js';
import { applyShardCommand, type Shard, type ShardCommand, type ShardEvent } from './shards.js';

export interface MemberInfo {
  /** Redis Sentinel protocol address clients use. */
  sentinel: string;
  /** Admin HTTP address. */
  admin: string;
  /** Software version the member runs. */
  version: string;
  /** Its Sentinel id (40 hex digits), reported as runid to Sentinel clients. */
  runId?: string;
}

/** How many finished jobs are kept (oldest dropped first). */
export const MAX_FINISHED_JOBS = 500;
export const SNAPSHOT_VERSION = 3;

interface SnapshotV1 {
  version: 1;
  memberInfo: [NodeId, MemberInfo][];
  jobs: JobRecord[];
}

interface SnapshotV2 {
  version: 2;
  memberInfo: [NodeId, MemberInfo][];
  jobs: JobRecord[];
  shards: Shard[];
}

/** Version 3 adds the ACL users of the Sentinel port. */
interface SnapshotV3 {
  version: 3;
  memberInfo: [NodeId, MemberInfo][];
  jobs: JobRecord[];
  shards: Shard[];
  acl: { revision: number; users: AclUserRecord[] };
}

export type ApplyResult = { ok: true; value?: unknown } | { ok: false; error: string };

export type StateChange =
  | { type: 'membership'; membership: Membership }
  | { type: 'member-info'; id: NodeId }
  | { type: 'job'; job: JobRecord }
  | { type: 'shard'; event: ShardEvent }
  /** An ACL user was put or deleted (`deleted`: it existed and is gone). */
  | { type: 'acl'; name: string; deleted: boolean }
  | { type: 'restored' };

export class ClusterState implements StateMachine {
  membership: Membership = EMPTY_MEMBERSHIP;
  readonly memberInfo = new Map<NodeId, MemberInfo>();
  readonly jobs = new Map<string, JobRecord>();
  readonly shards = new Map<string, Shard>();
  /** ACL users of the Sentinel port by name (the default user only once it was changed). */
  readonly aclUsers = new Map<string, AclUserRecord>();
  /** Raised by every ACL change: what acl.user.put compares against. */
  aclRevision = 0;
  appliedIndex = 0;
  private listeners: ((c: StateChange) => void)[] = [];

  onChange(listener: (c: StateChange) => void): () => void {
    this.listeners.push(listener);
    return () => {
      this.listeners = this.listeners.filter((l) => l !== listener);
    };
  }

  apply(entry: Entry): ApplyResult {
    this.appliedIndex = entry.index;
    if (entry.type === 'config') {
      this.membership = decodeConfigRecord(entry.data).membership;
      // Forget what removed members served.
      for (const id of this.memberInfo.keys()) {
        if (!this.membership.members.some((m) => m.id === id)) this.memberInfo.delete(id);
      }
      this.emit({ type: 'membership', membership: this.membership });
      return { ok: true };
    }
    if (entry.type !== 'normal') return { ok: true };
    let cmd: Command;
    try {
      cmd = decodeCommand(entry.data);
    } catch (err) {
      // A command this version does not understand: skip it, identically on every member.
      return { ok: false, error: `undecodable command at ${entry.index}: ${(err as Error).message}` };
    }
    return this.applyCommand(cmd);
  }

  snapshot(): Uint8Array {
    const snap: SnapshotV3 = {
      version: SNAPSHOT_VERSION,
      memberInfo: [...this.memberInfo.entries()],
      jobs: [...this.jobs.values()],
      shards: [...this.shards.values()],
      acl: { revision: this.aclRevision, users: [...this.aclUsers.values()] },
    };
    return new TextEncoder().encode(JSON.stringify(snap));
  }

  restore(data: Uint8Array, meta: SnapshotMeta): void {
    const parsed =
      data.byteLength === 0 ? null : (JSON.parse(new TextDecoder().decode(data)) as { version?: number });
    this.membership = meta.membership;
    this.memberInfo.clear();
    this.jobs.clear();
    this.shards.clear();
    this.aclUsers.clear();
    this.aclRevision = 0;
    this.appliedIndex = meta.index;
    if (parsed) {
      const snap = upgradeSnapshot(parsed);
      for (const [id, info] of snap.memberInfo) this.memberInfo.set(id, info);
      for (const job of snap.jobs) this.jobs.set(job.id, job);
      // Snapshots from before the write guard carry no guardReplicas: start unguarded (the
      // leader raises it as it sees replicas attached).
      for (const shard of snap.shards)
        this.shards.set(shard.name, {
          ...shard,
          guardReplicas: shard.guardReplicas ?? 0,
          settings: withAbsentSettings(shard.settings),
        });
      for (const user of snap.acl.users) this.aclUsers.set(user.name, user);
      this.aclRevision = snap.acl.revision;
    }
    this.emit({ type: 'restored' });
  }

  job(id: string): JobRecord | undefined {
    return this.jobs.get(id);
  }

  /** Jobs not yet finished, oldest first. */
  activeJobs(): JobRecord[] {
    return [...this.jobs.values()].filter((j) => !TERMINAL_JOB_STATES.has(j.state));
  }

  private applyCommand(cmd: Command): ApplyResult {
    if (cmd.t.startsWith('shard.')) {
      const r = applyShardCommand(this.shards, cmd as ShardCommand);
      if (!r.ok) return r;
      if (cmd.t === 'shard.failover.begin') this.applyCommand({ t: 'job.create', job: cmd.job });
      for (const event of r.events) this.emit({ type: 'shard', event });
      return { ok: true };
    }
    switch (cmd.t) {
      case 'member.info': {
        if (!this.membership.members.some((m) => m.id === cmd.id)) {
          return { ok: false, error: `node ${cmd.id} is not a member` };
        }
        this.memberInfo.set(cmd.id, {
          sentinel: cmd.sentinel,
          admin: cmd.admin,
          version: cmd.version,
          ...(cmd.runId ? { runId: cmd.runId } : {}),
        });
        this.emit({ type: 'member-info', id: cmd.id });
        return { ok: true };
      }
      case 'acl.user.put': {
        // Computed on the daemon that ran ACL SETUSER from the users at `revision`: refused if
        // another change got in first (that daemon recomputes and tries again).
        if (cmd.revision !== this.aclRevision) {
          return { ok: false, error: `acl_conflict: the ACL users are at revision ${this.aclRevision}` };
        }
        this.aclUsers.set(cmd.user.name, cmd.user);
        this.aclRevision++;
        this.emit({ type: 'acl', name: cmd.user.name, deleted: false });
        return { ok: true, value: this.aclRevision };
      }
      case 'acl.user.delete': {
        if (!this.aclUsers.delete(cmd.name)) return { ok: true, value: false };
        this.aclRevision++;
        this.emit({ type: 'acl', name: cmd.name, deleted: true });
        return { ok: true, value: true };
      }
      case 'job.create': {
        if (this.jobs.has(cmd.job.id)) return { ok: true, value: this.jobs.get(cmd.job.id) };
        const job: JobRecord = { ...cmd.job };
        this.jobs.set(job.id, job);
        this.trimJobs();
        this.emit({ type: 'job', job });
        return { ok: true, value: job };
      }
      case 'job.update': {
        const job = this.jobs.get(cmd.id);
        if (!job) return { ok: false, error: `no job ${cmd.id}` };
        if (TERMINAL_JOB_STATES.has(job.state))
          return { ok: false, error: `job ${cmd.id} already ${job.state}` };
        job.state = cmd.state as JobState;
        job.updatedAtMs = cmd.atMs;
        if (cmd.step !== undefined) job.step = cmd.step;
        if (cmd.reason !== undefined) job.reason = cmd.reason;
        if (cmd.result !== undefined) job.result = cmd.result;
        this.emit({ type: 'job', job });
        return { ok: true, value: job };
      }
      default:
        return { ok: false, error: `unknown command ${cmd.t}` };
    }
  }

  private trimJobs(): void {
    const finished = [...this.jobs.values()].filter((j) => TERMINAL_JOB_STATES.has(j.state));
    for (let i = 0; i < finished.length - MAX_FINISHED_JOBS; i++) this.jobs.delete(finished[i]!.id);
  }

  private emit(c: StateChange): void {
    for (const l of this.listeners) l(c);
  }
}

/** Read a snapshot written by this or an older version (older ones have no ACL users). */
export function upgradeSnapshot(parsed: { version?: number }): SnapshotV3 {
  const noAcl = { revision: 0, users: [] };
  switch (parsed.version) {
    case 1:
      return { ...(parsed as SnapshotV1), version: 3, shards: [], acl: noAcl };
    case 2:
      return { ...(parsed as SnapshotV2), version: 3, acl: noAcl };
    case 3:
      return parsed as SnapshotV3;
    default:
      throw new Error(
        `snapshot version ${parsed.version} is newer than this daemon understands (${SNAPSHOT_VERSION})`,
      );
  }
}

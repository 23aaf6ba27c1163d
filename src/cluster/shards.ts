/**
 * Shards in the replicated state: a master name, its Redis nodes, the committed master and epoch,
 * per-shard settings, the failover in progress and a bounded history. Pure functions apply the
 * shard commands; every member applies them identically.
 *
 * Invariant (promise 1): a shard's epoch only grows, each epoch names at most one master, and a
 * failover is started only with the next epoch while none is pending.
 */
import type { NodeId } from '../raft/types.js';
import type { ShardSettings } from './settings.js';

export type NodeRole = 'replica' | 'observer';
export type FailoverKind = 'auto' | 'forced' | 'switchover' | 'initial';

/** A shard's settings: one table (./settings.ts) names, bounds and defaults every one of them. */
export type { ShardSettings };

export interface ShardNode {
  addr: string;
  /** The daemon beside this Redis, or null (registered without a sidecar, e.g. SENTINEL MONITOR). */
  owner: NodeId | null;
  role: NodeRole;
  /** replica-priority semantics: lower wins, 0 = never promoted. */
  priority: number;
  /** Whether clients are told about it (SENTINEL REPLICAS). */
  accessible: boolean;
  /**
   * The replica's own `replica-announced` (Redis INFO `replica_announced`), kept by the leader for
   * nodes no daemon registered (src/failover/discovery.ts). false: hidden from SENTINEL REPLICAS
   * and SLAVES, as Sentinel hides it, and still a failover candidate. Absent: announced.
   */
  announced?: boolean;
  username?: string;
  password?: string;
}

export interface PendingFailover {
  epoch: number;
  from: string | null;
  to: string;
  kind: FailoverKind;
  jobId: string;
  startedAtMs: number;
}

export interface FailoverRecord {
  epoch: number;
  from: string | null;
  to: string;
  kind: FailoverKind;
  jobId: string | null;
  atMs: number;
  reason: string;
  /** Run id of the server the decision named (that incarnation was chosen; absent in old entries). */
  runId?: string;
}

export interface Shard {
  name: string;
  /** Epoch of the committed master (0 before the first change of master). */
  epoch: number;
  /** Highest epoch ever allocated (a failover that was rolled back still used its number). */
  lastEpoch: number;
  master: string | null;
  nodes: ShardNode[];
  settings: ShardSettings;
  pending: PendingFailover | null;
  /** When the last failover attempt of this shard failed (wall ms), for the retry pause. */
  lastAbortAtMs: number | null;
  /**
   * The write guard: the `min-replicas-to-write` the committed master runs with now (fencing that
   * fails closed, see src/failover/fence.ts). At most settings.minReplicasToWrite; 0 at every new
   * epoch (a promoted replica has no replicas yet); raised by the leader as replicas attach, lowered
   * only when a majority of voting daemons has declared replicas down.
   */
  guardReplicas: number;
  history: FailoverRecord[];
  createdAtMs: number;
  /**
   * Sentinel's notification-script and client-reconfig-script of the shard (SENTINEL SET): paths
   * every daemon runs for the shard's events. Absent: none (snapshots from before scripts).
   */
  scripts?: ShardScripts;
}

export interface ShardScripts {
  notification?: string;
  clientReconfig?: string;
}

/** The longest script path a shard may hold (Linux's PATH_MAX). */
export const SCRIPT_PATH_MAX = 4096;

export const MAX_HISTORY = 20;

export type ShardCommand =
  | {
      t: 'shard.create';
      name: string;
      master: string | null;
      nodes: ShardNode[];
      settings: ShardSettings;
      atMs: number;
    }
  | { t: 'shard.remove'; name: string }
  /** `onlyUnowned`: a no-op when the node exists with an owner (discovery must not take it over). */
  | { t: 'shard.node.put'; name: string; node: ShardNode; onlyUnowned?: boolean }
  | { t: 'shard.node.remove'; name: string; addr: string }
  | { t: 'shard.settings'; name: string; settings: Partial<ShardSettings> }
  /** Set (a path) or clear ('') the shard's scripts; a script not named is left as it is. */
  | { t: 'shard.scripts'; name: string; scripts: ShardScripts }
  | {
      t: 'shard.failover.begin';
      name: string;
      expectEpoch: number;
      epoch: number;
      from: string | null;
      to: string;
      kind: FailoverKind;
      jobId: string;
      atMs: number;
    }
  | {
      t: 'shard.master';
      name: string;
      epoch: number;
      master: string;
      from: string | null;
      kind: FailoverKind;
      jobId: string | null;
      atMs: number;
      reason: string;
      runId?: string;
    }
  | { t: 'shard.failover.abort'; name: string; epoch: number; reason: string; atMs: number }
  | { t: 'shard.guard'; name: string; epoch: number; replicas: number; reason: string };

export type ShardEvent =
  | { type: 'shard-created'; shard: Shard }
  | { type: 'shard-removed'; name: string }
  | { type: 'node-added'; shard: Shard; node: ShardNode }
  | { type: 'node-removed'; shard: Shard; addr: string }
  | { type: 'settings'; shard: Shard; changed: Partial<ShardSettings> }
  | { type: 'scripts'; shard: Shard; changed: ShardScripts }
  | { type: 'failover-begin'; shard: Shard; pending: PendingFailover }
  | { type: 'master-changed'; shard: Shard; record: FailoverRecord }
  | { type: 'failover-abort'; shard: Shard; epoch: number; reason: string }
  | { type: 'guard'; shard: Shard; replicas: number; reason: string };

export type ShardApply = { ok: true; events: ShardEvent[] } | { ok: false; error: string };

function fail(error: string): ShardApply {
  return { ok: false, error };
}

export function findNode(shard: Shard, addr: string): ShardNode | undefined {
  return shard.nodes.find((n) => n.addr === addr);
}

/**
 * `node` with the credentials `auth` changes: each of username and password that `auth` names is
 * set (the empty string removes it), and the other is kept, as Sentinel's `auth-user` and
 * `auth-pass` are separate settings (issue 10: SENTINEL SET auth-user, then auth-pass, left the
 * node with a password and no user, and every daemon lost the master once the default user was
 * turned off).
 */
export function withCredentials(node: ShardNode, auth: { username?: string; password?: string }): ShardNode {
  const out: ShardNode = { ...node };
  for (const k of ['username', 'password'] as const) {
    const v = auth[k];
    if (v === undefined) continue;
    if (v === '') delete out[k];
    else out[k] = v;
  }
  return out;
}

/** Apply one shard command to `shards` (mutating it). */
export function applyShardCommand(shards: Map<string, Shard>, cmd: ShardCommand): ShardApply {
  if (cmd.t === 'shard.create') {
    if (shards.has(cmd.name)) return fail(`shard ${cmd.name} exists`);
    const shard: Shard = {
      name: cmd.name,
      epoch: 0,
      lastEpoch: 0,
      master: cmd.master,
      nodes: sortNodes(cmd.nodes),
      settings: { ...cmd.settings },
      pending: null,
      lastAbortAtMs: null,
      guardReplicas: 0,
      history: cmd.master
        ? [
            {
              epoch: 0,
              from: null,
              to: cmd.master,
              kind: 'initial',
              jobId: null,
              atMs: cmd.atMs,
              reason: 'shard created',
            },
          ]
        : [],
      createdAtMs: cmd.atMs,
    };
    shards.set(cmd.name, shard);
    return { ok: true, events: [{ type: 'shard-created', shard }] };
  }
  const shard = shards.get(cmd.name);
  if (!shard) return fail(`no shard ${cmd.name}`);
  switch (cmd.t) {
    case 'shard.remove':
      shards.delete(cmd.name);
      return { ok: true, events: [{ type: 'shard-removed', name: cmd.name }] };
    case 'shard.node.put': {
      const existing = findNode(shard, cmd.node.addr);
      if (cmd.onlyUnowned && existing && existing.owner !== null) return { ok: true, events: [] };
      shard.nodes = sortNodes([...shard.nodes.filter((n) => n.addr !== cmd.node.addr), { ...cmd.node }]);
      return { ok: true, events: existing ? [] : [{ type: 'node-added', shard, node: cmd.node }] };
    }
    case 'shard.node.remove': {
      if (!findNode(shard, cmd.addr)) return { ok: true, events: [] };
      if (shard.master === cmd.addr)
        return fail(`${cmd.addr} is the master of ${cmd.name}; switch over first`);
      if (shard.pending?.to === cmd.addr) return fail(`${cmd.addr} is being promoted in ${cmd.name}`);
      shard.nodes = shard.nodes.filter((n) => n.addr !== cmd.addr);
      return { ok: true, events: [{ type: 'node-removed', shard, addr: cmd.addr }] };
    }
    case 'shard.settings':
      shard.settings = { ...shard.settings, ...cmd.settings };
      return { ok: true, events: [{ type: 'settings', shard, changed: cmd.settings }] };
    case 'shard.scripts': {
      const scripts: ShardScripts = { ...shard.scripts };
      for (const k of ['notification', 'clientReconfig'] as const) {
        const v = cmd.scripts[k];
        if (v === undefined) continue;
        if (v === '') delete scripts[k];
        else scripts[k] = v;
      }
      if (Object.keys(scripts).length > 0) shard.scripts = scripts;
      else delete shard.scripts;
      return { ok: true, events: [{ type: 'scripts', shard, changed: cmd.scripts }] };
    }
    case 'shard.failover.begin': {
      if (shard.pending)
        return fail(`a failover of ${cmd.name} (epoch ${shard.pending.epoch}) is already in progress`);
      if (shard.epoch !== cmd.expectEpoch)
        return fail(`${cmd.name} is at epoch ${shard.epoch}, not ${cmd.expectEpoch}`);
      if (cmd.epoch !== shard.lastEpoch + 1)
        return fail(`epoch ${cmd.epoch} is not the next epoch of ${cmd.name} (${shard.lastEpoch + 1})`);
      if (!findNode(shard, cmd.to)) return fail(`${cmd.to} is not a node of ${cmd.name}`);
      shard.pending = {
        epoch: cmd.epoch,
        from: cmd.from,
        to: cmd.to,
        kind: cmd.kind,
        jobId: cmd.jobId,
        startedAtMs: cmd.atMs,
      };
      shard.lastEpoch = cmd.epoch;
      return { ok: true, events: [{ type: 'failover-begin', shard, pending: shard.pending }] };
    }
    case 'shard.master': {
      if (cmd.kind === 'initial') {
        if (shard.master !== null || shard.pending)
          return fail(`${cmd.name} already has a master or a failover in progress`);
        if (cmd.epoch !== shard.lastEpoch + 1)
          return fail(`epoch ${cmd.epoch} is not the next epoch of ${cmd.name}`);
      } else if (!shard.pending || shard.pending.epoch !== cmd.epoch || shard.pending.to !== cmd.master) {
        return fail(`no failover of ${cmd.name} to ${cmd.master} at epoch ${cmd.epoch} is in progress`);
      }
      if (!findNode(shard, cmd.master)) return fail(`${cmd.master} is not a node of ${cmd.name}`);
      const record: FailoverRecord = {
        epoch: cmd.epoch,
        from: cmd.from,
        to: cmd.master,
        kind: cmd.kind,
        jobId: cmd.jobId,
        atMs: cmd.atMs,
        reason: cmd.reason,
        ...(cmd.runId !== undefined ? { runId: cmd.runId } : {}),
      };
      shard.master = cmd.master;
      shard.epoch = cmd.epoch;
      // A new master starts unguarded: its replicas attach only after it is committed.
      shard.guardReplicas = 0;
      shard.lastEpoch = Math.max(shard.lastEpoch, cmd.epoch);
      shard.pending = null;
      shard.history = [...shard.history, record].slice(-MAX_HISTORY);
      return { ok: true, events: [{ type: 'master-changed', shard, record }] };
    }
    case 'shard.guard': {
      // A guard decided for an older epoch says nothing about the current master.
      if (cmd.epoch !== shard.epoch) return { ok: true, events: [] };
      const replicas = Math.max(0, Math.min(cmd.replicas, shard.settings.minReplicasToWrite));
      if (replicas === shard.guardReplicas) return { ok: true, events: [] };
      shard.guardReplicas = replicas;
      return { ok: true, events: [{ type: 'guard', shard, replicas, reason: cmd.reason }] };
    }
    case 'shard.failover.abort': {
      if (!shard.pending || shard.pending.epoch !== cmd.epoch) return { ok: true, events: [] };
      shard.pending = null;
      shard.lastAbortAtMs = cmd.atMs;
      return { ok: true, events: [{ type: 'failover-abort', shard, epoch: cmd.epoch, reason: cmd.reason }] };
    }
  }
}

function sortNodes(nodes: ShardNode[]): ShardNode[] {
  return [...nodes].sort((a, b) => (a.addr < b.addr ? -1 : a.addr > b.addr ? 1 : 0));
}

/** A shard as shown to operators: credentials removed. */
export function publicShard(s: Shard) {
  return {
    ...s,
    nodes: s.nodes.map(({ password: _p, username, ...n }) => ({
      ...n,
      ...(username ? { username } : {}),
      auth: _p !== undefined,
    })),
  };
}

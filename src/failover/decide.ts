/**
 * Failover decisions, pure: given what the daemons saw and the shard state, is the master down,
 * and which replica should be promoted? No I/O and no clock of their own: `nowMs` is passed in.
 */

import type { Shard, ShardNode } from '../cluster/shards.js';
import { majority } from '../raft/quorum.js';
import type { NodeId } from '../raft/types.js';
import type { NodeReport } from './prober.js';
import type { RedisInfo } from './redis.js';

export interface ReceivedReport {
  from: NodeId;
  /** Leader's monotonic time when it arrived. */
  receivedAtMs: number;
  stalledRecently: boolean;
  nodes: Map<string, NodeReport>;
}

export interface DownVerdict {
  down: boolean;
  /** Voting members that saw the node fail for down_after_ms. */
  votes: NodeId[];
  /** Votes needed: a majority of the voting members, or the shard's quorum when larger (see judgeDown). */
  needed: number;
  /** Voting members whose fresh report says the node is fine. */
  sawUp: NodeId[];
}

/**
 * Votes a down verdict needs: a majority of the voting members, raised to the shard's Sentinel
 * `quorum` when that is larger and can be met (quorum <= voters). A quorum larger than the group
 * cannot be met and would stop failover for good, so it is ignored then (a single-voter group
 * keeps working with the default quorum 2); a quorum below a majority never lowers the bar (one
 * vantage point alone must not fail a master over).
 */
export function votesNeeded(voters: number, quorum: number | undefined): number {
  const m = majority(voters);
  if (quorum === undefined || quorum > voters) return m;
  return Math.max(m, quorum);
}

/**
 * Is `addr` down? Each voting member counts if its fresh report (at most `maxReportAgeMs` old)
 * says the node has been failing for at least `downAfterMs`, counting the report's age. The
 * deciding daemon's own view is passed in `selfDownForMs` (null when it is not a voter).
 */
export function judgeDown(args: {
  addr: string;
  voters: readonly NodeId[];
  self: NodeId;
  selfDownForMs: number | null;
  /**
   * The deciding daemon saw no failure of the node (absent: selfDownForMs === 0 says so).
   * A failure it has not confirmed since it came back to the group is neither down nor up.
   */
  selfSawUp?: boolean;
  reports: ReadonlyMap<NodeId, ReceivedReport>;
  nowMs: number;
  downAfterMs: number;
  maxReportAgeMs: number;
  /** The shard's Sentinel quorum (see votesNeeded). */
  quorum?: number;
}): DownVerdict {
  const votes: NodeId[] = [];
  const sawUp: NodeId[] = [];
  for (const id of args.voters) {
    if (id === args.self) {
      if (args.selfDownForMs === null) continue;
      if (args.selfDownForMs >= args.downAfterMs) votes.push(id);
      else if (args.selfSawUp ?? args.selfDownForMs === 0) sawUp.push(id);
      continue;
    }
    const r = args.reports.get(id);
    if (!r) continue;
    const age = args.nowMs - r.receivedAtMs;
    if (age > args.maxReportAgeMs) continue;
    const n = r.nodes.get(args.addr);
    if (!n) continue;
    if (n.failing && n.downForMs + age >= args.downAfterMs) votes.push(id);
    else if (!n.failing) sawUp.push(id);
  }
  const needed = votesNeeded(args.voters.length, args.quorum);
  return { down: votes.length >= needed, votes, needed, sawUp };
}

export interface CandidateFacts {
  node: ShardNode;
  /** Fresh INFO read at decision time, or null when the node did not answer. */
  info: RedisInfo | null;
  /**
   * The node's owner daemon is a live member the leader hears from, so it will fence this node
   * if it is ever cut off as master. Undefined counts as live (callers that do not know).
   */
  ownerLive?: boolean;
}

export interface RankedCandidate {
  addr: string;
  priority: number;
  offset: number;
  runId: string;
  ownerLive: boolean;
}

/**
 * The replication ids the master of a shard was seen with, per committed master and epoch,
 * newest first: the master's master_replid and, when it was itself promoted, the master_replid2
 * it continued from. A replica that completed a sync from this master holds one of these ids as
 * its own master_replid; one that never reached it holds a random id of its own (whatever its
 * offset says: Redis 7.0 reports offset 1 for it, and 0 for a replica fully synced from a master
 * that had no write yet). Built from every daemon's INFO of the master (the leader's prober and
 * the followers' reports), so a leader that never saw the master itself still has it.
 */
export interface MasterLineage {
  epoch: number;
  master: string;
  ids: string[];
  /** Keys the master held at its last observation (an empty restart is not adopted, see below). */
  lastKeys: number;
  /**
   * Ids the master continued from (its master_replid2, first seen so), each with the first offset
   * of that history the master does not hold (its second_repl_offset). A server holding such an
   * id at or past it went on in that history without the master: the old master that kept
   * accepting writes after the failover (found by the system simulation, seed 1209: it was
   * promoted over the replica holding the epoch's writes). An id also seen as the master's own is
   * not bounded. Absent: none bounded.
   */
  bounds?: Record<string, number>;
}

/**
 * Does a server with replication id `replId` at `offset` hold the master's history (a prefix of
 * it)? Its id is one of the lineage's, and short of where the master left it when that is an id
 * the master continued from (Redis accepts a PSYNC of replid2 only up to second_repl_offset).
 */
export function holdsLineage(lineage: MasterLineage, replId: string, offset: number): boolean {
  if (!lineage.ids.includes(replId)) return false;
  const bound = lineage.bounds?.[replId];
  return bound === undefined || offset < bound;
}

/**
 * The replication histories a server holds, each with the last offset it holds of it: its
 * master_replid up to its offset, and its master_replid2 (the history it continued from: a
 * promotion, or a master restored from its RDB) up to second_repl_offset - 1. Offsets run on
 * across promotions, so two servers compare on a history both hold.
 */
export function historiesHeld(info: RedisInfo): Map<string, number> {
  const held = new Map<string, number>();
  if (info.replId) held.set(info.replId, info.offset);
  if (info.replId2 && info.secondReplOffset > 0) held.set(info.replId2, info.secondReplOffset - 1);
  return held;
}

/** Does `info` hold some of the lineage's history (an id of it, within its bound)? */
export function holdsSomeLineage(lineage: MasterLineage | null | undefined, info: RedisInfo): boolean {
  if (!lineage) return false;
  for (const [id, offset] of historiesHeld(info)) if (holdsLineage(lineage, id, offset)) return true;
  return false;
}

/**
 * How `a` compares with `b` on the histories both hold: 'ahead' when it holds more of one of
 * them, 'behind' when less of one and more of none, 'equal', or 'unrelated' (none in common).
 */
export function compareHistories(a: RedisInfo, b: RedisInfo): 'ahead' | 'behind' | 'equal' | 'unrelated' {
  const ha = historiesHeld(a);
  const hb = historiesHeld(b);
  let common = false;
  let behind = false;
  for (const [id, offA] of ha) {
    const offB = hb.get(id);
    if (offB === undefined) continue;
    common = true;
    if (offA > offB) return 'ahead';
    if (offA < offB) behind = true;
  }
  return !common ? 'unrelated' : behind ? 'behind' : 'equal';
}

/** Most ids kept per lineage (restarts of a master with persistence each add one). */
export const MAX_LINEAGE_IDS = 8;

/**
 * Fold one observation of the committed master (role:master INFO) into its lineage. A new
 * master_replid is adopted unless the master went from holding keys to holding none of any
 * history with it (empty, or started loading nothing: holdsNoHistory): that is a restart that lost
 * the dataset, and a replica that resynced from it holds nothing of the
 * history (the empty-restart guard demotes such a master; see engine.ts).
 */
export function observeMaster(
  prev: MasterLineage | undefined,
  epoch: number,
  master: string,
  obs: {
    replId: string | null | undefined;
    replId2: string | null | undefined;
    keys: number;
    /** holdsNoHistory (redis.ts): empty, or started loading nothing (keys written since). */
    noHistory?: boolean;
    /** second_repl_offset: where replId2's history ends for the master (-1 or absent: unknown). */
    secondReplOffset?: number | null | undefined;
  },
): MasterLineage {
  const l: MasterLineage =
    prev && prev.epoch === epoch && prev.master === master
      ? { ...prev, ids: [...prev.ids], bounds: { ...prev.bounds } }
      : { epoch, master, ids: [], lastKeys: 0, bounds: {} };
  if (!obs.replId) return l;
  if (!l.ids.includes(obs.replId)) {
    const emptyRestart = l.ids.length > 0 && l.lastKeys > 0 && (obs.keys === 0 || obs.noHistory === true);
    if (emptyRestart) return l;
    l.ids.unshift(obs.replId);
    delete l.bounds![obs.replId];
    if (obs.replId2 && !l.ids.includes(obs.replId2)) {
      l.ids.splice(1, 0, obs.replId2);
      if (typeof obs.secondReplOffset === 'number' && obs.secondReplOffset > 0)
        l.bounds![obs.replId2] = obs.secondReplOffset;
    }
    l.ids.length = Math.min(l.ids.length, MAX_LINEAGE_IDS);
  }
  l.lastKeys = obs.keys;
  return l;
}

/** What the leader last saw of a candidate that did not answer now. */
export interface UnreachableCandidate {
  addr: string;
  /** Its last INFO (null: never seen). */
  last: { role: 'master' | 'slave'; replId: string; offset: number } | null;
  /** How long it has been failing (ms). */
  failingForMs: number;
}

/**
 * Should an automatic failover wait instead of promoting `best`? Yes when a candidate that does
 * not answer right now was last seen holding more of the master's history (a replica with one of
 * the lineage's ids at a higher offset) and has been failing for less than down_after_ms: it is
 * stalled or briefly cut off, not down, and promoting `best` would lose what only it holds (found
 * by the system simulation, seed 349: a replica restored from an older RDB was promoted while the
 * up-to-date one was stalled for 1.7 s). Returns that candidate and why, or null. Bounded: once it
 * has failed for down_after_ms it counts as down and the failover goes on without it. Pure.
 */
export function waitForAheadCandidate(args: {
  best: { addr: string; offset: number };
  unreachable: readonly UnreachableCandidate[];
  lineage: MasterLineage | null;
  downAfterMs: number;
}): { addr: string; reason: string } | null {
  const lineage = args.lineage;
  for (const u of args.unreachable) {
    const last = u.last;
    if (last?.role !== 'slave' || !lineage || !holdsLineage(lineage, last.replId, last.offset)) continue;
    if (last.offset <= args.best.offset || u.failingForMs >= args.downAfterMs) continue;
    return {
      addr: u.addr,
      reason:
        `waiting for ${u.addr}: it was last seen ${last.offset - args.best.offset} bytes ahead of ` +
        `${args.best.addr} and has been unreachable for ${Math.round(u.failingForMs)} ms, less than ` +
        `down_after_ms (${args.downAfterMs})`,
    };
  }
  return null;
}

/**
 * Fold the lineage a voting daemon reported for the same epoch and master into ours: its ids join
 * after our own (our newest stays first). A daemon that restarted after the master lost its
 * history (say, restarted empty) has seen only the new id; the others remember the history its
 * replicas hold (found by the system simulation, seed 846: a just-restarted leader refused the
 * only replica holding the data). Pure.
 */
export function mergeLineage(
  prev: MasterLineage | undefined,
  reported: {
    epoch: number;
    master: string;
    ids: readonly string[];
    /** Its bounds (MasterLineage.bounds); absent from a daemon that keeps none (says nothing). */
    bounds?: Readonly<Record<string, number>>;
  },
  committed: { epoch: number; master: string | null },
): MasterLineage | undefined {
  if (reported.epoch !== committed.epoch || reported.master !== committed.master) return prev;
  if (!prev || prev.epoch !== reported.epoch || prev.master !== reported.master) {
    // We saw nothing of this master (it died before we looked): the reporter did.
    if (reported.ids.length === 0) return prev;
    const ids = reported.ids.slice(0, MAX_LINEAGE_IDS);
    const bounds = Object.fromEntries(
      Object.entries(reported.bounds ?? {}).filter(([id]) => ids.includes(id)),
    );
    return { epoch: reported.epoch, master: reported.master, ids, lastKeys: 0, bounds };
  }
  const extra = reported.ids.filter((id) => !prev.ids.includes(id));
  const rb = reported.bounds;
  const bounds = { ...prev.bounds };
  let changed = extra.length > 0;
  for (const id of extra) if (rb?.[id] !== undefined) bounds[id] = rb[id];
  // An id the reporter knows unbounded was seen as the master's own: the whole of it is history.
  if (rb)
    for (const id of reported.ids)
      if (bounds[id] !== undefined && rb[id] === undefined && prev.ids.includes(id)) {
        delete bounds[id];
        changed = true;
      }
  if (!changed) return prev;
  return { ...prev, ids: [...prev.ids, ...extra].slice(0, MAX_LINEAGE_IDS), bounds };
}

export interface CandidateRanking {
  ranked: RankedCandidate[];
  rejected: { addr: string; reason: string }[];
}

/**
 * Order the replicas that may be promoted. Excluded: the old master, observers, priority 0,
 * nodes that did not answer, nodes that are not replicas of the old master, nodes that have not
 * synced from the master's replication history (by replication id, see MasterLineage; offsets
 * prove nothing), replicas whose link has been down much longer than the master has been failing,
 * and replicas lagging more than max_lag_bytes behind the most advanced known offset. A node that
 * reports role:master is a candidate only when it was promoted from the master's current history
 * (its master_replid2 is the lineage's newest id: a promotion whose outcome was lost, e.g. INFO
 * timed out); an older id there is what a former master restarted from its RDB reports.
 *
 * When no daemon ever saw the master's replication id (the lineage is empty: say the leader
 * restarted after the master died and no follower had read its INFO), a replica is accepted only
 * if another replica holds the same master_replid: two servers share an id only by having synced
 * from the same history, while a replica that never synced has a random id of its own. A lone
 * replica with an id nobody else has is refused, never guessed at.
 *
 * Order: candidates whose owner daemon is live first (a node with no live daemon is never fenced
 * if it is cut off later) unless none of them holds the most advanced offset, then lowest
 * priority, then highest offset, then run id and address (stable). With `force`, lag, link and history checks are skipped (an operator accepted the loss).
 */
export function rankCandidates(args: {
  shard: Shard;
  facts: readonly CandidateFacts[];
  /** The last offset the old master was seen at (0 if unknown). */
  masterLastOffset: number;
  /** How long the master has been failing (ms). */
  masterDownForMs: number;
  force: boolean;
  /** The master's replication ids as the daemons saw them (null or empty: unknown). */
  lineage?: MasterLineage | null;
  /**
   * The address the committed master itself reports replicating (role:slave), if any: the
   * restart guard demotes a master that came back empty or from an older point than a replica
   * holds to follow that replica (engine.ts guardEmptyRestart). That replica's link has been down
   * since the master went away, which says nothing against its data: it holds the most of the
   * history, so the link-down rule does not apply to it (found by the system simulation, seed
   * 7047: the master was away 33 s, and refusing the replica left the shard with no master).
   */
  masterFollows?: string | null;
  /**
   * The history the committed master continues from when it reports role:master with one: its
   * master_replid2 and second_repl_offset (a master restarted from its RDB, or promoted).
   */
  masterRestoredFrom?: { replId: string; secondReplOffset: number } | null;
  /**
   * The committed master's INFO when it reports role:slave: the restart guard demoted it to
   * follow a replica ahead of it (engine.ts guardEmptyRestart). A replica holding less of the
   * master's histories than the master itself is refused: promoting it would throw away what the
   * master holds, while restoring the master loses nothing (found by the system simulation, seed
   * 21267: the replica the master followed restarted empty, and a replica 248 acknowledged writes
   * behind the master was promoted).
   */
  demotedMaster?: RedisInfo | null;
}): CandidateRanking {
  const { shard } = args;
  const rejected: { addr: string; reason: string }[] = [];
  const eligible: { f: CandidateFacts; info: RedisInfo }[] = [];
  const known = args.lineage && args.lineage.ids.length > 0 ? args.lineage.ids : null;
  const sharedIds = new Map<string, number>();
  for (const f of args.facts)
    if (f.info?.role === 'slave' && f.info.replId)
      sharedIds.set(f.info.replId, (sharedIds.get(f.info.replId) ?? 0) + 1);
  for (const f of args.facts) {
    const addr = f.node.addr;
    if (addr === shard.master) continue;
    if (f.node.role === 'observer') {
      rejected.push({ addr, reason: 'observer (never promoted)' });
      continue;
    }
    if (f.node.priority === 0) {
      rejected.push({ addr, reason: 'priority 0 (never promoted)' });
      continue;
    }
    if (!f.info) {
      rejected.push({ addr, reason: 'not reachable' });
      continue;
    }
    if (f.info.role !== 'slave') {
      // Promoted from the master's current history by an attempt whose outcome was lost: still a
      // candidate. Only the newest id counts: a replica of the master holds that one, while an
      // older id as master_replid2 is what a former master restarted from its RDB reports (Redis
      // 7.0 keeps the RDB's id as replid2), and it holds none of the history after that id.
      // With `force` the operator named it and accepted whatever history it holds.
      // One exception: the master restarted from its RDB (a new id, the RDB's as replid2), and
      // this node was promoted from that same history further than the RDB reached (found by the
      // system simulation, seed 21297: the resumed failover was refused and the node holding the
      // writes resynced from the restarted master).
      const restored = args.masterRestoredFrom;
      const aheadOfRestartedMaster =
        !!restored &&
        known !== null &&
        f.info.replId2 === restored.replId &&
        known.includes(restored.replId) &&
        args.lineage?.bounds?.[restored.replId] === undefined &&
        f.info.secondReplOffset > restored.secondReplOffset;
      if (
        args.force ||
        (known && f.info.replId2 !== '' && known[0] === f.info.replId2) ||
        aheadOfRestartedMaster
      ) {
        eligible.push({ f, info: f.info });
        continue;
      }
      rejected.push({
        addr,
        reason:
          known && f.info.replId2 !== '' && known.includes(f.info.replId2)
            ? "reports role:master, continuing an older history than the master's (a former master restarted?)"
            : 'reports role:master',
      });
      continue;
    }
    if (f.info.loading) {
      rejected.push({ addr, reason: 'loading its dataset' });
      continue;
    }
    if (!args.force) {
      const upstream = f.info.masterHost ? `${f.info.masterHost}:${f.info.masterPort}` : null;
      if (shard.master && upstream !== shard.master) {
        rejected.push({
          addr,
          reason: `replicates ${upstream ?? 'nothing'}, not the master ${shard.master}`,
        });
        continue;
      }
      if (f.info.syncInProgress) {
        rejected.push({ addr, reason: 'has not completed a sync with the master (sync in progress)' });
        continue;
      }
      if (known && !known.includes(f.info.replId)) {
        rejected.push({
          addr,
          reason: `has not completed a sync with the master: its replication id ${f.info.replId || '?'} is not one the master was seen with`,
        });
        continue;
      }
      if (args.lineage && known && !holdsLineage(args.lineage, f.info.replId, f.info.offset)) {
        rejected.push({
          addr,
          reason: `diverged from the master's history: it holds ${f.info.replId} up to offset ${f.info.offset}, which the master left at ${args.lineage.bounds?.[f.info.replId]} (an old master that went on accepting writes?)`,
        });
        continue;
      }
      if (!known && (sharedIds.get(f.info.replId) ?? 0) < 2) {
        rejected.push({
          addr,
          reason:
            "has not completed a sync with the master as far as anyone knows: no daemon saw the master's replication id and no other replica shares this one",
        });
        continue;
      }
      if (args.demotedMaster && compareHistories(f.info, args.demotedMaster) === 'behind') {
        rejected.push({
          addr,
          reason: `holds less of the history than the master ${shard.master} itself (offset ${f.info.offset}), which the restart guard made a replica: the master is restored instead`,
        });
        continue;
      }
      const linkDownMs =
        f.info.masterLinkDownSinceSeconds >= 0 ? f.info.masterLinkDownSinceSeconds * 1000 : 0;
      if (
        linkDownMs > args.masterDownForMs + 10 * shard.settings.downAfterMs &&
        addr !== args.masterFollows
      ) {
        rejected.push({
          addr,
          reason: `its link to the master has been down for ${Math.round(linkDownMs / 1000)} s`,
        });
        continue;
      }
    }
    eligible.push({ f, info: f.info });
  }
  const best = Math.max(args.masterLastOffset, ...eligible.map((e) => e.info.offset));
  const ranked: RankedCandidate[] = [];
  for (const e of eligible) {
    const lag = best - e.info.offset;
    if (!args.force && lag > shard.settings.maxLagBytes) {
      rejected.push({
        addr: e.f.node.addr,
        reason: `lags ${lag} bytes (max_lag_bytes ${shard.settings.maxLagBytes})`,
      });
      continue;
    }
    ranked.push({
      addr: e.f.node.addr,
      priority: e.f.node.priority,
      offset: e.info.offset,
      runId: e.info.runId,
      ownerLive: e.f.ownerLive !== false,
    });
  }
  // A live daemon beside the candidate (it can be fenced later) comes first, but never at the
  // price of data: when no live candidate holds the most advanced offset, offsets decide as if
  // no daemon were live (acknowledged writes a lagging replica lacks are lost for certain; an
  // unfenced master is only a risk). Found by the system simulation (seed 122: a daemon that had
  // just restarted made the up-to-date replica rank after one 10 kB behind).
  const top = Math.max(...ranked.map((r) => r.offset));
  const preferLive = ranked.some((r) => r.ownerLive && r.offset >= top);
  ranked.sort(
    (a, b) =>
      (preferLive ? Number(b.ownerLive) - Number(a.ownerLive) : 0) ||
      a.priority - b.priority ||
      b.offset - a.offset ||
      (a.runId < b.runId ? -1 : a.runId > b.runId ? 1 : 0) ||
      (a.addr < b.addr ? -1 : a.addr > b.addr ? 1 : 0),
  );
  return { ranked, rejected };
}

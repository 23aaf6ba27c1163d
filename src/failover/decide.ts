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
  /** Votes needed: a majority of the voting members. */
  needed: number;
  /** Voting members whose fresh report says the node is fine. */
  sawUp: NodeId[];
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
  reports: ReadonlyMap<NodeId, ReceivedReport>;
  nowMs: number;
  downAfterMs: number;
  maxReportAgeMs: number;
}): DownVerdict {
  const votes: NodeId[] = [];
  const sawUp: NodeId[] = [];
  for (const id of args.voters) {
    if (id === args.self) {
      if (args.selfDownForMs === null) continue;
      if (args.selfDownForMs >= args.downAfterMs) votes.push(id);
      else if (args.selfDownForMs === 0) sawUp.push(id);
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
  const needed = majority(args.voters.length);
  return { down: votes.length >= needed, votes, needed, sawUp };
}

export interface CandidateFacts {
  node: ShardNode;
  /** Fresh INFO read at decision time, or null when the node did not answer. */
  info: RedisInfo | null;
}

export interface RankedCandidate {
  addr: string;
  priority: number;
  offset: number;
  runId: string;
}

export interface CandidateRanking {
  ranked: RankedCandidate[];
  rejected: { addr: string; reason: string }[];
}

/**
 * Order the replicas that may be promoted. Excluded: the old master, observers, priority 0,
 * nodes that did not answer, nodes that are not replicas of the old master (or are not synced),
 * replicas whose link has been down much longer than the master has been failing, and replicas
 * lagging more than max_lag_bytes behind the most advanced known offset. Order: lowest priority,
 * then highest offset, then run id and address (stable). With `force`, lag and link checks are
 * skipped (an operator chose to accept the loss).
 */
export function rankCandidates(args: {
  shard: Shard;
  facts: readonly CandidateFacts[];
  /** The last offset the old master was seen at (0 if unknown). */
  masterLastOffset: number;
  /** How long the master has been failing (ms). */
  masterDownForMs: number;
  force: boolean;
}): CandidateRanking {
  const { shard } = args;
  const rejected: { addr: string; reason: string }[] = [];
  const eligible: { f: CandidateFacts; info: RedisInfo }[] = [];
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
      rejected.push({ addr, reason: 'reports role:master' });
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
      if (f.info.syncInProgress || f.info.offset <= 0) {
        rejected.push({ addr, reason: 'has not completed a sync with the master' });
        continue;
      }
      const linkDownMs =
        f.info.masterLinkDownSinceSeconds >= 0 ? f.info.masterLinkDownSinceSeconds * 1000 : 0;
      if (linkDownMs > args.masterDownForMs + 10 * shard.settings.downAfterMs) {
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
    });
  }
  ranked.sort(
    (a, b) =>
      a.priority - b.priority ||
      b.offset - a.offset ||
      (a.runId < b.runId ? -1 : a.runId > b.runId ? 1 : 0) ||
      (a.addr < b.addr ? -1 : a.addr > b.addr ? 1 : 0),
  );
  return { ranked, rejected };
}

/**
 * What the daemon does with its Raft member's events: counts them in the metrics, logs them, and
 * stops the daemon when Raft fails or this node is removed from the group.
 */
import type { DaemonMetrics } from '../admin/metrics.js';
import type { ClusterState } from '../cluster/state.js';
import type { RaftNode } from '../raft/node.js';
import type { NodeId } from '../raft/types.js';
import type { Logger } from '../util/log.js';

export interface RaftEventsOptions {
  nodeId: NodeId;
  raft: RaftNode;
  state: ClusterState;
  metrics: DaemonMetrics;
  log: Logger;
  /** Stop the daemon (idempotent): the reason, and the exit code. */
  stop: (reason: string, exitCode: number) => void;
}

export function watchRaftEvents(o: RaftEventsOptions): void {
  let lastRole = 'follower';
  let lastLeader: NodeId = 0;
  // Committed membership (the driver's own event fires as soon as a change is appended).
  o.state.onChange((c) => {
    if (c.type !== 'membership') return;
    o.metrics.membershipChanges.inc();
    if (c.membership.removed.includes(o.nodeId)) o.stop('this node was removed from the group', 0);
  });
  o.raft.on((e) => {
    switch (e.type) {
      case 'role': {
        const { role, leader, term } = e.state;
        if (role === 'precandidate' || role === 'candidate') o.metrics.elections.inc();
        // A campaign that wins at once (a one-voter group) is never seen as a candidate state.
        else if (role === 'leader' && lastRole !== 'precandidate' && lastRole !== 'candidate')
          o.metrics.elections.inc();
        lastRole = role;
        if (leader !== lastLeader) {
          if (leader !== 0) o.metrics.leaderChanges.inc();
          lastLeader = leader;
        }
        o.log.info({ role, leader: leader || null, term }, 'raft role changed');
        return;
      }
      case 'membership':
        o.log.info(
          { members: e.membership.members, removed: e.membership.removed },
          'membership in effect changed',
        );
        return;
      case 'snapshot':
        o.metrics.snapshots.inc({ kind: e.kind });
        o.log.info({ kind: e.kind, index: e.index }, 'snapshot');
        return;
      case 'fatal':
        o.log.fatal({ err: e.error }, 'raft failed; stopping');
        o.stop('raft failure', 1);
        return;
      case 'applied':
        return;
    }
  });
}

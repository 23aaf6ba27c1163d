/**
 * Leadership hand-over before a leader stops: the voting member that has acknowledged this term
 * and holds the most of the log takes over, so the group does not wait out an election timeout.
 */
import type { Clock } from '../util/clock.js';
import type { Logger } from '../util/log.js';
import type { CoreStatus } from './core.js';
import { findMember, isVotingRole } from './membership.js';
import type { RaftNode } from './node.js';
import type { NodeId } from './types.js';

/** Who should lead after this leader: a voting member heard from this term, most log first, then lowest id. */
export function handoverTarget(st: CoreStatus): NodeId | null {
  if (st.role !== 'leader') return null;
  const candidates = st.progress
    .filter((p) => {
      const m = findMember(st.membership, p.id);
      return m !== undefined && isVotingRole(m.role) && p.ticksSinceAck !== null;
    })
    .sort((a, b) => b.match - a.match || a.id - b.id);
  return candidates[0]?.id ?? null;
}

/**
 * Transfer leadership to handoverTarget and wait (at most `timeoutMs`) until this member is no
 * longer the leader. Does nothing on a follower or a failed member; never throws.
 */
export async function handOverLeadership(
  raft: RaftNode,
  clock: Clock,
  timeoutMs: number,
  log: Logger,
): Promise<void> {
  if (raft.failed) return;
  const to = handoverTarget(raft.status());
  if (to === null) return;
  try {
    raft.transferLeadership(to);
  } catch {
    return;
  }
  const deadline = clock.nowMs() + timeoutMs;
  while (clock.nowMs() < deadline && raft.status().role === 'leader')
    await new Promise<void>((resolve) => clock.setTimeout(resolve, 10));
  log.info({ to, moved: raft.status().role !== 'leader' }, 'handed leadership over before stopping');
}

/**
 * Helpers shared by the Raft scenario tests (MIT 6.824 style: `one`, `nCommitted`, leader checks)
 * on top of the synchronous core network.
 */
import type { NodeId } from '../../src/raft/types.js';
import { RaftError } from '../../src/raft/types.js';
import type { RaftNet } from './raft-net.js';

export const E = 10; // electionTicks in the default harness options

/** Among `ids`, the one leader that all of them follow in one term, if there is exactly one. */
export function agreedLeader(net: RaftNet, ids: NodeId[] = net.upIds()): NodeId | undefined {
  const leaders = ids.filter((id) => net.node(id).up && net.status(id).role === 'leader');
  if (leaders.length !== 1) return undefined;
  const l = leaders[0]!;
  const term = net.status(l).term;
  return ids.every((id) => net.node(id).up && net.status(id).term === term && net.status(id).leader === l)
    ? l
    : undefined;
}

export function waitAgreedLeader(net: RaftNet, ids: NodeId[] = net.upIds(), maxTicks = 30 * E): NodeId {
  net.tickUntil(() => agreedLeader(net, ids) !== undefined, maxTicks);
  return agreedLeader(net, ids)!;
}

/** How many running nodes (among `ids`) have applied index `index` (the harness checks they agree). */
export function nCommitted(net: RaftNet, index: number, ids: NodeId[] = net.upIds()): number {
  return ids.filter((id) => net.node(id).up && net.node(id).appliedIndex >= index).length;
}

/** The value applied at `index` by anyone, if it was a normal entry. */
export function valueAt(net: RaftNet, index: number): string | undefined {
  const k = net.committed.get(index)?.key;
  return k?.startsWith('normal:') ? k.slice('normal:'.length) : undefined;
}

/**
 * MIT's cfg.one(): propose `value` through whichever node leads, retrying across leader changes,
 * until it is applied by at least `expected` running nodes. Returns its index.
 */
export function one(net: RaftNet, value: string, expected: number, maxTicks = 40 * E): number {
  for (let t = 0; t < maxTicks; t++) {
    const l = net.leader();
    if (l !== undefined && net.status(l).leaderReady) {
      let index = 0;
      try {
        index = net.propose(l, value).index;
      } catch (err) {
        if (!(err instanceof RaftError)) throw err;
      }
      if (index > 0) {
        for (let k = 0; k < 3 * E; k++) {
          net.stabilize();
          if (nCommitted(net, index) >= expected) {
            if (valueAt(net, index) === value) return index;
            break; // another leader's entry took that index: try again
          }
          net.tickAndStabilize(1);
          t++;
        }
      }
    }
    net.tickAndStabilize(1);
  }
  throw new Error(`one(${value}, ${expected}): not committed within ${maxTicks} ticks`);
}

/** Quorum arithmetic, kept apart so it can be property-tested on its own. */

/** The smallest number of members of a group of `size` that is a majority. */
export function majority(size: number): number {
  if (!Number.isInteger(size) || size < 0)
    throw new RangeError(`group size must be a non-negative integer, got ${size}`);
  return Math.floor(size / 2) + 1;
}

/**
 * The largest value that at least a majority of `values` are greater than or equal to: for match
 * indexes, the highest index stored on a majority; for acknowledgement ticks, the most recent
 * moment a majority was heard from. Returns `empty` for an empty list.
 */
export function quorumValue(values: readonly number[], empty = 0): number {
  if (values.length === 0) return empty;
  const sorted = [...values].sort((a, b) => b - a);
  return sorted[majority(values.length) - 1]!;
}

export type VoteOutcome = 'won' | 'lost' | 'pending';

/** Tally votes among `voters`: won once a majority granted, lost once a majority can no longer grant. */
export function tallyVotes(voters: readonly number[], votes: ReadonlyMap<number, boolean>): VoteOutcome {
  const need = majority(voters.length);
  let granted = 0;
  let rejected = 0;
  for (const id of voters) {
    const v = votes.get(id);
    if (v === true) granted++;
    else if (v === false) rejected++;
  }
  if (granted >= need) return 'won';
  if (voters.length - rejected < need) return 'lost';
  return 'pending';
}

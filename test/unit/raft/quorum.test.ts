/**
 * Quorum arithmetic (src/raft/quorum.ts) against brute-force definitions, with fast-check.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { majority, quorumValue, tallyVotes, type VoteOutcome } from '../../../src/raft/quorum.js';

// Fixed seed: the same cases on every run (fast-check prints the seed of any failure anyway).
fc.configureGlobal({ seed: 1717 });

/** The largest v such that at least a majority of `values` are >= v (brute force over candidates). */
function bruteQuorumValue(values: number[], empty: number): number {
  if (values.length === 0) return empty;
  const need = Math.floor(values.length / 2) + 1;
  let best = Number.NEGATIVE_INFINITY;
  for (const v of values) {
    if (values.filter((x) => x >= v).length >= need && v > best) best = v;
  }
  return best;
}

function bruteTally(voters: number[], votes: Map<number, boolean>): VoteOutcome {
  const granted = voters.filter((id) => votes.get(id) === true).length;
  const rejected = voters.filter((id) => votes.get(id) === false).length;
  // A majority granted: won. The voters that may still grant cannot reach a majority: lost.
  if (granted * 2 > voters.length) return 'won';
  if ((voters.length - rejected) * 2 <= voters.length) return 'lost';
  return 'pending';
}

const voterIds = fc.uniqueArray(fc.integer({ min: 1, max: 12 }), { minLength: 1, maxLength: 9 });
const voteMap = fc.array(fc.tuple(fc.integer({ min: 1, max: 14 }), fc.boolean()), { maxLength: 14 });

describe('majority', () => {
  it('is the smallest count strictly above half, for every group size', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 10_000 }), (n) => {
        const q = majority(n);
        expect(2 * q).toBeGreaterThan(n);
        expect(2 * (q - 1)).toBeLessThanOrEqual(n);
        // Any two majorities of the same group intersect.
        expect(2 * q - n).toBeGreaterThanOrEqual(1);
      }),
    );
    expect([1, 2, 3, 4, 5, 6, 7].map(majority)).toEqual([1, 2, 2, 3, 3, 4, 4]);
    expect(majority(0)).toBe(1);
  });

  it('rejects sizes that are not non-negative integers', () => {
    for (const bad of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY])
      expect(() => majority(bad)).toThrow(RangeError);
  });
});

describe('quorumValue', () => {
  it('equals the brute-force "largest value a majority has reached"', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: -5, max: 50 }), { maxLength: 11 }),
        fc.integer(),
        (values, empty) => {
          expect(quorumValue(values, empty)).toBe(bruteQuorumValue(values, empty));
        },
      ),
    );
  });

  it('does not depend on the order of the values and does not mutate them', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 100 }), { minLength: 1, maxLength: 9 }),
        fc.nat(),
        (values, k) => {
          const copy = values.slice();
          const rotated = [...values.slice(k % values.length), ...values.slice(0, k % values.length)];
          expect(quorumValue(values)).toBe(quorumValue(rotated));
          expect(quorumValue([...values].reverse())).toBe(quorumValue(values));
          expect(values).toEqual(copy);
        },
      ),
    );
  });

  it('is monotone: raising one member never lowers it, and it never exceeds what a majority has', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 100 }), { minLength: 1, maxLength: 9 }),
        fc.nat(),
        fc.integer({ min: 0, max: 50 }),
        (values, i, bump) => {
          const raised = values.slice();
          const k = i % values.length;
          raised[k] = raised[k]! + bump;
          expect(quorumValue(raised)).toBeGreaterThanOrEqual(quorumValue(values));
          const q = quorumValue(values);
          expect(values.filter((v) => v >= q).length).toBeGreaterThanOrEqual(majority(values.length));
          // ... and no larger value has a majority.
          expect(values.filter((v) => v >= q + 1).length).toBeLessThan(majority(values.length));
        },
      ),
    );
  });

  it('handles the commit cases of the paper: the median of 3 and of 5 match indexes', () => {
    expect(quorumValue([5, 3, 1])).toBe(3);
    expect(quorumValue([9, 9, 2, 2, 2])).toBe(2);
    expect(quorumValue([9, 9, 9, 2, 2])).toBe(9);
    expect(quorumValue([7, 1])).toBe(1);
    expect(quorumValue([], -1)).toBe(-1);
    expect(quorumValue([], Number.NEGATIVE_INFINITY)).toBe(Number.NEGATIVE_INFINITY);
  });
});

describe('tallyVotes', () => {
  it('agrees with the brute-force definition (votes from non-voters are ignored)', () => {
    fc.assert(
      fc.property(voterIds, voteMap, (voters, pairs) => {
        const votes = new Map(pairs);
        expect(tallyVotes(voters, votes)).toBe(bruteTally(voters, votes));
      }),
    );
  });

  it('is consistent and monotone: once won or lost, more votes never change the outcome', () => {
    fc.assert(
      fc.property(
        voterIds,
        fc.array(fc.tuple(fc.nat(), fc.boolean()), { maxLength: 20 }),
        (voters, arrivals) => {
          const votes = new Map<number, boolean>();
          let outcome = tallyVotes(voters, votes);
          expect(outcome).toBe('pending');
          for (const [pick, granted] of arrivals) {
            const id = voters[pick % voters.length]!;
            if (votes.has(id)) continue; // one vote per voter
            votes.set(id, granted);
            const next = tallyVotes(voters, votes);
            if (outcome !== 'pending') expect(next).toBe(outcome);
            outcome = next;
          }
          // When everyone voted, the election is decided.
          if (votes.size === voters.length) expect(outcome).not.toBe('pending');
          // Won and lost exclude each other: the granted and rejected sets cannot both be large enough.
          const granted = [...votes.values()].filter(Boolean).length;
          const rejected = votes.size - granted;
          expect(
            granted >= majority(voters.length) && voters.length - rejected < majority(voters.length),
          ).toBe(false);
        },
      ),
    );
  });

  it('a single voter wins on its own vote; a split 2-of-4 is still pending', () => {
    expect(tallyVotes([1], new Map([[1, true]]))).toBe('won');
    expect(tallyVotes([1], new Map([[1, false]]))).toBe('lost');
    expect(
      tallyVotes(
        [1, 2, 3, 4],
        new Map([
          [1, true],
          [2, true],
          [3, false],
        ]),
      ),
    ).toBe('pending');
    expect(
      tallyVotes(
        [1, 2, 3, 4],
        new Map([
          [1, true],
          [2, false],
          [3, false],
        ]),
      ),
    ).toBe('lost');
    expect(
      tallyVotes(
        [1, 2, 3],
        new Map([
          [1, true],
          [9, true],
        ]),
      ),
    ).toBe('pending');
  });
});

import { randomInt } from 'node:crypto';
import { uniformInt } from 'pure-rand/distribution/uniformInt';
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';

/** A source of randomness, injected so that a seed reproduces every choice. */
export interface Random {
  /** A uniformly distributed integer in [0, bound). `bound` must be a positive integer. */
  int(bound: number): number;
}

/** Deterministic randomness from a seed (xoroshiro128+ from pure-rand). */
export function seededRandom(seed: number): Random {
  const rng = xoroshiro128plus(seed | 0);
  return {
    int(bound) {
      if (!Number.isInteger(bound) || bound <= 0)
        throw new RangeError(`random bound must be a positive integer, got ${bound}`);
      return uniformInt(rng, 0, bound - 1);
    },
  };
}

/** The daemon's randomness: the OS CSPRNG. */
export const systemRandom: Random = {
  int: (bound) => randomInt(0, bound),
};

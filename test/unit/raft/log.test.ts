/**
 * RaftLog (src/raft/log.ts) against a plain array model, over random operation sequences
 * (fast-check): append with truncation, findConflict, findConflictByTerm, stableTo, commitTo,
 * compact, restore, and every query after every step.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RaftLog } from '../../../src/raft/log.js';
import type { Entry } from '../../../src/raft/types.js';

// Fixed seed: the same cases on every run (fast-check prints the seed of any failure anyway).
fc.configureGlobal({ seed: 2929 });

const entry = (index: number, term: number, size = 0): Entry => ({
  index,
  term,
  type: 'normal',
  data: new Uint8Array(size),
});

/** The reference: a base (index, term) and the terms of the entries after it. */
class Model {
  base = 0;
  baseTerm = 0;
  terms: number[] = [];
  sizes: number[] = [];
  persisted = 0;
  committed = 0;
  applied = 0;

  last(): number {
    return this.base + this.terms.length;
  }
  term(i: number): number | undefined {
    if (i === this.base) return this.baseTerm;
    if (i < this.base || i > this.last()) return undefined;
    return this.terms[i - this.base - 1];
  }
  lastTerm(): number {
    return this.terms.length > 0 ? this.terms.at(-1)! : this.baseTerm;
  }
}

type Op =
  | { op: 'append'; at: number; terms: number[]; sizes: number[]; anywhere: boolean }
  | { op: 'stable'; at: number; termDelta: number }
  | { op: 'commit'; at: number }
  | { op: 'apply'; at: number }
  | { op: 'compact'; at: number }
  | { op: 'restore'; ahead: number; term: number }
  | { op: 'conflict'; start: number; terms: number[] }
  | { op: 'conflictByTerm'; at: number; term: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    arbitrary: fc.record({
      op: fc.constant('append' as const),
      at: fc.nat(),
      terms: fc.array(fc.integer({ min: 1, max: 6 }), { minLength: 1, maxLength: 6 }),
      sizes: fc.array(fc.integer({ min: 0, max: 40 }), { minLength: 6, maxLength: 6 }),
      anywhere: fc.integer({ min: 0, max: 4 }).map((x) => x === 0),
    }),
    weight: 5,
  },
  {
    arbitrary: fc.record({
      op: fc.constant('stable' as const),
      at: fc.nat(),
      termDelta: fc.constantFrom(0, 0, 0, -1, 1),
    }),
    weight: 2,
  },
  { arbitrary: fc.record({ op: fc.constant('commit' as const), at: fc.nat() }), weight: 2 },
  { arbitrary: fc.record({ op: fc.constant('apply' as const), at: fc.nat() }), weight: 2 },
  { arbitrary: fc.record({ op: fc.constant('compact' as const), at: fc.nat() }), weight: 2 },
  {
    arbitrary: fc.record({
      op: fc.constant('restore' as const),
      ahead: fc.integer({ min: 1, max: 5 }),
      term: fc.integer({ min: 1, max: 8 }),
    }),
    weight: 1,
  },
  {
    arbitrary: fc.record({
      op: fc.constant('conflict' as const),
      start: fc.nat(),
      terms: fc.array(fc.integer({ min: 0, max: 6 }), { minLength: 0, maxLength: 5 }),
    }),
    weight: 2,
  },
  {
    arbitrary: fc.record({
      op: fc.constant('conflictByTerm' as const),
      at: fc.nat(),
      term: fc.integer({ min: 0, max: 7 }),
    }),
    weight: 2,
  },
);

function checkQueries(log: RaftLog, m: Model): void {
  // Build both views and compare once (many small expects would dominate the runtime).
  const view = (src: 'log' | 'model') => {
    const term = (i: number) => (src === 'log' ? log.term(i) : m.term(i));
    const out: unknown[] = [
      src === 'log' ? log.firstIndex() : m.base + 1,
      src === 'log' ? log.lastIndex() : m.last(),
      src === 'log' ? log.lastTerm() : m.lastTerm(),
      src === 'log' ? log.snapshotIndex() : m.base,
      src === 'log' ? log.snapshotTerm() : m.baseTerm,
      src === 'log' ? log.persistedIndex() : m.persisted,
      src === 'log' ? log.committed : m.committed,
      src === 'log' ? log.applied : m.applied,
      src === 'log'
        ? log.unstable().map((e) => e.index)
        : Array.from({ length: m.last() - m.persisted }, (_, k) => m.persisted + 1 + k),
    ];
    for (let i = Math.max(0, m.base - 2); i <= m.last() + 2; i++) {
      const e = src === 'log' ? log.entry(i) : undefined;
      const has = i > m.base && i <= m.last();
      out.push(
        i,
        term(i),
        src === 'log' ? (e ? `${e.index}/${e.term}` : null) : has ? `${i}/${m.term(i)}` : null,
        src === 'log' ? log.matchTerm(i, m.term(i) ?? -1) : m.term(i) !== undefined,
      );
    }
    return out;
  };
  expect(view('log')).toEqual(view('model'));
  // Index order that the core relies on.
  expect(m.base <= m.persisted && m.applied <= m.committed && m.committed <= m.last()).toBe(true);
}

function run(ops: Op[]): void {
  const log = new RaftLog({ baseIndex: 0, baseTerm: 0, entries: [], committed: 0 });
  const m = new Model();
  for (const o of ops) {
    switch (o.op) {
      case 'append': {
        // Mostly a valid start (after the commit index, at most last + 1); sometimes anywhere in
        // [base, last + 2], to exercise the refusals too.
        const low = Math.max(m.base, m.committed);
        const first = o.anywhere
          ? m.base + (o.at % (m.last() - m.base + 3))
          : low + 1 + (o.at % (m.last() - low + 1));
        const es = o.terms.map((t, k) => entry(first + k, t, o.sizes[k]));
        if (first <= m.base || first > m.last() + 1 || first <= m.committed) {
          expect(() => log.append(es)).toThrow();
          break;
        }
        const truncated = log.append(es);
        expect(truncated).toBe(first <= m.last() ? first : null);
        const keep = first - m.base - 1;
        m.terms = [...m.terms.slice(0, keep), ...o.terms];
        m.sizes = [...m.sizes.slice(0, keep), ...o.sizes.slice(0, o.terms.length)];
        m.persisted = Math.min(m.persisted, first - 1);
        break;
      }
      case 'stable': {
        // Usually the last index (the driver acknowledges whole Readies), sometimes any index.
        const idx = o.at % 3 === 0 ? m.persisted + (o.at % (m.last() - m.persisted + 2)) : m.last();
        const t = (m.term(idx) ?? 1) + o.termDelta;
        log.stableTo(idx, t);
        if (idx > m.persisted && m.term(idx) === t) m.persisted = idx;
        break;
      }
      case 'commit': {
        const idx = Math.max(0, m.committed - 1) + (o.at % (m.last() - m.committed + 3));
        if (idx > m.committed && idx > m.last()) {
          expect(() => log.commitTo(idx)).toThrow();
          break;
        }
        log.commitTo(idx);
        if (idx > m.committed) m.committed = idx;
        break;
      }
      case 'apply': {
        // The driver applies committed entries only after persisting them (Ready order), so
        // applied (and with it any compaction point) never passes the persisted index.
        const top = Math.max(m.applied, Math.min(m.committed, m.persisted));
        const idx = o.at % 2 === 0 ? top : m.applied + (o.at % (top - m.applied + 1));
        log.applied = idx;
        m.applied = idx;
        break;
      }
      case 'compact': {
        const idx = Math.max(0, m.base - 1) + (o.at % (m.applied - m.base + 3));
        if (idx <= m.base) {
          log.compact(idx);
          break;
        }
        if (idx > m.applied) {
          expect(() => log.compact(idx)).toThrow();
          break;
        }
        log.compact(idx);
        const drop = idx - m.base;
        m.baseTerm = m.term(idx)!;
        m.terms = m.terms.slice(drop);
        m.sizes = m.sizes.slice(drop);
        m.base = idx;
        break;
      }
      case 'restore': {
        // An installed snapshot is always ahead of the commit index.
        const idx = m.committed + o.ahead;
        log.restore(idx, o.term);
        m.base = idx;
        m.baseTerm = o.term;
        m.terms = [];
        m.sizes = [];
        m.persisted = idx;
        m.committed = idx;
        // restore() leaves applied to the driver, which restores the state machine next.
        expect(log.applied).toBeLessThan(idx);
        log.applied = idx;
        m.applied = idx;
        break;
      }
      case 'conflict': {
        const start = 1 + (o.start % (m.last() + 3));
        // Terms of 0 mean "use the term we have there" (a matching entry), others are as given.
        const incoming = o.terms.map((t, k) => entry(start + k, t === 0 ? (m.term(start + k) ?? 1) : t));
        let expected = 0;
        for (const e of incoming) {
          if (e.index <= m.base) continue;
          if (m.term(e.index) !== e.term) {
            expected = e.index;
            break;
          }
        }
        expect(log.findConflict(incoming)).toBe(expected);
        break;
      }
      case 'conflictByTerm': {
        const idx = o.at % (m.last() + 4);
        let want = { index: m.base, term: m.baseTerm };
        for (let i = Math.min(idx, m.last()); i > m.base; i--) {
          if (m.term(i)! <= o.term) {
            want = { index: i, term: m.term(i)! };
            break;
          }
        }
        expect(log.findConflictByTerm(idx, o.term)).toEqual(want);
        break;
      }
    }
    checkQueries(log, m);
  }
  // slice honours the byte budget and always returns at least one entry.
  if (m.last() > m.base) {
    const all = log.slice(m.base + 1, m.last());
    expect(all.map((e) => e.term)).toEqual(m.terms);
    for (const budget of [0, 30, 64, 200]) {
      const part = log.slice(m.base + 1, m.last(), budget);
      expect(part.length).toBeGreaterThanOrEqual(1);
      const cost = (es: Entry[]) => es.reduce((a, e) => a + e.data.byteLength + 24, 0);
      if (part.length > 1) expect(cost(part)).toBeLessThanOrEqual(budget);
      if (part.length < all.length) expect(cost(all.slice(0, part.length + 1))).toBeGreaterThan(budget);
    }
    expect(() => log.slice(m.base, m.last())).toThrow();
  }
}

describe('RaftLog against an array model', () => {
  it('agrees on every query after random appends, truncations, commits, compactions and restores', () => {
    fc.assert(
      fc.property(fc.array(opArb, { minLength: 20, maxLength: 80, size: 'max' }), (ops) => run(ops)),
      { numRuns: 200 },
    );
  });

  it('refuses to overwrite committed entries', () => {
    const log = new RaftLog({ baseIndex: 0, baseTerm: 0, entries: [entry(1, 1), entry(2, 1)], committed: 2 });
    expect(() => log.append([entry(2, 2)])).toThrow(/committed/);
    expect(() => log.append([entry(1, 2)])).toThrow(/committed/);
    expect(log.append([entry(3, 2)])).toBeNull();
    expect(log.term(2)).toBe(1);
  });

  it('recovers from a snapshot base plus entries, clamping the commit index to what it holds', () => {
    const log = new RaftLog({
      baseIndex: 10,
      baseTerm: 3,
      entries: [entry(11, 3), entry(12, 4)],
      committed: 99,
    });
    expect(log.committed).toBe(12);
    expect(log.applied).toBe(10);
    expect(log.persistedIndex()).toBe(12);
    expect(log.unstable()).toEqual([]);
    const low = new RaftLog({ baseIndex: 10, baseTerm: 3, entries: [], committed: 4 });
    expect(low.committed).toBe(10);
    expect(() => new RaftLog({ baseIndex: 10, baseTerm: 3, entries: [entry(12, 3)], committed: 0 })).toThrow(
      /contiguous/,
    );
  });

  it('stableTo ignores acknowledgements for entries that were replaced meanwhile', () => {
    const log = new RaftLog({ baseIndex: 0, baseTerm: 0, entries: [], committed: 0 });
    log.append([entry(1, 1), entry(2, 1), entry(3, 1)]);
    expect(log.persistedIndex()).toBe(0);
    // A new leader's entries replace 2..3 before the write of the old ones completes.
    log.append([entry(2, 2)]);
    log.stableTo(3, 1);
    expect(log.persistedIndex()).toBe(0);
    log.stableTo(1, 1);
    expect(log.persistedIndex()).toBe(1);
    log.stableTo(2, 2);
    expect(log.persistedIndex()).toBe(2);
    expect(log.unstable()).toEqual([]);
  });
});

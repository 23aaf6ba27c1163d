/**
 * The in-memory Raft log of one member: entries after a compaction point, what of them is
 * persisted, and what is committed and applied. Pure: the driver persists what `unstable()`
 * returns and reports back with `stableTo`.
 */
import type { Entry } from './types.js';

export class RaftLog {
  /** Index and term of the last entry folded into a snapshot (0, 0 when none). */
  private baseIndex: number;
  private baseTerm: number;
  /** entries[k] has index baseIndex + 1 + k. */
  private entries: Entry[];
  /** Highest index known to be durable and still present in this log. */
  private persisted: number;
  committed: number;
  applied: number;

  constructor(opts: { baseIndex: number; baseTerm: number; entries: Entry[]; committed: number }) {
    this.baseIndex = opts.baseIndex;
    this.baseTerm = opts.baseTerm;
    this.entries = opts.entries.slice();
    for (let k = 0; k < this.entries.length; k++) {
      if (this.entries[k]!.index !== this.baseIndex + 1 + k) {
        throw new Error(`log entries are not contiguous after index ${this.baseIndex}`);
      }
    }
    this.persisted = this.lastIndex();
    this.committed = Math.min(Math.max(opts.committed, this.baseIndex), this.lastIndex());
    this.applied = this.baseIndex;
  }

  firstIndex(): number {
    return this.baseIndex + 1;
  }

  lastIndex(): number {
    return this.baseIndex + this.entries.length;
  }

  lastTerm(): number {
    return this.entries.length > 0 ? this.entries[this.entries.length - 1]!.term : this.baseTerm;
  }

  snapshotIndex(): number {
    return this.baseIndex;
  }

  snapshotTerm(): number {
    return this.baseTerm;
  }

  persistedIndex(): number {
    return this.persisted;
  }

  /** The term of the entry at `index`, or undefined when it is compacted away or beyond the end. */
  term(index: number): number | undefined {
    if (index === this.baseIndex) return this.baseTerm;
    if (index < this.baseIndex || index > this.lastIndex()) return undefined;
    return this.entries[index - this.baseIndex - 1]!.term;
  }

  entry(index: number): Entry | undefined {
    if (index <= this.baseIndex || index > this.lastIndex()) return undefined;
    return this.entries[index - this.baseIndex - 1];
  }

  matchTerm(index: number, term: number): boolean {
    return this.term(index) === term;
  }

  /** Raft's "at least as up-to-date" rule (§5.4.1). */
  isUpToDate(lastIndex: number, lastTerm: number): boolean {
    const myTerm = this.lastTerm();
    return lastTerm > myTerm || (lastTerm === myTerm && lastIndex >= this.lastIndex());
  }

  /** Entries in [lo, hi], stopping once `maxBytes` of payload is reached (always at least one). */
  slice(lo: number, hi: number, maxBytes = Number.POSITIVE_INFINITY): Entry[] {
    if (lo <= this.baseIndex)
      throw new Error(`entries at ${lo} are compacted (log starts after ${this.baseIndex})`);
    const out: Entry[] = [];
    let bytes = 0;
    for (let i = lo; i <= Math.min(hi, this.lastIndex()); i++) {
      const e = this.entries[i - this.baseIndex - 1]!;
      bytes += e.data.byteLength + 24;
      if (out.length > 0 && bytes > maxBytes) break;
      out.push(e);
    }
    return out;
  }

  /** Entries not yet persisted, in order. */
  unstable(): Entry[] {
    return this.entries.slice(this.persisted - this.baseIndex);
  }

  /**
   * Append entries, truncating any conflicting suffix first. The first entry's index must be at
   * most lastIndex + 1 and after the compaction point. Returns the index truncated from, if any.
   */
  append(newEntries: readonly Entry[]): number | null {
    if (newEntries.length === 0) return null;
    const first = newEntries[0]!.index;
    if (first <= this.baseIndex || first > this.lastIndex() + 1) {
      throw new Error(`cannot append at ${first}: log covers ${this.baseIndex + 1}..${this.lastIndex()}`);
    }
    if (first <= this.committed)
      throw new Error(`refusing to overwrite committed entry ${first} (committed ${this.committed})`);
    let truncatedAt: number | null = null;
    if (first <= this.lastIndex()) {
      truncatedAt = first;
      this.entries.length = first - this.baseIndex - 1;
    }
    for (const e of newEntries) this.entries.push(e);
    this.persisted = Math.min(this.persisted, first - 1);
    return truncatedAt;
  }

  /**
   * The first index among `incoming` whose term differs from ours, or whose index is beyond our
   * last; 0 when every incoming entry is already present.
   */
  findConflict(incoming: readonly Entry[]): number {
    for (const e of incoming) {
      if (e.index <= this.baseIndex) continue;
      if (!this.matchTerm(e.index, e.term)) return e.index;
    }
    return 0;
  }

  /**
   * For fast backtracking: the largest index <= `index` whose term is <= `term`, with its term.
   * Entries compacted away are treated as matching (the base is committed).
   */
  findConflictByTerm(index: number, term: number): { index: number; term: number } {
    let i = Math.min(index, this.lastIndex());
    while (i > this.baseIndex) {
      const t = this.term(i)!;
      if (t <= term) return { index: i, term: t };
      i--;
    }
    return { index: this.baseIndex, term: this.baseTerm };
  }

  /** Mark entries through (index, term) durable, unless they were replaced meanwhile. */
  stableTo(index: number, term: number): void {
    if (index > this.persisted && this.term(index) === term) this.persisted = index;
  }

  commitTo(index: number): void {
    if (index > this.committed) {
      if (index > this.lastIndex()) throw new Error(`commit ${index} beyond last index ${this.lastIndex()}`);
      this.committed = index;
    }
  }

  /** Replace the whole log with a snapshot's base (an installed snapshot). */
  restore(index: number, term: number): void {
    this.baseIndex = index;
    this.baseTerm = term;
    this.entries = [];
    this.persisted = index;
    this.committed = index;
  }

  /** Drop entries at or below `index` (which must be applied). */
  compact(index: number): void {
    if (index <= this.baseIndex) return;
    if (index > this.applied) throw new Error(`cannot compact to ${index}: only ${this.applied} applied`);
    const term = this.term(index)!;
    this.entries = this.entries.slice(index - this.baseIndex);
    this.baseIndex = index;
    this.baseTerm = term;
  }
}

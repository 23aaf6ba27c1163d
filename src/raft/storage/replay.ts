import type { Entry, HardState } from '../types.js';
import type { LogRecord } from './codec.js';

/**
 * Rebuilds the log from decoded frames, in order. Pure: throws a plain Error (the caller names the
 * file and offset) when a frame does not fit the log built so far.
 */
export class LogReplay {
  /**
   * The log holds entries baseIndex+1 .. lastIndex; (baseIndex, baseTerm) is the entry before.
   * baseTerm is -1 when unknown (see `soft`).
   */
  baseIndex = 0;
  baseTerm = 0;
  entries: Entry[] = [];
  hardState: HardState | null = null;
  private started = false;
  /**
   * The base came from the segment-start item of the first segment replayed: older segments were
   * deleted because a snapshot covers them. Entries at or below such a base may still follow (they
   * rewrite history whose first version was in a deleted segment); each lowers the base, whose
   * term is then unknown. A base set by a reset item (or the very start of the log) is firm.
   */
  private soft = false;

  get lastIndex(): number {
    return this.baseIndex + this.entries.length;
  }

  get lastTerm(): number {
    return this.entries.length === 0 ? this.baseTerm : this.entries[this.entries.length - 1]!.term;
  }

  /** The term of the entry at `index`, or undefined when the log does not cover it. */
  termAt(index: number): number | undefined {
    if (index === this.baseIndex) return this.baseTerm < 0 ? undefined : this.baseTerm;
    if (index < this.baseIndex || index > this.lastIndex) return undefined;
    return this.entries[index - this.baseIndex - 1]!.term;
  }

  /**
   * Apply one frame. `segmentFirst` is true for the first frame of a segment: its segment-start
   * item either sets the base (the very first frame replayed: older segments were deleted) or must
   * match the log built from the previous segments.
   */
  apply(record: LogRecord, segmentFirst: boolean): void {
    if (record.segmentStart && segmentFirst) {
      const { prevIndex, prevTerm } = record.segmentStart;
      if (!this.started) {
        this.baseIndex = prevIndex;
        this.baseTerm = prevTerm;
        this.soft = prevIndex > 0;
      } else if (prevIndex !== this.lastIndex || prevTerm !== this.lastTerm) {
        throw new Error(
          `segment starts after (index ${prevIndex}, term ${prevTerm}) but the previous segments end at ` +
            `(index ${this.lastIndex}, term ${this.lastTerm}): a segment is missing or damaged`,
        );
      }
    }
    this.started = true;
    if (record.reset) {
      this.baseIndex = record.reset.index;
      this.baseTerm = record.reset.term;
      this.entries = [];
      this.soft = false;
    }
    for (const entry of record.entries) {
      if (this.soft && entry.index >= 1 && entry.index <= this.baseIndex) {
        this.baseIndex = entry.index - 1;
        this.baseTerm = -1;
        this.entries = [];
      }
      if (entry.index <= this.baseIndex || entry.index > this.lastIndex + 1) {
        throw new Error(
          `entry ${entry.index} does not fit a log holding ${this.baseIndex + 1}..${this.lastIndex}`,
        );
      }
      this.entries.length = entry.index - this.baseIndex - 1;
      this.entries.push(entry);
    }
    if (record.hardState) this.hardState = record.hardState;
  }
}

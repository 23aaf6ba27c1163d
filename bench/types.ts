/**
 * The contract between the benchmark runner (bench/run.ts) and each benchmark module.
 */

/** One figure of a result row. Numbers carry their unit in the key name (`p50_ms`, `commits_per_s`). */
export type Figure = string | number | boolean | null;

/** One result row. `system` is `raftinel` or the peer measured for comparison (e.g. `redis-sentinel`). */
export interface BenchRow {
  system: string;
  [key: string]: Figure;
}

export interface BenchOptions {
  /** `--quick`: shorter measurements (about 1 s each instead of about 5 s). */
  quick: boolean;
  /** `--duration-ms N`: the length of each measurement, overriding the default and `--quick`. */
  durationMs: number | null;
  /** Progress for humans (goes to stderr; never mixed into the JSON on stdout). */
  progress(message: string): void;
}

export interface Benchmark {
  /** Unique, lowercase, used on the command line: `npm run bench -- NAME`. */
  name: string;
  /** One line, shown by `--help` and `--list`. */
  description: string;
  /**
   * Columns of the human-readable table, in order (default: every key of every row). `--json`
   * always prints every key.
   */
  columns?: readonly string[];
  /** Run the benchmark, yielding each result row as soon as it is measured; clean up in `finally`. */
  run(opts: BenchOptions): AsyncIterable<BenchRow>;
}

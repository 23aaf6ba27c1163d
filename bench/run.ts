/**
 * The benchmark runner: `npm run bench -- [NAME...] [--json] [--quick] [--duration-ms N] [--list]`.
 *
 * With no NAME every registered benchmark runs, in registry order. An unknown NAME is an error
 * that lists the known ones (exit 2). Results and how they were obtained go in docs/BENCHMARKS.md.
 *
 * Output. The environment (date, node, CPUs, kernel, load average, git commit) is printed once,
 * first. Then, per benchmark, a table (human) or one JSON object per line (`--json`), each row
 * with `bench`, `system` (`raftinel`, or the peer measured for comparison, e.g.
 * `redis-sentinel`) and its figures, units in the key names (`commits_per_s`, `p50_ms`). The
 * environment is the JSON line with `bench: "env"`. Progress goes to stderr. The runner adds to
 * every row how busy the machine was while that row was measured: `cpu_self_pct` (this process,
 * % of one core), `cpu_other_cores` (everything else) and `loaded` (true when everything else kept
 * more than 0.25 cores busy: other engineers' test runs share the 2-core machine; treat such rows
 * as noisy).
 *
 * Adding a benchmark (election, failover, sentinel, partition, ...):
 * 1. Write bench/NAME.ts whose default export is a `Benchmark` (bench/types.ts):
 *    `{ name, description, columns?, run(opts) }`, where `run` is an async generator yielding one
 *    `BenchRow` (`{ system, ...figures }`) per measurement and cleaning up (processes, temp dirs)
 *    in `finally`. Honour `opts.quick` (about 1 s per measurement) and `opts.durationMs`.
 * 2. Import it below and append it to BENCHMARKS.
 * 3. Document it in docs/BENCHMARKS.md: the table, date, command, machine, load.
 */
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import election from './election.js';
import { cpuMeter, environment, round } from './env.js';
import failover from './failover.js';
import fence from './fence.js';
import partition from './partition.js';
import raft from './raft.js';
import sentinel from './sentinel.js';
import type { Benchmark, BenchRow, Figure } from './types.js';

/** The registry: every benchmark, in the order a bare `npm run bench` runs them. */
export const BENCHMARKS: readonly Benchmark[] = [raft, partition, fence, election, failover, sentinel];

/** Where the runner writes. `out` is stdout (results), `err` stderr (progress, errors). */
export interface RunnerIO {
  out(text: string): void;
  err(text: string): void;
}

const stdio: RunnerIO = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
};

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n <= 0) throw new InvalidArgumentError('must be a positive integer');
  return n;
}

/** Run the CLI with `argv` (the arguments after `bench/run.ts`); resolves to the exit code. */
export async function main(
  argv: string[],
  io: RunnerIO = stdio,
  registry: readonly Benchmark[] = BENCHMARKS,
): Promise<number> {
  const known = registry.map((b) => b.name).join(', ');
  const program = new Command('npm run bench --')
    .description('Run raftinel benchmarks. Record results in docs/BENCHMARKS.md.')
    .argument('[names...]', `benchmarks to run (default: all): ${known}`)
    .option('--json', 'one JSON object per line instead of tables')
    .option('--quick', 'short measurements (about 1 s each)')
    .option('--duration-ms <ms>', 'length of each measurement, overriding --quick', positiveInt)
    .option('--list', 'list the benchmarks and exit')
    .addHelpText(
      'after',
      `\nBenchmarks:\n${registry.map((b) => `  ${b.name}  ${b.description}`).join('\n')}\n`,
    )
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.out(s), writeErr: (s) => io.err(s) });
  try {
    program.parse(argv, { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
    throw err;
  }
  const opts = program.opts<{ json?: boolean; quick?: boolean; durationMs?: number; list?: boolean }>();
  const json = opts.json === true;

  if (opts.list) {
    for (const b of registry) io.out(`${b.name}\t${b.description}\n`);
    return 0;
  }

  const names = [...new Set(program.processedArgs[0] as string[])];
  const unknown = names.filter((n) => !registry.some((b) => b.name === n));
  if (unknown.length > 0) {
    const what = unknown.map((n) => `'${n}'`).join(', ');
    io.err(`bench: unknown benchmark ${what}; known benchmarks: ${known}\n`);
    return 2;
  }
  const selected = names.length === 0 ? registry : registry.filter((b) => names.includes(b.name));

  const env = environment();
  if (json) io.out(`${JSON.stringify({ bench: 'env', system: 'raftinel', ...env })}\n`);
  else io.out(`${describeEnv(env)}\n`);

  let failed = false;
  for (const bench of selected) {
    const rows: Record<string, Figure>[] = [];
    try {
      let meter = cpuMeter();
      for await (const row of bench.run({
        quick: opts.quick === true,
        durationMs: opts.durationMs ?? null,
        progress: (message) => io.err(`${message}\n`),
      })) {
        const full = { bench: bench.name, ...normalize(row), ...meter() };
        meter = cpuMeter();
        if (json) io.out(`${JSON.stringify(full)}\n`);
        else rows.push(full);
      }
    } catch (err) {
      failed = true;
      io.err(
        `bench: ${bench.name} failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
      );
    }
    if (!json && rows.length > 0)
      io.out(`\n${bench.name}: ${bench.description}\n${table(rows, bench.columns)}\n`);
    if (!json && rows.some((r) => r.loaded === true)) {
      io.out('loaded = other processes kept more than 0.25 CPU cores busy: those rows are noisy.\n');
    }
  }
  return failed ? 1 : 0;
}

function normalize(row: BenchRow): BenchRow {
  const out: BenchRow = { system: row.system };
  for (const [k, v] of Object.entries(row)) {
    out[k] = typeof v === 'number' && !Number.isInteger(v) ? (Number.isFinite(v) ? round(v) : null) : v;
  }
  return out;
}

function describeEnv(env: Record<string, Figure>): string {
  return (
    `environment: ${env.date}, node ${env.node}, ${env.cpus} × ${env.cpu_model}, ${env.mem_gib} GiB, ` +
    `${env.platform} ${env.kernel}, load average ${env.loadavg_1m} ${env.loadavg_5m} ${env.loadavg_15m}, ` +
    `git ${env.git}`
  );
}

function cell(v: Figure | undefined): string {
  if (v === undefined || v === null) return '-';
  if (typeof v === 'boolean') return v ? 'yes' : 'no';
  if (typeof v === 'number') {
    if (Number.isInteger(v)) return String(v);
    const abs = Math.abs(v);
    return v.toFixed(abs >= 100 ? 0 : abs >= 10 ? 1 : abs >= 1 ? 2 : 3);
  }
  return v;
}

/** A plain-text table; numbers right-aligned. */
export function table(rows: Record<string, Figure>[], columns?: readonly string[]): string {
  const cols = columns ? [...columns] : [...new Set(rows.flatMap((r) => Object.keys(r)))];
  const cells = rows.map((r) => cols.map((c) => cell(r[c])));
  const width = cols.map((c, i) => Math.max(c.length, ...cells.map((row) => row[i]!.length)));
  const numeric = cols.map((c) => rows.every((r) => typeof r[c] === 'number' || r[c] == null));
  const line = (values: string[]) =>
    values
      .map((v, i) => (numeric[i] ? v.padStart(width[i]!) : v.padEnd(width[i]!)))
      .join('  ')
      .trimEnd();
  return [line(cols), line(width.map((w) => '-'.repeat(w))), ...cells.map(line)].join('\n');
}

const invokedDirectly =
  process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (invokedDirectly) {
  // Exit (running the 'exit' hooks that remove temporary directories) on Ctrl-C, on SIGTERM and
  // when stdout is a pipe closed early (`npm run bench -- --json | head`).
  process.once('SIGINT', () => process.exit(130));
  process.once('SIGTERM', () => process.exit(143));
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(1);
    throw err;
  });
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      console.error(err);
      process.exitCode = 1;
    },
  );
}

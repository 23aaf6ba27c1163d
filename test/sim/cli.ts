/**
 * `npm run sim -- --seeds N [--from S] [--trace] [--jobs J]`: the deterministic simulation.
 * Prints one line per failing seed with the command that replays it, and a summary line:
 *   sim: seeds=N failed=F elections=E crashes=C partitions=P committed=K
 * Exits non-zero when any seed failed. Seeds run in forked workers (--jobs), each seed on its own.
 */
import { fork } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Command, InvalidArgumentError } from 'commander';
import { runSeed, type SeedResult } from './run.js';

function positiveInt(name: string, min: number) {
  return (v: string) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min)
      throw new InvalidArgumentError(`${name} must be an integer >= ${min}, got "${v}"`);
    return n;
  };
}

/** A forked worker: runs the seeds it is given and sends each result to the parent. */
async function workerMain(seeds: number[]): Promise<void> {
  for (const seed of seeds) {
    const r = await runSeed(seed);
    await new Promise<void>((resolve) => process.send!({ ...r, trace: [] }, () => resolve()));
  }
}

async function main(): Promise<void> {
  const program = new Command('sim')
    .description('deterministic Raft simulation')
    .option('--seeds <n>', 'number of seeds to run', positiveInt('--seeds', 1), 100)
    .option('--from <s>', 'first seed', positiveInt('--from', 0), 1)
    .option('--trace', 'print the trace of each seed (use with --seeds 1)')
    .option(
      '--jobs <j>',
      'parallel workers',
      positiveInt('--jobs', 1),
      Math.max(1, Math.min(availableParallelism(), 4)),
    )
    .parse(process.argv);
  const o = program.opts<{ seeds: number; from: number; trace?: boolean; jobs: number }>();
  const seeds = Array.from({ length: o.seeds }, (_, i) => o.from + i);
  const results: SeedResult[] = [];
  const started = performance.now();

  const report = (r: SeedResult) => {
    results.push(r);
    if (!r.ok) {
      console.log(`sim: seed ${r.seed} FAILED: ${r.failure}`);
      console.log(`sim:   replay: npm run sim -- --seeds 1 --from ${r.seed} --trace`);
    }
  };

  if (o.trace || o.jobs === 1 || seeds.length === 1) {
    for (const seed of seeds) {
      const r = await runSeed(seed, { trace: o.trace ?? false });
      if (o.trace) for (const line of r.trace) console.log(line);
      report(r);
    }
  } else {
    const jobs = Math.min(o.jobs, seeds.length);
    await Promise.all(
      Array.from({ length: jobs }, (_, j) => {
        const mine = seeds.filter((_, i) => i % jobs === j);
        return new Promise<void>((resolve, reject) => {
          const w = fork(fileURLToPath(import.meta.url), ['--worker', mine.join(',')], {
            execArgv: ['--import', 'tsx'],
          });
          w.on('message', (r: SeedResult) => report(r));
          w.on('error', reject);
          w.on('exit', (code) =>
            code === 0 ? resolve() : reject(new Error(`sim worker exited with code ${code}`)),
          );
        });
      }),
    );
  }

  const sum = (k: keyof SeedResult) => results.reduce((a, r) => a + (r[k] as number), 0);
  const failed = results.filter((r) => !r.ok).length;
  const secs = ((performance.now() - started) / 1000).toFixed(1);
  console.log(
    `sim: ${results.length} seeds in ${secs} s; acked=${sum('acked')} config_changes=${sum('configChanges')} transfers=${sum('transfers')} virtual_s=${(sum('virtualMs') / 1000).toFixed(0)}`,
  );
  console.log(
    `sim: seeds=${results.length} failed=${failed} elections=${sum('elections')} crashes=${sum('crashes')} partitions=${sum('partitions')} committed=${sum('committed')}`,
  );
  process.exitCode = failed > 0 ? 1 : 0;
}

const workerAt = process.argv.indexOf('--worker');
if (workerAt < 0) {
  main().catch((err) => {
    console.error(err);
    process.exit(2);
  });
} else {
  workerMain((process.argv[workerAt + 1] ?? '').split(',').filter(Boolean).map(Number)).then(
    () => process.exit(0),
    (err) => {
      console.error(err);
      process.exit(2);
    },
  );
}

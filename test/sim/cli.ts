/**
 * `npm run sim -- --seeds N [--from S] [--layer raft|system|all] [--trace] [--jobs J] [--no-wait-writes]`: the
 * deterministic simulations. `raft` (the default): the Raft group alone (run.ts); `system`: the
 * whole system, daemons, failover engine, fencer, a model of Redis and clients (system.ts); `all`:
 * both. Prints one line per failing seed with the command that replays it, and a summary line per
 * layer, the last one last:
 *   sim: seeds=N failed=F elections=E crashes=C partitions=P committed=K
 *   sim: layer=system seeds=N failed=F failovers=X switchovers=S fences=Z stalls=T partitions=P restarts=R acked=A lost=L
 * Exits non-zero when any seed failed. Seeds run in forked workers (--jobs), each seed on its own.
 */
import { fork } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Command, InvalidArgumentError } from 'commander';
import { runSeed, type SeedResult } from './run.js';
import { FAULT_KINDS, type FaultKind, runSystemSeed, type SystemSeedResult } from './system.js';

/** A system run of at least this many seeds must inject every kind of fault. */
const FAULT_COVERAGE_MIN_SEEDS = 100;

type Layer = 'raft' | 'system';
type AnyResult = (SeedResult | SystemSeedResult) & {
  seed: number;
  ok: boolean;
  failure: string | null;
  trace: string[];
};

function runLayerSeed(
  layer: Layer,
  seed: number,
  trace: boolean,
  waitWrites: boolean,
  log?: string,
): Promise<AnyResult> {
  return layer === 'system'
    ? runSystemSeed(seed, { trace, waitWrites, ...(log ? { log } : {}) })
    : runSeed(seed, { trace });
}

function positiveInt(name: string, min: number) {
  return (v: string) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min)
      throw new InvalidArgumentError(`${name} must be an integer >= ${min}, got "${v}"`);
    return n;
  };
}

/** A forked worker: runs the seeds it is given and sends each result to the parent. */
async function workerMain(layer: Layer, seeds: number[], waitWrites: boolean): Promise<void> {
  for (const seed of seeds) {
    const r = await runLayerSeed(layer, seed, false, waitWrites);
    await new Promise<void>((resolve) => process.send!({ ...r, trace: [] }, () => resolve()));
  }
}

async function main(): Promise<void> {
  const program = new Command('sim')
    .description('deterministic Raft simulation')
    .option('--seeds <n>', 'number of seeds to run', positiveInt('--seeds', 1), 100)
    .option('--from <s>', 'first seed', positiveInt('--from', 0), 1)
    .option('--trace', 'print the trace of each seed (use with --seeds 1)')
    .option('--log <level>', "system layer: the daemons' logs to stderr at this level (with --trace)")
    .option(
      '--no-wait-writes',
      'system layer: no WAIT 1 after every third write (replays seeds found before WAIT writes)',
    )
    .option(
      '--layer <layer>',
      'raft (default), system, or all',
      (v: string) => {
        if (v !== 'raft' && v !== 'system' && v !== 'all')
          throw new InvalidArgumentError(`--layer must be raft, system or all, got "${v}"`);
        return v;
      },
      'raft',
    )
    .option(
      '--jobs <j>',
      'parallel workers',
      positiveInt('--jobs', 1),
      Math.max(1, Math.min(availableParallelism(), 4)),
    )
    .parse(process.argv);
  const o = program.opts<{
    seeds: number;
    from: number;
    trace?: boolean;
    log?: string;
    jobs: number;
    layer: Layer | 'all';
    waitWrites: boolean;
  }>();
  const layers: Layer[] = o.layer === 'all' ? ['raft', 'system'] : [o.layer];
  let anyFailed = false;
  for (const layer of layers) anyFailed = (await runLayer(layer, o)) || anyFailed;
  process.exitCode = anyFailed ? 1 : 0;
}

/** Run the seeds of one layer; prints its summary; true when any seed failed. */
async function runLayer(
  layer: Layer,
  o: { seeds: number; from: number; trace?: boolean; log?: string; jobs: number; waitWrites: boolean },
): Promise<boolean> {
  const seeds = Array.from({ length: o.seeds }, (_, i) => o.from + i);
  const results: AnyResult[] = [];
  const started = performance.now();
  const flag = layer === 'raft' ? '' : ` --layer ${layer}${o.waitWrites ? '' : ' --no-wait-writes'}`;

  const report = (r: AnyResult) => {
    results.push(r);
    if (!r.ok) {
      console.log(`sim: ${layer === 'raft' ? '' : `layer=${layer} `}seed ${r.seed} FAILED: ${r.failure}`);
      console.log(`sim:   replay: npm run sim --${flag} --seeds 1 --from ${r.seed} --trace`);
    }
  };

  if (o.trace || o.jobs === 1 || seeds.length === 1) {
    for (const seed of seeds) {
      const r = await runLayerSeed(layer, seed, o.trace ?? false, o.waitWrites, o.log);
      if (o.trace) for (const line of r.trace) console.log(line);
      report(r);
    }
  } else {
    const jobs = Math.min(o.jobs, seeds.length);
    await Promise.all(
      Array.from({ length: jobs }, (_, j) => {
        const mine = seeds.filter((_, i) => i % jobs === j);
        return new Promise<void>((resolve, reject) => {
          const args = ['--worker', layer, mine.join(','), ...(o.waitWrites ? [] : ['--no-wait-writes'])];
          const w = fork(fileURLToPath(import.meta.url), args, {
            execArgv: ['--import', 'tsx'],
          });
          w.on('message', (r: AnyResult) => report(r));
          w.on('error', reject);
          w.on('exit', (code) =>
            code === 0 ? resolve() : reject(new Error(`sim worker exited with code ${code}`)),
          );
        });
      }),
    );
  }

  // A seed whose run never settles leaves nothing scheduled, and its process simply exits: every
  // seed must have a result.
  const have = new Set(results.map((r) => r.seed));
  const missing = seeds.filter((s) => !have.has(s));
  if (missing.length > 0) {
    console.log(
      `sim: ${layer === 'raft' ? '' : `layer=${layer} `}FAILED: no result for ${missing.length} seeds (a run that never settled stops its worker), first: ${missing.slice(0, 10).join(', ')}`,
    );
    console.log(`sim:   replay: npm run sim --${flag} --seeds 1 --from ${missing[0]} --trace`);
  }
  const sum = (k: string) =>
    results.reduce((a, r) => a + Number((r as unknown as Record<string, number>)[k] ?? 0), 0);
  const failed = results.filter((r) => !r.ok).length;
  let anyMissing = false;
  const secs = ((performance.now() - started) / 1000).toFixed(1);
  if (layer === 'raft') {
    console.log(
      `sim: ${results.length} seeds in ${secs} s; acked=${sum('acked')} config_changes=${sum('configChanges')} transfers=${sum('transfers')} virtual_s=${(sum('virtualMs') / 1000).toFixed(0)}`,
    );
    console.log(
      `sim: seeds=${results.length} failed=${failed} elections=${sum('elections')} crashes=${sum('crashes')} partitions=${sum('partitions')} committed=${sum('committed')}`,
    );
  } else {
    const faults = Object.fromEntries(FAULT_KINDS.map((k) => [k, 0])) as Record<FaultKind, number>;
    for (const r of results as SystemSeedResult[])
      for (const k of FAULT_KINDS) faults[k] += r.faults?.[k] ?? 0;
    console.log(`sim: layer=system faults ${FAULT_KINDS.map((k) => `${k}=${faults[k]}`).join(' ')}`);
    const missingKinds = FAULT_KINDS.filter((k) => faults[k] === 0);
    if (results.length >= FAULT_COVERAGE_MIN_SEEDS && missingKinds.length > 0) {
      console.log(
        `sim: layer=system FAILED: fault kinds never injected in ${results.length} seeds: ${missingKinds.join(', ')}`,
      );
      anyMissing = true;
    }
    console.log(
      `sim: layer=system ${results.length} seeds in ${secs} s; empty_source_resyncs_with_delay_0=${sum('emptySourceDelay0')} behind_source_resyncs_with_delay_0=${sum('behindSourceDelay0')} lost_in_declared_windows=${sum('lostInWindow')} lost_with_only_copy_crashed=${sum('lostWithCrash')} wait_confirmed=${sum('waitConfirmed')} wait_lost_declared=${sum('waitLostDeclared')} read_barriers=${sum('readBarriers')} operator_forced=${sum('operatorForced')} virtual_s=${(sum('virtualMs') / 1000).toFixed(0)}`,
    );
    console.log(
      `sim: layer=system seeds=${results.length} failed=${failed} failovers=${sum('failovers')} switchovers=${sum('switchovers')} fences=${sum('fences')} stalls=${sum('stalls')} partitions=${sum('partitions')} restarts=${sum('restarts')} acked=${sum('acked')} lost=${sum('lost')}`,
    );
  }
  return failed > 0 || anyMissing || missing.length > 0;
}

const workerAt = process.argv.indexOf('--worker');
if (workerAt < 0) {
  main().catch((err) => {
    console.error(err);
    process.exit(2);
  });
} else {
  workerMain(
    process.argv[workerAt + 1] === 'system' ? 'system' : 'raft',
    (process.argv[workerAt + 2] ?? '').split(',').filter(Boolean).map(Number),
    !process.argv.includes('--no-wait-writes'),
  ).then(
    () => process.exit(0),
    (err) => {
      console.error(err);
      process.exit(2);
    },
  );
}

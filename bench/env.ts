/**
 * Helpers shared by benchmarks: the machine description, which filesystem a path is on, how busy
 * the rest of the machine was during a measurement, and percentiles.
 */
import { type ExecFileSyncOptionsWithStringEncoding, execFileSync } from 'node:child_process';
import { readFileSync, realpathSync, rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Figure } from './types.js';

/** The repository root (bench/..). */
export const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));

/**
 * A measurement is flagged `loaded` when other processes kept, on average, more than this many
 * CPU cores busy while it ran (the machine has 2; other engineers' test runs share it).
 */
export const LOADED_OTHER_CORES = 0.25;

/** The machine and checkout, printed once per run (the JSON line with `bench: "env"`). */
export function environment(): Record<string, Figure> {
  const cpus = os.cpus();
  const [l1, l5, l15] = os.loadavg();
  return {
    date: new Date().toISOString(),
    node: process.version,
    platform: `${os.platform()} ${os.arch()}`,
    kernel: os.release(),
    cpus: cpus.length,
    cpu_model: cpus[0]?.model.trim() ?? 'unknown',
    mem_gib: round(os.totalmem() / 2 ** 30, 1),
    loadavg_1m: round(l1 ?? 0, 2),
    loadavg_5m: round(l5 ?? 0, 2),
    loadavg_15m: round(l15 ?? 0, 2),
    git: gitDescription(),
  };
}

function gitDescription(): string {
  try {
    const opts: ExecFileSyncOptionsWithStringEncoding = {
      cwd: REPO_ROOT,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    };
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], opts).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], opts).trim();
    return dirty ? `${head}+dirty` : head;
  } catch {
    return 'unknown';
  }
}

export interface MountInfo {
  device: string;
  mountPoint: string;
  fs: string;
}

/** The mount a path lives on (from /proc/mounts), or null when that cannot be told. */
export function mountOf(path: string): MountInfo | null {
  let text: string;
  let real: string;
  try {
    text = readFileSync('/proc/mounts', 'utf8');
    real = realpathSync(path);
  } catch {
    return null;
  }
  let best: MountInfo | null = null;
  for (const line of text.split('\n')) {
    const [device, rawMount, fs] = line.split(' ');
    if (!device || !rawMount || !fs) continue;
    const mountPoint = rawMount.replace(/\\040/g, ' ');
    const prefix = mountPoint.endsWith('/') ? mountPoint : `${mountPoint}/`;
    if (real !== mountPoint && !real.startsWith(prefix)) continue;
    // The longest mount point wins; among equal ones the last (it is mounted over the others).
    if (!best || mountPoint.length >= best.mountPoint.length) best = { device, mountPoint, fs };
  }
  return best;
}

export function isMemoryFs(fs: string | undefined): boolean {
  return fs === 'tmpfs' || fs === 'ramfs';
}

/** Busy and total CPU time of the whole machine, in seconds (Linux /proc/stat), or null. */
function machineCpu(): { busy: number; total: number } | null {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0] ?? '';
    const ticks = line.trim().split(/\s+/).slice(1, 9).map(Number);
    if (ticks.length < 5 || ticks.some((t) => !Number.isFinite(t))) return null;
    const total = ticks.reduce((a, b) => a + b, 0);
    const idle = (ticks[3] ?? 0) + (ticks[4] ?? 0); // idle + iowait
    const hz = 100; // USER_HZ: 100 on every Linux architecture Node supports
    return { busy: (total - idle) / hz, total: total / hz };
  } catch {
    return null;
  }
}

export interface CpuLoad {
  /** CPU time this process used, as a percentage of one core. */
  cpu_self_pct: number;
  /** Cores kept busy by everything else on the machine (other processes, the hypervisor's steal). */
  cpu_other_cores: number | null;
  /** Other processes used more than LOADED_OTHER_CORES cores: the figures may be noisy. */
  loaded: boolean | null;
}

/** Start measuring CPU use; the returned function ends the measurement. */
export function cpuMeter(): () => CpuLoad {
  const t0 = performance.now();
  const self0 = process.cpuUsage();
  const machine0 = machineCpu();
  return () => {
    const wallS = Math.max(1e-6, (performance.now() - t0) / 1000);
    const self = process.cpuUsage(self0);
    const selfS = (self.user + self.system) / 1e6;
    const machine1 = machineCpu();
    let other: number | null = null;
    if (machine0 && machine1) other = Math.max(0, (machine1.busy - machine0.busy - selfS) / wallS);
    return {
      cpu_self_pct: round((100 * selfS) / wallS, 0),
      cpu_other_cores: other === null ? null : round(other, 2),
      loaded: other === null ? null : other > LOADED_OTHER_CORES,
    };
  };
}

/** The p-th percentile (0..100, nearest rank) of ascending-sorted values; NaN when empty. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

export function round(value: number, digits = 3): number {
  if (!Number.isFinite(value)) return value;
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

const liveTempDirs = new Set<string>();
let exitHookInstalled = false;

/**
 * A fresh temporary directory under `base`, removed by `release()`, or when the process exits
 * without having released it (an uncaught error, a closed stdout pipe, or Ctrl-C: the runner turns
 * SIGINT and SIGTERM into an exit).
 */
export async function tempDir(
  base: string,
  prefix: string,
): Promise<{ path: string; release(): Promise<void> }> {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on('exit', () => {
      for (const dir of liveTempDirs) rmSync(dir, { recursive: true, force: true });
    });
  }
  const path = await mkdtemp(join(base, prefix));
  liveTempDirs.add(path);
  return {
    path,
    async release() {
      await rm(path, { recursive: true, force: true });
      liveTempDirs.delete(path);
    },
  };
}

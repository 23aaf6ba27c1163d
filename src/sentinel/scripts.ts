/**
 * Sentinel's notification and client-reconfig scripts: a queue of script runs with Sentinel's
 * semantics (src/sentinel.c, "script execution"):
 *   - a run is `path arg...`; at most SCRIPT_QUEUE_MAX runs wait (the oldest one not running is
 *     dropped when a new one would exceed it), at most SCRIPT_RUNNING_MAX run at once, oldest first;
 *   - a run that exits 1 or dies by a signal is retried, up to SCRIPT_RETRY_MAX attempts in all,
 *     after scriptRetryDelayMs, doubled for every further attempt (30 s, 60 s, 2 min, ...);
 *   - any other non-zero exit (2 when the script cannot be executed at all) ends it with a
 *     `-script-error <path> <signal> <exit code>` event; a run still going after
 *     scriptMaxRuntimeMs is killed (SIGKILL) with a `-script-timeout <path> <pid>` event, and so
 *     retried as one killed by a signal.
 *
 * Pure: time comes from the injected Clock, processes from the injected ScriptSpawner (the
 * daemon's spawns real processes; tests use a fake), events go to the injected publish.
 */
import type { Clock, TimerHandle } from '../util/clock.js';

/** Runs waiting or running, at most (Sentinel's SENTINEL_SCRIPT_MAX_QUEUE). */
export const SCRIPT_QUEUE_MAX = 256;
/** Runs at once, at most (SENTINEL_SCRIPT_MAX_RUNNING). */
export const SCRIPT_RUNNING_MAX = 16;
/** Attempts of one run, at most (SENTINEL_SCRIPT_MAX_RETRY). */
export const SCRIPT_RETRY_MAX = 10;
/** Arguments of a run after the path, at most (SENTINEL_SCRIPT_MAX_ARGS - 1). */
export const SCRIPT_ARGS_MAX = 15;
/** Sentinel's defaults, changed with SENTINEL DEBUG script-max-runtime / script-retry-delay. */
export const SCRIPT_MAX_RUNTIME_MS_DEFAULT = 60_000;
export const SCRIPT_RETRY_DELAY_MS_DEFAULT = 30_000;
/** How often the queue starts waiting runs and checks for runs past their time. */
export const SCRIPT_TICK_MS = 100;

/** A started script process. */
export interface ScriptChild {
  readonly pid: number;
  kill(): void;
}

/**
 * Starts `argv[0]` with the rest as arguments; calls `onExit` exactly once, with the exit code
 * (null when killed) and the signal number (0 when it exited). A script that cannot be executed
 * reports exit code 2, as Sentinel's child does when execve fails.
 */
export type ScriptSpawner = (
  argv: readonly string[],
  onExit: (exitCode: number | null, signal: number) => void,
) => ScriptChild;

interface Run {
  argv: string[];
  running: boolean;
  /** Attempts started so far. */
  attempts: number;
  /** When the running attempt started (nowMs), or when a retry may start. */
  atMs: number;
  child: ScriptChild | null;
  timedOut: boolean;
}

export interface PendingScript {
  argv: string[];
  flags: 'running' | 'scheduled';
  pid: number;
  /** Running: ms since it started; scheduled: ms until it may start. */
  runTimeMs?: number;
  runDelayMs?: number;
  retryNum: number;
}

export class ScriptQueue {
  private readonly runs: Run[] = [];
  private running = 0;
  private timer: TimerHandle | null = null;
  private closed = false;
  scriptMaxRuntimeMs = SCRIPT_MAX_RUNTIME_MS_DEFAULT;
  scriptRetryDelayMs = SCRIPT_RETRY_DELAY_MS_DEFAULT;

  constructor(
    private readonly o: {
      clock: Clock;
      spawn: ScriptSpawner;
      publish: (channel: string, message: string) => void;
    },
  ) {}

  /** Queue `path args...` (arguments past SCRIPT_ARGS_MAX are dropped, as Sentinel does). */
  schedule(path: string, ...args: string[]): void {
    if (this.closed) return;
    this.runs.push({
      argv: [path, ...args.slice(0, SCRIPT_ARGS_MAX)],
      running: false,
      attempts: 0,
      atMs: 0,
      child: null,
      timedOut: false,
    });
    if (this.runs.length > SCRIPT_QUEUE_MAX) {
      const oldest = this.runs.findIndex((r) => !r.running);
      if (oldest >= 0) this.runs.splice(oldest, 1);
    }
    if (this.runs.length > SCRIPT_QUEUE_MAX) throw new Error('script queue over its bound');
    this.tick();
  }

  /** SENTINEL PENDING-SCRIPTS. */
  pending(): PendingScript[] {
    const now = this.o.clock.nowMs();
    return this.runs.map((r) => ({
      argv: [...r.argv],
      flags: r.running ? 'running' : 'scheduled',
      pid: r.child?.pid ?? 0,
      ...(r.running
        ? { runTimeMs: Math.max(0, Math.round(now - r.atMs)) }
        : { runDelayMs: Math.max(0, Math.round(r.atMs - now)) }),
      retryNum: r.attempts,
    }));
  }

  /** Stop starting runs (the daemon is stopping); runs already started go on. */
  close(): void {
    this.closed = true;
    this.timer?.cancel();
    this.timer = null;
  }

  private tick(): void {
    if (this.closed) return;
    this.timer?.cancel();
    this.timer = null;
    const now = this.o.clock.nowMs();
    for (const r of this.runs) {
      if (!r.running || r.timedOut || now - r.atMs <= this.scriptMaxRuntimeMs) continue;
      r.timedOut = true;
      this.o.publish('-script-timeout', `${r.argv[0]} ${r.child?.pid ?? 0}`);
      r.child?.kill();
    }
    for (const r of this.runs) {
      if (this.running >= SCRIPT_RUNNING_MAX) break;
      if (r.running || r.atMs > now) continue;
      this.start(r, now);
    }
    if (this.runs.length > 0) this.timer = this.o.clock.setTimeout(() => this.tick(), SCRIPT_TICK_MS);
  }

  private start(r: Run, now: number): void {
    r.running = true;
    r.timedOut = false;
    r.atMs = now;
    r.attempts++;
    this.running++;
    let exited = false;
    const onExit = (code: number | null, signal: number) => {
      if (exited) return;
      exited = true;
      this.finished(r, code, signal);
    };
    try {
      r.child = this.o.spawn(r.argv, onExit);
    } catch {
      // Sentinel reports a failed fork as signal 99.
      onExit(null, 99);
    }
  }

  private finished(r: Run, code: number | null, signal: number): void {
    if (!r.running) throw new Error('a script run finished twice');
    r.running = false;
    r.child = null;
    this.running--;
    const exitCode = code ?? 0;
    const i = this.runs.indexOf(r);
    if ((signal !== 0 || exitCode === 1) && r.attempts < SCRIPT_RETRY_MAX) {
      r.atMs = this.o.clock.nowMs() + retryDelayMs(this.scriptRetryDelayMs, r.attempts);
    } else {
      if (signal !== 0 || exitCode !== 0)
        this.o.publish('-script-error', `${r.argv[0]} ${signal} ${exitCode}`);
      if (i >= 0) this.runs.splice(i, 1);
    }
    this.tick();
  }
}

/** The wait before attempt `attempts + 1`: the base delay, doubled for each attempt after the first. */
export function retryDelayMs(baseMs: number, attempts: number): number {
  return baseMs * 2 ** Math.max(0, attempts - 1);
}

/**
 * Helpers for the tests of run-node.sh and the demo: blocks of free ports for the
 * RAFTINEL_*_PORT_BASE overrides, and process clean-up that survives a failing test.
 */
import { type ChildProcess, execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { type NodePorts, PORT_BASE_ENV, processAlive, REPO_ROOT } from '../../../scripts/local-group.js';
import { freePort } from '../../support/ports.js';

export const HAS_REDIS = (() => {
  try {
    execFileSync('which', ['redis-server'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

export const RUN_NODE = path.join(REPO_ROOT, 'run-node.sh');
export const RAFTINEL_BIN = path.join(REPO_ROOT, 'bin', 'raftinel');

/** Whether nothing listens on 127.0.0.1:`port` (binding it succeeds). */
export function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.unref();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/**
 * Port bases for `nodes` nodes: for each of Redis, Sentinel, Raft and admin, a block of `nodes`
 * consecutive free ports starting at a kernel-picked free port (test/support/ports.ts), no two
 * blocks overlapping.
 */
export async function freePortBases(nodes: number): Promise<NodePorts> {
  const taken: number[] = [];
  const block = async (): Promise<number> => {
    for (let attempt = 0; attempt < 100; attempt++) {
      const base = await freePort();
      const ports = Array.from({ length: nodes }, (_, i) => base + i);
      if (ports.some((p) => p > 65535 || taken.includes(p))) continue;
      const free = await Promise.all(ports.slice(1).map(portFree));
      if (free.every(Boolean)) {
        taken.push(...ports);
        return base;
      }
    }
    throw new Error(`no block of ${nodes} free ports found`);
  };
  return { redis: await block(), sentinel: await block(), raft: await block(), admin: await block() };
}

/** The environment run-node.sh and the demo read, for these bases and data root. */
export function groupEnv(bases: NodePorts, data: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, RAFTINEL_DATA: data };
  for (const key of Object.keys(PORT_BASE_ENV) as (keyof NodePorts)[])
    env[PORT_BASE_ENV[key]] = String(bases[key]);
  return env;
}

/** Live (not zombie) processes whose process group is `pgid` (Linux /proc). */
export function groupMembers(pgid: number): number[] {
  const found: number[] = [];
  let entries: string[] = [];
  try {
    entries = readdirSync('/proc');
  } catch {
    return found;
  }
  for (const name of entries) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[2]) === pgid && fields[0] !== 'Z') found.push(Number(name));
    } catch {
      // The process went away while we looked.
    }
  }
  return found;
}

/** Live processes whose command line mentions `text` (e.g. a test's data directory). */
export function processesMentioning(text: string): number[] {
  const found: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${name}/cmdline`, 'utf8').includes(text) && processAlive(Number(name)))
        found.push(Number(name));
    } catch {
      // Gone.
    }
  }
  return found;
}

export function killGroup(pgid: number | undefined, signal: NodeJS.Signals = 'SIGKILL'): void {
  if (!pgid) return;
  try {
    process.kill(-pgid, signal);
  } catch {
    // Gone already.
  }
}

export function killPid(pid: number | null | undefined, signal: NodeJS.Signals = 'SIGKILL'): void {
  if (!pid) return;
  try {
    process.kill(pid, signal);
  } catch {
    // Gone already.
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `check` until it returns a value other than undefined/false, or throws after `ms`. */
export async function until<T>(
  what: string,
  ms: number,
  check: () => Promise<T | undefined | false> | T | undefined | false,
): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined && v !== false) return v as T;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out after ${ms} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await sleep(200);
  }
}

/** Resolves with the exit code and signal once `child` has exited (at once if it already has). */
export function exited(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null)
    return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
}

/** Collects a child's stdout and stderr into one string. */
export function capture(child: ChildProcess): { text: () => string } {
  let text = '';
  child.stdout?.on('data', (d: Buffer) => {
    text += d.toString();
  });
  child.stderr?.on('data', (d: Buffer) => {
    text += d.toString();
  });
  return { text: () => text };
}

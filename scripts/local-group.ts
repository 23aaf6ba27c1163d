/**
 * The layout of a local group as ./run-node.sh lays it out: ports and files of node N, with the
 * same environment overrides. Shared by scripts/demo.ts and the tests of both.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (this file is in scripts/). */
export const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url)).replace(/[/\\]$/, '');

export interface NodePorts {
  redis: number;
  sentinel: number;
  raft: number;
  admin: number;
}

/** Ports of node 1; node N adds N-1 to each. */
export const DEFAULT_PORT_BASES: Readonly<NodePorts> = {
  redis: 6379,
  sentinel: 26379,
  raft: 27379,
  admin: 28379,
};

/** The environment variable that overrides each base, as run-node.sh reads it. */
export const PORT_BASE_ENV: Readonly<Record<keyof NodePorts, string>> = {
  redis: 'RAFTINEL_REDIS_PORT_BASE',
  sentinel: 'RAFTINEL_SENTINEL_PORT_BASE',
  raft: 'RAFTINEL_RAFT_PORT_BASE',
  admin: 'RAFTINEL_ADMIN_PORT_BASE',
};

/** Port bases from the environment (defaults where unset); throws naming a bad value. */
export function portBases(env: NodeJS.ProcessEnv = process.env): NodePorts {
  const out = { ...DEFAULT_PORT_BASES };
  for (const key of Object.keys(PORT_BASE_ENV) as (keyof NodePorts)[]) {
    const name = PORT_BASE_ENV[key];
    const raw = env[name];
    if (raw === undefined || raw === '') continue;
    const n = Number(raw);
    if (!/^[1-9]\d{0,4}$/.test(raw) || n > 65535)
      throw new Error(`${name} must be a port number, got "${raw}"`);
    out[key] = n;
  }
  return out;
}

export function nodePorts(n: number, bases: NodePorts = portBases()): NodePorts {
  return {
    redis: bases.redis + n - 1,
    sentinel: bases.sentinel + n - 1,
    raft: bases.raft + n - 1,
    admin: bases.admin + n - 1,
  };
}

/** The data root: RAFTINEL_DATA (relative to `cwd`) or <repo>/data. */
export function dataRoot(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): string {
  const d = env.RAFTINEL_DATA;
  return d ? path.resolve(cwd, d) : path.join(REPO_ROOT, 'data');
}

export interface NodeFiles {
  dir: string;
  config: string;
  raftDir: string;
  redisDir: string;
  redisPidFile: string;
  redisLog: string;
  /** Where scripts/demo.ts sends the output of ./run-node.sh N. */
  daemonLog: string;
}

export function nodeFiles(root: string, n: number): NodeFiles {
  const dir = path.join(root, `node${n}`);
  const redisDir = path.join(dir, 'redis');
  return {
    dir,
    config: path.join(dir, 'node.toml'),
    raftDir: path.join(dir, 'raft'),
    redisDir,
    redisPidFile: path.join(redisDir, 'redis.pid'),
    redisLog: path.join(redisDir, 'redis.log'),
    daemonLog: path.join(dir, 'daemon.log'),
  };
}

/** Whether a process runs (Linux: an exited process nobody has reaped yet does not count). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  const stat = `/proc/${pid}/stat`;
  if (!existsSync(stat)) return process.platform !== 'linux';
  try {
    return !/\) Z /.test(readFileSync(stat, 'utf8'));
  } catch {
    return false;
  }
}

/** The pid in a Redis pid file, or null (no file, or garbage). */
export function readPidFile(file: string): number | null {
  try {
    const pid = Number(readFileSync(file, 'utf8').trim());
    return Number.isSafeInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

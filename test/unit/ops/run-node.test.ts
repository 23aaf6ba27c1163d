/**
 * ./run-node.sh: argument checks always; with redis-server installed, a real node 1 on ports
 * picked for the test (RAFTINEL_*_PORT_BASE) in a temporary RAFTINEL_DATA.
 */
import { type ChildProcess, execFile, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { nodeFiles, nodePorts, processAlive, REPO_ROOT, readPidFile } from '../../../scripts/local-group.js';
import { parseConfigText } from '../../../src/config/index.js';
import {
  capture,
  exited,
  freePortBases,
  groupEnv,
  HAS_REDIS,
  killGroup,
  killPid,
  portFree,
  RAFTINEL_BIN,
  RUN_NODE,
  until,
} from './support.js';

const execFileP = promisify(execFile);

function runSync(args: string[], env: NodeJS.ProcessEnv = process.env) {
  const r = spawnSync(RUN_NODE, args, { cwd: REPO_ROOT, env, encoding: 'utf8', timeout: 20_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('run-node.sh arguments', () => {
  it('is valid bash and executable', () => {
    expect(spawnSync('bash', ['-n', RUN_NODE]).status).toBe(0);
    expect(spawnSync('test', ['-x', RUN_NODE]).status).toBe(0);
  });

  it.each(['0', 'x', '-1', '1.5', '01', ''])('rejects N = "%s" with a clear message', (arg) => {
    const r = runSync([arg]);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain(`N must be a positive integer (the node id), got "${arg}"`);
    expect(r.stderr).toContain('usage: ./run-node.sh N');
    expect(r.stdout).toBe('');
  });

  it('prints the usage without an argument, or with two', () => {
    for (const args of [[], ['1', '2']]) {
      const r = runSync(args);
      expect(r.status).toBe(2);
      expect(r.stderr).toContain('usage: ./run-node.sh N');
    }
  });

  it('rejects a bad port base', () => {
    const r = runSync(['1'], { ...process.env, RAFTINEL_ADMIN_PORT_BASE: 'abc' });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('RAFTINEL_ADMIN_PORT_BASE must be a port number, got "abc"');
  });

  it('rejects a node whose ports would exceed 65535', () => {
    const r = runSync(['3'], { ...process.env, RAFTINEL_ADMIN_PORT_BASE: '65534' });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('above 65535');
  });
});

describe.skipIf(!HAS_REDIS)('run-node.sh with redis-server', () => {
  const cleanups: (() => void | Promise<void>)[] = [];
  afterEach(async () => {
    while (cleanups.length > 0) await cleanups.pop()!();
  });

  /** A temporary data root, and clean-up of whatever a node left in it. */
  function tempData(): string {
    const data = mkdtempSync(path.join(tmpdir(), 'raftinel-run-node-'));
    cleanups.push(() => {
      for (const n of [1, 2, 3]) killPid(readPidFile(nodeFiles(data, n).redisPidFile));
      rmSync(data, { recursive: true, force: true });
    });
    return data;
  }

  function start(env: NodeJS.ProcessEnv): { child: ChildProcess; output: () => string } {
    const child = spawn(RUN_NODE, ['1'], {
      cwd: REPO_ROOT,
      env,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    cleanups.push(() => killGroup(child.pid));
    return { child, output: capture(child).text };
  }

  it('starts node 1 and its Redis, answers raftinel status as the leader, and stops both', async () => {
    const bases = await freePortBases(1);
    const data = tempData();
    const ports = nodePorts(1, bases);
    const files = nodeFiles(data, 1);
    const { child, output } = start(groupEnv(bases, data));

    const status = await until('raftinel status to name node 1 the leader', 30_000, async () => {
      if (child.exitCode !== null) throw new Error(`run-node.sh exited ${child.exitCode}:\n${output()}`);
      const { stdout } = await execFileP(RAFTINEL_BIN, [
        'status',
        '--admin',
        `127.0.0.1:${ports.admin}`,
        '--json',
      ]);
      const s = JSON.parse(stdout) as { leader: number | null; members: { id: number; role: string }[] };
      return s.leader === 1 ? s : undefined;
    });
    expect(status.members).toEqual([expect.objectContaining({ id: 1, role: 'voter', reachable: true })]);

    // The addresses come first, before anything the daemon logs.
    const lines = output().split('\n');
    expect(lines[0]).toBe('raftinel node 1');
    expect(lines.slice(1, 5).map((l) => l.trim().split(/\s+/).slice(0, 2))).toEqual([
      ['Redis', `127.0.0.1:${ports.redis}`],
      ['Sentinel', `127.0.0.1:${ports.sentinel}`],
      ['Raft', `127.0.0.1:${ports.raft}`],
      ['admin', `127.0.0.1:${ports.admin}`],
    ]);

    // The generated config is one the daemon accepts, for this node's own Redis.
    const config = parseConfigText(readFileSync(files.config, 'utf8'), files.config);
    expect(config.nodeId).toBe(1);
    expect(config.raft.single).toBe(true);
    expect(config.dataDir).toBe(files.raftDir);
    expect(config.redis).toEqual([
      expect.objectContaining({ shard: 'mymaster', addr: `127.0.0.1:${ports.redis}` }),
    ]);
    expect(existsSync(path.join(files.redisDir, 'redis.conf'))).toBe(true);

    const redisPid = readPidFile(files.redisPidFile);
    expect(redisPid).not.toBeNull();
    expect(processAlive(redisPid!)).toBe(true);

    // run-node.sh exec'd the daemon: its pid is the daemon's, and SIGTERM stops it cleanly.
    child.kill('SIGTERM');
    expect(await exited(child)).toEqual({ code: 0, signal: null });
    await until('redis-server to stop after the daemon', 15_000, () => !processAlive(redisPid!));
    await until('the Redis port to close', 5_000, () => portFree(ports.redis));
  });

  it('refuses to start when one of its ports is taken, and starts no Redis', async () => {
    const bases = await freePortBases(1);
    const data = tempData();
    const ports = nodePorts(1, bases);
    const blocker: Server = createServer();
    await new Promise<void>((resolve) => blocker.listen(ports.admin, '127.0.0.1', resolve));
    cleanups.push(() => new Promise<void>((resolve) => blocker.close(() => resolve())));

    const { child, output } = start(groupEnv(bases, data));
    const { code } = await exited(child);
    expect(code).toBe(1);
    await until('stderr', 2_000, () => output().includes('already in use'));
    expect(output()).toContain(`admin port ${ports.admin}`);
    expect(existsSync(nodeFiles(data, 1).redisPidFile)).toBe(false);
    expect(await portFree(ports.redis)).toBe(true);
  });
});

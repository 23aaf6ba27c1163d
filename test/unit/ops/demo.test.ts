/**
 * scripts/demo.ts (`npm run demo`): its options and helpers always; with redis-server installed, a
 * real non-interactive run (`--for 8 --no-clear`) of three nodes on ports picked for the test,
 * which must reach 3 voters and leave no process behind.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseDemoArgs } from '../../../scripts/demo.js';
import {
  DEFAULT_PORT_BASES,
  dataRoot,
  nodeFiles,
  nodePorts,
  portBases,
  processAlive,
  REPO_ROOT,
  readPidFile,
} from '../../../scripts/local-group.js';
import { encodeCommand, parseReply, RespError } from '../../../scripts/resp-probe.js';
import {
  capture,
  exited,
  freePortBases,
  groupEnv,
  groupMembers,
  HAS_REDIS,
  killGroup,
  killPid,
  portFree,
  processesMentioning,
  until,
} from './support.js';

describe('demo options', () => {
  it('defaults to an interactive, redrawn view on a terminal', () => {
    expect(parseDemoArgs([], true)).toEqual({ forSeconds: undefined, clear: true });
    expect(parseDemoArgs([], false)).toEqual({ forSeconds: undefined, clear: false });
  });

  it('takes --for SECONDS and --no-clear', () => {
    expect(parseDemoArgs(['--for', '8', '--no-clear'], true)).toEqual({ forSeconds: 8, clear: false });
    expect(parseDemoArgs(['--for=2.5'], true)).toEqual({ forSeconds: 2.5, clear: true });
  });

  it('rejects a bad --for and unknown options', () => {
    expect(() => parseDemoArgs(['--for', '0'], true)).toThrow('--for expects a positive number of seconds');
    expect(() => parseDemoArgs(['--for', 'soon'], true)).toThrow('got "soon"');
    expect(() => parseDemoArgs(['--fast'], true)).toThrow(/--fast/);
  });

  it('has --help', () => {
    expect(parseDemoArgs(['--help'], true)).toEqual({ help: expect.stringContaining('--for SECONDS') });
  });
});

describe('local group layout (shared with run-node.sh)', () => {
  it('gives node N the ports 6379/26379/27379/28379 + N - 1 by default', () => {
    expect(portBases({})).toEqual(DEFAULT_PORT_BASES);
    expect(nodePorts(3, portBases({}))).toEqual({ redis: 6381, sentinel: 26381, raft: 27381, admin: 28381 });
  });

  it('reads the same environment overrides', () => {
    const env = { RAFTINEL_REDIS_PORT_BASE: '7000', RAFTINEL_ADMIN_PORT_BASE: '9000', RAFTINEL_DATA: 'x' };
    expect(portBases(env)).toEqual({ ...DEFAULT_PORT_BASES, redis: 7000, admin: 9000 });
    expect(() => portBases({ RAFTINEL_RAFT_PORT_BASE: '70000' })).toThrow('RAFTINEL_RAFT_PORT_BASE');
    expect(dataRoot(env, '/tmp/somewhere')).toBe('/tmp/somewhere/x');
    expect(dataRoot({})).toBe(path.join(REPO_ROOT, 'data'));
    expect(nodeFiles('/d', 2).redisPidFile).toBe('/d/node2/redis/redis.pid');
  });
});

describe('resp probe', () => {
  it('encodes a command and parses the replies it meets', () => {
    expect(encodeCommand(['ROLE']).toString()).toBe('*1\r\n$4\r\nROLE\r\n');
    const role = Buffer.from('*3\r\n$6\r\nmaster\r\n:0\r\n*0\r\n');
    expect(parseReply(role)).toEqual({ value: ['master', 0, []], end: role.length });
    expect(parseReply(Buffer.from('*2\r\n$9\r\n127.0.0.1\r\n$4\r\n6379\r\n'))?.value).toEqual([
      '127.0.0.1',
      '6379',
    ]);
    expect(parseReply(Buffer.from('$-1\r\n'))?.value).toBeNull();
    expect(parseReply(Buffer.from('-ERR no such master\r\n'))?.value).toEqual(
      new RespError('ERR no such master'),
    );
    expect(parseReply(Buffer.from('*2\r\n$9\r\n127.0'))).toBeNull();
  });
});

describe.skipIf(!HAS_REDIS)('npm run demo', () => {
  const cleanups: (() => void | Promise<void>)[] = [];
  afterEach(async () => {
    while (cleanups.length > 0) await cleanups.pop()!();
  });

  it('runs three nodes to 3 voters with --for 8 --no-clear, then stops everything it started', async () => {
    const bases = await freePortBases(3);
    const data = mkdtempSync(path.join(tmpdir(), 'raftinel-demo-'));
    const tsx = path.join(REPO_ROOT, 'node_modules', '.bin', 'tsx');
    const child = spawn(tsx, ['scripts/demo.ts', '--for', '8', '--no-clear'], {
      cwd: REPO_ROOT,
      env: groupEnv(bases, data),
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const output = capture(child).text;
    const pids = () => [...output().matchAll(/^[123] +(\d+) +running/gm)].map((m) => Number(m[1]));
    cleanups.push(() => {
      // Whatever happened: the demo, its nodes and their redis-servers go.
      killGroup(child.pid, 'SIGTERM');
      for (const pid of new Set(pids())) killGroup(pid);
      for (const n of [1, 2, 3]) killPid(readPidFile(nodeFiles(data, n).redisPidFile));
      for (const pid of processesMentioning(data)) killPid(pid);
      rmSync(data, { recursive: true, force: true });
    });

    const done = await Promise.race([
      exited(child),
      new Promise<never>((_, reject) =>
        setTimeout(() => reject(new Error(`the demo did not finish:\n${output()}`)), 100_000),
      ),
    ]);
    expect(done, output()).toEqual({ code: 0, signal: null });
    await until('the demo output to end', 5_000, () => output().includes('demo: stopped'));
    const text = output();
    expect(text).toMatch(/^group: 3 voters, leader node [123], term \d+$/m);
    expect(text).not.toContain('\x1b['); // --no-clear: plain appended frames
    for (const n of [1, 2, 3]) {
      expect(text).toMatch(new RegExp(`^${n} +\\d+ +running `, 'm'));
      expect(text).toContain(`127.0.0.1:${nodePorts(n, bases).raft}`);
    }

    // Nothing is left: no process in the nodes' groups, no redis-server, nothing using the data.
    const started = [...new Set(pids())];
    expect(started).toHaveLength(3);
    await until('every node process group to be empty', 10_000, () =>
      started.every((pid) => groupMembers(pid).length === 0),
    );
    for (const n of [1, 2, 3]) {
      const pid = readPidFile(nodeFiles(data, n).redisPidFile);
      if (pid !== null) expect(processAlive(pid)).toBe(false);
      const ports = nodePorts(n, bases);
      for (const port of [ports.redis, ports.raft, ports.admin]) expect(await portFree(port)).toBe(true);
    }
    await until(
      'no process to mention the data directory',
      5_000,
      () => processesMentioning(data).length === 0,
    );
  }, 150_000);
});

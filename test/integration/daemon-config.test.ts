/**
 * `raftinel start` refusing to start, end to end through bin/raftinel: configuration mistakes
 * (the parser has its own unit tests in test/unit/config; here the CLI's exit code and message),
 * and start-up problems found in the data_dir.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { cleanupAll, DaemonCluster, dumpLogsIfFailed, makeTempDir, runCli } from '../support/daemons.js';
import { freePorts } from '../support/ports.js';

let dir: string;
let base: string;

beforeAll(async () => {
  dir = makeTempDir('raftinel-config-');
  const [raft, sentinel, admin] = await freePorts(3);
  // A valid file: each case below adds or changes something.
  base = [
    'node_id = 1',
    'data_dir = "data"',
    '[raft]',
    `listen = "127.0.0.1:${raft}"`,
    'single = true',
    'heartbeat_ms = 50',
    'election_timeout_ms = 500',
    '[sentinel]',
    `listen = "127.0.0.1:${sentinel}"`,
    '[admin]',
    `listen = "127.0.0.1:${admin}"`,
    '[failover]',
    'down_after_ms = 2000',
    'lease_ms = 1000',
    '',
  ].join('\n');
});

afterEach(dumpLogsIfFailed);

afterAll(async () => {
  await cleanupAll();
});

/** Write `name` in the temp dir and run `raftinel start -c name ...flags` there. */
async function startWith(name: string, text: string | null, flags: string[] = []) {
  if (text !== null) writeFileSync(join(dir, name), text);
  return runCli(['start', '-c', name, ...flags], { cwd: dir, timeoutMs: 20_000 });
}

/** Expect a configuration error (exit 2) whose lines include every one of `lines`. */
function expectConfigError(r: { code: number | null; stdout: string; stderr: string }, ...lines: RegExp[]) {
  expect(r.code, r.stderr).toBe(2);
  expect(r.stderr).toMatch(/^raftinel: configuration error:/);
  for (const l of lines) expect(r.stderr).toMatch(l);
  // Nothing was started: no "raftinel started" line.
  expect(r.stdout).not.toContain('raftinel started');
}

describe('configuration mistakes', () => {
  it('a TOML syntax error names the file, line and column', async () => {
    const r = await startWith('syntax.toml', `${base}[raft\nlisten = 1\n`);
    const line = base.split('\n').length; // the line of "[raft"
    expectConfigError(r, new RegExp(`syntax\\.toml: line ${line}, column \\d+: invalid TOML: \\S`));
  });

  it('an unknown key is rejected with a suggestion, also a top-level key under a table', async () => {
    const text = base
      .replace('election_timeout_ms = 500', 'electon_timeout_ms = 500')
      .replace('[sentinel]', 'log_level = "debug"\n[sentinel]');
    const r = await startWith('unknown.toml', text);
    expectConfigError(
      r,
      /unknown\.toml: unknown key "raft\.electon_timeout_ms"; did you mean "raft\.election_timeout_ms"\?/,
      /unknown\.toml: unknown key "raft\.log_level"; did you mean "log_level" at the top level/,
    );
  });

  it('a wrong type names the key, what was expected and what was given', async () => {
    const r = await startWith('type.toml', base.replace('heartbeat_ms = 50', 'heartbeat_ms = "50"'));
    expectConfigError(r, /type\.toml: raft\.heartbeat_ms: expected a positive integer, got "50"/);
  });

  it('a bad address names the key and the problem', async () => {
    const text = `${base}[[redis]]\nshard = "mymaster"\naddr = "::1:6379"\n`;
    const r = await startWith('addr.toml', text);
    expectConfigError(r, /addr\.toml: redis\[0\]\.addr: expected host:port, got "::1:6379".*brackets/);
  });

  it('single with join, in the file and as flags', async () => {
    const r = await startWith(
      'both.toml',
      base.replace('single = true', 'single = true\njoin = ["127.0.0.1:1"]'),
    );
    expectConfigError(r, /both\.toml: raft\.join: cannot be used with raft\.single = true/);
    const f = await startWith('flags.toml', base, ['--single', '--join', '127.0.0.1:2']);
    expectConfigError(f, /command line: --single, --join: cannot be used together/);
    const noPort = await startWith('flags2.toml', base.replace('single = true', ''), ['--join', '10.0.0.1']);
    expectConfigError(
      noPort,
      /command line: --join \(raft\.join\): expected host:port, got "10\.0\.0\.1": no port/,
    );
  });

  it('an election timeout under five heartbeats is refused, naming both keys', async () => {
    const r = await startWith('timing.toml', base.replace('heartbeat_ms = 50', 'heartbeat_ms = 200'));
    expectConfigError(
      r,
      /timing\.toml: raft\.election_timeout_ms.*raft\.heartbeat_ms|raft\.heartbeat_ms.*raft\.election_timeout_ms/,
    );
  });

  it('a witness with [[redis]] entries is refused', async () => {
    const text = `${base.replace('single = true', 'role = "witness"\nsingle = true')}[[redis]]\nshard = "m"\naddr = "127.0.0.1:6379"\n`;
    const r = await startWith('witness.toml', text);
    expectConfigError(r, /witness\.toml: .*witness manages no Redis/);
  });

  it('the same Redis address twice is refused', async () => {
    const text = `${base}[[redis]]\nshard = "m"\naddr = "127.0.0.1:6380"\n[[redis]]\nshard = "n"\naddr = "127.0.0.1:6380"\n`;
    const r = await startWith('dup.toml', text);
    expectConfigError(r, /dup\.toml: redis\[1\]\.addr: "127\.0\.0\.1:6380" is already redis\[0\]\.addr/);
  });

  it('every problem is listed at once', async () => {
    const text = base
      .replace('heartbeat_ms = 50', 'heartbeat_ms = "50"')
      .replace('lease_ms = 1000', 'lease_ms = 1000\nlease_mss = 3');
    const r = await startWith('many.toml', text);
    expectConfigError(
      r,
      /raft\.heartbeat_ms: expected a positive integer/,
      /unknown key "failover\.lease_mss"/,
    );
  });

  it('a missing file is named', async () => {
    const r = await startWith('missing.toml', null);
    expectConfigError(r, /cannot read config file missing\.toml: no such file/);
  });

  it('an empty data_dir with neither single nor join: a clear start-up error, exit 2', async () => {
    const r = await startWith(
      'neither.toml',
      base.replace('single = true', '').replace('"data"', '"data-neither"'),
    );
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/data_dir .*data-neither holds no Raft state: start with --single .* or --join/);
  });
});

describe('the data_dir belongs to a running or another daemon', () => {
  let c: DaemonCluster;

  beforeAll(async () => {
    c = new DaemonCluster();
    await c.startGroup([1]);
    await c.define(2, { join: [1] });
  });

  it('refuses a data_dir locked by a running daemon, naming its pid', async () => {
    const n1 = c.node(1);
    // Node 2's config (its own ports) pointed at node 1's data_dir, as node 1.
    const r = await runCli(['start', '-c', c.node(2).configPath, '--data-dir', n1.dataDir, '--node-id', '1']);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toContain(`data_dir ${n1.dataDir} is locked by running process pid ${n1.proc!.pid}`);
    // The running daemon is unharmed.
    expect((await n1.status()).leader).toBe(1);
  });

  it('refuses a data_dir that belongs to another node id', async () => {
    const n1 = c.node(1);
    n1.kill('SIGTERM');
    expect(await n1.waitExit()).toEqual({ code: 0, signal: null });
    const r = await runCli(['start', '-c', n1.configPath, '--node-id', '5']);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/storage error: data_dir .* belongs to node 1, not node 5/);
    // Its rightful owner still starts from it.
    await n1.start();
    expect(n1.logs('raftinel started').at(-1)).toMatchObject({ mode: 'resume' });
  });

  it('a non-writable data_dir path is reported, not a crash', async () => {
    const blocker = join(c.dir, 'a-file');
    writeFileSync(blocker, 'not a directory');
    const r = await runCli([
      'start',
      '-c',
      c.node(2).configPath,
      '--data-dir',
      join(blocker, 'data'),
      '--single',
    ]);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toContain(`storage error: cannot create data_dir ${join(blocker, 'data')}`);
    expect(r.stderr).not.toMatch(/\n\s+at /); // a message, not a stack trace
  });
});

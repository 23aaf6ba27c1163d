import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  ConfigError,
  type ConfigFlags,
  configWarnings,
  defaultConfig,
  loadConfig,
  type NodeConfig,
  parseConfigText,
} from '../../../src/config/index.js';

const CWD = '/srv/raftinel';

function parse(text: string, flags?: ConfigFlags): NodeConfig {
  return parseConfigText(text, 'node.toml', { cwd: CWD, flags });
}

/** The ConfigError's lines for a config that must be rejected. */
function problems(text: string | null, flags?: ConfigFlags): string[] {
  try {
    if (text === null) loadConfig({ cwd: CWD, flags });
    else parse(text, flags);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    const e = err as ConfigError;
    expect(e.message.split('\n')).toEqual(e.problems.map((p) => p.text));
    return e.problems.map((p) => p.text);
  }
  throw new Error('expected a ConfigError');
}

/** A valid file with node_id, plus the given lines. */
const file = (...lines: string[]) => ['node_id = 1', ...lines].join('\n');

describe('defaults', () => {
  it('with no file and no flags: a one-node group managing 127.0.0.1:6379 as mymaster', () => {
    expect(loadConfig({ cwd: CWD })).toEqual({
      nodeId: 1,
      dataDir: '/srv/raftinel/raftinel-data',
      logLevel: 'info',
      raft: {
        listen: '127.0.0.1:27379',
        advertise: '127.0.0.1:27379',
        single: true,
        join: [],
        role: 'voter',
        heartbeatMs: 100,
        electionTimeoutMs: 1000,
        snapshotEveryEntries: 10_000,
      },
      sentinel: { listen: '127.0.0.1:26379', advertise: '127.0.0.1:26379', denyScriptsReconfig: true },
      admin: { listen: '127.0.0.1:28379' },
      failover: {
        downAfterMs: 3000,
        leaseMs: 2000,
        maxLagBytes: 1_048_576,
        switchoverPauseMs: 2000,
        failoverTimeoutMs: 180_000,
        quorum: 2,
        parallelSyncs: 1,
        minReplicasToWrite: 1,
        minReplicasMaxLagSeconds: 2,
        masterRebootDownAfterMs: 0,
        failoverParallelism: 4,
      },
      redis: [{ shard: 'mymaster', addr: '127.0.0.1:6379', role: 'replica', priority: 100 }],
    } satisfies NodeConfig);
    expect(defaultConfig(CWD)).toEqual(loadConfig({ cwd: CWD }));
    expect(configWarnings(defaultConfig(CWD))).toEqual([]);
  });

  it('with a file: no implicit single, no implicit Redis, defaults for every other key', () => {
    const c = parse('node_id = 3');
    expect(c.nodeId).toBe(3);
    expect(c.raft.single).toBe(false);
    expect(c.raft.join).toEqual([]);
    expect(c.redis).toEqual([]);
    expect(c.raft.heartbeatMs).toBe(100);
    expect(c.failover.downAfterMs).toBe(3000);
    expect(c.file).toBe('/srv/raftinel/node.toml');
    expect(c.sentinel.requirepass).toBeUndefined();
    expect(c.admin.token).toBeUndefined();
    expect(c.admin.metricsListen).toBeUndefined();
  });

  it('[[redis]] entries default to role replica, priority 100', () => {
    const c = parse(file('[[redis]]', 'shard = "cache"', 'addr = "10.0.0.5:6380"'));
    expect(c.redis).toEqual([{ shard: 'cache', addr: '10.0.0.5:6380', role: 'replica', priority: 100 }]);
  });

  it('keeps optional secrets and addresses when given', () => {
    const c = parse(
      file(
        '[sentinel]',
        'requirepass = "s3cret"',
        '[admin]',
        'token = "t0ken"',
        'metrics_listen = "0.0.0.0:9121"',
        '[[redis]]',
        'shard = "m"',
        'addr = "[::1]:6379"',
        'role = "observer"',
        'priority = 0',
        'username = "raftinel"',
        'password = "pw"',
      ),
    );
    expect(c.sentinel.requirepass).toBe('s3cret');
    expect(c.admin.token).toBe('t0ken');
    expect(c.admin.metricsListen).toBe('0.0.0.0:9121');
    expect(c.redis[0]).toEqual({
      shard: 'm',
      addr: '[::1]:6379',
      role: 'observer',
      priority: 0,
      username: 'raftinel',
      password: 'pw',
    });
  });
});

describe('paths', () => {
  it('resolves a relative data_dir against the config file directory', () => {
    const c = parseConfigText(file('data_dir = "data/node1"'), 'conf/node.toml', { cwd: CWD });
    expect(c.dataDir).toBe('/srv/raftinel/conf/data/node1');
    expect(c.file).toBe('/srv/raftinel/conf/node.toml');
  });

  it('[sentinel] scripts resolve against the config file directory and must be executable', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'raftinel-scripts-'));
    try {
      writeFileSync(path.join(dir, 'notify.sh'), '#!/bin/sh\n', { mode: 0o755 });
      writeFileSync(path.join(dir, 'plain.sh'), '#!/bin/sh\n', { mode: 0o644 });
      const c = parseConfigText(
        file('[sentinel]', 'notification_script = "notify.sh"', 'deny_scripts_reconfig = false'),
        path.join(dir, 'node.toml'),
        { cwd: CWD },
      );
      expect(c.sentinel).toMatchObject({
        notificationScript: path.join(dir, 'notify.sh'),
        denyScriptsReconfig: false,
      });
      expect(c.sentinel.clientReconfigScript).toBeUndefined();
      expect(parse(file()).sentinel.denyScriptsReconfig).toBe(true);
      let e: unknown = null;
      try {
        parseConfigText(
          file('[sentinel]', 'client_reconfig_script = "plain.sh"', 'notification_script = "none.sh"'),
          path.join(dir, 'node.toml'),
          { cwd: CWD },
        );
      } catch (err) {
        e = err;
      }
      expect(e).toBeInstanceOf(ConfigError);
      const texts = (e as ConfigError).problems.map((p) => p.text).join('\n');
      expect(texts).toContain(`${path.join(dir, 'plain.sh')} is not an executable file (EACCES)`);
      expect(texts).toContain(`${path.join(dir, 'none.sh')} is not an executable file (ENOENT)`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('keeps an absolute data_dir', () => {
    expect(parse(file('data_dir = "/var/lib/raftinel"')).dataDir).toBe('/var/lib/raftinel');
  });

  it('puts the default data_dir next to the config file', () => {
    expect(parseConfigText('node_id = 1', '/etc/raftinel/node.toml', { cwd: CWD }).dataDir).toBe(
      '/etc/raftinel/raftinel-data',
    );
  });

  it('resolves --data-dir against the working directory', () => {
    const c = parseConfigText(file('data_dir = "x"'), 'conf/node.toml', {
      cwd: CWD,
      flags: { dataDir: 'd' },
    });
    expect(c.dataDir).toBe('/srv/raftinel/d');
  });
});

describe('flags', () => {
  it('override the file', () => {
    const c = parse(file('log_level = "warn"', '[raft]', 'single = true'), {
      nodeId: 9,
      logLevel: 'debug',
      join: ['10.0.0.1:27379', '10.0.0.2:27379'],
    });
    expect(c.nodeId).toBe(9);
    expect(c.logLevel).toBe('debug');
    expect(c.raft.single).toBe(false);
    expect(c.raft.join).toEqual(['10.0.0.1:27379', '10.0.0.2:27379']);
  });

  it('--single replaces the file join list', () => {
    const c = parse(file('[raft]', 'join = ["10.0.0.1:27379"]'), { single: true });
    expect(c.raft.single).toBe(true);
    expect(c.raft.join).toEqual([]);
  });

  it('--join takes a comma list, and --node-id its text', () => {
    const c = loadConfig({ cwd: CWD, flags: { join: ['10.0.0.1:27379,10.0.0.2:27379'], nodeId: '2' } });
    expect(c.raft.join).toEqual(['10.0.0.1:27379', '10.0.0.2:27379']);
    expect(c.raft.single).toBe(false);
    expect(c.nodeId).toBe(2);
  });

  it('--single and --join together are an error', () => {
    expect(problems(null, { single: true, join: ['10.0.0.1:27379'] })).toEqual([
      'command line: --single, --join: cannot be used together: --single bootstraps a new group, --join joins an existing one',
    ]);
  });

  it('reports bad flag values naming the flag and the key', () => {
    expect(problems(null, { nodeId: 0, logLevel: 'verbose', join: 'nohost' })).toEqual([
      'command line: --node-id (node_id): expected a positive integer, got 0',
      'command line: --log-level (log_level): expected one of "trace", "debug", "info", "warn", "error" or "fatal", got "verbose"',
      'command line: --join (raft.join): expected host:port, got "nohost": no port',
    ]);
  });

  it('--join without a file needs --node-id', () => {
    expect(problems(null, { join: ['10.0.0.1:27379'] })).toEqual([
      expect.stringMatching(/^command line: --node-id \(node_id\): required with --join/),
    ]);
  });
});

describe('bootstrap choice', () => {
  it('allows neither single nor join in a file (a restart decides from data_dir)', () => {
    const c = parse('node_id = 2');
    expect([c.raft.single, c.raft.join]).toEqual([false, []]);
  });

  it('rejects single = true with a join list in the file', () => {
    expect(problems(file('[raft]', 'single = true', 'join = ["10.0.0.1:27379"]'))).toEqual([
      expect.stringMatching(/^node\.toml: raft\.join: cannot be used with raft\.single = true/),
    ]);
  });

  it('rejects a learner that bootstraps', () => {
    expect(problems(file('[raft]', 'single = true', 'role = "learner"'))).toEqual([
      expect.stringMatching(/^node\.toml: raft\.single: a learner cannot bootstrap a group/),
    ]);
  });

  it('rejects joining only through itself', () => {
    expect(problems(file('[raft]', 'join = ["127.0.0.1:27379"]'))).toEqual([
      expect.stringMatching(/^node\.toml: raft\.join: lists only this daemon's own address/),
    ]);
  });
});

describe('one test per kind of mistake', () => {
  it('TOML syntax error: file, line and column', () => {
    expect(problems('node_id = 1\n[raft]\nheartbeat_ms = = 5\n')).toEqual([
      expect.stringMatching(/^node\.toml: line 3, column \d+: invalid TOML: /),
    ]);
    expect(problems('node_id = 1\nnode_id = 2\n')).toEqual([
      expect.stringMatching(/^node\.toml: line 2, column 1: invalid TOML: .*already defined/),
    ]);
  });

  it('unknown key at the top level, with a suggestion', () => {
    expect(problems(file('log_levl = "info"'))).toEqual([
      'node.toml: unknown key "log_levl"; did you mean "log_level"?',
    ]);
  });

  it('unknown key in a table, with a suggestion', () => {
    expect(problems(file('[raft]', 'electon_timeout_ms = 1000'))).toEqual([
      'node.toml: unknown key "raft.electon_timeout_ms"; did you mean "raft.election_timeout_ms"?',
    ]);
    expect(problems(file('[failover]', 'down_after = 1'))).toEqual([
      'node.toml: unknown key "failover.down_after"; did you mean "failover.down_after_ms"?',
    ]);
  });

  it('unknown key in a [[redis]] entry, with a suggestion', () => {
    expect(
      problems(file('[[redis]]', 'shard = "a"', 'addr = "h:1"', '[[redis]]', 'shard = "b"', 'adr = "h:2"')),
    ).toEqual([
      'node.toml: redis[1].addr: missing (expected host:port)',
      'node.toml: unknown key "redis[1].adr"; did you mean "redis[1].addr"?',
    ]);
  });

  it('unknown table, and a key in the wrong table', () => {
    expect(problems(file('[sentinal]', 'listen = "127.0.0.1:26379"'))).toEqual([
      'node.toml: unknown key "sentinal"; did you mean "sentinel"?',
    ]);
    expect(problems('heartbeat_ms = 100\n[raft]\nnode_id = 1')).toEqual([
      'node.toml: unknown key "raft.node_id"; did you mean "node_id" at the top level, above the first [table]?',
      'node.toml: unknown key "heartbeat_ms"; did you mean "raft.heartbeat_ms"?',
      expect.stringMatching(/^node\.toml: node_id: missing/),
    ]);
  });

  it('unknown keys named like Object internals are reported, not obeyed', () => {
    expect(problems(file('__proto__ = { polluted = 1 }', '[raft]', 'constructor = 1'))).toEqual([
      'node.toml: unknown key "raft.constructor"',
      'node.toml: unknown key "__proto__"',
    ]);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('unknown key with nothing close: no suggestion', () => {
    expect(problems(file('[admin]', 'frobnicate = true'))).toEqual([
      'node.toml: unknown key "admin.frobnicate"',
    ]);
  });

  it('wrong type', () => {
    expect(problems(file('[raft]', 'heartbeat_ms = "100"'))).toEqual([
      'node.toml: raft.heartbeat_ms: expected a positive integer, got "100"',
    ]);
    expect(problems(file('[raft]', 'single = "yes"', 'heartbeat_ms = 100.0'))).toEqual([
      'node.toml: raft.single: expected true or false, got "yes"',
      'node.toml: raft.heartbeat_ms: expected a positive integer, got 100.0',
    ]);
    expect(problems(file('raft = 5', 'redis = { shard = "m" }'))).toEqual([
      'node.toml: raft: expected a table ([raft]), got 5',
      'node.toml: redis: expected an array of tables: write [[redis]], not [redis]',
    ]);
    expect(problems(file('[raft]', 'join = "10.0.0.1:27379"'))).toEqual([
      'node.toml: raft.join: expected an array of host:port strings, got "10.0.0.1:27379" (write ["10.0.0.1:27379"])',
    ]);
  });

  it('never echoes a secret', () => {
    const lines = problems(
      file('[admin]', 'token = 12345', '[[redis]]', 'shard = "m"', 'addr = "h:1"', 'password = ""'),
    );
    expect(lines).toEqual([
      'node.toml: admin.token: expected a non-empty string, got an integer',
      'node.toml: redis[0].password: expected a non-empty string, got ""',
    ]);
  });

  it('out of range', () => {
    expect(
      problems(
        file(
          'log_level = "verbose"',
          '[raft]',
          'role = "witnes"',
          'heartbeat_ms = 0',
          '[failover]',
          'failover_parallelism = 0',
          'down_after_ms = 3000000000',
          '[[redis]]',
          'shard = "m"',
          'addr = "h:1"',
          'priority = -1',
        ),
      ),
    ).toEqual([
      'node.toml: log_level: expected one of "trace", "debug", "info", "warn", "error" or "fatal", got "verbose"',
      'node.toml: raft.role: expected one of "voter", "learner" or "witness", got "witnes"; did you mean "witness"?',
      'node.toml: raft.heartbeat_ms: expected a positive integer, got 0',
      'node.toml: failover.down_after_ms: expected a positive integer no greater than 2147483647 (the longest timer Node.js supports), got 3000000000',
      'node.toml: failover.failover_parallelism: expected a positive integer, got 0',
      'node.toml: redis[0].priority: expected a non-negative integer, got -1',
    ]);
    expect(problems('node_id = 99999999999999999999999')).toEqual([
      'node.toml: node_id: expected a positive integer no greater than 2147483647, got 99999999999999999999999',
    ]);
    expect(problems('node_id = 9007199254740993')).toEqual([
      'node.toml: node_id: expected a positive integer no greater than 2147483647, got 9007199254740993',
    ]);
  });

  it('bad address', () => {
    expect(
      problems(file('[sentinel]', 'listen = "127.0.0.1:70000"', '[admin]', 'listen = "localhost"')),
    ).toEqual([
      'node.toml: sentinel.listen: expected host:port, got "127.0.0.1:70000": port 70000 is out of range (1 to 65535)',
      'node.toml: admin.listen: expected host:port, got "localhost": no port',
    ]);
  });

  it('bad IPv6 address', () => {
    expect(problems(file('[raft]', 'listen = "::1:27379"', 'advertise = "[::g]:27379"'))).toEqual([
      'node.toml: raft.listen: expected host:port, got "::1:27379": IPv6 addresses go in brackets: [::1]:27379',
      'node.toml: raft.advertise: expected host:port, got "[::g]:27379": "::g" is not an IPv6 address',
    ]);
    expect(parse(file('[raft]', 'listen = "[::1]:27379"')).raft.advertise).toBe('[::1]:27379');
  });

  it('wildcard advertise address', () => {
    expect(problems(file('[raft]', 'listen = "0.0.0.0:27379"'))).toEqual([
      expect.stringMatching(
        /^node\.toml: raft\.advertise: required because raft\.listen \("0\.0\.0\.0:27379"\) is a wildcard/,
      ),
    ]);
    expect(problems(file('[raft]', 'advertise = "[::]:27379"'))).toEqual([
      expect.stringMatching(/^node\.toml: raft\.advertise: "\[::\]:27379" is a wildcard address/),
    ]);
    const c = parse(
      file(
        '[raft]',
        'listen = "0.0.0.0:27379"',
        'advertise = "10.1.2.3:27379"',
        '[sentinel]',
        'listen = "0.0.0.0:26379"',
      ),
    );
    expect(c.raft.advertise).toBe('10.1.2.3:27379');
    expect(c.sentinel.advertise).toBe('10.1.2.3:26379');
  });

  it('duplicate [[redis]] addr', () => {
    expect(
      problems(
        file(
          '[[redis]]',
          'shard = "a"',
          'addr = "Redis-1:6379"',
          '[[redis]]',
          'shard = "b"',
          'addr = "redis-1:6379"',
        ),
      ),
    ).toEqual(['node.toml: redis[1].addr: "redis-1:6379" is already redis[0].addr; list each Redis once']);
  });

  it('a [[redis]] addr that is one of this daemon own ports', () => {
    expect(problems(file('[[redis]]', 'shard = "a"', 'addr = "127.0.0.1:26379"'))).toEqual([
      'node.toml: redis[0].addr: "127.0.0.1:26379" is this daemon\'s own sentinel.listen ("127.0.0.1:26379")',
    ]);
  });

  it('witness with [[redis]] entries', () => {
    expect(
      problems(file('[raft]', 'role = "witness"', '[[redis]]', 'shard = "m"', 'addr = "h:6379"')),
    ).toEqual([
      'node.toml: redis: a witness manages no Redis (raft.role = "witness"), but 1 [[redis]] entry is listed; remove it or change raft.role',
    ]);
    expect(parse(file('[raft]', 'role = "witness"')).redis).toEqual([]);
  });

  it('username without password', () => {
    expect(problems(file('[[redis]]', 'shard = "m"', 'addr = "h:6379"', 'username = "u"'))).toEqual([
      expect.stringMatching(/^node\.toml: redis\[0\]\.username: needs a password as well/),
    ]);
  });

  it('election timeout shorter than 5 heartbeats', () => {
    expect(
      problems(
        file('[raft]', 'heartbeat_ms = 100', 'election_timeout_ms = 400', '[failover]', 'lease_ms = 400'),
      ),
    ).toEqual([
      'node.toml: raft.election_timeout_ms: raft.election_timeout_ms (400) must be at least 5 × raft.heartbeat_ms (100) = 500: a follower that misses a few heartbeats (a lost packet, a pause) would start a needless election',
    ]);
    expect(
      parse(file('[raft]', 'heartbeat_ms = 20', 'election_timeout_ms = 100', '[failover]', 'lease_ms = 100'))
        .raft.electionTimeoutMs,
    ).toBe(100);
  });

  it('lease shorter than the election timeout', () => {
    expect(problems(file('[failover]', 'lease_ms = 500'))).toEqual([
      expect.stringMatching(
        /^node\.toml: failover\.lease_ms: failover\.lease_ms \(500\) must be at least raft\.election_timeout_ms \(1000, the default\): /,
      ),
    ]);
  });

  it('lease + election timeout longer than down_after_ms', () => {
    expect(problems(file('[failover]', 'down_after_ms = 2500'))).toEqual([
      'node.toml: failover.down_after_ms: failover.lease_ms (2000, the default) + raft.election_timeout_ms (1000, the default) = 3000 must be at most failover.down_after_ms (2500): a master cut off from the majority must be fenced before the majority can declare it down and promote another (lower lease_ms or election_timeout_ms, or raise down_after_ms)',
    ]);
    const fast = parse(
      file(
        '[raft]',
        'heartbeat_ms = 50',
        'election_timeout_ms = 300',
        '[failover]',
        'down_after_ms = 1000',
        'lease_ms = 600',
      ),
    );
    expect(fast.failover).toMatchObject({ downAfterMs: 1000, leaseMs: 600 });
  });

  it('the same listen address twice', () => {
    expect(problems(file('[admin]', 'listen = "127.0.0.1:26379"'))).toEqual([
      'node.toml: admin.listen: "127.0.0.1:26379" conflicts with sentinel.listen ("127.0.0.1:26379"): each service needs its own port',
    ]);
    expect(problems(file('[admin]', 'metrics_listen = "0.0.0.0:27379"'))).toEqual([
      'node.toml: admin.metrics_listen: "0.0.0.0:27379" conflicts with raft.listen ("127.0.0.1:27379"): each service needs its own port',
    ]);
  });

  it('missing file', () => {
    expect(() => loadConfig({ file: 'node.toml', cwd: '/nonexistent-dir' })).toThrow(
      new ConfigError([{ source: 'node.toml', text: 'cannot read config file node.toml: no such file' }]),
    );
    try {
      loadConfig({ file: 'node.toml', cwd: '/nonexistent-dir' });
    } catch (err) {
      expect((err as Error).message).toBe('cannot read config file node.toml: no such file');
    }
  });

  it('empty, spaced and overlong shard names', () => {
    expect(
      problems(
        file(
          '[[redis]]',
          'shard = ""',
          'addr = "h:1"',
          '[[redis]]',
          'shard = "my master"',
          'addr = "h:2"',
          '[[redis]]',
          `shard = "${'x'.repeat(129)}"`,
          'addr = "h:3"',
          '[[redis]]',
          'shard = "a\\tb"',
          'addr = "h:4"',
        ),
      ),
    ).toEqual([
      'node.toml: redis[0].shard: must not be empty: it is the master name clients ask for',
      'node.toml: redis[1].shard: must not contain spaces, got "my master"',
      'node.toml: redis[2].shard: is 129 characters long; at most 128 are allowed',
      'node.toml: redis[3].shard: must not contain control characters, got "a\\tb"',
    ]);
  });

  it('missing required keys', () => {
    expect(problems('[[redis]]\naddr = "h:1"')).toEqual([
      'node.toml: redis[0].shard: missing (expected a shard name)',
      expect.stringMatching(/^node\.toml: node_id: missing .*--node-id$/),
    ]);
  });
});

describe('many mistakes at once', () => {
  it('reports them all, one per line, each naming the file and the key', () => {
    const lines = problems(
      [
        'node_id = "one"',
        'data_dir = ""',
        '[raft]',
        'heartbeat_ms = 300',
        'jion = ["h:1"]',
        '[failover]',
        'down_after_ms = 1000',
        '[[redis]]',
        'shard = "m"',
        'addr = "h:6379"',
        '[[redis]]',
        'shard = "m"',
        'addr = "h:6379"',
      ].join('\n'),
      { logLevel: 'loud' },
    );
    expect(lines).toEqual([
      'node.toml: node_id: expected a positive integer, got "one"',
      'node.toml: data_dir: expected a directory path, got ""',
      'node.toml: unknown key "raft.jion"; did you mean "raft.join"?',
      expect.stringMatching(/^command line: --log-level \(log_level\): expected one of/),
      expect.stringMatching(
        /^node\.toml: raft\.heartbeat_ms: raft\.election_timeout_ms \(1000, the default\) must be at least 5 ×/,
      ),
      expect.stringMatching(
        /^node\.toml: failover\.down_after_ms: failover\.lease_ms \(2000, the default\) \+/,
      ),
      'node.toml: redis[1].addr: "h:6379" is already redis[0].addr; list each Redis once',
    ]);
  });
});

describe('warnings', () => {
  it('flags a short lease, a daemon without Redis and an open admin port without a token', () => {
    const c = parse(
      file(
        '[raft]',
        'heartbeat_ms = 50',
        'election_timeout_ms = 500',
        '[admin]',
        'listen = "0.0.0.0:28379"',
        '[failover]',
        'lease_ms = 600',
      ),
    );
    const warnings = configWarnings(c);
    expect(warnings).toHaveLength(3);
    expect(warnings[0]).toMatch(/lease_ms \(600\) is less than twice raft\.election_timeout_ms \(500\)/);
    expect(warnings[1]).toMatch(/no \[\[redis\]\] entries/);
    expect(warnings[2]).toMatch(/admin\.token is not set/);
  });
});

describe('loadConfig reads files', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'raftinel-config-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads a file and resolves its paths against its directory', () => {
    mkdirSync(path.join(dir, 'conf'));
    writeFileSync(path.join(dir, 'conf', 'node.toml'), '\uFEFFnode_id = 4\ndata_dir = "../state"\n');
    const c = loadConfig({ file: 'conf/node.toml', cwd: dir });
    expect(c.nodeId).toBe(4);
    expect(c.dataDir).toBe(path.join(dir, 'state'));
  });

  it('names a directory given as the file', () => {
    expect(() => loadConfig({ file: 'conf', cwd: dir })).toThrow(
      'cannot read config file conf: it is a directory',
    );
  });

  it('names the file as the user gave it in errors', () => {
    writeFileSync(path.join(dir, 'bad.toml'), 'node_id = 1\n[raft]\nheartbeat = 1\n');
    expect(() => loadConfig({ file: './bad.toml', cwd: dir })).toThrow(
      './bad.toml: unknown key "raft.heartbeat"; did you mean "raft.heartbeat_ms"?',
    );
  });
});

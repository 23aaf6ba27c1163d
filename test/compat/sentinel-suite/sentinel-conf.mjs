#!/usr/bin/env node
/**
 * Turns a redis-sentinel config file, as Redis's own Sentinel test suite writes it, into a
 * raftinel config (see README.md here). It maps configuration only: what a Sentinel setting means
 * for raftinel, or nothing when raftinel has no such setting (listed in IGNORED). It never looks
 * at which test runs.
 *
 * Usage: sentinel-conf.mjs <sentinel.conf>; prints the raftinel config's path, then the log file's.
 * Environment: RAFTINEL_SUITE_SEED_PORT, the Sentinel port of the member that bootstraps the group
 * (the others join it; default 20000, the suite's first sentinel port).
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';

/** Offsets from a daemon's Sentinel port to its Raft and admin ports. */
const RAFT_PORT_OFFSET = 7000;
const ADMIN_PORT_OFFSET = 8000;

/** Redis server settings a sentinel config may carry that mean nothing to raftinel. */
const IGNORED = new Set([
  'repl-diskless-sync-delay',
  'enable-protected-configs',
  'enable-debug-command',
  'daemonize',
  'protected-mode',
  'pidfile',
  'loglevel',
]);

function words(line) {
  const out = [];
  const re = /"((?:[^"\\]|\\.)*)"|'([^']*)'|(\S+)/g;
  for (const m of line.matchAll(re)) out.push(m[1] ?? m[2] ?? m[3]);
  return out;
}

function tomlString(s) {
  return JSON.stringify(s);
}

function main() {
  const file = process.argv[2];
  if (!file) throw new Error('usage: sentinel-conf.mjs <sentinel.conf>');
  const cfg = {
    port: 26379,
    dir: '.',
    logfile: '',
    requirepass: undefined,
    bind: '127.0.0.1',
    denyScriptsReconfig: undefined,
  };
  const unknown = [];
  for (const raw of readFileSync(file, 'utf8').split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const [key, ...args] = words(line);
    switch (key.toLowerCase()) {
      case 'port':
        cfg.port = Number(args[0]);
        break;
      case 'dir':
        cfg.dir = args[0];
        break;
      case 'logfile':
        cfg.logfile = args[0] ?? '';
        break;
      case 'bind':
        cfg.bind = args[0];
        break;
      case 'requirepass':
        cfg.requirepass = args[0];
        break;
      case 'sentinel':
        // Daemon settings map to [sentinel]; shards and their settings live in raftinel's log
        // (SENTINEL MONITOR/SET at run time): `sentinel monitor ...` lines are not mapped yet.
        if (args[0]?.toLowerCase() === 'deny-scripts-reconfig')
          cfg.denyScriptsReconfig = args[1]?.toLowerCase() !== 'no';
        break;
      default:
        if (!IGNORED.has(key.toLowerCase())) unknown.push(key);
    }
  }
  if (!Number.isInteger(cfg.port) || cfg.port <= 0 || cfg.port + ADMIN_PORT_OFFSET > 65535)
    throw new Error(`${file}: port ${cfg.port} is out of range`);
  const dir = resolve(cfg.dir);
  const seed = Number(process.env.RAFTINEL_SUITE_SEED_PORT ?? 20000);
  const raft = `127.0.0.1:${cfg.port + RAFT_PORT_OFFSET}`;
  const lines = [
    '# Written by test/compat/sentinel-suite/sentinel-conf.mjs from a redis-sentinel config.',
    `node_id = ${cfg.port}`,
    `data_dir = ${tomlString(resolve(dir, 'raftinel-data'))}`,
    'log_level = "info"',
    '',
    '[raft]',
    `listen = ${tomlString(raft)}`,
    seed === cfg.port ? 'single = true' : `join = [${tomlString(`127.0.0.1:${seed + RAFT_PORT_OFFSET}`)}]`,
    // The most the suite's down-after-milliseconds of 2000 allows (lease + election <= down-after,
    // lease >= election): stalls of 300-500 ms on two cores cost a 600 ms leader its lease.
    'heartbeat_ms = 100',
    'election_timeout_ms = 1000',
    '',
    '[sentinel]',
    `listen = ${tomlString(`${cfg.bind}:${cfg.port}`)}`,
    ...(cfg.requirepass !== undefined ? [`requirepass = ${tomlString(cfg.requirepass)}`] : []),
    ...(cfg.denyScriptsReconfig !== undefined ? [`deny_scripts_reconfig = ${cfg.denyScriptsReconfig}`] : []),
    '',
    '[admin]',
    `listen = ${tomlString(`127.0.0.1:${cfg.port + ADMIN_PORT_OFFSET}`)}`,
    '',
    '[failover]',
    'lease_ms = 1000',
    '',
  ];
  if (unknown.length > 0) lines.unshift(`# not mapped: ${[...new Set(unknown)].join(', ')}`);
  mkdirSync(dir, { recursive: true });
  const out = resolve(dir, 'raftinel.toml');
  writeFileSync(out, lines.join('\n'));
  process.stdout.write(`${out}\n${cfg.logfile ? resolve(dir, cfg.logfile) : '/dev/null'}\n`);
}

try {
  main();
} catch (err) {
  // The suite counts anything on a sentinel's stderr as a failure: say it in the log instead.
  process.stdout.write(`ERROR ${err.message}\n`);
  process.exit(1);
}

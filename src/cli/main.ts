/**
 * The `raftinel` command line: start a daemon, and talk to any daemon's admin API.
 * Exit codes: 0 success, 1 the operation failed, 2 usage or configuration error, 3 the node was
 * removed from its group.
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import {
  findSetting,
  SHARD_SETTINGS,
  settingNames,
  settingValueProblem,
  settingWhat,
} from '../cluster/settings.js';
import { addressProblem } from '../config/address.js';
import { VERSION } from '../util/version.js';
import { type AdminTarget, adminRequest, apiErrorMessage, CliError } from './admin-client.js';
import { runJob, waitJob } from './jobs.js';
import { renderShards, renderStatus } from './status-view.js';

const DEFAULT_ADMIN = '127.0.0.1:28379';

function nodeIdArg(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n <= 0) {
    throw new InvalidArgumentError(`expected a positive integer node id, got "${value}"`);
  }
  return n;
}

function addressArg(value: string): string {
  const problem = addressProblem(value);
  if (problem) throw new InvalidArgumentError(problem);
  return value;
}

function secondsArg(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0)
    throw new InvalidArgumentError(`expected a positive number of seconds, got "${value}"`);
  return n;
}

function nonNegativeInt(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n))
    throw new InvalidArgumentError(`expected an integer >= 0, got "${value}"`);
  return n;
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** host:port[:role[:priority]] */
function parseNodeSpec(spec: string): { addr: string; role: string; priority: number } {
  const m = /^(\[[^\]]+\]:\d+|[^:]+:\d+)(?::(replica|observer))?(?::(\d+))?$/.exec(spec);
  if (!m) throw new CliError(`--node ${spec}: expected host:port[:replica|observer[:priority]]`, 2);
  return {
    addr: addressArg(m[1]!),
    role: m[2] ?? 'replica',
    priority: m[3] === undefined ? 100 : Number(m[3]),
  };
}

/**
 * key=value pairs naming shard settings in any spelling of the settings table (`down_after_ms=5000`,
 * `down-after-milliseconds=5000`), checked against its bounds; sent by their snake_case names.
 */
function parseSettings(pairs: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const p of pairs) {
    const i = p.indexOf('=');
    if (i <= 0) throw new CliError(`setting "${p}": expected key=value`, 2);
    const given = p.slice(0, i);
    const text = p.slice(i + 1);
    const spec = findSetting(given);
    if (!spec) throw new CliError(`unknown setting "${given}"; known: ${settingNames().join(', ')}`, 2);
    if (spec.name in out) throw new CliError(`setting ${spec.name} is given twice`, 2);
    const value = /^-?\d+$/.test(text) ? Number(text) : Number.NaN;
    const problem = settingValueProblem(spec, value);
    if (problem !== null)
      throw new CliError(`setting ${given}: expected ${settingWhat(spec)}, got "${text}"`, 2);
    out[spec.name] = value;
  }
  return out;
}

/** --help text listing every shard setting with its Sentinel name, unit and default. */
function settingsHelp(): string {
  const names = SHARD_SETTINGS.map((s) => (s.sentinel === s.name ? s.name : `${s.name}, ${s.sentinel}`));
  const width = Math.max(...names.map((n) => n.length)) + 2;
  const rows = SHARD_SETTINGS.map((s, i) => {
    const unit = s.unit === 'count' ? '' : ` ${s.unit}`;
    return `  ${names[i]!.padEnd(width)}${s.summary} (default ${s.default}${unit})`;
  });
  return [
    '',
    'Settings, by snake_case or Sentinel name ([failover] in the config file sets the defaults;',
    'lease_ms + raft.election_timeout_ms must stay <= down_after_ms):',
    ...rows,
  ].join('\n');
}

interface ClientOpts {
  admin: string;
  token?: string;
  json?: boolean;
  wait: boolean;
  timeout: number;
}

/** Options every subcommand that talks to a daemon takes. */
function withClientOptions(cmd: Command, mutating: boolean): Command {
  cmd
    .addOption(
      new Option('--admin <host:port>', 'admin API of any daemon')
        .default(DEFAULT_ADMIN)
        .argParser(addressArg),
    )
    .addOption(new Option('--token <token>', 'bearer token for mutating calls').env('RAFTINEL_TOKEN'))
    .option('--json', 'print JSON');
  if (mutating) {
    cmd
      .option('--no-wait', 'print the job id instead of waiting for the job')
      .option('--timeout <seconds>', 'how long to wait for the job', secondsArg, 180);
  }
  return cmd;
}

function target(o: ClientOpts): AdminTarget {
  return { admin: o.admin, ...(o.token ? { token: o.token } : {}) };
}

function jobOpts(o: ClientOpts) {
  return {
    wait: o.wait,
    timeoutMs: o.timeout * 1000,
    json: o.json ?? false,
    out: (l: string) => console.log(l),
  };
}

export function buildProgram(): Command {
  const program = new Command('raftinel')
    .description('Raft-based replacement for Redis Sentinel')
    .version(VERSION)
    .showHelpAfterError()
    .exitOverride();

  program
    .command('start')
    .description(
      'start a daemon (with no config: a one-node group managing the Redis at 127.0.0.1:6379 as "mymaster")',
    )
    .option('-c, --config <file>', 'TOML config file')
    .option('--single', 'bootstrap a new one-node group if data_dir is empty')
    .option('--join <host:port,...>', 'join an existing group through any of these members (Raft addresses)')
    .option('--node-id <id>', 'this node id (overrides the file)', nodeIdArg)
    .option('--data-dir <dir>', 'data directory (overrides the file)')
    .option('--log-level <level>', 'trace, debug, info, warn, error or fatal')
    .action(async (o) => {
      // Loaded on demand: the daemon's modules (gRPC, Redis, metrics) would slow every other command.
      const { runStart } = await import('./start.js');
      process.exitCode = await runStart(o);
    });

  withClientOptions(
    program.command('status').description('show the group, its members and shards'),
    false,
  ).action(async (o: ClientOpts) => {
    const r = await adminRequest(target(o), 'GET', '/v1/status');
    if (r.status !== 200) throw new CliError(`status failed: ${apiErrorMessage(r)}`);
    console.log(o.json ? JSON.stringify(r.body, null, 2) : renderStatus(r.body));
  });

  const peer = program.command('peer').description('add, remove or promote members of the group');
  withClientOptions(
    peer.command('add <id>').description('add a member (joins as a learner, promoted once caught up)'),
    true,
  )
    .requiredOption('--raft <host:port>', "the new member's Raft address", addressArg)
    .addOption(
      new Option('--role <role>', 'role once caught up')
        .choices(['voter', 'learner', 'witness'])
        .default('voter'),
    )
    .action(async (id: string, o: ClientOpts & { raft: string; role: string }) => {
      await runJob(
        target(o),
        'POST',
        '/v1/members',
        { id: nodeIdArg(id), raft: o.raft, role: o.role },
        jobOpts(o),
      );
    });
  withClientOptions(
    peer.command('remove <id>').description('remove a member (a leader hands over first)'),
    true,
  ).action(async (id: string, o: ClientOpts) => {
    await runJob(target(o), 'DELETE', `/v1/members/${nodeIdArg(id)}`, undefined, jobOpts(o));
  });
  withClientOptions(peer.command('promote <id>').description('promote a learner once it has caught up'), true)
    .addOption(new Option('--role <role>', 'new role').choices(['voter', 'witness']).default('voter'))
    .action(async (id: string, o: ClientOpts & { role: string }) => {
      await runJob(target(o), 'POST', `/v1/members/${nodeIdArg(id)}/promote`, { role: o.role }, jobOpts(o));
    });

  withClientOptions(
    program.command('transfer-leader <id>').description('move Raft leadership to a voter'),
    true,
  ).action(async (id: string, o: ClientOpts) => {
    await runJob(target(o), 'POST', '/v1/leader/transfer', { to: nodeIdArg(id) }, jobOpts(o));
  });

  const shard = program.command('shard').description('list, add, remove and configure shards');
  withClientOptions(
    shard.command('list').description('list shards with their master and nodes'),
    false,
  ).action(async (o: ClientOpts) => {
    const r = await adminRequest(target(o), 'GET', '/v1/shards');
    if (r.status !== 200) throw new CliError(`shard list failed: ${apiErrorMessage(r)}`);
    console.log(o.json ? JSON.stringify(r.body.shards, null, 2) : renderShards(r.body.shards as unknown[]));
  });
  withClientOptions(
    shard.command('add <name>').description('monitor a new shard (like SENTINEL MONITOR)'),
    true,
  )
    .requiredOption('--master <host:port>', 'its current master', addressArg)
    .option('--node <host:port[:role[:priority]]>', 'another node (repeatable)', collect, [])
    .option('--set <key=value>', 'a setting, e.g. down_after_ms=5000 (repeatable)', collect, [])
    .addHelpText('after', settingsHelp)
    .action(async (name: string, o: ClientOpts & { master: string; node: string[]; set: string[] }) => {
      const body = {
        name,
        master: o.master,
        nodes: o.node.map(parseNodeSpec),
        settings: parseSettings(o.set),
      };
      await runJob(target(o), 'POST', '/v1/shards', body, jobOpts(o));
    });
  withClientOptions(
    shard.command('remove <name>').description('stop managing a shard (Redis is left as it is)'),
    true,
  ).action(async (name: string, o: ClientOpts) => {
    await runJob(target(o), 'DELETE', `/v1/shards/${encodeURIComponent(name)}`, undefined, jobOpts(o));
  });
  withClientOptions(
    shard.command('set <name> <key=value...>').description('change per-shard settings (like SENTINEL SET)'),
    true,
  )
    .addHelpText('after', settingsHelp)
    .action(async (name: string, pairs: string[], o: ClientOpts) => {
      const body = { settings: parseSettings(pairs) };
      await runJob(target(o), 'PATCH', `/v1/shards/${encodeURIComponent(name)}`, body, jobOpts(o));
    });
  withClientOptions(
    shard.command('node-add <name> <host:port>').description('add a Redis node to a shard'),
    true,
  )
    .addOption(
      new Option('--role <role>', 'replica (promotable) or observer')
        .choices(['replica', 'observer'])
        .default('replica'),
    )
    .option('--priority <n>', 'lower wins, 0 = never promoted', nonNegativeInt, 100)
    .action(async (name: string, addr: string, o: ClientOpts & { role: string; priority: number }) => {
      const body = { addr: addressArg(addr), role: o.role, priority: o.priority };
      await runJob(target(o), 'POST', `/v1/shards/${encodeURIComponent(name)}/nodes`, body, jobOpts(o));
    });
  withClientOptions(
    shard.command('node-remove <name> <host:port>').description('remove a Redis node from a shard'),
    true,
  ).action(async (name: string, addr: string, o: ClientOpts) => {
    const path = `/v1/shards/${encodeURIComponent(name)}/nodes/${encodeURIComponent(addressArg(addr))}`;
    await runJob(target(o), 'DELETE', path, undefined, jobOpts(o));
  });

  withClientOptions(
    program
      .command('switchover <shard>')
      .description('planned switchover without losing acknowledged writes'),
    true,
  )
    .option('--to <host:port>', 'the replica to promote (default: the best one)', addressArg)
    .action(async (name: string, o: ClientOpts & { to?: string }) => {
      const body = o.to ? { to: o.to } : {};
      await runJob(target(o), 'POST', `/v1/shards/${encodeURIComponent(name)}/switchover`, body, jobOpts(o));
    });
  withClientOptions(
    program
      .command('failover <shard>')
      .description('promote a chosen replica now, even if the master is gone (may lose writes)'),
    true,
  )
    .requiredOption('--to <host:port>', 'the replica to promote', addressArg)
    .option('--force', 'required: acknowledge that writes the replica does not have are lost')
    .action(async (name: string, o: ClientOpts & { to: string; force?: boolean }) => {
      if (!o.force) {
        throw new CliError(
          'a forced failover may lose acknowledged writes: add --force to confirm (or use `raftinel switchover`)',
          2,
        );
      }
      const body = { to: o.to, force: true };
      await runJob(target(o), 'POST', `/v1/shards/${encodeURIComponent(name)}/failover`, body, jobOpts(o));
    });

  withClientOptions(
    program.command('job <id>').description('show a job, waiting for it unless --no-wait'),
    true,
  ).action(async (id: string, o: ClientOpts) => {
    if (!o.wait) {
      const r = await adminRequest(target(o), 'GET', `/v1/jobs/${encodeURIComponent(id)}`);
      if (r.status !== 200) throw new CliError(apiErrorMessage(r));
      console.log(JSON.stringify(r.body.job, null, 2));
      return;
    }
    const job = await waitJob(target(o), id, jobOpts(o));
    console.log(
      o.json ? JSON.stringify(job) : `${job.kind} ${job.state}${job.reason ? `: ${job.reason}` : ''}`,
    );
    if (job.state !== 'succeeded') process.exitCode = 1;
  });
  return program;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    const e = err as { code?: string; exitCode?: number };
    if (typeof e.code === 'string' && e.code.startsWith('commander.')) {
      // commander already printed the message (and help where useful).
      return e.code === 'commander.helpDisplayed' || e.code === 'commander.version' ? 0 : 2;
    }
    if (err instanceof CliError) {
      console.error(`raftinel: ${err.message}`);
      return err.exitCode;
    }
    console.error(`raftinel: ${(err as Error).stack ?? err}`);
    return 1;
  }
}

const isEntry = process.argv[1] && /(?:^|[/\\])(?:main\.[jt]s|raftinel)$/.test(process.argv[1]);
if (isEntry || process.env.RAFTINEL_CLI_MAIN === '1') {
  main(process.argv).then((code) => process.exit(code));
}

/**
 * Loading a daemon's configuration: TOML file + command-line flags + defaults, checked key by key
 * (schema.ts) and then across keys (timing rules, addresses, [[redis]] entries). Every problem is
 * collected and thrown together in one ConfigError.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import {
  type RuleInput,
  type RuleNaming,
  type SettingKey,
  SHARD_SETTINGS,
  type ShardSettings,
  settingsRuleViolations,
} from '../cluster/settings.js';
import type { MemberRole } from '../raft/types.js';
import { notExecutable } from '../util/executable.js';
import {
  addressKey,
  formatAddress,
  type HostPort,
  isWildcardHost,
  listenersConflict,
  parseAddress,
} from './address.js';
import { COMMAND_LINE, ConfigError, type ConfigProblem, keyProblem } from './errors.js';
import {
  address,
  dottedKey,
  fileSchema,
  mapIssue,
  nodeIdCheck,
  oneOf,
  type Path,
  text as textCheck,
} from './schema.js';
import { isTable, parseToml } from './toml.js';
import {
  type ConfigFlags,
  DEFAULTS,
  LOG_LEVELS,
  type LoadConfigOptions,
  type LogLevel,
  MIN_HEARTBEATS_PER_ELECTION,
  type NodeConfig,
  type RedisConfig,
  type RedisRole,
} from './types.js';

/**
 * Loads the configuration of `raftinel start`: the file (if any) with the flags on top. With no
 * file, the defaults describe a one-node group (single = true, node_id 1) managing the Redis at
 * 127.0.0.1:6379 as shard "mymaster". Throws ConfigError listing every problem found.
 */
export function loadConfig(opts: LoadConfigOptions = {}): NodeConfig {
  const cwd = opts.cwd ?? process.cwd();
  if (opts.file === undefined) return resolveConfig({ cwd, flags: opts.flags ?? {} });
  let text: string;
  try {
    text = readFileSync(path.resolve(cwd, opts.file), 'utf8');
  } catch (err) {
    throw new ConfigError([
      { source: opts.file, text: `cannot read config file ${opts.file}: ${describeFsError(err)}` },
    ]);
  }
  return parseConfigText(text, opts.file, { flags: opts.flags, cwd });
}

/**
 * Like loadConfig, with the file's text given. `fileName` is what messages call the file, and its
 * directory (against `cwd`) is what relative paths in it are resolved against.
 */
export function parseConfigText(
  text: string,
  fileName: string,
  opts: { flags?: ConfigFlags; cwd?: string } = {},
): NodeConfig {
  const cwd = opts.cwd ?? process.cwd();
  const parsed = parseToml(text.startsWith('\uFEFF') ? text.slice(1) : text);
  if (!parsed.ok) {
    const { line, column, message } = parsed;
    throw new ConfigError([
      {
        source: fileName,
        line,
        column,
        text: `${fileName}: line ${line}, column ${column}: invalid TOML: ${message}`,
      },
    ]);
  }
  const absPath = path.resolve(cwd, fileName);
  return resolveConfig({
    cwd,
    flags: opts.flags ?? {},
    file: { label: fileName, absPath, dir: path.dirname(absPath), table: parsed.table },
  });
}

/** The configuration of `raftinel start` with no file and no flags. */
export function defaultConfig(cwd: string = process.cwd()): NodeConfig {
  return loadConfig({ cwd });
}

/**
 * Legal but doubtful settings, for the daemon to log at startup (one sentence each).
 */
export function configWarnings(config: NodeConfig): string[] {
  const warnings: string[] = [];
  const { raft, failover, admin } = config;
  if (failover.leaseMs < 2 * raft.electionTimeoutMs) {
    warnings.push(
      `failover.lease_ms (${failover.leaseMs}) is less than twice raft.election_timeout_ms ` +
        `(${raft.electionTimeoutMs}): a slow Raft election after a leader failure may fence healthy masters ` +
        'for a moment',
    );
  }
  if (raft.role !== 'witness' && config.redis.length === 0) {
    warnings.push(
      `no [[redis]] entries: this ${raft.role} manages no Redis ` +
        '(add [[redis]] entries, or set raft.role = "witness" if that is the intent)',
    );
  }
  if (admin.token === undefined && !isLoopback(parseAddress(admin.listen).host)) {
    warnings.push(
      `admin.listen (${admin.listen}) is reachable from other hosts and admin.token is not set: ` +
        'anyone who can reach it can trigger failovers',
    );
  }
  return warnings;
}

// ---------------------------------------------------------------------------------------------

interface FileInput {
  /** As the user named it. */
  label: string;
  absPath: string;
  dir: string;
  table: Record<string, unknown>;
}

/**
 * One resolved setting. `value` is undefined when what was given is invalid (already reported):
 * cross-key rules skip it rather than pile on.
 */
interface Field<T> {
  value: T | undefined;
  /** Set in the file or by a flag, rather than defaulted. */
  given: boolean;
  /** The file's name or "command line". */
  source: string;
  /** What messages call it: `raft.join`, or `--join (raft.join)` for a flag. */
  key: string;
  /** The TOML key, for describing the value in messages about other keys. */
  name: string;
}

interface RedisFields {
  shard: Field<string>;
  addr: Field<string>;
  role: Field<RedisRole>;
  priority: Field<number>;
  username: Field<string>;
  password: Field<string>;
}

type FlagValue<T> = { ok: true; value: T } | { ok: false } | undefined;

function resolveConfig(input: { cwd: string; flags: ConfigFlags; file?: FileInput }): NodeConfig {
  const { cwd, flags, file } = input;
  const problems: ConfigProblem[] = [];
  const bad: Path[] = [];
  const tree = file?.table ?? {};
  const defaultSource = file?.label ?? COMMAND_LINE;

  if (file) {
    const result = fileSchema.safeParse(tree);
    if (!result.success) {
      for (const issue of result.error.issues) {
        const mapped = mapIssue(issue, file.label);
        problems.push(...mapped.problems);
        bad.push(...mapped.bad);
      }
    }
  }

  const spoiled = (p: Path): boolean => bad.some((b) => isPrefix(b, p) || isPrefix(p, b));
  const fromFile = <T>(p: Path, fallback: T | undefined): Field<T> => {
    const name = dottedKey(p);
    const raw = valueAt(tree, p);
    if (raw === undefined) {
      return {
        value: spoiled(p) ? undefined : fallback,
        given: false,
        source: defaultSource,
        key: name,
        name,
      };
    }
    return {
      value: spoiled(p) ? undefined : (raw as T),
      given: true,
      source: file?.label ?? COMMAND_LINE,
      key: name,
      name,
    };
  };
  const withFlag = <T>(field: Field<T>, flag: string, value: FlagValue<T>): Field<T> => {
    if (value === undefined) return field;
    return {
      value: value.ok ? value.value : undefined,
      given: true,
      source: COMMAND_LINE,
      key: `${flag} (${field.name})`,
      name: field.name,
    };
  };
  const report = (field: Pick<Field<unknown>, 'source' | 'key'>, message: string): void => {
    problems.push(keyProblem(field.source, field.key, message));
  };

  // ---- flags, checked on their own
  const flagProblem = (flag: string, name: string, message: string): void => {
    problems.push(keyProblem(COMMAND_LINE, `${flag} (${name})`, message));
  };
  const checkFlag = <T>(
    raw: unknown,
    flag: string,
    name: string,
    check: { problem(v: unknown): string | null },
  ): FlagValue<T> => {
    if (raw === undefined) return undefined;
    const message = check.problem(raw);
    if (message === null) return { ok: true, value: raw as T };
    flagProblem(flag, name, message);
    return { ok: false };
  };
  const flagNodeId = checkFlag<number>(
    typeof flags.nodeId === 'string' && /^\d+$/.test(flags.nodeId) ? Number(flags.nodeId) : flags.nodeId,
    '--node-id',
    'node_id',
    nodeIdCheck,
  );
  const flagDataDir = checkFlag<string>(
    flags.dataDir,
    '--data-dir',
    'data_dir',
    textCheck({ what: 'a directory path' }),
  );
  const flagLogLevel = checkFlag<LogLevel>(flags.logLevel, '--log-level', 'log_level', oneOf(LOG_LEVELS));
  const flagSingle: FlagValue<boolean> = flags.single === true ? { ok: true, value: true } : undefined;
  let flagJoin: FlagValue<string[]>;
  if (flags.join !== undefined) {
    const items = (Array.isArray(flags.join) ? flags.join : [flags.join])
      .flatMap((item) => String(item).split(','))
      .map((item) => item.trim())
      .filter((item) => item !== '');
    const wrong = items.map((item) => address.problem(item)).filter((m): m is string => m !== null);
    if (items.length === 0) flagProblem('--join', 'raft.join', 'expected at least one host:port');
    for (const message of wrong) flagProblem('--join', 'raft.join', message);
    flagJoin = items.length > 0 && wrong.length === 0 ? { ok: true, value: items } : { ok: false };
  }
  if (flagSingle && flagJoin) {
    problems.push(
      keyProblem(
        COMMAND_LINE,
        '--single, --join',
        'cannot be used together: --single bootstraps a new group, --join joins an existing one',
      ),
    );
  }

  // ---- top level
  let nodeId = withFlag(fromFile<number>(['node_id'], undefined), '--node-id', flagNodeId);
  if (!nodeId.given) {
    if (file) {
      report(
        nodeId,
        'missing (expected a positive integer, unique in the group); set it in the file or pass --node-id',
      );
    } else if (flagJoin && !flagSingle) {
      report(
        { source: COMMAND_LINE, key: '--node-id (node_id)' },
        'required with --join: node ids are unique in the group, and the default (1) is normally ' +
          'the daemon that bootstrapped it',
      );
    } else {
      nodeId = { ...nodeId, value: DEFAULTS.nodeId };
    }
  }
  const dataDirField = withFlag(fromFile<string>(['data_dir'], undefined), '--data-dir', flagDataDir);
  let dataDir: string | undefined;
  if (dataDirField.value !== undefined) {
    const base = dataDirField.source === COMMAND_LINE || !file ? cwd : file.dir;
    dataDir = path.resolve(base, dataDirField.value);
  } else if (!dataDirField.given) {
    dataDir = path.resolve(file ? file.dir : cwd, DEFAULTS.dataDir);
  }
  const logLevel = withFlag(
    fromFile<LogLevel>(['log_level'], DEFAULTS.logLevel),
    '--log-level',
    flagLogLevel,
  );

  // ---- [raft]
  const raftListen = fromFile<string>(['raft', 'listen'], DEFAULTS.raft.listen);
  const raftAdvertiseField = fromFile<string>(['raft', 'advertise'], undefined);
  const role = fromFile<MemberRole>(['raft', 'role'], DEFAULTS.raft.role);
  const heartbeat = fromFile<number>(['raft', 'heartbeat_ms'], DEFAULTS.raft.heartbeatMs);
  const election = fromFile<number>(['raft', 'election_timeout_ms'], DEFAULTS.raft.electionTimeoutMs);
  const snapshotEvery = fromFile<number>(
    ['raft', 'snapshot_every_entries'],
    DEFAULTS.raft.snapshotEveryEntries,
  );

  const fileSingle = fromFile<boolean>(['raft', 'single'], undefined);
  const fileJoin = fromFile<string[]>(['raft', 'join'], undefined);
  if (fileSingle.value === true && fileJoin.given) {
    report(
      fileJoin,
      'cannot be used with raft.single = true: single bootstraps a new group, join joins an existing ' +
        'one; keep one of them',
    );
  }
  let single: Field<boolean>;
  let join: Field<string[]>;
  if (flagSingle) {
    single = withFlag(fileSingle, '--single', flagSingle);
    join = { ...fileJoin, value: [], given: false };
  } else if (flagJoin) {
    join = withFlag(fileJoin, '--join', flagJoin);
    single = { ...fileSingle, value: false, given: false };
  } else {
    // No file: `raftinel start` alone bootstraps a one-node group. With a file, neither single nor
    // join is fine: a restart from an existing data_dir needs neither (the daemon checks).
    single = fileSingle.given ? fileSingle : { ...fileSingle, value: !file };
    join = fileJoin.given ? fileJoin : { ...fileJoin, value: [] };
  }
  if (single.value === true && role.value === 'learner') {
    report(
      single.given ? single : role,
      'a learner cannot bootstrap a group: it never votes, so a group of one learner never elects a ' +
        'leader; bootstrap with a voter and add learners with --join',
    );
  }

  const raftListenAddr = addr(raftListen);
  let raftAdvertise: string | undefined;
  if (raftAdvertiseField.given) {
    const a = addr(raftAdvertiseField);
    if (a && isWildcardHost(a.host)) {
      report(
        raftAdvertiseField,
        `"${raftAdvertiseField.value}" is a wildcard address: other daemons dial raft.advertise, and ` +
          '0.0.0.0 or :: means "any local address" to a server but "myself" to a client; use an address ' +
          'of this host that the other daemons can reach',
      );
    } else {
      raftAdvertise = raftAdvertiseField.value;
    }
  } else if (raftListenAddr && isWildcardHost(raftListenAddr.host)) {
    report(
      { source: raftListen.source, key: 'raft.advertise' },
      `required because raft.listen ("${raftListen.value}") is a wildcard address, which other daemons ` +
        'cannot dial; set it to an address of this host that they can reach',
    );
  } else {
    raftAdvertise = raftListen.value;
  }
  const ownAdvertise = raftAdvertise === undefined ? undefined : parseAddress(raftAdvertise);
  if (join.value && join.value.length > 0 && ownAdvertise) {
    const self = addressKey(ownAdvertise);
    if (join.value.every((a) => addressKey(parseAddress(a)) === self)) {
      report(
        join,
        `lists only this daemon's own address (raft.advertise = "${raftAdvertise}"); join through ` +
          'another member of the group',
      );
    }
  }

  // ---- [sentinel], [admin]
  const sentinelListen = fromFile<string>(['sentinel', 'listen'], DEFAULTS.sentinel.listen);
  const sentinelAdvertiseField = fromFile<string>(['sentinel', 'advertise'], undefined);
  const requirepass = fromFile<string>(['sentinel', 'requirepass'], undefined);
  const denyScripts = fromFile<boolean>(
    ['sentinel', 'deny_scripts_reconfig'],
    DEFAULTS.sentinel.denyScriptsReconfig,
  );
  const scriptPaths = (['notification_script', 'client_reconfig_script'] as const).map((key) => {
    const f = fromFile<string>(['sentinel', key], undefined);
    if (f.value === undefined) return undefined;
    const abs = path.resolve(file ? file.dir : cwd, f.value);
    const why = notExecutable(abs);
    if (why) report(f, `${abs} is not an executable file (${why})`);
    return abs;
  });
  const sentinelListenAddr = addr(sentinelListen);
  let sentinelAdvertise: string | undefined;
  if (sentinelAdvertiseField.given) {
    const a = addr(sentinelAdvertiseField);
    if (a && isWildcardHost(a.host)) {
      report(
        sentinelAdvertiseField,
        `"${sentinelAdvertiseField.value}" is a wildcard address; clients are told to dial it, so use an ` +
          'address of this host that they can reach',
      );
    } else {
      sentinelAdvertise = sentinelAdvertiseField.value;
    }
  } else if (sentinelListenAddr && isWildcardHost(sentinelListenAddr.host)) {
    sentinelAdvertise = ownAdvertise ? formatAddress(ownAdvertise.host, sentinelListenAddr.port) : undefined;
  } else {
    sentinelAdvertise = sentinelListen.value;
  }

  const adminListen = fromFile<string>(['admin', 'listen'], DEFAULTS.admin.listen);
  const token = fromFile<string>(['admin', 'token'], undefined);
  const metricsListen = fromFile<string>(['admin', 'metrics_listen'], undefined);

  const listeners = [
    raftListen,
    sentinelListen,
    adminListen,
    ...(metricsListen.given ? [metricsListen] : []),
  ];
  for (let j = 1; j < listeners.length; j++) {
    for (let i = 0; i < j; i++) {
      const a = listeners[i]!;
      const b = listeners[j]!;
      const aAddr = addr(a);
      const bAddr = addr(b);
      if (!aAddr || !bAddr || !listenersConflict(aAddr, bAddr)) continue;
      const [blamed, other] = b.given || !a.given ? [b, a] : [a, b];
      report(
        blamed,
        `"${blamed.value}" conflicts with ${other.name} ("${other.value}"): each service needs its own port`,
      );
      break;
    }
  }

  // ---- [failover] and the timing rules
  const settingFields = Object.fromEntries(
    SHARD_SETTINGS.map((spec) => [spec.key, fromFile<number>(['failover', spec.name], spec.default)]),
  ) as { [K in SettingKey]: Field<number> };
  const downAfter = settingFields.downAfterMs;
  const lease = settingFields.leaseMs;
  const parallelism = fromFile<number>(
    ['failover', 'failover_parallelism'],
    DEFAULTS.failover.failoverParallelism,
  );

  const hb = heartbeat.value;
  const et = election.value;
  if (hb !== undefined && et !== undefined && et < MIN_HEARTBEATS_PER_ELECTION * hb) {
    report(
      blame(election, heartbeat),
      `${show(election)} must be at least ${MIN_HEARTBEATS_PER_ELECTION} × ${show(heartbeat)} = ` +
        `${MIN_HEARTBEATS_PER_ELECTION * hb}: a follower that misses a few heartbeats (a lost packet, a ` +
        'pause) would start a needless election',
    );
  }
  // The rules across shard settings: the same function the leader applies to every change.
  const ruleFields: Record<RuleInput, Field<number>> = {
    leaseMs: lease,
    downAfterMs: downAfter,
    electionTimeoutMs: election,
  };
  const configNaming: RuleNaming = {
    label: (input) => show(ruleFields[input]),
    name: (input) => ruleFields[input].name.replace(/^.*\./, ''),
  };
  for (const v of settingsRuleViolations(
    { leaseMs: lease.value, downAfterMs: downAfter.value },
    et,
    configNaming,
  )) {
    report(blame(...v.inputs.map((input) => ruleFields[input])), v.message);
  }

  // ---- [[redis]]
  const redis: RedisFields[] = [];
  if (!file) {
    const d = DEFAULTS.redis;
    const field = <T>(name: string, value: T | undefined): Field<T> => ({
      value,
      given: false,
      source: COMMAND_LINE,
      key: `redis[0].${name}`,
      name: `redis[0].${name}`,
    });
    redis.push({
      shard: field('shard', d.shard),
      addr: field('addr', d.addr),
      role: field<RedisRole>('role', d.role),
      priority: field('priority', d.priority),
      username: field<string>('username', undefined),
      password: field<string>('password', undefined),
    });
  } else if (Array.isArray(tree.redis)) {
    tree.redis.forEach((_entry, i) => {
      redis.push({
        shard: fromFile<string>(['redis', i, 'shard'], undefined),
        addr: fromFile<string>(['redis', i, 'addr'], undefined),
        role: fromFile<RedisRole>(['redis', i, 'role'], DEFAULTS.redis.role),
        priority: fromFile<number>(['redis', i, 'priority'], DEFAULTS.redis.priority),
        username: fromFile<string>(['redis', i, 'username'], undefined),
        password: fromFile<string>(['redis', i, 'password'], undefined),
      });
    });
  }
  if (role.value === 'witness' && redis.length > 0) {
    report(
      { source: file?.label ?? COMMAND_LINE, key: 'redis' },
      `a witness manages no Redis (raft.role = "witness"), but ${redis.length} [[redis]] ` +
        `${redis.length === 1 ? 'entry is listed; remove it' : 'entries are listed; remove them'} or change raft.role`,
    );
  }
  const seen = new Map<string, string>();
  for (const entry of redis) {
    if (entry.username.value !== undefined && !entry.password.given) {
      report(
        entry.username,
        'needs a password as well: Redis authenticates a user with AUTH username password',
      );
    }
    const a = addr(entry.addr);
    if (!a) continue;
    const previous = seen.get(addressKey(a));
    if (previous !== undefined) {
      report(entry.addr, `"${entry.addr.value}" is already ${previous}; list each Redis once`);
      continue;
    }
    seen.set(addressKey(a), entry.addr.name);
    for (const listener of listeners) {
      const l = addr(listener);
      if (l && listenersConflict(a, l)) {
        report(
          entry.addr,
          `"${entry.addr.value}" is this daemon's own ${listener.name} ("${listener.value}")`,
        );
        break;
      }
    }
  }

  if (problems.length > 0) throw new ConfigError(problems);

  const config: NodeConfig = {
    nodeId: need(nodeId),
    dataDir: need({ ...dataDirField, value: dataDir }),
    logLevel: need(logLevel),
    raft: {
      listen: need(raftListen),
      advertise: need({ ...raftListen, value: raftAdvertise }),
      single: need(single),
      join: need(join),
      role: need(role),
      heartbeatMs: need(heartbeat),
      electionTimeoutMs: need(election),
      snapshotEveryEntries: need(snapshotEvery),
    },
    sentinel: {
      listen: need(sentinelListen),
      advertise: need({ ...sentinelListen, value: sentinelAdvertise }),
      denyScriptsReconfig: need(denyScripts),
      ...(scriptPaths[0] ? { notificationScript: scriptPaths[0] } : {}),
      ...(scriptPaths[1] ? { clientReconfigScript: scriptPaths[1] } : {}),
    },
    admin: { listen: need(adminListen) },
    failover: {
      ...(Object.fromEntries(
        SHARD_SETTINGS.map((spec) => [spec.key, need(settingFields[spec.key])]),
      ) as ShardSettings),
      failoverParallelism: need(parallelism),
    },
    redis: redis.map((entry) => {
      const out: RedisConfig = {
        shard: need(entry.shard),
        addr: need(entry.addr),
        role: need(entry.role),
        priority: need(entry.priority),
      };
      if (entry.username.value !== undefined) out.username = entry.username.value;
      if (entry.password.value !== undefined) out.password = entry.password.value;
      return out;
    }),
  };
  if (file) config.file = file.absPath;
  if (requirepass.value !== undefined) config.sentinel.requirepass = requirepass.value;
  if (token.value !== undefined) config.admin.token = token.value;
  if (metricsListen.value !== undefined) config.admin.metricsListen = metricsListen.value;
  return config;
}

/** The field to name in a message about several: the first one the user set. */
function blame(...fields: Field<unknown>[]): Field<unknown> {
  return fields.find((f) => f.given) ?? fields[0]!;
}

/** `raft.heartbeat_ms (100)`, or `raft.heartbeat_ms (100, the default)`. */
function show(field: Field<number>): string {
  return `${field.name} (${field.value}${field.given ? '' : ', the default'})`;
}

function addr(field: Field<string>): HostPort | undefined {
  return field.value === undefined ? undefined : parseAddress(field.value);
}

function need<T>(field: Field<T>): T {
  if (field.value === undefined) throw new Error(`internal error: config key ${field.name} has no value`);
  return field.value;
}

function valueAt(tree: unknown, p: Path): unknown {
  let node: unknown = tree;
  for (const part of p) {
    if (typeof part === 'number') {
      if (!Array.isArray(node)) return undefined;
      node = node[part];
    } else {
      if (!isTable(node)) return undefined;
      node = node[String(part)];
    }
  }
  return node;
}

function isPrefix(prefix: Path, p: Path): boolean {
  return prefix.length <= p.length && prefix.every((part, i) => part === p[i]);
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host.startsWith('127.') || host === '::1';
}

function describeFsError(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOENT') return 'no such file';
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  if (code === 'EISDIR') return 'it is a directory';
  return err instanceof Error ? err.message : String(err);
}

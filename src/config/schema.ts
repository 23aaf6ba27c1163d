/**
 * The config file's schema: strict zod objects whose leaves carry our own messages
 * ("expected a positive integer, got "100""), and the mapping of zod issues to ConfigProblems.
 * The same leaf checks validate command-line flags.
 */
import { z } from 'zod';
import { type SettingName, type SettingSpec, SHARD_SETTINGS } from '../cluster/settings.js';
import { addressProblem } from './address.js';
import { type ConfigProblem, keyProblem } from './errors.js';
import { alternatives, closestKeys, normalizeKey, quotedAlternatives } from './suggest.js';
import { isTable, showValue, typeName } from './toml.js';
import {
  LOG_LEVELS,
  MAX_FAILOVER_PARALLELISM,
  MAX_NODE_ID,
  MAX_SHARD_NAME_LENGTH,
  MAX_TIMER_MS,
  MEMBER_ROLES,
  REDIS_ROLES,
} from './types.js';

/** A value check: what is expected (for "missing (expected ...)") and why a value is wrong. */
export interface Check {
  what: string;
  problem(value: unknown): string | null;
}

export function integer(min: number, max: number, maxNote = ''): Check {
  const what =
    min === 1 ? 'a positive integer' : min === 0 ? 'a non-negative integer' : `an integer from ${min}`;
  return {
    what,
    problem(value) {
      const n = typeof value === 'bigint' ? value : typeof value === 'number' ? value : undefined;
      const isInt = typeof n === 'bigint' || (typeof n === 'number' && Number.isSafeInteger(n));
      if (n === undefined || !isInt || n < min) return `expected ${what}, got ${showValue(value)}`;
      if (n > max) return `expected ${what} no greater than ${max}${maxNote}, got ${showValue(value)}`;
      return null;
    },
  };
}

export const milliseconds = integer(1, MAX_TIMER_MS, ' (the longest timer Node.js supports)');
export const nodeIdCheck = integer(1, MAX_NODE_ID);

export function oneOf(values: readonly string[]): Check {
  const what = `one of ${quotedAlternatives(values)}`;
  return {
    what,
    problem(value) {
      if (typeof value === 'string' && values.includes(value)) return null;
      const near = typeof value === 'string' ? closestKeys(value, values) : [];
      const hint = near.length > 0 ? `; did you mean ${quotedAlternatives(near)}?` : '';
      return `expected ${what}, got ${showValue(value)}${hint}`;
    },
  };
}

export const boolean: Check = {
  what: 'true or false',
  problem: (value) => (typeof value === 'boolean' ? null : `expected true or false, got ${showValue(value)}`),
};

/** A non-empty string; the value of a secret is never echoed, only its type. */
export function text(opts: { secret?: boolean; what?: string } = {}): Check {
  const what = opts.what ?? 'a non-empty string';
  return {
    what,
    problem(value) {
      if (typeof value === 'string' && value !== '' && !value.includes('\0')) return null;
      if (!opts.secret || value === '') return `expected ${what}, got ${showValue(value)}`;
      return `expected ${what}, got ${typeof value === 'string' ? 'a string with a NUL character' : typeName(value)}`;
    },
  };
}

export const address: Check = {
  what: 'host:port',
  problem(value) {
    if (typeof value !== 'string') return `expected host:port, got ${showValue(value)}`;
    const reason = addressProblem(value);
    return reason === null ? null : `expected host:port, got ${showValue(value)}: ${reason}`;
  },
};

export const shardName: Check = {
  what: 'a shard name',
  problem(value) {
    if (typeof value !== 'string') return `expected a shard name (a string), got ${showValue(value)}`;
    if (value === '') return 'must not be empty: it is the master name clients ask for';
    if (value.length > MAX_SHARD_NAME_LENGTH) {
      return `is ${value.length} characters long; at most ${MAX_SHARD_NAME_LENGTH} are allowed`;
    }
    // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what we reject
    if (/[\u0000-\u001f\u007f]/.test(value))
      return `must not contain control characters, got ${showValue(value)}`;
    if (/\s/.test(value)) return `must not contain spaces, got ${showValue(value)}`;
    return null;
  },
};

function leaf<T>(check: Check) {
  return z.custom<T>().superRefine((value, ctx) => {
    const message = value === undefined ? `missing (expected ${check.what})` : check.problem(value);
    if (message !== null) ctx.addIssue({ code: 'custom', message });
  });
}

function table<S extends z.core.$ZodLooseShape>(shape: S, name: string) {
  return z
    .custom<unknown>(isTable, { error: (iss) => `expected a table ([${name}]), got ${showValue(iss.input)}` })
    .pipe(z.strictObject(shape));
}

function arrayOfTables<S extends z.core.$ZodLooseShape>(shape: S, name: string) {
  const entry = z
    .custom<unknown>(isTable, { error: (iss) => `expected a table, got ${showValue(iss.input)}` })
    .pipe(z.strictObject(shape));
  return z.array(entry, {
    error: (iss) =>
      isTable(iss.input)
        ? `expected an array of tables: write [[${name}]], not [${name}]`
        : `expected an array of tables ([[${name}]]), got ${showValue(iss.input)}`,
  });
}

const addressList = z
  .array(leaf<string>(address), {
    error: (iss) =>
      typeof iss.input === 'string'
        ? `expected an array of host:port strings, got ${showValue(iss.input)} (write [${showValue(iss.input)}])`
        : `expected an array of host:port strings, got ${showValue(iss.input)}`,
  })
  .superRefine((list, ctx) => {
    if (list.length === 0)
      ctx.addIssue({ code: 'custom', message: 'expected at least one host:port, got []' });
  });

export const raftShape = {
  listen: leaf<string>(address).optional(),
  advertise: leaf<string>(address).optional(),
  single: leaf<boolean>(boolean).optional(),
  join: addressList.optional(),
  role: leaf<(typeof MEMBER_ROLES)[number]>(oneOf(MEMBER_ROLES)).optional(),
  heartbeat_ms: leaf<number>(milliseconds).optional(),
  election_timeout_ms: leaf<number>(milliseconds).optional(),
  snapshot_every_entries: leaf<number>(integer(1, 100_000_000)).optional(),
};

export const sentinelShape = {
  listen: leaf<string>(address).optional(),
  advertise: leaf<string>(address).optional(),
  requirepass: leaf<string>(text({ secret: true })).optional(),
  deny_scripts_reconfig: leaf<boolean>(boolean).optional(),
  notification_script: leaf<string>(text({ what: 'the path of an executable file' })).optional(),
  client_reconfig_script: leaf<string>(text({ what: 'the path of an executable file' })).optional(),
};

export const adminShape = {
  listen: leaf<string>(address).optional(),
  token: leaf<string>(text({ secret: true })).optional(),
  metrics_listen: leaf<string>(address).optional(),
};

/** The check of a shard setting's value in [failover], from the settings table's bounds. */
export function settingCheck(spec: SettingSpec): Check {
  return integer(
    spec.min,
    spec.max,
    spec.max === MAX_TIMER_MS ? ' (the longest timer Node.js supports)' : '',
  );
}

export const failoverShape = {
  ...(Object.fromEntries(
    SHARD_SETTINGS.map((spec) => [spec.name, leaf<number>(settingCheck(spec)).optional()]),
  ) as { [K in SettingName]: z.ZodOptional<ReturnType<typeof leaf<number>>> }),
  failover_parallelism: leaf<number>(integer(1, MAX_FAILOVER_PARALLELISM)).optional(),
};

export const redisShape = {
  shard: leaf<string>(shardName),
  addr: leaf<string>(address),
  role: leaf<(typeof REDIS_ROLES)[number]>(oneOf(REDIS_ROLES)).optional(),
  priority: leaf<number>(integer(0, 2_147_483_647)).optional(),
  username: leaf<string>(text({ what: 'a non-empty string' })).optional(),
  password: leaf<string>(text({ secret: true })).optional(),
};

export const fileShape = {
  node_id: leaf<number>(nodeIdCheck).optional(),
  data_dir: leaf<string>(text({ what: 'a directory path' })).optional(),
  log_level: leaf<(typeof LOG_LEVELS)[number]>(oneOf(LOG_LEVELS)).optional(),
  raft: table(raftShape, 'raft').optional(),
  sentinel: table(sentinelShape, 'sentinel').optional(),
  admin: table(adminShape, 'admin').optional(),
  failover: table(failoverShape, 'failover').optional(),
  redis: arrayOfTables(redisShape, 'redis').optional(),
};

export const fileSchema = z.strictObject(fileShape);
export type FileConfig = z.infer<typeof fileSchema>;

/** Known keys of each table, by table path: "" (top level), "raft", ..., "redis[]" (array entries). */
export const KNOWN_KEYS: Readonly<Record<string, readonly string[]>> = {
  '': Object.keys(fileShape),
  raft: Object.keys(raftShape),
  sentinel: Object.keys(sentinelShape),
  admin: Object.keys(adminShape),
  failover: Object.keys(failoverShape),
  'redis[]': Object.keys(redisShape),
};

export type Path = readonly PropertyKey[];

/** `raft.heartbeat_ms`, `redis[1].addr`, `raft.join[0]`. */
export function dottedKey(path: Path): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out === '' ? String(part) : `.${String(part)}`;
  }
  return out;
}

/** The KNOWN_KEYS entry for the table at `path` (array indexes become "[]"). */
function tableName(path: Path): string {
  return path.map((p) => (typeof p === 'number' ? '[]' : String(p))).join('');
}

/** The "did you mean" part for an unknown key, or "" when nothing is close. */
export function suggestionFor(tablePath: Path, key: string): string {
  const known = KNOWN_KEYS[tableName(tablePath)] ?? [];
  const near = closestKeys(key, known).map((k) => dottedKey([...tablePath, k]));
  if (near.length === 0) {
    // The right key in the wrong table: `heartbeat_ms` at the top level means raft.heartbeat_ms.
    const wanted = normalizeKey(key);
    const elsewhere: string[] = [];
    for (const [name, keys] of Object.entries(KNOWN_KEYS)) {
      if (name === tableName(tablePath)) continue;
      const hit = keys.find((k) => normalizeKey(k) === wanted);
      if (hit === undefined) continue;
      if (name === '') elsewhere.push(`"${hit}" at the top level, above the first [table]`);
      else if (name === 'redis[]') elsewhere.push(`"${hit}" in a [[redis]] entry`);
      else elsewhere.push(`"${name}.${hit}"`);
    }
    if (elsewhere.length > 0) return `; did you mean ${alternatives(elsewhere)}?`;
    return '';
  }
  return `; did you mean ${quotedAlternatives(near)}?`;
}

/** One zod issue as problems (an unrecognized_keys issue lists several keys) and the paths it spoils. */
export function mapIssue(
  issue: z.core.$ZodIssue,
  source: string,
): { problems: ConfigProblem[]; bad: Path[] } {
  if (issue.code === 'unrecognized_keys') {
    const problems: ConfigProblem[] = [];
    const bad: Path[] = [];
    for (const key of issue.keys) {
      const full = dottedKey([...issue.path, key]);
      problems.push({
        source,
        key: full,
        text: `${source}: unknown key "${full}"${suggestionFor(issue.path, key)}`,
      });
      bad.push([...issue.path, key]);
    }
    return { problems, bad };
  }
  const key = issue.path.length === 0 ? '(top level)' : dottedKey(issue.path);
  return { problems: [keyProblem(source, key, issue.message)], bad: [issue.path] };
}

/**
 * The per-shard settings: ONE table, read by every path that names, checks or defaults a setting
 * (the config file's [failover] table, the admin API's `settings`, SENTINEL SET, SENTINEL MASTER
 * and the +set event, the CLI's `shard set`, the committed command codec). Each setting has its
 * camelCase key (ShardSettings), its snake_case name (config file, admin API, CLI), its Sentinel
 * name (SENTINEL SET, SENTINEL MASTER field, +set event), unit, bounds and default.
 *
 * And the rules that tie settings together (the timing rule): one pure function, called by the
 * config loader and, on the leader, before any settings change is proposed.
 *
 * Pure and light: no zod, no I/O (the CLI imports it without loading the daemon).
 */

/** The longest timer Node.js supports (2^31 - 1 ms, about 24.8 days); also the largest int32. */
export const MAX_TIMER_MS = 2_147_483_647;
const MAX_INT32 = 2_147_483_647;
/**
 * The least `min-replicas-max-lag` (s) of the write guard: replicas ACK once a second and Redis
 * counts the lag in whole seconds, so with 1 the lag of a healthy replica reads 2 now and then.
 */
export const GUARD_MAX_LAG_MIN_S = 2;

export type SettingUnit = 'ms' | 's' | 'bytes' | 'count';

export interface SettingSpec {
  /** ShardSettings key. */
  readonly key: string;
  /** Config file ([failover]), admin API and CLI name. */
  readonly name: string;
  /** SENTINEL SET option and SENTINEL MASTER field (raftinel's own settings: the name with dashes). */
  readonly sentinel: string;
  readonly unit: SettingUnit;
  /** Inclusive bounds; every value is an integer. */
  readonly min: number;
  readonly max: number;
  /**
   * The least value a committed command may hold when older versions accepted less than `min`
   * (replay must decode it; the setting's users lift it). Default: `min`.
   */
  readonly committedMin?: number;
  /**
   * The value of a command or snapshot committed before the setting existed (fixed forever: replay
   * must not change with the default). Absent: the setting was there from the start.
   */
  readonly absentCommitted?: number;
  readonly default: number;
  /** Not a Redis Sentinel setting: SENTINEL MASTER does not show it. */
  readonly raftinelOnly: boolean;
  /** One sentence, for --help. */
  readonly summary: string;
}

/**
 * The table. Order is the order of --help and of documentation. Adding a setting: a row here; the
 * command codec needs every key in a shard.create entry, so a new key also needs a fixed value for
 * entries committed before it existed (not this default: defaults may change, replay must not).
 */
export const SHARD_SETTINGS = [
  {
    key: 'downAfterMs',
    name: 'down_after_ms',
    sentinel: 'down-after-milliseconds',
    unit: 'ms',
    min: 1,
    max: MAX_TIMER_MS,
    default: 3000,
    raftinelOnly: false,
    summary: 'a master is down when a majority of voting daemons have seen it fail for this long',
  },
  {
    key: 'leaseMs',
    name: 'lease_ms',
    sentinel: 'lease-ms',
    unit: 'ms',
    min: 1,
    max: MAX_TIMER_MS,
    default: 2000,
    raftinelOnly: true,
    summary: 'a master whose daemon has lost the majority for this long is fenced',
  },
  {
    key: 'maxLagBytes',
    name: 'max_lag_bytes',
    sentinel: 'max-lag-bytes',
    unit: 'bytes',
    min: 0,
    max: Number.MAX_SAFE_INTEGER,
    default: 1_048_576,
    raftinelOnly: true,
    summary: 'an automatic failover does not promote a replica further behind than this',
  },
  {
    key: 'switchoverPauseMs',
    name: 'switchover_pause_ms',
    sentinel: 'switchover-pause-ms',
    unit: 'ms',
    min: 1,
    max: MAX_TIMER_MS,
    default: 2000,
    raftinelOnly: true,
    summary: 'longest write pause of a switchover before it is rolled back',
  },
  {
    key: 'failoverTimeoutMs',
    name: 'failover_timeout_ms',
    sentinel: 'failover-timeout',
    unit: 'ms',
    min: 1,
    max: MAX_TIMER_MS,
    default: 180_000,
    raftinelOnly: false,
    summary: "Sentinel's failover-timeout: also the pause before retrying a failed automatic failover",
  },
  {
    key: 'quorum',
    name: 'quorum',
    sentinel: 'quorum',
    unit: 'count',
    min: 1,
    max: MAX_INT32,
    default: 2,
    raftinelOnly: false,
    summary:
      'down votes a failover needs when more than a majority of voting daemons (Sentinel quorum; a quorum above the group is ignored)',
  },
  {
    key: 'parallelSyncs',
    name: 'parallel_syncs',
    sentinel: 'parallel-syncs',
    unit: 'count',
    min: 1,
    max: MAX_INT32,
    default: 1,
    raftinelOnly: false,
    summary: 'reported to Sentinel clients',
  },
  {
    key: 'minReplicasToWrite',
    name: 'min_replicas_to_write',
    sentinel: 'min-replicas-to-write',
    unit: 'count',
    min: 0,
    max: MAX_INT32,
    // The write guard (src/failover/fence.ts): the committed master runs with up to this many;
    // 0 turns the passive guard off (the fence still works while the daemon lives).
    default: 1,
    raftinelOnly: true,
    summary:
      "the master's min-replicas-to-write ceiling: the write guard that makes a cut-off master refuse writes with no daemon (0: off)",
  },
  {
    key: 'minReplicasMaxLagSeconds',
    name: 'min_replicas_max_lag',
    sentinel: 'min-replicas-max-lag',
    unit: 's',
    // Replicas ACK once a second and Redis counts the lag in whole seconds: with 1, a healthy
    // master with one replica refuses 6-10% of its writes (Redis 7.0, docs/BENCHMARKS.md), so 2 is
    // the least that only refuses when replicas really stop. A cut-off master refuses writes
    // within this + 2 s (fence.ts).
    min: GUARD_MAX_LAG_MIN_S,
    committedMin: 0,
    max: MAX_INT32,
    default: GUARD_MAX_LAG_MIN_S,
    raftinelOnly: true,
    summary: "the master's min-replicas-max-lag",
  },
  {
    key: 'masterRebootDownAfterMs',
    name: 'master_reboot_down_after_ms',
    sentinel: 'master-reboot-down-after-period',
    unit: 'ms',
    // Sentinel's master-reboot-down-after-period: a master seen restarting (a new run id) counts
    // as failing, from its restart, while it has not finished loading for this long (0: off).
    min: 0,
    max: MAX_TIMER_MS,
    default: 0,
    absentCommitted: 0,
    raftinelOnly: false,
    summary:
      'a master that restarted and is still loading this long after counts as failing, from its restart (0: off)',
  },
] as const satisfies readonly SettingSpec[];

export type SettingKey = (typeof SHARD_SETTINGS)[number]['key'];
export type SettingName = (typeof SHARD_SETTINGS)[number]['name'];
/** A shard's settings: every key of the table, an integer within its bounds. */
export type ShardSettings = { [K in SettingKey]: number };

function buildIndex(): ReadonlyMap<string, SettingSpec> {
  const index = new Map<string, SettingSpec>();
  for (const spec of SHARD_SETTINGS) {
    for (const spelling of [spec.key, spec.name, spec.sentinel]) {
      const k = normalize(spelling);
      const other = index.get(k);
      if (other !== undefined && other !== spec)
        throw new Error(`settings table: "${spelling}" names both ${other.key} and ${spec.key}`);
      index.set(k, spec);
    }
    if (!(spec.min <= spec.default && spec.default <= spec.max && Number.isSafeInteger(spec.max)))
      throw new Error(`settings table: the bounds or the default of ${spec.key} are wrong`);
  }
  return index;
}

/** Case, dashes and underscores do not matter: `down-after-milliseconds`, `DOWN_AFTER_MS`. */
function normalize(name: string): string {
  return name.toLowerCase().replaceAll('-', '_');
}

const BY_ANY_NAME = buildIndex();

export const DEFAULT_SHARD_SETTINGS: Readonly<ShardSettings> = Object.freeze(
  Object.fromEntries(SHARD_SETTINGS.map((s) => [s.key, s.default])) as ShardSettings,
);

/**
 * Settings as a snapshot or an old command holds them, with every setting added since filled in
 * with its fixed `absentCommitted` value.
 */
export function withAbsentSettings(s: Partial<ShardSettings>): ShardSettings {
  const out = { ...s } as Record<string, number>;
  for (const spec of SHARD_SETTINGS as readonly SettingSpec[])
    if (out[spec.key] === undefined && spec.absentCommitted !== undefined)
      out[spec.key] = spec.absentCommitted;
  return out as ShardSettings;
}

export function settingSpec(key: SettingKey): SettingSpec {
  const spec = SHARD_SETTINGS.find((s) => s.key === key);
  if (spec === undefined) throw new Error(`no setting ${key}`);
  return spec;
}

/** The setting named `name` in any of its spellings (key, name, Sentinel name), or undefined. */
export function findSetting(name: string): SettingSpec | undefined {
  return BY_ANY_NAME.get(normalize(name));
}

/** The setting named by its SENTINEL SET option (case-insensitive), or undefined. */
export function findSentinelSetting(option: string): SettingSpec | undefined {
  const lower = option.toLowerCase();
  return SHARD_SETTINGS.find((s) => s.sentinel === lower);
}

/** `a positive integer`, `a non-negative integer`. */
export function settingWhat(spec: SettingSpec): string {
  const base =
    spec.min === 1 ? 'a positive integer' : spec.min === 0 ? 'a non-negative integer' : 'an integer';
  const unit = spec.unit === 'count' ? '' : ` (${spec.unit})`;
  return `${base}${unit} from ${spec.min} to ${spec.max}`;
}

/** Why `value` is not a valid value of `spec`, or null. */
export function settingValueProblem(spec: SettingSpec, value: unknown): string | null {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < spec.min || value > spec.max)
    return `expected ${settingWhat(spec)}, got ${typeof value === 'string' ? JSON.stringify(value) : String(value)}`;
  return null;
}

export interface SettingsInputProblem {
  /** The name as given. */
  name: string;
  message: string;
}

/**
 * Settings given by name in any spelling (`down_after_ms`, `down-after-milliseconds`,
 * `downAfterMs`): the valid ones by key, and a problem for each unknown name, bad value or setting
 * named twice.
 */
export function parseSettingsInput(input: Readonly<Record<string, unknown>>): {
  settings: Partial<ShardSettings>;
  problems: SettingsInputProblem[];
} {
  const settings: Partial<ShardSettings> = {};
  const problems: SettingsInputProblem[] = [];
  const givenAs = new Map<SettingKey, string>();
  for (const [name, value] of Object.entries(input)) {
    const spec = findSetting(name);
    if (spec === undefined) {
      problems.push({ name, message: `unknown setting; known: ${settingNames().join(', ')}` });
      continue;
    }
    const key = spec.key as SettingKey;
    const before = givenAs.get(key);
    if (before !== undefined) {
      problems.push({ name, message: `names the same setting as "${before}"` });
      continue;
    }
    givenAs.set(key, name);
    const problem = settingValueProblem(spec, value);
    if (problem !== null) problems.push({ name, message: problem });
    else settings[key] = value as number;
  }
  return { settings, problems };
}

/** The snake_case names, in table order. */
export function settingNames(): string[] {
  return SHARD_SETTINGS.map((s) => s.name);
}

/**
 * A new shard's settings: `given` where it holds a valid value (a peer's registration may come from
 * an older version without some keys), the table's default elsewhere.
 */
export function defaultSettings(given: Readonly<Partial<Record<SettingKey, unknown>>> = {}): ShardSettings {
  const out = { ...DEFAULT_SHARD_SETTINGS };
  for (const spec of SHARD_SETTINGS) {
    const v = given[spec.key];
    if (v !== undefined && settingValueProblem(spec, v) === null) out[spec.key] = v as number;
  }
  return out;
}

/** The settings as snake_case name -> value (admin API bodies, job records). */
export function settingsByName(s: Readonly<Partial<ShardSettings>>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const spec of SHARD_SETTINGS) {
    const v = s[spec.key];
    if (v !== undefined) out[spec.name] = v;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Rules across settings (and the Raft election timeout)

export type SettingsRule = 'lease-covers-election' | 'fenced-before-promotion';
/** What a rule reads: two shard settings and the daemon's raft.election_timeout_ms. */
export type RuleInput = 'leaseMs' | 'downAfterMs' | 'electionTimeoutMs';

export interface RuleViolation {
  rule: SettingsRule;
  /** The inputs involved, the one to blame first. */
  inputs: readonly RuleInput[];
  values: Readonly<Partial<Record<RuleInput, number>>>;
  message: string;
}

/** How a path names the inputs in messages. */
export interface RuleNaming {
  /** `failover.lease_ms (2000, the default)`, `lease-ms (2000)`. */
  label(input: RuleInput, value: number): string;
  /** The bare name, for advice: `lease_ms`, `lease-ms`. */
  name(input: RuleInput): string;
}

/** Names as the admin API and the CLI spell them (`snake`), or as SENTINEL SET does. */
export function ruleNaming(spelling: 'snake' | 'sentinel'): RuleNaming {
  const name = (input: RuleInput): string =>
    input === 'electionTimeoutMs'
      ? 'raft.election_timeout_ms'
      : spelling === 'snake'
        ? settingSpec(input).name
        : settingSpec(input).sentinel;
  return { name, label: (input, value) => `${name(input)} (${value})` };
}

/**
 * The rules that tie settings together, for one shard on a daemon whose Raft election timeout is
 * `electionTimeoutMs` (a rule whose inputs are not all given is not checked):
 *  - lease_ms >= election_timeout_ms: during an election no daemon hears from a leader;
 *  - lease_ms + election_timeout_ms <= down_after_ms (the timing rule): a master cut off from the
 *    majority is fenced before the majority can declare it down and promote another.
 */
export function settingsRuleViolations(
  s: { leaseMs?: number | undefined; downAfterMs?: number | undefined },
  electionTimeoutMs: number | undefined,
  naming: RuleNaming = ruleNaming('snake'),
): RuleViolation[] {
  const out: RuleViolation[] = [];
  const et = electionTimeoutMs;
  const ls = s.leaseMs;
  const da = s.downAfterMs;
  if (et !== undefined && ls !== undefined && ls < et) {
    out.push({
      rule: 'lease-covers-election',
      inputs: ['leaseMs', 'electionTimeoutMs'],
      values: { leaseMs: ls, electionTimeoutMs: et },
      message:
        `${naming.label('leaseMs', ls)} must be at least ${naming.label('electionTimeoutMs', et)}: during a ` +
        'Raft election no daemon hears from a leader, so a shorter lease would fence every master ' +
        'whenever the leader changes',
    });
  }
  if (et !== undefined && ls !== undefined && da !== undefined && ls + et > da) {
    out.push({
      rule: 'fenced-before-promotion',
      inputs: ['leaseMs', 'downAfterMs', 'electionTimeoutMs'],
      values: { leaseMs: ls, electionTimeoutMs: et, downAfterMs: da },
      message:
        `${naming.label('leaseMs', ls)} + ${naming.label('electionTimeoutMs', et)} = ${ls + et} must be at ` +
        `most ${naming.label('downAfterMs', da)}: a master cut off from the majority must be fenced before ` +
        'the majority can declare it down and promote another ' +
        `(lower ${naming.name('leaseMs')} or ${naming.name('electionTimeoutMs')}, or raise ${naming.name('downAfterMs')})`,
    });
  }
  return out;
}

/** A settings change that would break a rule (a domain error: each path answers it its own way). */
export class SettingsRuleError extends Error {
  constructor(readonly violations: readonly RuleViolation[]) {
    super(violations.map((v) => v.message).join('; '));
    this.name = 'SettingsRuleError';
  }

  get rules(): SettingsRule[] {
    return this.violations.map((v) => v.rule);
  }
}

/**
 * A shard's settings after `change`, checked against the rules with the deciding daemon's
 * election timeout. Throws SettingsRuleError when the result breaks a rule the current settings
 * keep: a change never makes a shard less safe, while a change that leaves an (older) violation
 * as it is, e.g. a new quorum, is accepted.
 */
export function changeSettings(
  current: Readonly<ShardSettings>,
  change: Readonly<Partial<ShardSettings>>,
  electionTimeoutMs: number,
  naming: RuleNaming = ruleNaming('snake'),
): ShardSettings {
  if (!(Number.isSafeInteger(electionTimeoutMs) && electionTimeoutMs > 0))
    throw new Error(`changeSettings: electionTimeoutMs must be a positive integer, got ${electionTimeoutMs}`);
  const next = { ...current, ...change };
  const before = new Set(settingsRuleViolations(current, electionTimeoutMs).map((v) => v.rule));
  const touched = change.leaseMs !== undefined || change.downAfterMs !== undefined;
  const broken = settingsRuleViolations(next, electionTimeoutMs, naming).filter(
    (v) => !before.has(v.rule) || (touched && !improves(v.rule, current, next)),
  );
  if (broken.length > 0) throw new SettingsRuleError(broken);
  return next;
}

/** Does `next` move a broken rule towards holding (so that a fix in two steps is possible)? */
function improves(rule: SettingsRule, current: ShardSettings, next: ShardSettings): boolean {
  if (rule === 'lease-covers-election') return next.leaseMs >= current.leaseMs;
  return next.leaseMs - next.downAfterMs <= current.leaseMs - current.downAfterMs;
}

/** The settings of a new shard, `given` over `defaults`, checked against the rules. */
export function newShardSettings(
  defaults: Readonly<ShardSettings>,
  given: Readonly<Partial<ShardSettings>>,
  electionTimeoutMs: number,
  naming: RuleNaming = ruleNaming('snake'),
): ShardSettings {
  const next = { ...defaults, ...given };
  const broken = settingsRuleViolations(next, electionTimeoutMs, naming);
  if (broken.length > 0) throw new SettingsRuleError(broken);
  return next;
}

/**
 * A daemon's configuration after loading: the TOML file (see docs/CONFIGURATION.md) merged with
 * command-line flags and defaults, validated. Field names are the TOML keys in camelCase; times
 * carry their unit in the name. Addresses are `host:port` strings (IPv6 hosts in brackets); split
 * them with `parseAddress` from ./address.js.
 */
import { DEFAULT_SHARD_SETTINGS, MAX_TIMER_MS, type ShardSettings } from '../cluster/settings.js';
import type { MemberRole } from '../raft/types.js';

export { MAX_TIMER_MS };

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export const MEMBER_ROLES = ['voter', 'learner', 'witness'] as const satisfies readonly MemberRole[];

/** replica: promotable. observer: replicates data, never promoted. */
export const REDIS_ROLES = ['replica', 'observer'] as const;
export type RedisRole = (typeof REDIS_ROLES)[number];

export interface RaftConfig {
  /** gRPC listen address: Raft and the cluster service. */
  listen: string;
  /** The address other daemons dial: `advertise` from the file, else `listen`. Never a wildcard. */
  advertise: string;
  /** Bootstrap a one-node group if data_dir holds no Raft state; ignored afterwards. */
  single: boolean;
  /** Join an existing group through any of these members; empty when not joining. */
  join: string[];
  role: MemberRole;
  heartbeatMs: number;
  electionTimeoutMs: number;
  /** Take a snapshot of the replicated state (and compact the log) every this many entries. */
  snapshotEveryEntries: number;
}

export interface SentinelConfig {
  /** Redis Sentinel protocol listen address. */
  listen: string;
  /**
   * The address this daemon reports to clients as a Sentinel (SENTINEL SENTINELS, hello events):
   * `advertise` from the file, else `listen`, else (when `listen` is a wildcard) the host of
   * raft.advertise with the port of `listen`. Never a wildcard.
   */
  advertise: string;
  /** Password clients must AUTH with; undefined = no AUTH. */
  requirepass?: string;
  /** Sentinel's `deny-scripts-reconfig`: SENTINEL SET of a script path is refused (default true). */
  denyScriptsReconfig: boolean;
  /** Scripts this daemon runs for shards that have none of their own (absolute paths). */
  notificationScript?: string;
  clientReconfigScript?: string;
}

export interface AdminConfig {
  /** HTTP admin API listen address (and /metrics unless metricsListen is set). */
  listen: string;
  /** Bearer token for mutating calls; undefined = none. */
  token?: string;
  /** Separate listen address for /metrics only; undefined = /metrics is served on `listen`. */
  metricsListen?: string;
}

/**
 * [failover]: defaults for every shard (per shard they can be changed at run time), one key per
 * row of the settings table (src/cluster/settings.ts, where each is described), plus the leader's
 * failover parallelism.
 */
export interface FailoverConfig extends ShardSettings {
  /** How many shards the leader fails over at the same time. */
  failoverParallelism: number;
}

/** One Redis server this daemon sits beside. */
export interface RedisConfig {
  /** The Sentinel master name of its shard, e.g. `mymaster`. */
  shard: string;
  addr: string;
  role: RedisRole;
  /** replica-priority semantics: lower wins, 0 = never promoted. */
  priority: number;
  username?: string;
  password?: string;
}

export interface NodeConfig {
  /** Absolute path of the config file, or undefined when started without one. */
  file?: string;
  nodeId: number;
  /** Absolute path. */
  dataDir: string;
  logLevel: LogLevel;
  raft: RaftConfig;
  sentinel: SentinelConfig;
  admin: AdminConfig;
  failover: FailoverConfig;
  /** Empty for a witness. */
  redis: RedisConfig[];
}

/** Command-line flags of `raftinel start` that override the file. */
export interface ConfigFlags {
  single?: boolean;
  /** `--join a:1,b:2`: an array of addresses; comma-separated items are split. */
  join?: string[] | string;
  /** A number, or the flag's text (digits). */
  nodeId?: number | string;
  /** Resolved against the working directory, not the config file's directory. */
  dataDir?: string;
  logLevel?: string;
}

export interface LoadConfigOptions {
  /** Path of the TOML file, as the user gave it (error messages quote it as is). */
  file?: string;
  flags?: ConfigFlags;
  /** Working directory for relative paths; default process.cwd(). */
  cwd?: string;
}

/** Defaults, in TOML terms. node_id and single depend on whether a config file is given. */
export const DEFAULTS = {
  nodeId: 1,
  dataDir: './raftinel-data',
  logLevel: 'info',
  raft: {
    listen: '127.0.0.1:27379',
    role: 'voter',
    heartbeatMs: 100,
    electionTimeoutMs: 1000,
    snapshotEveryEntries: 10_000,
  },
  sentinel: { listen: '127.0.0.1:26379', denyScriptsReconfig: true },
  admin: { listen: '127.0.0.1:28379' },
  failover: { ...DEFAULT_SHARD_SETTINGS, failoverParallelism: 4 },
  redis: { shard: 'mymaster', addr: '127.0.0.1:6379', role: 'replica', priority: 100 },
} as const;

/** Largest node id: fits every integer type a wire format might use for it. */
export const MAX_NODE_ID = 2_147_483_647;
export const MAX_SHARD_NAME_LENGTH = 128;
export const MAX_FAILOVER_PARALLELISM = 1024;
/** Election timeout must be at least this many heartbeats (the rule etcd enforces too). */
export const MIN_HEARTBEATS_PER_ELECTION = 5;

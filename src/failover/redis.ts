/**
 * How the failover code talks to Redis: an injected adapter, so the decisions can be tested with
 * a model and the daemon uses ioredis. INFO parsing is pure and lives here too.
 */

/** A Redis server as the engine addresses it, with the credentials to use. */
export interface RedisRef {
  addr: string;
  username?: string | undefined;
  password?: string | undefined;
}

/** The INFO fields the engine uses. */
export interface RedisInfo {
  runId: string;
  role: 'master' | 'slave';
  /** Replicas: where they replicate from. */
  masterHost: string | null;
  masterPort: number | null;
  masterLinkUp: boolean;
  /** Seconds the link has been down (replicas), -1 when up or unknown. */
  masterLinkDownSinceSeconds: number;
  syncInProgress: boolean;
  /** The replication offset: master_repl_offset on a master, slave_repl_offset on a replica. */
  offset: number;
  /**
   * master_replid: the replication history this server holds. A master's own id; a replica that
   * completed a sync takes its master's id; a replica that never reached its master keeps a random
   * id of its own (Redis 7.0 then reports slave_repl_offset:1), so this, not the offset, says
   * whether a replica has synced from a given master (see decide.ts).
   */
  replId: string;
  /** master_replid2: the history this server continued from when it was promoted ('' when none). */
  replId2: string;
  /** second_repl_offset: the first offset of replId's history that replId2 does not cover (-1: none). */
  secondReplOffset: number;
  /**
   * Replicas connected to a master, as it reports them (`slaveN:ip=,port=,state=,offset=,lag=`):
   * `host` is the address the master sees (or the replica's `replica-announce-ip`), `port` its
   * listening port (`replica-announce-port`). How Sentinel discovers replicas (discovery.ts).
   */
  connectedReplicas: { host: string; port: number; state: string; offset: number }[];
  /**
   * A replica's `replica-priority` (INFO calls it `slave_priority`, Redis 7.0 too): lower wins, 0 =
   * never promoted. Undefined or null when not reported (a master reports none).
   */
  slavePriority?: number | null;
  /**
   * A replica's `replica-announced` (INFO `replica_announced`, Redis 6.2+): false hides it from
   * SENTINEL REPLICAS. Undefined or null when not reported (a master, or an older Redis).
   */
  replicaAnnounced?: boolean | null;
  /** Keys in all databases. */
  keys: number;
  loading: boolean;
  /**
   * rdb_last_load_keys_loaded (Redis 7.0+; null when not reported): keys of the last RDB loaded, at
   * startup or by a full sync. 0 right after a restart with no AOF: the server loaded nothing.
   */
  rdbLastLoadKeys: number | null;
  /** aof_enabled: the server loads its AOF at startup (rdbLastLoadKeys then says nothing). */
  aofEnabled: boolean;
  /** Path of the config file, empty when the server was started without one. */
  configFile: string;
  uptimeSeconds: number;
  /** min-replicas-to-write is met? (undefined when not reported) */
  minSlavesGoodSlaves: number | null;
  /** The INFO text as the server sent it (SENTINEL INFO-CACHE). */
  raw: string;
}

export class RedisCommandError extends Error {
  constructor(
    readonly addr: string,
    message: string,
  ) {
    super(`${addr}: ${message}`);
    this.name = 'RedisCommandError';
  }
}

export interface RedisAdapter {
  /** Resolves when the server answered PING acceptably (PONG, LOADING, MASTERDOWN); rejects otherwise. */
  ping(node: RedisRef, timeoutMs: number): Promise<void>;
  info(node: RedisRef, timeoutMs: number): Promise<RedisInfo>;
  /**
   * Change a server's role in one transaction, as Sentinel does: REPLICAOF (NO ONE or target),
   * with a promotion also `CONFIG SET min-replicas-to-write 0` (a new master has no replicas yet,
   * and a fence left on it must not outlive the committed decision to promote it; the write guard
   * is raised again by the group, see fence.ts),
   * CONFIG REWRITE when it has a config file, CLIENT KILL TYPE normal and pubsub, so clients
   * reconnect and re-resolve the master. Resolves with INFO read right after, on the same
   * connection (which CLIENT KILL skips). `killClients: false` leaves the clients connected (the
   * switchover closes them only once the new master is committed and named).
   */
  reconfigure(
    node: RedisRef,
    target: string | null,
    opts: { rewriteConfig: boolean; timeoutMs: number; killClients?: boolean },
  ): Promise<RedisInfo>;
  /** CLIENT PAUSE ms WRITE. */
  pauseWrites(node: RedisRef, ms: number, timeoutMs: number): Promise<void>;
  /** CLIENT UNPAUSE. */
  unpause(node: RedisRef, timeoutMs: number): Promise<void>;
  /**
   * CONFIG SET each parameter in order, one per call (Redis 6.2 takes one at a time), in one
   * MULTI; then CONFIG REWRITE when `rewrite` (the server has a config file), so a restart keeps
   * them. Rejects when any CONFIG SET fails; a failed rewrite is logged, not thrown.
   */
  configSet(
    node: RedisRef,
    params: readonly (readonly [string, string])[],
    timeoutMs: number,
    opts?: { rewrite?: boolean },
  ): Promise<void>;
  /** Drop cached connections to a server (it was removed, or its credentials changed). */
  forget(addr: string): void;
  /**
   * Is the connection probes use to `addr` up right now (null: none yet)? Event-driven: false as
   * soon as the server closes it (a kill -9), where a failed probe takes a probe timeout.
   */
  linkUp?(addr: string): boolean | null;
  close(): Promise<void>;
}

function num(v: string | undefined, dflt = 0): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  return Number.isFinite(n) ? n : dflt;
}

/** A non-negative integer, or null (absent or malformed: unknown, not a default). */
function intOrNull(v: string | undefined): number | null {
  if (v === undefined || !/^\d+$/.test(v)) return null;
  const n = Number(v);
  return Number.isSafeInteger(n) ? n : null;
}

/** Parse the text of INFO (any sections) into the fields the engine uses. */
export function parseInfo(text: string): RedisInfo {
  const f = new Map<string, string>();
  let keys = 0;
  const replicas: RedisInfo['connectedReplicas'] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const i = line.indexOf(':');
    if (i < 0) continue;
    const k = line.slice(0, i);
    const v = line.slice(i + 1);
    if (/^db\d+$/.test(k)) {
      const m = /keys=(\d+)/.exec(v);
      if (m) keys += Number(m[1]);
      continue;
    }
    if (/^slave\d+$/.test(k)) {
      const kv = new Map(v.split(',').map((p) => p.split('=') as [string, string]));
      replicas.push({
        host: kv.get('ip') ?? '',
        port: num(kv.get('port')),
        state: kv.get('state') ?? '',
        offset: num(kv.get('offset')),
      });
      continue;
    }
    f.set(k, v);
  }
  const role = f.get('role') === 'slave' ? 'slave' : 'master';
  const linkDown = num(f.get('master_link_down_since_seconds'), -1);
  return {
    runId: f.get('run_id') ?? '',
    role,
    masterHost: role === 'slave' ? (f.get('master_host') ?? null) : null,
    masterPort: role === 'slave' ? num(f.get('master_port')) : null,
    masterLinkUp: role === 'slave' && f.get('master_link_status') === 'up',
    masterLinkDownSinceSeconds: linkDown,
    syncInProgress: f.get('master_sync_in_progress') === '1',
    offset: role === 'slave' ? num(f.get('slave_repl_offset')) : num(f.get('master_repl_offset')),
    replId: f.get('master_replid') ?? '',
    // Redis reports 40 zeros when there is no previous history.
    replId2: /^0+$/.test(f.get('master_replid2') ?? '') ? '' : (f.get('master_replid2') ?? ''),
    secondReplOffset: num(f.get('second_repl_offset'), -1),
    connectedReplicas: replicas,
    keys,
    loading: f.get('loading') === '1',
    rdbLastLoadKeys: f.has('rdb_last_load_keys_loaded') ? num(f.get('rdb_last_load_keys_loaded')) : null,
    aofEnabled: f.get('aof_enabled') === '1',
    configFile: f.get('config_file') ?? '',
    uptimeSeconds: num(f.get('uptime_in_seconds')),
    minSlavesGoodSlaves: f.has('min_slaves_good_slaves') ? num(f.get('min_slaves_good_slaves')) : null,
    // Only a replica's own values mean anything (Sentinel reads them only from role:slave INFO).
    slavePriority: role === 'slave' && f.has('slave_priority') ? intOrNull(f.get('slave_priority')) : null,
    replicaAnnounced:
      role === 'slave' && f.has('replica_announced') ? f.get('replica_announced') !== '0' : null,
    raw: text,
  };
}

/**
 * Does this server hold none of any replication history's data? Empty, or (Redis 7.0+) it
 * loaded nothing when it started (no RDB, no AOF) and has not synced or been promoted since:
 * whatever keys it holds were written after it started, so a restart that lost the dataset is
 * recognised even when a client wrote before any daemon looked.
 */
export function holdsNoHistory(info: RedisInfo): boolean {
  if (info.loading) return false;
  if (info.keys === 0) return true;
  return info.role === 'master' && !info.aofEnabled && info.rdbLastLoadKeys === 0 && info.replId2 === '';
}

/** "host:port" of where a replica replicates from, or null. */
export function upstreamOf(info: RedisInfo): string | null {
  return info.role === 'slave' && info.masterHost ? `${info.masterHost}:${info.masterPort}` : null;
}

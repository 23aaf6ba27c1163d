/**
 * The Sentinel-specific commands of the Sentinel port: SENTINEL <subcommand>, ROLE, INFO's
 * sentinel section, PUBLISH. Replies follow Redis Sentinel's shapes, field order, flag tokens and
 * error texts (see ../shared/reference/sentinel-protocol.md); the state comes from the committed
 * cluster state plus what this daemon's prober sees.
 *
 * Promise 2: a daemon that has lost the group's majority stops naming masters within an election
 * timeout, in the way each client library reads as "ask another Sentinel":
 *  - GET-MASTER-ADDR-BY-NAME answers a null array (ioredis, Jedis, go-redis, Lettuce, redis-cli);
 *  - SENTINEL MASTERS flags every master s_down,disconnected (redis-py's discover_master skips a
 *    master that is s_down and goes to its next sentinel; an error would escape it instead);
 *  - SENTINEL MASTER <name> answers a -NOQUORUM error: node-redis (lib/sentinel/index.ts observe())
 *    moves to its next sentinel only when one of its queries fails, while a master record it
 *    rejects (s_down) makes it retry the same sentinel every second for as long as it is cut off.
 */
import {
  changeSettings,
  findSentinelSetting,
  ruleNaming,
  type SettingKey,
  SettingsRuleError,
  type ShardSettings,
  settingSpec,
  settingsByName,
  settingValueProblem,
} from '../cluster/settings.js';
import type { Shard, ShardNode, ShardScripts } from '../cluster/shards.js';
import { parseAddress } from '../config/address.js';
import type { CommandSpec } from './command-table.js';
import { ReplyError } from './command-table.js';
import type { InfoSection } from './commands-generic.js';
import { R, type Reply } from './resp.js';
import type { PendingScript } from './scripts.js';
import { SentinelConfig } from './sentinel-config.js';
import type { SentinelServer } from './server.js';

/** What this daemon sees of a Redis node (from its prober). */
export interface SeenNode {
  failing: boolean;
  /** Connected (a failing node may still be connected, e.g. stopped with SIGSTOP). */
  connected: boolean;
  downForMs: number;
  msSinceOk: number;
  runId: string;
  role: 'master' | 'slave' | null;
  msSinceRoleChange: number;
  msSinceInfo: number;
  masterHost: string | null;
  masterPort: number | null;
  linkUp: boolean;
  linkDownMs: number;
  offset: number;
  rawInfo: string | null;
}

export interface PeerSentinel {
  runId: string;
  addr: string;
  connected: boolean;
  msSinceContact: number;
}

export type SetResult = { ok: true } | { ok: false; error: string };

export interface SentinelCommandsOptions {
  /** This daemon's raft.election_timeout_ms, for SENTINEL SET's check of the timing rule. */
  electionTimeoutMs?: number;
  /** This daemon's log level (pino's name), for SENTINEL CONFIG GET loglevel. */
  logLevel?: () => string;
}

/** What the Sentinel commands need from the daemon. */
export interface SentinelBackend {
  myId(): string;
  /** This daemon is in contact with the group's majority (its view is authoritative). */
  fresh(): boolean;
  /**
   * While this daemon, just started, has not yet heard from the group (it holds no lease) and a
   * bounded wait is not over: a promise of the end of that wait ("cut off" would not be true yet,
   * only "not yet in touch"). Afterwards null, so the commands that name masters stay
   * synchronous on their hot path. Absent: no wait.
   */
  unsettled?(): Promise<void> | null;
  shards(): Shard[];
  seen(addr: string): SeenNode | null;
  /**
   * Check the link to `addr` now (a PING): false when the connection turns out closed. The probes'
   * view can lag the moment the master died by a loaded event loop's turn, and a node-redis that
   * re-resolves at once after losing its own connection would connect to the dead master.
   */
  confirmLink?(addr: string): Promise<boolean | null>;
  /** o_down: a majority found the master down (a failover of it is under way). */
  objectivelyDown(shard: Shard): boolean;
  failoverState(shard: Shard): string | null;
  peers(): PeerSentinel[];
  votingMembers(): number;
  /** Voting members this daemon can reach, itself included. */
  usableVoters(): number;
  monitor(name: string, addr: string, quorum: number): Promise<SetResult>;
  remove(name: string): Promise<SetResult>;
  /** Was a shard of this name removed (and not created again) since this daemon started? */
  wasRemoved?(name: string): boolean;
  set(
    name: string,
    settings: Record<string, number>,
    auth: { username?: string; password?: string } | null,
    scripts?: ShardScripts | null,
  ): Promise<SetResult>;
  /** This daemon's `[sentinel] deny_scripts_reconfig`: SENTINEL SET of script paths is refused. */
  scriptsReconfigDenied?(): boolean;
  /** Whether `path` names a file this daemon may execute (Sentinel's access(X_OK) check). */
  scriptExecutable?(path: string): boolean;
  /** SENTINEL PENDING-SCRIPTS: this daemon's script runs, waiting or running. */
  pendingScripts?(): PendingScript[];
  /** SENTINEL DEBUG for a timer the daemon honours (script-max-runtime, ...): false if ignored. */
  setTimer?(name: string, valueMs: number): boolean;
  /** A zero-loss switchover when the master answers, else the best replica: throws ReplyError. */
  failover(name: string): Promise<void>;
  /** Emitted for RESET: the number of masters matched. */
  reset(pattern: string): number;
  timers(): [string, number][];
}

/** Sentinel's refusal of SENTINEL SET ... notification-script / client-reconfig-script. */
export const SCRIPTS_DENIED =
  'Reconfiguration of scripts path is denied for security reasons. Check the deny-scripts-reconfig configuration directive in your Sentinel configuration';

const HELP = [
  'SENTINEL <subcommand> [<arg> [value] [opt] ...]. Subcommands are:',
  'CKQUORUM <master-name>',
  '    Check if the current Sentinel configuration is able to reach the quorum',
  '    needed to failover a master and the majority needed to authorize the',
  '    failover.',
  'CONFIG SET <param> <value>',
  '    Set a global Sentinel configuration parameter.',
  'CONFIG GET <param>',
  '    Get global Sentinel configuration parameter.',
  'DEBUG [<param> <value> ...]',
  '    Show a list of configurable time parameters and their values (milliseconds).',
  '    Or update current configurable parameters values (one or more).',
  'GET-MASTER-ADDR-BY-NAME <master-name>',
  '    Return the ip and port number of the master with that name.',
  'FAILOVER <master-name>',
  '    Fail over a master: a switchover without losing acknowledged writes when the',
  '    master answers, else promote the best replica (raftinel).',
  'FLUSHCONFIG',
  '    Force Sentinel to rewrite its configuration on disk, including the current',
  '    Sentinel state.',
  'INFO-CACHE <master-name>',
  '    Return last cached INFO output from masters and all its replicas.',
  'IS-MASTER-DOWN-BY-ADDR <ip> <port> <current-epoch> <runid>',
  "    Check if the master specified by ip:port is down from current Sentinel's",
  '    point of view.',
  'MASTER <master-name>',
  '    Show the state and info of the specified master.',
  'MASTERS',
  '    Show a list of monitored masters and their state.',
  'MONITOR <name> <ip> <port> <quorum>',
  '    Start monitoring a new master with the specified name, ip, port and quorum.',
  'MYID',
  '    Return the ID of the Sentinel instance.',
  'PENDING-SCRIPTS',
  '    Get pending scripts information.',
  'REMOVE <master-name>',
  "    Remove master from Sentinel's monitor list.",
  'REPLICAS <master-name>',
  '    Show a list of replicas for this master and their state.',
  'RESET <pattern>',
  '    Reset masters for specific master name matching this pattern.',
  'SENTINELS <master-name>',
  '    Show a list of Sentinel instances for this master and their state.',
  'SET <master-name> <option> <value> [<option> <value> ...]',
  '    Set configuration parameters for certain masters.',
  'SIMULATE-FAILURE [CRASH-AFTER-ELECTION] [CRASH-AFTER-PROMOTION] [HELP]',
  '    Simulate a Sentinel crash.',
  'HELP',
  '    Prints this help.',
];

const NO_SUCH_MASTER = 'No such master with that name';
/** SENTINEL MASTER on a daemon cut off from the majority (see the header). */
export const CUT_OFF =
  'NOQUORUM this Sentinel is cut off from the majority of its group and names no master: ask another Sentinel';

/** `answer()` now, or once a just-started daemon has settled (SentinelBackend.unsettled). */
function afterSettling(b: SentinelBackend, answer: () => Reply): Reply | Promise<Reply> {
  const wait = b.unsettled?.();
  return wait ? wait.then(answer) : answer();
}

function splitAddr(addr: string): { ip: string; port: number } {
  const { host, port } = parseAddress(addr);
  return { ip: host, port };
}

/** A Sentinel instance record: RESP3 map, RESP2 flat array, all values bulk strings. */
function record(fields: [string, string | number][]): Reply {
  return R.stringMap(fields);
}

export class SentinelCommands {
  private readonly config: SentinelConfig;
  private simulateFailureFlags = 0;

  constructor(
    private readonly b: SentinelBackend,
    private readonly opts: SentinelCommandsOptions = {},
  ) {
    this.config = new SentinelConfig(opts.logLevel ? { logLevel: opts.logLevel } : {});
  }

  /**
   * SENTINEL SET's check of the rules across settings (the timing rule) against this daemon's
   * view of the shard, so that the refusal names Sentinel's option names. The leader checks the
   * same rules again before proposing (its view is the committed one).
   */
  private checkRules(s: Shard, change: Partial<ShardSettings>): void {
    const et = this.opts.electionTimeoutMs;
    if (et === undefined) return;
    try {
      changeSettings(s.settings, change, et, ruleNaming('sentinel'));
    } catch (err) {
      if (!(err instanceof SettingsRuleError)) throw err;
      throw ReplyError.err(`SENTINEL SET ${s.name} refused: ${err.message}`);
    }
  }

  private shard(name: string): Shard {
    const s = this.b.shards().find((x) => x.name === name);
    if (!s) throw ReplyError.err(NO_SUCH_MASTER);
    return s;
  }

  /** Shared leading fields of every record (name..down-after-milliseconds). */
  private commonFields(
    name: string,
    addr: string,
    runId: string,
    flags: string[],
    seen: SeenNode | null,
    downAfterMs: number,
    extra: { failoverState?: string | null; oDownMs?: number | null },
  ) {
    const { ip, port } = splitAddr(addr);
    const f: [string, string | number][] = [
      ['name', name],
      ['ip', ip],
      ['port', port],
      ['runid', runId],
      ['flags', flags.join(',')],
      ['link-pending-commands', 0],
      ['link-refcount', 1],
    ];
    if (extra.failoverState) f.push(['failover-state', extra.failoverState]);
    const sinceOk = seen ? Math.round(seen.msSinceOk) : 0;
    f.push(
      ['last-ping-sent', seen?.failing ? sinceOk : 0],
      ['last-ok-ping-reply', sinceOk],
      ['last-ping-reply', sinceOk],
    );
    if (flags.includes('s_down'))
      f.push(['s-down-time', Math.max(0, Math.round((seen?.downForMs ?? 0) - downAfterMs))]);
    if (flags.includes('o_down')) f.push(['o-down-time', Math.max(0, Math.round(extra.oDownMs ?? 0))]);
    f.push([settingSpec('downAfterMs').sentinel, downAfterMs]);
    return f;
  }

  private isSDown(seen: SeenNode | null, downAfterMs: number): boolean {
    return seen?.failing === true && seen.downForMs >= downAfterMs;
  }

  masterFlags(s: Shard, linkDown = false): string[] {
    const seen = s.master ? this.b.seen(s.master) : null;
    const stale = !this.b.fresh();
    const flags: string[] = [];
    if (stale || this.isSDown(seen, s.settings.downAfterMs)) flags.push('s_down');
    if (this.b.objectivelyDown(s)) flags.push('o_down');
    flags.push('master');
    if (stale || linkDown || (seen !== null && !seen.connected)) flags.push('disconnected');
    if (s.pending) flags.push('failover_in_progress');
    if (s.pending?.kind === 'forced') flags.push('force_failover');
    return flags;
  }

  masterRecord(s: Shard, linkDown = false): Reply {
    const addr = s.master ?? '0.0.0.0:0';
    const seen = s.master ? this.b.seen(s.master) : null;
    const flags = this.masterFlags(s, linkDown);
    const f = this.commonFields(s.name, addr, seen?.runId ?? '', flags, seen, s.settings.downAfterMs, {
      failoverState: s.pending ? (this.b.failoverState(s) ?? 'wait_promotion') : null,
      oDownMs: s.pending ? Date.now() - s.pending.startedAtMs : null,
    });
    f.push(
      ['info-refresh', Math.round(seen?.msSinceInfo ?? 0)],
      ['role-reported', seen?.role === 'slave' ? 'slave' : 'master'],
      ['role-reported-time', Math.round(seen?.msSinceRoleChange ?? 0)],
      ['config-epoch', s.epoch],
      ['num-slaves', this.visibleReplicas(s).length],
      ['num-other-sentinels', this.b.peers().length],
      [settingSpec('quorum').sentinel, s.settings.quorum],
      [settingSpec('failoverTimeoutMs').sentinel, s.settings.failoverTimeoutMs],
      [settingSpec('parallelSyncs').sentinel, s.settings.parallelSyncs],
    );
    if (s.scripts?.notification) f.push(['notification-script', s.scripts.notification]);
    if (s.scripts?.clientReconfig) f.push(['client-reconfig-script', s.scripts.clientReconfig]);
    return record(f);
  }

  /**
   * Replicas clients are told about: every node but the master, except those not accessible.
   * num-slaves, INFO's slaves= and INFO-CACHE count these, replicas that are not announced too
   * (Sentinel counts every replica it knows there: sentinel.c, dictSize(ri->slaves)).
   */
  visibleReplicas(s: Shard): ShardNode[] {
    return s.nodes.filter((n) => n.addr !== s.master && n.accessible);
  }

  /**
   * Replicas SENTINEL REPLICAS and SLAVES list: the visible ones but those whose Redis reports
   * `replica-announced no` (ShardNode.announced), which Sentinel leaves out of that list only
   * (sentinel.c addReplyDictOfRedisInstances). They stay failover candidates, as in Sentinel.
   */
  announcedReplicas(s: Shard): ShardNode[] {
    return this.visibleReplicas(s).filter((n) => n.announced !== false);
  }

  replicaRecord(s: Shard, n: ShardNode): Reply {
    const seen = this.b.seen(n.addr);
    const flags: string[] = [];
    if (this.isSDown(seen, s.settings.downAfterMs)) flags.push('s_down');
    flags.push('slave');
    if (!seen?.connected) flags.push('disconnected');
    if (s.pending?.to === n.addr) flags.push('promoted');
    const f = this.commonFields(n.addr, n.addr, seen?.runId ?? '', flags, seen, s.settings.downAfterMs, {});
    f.push(
      ['info-refresh', Math.round(seen?.msSinceInfo ?? 0)],
      ['role-reported', seen?.role === 'master' ? 'master' : 'slave'],
      ['role-reported-time', Math.round(seen?.msSinceRoleChange ?? 0)],
      ['master-link-down-time', Math.round(seen?.linkUp ? 0 : (seen?.linkDownMs ?? 0))],
      ['master-link-status', seen?.linkUp ? 'ok' : 'err'],
      ['master-host', seen?.masterHost ?? '?'],
      ['master-port', seen?.masterPort ?? 0],
      // Observers are never promoted: priority 0 in Sentinel's terms.
      ['slave-priority', n.role === 'observer' ? 0 : n.priority],
      ['slave-repl-offset', seen?.offset ?? 0],
      ['replica-announced', n.announced === false ? 0 : 1],
    );
    return record(f);
  }

  sentinelRecords(s: Shard): Reply[] {
    return this.b.peers().map((p) => {
      const flags = ['sentinel'];
      const down = !p.connected && p.msSinceContact >= s.settings.downAfterMs;
      if (down) flags.unshift('s_down');
      if (!p.connected) flags.push('disconnected');
      const { ip, port } = splitAddr(p.addr);
      const f: [string, string | number][] = [
        ['name', p.runId],
        ['ip', ip],
        ['port', port],
        ['runid', p.runId],
        ['flags', flags.join(',')],
        ['link-pending-commands', 0],
        ['link-refcount', 1],
        ['last-ping-sent', p.connected ? 0 : Math.round(p.msSinceContact)],
        ['last-ok-ping-reply', Math.round(p.msSinceContact)],
        ['last-ping-reply', Math.round(p.msSinceContact)],
      ];
      if (down) f.push(['s-down-time', Math.round(p.msSinceContact - s.settings.downAfterMs)]);
      f.push(
        [settingSpec('downAfterMs').sentinel, s.settings.downAfterMs],
        ['last-hello-message', Math.round(p.msSinceContact)],
        ['voted-leader', '?'],
        ['voted-leader-epoch', 0],
      );
      return record(f);
    });
  }

  /** The INFO `# Sentinel` section. */
  infoSection(): InfoSection {
    return {
      name: 'sentinel',
      fields: () => {
        const shards = this.b.shards();
        const out: [string, string | number][] = [
          ['sentinel_masters', shards.length],
          ['sentinel_tilt', 0],
          ['sentinel_tilt_since_seconds', -1],
          ['sentinel_running_scripts', 0],
          ['sentinel_scripts_queue_length', 0],
          ['sentinel_simulate_failure_flags', this.simulateFailureFlags],
        ];
        shards.forEach((s, i) => {
          const flags = this.masterFlags(s);
          const status = flags.includes('o_down') ? 'odown' : flags.includes('s_down') ? 'sdown' : 'ok';
          out.push([
            `master${i}`,
            `name=${s.name},status=${status},address=${s.master ?? '0.0.0.0:0'},slaves=${this.visibleReplicas(s).length},sentinels=${this.b.peers().length + 1}`,
          ]);
        });
        return out;
      },
    };
  }

  /** Register SENTINEL (with its subcommands), ROLE and PUBLISH on `server`. */
  register(server: SentinelServer): void {
    const sub = (
      name: string,
      arity: number,
      handler: CommandSpec['handler'],
      admin = true,
    ): CommandSpec => ({
      name,
      arity,
      handler,
      flags: admin ? ['admin', 'sentinel', 'only-sentinel'] : ['sentinel', 'only-sentinel'],
    });
    const b = this.b;
    server.register({
      name: 'sentinel',
      arity: -2,
      flags: ['admin', 'sentinel', 'only-sentinel'],
      doc: { summary: 'A container for Redis Sentinel commands', since: '2.8.4', group: 'sentinel' },
      subcommands: [
        sub('get-master-addr-by-name', 3, (ctx) =>
          afterSettling(b, () => {
            const s = b.shards().find((x) => x.name === ctx.args[2]);
            if (!s?.master || !b.fresh()) return R.nullArray;
            const { ip, port } = splitAddr(s.master);
            return R.bulks([ip, String(port)]);
          }),
        ),
        sub('masters', 2, () => afterSettling(b, () => R.array(b.shards().map((s) => this.masterRecord(s))))),
        sub('master', 3, async (ctx) => {
          await b.unsettled?.();
          const name = ctx.args[2]!;
          const s = this.shard(name);
          if (!b.fresh()) throw new ReplyError(CUT_OFF);
          // node-redis reads this record (and no other) to choose its master: confirm the link.
          const alive = s.master && b.confirmLink ? await b.confirmLink(s.master) : null;
          const now = this.shard(name);
          if (!b.fresh()) throw new ReplyError(CUT_OFF);
          return this.masterRecord(now, alive === false && now.master === s.master);
        }),
        sub('replicas', 3, (ctx) => {
          const s = this.shard(ctx.args[2]!);
          return R.array(this.announcedReplicas(s).map((n) => this.replicaRecord(s, n)));
        }),
        sub('slaves', 3, (ctx) => {
          const s = this.shard(ctx.args[2]!);
          return R.array(this.announcedReplicas(s).map((n) => this.replicaRecord(s, n)));
        }),
        sub('sentinels', 3, (ctx) => R.array(this.sentinelRecords(this.shard(ctx.args[2]!)))),
        sub('myid', 2, () => R.bulk(b.myId())),
        sub('ckquorum', 3, (ctx) => {
          const s = this.shard(ctx.args[2]!);
          const usable = b.usableVoters();
          const majority = Math.floor(b.votingMembers() / 2) + 1;
          let why = '';
          if (usable < s.settings.quorum)
            why = 'Not enough available Sentinels to reach the specified quorum for this master';
          if (usable < majority) {
            why += `${why ? '. ' : ''}Not enough available Sentinels to reach the majority and authorize a failover`;
          }
          if (why) throw new ReplyError(`NOQUORUM ${usable} usable Sentinels. ${why}`);
          return R.simple(`OK ${usable} usable Sentinels. Quorum and failover authorization can be reached`);
        }),
        sub('failover', 3, async (ctx) => {
          this.shard(ctx.args[2]!);
          await b.failover(ctx.args[2]!);
          return R.ok;
        }),
        sub('monitor', 6, async (ctx) => {
          const [, , name, ip, portText, quorumText] = ctx.args as string[];
          const port = Number(portText);
          if (!/^\d+$/.test(portText!)) throw ReplyError.err('Invalid port');
          if (port <= 0 || port > 65535) throw ReplyError.err('Invalid port number.');
          if (!/^-?\d+$/.test(quorumText!)) throw ReplyError.err('Invalid quorum');
          const quorum = Number(quorumText);
          if (quorum <= 0) throw ReplyError.err('Quorum must be 1 or greater.');
          if (!isIp(ip!)) throw ReplyError.err('Invalid IP address or hostname specified');
          const addr = ip!.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
          const r = await b.monitor(name!, addr, quorum);
          if (!r.ok) throw ReplyError.err(r.error);
          return R.ok;
        }),
        sub('remove', 3, async (ctx) => {
          const name = ctx.args[2]!;
          // Repeating a REMOVE is not an error (PRODUCT.md): a name removed through the log is
          // +OK again; a name never known is Sentinel's error.
          if (!b.shards().some((x) => x.name === name) && b.wasRemoved?.(name)) return R.ok;
          this.shard(name);
          const r = await b.remove(name);
          if (!r.ok) throw ReplyError.err(r.error);
          return R.ok;
        }),
        sub('set', -5, async (ctx) => {
          const name = ctx.args[2]!;
          const shard = this.shard(name);
          const pairs = ctx.args.slice(3);
          const settings: Partial<ShardSettings> = {};
          const auth: { username?: string; password?: string } = {};
          let authChanged = false;
          const scripts: ShardScripts = {};
          for (let i = 0; i < pairs.length; i += 2) {
            const opt = pairs[i]!.toLowerCase();
            const value = pairs[i + 1];
            if (value === undefined)
              throw ReplyError.err(`Unknown option or number of arguments for SENTINEL SET '${pairs[i]}'`);
            if (opt === 'notification-script' || opt === 'client-reconfig-script') {
              if (b.scriptsReconfigDenied?.() !== false) throw ReplyError.err(SCRIPTS_DENIED);
              if (value !== '' && !b.scriptExecutable?.(value))
                throw ReplyError.err(
                  opt === 'notification-script'
                    ? 'Notification script seems non existing or non executable'
                    : 'Client reconfiguration script seems non existing or non executable',
                );
              scripts[opt === 'notification-script' ? 'notification' : 'clientReconfig'] = value;
              continue;
            }
            if (opt === 'auth-pass') {
              auth.password = value;
              authChanged = true;
              continue;
            }
            if (opt === 'auth-user') {
              auth.username = value;
              authChanged = true;
              continue;
            }
            // The settings table's Sentinel names (raftinel's own settings too: lease-ms, ...).
            const spec = findSentinelSetting(opt);
            if (!spec)
              throw ReplyError.err(`Unknown option or number of arguments for SENTINEL SET '${pairs[i]}'`);
            const n = Number(value);
            if (!/^-?\d+$/.test(value) || settingValueProblem(spec, n) !== null) {
              throw ReplyError.err(`Invalid argument '${value}' for SENTINEL SET '${pairs[i]}'`);
            }
            settings[spec.key as SettingKey] = n;
          }
          this.checkRules(shard, settings);
          const r = await b.set(
            name,
            settingsByName(settings),
            authChanged ? auth : null,
            Object.keys(scripts).length > 0 ? scripts : null,
          );
          if (!r.ok) throw ReplyError.err(r.error);
          return R.ok;
        }),
        sub('reset', 3, (ctx) => R.int(b.reset(ctx.args[2]!))),
        sub('flushconfig', 2, () => R.ok),
        sub('is-master-down-by-addr', 6, (ctx) => {
          const [, , ip, port] = ctx.args as string[];
          const s = b.shards().find((x) => x.master !== null && sameAddr(x.master, ip!, Number(port)));
          const seen = s?.master ? b.seen(s.master) : null;
          const down = s !== undefined && this.isSDown(seen, s.settings.downAfterMs);
          return R.array([R.int(down ? 1 : 0), R.bulk('*'), R.int(0)]);
        }),
        sub('info-cache', -3, (ctx) => {
          const out: Reply[] = [];
          for (const name of ctx.args.slice(2)) {
            const s = b.shards().find((x) => x.name === name);
            if (!s) continue;
            const nodes = [...(s.master ? [s.master] : []), ...this.visibleReplicas(s).map((n) => n.addr)];
            const infos = nodes.map((addr) => {
              const seen = b.seen(addr);
              return R.array([
                R.int(Math.round(seen?.msSinceInfo ?? 0)),
                R.bulkOrNull(seen?.rawInfo ?? null),
              ]);
            });
            out.push(R.bulk(name), R.array(infos));
          }
          return R.array(out);
        }),
        sub('pending-scripts', 2, () =>
          R.array(
            (b.pendingScripts?.() ?? []).map((p) =>
              R.map([
                [R.bulk('argv'), R.bulks(p.argv)],
                [R.bulk('flags'), R.bulk(p.flags)],
                [R.bulk('pid'), R.bulk(String(p.pid))],
                p.flags === 'running'
                  ? [R.bulk('run-time'), R.bulk(String(p.runTimeMs ?? 0))]
                  : [R.bulk('run-delay'), R.bulk(String(p.runDelayMs ?? 0))],
                [R.bulk('retry-num'), R.bulk(String(p.retryNum))],
              ]),
            ),
          ),
        ),
        sub('debug', -2, (ctx) => {
          const timers = b.timers();
          if (ctx.args.length === 2) return R.stringMap(timers);
          const names = new Set(timers.map(([k]) => k.toLowerCase()));
          for (let i = 2; i < ctx.args.length; i += 2) {
            const k = ctx.args[i]!;
            if (!names.has(k.toLowerCase()) || ctx.args[i + 1] === undefined) {
              throw ReplyError.err(`Unknown option or number of arguments for SENTINEL DEBUG '${k}'`);
            }
            const v = Number(ctx.args[i + 1]);
            if (!Number.isInteger(v) || v <= 0)
              throw ReplyError.err(`Invalid argument '${ctx.args[i + 1]}' for SENTINEL DEBUG '${k}'`);
          }
          // Checked all first: nothing changes unless every pair is valid (as Sentinel).
          for (let i = 2; i < ctx.args.length; i += 2) b.setTimer?.(ctx.args[i]!, Number(ctx.args[i + 1]));
          return R.ok;
        }),
        sub('simulate-failure', -3, (ctx) => {
          for (const a of ctx.args.slice(2).map((x) => x.toLowerCase())) {
            if (a === 'help') return R.bulks(['crash-after-election', 'crash-after-promotion']);
            if (a === 'crash-after-election') this.simulateFailureFlags |= 1;
            else if (a === 'crash-after-promotion') this.simulateFailureFlags |= 2;
            else throw ReplyError.err('Unknown failure simulation specified');
          }
          return R.ok;
        }),
        sub('config', -3, (ctx) => {
          // sentinel-config.ts says which parameters work and why the others are refused.
          const op = ctx.args[2]!.toLowerCase();
          if (op === 'get' && ctx.args.length >= 4) return R.stringMap(this.config.get(ctx.args.slice(3)));
          // Several pairs as 7.2 (so an odd count is 7.2's "Missing argument"); too few words is
          // 7.0's usage error, its arity (-3) being what COMMAND INFO shows.
          if (op === 'set' && ctx.args.length >= 4) {
            this.config.set(ctx.args.slice(3));
            return R.ok;
          }
          throw ReplyError.err('Only SENTINEL CONFIG GET <option> / SET <option> <value> are supported.');
        }),
        {
          name: 'help',
          arity: 2,
          flags: ['sentinel', 'only-sentinel', 'loading', 'stale'],
          handler: () => R.array(HELP.map((l) => R.simple(l))),
        },
      ],
    });
    server.register({
      name: 'role',
      arity: 1,
      flags: ['noscript', 'loading', 'stale', 'fast', 'sentinel'],
      handler: () => R.array([R.bulk('sentinel'), R.bulks(b.shards().map((s) => s.name))]),
    });
    server.register({
      name: 'publish',
      arity: 3,
      flags: ['pubsub', 'loading', 'stale', 'fast', 'may-replicate', 'sentinel'],
      handler: (ctx) => {
        if (ctx.args[1] !== '__sentinel__:hello')
          throw ReplyError.err('Only HELLO messages are accepted by Sentinel instances.');
        return R.int(1);
      },
    });
  }
}

function isIp(s: string): boolean {
  return /^(\d{1,3})(\.\d{1,3}){3}$/.test(s) || (s.includes(':') && /^[0-9a-fA-F:.]+$/.test(s));
}

function sameAddr(addr: string, ip: string, port: number): boolean {
  const a = splitAddr(addr);
  return a.ip === ip && a.port === port;
}

/**
 * SENTINEL CONFIG GET/SET: Sentinel's global parameters on a raftinel daemon. Every parameter
 * either does what it says or a SET that would need it to is refused, saying why:
 *
 * - `sentinel-user`, `sentinel-pass`: the credentials a Sentinel uses to reach the other
 *   Sentinels' ports. raftinel daemons never talk to each other through the Sentinel port: they
 *   use gRPC on the Raft port (with mutual TLS under `[tls]`). There is nothing these could
 *   authenticate, so only the empty value (what is true: no credentials) is accepted. Faking
 *   them would also fake Sentinel's consequence (peers that cannot authenticate count as down in
 *   SENTINEL CKQUORUM), which raftinel's quorum, from Raft's view of its members, cannot honour.
 * - `announce-ip`, `announce-port`: what a daemon announces is `[sentinel] advertise` in its
 *   config file, committed through the log at start; only the values that mean "announce what is
 *   configured" ('' and 0) are accepted.
 * - `loglevel` (Sentinel 7.2): the daemon's `log_level` (config file or --log-level), fixed at
 *   start; GET shows it in Redis's words, SET accepts only that value.
 * - `resolve-hostnames`, `announce-hostnames`: kept and shown (yes/no checked); what they change
 *   is the hostname support's business.
 *
 * Sentinel 7.0 takes one parameter per call; like 7.2, several pairs are accepted, all checked
 * before any is applied.
 */
import { ReplyError } from './command-table.js';
import { stringMatch } from './pubsub.js';

export interface SentinelConfigDeps {
  /** The daemon's pino log level (`info`, ...), for `loglevel`. */
  logLevel?: () => string;
}

/** Redis's loglevel names, from pino's levels. */
function redisLogLevel(pino: string): string {
  switch (pino) {
    case 'trace':
    case 'debug':
      return 'debug';
    case 'info':
      return 'notice';
    case 'silent':
      return 'nothing';
    default:
      return 'warning';
  }
}

const REDIS_LOG_LEVELS = ['debug', 'verbose', 'notice', 'warning', 'nothing'];

const WHY = {
  credentials:
    'raftinel daemons reach each other over gRPC (the Raft port, mutual TLS under [tls]), never through the Sentinel port, so there are no Sentinel-to-Sentinel credentials to set; only "" is accepted',
  announce:
    'a daemon announces the [sentinel] advertise address of its config file, set at start; only the default ("" / 0) is accepted',
  loglevel: 'the log level is the daemon log_level (config file or --log-level), set at start',
} as const;

/** The parameters, in Sentinel 7.0's order (loglevel, 7.2's, last). */
const PARAMS = [
  'resolve-hostnames',
  'announce-hostnames',
  'announce-ip',
  'announce-port',
  'sentinel-user',
  'sentinel-pass',
  'loglevel',
] as const;

export class SentinelConfig {
  private readonly values = new Map<string, string>([
    ['resolve-hostnames', 'no'],
    ['announce-hostnames', 'no'],
    ['announce-ip', ''],
    ['announce-port', '0'],
    ['sentinel-user', ''],
    ['sentinel-pass', ''],
  ]);

  constructor(private readonly deps: SentinelConfigDeps = {}) {}

  /** A parameter's current value (`resolve-hostnames` → `yes`/`no`, ...). */
  current(name: string): string {
    if (name === 'loglevel') return redisLogLevel(this.deps.logLevel?.() ?? 'info');
    return this.values.get(name) ?? '';
  }

  /** SENTINEL CONFIG GET: the parameters matching any pattern (glob, any case), each once. */
  get(patterns: readonly string[]): [string, string][] {
    const out: [string, string][] = [];
    for (const pattern of patterns) {
      for (const name of PARAMS) {
        if (stringMatch(pattern.toLowerCase(), name, true) && !out.some(([x]) => x === name))
          out.push([name, this.current(name)]);
      }
    }
    return out;
  }

  /** SENTINEL CONFIG SET name value [name value ...]: all checked, then applied; throws ReplyError. */
  set(pairs: readonly string[]): void {
    if (pairs.length % 2 !== 0) throw ReplyError.err('Missing argument');
    const changes: [string, string][] = [];
    for (let i = 0; i < pairs.length; i += 2) {
      const given = pairs[i]!;
      const name = given.toLowerCase();
      const value = pairs[i + 1]!;
      if (!(PARAMS as readonly string[]).includes(name))
        throw ReplyError.err(`Invalid argument '${given}' to SENTINEL CONFIG SET`);
      if (changes.some(([n]) => n === name))
        throw ReplyError.err(`Duplicate argument '${given}' to SENTINEL CONFIG SET`);
      changes.push([name, this.check(name, given, value)]);
    }
    for (const [name, value] of changes) if (name !== 'loglevel') this.values.set(name, value);
  }

  /** The value to store, or throws the refusal. */
  private check(name: string, given: string, value: string): string {
    const badValue = () => ReplyError.err(`Invalid value '${value}' to SENTINEL CONFIG SET '${given}'`);
    const refused = (why: string) =>
      ReplyError.err(`SENTINEL CONFIG SET '${given}' '${value}' is not supported by raftinel: ${why}`);
    switch (name) {
      case 'resolve-hostnames':
      case 'announce-hostnames': {
        const v = value.toLowerCase();
        if (v !== 'yes' && v !== 'no') throw badValue();
        return v;
      }
      case 'announce-ip':
        if (value !== '') throw refused(WHY.announce);
        return value;
      case 'announce-port': {
        if (!/^-?\d+$/.test(value) || Number(value) < 0 || Number(value) > 65535) throw badValue();
        if (Number(value) !== 0) throw refused(WHY.announce);
        return '0';
      }
      case 'sentinel-user':
      case 'sentinel-pass':
        if (value !== '') throw refused(WHY.credentials);
        return value;
      default: {
        const v = value.toLowerCase();
        if (!REDIS_LOG_LEVELS.includes(v)) throw badValue();
        if (v !== this.current('loglevel')) throw refused(WHY.loglevel);
        return v;
      }
    }
  }
}

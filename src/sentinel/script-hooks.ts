/**
 * Which Sentinel events run which script (Sentinel's sentinelEvent and
 * sentinelCallClientReconfScript):
 *   - a shard's notification script runs as `script <event> <description>` for every event of
 *     Sentinel's "warning" level about that shard (NOTIFIED_EVENTS; +slave, +sentinel and the
 *     other notice-level events do not run it), the failover's own steps (LEADER_ONLY_EVENTS)
 *     only on the daemon that led it;
 *   - a shard's client-reconfig script runs as
 *     `script <master-name> <leader|observer> start <from-ip> <from-port> <to-ip> <to-port>`
 *     when the shard's master changes: "leader" on the daemon that led the change.
 * A shard's own script (SENTINEL SET) comes first; the daemon's `[sentinel]` scripts apply to
 * shards that have none. Pure: the queue runs them.
 */
import type { FailoverRecord, Shard, ShardScripts } from '../cluster/shards.js';
import { parseAddress } from '../config/address.js';
import type { ScriptQueue } from './scripts.js';

/**
 * Events only the Sentinel leading a failover emits (sentinelFailoverStateMachine and its
 * helpers): every daemon publishes them, so a subscriber on any daemon hears the whole failover,
 * but only the daemon that led it runs the notification script for them, as with Sentinel.
 * Otherwise a failover ran the script on every daemon for each of them: with five daemons on two
 * cores, the suite's scripts stalled every daemon for 300-500 ms as the failover began.
 */
export const LEADER_ONLY_EVENTS: ReadonlySet<string> = new Set([
  '+try-failover',
  '+elected-leader',
  '+failover-state-select-slave',
  '+selected-slave',
  '+promoted-slave',
  '+failover-state-reconf-slaves',
  '+failover-end',
  '+failover-end-for-timeout',
  '-failover-abort-not-elected',
  '-failover-abort-no-good-slave',
  '-failover-abort-slave-timeout',
]);

/** The events Sentinel logs at warning level about a master or replica: they run the script. */
export const NOTIFIED_EVENTS: ReadonlySet<string> = new Set([
  '+monitor',
  '-monitor',
  '+set',
  '+reset-master',
  '+sdown',
  '-sdown',
  '+odown',
  '-odown',
  '+new-epoch',
  '+vote-for-leader',
  '+switch-master',
  '+config-update-from',
  '+tilt',
  '-tilt',
  ...LEADER_ONLY_EVENTS,
]);

export class ScriptHooks {
  constructor(
    private readonly o: {
      queue: ScriptQueue;
      /** The daemon's own scripts (config file), for shards without theirs. */
      defaults: ShardScripts;
    },
  ) {}

  private scriptOf(shard: Shard | null, kind: keyof ShardScripts): string | undefined {
    return shard?.scripts?.[kind] || this.o.defaults[kind] || undefined;
  }

  /**
   * An event published about `shard` (null: about no shard, or one already removed); `led`: this
   * daemon led the change the event is part of (the Raft leader that applied it).
   */
  onEvent(channel: string, message: string, shard: Shard | null, led = true): void {
    if (!NOTIFIED_EVENTS.has(channel)) return;
    if (!led && LEADER_ONLY_EVENTS.has(channel)) return;
    const path = this.scriptOf(shard, 'notification');
    if (path) this.o.queue.schedule(path, channel, message);
  }

  /** The committed master of `shard` changed from `rec.from` to `rec.to`. */
  onMasterChanged(shard: Shard, rec: FailoverRecord, role: 'leader' | 'observer'): void {
    if (rec.from === null) return;
    const path = this.scriptOf(shard, 'clientReconfig');
    if (!path) return;
    const from = parseAddress(rec.from);
    const to = parseAddress(rec.to);
    this.o.queue.schedule(
      path,
      shard.name,
      role,
      'start',
      from.host,
      String(from.port),
      to.host,
      String(to.port),
    );
  }
}

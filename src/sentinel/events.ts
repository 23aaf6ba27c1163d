/**
 * Sentinel events on the Sentinel port's pub/sub. Every daemon publishes them as it applies the
 * committed change (so a client subscribed to any daemon hears them), in Sentinel's formats:
 *   +switch-master <name> <oldip> <oldport> <newip> <newport>
 *   <event> <type> <name> <ip> <port> [@ <master-name> <master-ip> <master-port>]  (the "%@" form)
 * and, from this daemon's own probes, ±sdown and +convert-to-slave.
 */
import { findSetting } from '../cluster/settings.js';
import type { FailoverRecord, PendingFailover, Shard, ShardEvent } from '../cluster/shards.js';
import { parseAddress } from '../config/address.js';
import type { SeenNode } from './sentinel-commands.js';

/**
 * Publish one event; `shard` names the shard it is about (null: about no shard, like
 * -script-error), which picks the shard's notification script.
 */
export type Publish = (channel: string, message: string, shard: string | null) => void;

function hp(addr: string): string {
  const { host, port } = parseAddress(addr);
  return `${host} ${port}`;
}

export function masterDetails(name: string, master: string | null): string {
  return `master ${name} ${master ? hp(master) : '0.0.0.0 0'}`;
}

export function replicaDetails(addr: string, shardName: string, master: string | null): string {
  return `slave ${addr} ${hp(addr)} @ ${shardName} ${master ? hp(master) : '0.0.0.0 0'}`;
}

export function sentinelDetails(
  runId: string,
  addr: string,
  shardName: string,
  master: string | null,
): string {
  return `sentinel ${runId} ${hp(addr)} @ ${shardName} ${master ? hp(master) : '0.0.0.0 0'}`;
}

/** Events of a committed shard change, in the order Sentinel publishes them. */
export function eventsOfShardChange(e: ShardEvent, majority: number): [string, string][] {
  switch (e.type) {
    case 'shard-created': {
      const s = e.shard;
      return [['+monitor', `${masterDetails(s.name, s.master)} quorum ${s.settings.quorum}`]];
    }
    case 'shard-removed':
      return [['-monitor', `master ${e.name}`]];
    case 'node-added':
      return e.node.addr === e.shard.master
        ? []
        : [['+slave', replicaDetails(e.node.addr, e.shard.name, e.shard.master)]];
    case 'node-removed':
    case 'guard':
      return [];
    case 'settings':
      return Object.entries(e.changed).map(([k, v]) => [
        '+set',
        // +set names a setting as SENTINEL SET does (raftinel's own settings by their SET names too).
        `${masterDetails(e.shard.name, e.shard.master)} ${findSetting(k)?.sentinel ?? k} ${v}`,
      ]);
    case 'scripts':
      return Object.entries(e.changed).map(([k, v]) => [
        '+set',
        `${masterDetails(e.shard.name, e.shard.master)} ${k === 'notification' ? 'notification-script' : 'client-reconfig-script'} ${v}`,
      ]);
    case 'failover-begin':
      return failoverBeginEvents(e.shard, e.pending, majority);
    case 'master-changed':
      return masterChangedEvents(e.shard, e.record);
    case 'failover-abort': {
      const kind = /did not (become master|catch up)/.test(e.reason)
        ? '-failover-abort-slave-timeout'
        : '-failover-abort-no-good-slave';
      return [[kind, masterDetails(e.shard.name, e.shard.master)]];
    }
  }
}

function failoverBeginEvents(s: Shard, p: PendingFailover, majority: number): [string, string][] {
  const m = masterDetails(s.name, p.from);
  const r = replicaDetails(p.to, s.name, p.from);
  const out: [string, string][] = [];
  if (p.kind === 'auto') out.push(['+odown', `${m} #quorum ${majority}/${s.settings.quorum}`]);
  out.push(
    ['+new-epoch', String(p.epoch)],
    ['+try-failover', m],
    ['+elected-leader', m],
    ['+failover-state-select-slave', m],
    ['+selected-slave', r],
    ['+failover-state-send-slaveof-noone', r],
    ['+failover-state-wait-promotion', r],
  );
  return out;
}

function masterChangedEvents(s: Shard, rec: FailoverRecord): [string, string][] {
  if (rec.from === null) return [];
  const oldM = masterDetails(s.name, rec.from);
  const out: [string, string][] = [
    ['+promoted-slave', replicaDetails(rec.to, s.name, rec.from)],
    ['+failover-state-reconf-slaves', oldM],
  ];
  const others = s.nodes.filter((n) => n.addr !== rec.to && n.addr !== rec.from);
  for (const n of others) out.push(['+slave-reconf-sent', replicaDetails(n.addr, s.name, rec.from)]);
  out.push(['+failover-end', oldM]);
  out.push(['+switch-master', `${s.name} ${hp(rec.from)} ${hp(rec.to)}`]);
  for (const n of s.nodes)
    if (n.addr !== rec.to) out.push(['+slave', replicaDetails(n.addr, s.name, rec.to)]);
  if (rec.kind === 'auto') out.push(['-odown', oldM]);
  return out;
}

/**
 * Local events from this daemon's view: ±sdown when a node crosses down_after_ms, and
 * +convert-to-slave when a node that claimed master now follows the committed master.
 */
export class LocalEvents {
  private sdown = new Set<string>();
  private claimedMaster = new Set<string>();

  constructor(
    private readonly publish: Publish,
    private readonly seen: (addr: string) => SeenNode | null,
  ) {}

  /**
   * A failover of `shard` away from its master `addr` was decided on a majority's votes: as in
   * Sentinel, +sdown precedes +odown at every daemon whose own probes see the master failing. The
   * leader counts a report's age into its down time, so this daemon's vote can make the decision
   * a moment before its own probes cross down_after_ms: publish +sdown now, not as a replica later.
   */
  declareDown(shard: Shard, addr: string): void {
    const key = `${shard.name}|${addr}`;
    const v = this.seen(addr);
    if (!v?.failing || this.sdown.has(key)) return;
    this.sdown.add(key);
    this.publish('+sdown', masterDetails(shard.name, addr), shard.name);
  }

  round(shards: Iterable<Shard>): void {
    const live = new Set<string>();
    for (const s of shards) {
      for (const n of s.nodes) {
        const key = `${s.name}|${n.addr}`;
        live.add(key);
        const v = this.seen(n.addr);
        if (!v) continue;
        const isMaster = n.addr === s.master;
        const details = isMaster ? masterDetails(s.name, s.master) : replicaDetails(n.addr, s.name, s.master);
        // Once declared, a node stays subjectively down until it answers again (as Sentinel's
        // SDOWN): a vote counted by the leader (see declareDown) may precede down_after_ms here.
        const down = v.failing && (this.sdown.has(key) || v.downForMs >= s.settings.downAfterMs);
        if (down && !this.sdown.has(key)) {
          this.sdown.add(key);
          this.publish('+sdown', details, s.name);
        } else if (!down && this.sdown.has(key)) {
          this.sdown.delete(key);
          this.publish('-sdown', details, s.name);
        }
        if (!isMaster && !v.failing) {
          if (v.role === 'master') this.claimedMaster.add(key);
          else if (
            v.role === 'slave' &&
            this.claimedMaster.has(key) &&
            s.master &&
            `${v.masterHost}:${v.masterPort}` === s.master
          ) {
            this.claimedMaster.delete(key);
            this.publish('+convert-to-slave', details, s.name);
          }
        }
      }
    }
    for (const k of this.sdown) if (!live.has(k)) this.sdown.delete(k);
    for (const k of this.claimedMaster) if (!live.has(k)) this.claimedMaster.delete(k);
  }
}

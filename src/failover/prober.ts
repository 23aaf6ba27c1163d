/**
 * The prober runs on every daemon: it PINGs every Redis node of every shard and reads INFO, and
 * keeps, per node, how long it has been failing. The leader counts these views (a master is down
 * only when a majority of voting daemons saw it fail for down_after_ms).
 *
 * A stall of this daemon (event-loop lag, a clock jump, SIGSTOP of the daemon itself) is never
 * counted as the node failing: when a probe round starts much later than scheduled, every down
 * timer restarts. Shorter lags (below the stall threshold, e.g. 100-250 ms of GC or a busy loop)
 * are not counted either: the probe timeout is stretched by the lag measured over the last
 * rounds, and a probe that "timed out" only because its timer fired late (Node runs expired timers
 * before it reads sockets, so after a lag the timeout wins over a reply already received) is
 * inconclusive, not a failure.
 */
import type { Clock, TimerHandle } from '../util/clock.js';
import type { Logger } from '../util/log.js';
import { holdsNoHistory, type RedisAdapter, type RedisInfo, type RedisRef, upstreamOf } from './redis.js';

export interface ProbeTarget extends RedisRef {
  /** The committed master: a report of role:slave from it counts as failing. */
  expectMaster: boolean;
  /**
   * The shard's master_reboot_down_after_ms (Sentinel's master-reboot-down-after-period) when
   * this is the committed master: seen restarting, it counts as failing from its restart while it
   * is still loading this long after (0 or absent: off).
   */
  rebootDownAfterMs?: number;
}

export interface NodeView {
  addr: string;
  /** Monotonic ms of the last good probe (or when probing began). */
  lastOkMs: number;
  failing: boolean;
  /** When the probe that last found it failing was sent (monotonic ms; see requireFreshProbes). */
  failSentMs: number;
  /** The connection is up (a failing node may still be connected: stopped, or too slow). */
  connected: boolean;
  error: string | null;
  info: RedisInfo | null;
  infoAtMs: number;
  /** When the reported role last changed (monotonic ms). */
  roleSinceMs: number;
  /** The previous run id seen, to notice restarts. */
  runId: string | null;
  restarts: number;
  /** Keys the node had before its latest restart. */
  keysBeforeRestart: number;
  /** When it was seen restarting, while it has not finished loading since (monotonic ms). */
  rebootSinceMs: number | null;
}

/** What a daemon tells the leader about one node. */
export interface NodeReport {
  addr: string;
  failing: boolean;
  /** How long it has been failing, as of the report (0 when healthy). */
  downForMs: number;
  error: string | null;
  role: 'master' | 'slave' | null;
  upstream: string | null;
  linkUp: boolean;
  offset: number;
  runId: string | null;
  keys: number;
  infoAgeMs: number | null;
  /** master_replid / master_replid2 of the last INFO (null when unknown; see decide.ts lineage). */
  replId?: string | null;
  replId2?: string | null;
  /** second_repl_offset of the last INFO (where replId2's history ends; see decide.ts lineage). */
  secondReplOffset?: number | null;
  /** holdsNoHistory of the last INFO (redis.ts): empty, or started loading nothing. */
  noHistory?: boolean;
}

export interface ProbeReport {
  nodes: NodeReport[];
  /** This daemon stalled recently: its views are fresh only since then. */
  stalledRecently: boolean;
}

export interface ProberOptions {
  adapter: RedisAdapter;
  clock: Clock;
  logger: Logger;
  /** Nodes to probe, re-read every round. */
  targets: () => ProbeTarget[];
  /** Round interval; each node gets a PING per round. */
  probeIntervalMs: () => number;
  /** INFO is read every this many ms per node (and on every round while a node is failing). */
  infoIntervalMs: number;
  /** A round that starts later than scheduled by more than this means this daemon stalled. */
  stallThresholdMs: number;
  /** How far back the event-loop lag that stretches probe timeouts is remembered (default 2000 ms). */
  lagWindowMs?: number;
  /** Nodes beside this daemon (its own [[redis]]): their answers say nothing of its network. */
  local?: (addr: string) => boolean;
  /** Called when a node's INFO shows it restarted (run id changed). */
  onRestart?: (view: NodeView, before: RedisInfo | null) => void;
  /** Called after every round. */
  onRound?: () => void;
}

export class Prober {
  private views = new Map<string, NodeView>();
  /** Probes out, by address: when each was sent (monotonic ms). */
  private inflight = new Map<string, number>();
  /** A failure counts only if found by a probe sent after this (see requireFreshProbes). */
  private freshSinceMs = Number.NEGATIVE_INFINITY;
  /** When a node that is not beside this daemon last answered (monotonic ms). */
  private lastRemoteAnswerMs = Number.NEGATIVE_INFINITY;
  private timer: TimerHandle | null = null;
  private lastRoundMs = 0;
  private lastStallMs = Number.NEGATIVE_INFINITY;
  private stopped = false;
  /** Recent lateness of probe rounds (monotonic ms when measured, ms late), oldest first. */
  private lagSamples: { atMs: number; lateMs: number }[] = [];
  stalls = 0;
  /** Probe timeouts not counted as failures because this daemon lagged (for tests and metrics). */
  laggedTimeouts = 0;

  constructor(private readonly opts: ProberOptions) {}

  start(): void {
    this.lastRoundMs = this.opts.clock.nowMs();
    this.schedule(0);
  }

  stop(): void {
    this.stopped = true;
    this.timer?.cancel();
  }

  view(addr: string): NodeView | undefined {
    return this.views.get(addr);
  }

  /** Is the probe connection to `addr` up right now (null: unknown)? See RedisAdapter.linkUp. */
  linkUp(addr: string): boolean | null {
    return this.opts.adapter.linkUp?.(addr) ?? null;
  }

  /**
   * PING `addr` now, on the probe connection: true if it answered, false if the connection is
   * closed or refused (a kill -9 whose closed connection this daemon has not processed yet),
   * null when unknown (not a probe target, a timeout, another error).
   */
  async pingNow(addr: string, timeoutMs: number): Promise<boolean | null> {
    const t = this.opts.targets().find((x) => x.addr === addr);
    if (!t) return null;
    if (this.linkUp(addr) === false) return false;
    try {
      await this.opts.adapter.ping(t, timeoutMs);
      return true;
    } catch (err) {
      return /closed|ECONNREFUSED|ECONNRESET|EPIPE|not connected/.test((err as Error).message) ? false : null;
    }
  }

  /**
   * How long `addr` has been failing as seen from here: 0 when healthy, unknown, or failing only
   * by probes sent before requireFreshProbes (not confirmed yet).
   */
  downForMs(addr: string): number {
    const v = this.views.get(addr);
    if (!v || !this.confirmedFailing(v)) return 0;
    return Math.max(0, this.opts.clock.nowMs() - v.lastOkMs);
  }

  /** No failure of `addr` seen: its last probe answered, or it was not probed yet. */
  notFailing(addr: string): boolean {
    return !this.views.get(addr)?.failing;
  }

  /**
   * From now on, a node counts as failing only once a probe sent from now on has failed: what
   * this daemon saw fail while it was cut off from the group may only have been its own isolation
   * (the engine calls it on regaining the group, see FailoverEngine.noteGroupContact). How long
   * the node has been failing still counts from its last good probe once that is confirmed, so a
   * node that really is down is not delayed by more than one probe.
   */
  requireFreshProbes(reason: string): void {
    this.freshSinceMs = this.opts.clock.nowMs();
    let stale = 0;
    for (const v of this.views.values()) if (v.failing) stale++;
    this.opts.logger.info(
      { reason, failing_unconfirmed: stale },
      'failures seen before now need a fresh probe',
    );
  }

  /** When a node that is not beside this daemon (ProberOptions.local) last answered a probe. */
  remoteAnswerMs(): number {
    return this.lastRemoteAnswerMs;
  }

  private confirmedFailing(v: NodeView): boolean {
    return v.failing && v.failSentMs > this.freshSinceMs;
  }

  report(): ProbeReport {
    const now = this.opts.clock.nowMs();
    const nodes: NodeReport[] = [];
    for (const v of this.views.values()) {
      nodes.push({
        addr: v.addr,
        failing: v.failing,
        downForMs: this.confirmedFailing(v) ? Math.max(0, now - v.lastOkMs) : 0,
        error: v.error,
        role: v.info?.role ?? null,
        upstream: v.info ? upstreamOf(v.info) : null,
        linkUp: v.info?.masterLinkUp ?? false,
        offset: v.info?.offset ?? 0,
        runId: v.info?.runId ?? null,
        keys: v.info?.keys ?? 0,
        infoAgeMs: v.info ? now - v.infoAtMs : null,
        replId: v.info?.replId || null,
        replId2: v.info?.replId2 || null,
        secondReplOffset: v.info?.secondReplOffset ?? null,
        noHistory: v.info ? holdsNoHistory(v.info) : false,
      });
    }
    return { nodes, stalledRecently: now - this.lastStallMs < 2 * this.opts.stallThresholdMs };
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = this.opts.clock.setTimeout(() => this.round(), delayMs);
  }

  private round(): void {
    if (this.stopped) return;
    const now = this.opts.clock.nowMs();
    const interval = this.opts.probeIntervalMs();
    const late = now - this.lastRoundMs - interval;
    if (this.lastRoundMs > 0 && late > this.opts.stallThresholdMs) {
      // We were not running: nothing we missed says anything about the nodes.
      this.stalls++;
      this.lastStallMs = now;
      for (const v of this.views.values()) v.lastOkMs = Math.max(v.lastOkMs, now);
      this.opts.logger.warn({ late_ms: Math.round(late) }, 'this daemon stalled; probe timers restarted');
    }
    this.lastRoundMs = now;
    this.noteLag(now, late);
    const targets = this.opts.targets();
    const wanted = new Set(targets.map((t) => t.addr));
    for (const addr of this.views.keys()) if (!wanted.has(addr)) this.views.delete(addr);
    for (const t of targets) this.probe(t, now, interval);
    this.opts.onRound?.();
    this.schedule(interval);
  }

  /** The worst lateness of a probe round within the lag window (0 when the loop keeps time). */
  recentLagMs(): number {
    let worst = 0;
    for (const x of this.lagSamples) worst = Math.max(worst, x.lateMs);
    return worst;
  }

  private noteLag(now: number, lateMs: number): void {
    const windowMs = this.opts.lagWindowMs ?? 2000;
    // A stall restarted every timer already; what is left is the lag below the stall threshold.
    if (lateMs > 0 && lateMs <= this.opts.stallThresholdMs) this.lagSamples.push({ atMs: now, lateMs });
    while (this.lagSamples.length > 0 && now - this.lagSamples[0]!.atMs > windowMs) this.lagSamples.shift();
    if (this.lagSamples.length > 64) this.lagSamples.shift();
  }

  private probe(t: ProbeTarget, now: number, interval: number): void {
    let v = this.views.get(t.addr);
    if (!v) {
      v = {
        addr: t.addr,
        lastOkMs: now,
        failing: false,
        failSentMs: now,
        connected: true,
        error: null,
        info: null,
        infoAtMs: 0,
        roleSinceMs: now,
        runId: null,
        restarts: 0,
        keysBeforeRestart: 0,
        rebootSinceMs: null,
      };
      this.views.set(t.addr, v);
    }
    const outSinceMs = this.inflight.get(t.addr);
    if (outSinceMs !== undefined) {
      // The previous probe is still out: once it has been out longer than a round (plus the lag
      // this daemon showed lately), that is a failure.
      if (now - v.lastOkMs > 2 * interval + 2 * this.recentLagMs() && !v.failing) {
        v.failing = true;
        v.failSentMs = outSinceMs;
        v.error = 'no answer';
      }
      return;
    }
    const view = v;
    // Stretched by twice the recent lag: a reply that waits behind our own busy loop is not late.
    const timeoutMs = Math.max(2 * interval, 100) + 2 * this.recentLagMs();
    const sentAtMs = now;
    const wantInfo = view.failing || view.info === null || now - view.infoAtMs >= this.opts.infoIntervalMs;
    this.inflight.set(t.addr, sentAtMs);
    const p = wantInfo
      ? this.opts.adapter.info(t, timeoutMs).then((info) => this.noteInfo(view, info, t))
      : this.opts.adapter.ping(t, timeoutMs);
    p.then(
      () => {
        const bad = t.expectMaster && view.info?.role === 'slave';
        const rebootMs = view.rebootSinceMs === null ? 0 : this.opts.clock.nowMs() - view.rebootSinceMs;
        const rebooting = t.expectMaster && (t.rebootDownAfterMs ?? 0) > 0 && rebootMs > t.rebootDownAfterMs!;
        if (bad) {
          view.failing = true;
          view.failSentMs = sentAtMs;
          view.error = `reports role:slave (replicating ${upstreamOf(view.info!) ?? '?'})`;
        } else if (rebooting) {
          // Sentinel's master-reboot-down-after-period: failing since its restart.
          view.lastOkMs = Math.min(view.lastOkMs, view.rebootSinceMs!);
          view.failing = true;
          view.failSentMs = sentAtMs;
          view.error = `restarted ${Math.round(rebootMs)} ms ago and still loading`;
        } else {
          view.lastOkMs = this.opts.clock.nowMs();
          view.failing = false;
          view.error = null;
          if (!this.opts.local?.(t.addr)) this.lastRemoteAnswerMs = view.lastOkMs;
        }
        view.connected = true;
      },
      (err: Error) => {
        const elapsedMs = this.opts.clock.nowMs() - sentAtMs;
        if (/timed out/.test(err.message) && elapsedMs - timeoutMs > timeoutMs / 4) {
          // Our timer fired well after its deadline: this daemon was not running, so the reply
          // may be sitting unread in the socket. Inconclusive: the next round probes again.
          this.laggedTimeouts++;
          this.noteLag(this.opts.clock.nowMs(), Math.min(elapsedMs - timeoutMs, this.opts.stallThresholdMs));
          return;
        }
        view.failing = true;
        view.failSentMs = sentAtMs;
        view.error = err.message;
        view.connected = /timed out/.test(err.message);
      },
    ).finally(() => this.inflight.delete(t.addr));
  }

  private noteInfo(v: NodeView, info: RedisInfo, t: ProbeTarget): void {
    const before = v.info;
    if (before?.role !== info.role) v.roleSinceMs = this.opts.clock.nowMs();
    v.info = info;
    v.infoAtMs = this.opts.clock.nowMs();
    if (v.runId !== null && info.runId !== '' && info.runId !== v.runId) {
      v.restarts++;
      v.keysBeforeRestart = before?.keys ?? 0;
      this.opts.logger.info(
        { addr: t.addr, keys_before: v.keysBeforeRestart, keys_now: info.keys },
        'redis restarted',
      );
      this.opts.onRestart?.(v, before);
      if (t.expectMaster && (t.rebootDownAfterMs ?? 0) > 0) v.rebootSinceMs = this.opts.clock.nowMs();
    }
    if (info.runId !== '') v.runId = info.runId;
    // Sentinel clears the reboot on the first PONG, which a server still loading does not send.
    if (!info.loading) v.rebootSinceMs = null;
  }
}

/**
 * Real-process harness for integration tests: runs `node bin/raftinel start -c <toml>` daemons as
 * child processes on kernel-picked ports with data dirs under a fresh temporary directory, captures
 * their pino JSON output, and drives them through signals, the admin HTTP API and the CLI.
 *
 * Everything started here is registered; `cleanupAll()` (call it from afterAll/afterEach) kills
 * every process still running and removes every temporary directory, whatever the test's outcome.
 * As a last resort, the worker's exit kills any process left behind.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from './ports.js';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const BIN = join(ROOT, 'bin', 'raftinel');

/** Short timings that satisfy the config rules (et ≥ 5 hb, lease ≥ et, lease + et ≤ down). */
export const TIMING = {
  heartbeatMs: 50,
  electionTimeoutMs: 500,
  downAfterMs: 2000,
  leaseMs: 1000,
} as const;

// ---------------------------------------------------------------------------------------------
// Registry of everything started, for cleanup

const liveProcesses = new Set<ChildProcess>();
const allDaemons = new Set<DaemonProcess>();
const tempDirs = new Set<string>();
let cleaningUp = false;

process.once('exit', () => {
  for (const p of liveProcesses) {
    try {
      p.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
});

function track(p: ChildProcess): Promise<ExitInfo> {
  liveProcesses.add(p);
  return new Promise((resolve) => {
    p.once('exit', (code, signal) => {
      liveProcesses.delete(p);
      resolve({ code, signal });
    });
    p.once('error', () => {
      liveProcesses.delete(p);
      resolve({ code: null, signal: null });
    });
  });
}

/** Kill every process started by this module and remove every temporary directory. */
export async function cleanupAll(): Promise<void> {
  cleaningUp = true;
  const waits: Promise<unknown>[] = [];
  for (const p of [...liveProcesses]) {
    waits.push(new Promise((resolve) => p.once('exit', resolve)));
    try {
      p.kill('SIGKILL'); // also ends a SIGSTOPped process
    } catch {
      // already gone
    }
  }
  await Promise.race([Promise.all(waits), new Promise((r) => setTimeout(r, 5000).unref())]);
  for (const d of tempDirs) rmSync(d, { recursive: true, force: true });
  tempDirs.clear();
  allDaemons.clear();
  cleaningUp = false;
}

/** What a failed test prints of each daemon's log: role changes, jobs, stops, warnings and errors. */
function interesting(l: LogLine): boolean {
  const j = l.json;
  if (!j) return true;
  if (Number(j.level) >= 40 && j.msg !== 'configuration warning') return true;
  return /^(raft role changed|raftinel started|job |stopping|stopped|signal received|handed leadership|snapshot|joined)/.test(
    String(j.msg),
  );
}

/** Print the interesting log lines of every daemon started here (for a failed test). */
export function dumpDaemonLogs(maxLinesPerNode = 40): void {
  for (const d of allDaemons) {
    const lines = d.lines.filter(interesting).slice(-maxLinesPerNode);
    console.log(`[daemons] node ${d.id} (${d.running ? 'running' : 'not running'}), last log lines:`);
    for (const l of lines) console.log(`  ${l.raw.length > 400 ? `${l.raw.slice(0, 400)}...` : l.raw}`);
  }
}

/** afterEach hook: dump the daemons' logs when the test failed. */
export function dumpLogsIfFailed(ctx: { task: { result?: { state?: string } } }): void {
  if (ctx.task.result?.state === 'fail') dumpDaemonLogs();
}

export function makeTempDir(prefix = 'raftinel-it-'): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  tempDirs.add(d);
  return d;
}

// ---------------------------------------------------------------------------------------------
// Waiting

export interface WaitOptions {
  /** Poll interval (ms). */
  intervalMs?: number;
  /** What is being waited for, for the error message. */
  what?: string;
}

/**
 * Poll `pred` until it returns a truthy value (which is returned) or `timeoutMs` passes. Errors
 * thrown by `pred` count as "not yet". Bounded by time and by the number of polls.
 */
export async function waitFor<T>(
  pred: () => T | Promise<T>,
  timeoutMs: number,
  opts: WaitOptions = {},
): Promise<NonNullable<T>> {
  const interval = opts.intervalMs ?? 50;
  const maxPolls = Math.ceil(timeoutMs / interval) + 10;
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (let i = 0; i < maxPolls; i++) {
    try {
      const v = await pred();
      if (v) return v as NonNullable<T>;
      last = v;
    } catch (err) {
      last = err;
    }
    if (Date.now() >= deadline) break;
    await new Promise((r) => setTimeout(r, interval));
  }
  const detail = last instanceof Error ? last.message : JSON.stringify(last);
  throw new Error(
    `timed out after ${timeoutMs} ms waiting for ${opts.what ?? 'a condition'} (last: ${detail})`,
  );
}

// ---------------------------------------------------------------------------------------------
// CLI

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Run `node bin/raftinel ...args` to completion (killed after timeoutMs). */
export async function runCli(
  args: string[],
  opts: { timeoutMs?: number; cwd?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<CliResult> {
  const p = spawn(process.execPath, [BIN, ...args], {
    cwd: opts.cwd ?? ROOT,
    env: { ...process.env, ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = track(p);
  let stdout = '';
  let stderr = '';
  p.stdout!.setEncoding('utf8').on('data', (d: string) => {
    stdout += d;
  });
  p.stderr!.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
  });
  const timeoutMs = opts.timeoutMs ?? 60_000;
  const timer = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
  const { code, signal } = await exited;
  clearTimeout(timer);
  // 'exit' can fire before the pipes are drained.
  await Promise.all([
    new Promise((r) => (p.stdout!.readableEnded ? r(null) : p.stdout!.once('close', r))),
    new Promise((r) => (p.stderr!.readableEnded ? r(null) : p.stderr!.once('close', r))),
  ]);
  if (signal === 'SIGKILL' && code === null) {
    stderr += `\n[harness] raftinel ${args.join(' ')} killed after ${timeoutMs} ms\n`;
  }
  return { code, stdout, stderr };
}

// ---------------------------------------------------------------------------------------------
// Daemons

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface LogLine {
  stream: 'stdout' | 'stderr';
  /** Which start of the process (0 = first). */
  incarnation: number;
  raw: string;
  /** The parsed pino record, when the line is JSON. */
  json: Record<string, unknown> | null;
}

export type LogPredicate = (line: LogLine) => boolean;

/** The fields of GET /v1/status the tests use. */
export interface DaemonStatus {
  node_id: number;
  role: string;
  member_role: string | null;
  leader: number | null;
  term: number;
  commit_index: number;
  applied_index: number;
  last_index: number;
  snapshot_index: number;
  joining: boolean;
  members: {
    id: number;
    role: string;
    raft: string;
    admin: string | null;
    sentinel: string | null;
    reachable: boolean | null;
    leader: boolean;
    match_index: number | null;
  }[];
  removed: number[];
  shards: unknown[];
  active_jobs: { id: string; kind: string; state: string; step: string | null }[];
}

export interface NodeOptions {
  /** Bootstrap a new group (raft.single = true). */
  single?: boolean;
  /** Node ids (of this cluster) or raw addresses to join through. */
  join?: (number | string)[];
  role?: 'voter' | 'learner' | 'witness';
  token?: string;
  snapshotEveryEntries?: number;
  /** The Redis servers this daemon sits beside ([[redis]] entries). */
  redis?: {
    shard: string;
    addr: string;
    role?: 'replica' | 'observer';
    priority?: number;
    password?: string;
  }[];
  /** [failover] timings (default TIMING). */
  failover?: { downAfterMs?: number; leaseMs?: number; switchoverPauseMs?: number; maxLagBytes?: number };
  /** [raft] timings (default TIMING). */
  raftTiming?: { heartbeatMs?: number; electionTimeoutMs?: number };
  /** [sentinel] requirepass. */
  sentinelPassword?: string;
  /** More lines of the [sentinel] table (`deny_scripts_reconfig = false`, ...). */
  sentinelToml?: string[];
  /** Extra TOML appended verbatim at the end of the file (tables only). */
  extraToml?: string;
}

export class DaemonProcess {
  readonly lines: LogLine[] = [];
  proc: ChildProcess | null = null;
  /** Resolves when the current incarnation exits. */
  exited: Promise<ExitInfo> = Promise.resolve({ code: null, signal: null });
  lastExit: ExitInfo | null = null;
  private incarnation = -1;
  private signalsSent: string[] = [];
  private listeners = new Set<(l: LogLine) => void>();

  constructor(
    readonly id: number,
    readonly ports: { raft: number; admin: number; sentinel: number },
    readonly dataDir: string,
    readonly configPath: string,
  ) {
    allDaemons.add(this);
  }

  get raftAddr(): string {
    return `127.0.0.1:${this.ports.raft}`;
  }

  get adminAddr(): string {
    return `127.0.0.1:${this.ports.admin}`;
  }

  /** Its Redis Sentinel protocol address. */
  get sentinelAddr(): string {
    return `127.0.0.1:${this.ports.sentinel}`;
  }

  get running(): boolean {
    return this.proc !== null && this.lastExit === null;
  }

  /** Index of the next log line: pass to waitForLog to ignore what was logged before. */
  mark(): number {
    return this.lines.length;
  }

  /** Spawn the daemon and wait until it logs "raftinel started" (throws if it exits first). */
  async start(opts: { extraArgs?: string[]; timeoutMs?: number } = {}): Promise<void> {
    if (this.running) throw new Error(`node ${this.id} is already running`);
    this.incarnation++;
    const from = this.mark();
    const incarnation = this.incarnation;
    const p = spawn(process.execPath, [BIN, 'start', '-c', this.configPath, ...(opts.extraArgs ?? [])], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.proc = p;
    this.lastExit = null;
    this.signalsSent = [];
    this.exited = track(p).then((info) => {
      if (this.proc === p) this.lastExit = info;
      this.reportForeignSignal(incarnation, info);
      return info;
    });
    for (const stream of ['stdout', 'stderr'] as const) {
      let buf = '';
      p[stream]!.setEncoding('utf8').on('data', (chunk: string) => {
        buf += chunk;
        let nl = buf.indexOf('\n');
        while (nl >= 0) {
          this.push(stream, incarnation, buf.slice(0, nl));
          buf = buf.slice(nl + 1);
          nl = buf.indexOf('\n');
        }
      });
      p[stream]!.on('end', () => {
        if (buf) this.push(stream, incarnation, buf);
        buf = '';
      });
    }
    const started = this.waitForLog(
      (l) => l.json?.msg === 'raftinel started',
      opts.timeoutMs ?? 20_000,
      from,
    );
    const died = this.exited.then((info) => {
      throw new Error(
        `node ${this.id} exited (code ${info.code}, signal ${info.signal}) before it started:\n${this.output(from)}`,
      );
    });
    try {
      await Promise.race([started, died]);
    } finally {
      // The loser of the race settles later (the exit at cleanup, a timeout): nobody awaits it.
      started.catch(() => {});
      died.catch(() => {});
    }
  }

  private push(stream: 'stdout' | 'stderr', incarnation: number, raw: string): void {
    let json: Record<string, unknown> | null = null;
    if (raw.startsWith('{')) {
      try {
        json = JSON.parse(raw) as Record<string, unknown>;
      } catch {
        json = null;
      }
    }
    const line: LogLine = { stream, incarnation, raw, json };
    this.lines.push(line);
    for (const l of this.listeners) l(line);
  }

  /** The captured output since `from`, for error messages. */
  output(from = 0): string {
    return this.lines
      .slice(from)
      .map((l) => l.raw)
      .join('\n');
  }

  /** Resolve with the first line (at or after index `from`) matching `pred`; event-driven. */
  waitForLog(pred: LogPredicate, timeoutMs: number, from = 0): Promise<LogLine> {
    for (let i = from; i < this.lines.length; i++)
      if (pred(this.lines[i]!)) return Promise.resolve(this.lines[i]!);
    return new Promise((resolve, reject) => {
      const listener = (l: LogLine) => {
        if (!pred(l)) return;
        clearTimeout(timer);
        this.listeners.delete(listener);
        resolve(l);
      };
      const timer = setTimeout(() => {
        this.listeners.delete(listener);
        reject(
          new Error(
            `node ${this.id}: no matching log line within ${timeoutMs} ms; last lines:\n${this.lines
              .slice(-15)
              .map((l) => l.raw)
              .join('\n')}`,
          ),
        );
      }, timeoutMs);
      this.listeners.add(listener);
    });
  }

  /** Log lines with this pino msg (all incarnations, or since `from`). */
  logs(msg: string, from = 0): Record<string, unknown>[] {
    return this.lines
      .slice(from)
      .filter((l) => l.json?.msg === msg)
      .map((l) => l.json!);
  }

  kill(signal: 'SIGKILL' | 'SIGTERM' | 'SIGSTOP' | 'SIGCONT' | 'SIGINT'): void {
    if (!this.proc || this.lastExit) throw new Error(`node ${this.id} is not running`);
    this.signalsSent.push(signal);
    this.proc.kill(signal);
  }

  /**
   * A daemon stopped by a signal this harness did not send (another process on a shared machine,
   * a reused pid) fails tests in confusing ways: say so loudly in the test output.
   */
  private reportForeignSignal(incarnation: number, info: ExitInfo): void {
    const received = this.lines
      .filter((l) => l.incarnation === incarnation && l.json?.msg === 'signal received')
      .map((l) => String(l.json!.signal));
    if (info.signal) received.push(info.signal);
    const foreign = received.filter((sig) => !this.signalsSent.includes(sig) && !cleaningUp);
    if (foreign.length > 0) {
      console.warn(
        `[daemons] node ${this.id} (pid ${this.proc?.pid}) was stopped by ${foreign.join(', ')} that the test harness did not send`,
      );
    }
  }

  /** Wait for the current incarnation to exit. */
  async waitExit(timeoutMs = 15_000): Promise<ExitInfo> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`node ${this.id} did not exit within ${timeoutMs} ms`)),
        timeoutMs,
      );
    });
    try {
      return await Promise.race([this.exited, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** SIGKILL and wait for the exit. */
  async crash(): Promise<ExitInfo> {
    this.kill('SIGKILL');
    return this.waitExit();
  }

  async http(
    method: string,
    path: string,
    opts: { body?: unknown; rawBody?: string | Buffer; token?: string; timeoutMs?: number } = {},
  ): Promise<{ status: number; headers: Headers; text: string; json: unknown }> {
    if (!this.running) {
      const how = this.lastExit
        ? `exited (code ${this.lastExit.code}, signal ${this.lastExit.signal})`
        : 'not started';
      throw new Error(`node ${this.id} is not running: ${how}`);
    }
    const headers: Record<string, string> = {};
    if (opts.token !== undefined) headers.authorization = `Bearer ${opts.token}`;
    let body: string | Buffer | undefined;
    if (opts.rawBody !== undefined) body = opts.rawBody;
    else if (opts.body !== undefined) body = JSON.stringify(opts.body);
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(`http://${this.adminAddr}${path}`, {
      method,
      headers,
      ...(body !== undefined ? { body } : {}),
      signal: AbortSignal.timeout(opts.timeoutMs ?? 10_000),
    });
    const text = await res.text();
    let json: unknown = null;
    try {
      json = JSON.parse(text);
    } catch {
      json = null;
    }
    return { status: res.status, headers: res.headers, text, json };
  }

  /** GET /v1/status. */
  async status(): Promise<DaemonStatus> {
    const r = await this.http('GET', '/v1/status', { timeoutMs: 3000 });
    if (r.status !== 200) throw new Error(`node ${this.id}: GET /v1/status answered ${r.status}: ${r.text}`);
    return r.json as DaemonStatus;
  }

  /** GET /metrics as text. */
  async metrics(): Promise<string> {
    const r = await this.http('GET', '/metrics', { timeoutMs: 3000 });
    if (r.status !== 200) throw new Error(`node ${this.id}: GET /metrics answered ${r.status}`);
    return r.text;
  }
}

/** One metric's value from Prometheus text (the first sample whose labels include `labels`). */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number | null {
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (!m || m[1] !== name) continue;
    const got = Object.fromEntries(
      [...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((x) => [x[1]!, x[2]!]),
    );
    if (Object.entries(labels).every(([k, v]) => got[k] === v)) return Number(m[3]);
  }
  return null;
}

/**
 * A group of daemons in one temporary directory. Nodes are defined with `define` (ports allocated,
 * config written) and started with `start`; ids are the daemons' node ids.
 */
export class DaemonCluster {
  readonly dir: string;
  readonly nodes = new Map<number, DaemonProcess>();

  constructor() {
    this.dir = makeTempDir();
  }

  node(id: number): DaemonProcess {
    const n = this.nodes.get(id);
    if (!n) throw new Error(`no node ${id} in this cluster`);
    return n;
  }

  /** Allocate ports and write node `id`'s config file. */
  async define(id: number, opts: NodeOptions = {}): Promise<DaemonProcess> {
    const ports = { raft: await freePort(), admin: await freePort(), sentinel: await freePort() };
    const dataDir = join(this.dir, `node${id}`);
    const configPath = join(this.dir, `node${id}.toml`);
    const n = new DaemonProcess(id, ports, dataDir, configPath);
    this.nodes.set(id, n);
    const join_ = (opts.join ?? []).map((j) => (typeof j === 'number' ? this.node(j).raftAddr : j));
    const lines = [
      `node_id = ${id}`,
      `data_dir = ${JSON.stringify(dataDir)}`,
      'log_level = "info"',
      '',
      '[raft]',
      `listen = "${n.raftAddr}"`,
      ...(opts.single ? ['single = true'] : []),
      ...(join_.length > 0 ? [`join = ${JSON.stringify(join_)}`] : []),
      `role = "${opts.role ?? 'voter'}"`,
      `heartbeat_ms = ${opts.raftTiming?.heartbeatMs ?? TIMING.heartbeatMs}`,
      `election_timeout_ms = ${opts.raftTiming?.electionTimeoutMs ?? TIMING.electionTimeoutMs}`,
      ...(opts.snapshotEveryEntries ? [`snapshot_every_entries = ${opts.snapshotEveryEntries}`] : []),
      '',
      '[sentinel]',
      `listen = "127.0.0.1:${ports.sentinel}"`,
      ...(opts.sentinelPassword ? [`requirepass = ${JSON.stringify(opts.sentinelPassword)}`] : []),
      ...(opts.sentinelToml ?? []),
      '',
      '[admin]',
      `listen = "${n.adminAddr}"`,
      ...(opts.token ? [`token = ${JSON.stringify(opts.token)}`] : []),
      '',
      '[failover]',
      `down_after_ms = ${opts.failover?.downAfterMs ?? TIMING.downAfterMs}`,
      `lease_ms = ${opts.failover?.leaseMs ?? TIMING.leaseMs}`,
      ...(opts.failover?.switchoverPauseMs
        ? [`switchover_pause_ms = ${opts.failover.switchoverPauseMs}`]
        : []),
      ...(opts.failover?.maxLagBytes !== undefined ? [`max_lag_bytes = ${opts.failover.maxLagBytes}`] : []),
      '',
      ...(opts.redis ?? []).flatMap((r) => [
        '[[redis]]',
        `shard = ${JSON.stringify(r.shard)}`,
        `addr = "${r.addr}"`,
        `role = "${r.role ?? 'replica'}"`,
        `priority = ${r.priority ?? 100}`,
        ...(r.password ? [`password = ${JSON.stringify(r.password)}`] : []),
        '',
      ]),
      opts.extraToml ?? '',
    ];
    writeFileSync(configPath, `${lines.join('\n')}\n`);
    return n;
  }

  /** Define (if needed) and start node `id`. */
  async start(id: number, opts: NodeOptions = {}): Promise<DaemonProcess> {
    const n = this.nodes.get(id) ?? (await this.define(id, opts));
    await n.start();
    return n;
  }

  /**
   * Start a group: node ids[0] bootstraps, the others join it, and all of them are voters
   * (learners if `role` says so) in everyone's view.
   */
  async startGroup(ids: number[], opts: Omit<NodeOptions, 'single' | 'join'> = {}): Promise<void> {
    const [first, ...rest] = ids;
    await this.start(first!, { ...opts, single: true });
    await this.waitForLeader([first!]);
    for (const id of rest) await this.define(id, { ...opts, join: [first!] });
    await Promise.all(rest.map((id) => this.node(id).start()));
    await this.waitForMembers(ids, ids);
  }

  kill(id: number, signal: 'SIGKILL' | 'SIGTERM' | 'SIGSTOP' | 'SIGCONT'): void {
    this.node(id).kill(signal);
  }

  /** SIGKILL (if running) and start again from the same data_dir. */
  async restart(id: number): Promise<DaemonProcess> {
    const n = this.node(id);
    if (n.running) await n.crash();
    await n.start();
    return n;
  }

  status(id: number): Promise<DaemonStatus> {
    return this.node(id).status();
  }

  waitFor<T>(pred: () => T | Promise<T>, timeoutMs: number, opts?: WaitOptions): Promise<NonNullable<T>> {
    return waitFor(pred, timeoutMs, opts);
  }

  waitForLog(id: number, pred: LogPredicate, timeoutMs: number, from = 0): Promise<LogLine> {
    return this.node(id).waitForLog(pred, timeoutMs, from);
  }

  /** Run the CLI; `--admin` of node `adminOf` is appended when given. */
  cli(args: string[], opts: { adminOf?: number; timeoutMs?: number } = {}): Promise<CliResult> {
    const extra = opts.adminOf !== undefined ? ['--admin', this.node(opts.adminOf).adminAddr] : [];
    return runCli([...args, ...extra], opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {});
  }

  /**
   * Wait until every node in `ids` reports the same leader (itself in `ids`), and return it.
   * `exclude`: a leader not to accept (e.g. the one just killed).
   */
  async waitForLeader(ids: number[], opts: { timeoutMs?: number; exclude?: number } = {}): Promise<number> {
    return waitFor(
      async () => {
        const statuses = await Promise.all(ids.map((id) => this.status(id)));
        const leader = statuses[0]!.leader;
        if (leader === null || leader === opts.exclude || !ids.includes(leader)) return null;
        if (!statuses.every((s) => s.leader === leader)) return null;
        const ls = statuses.find((s) => s.node_id === leader)!;
        return ls.role === 'leader' ? leader : null;
      },
      opts.timeoutMs ?? 15_000,
      { what: `one leader among nodes ${ids.join(', ')}`, intervalMs: 50 },
    );
  }

  /**
   * Wait until every node in `ids` lists exactly `voters` as voters and `learners` as learners,
   * with a leader, and has applied everything the leader committed when it was asked.
   */
  async waitForMembers(
    ids: number[],
    voters: number[],
    learners: number[] = [],
    timeoutMs = 30_000,
  ): Promise<DaemonStatus[]> {
    const want = (s: DaemonStatus, role: string) =>
      s.members
        .filter((m) => m.role === role)
        .map((m) => m.id)
        .sort((a, b) => a - b)
        .join(',');
    return waitFor(
      async () => {
        const statuses = await Promise.all(ids.map((id) => this.status(id)));
        const ok = statuses.every(
          (s) =>
            s.leader !== null &&
            want(s, 'voter') === [...voters].sort((a, b) => a - b).join(',') &&
            want(s, 'learner') === [...learners].sort((a, b) => a - b).join(',') &&
            s.members.length === voters.length + learners.length,
        );
        return ok ? statuses : null;
      },
      timeoutMs,
      {
        what: `nodes ${ids.join(', ')} to see voters [${voters}] and learners [${learners}]`,
        intervalMs: 100,
      },
    );
  }

  /**
   * Check that leadership moved to `to`: it logged becoming the leader (after its log line `since`)
   * and all of `ids` now agree on a leader. On a loaded machine a later election may have moved
   * leadership on again; that is tolerated only with a higher term, and reported.
   */
  async expectLeadershipMovedTo(to: number, since: number, ids: number[], timeoutMs = 15_000): Promise<void> {
    const became = await this.node(to).waitForLog(
      (l) => l.json?.msg === 'raft role changed' && l.json.role === 'leader',
      timeoutMs,
      since,
    );
    const term = Number(became.json!.term);
    const leader = await this.waitForLeader(ids, { timeoutMs });
    if (leader === to) return;
    const now = (await this.status(leader)).term;
    if (!(now > term)) {
      throw new Error(`node ${to} became leader in term ${term}, but node ${leader} leads in term ${now}`);
    }
    console.warn(
      `[daemons] node ${to} took over in term ${term}, then node ${leader} was elected in term ${now} (slow machine?)`,
    );
  }

  /** Wait until node `id` has applied at least the leader's commit index as of now. */
  async waitCaughtUp(id: number, leader: number, timeoutMs = 15_000): Promise<DaemonStatus> {
    const target = (await this.status(leader)).commit_index;
    return waitFor(
      async () => {
        const s = await this.status(id);
        return s.applied_index >= target ? s : null;
      },
      timeoutMs,
      { what: `node ${id} to apply up to ${target}`, intervalMs: 50 },
    );
  }
}

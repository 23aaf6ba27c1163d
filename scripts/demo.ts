/**
 * `npm run demo`: three local nodes (each `./run-node.sh N`: a daemon and its redis-server) in one
 * terminal, with a live status view refreshed every second. The nodes' output goes to
 * data/nodeN/daemon.log. Ctrl-C (or q) stops everything this started and exits 0. A data directory
 * left by an earlier run is reused: the demo resumes the same group.
 *
 *   tsx scripts/demo.ts [--for SECONDS] [--no-clear]
 *
 * --for S: run non-interactively, S seconds once the group has its 3 voters, then stop and exit.
 * --no-clear: append each frame instead of redrawing the screen (the default when stdout is not
 * a terminal). Ports and the data directory follow run-node.sh's environment overrides.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { adminRequest } from '../src/cli/admin-client.js';
import { renderStatus, table } from '../src/cli/status-view.js';
import {
  dataRoot,
  type NodeFiles,
  type NodePorts,
  nodeFiles,
  nodePorts,
  portBases,
  processAlive,
  REPO_ROOT,
  readPidFile,
} from './local-group.js';
import { RespError, respCommand } from './resp-probe.js';

export const NODES = [1, 2, 3] as const;
const SHARD = 'mymaster';
const READY_TIMEOUT_MS = 90_000;

export interface DemoOptions {
  /** Seconds to run once the group is ready; undefined = until stopped. */
  forSeconds: number | undefined;
  clear: boolean;
}

export function parseDemoArgs(argv: string[], stdoutIsTty: boolean): DemoOptions | { help: string } {
  const { values } = parseArgs({
    args: argv,
    options: {
      for: { type: 'string' },
      'no-clear': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) {
    return {
      help: [
        'usage: npm run demo -- [--for SECONDS] [--no-clear]',
        '',
        'Starts nodes 1, 2 and 3 of a local group (./run-node.sh N each: a raftinel daemon and its',
        'redis-server), waits for 3 voters and shows a live status view. q or Ctrl-C stops everything.',
        '  --for SECONDS  run non-interactively for SECONDS once the group is ready, then stop',
        '  --no-clear     append each frame instead of redrawing the screen',
      ].join('\n'),
    };
  }
  let forSeconds: number | undefined;
  if (values.for !== undefined) {
    forSeconds = Number(values.for);
    if (!/^\d+(\.\d+)?$/.test(values.for) || !(forSeconds > 0))
      throw new Error(`--for expects a positive number of seconds, got "${values.for}"`);
  }
  return { forSeconds, clear: stdoutIsTty && !values['no-clear'] };
}

function out(text: string): void {
  process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function relative(p: string): string {
  const r = path.relative(process.cwd(), p);
  return r.startsWith('..') ? p : r || '.';
}

interface NodeProc {
  n: number;
  ports: NodePorts;
  files: NodeFiles;
  child: ChildProcess | null;
  /** How the last process of this node ended, for the view. */
  ended: string | null;
}

interface StatusBody {
  node_id: number;
  role: string;
  leader: number | null;
  term: number;
  members: { id: number; role: string }[];
  [k: string]: unknown;
}

interface JobView {
  id: string;
  kind: string;
  state: string;
  reason: string | null;
  step: string | null;
  updatedAtMs: number;
}

interface Snapshot {
  statuses: Map<number, StatusBody | string>;
  redis: Map<number, string>;
  sentinel: Map<number, string>;
  view: StatusBody | null;
  jobs: JobView[];
}

export class Demo {
  readonly nodes: NodeProc[];
  private stopping: Promise<void> | null = null;
  private readyAt: number | null = null;
  private frames = 0;

  constructor(
    private readonly opts: DemoOptions,
    private readonly env: NodeJS.ProcessEnv = process.env,
  ) {
    const bases = portBases(env);
    const root = dataRoot(env);
    this.nodes = NODES.map((n) => ({
      n,
      ports: nodePorts(n, bases),
      files: nodeFiles(root, n),
      child: null,
      ended: null,
    }));
  }

  /** Starts `./run-node.sh N` in its own process group, its output appended to daemon.log. */
  startNode(node: NodeProc): void {
    mkdirSync(node.files.dir, { recursive: true });
    const fd = openSync(node.files.daemonLog, 'a');
    writeSync(fd, `\n=== npm run demo: ./run-node.sh ${node.n} at ${new Date().toISOString()} ===\n`);
    let child: ChildProcess;
    try {
      child = spawn(path.join(REPO_ROOT, 'run-node.sh'), [String(node.n)], {
        cwd: REPO_ROOT,
        env: this.env,
        stdio: ['ignore', fd, fd],
        detached: true,
      });
    } finally {
      closeSync(fd);
    }
    node.child = child;
    node.ended = null;
    child.once('error', (err) => {
      node.ended = `failed to start: ${err.message}`;
      if (node.child === child) node.child = null;
    });
    child.once('exit', (code, signal) => {
      node.ended = signal ? `killed (${signal})` : `exited (code ${code})`;
      if (node.child === child) node.child = null;
    });
  }

  private logTail(node: NodeProc, lines = 12): string {
    try {
      const text = readFileSync(node.files.daemonLog, 'utf8').trimEnd().split('\n');
      return text.slice(-lines).join('\n');
    } catch {
      return '(no log)';
    }
  }

  /** A node whose process ended while starting: the demo cannot go on. */
  private failedNode(): NodeProc | undefined {
    return this.nodes.find((x) => x.child === null && x.ended !== null);
  }

  async run(): Promise<number> {
    out(
      `raftinel demo: starting nodes ${NODES.join(', ')} (logs: ${relative(this.nodes[0]!.files.daemonLog).replace('node1', 'nodeN')})`,
    );
    const busy = await this.busyPorts();
    if (busy.length > 0) {
      console.error(
        `demo: ports in use: ${busy.join(', ')}\nIs a demo or ./run-node.sh already running? ` +
          'Stop it, or move this demo with RAFTINEL_*_PORT_BASE (see run-node.sh).',
      );
      return 1;
    }
    const first = this.nodes[0]!;
    this.startNode(first);
    // Node 1 first (it bootstraps the group on a first run), the others once its admin API answers.
    const deadline = Date.now() + READY_TIMEOUT_MS;
    while (!this.stopping && (await this.fetchStatus(first)) === null) {
      const failed = this.failedNode();
      if (failed) return this.startFailed(failed);
      if (Date.now() > deadline) return this.timedOut();
      await sleep(200);
    }
    for (const node of this.nodes.slice(1)) if (!this.stopping) this.startNode(node);

    while (!this.stopping) {
      const t0 = Date.now();
      const snap = await this.snapshot();
      if (this.stopping) break;
      const voters = snap.view ? snap.view.members.filter((m) => m.role === 'voter').length : 0;
      if (this.readyAt === null) {
        const failed = this.failedNode();
        if (failed) return this.startFailed(failed);
        if (snap.view?.leader != null && voters >= NODES.length) this.readyAt = Date.now();
        else if (Date.now() > deadline) return this.timedOut();
      }
      this.draw(snap, voters);
      if (
        this.opts.forSeconds !== undefined &&
        this.readyAt !== null &&
        Date.now() - this.readyAt >= this.opts.forSeconds * 1000
      )
        break;
      await sleep(Math.max(0, 1000 - (Date.now() - t0)));
    }
    await this.stop();
    return 0;
  }

  /** "Redis port 6379 of node 1", ... for every port of the three nodes that cannot be bound. */
  private async busyPorts(): Promise<string[]> {
    const busy: string[] = [];
    for (const node of this.nodes) {
      for (const [name, port] of Object.entries(node.ports)) {
        if (!(await portFree(port))) busy.push(`${name} port ${port} of node ${node.n}`);
      }
    }
    return busy;
  }

  private async startFailed(node: NodeProc): Promise<number> {
    console.error(
      `demo: node ${node.n} ${node.ended} while starting; the end of ${relative(node.files.daemonLog)}:\n${this.logTail(node)}`,
    );
    await this.stop();
    return 1;
  }

  private async timedOut(): Promise<number> {
    console.error(
      `demo: the group did not reach ${NODES.length} voters within ${READY_TIMEOUT_MS / 1000} s; see ${relative(this.nodes[0]!.files.daemonLog).replace('node1', 'nodeN')}`,
    );
    for (const node of this.nodes) console.error(`--- node ${node.n}:\n${this.logTail(node, 6)}`);
    await this.stop();
    return 1;
  }

  private async fetchStatus(node: NodeProc): Promise<StatusBody | null> {
    try {
      const r = await adminRequest(
        { admin: `127.0.0.1:${node.ports.admin}`, timeoutMs: 800 },
        'GET',
        '/v1/status',
      );
      return r.status === 200 ? (r.body as unknown as StatusBody) : null;
    } catch {
      return null;
    }
  }

  private async redisRole(node: NodeProc): Promise<string> {
    try {
      const reply = await respCommand(node.ports.redis, ['ROLE']);
      if (Array.isArray(reply) && typeof reply[0] === 'string') {
        if (reply[0] === 'slave' && typeof reply[1] === 'string')
          return `replica of ${reply[1]}:${reply[2]}${reply[3] === 'connected' ? '' : ` (${reply[3]})`}`;
        return reply[0];
      }
      return reply instanceof RespError ? reply.message : 'unexpected reply';
    } catch (err) {
      return /ECONNREFUSED/.test((err as Error).message) ? 'down' : (err as Error).message;
    }
  }

  private async sentinelAnswer(node: NodeProc): Promise<string> {
    try {
      const reply = await respCommand(node.ports.sentinel, ['SENTINEL', 'get-master-addr-by-name', SHARD]);
      if (Array.isArray(reply)) return reply.join(':');
      if (reply === null) return '(nil)';
      return reply instanceof RespError ? `-${reply.message}` : String(reply);
    } catch (err) {
      return /ECONNREFUSED/.test((err as Error).message) ? 'not listening' : (err as Error).message;
    }
  }

  private async snapshot(): Promise<Snapshot> {
    const statuses = new Map<number, StatusBody | string>();
    const redis = new Map<number, string>();
    const sentinel = new Map<number, string>();
    await Promise.all(
      this.nodes.map(async (node) => {
        const [st, role, sent] = await Promise.all([
          this.fetchStatus(node),
          this.redisRole(node),
          this.sentinelAnswer(node),
        ]);
        statuses.set(node.n, st ?? 'no answer');
        redis.set(node.n, role);
        sentinel.set(node.n, sent);
      }),
    );
    const answered = [...statuses.values()].filter((s): s is StatusBody => typeof s !== 'string');
    const view = answered.find((s) => s.role === 'leader') ?? answered[0] ?? null;
    let jobs: JobView[] = [];
    if (view) {
      const node = this.nodes.find((x) => x.n === view.node_id);
      try {
        const r = await adminRequest(
          { admin: `127.0.0.1:${node?.ports.admin}`, timeoutMs: 800 },
          'GET',
          '/v1/jobs',
        );
        if (r.status === 200) jobs = ((r.body.jobs as JobView[]) ?? []).slice(0, 5);
      } catch {
        jobs = [];
      }
    }
    return { statuses, redis, sentinel, view, jobs };
  }

  private draw(snap: Snapshot, voters: number): void {
    const lines: string[] = [];
    const now = new Date().toTimeString().slice(0, 8);
    const stop =
      this.opts.forSeconds === undefined ? 'Ctrl-C or q stops everything' : `--for ${this.opts.forSeconds}`;
    lines.push(`raftinel demo: ${NODES.length} local nodes, refreshed every second (${stop})   ${now}`);
    const v = snap.view;
    if (this.readyAt === null) {
      const leader = v?.leader == null ? ', no leader yet' : `, leader node ${v.leader}`;
      lines.push(`waiting for the group: ${voters} of ${NODES.length} voters${leader}`);
    } else if (v) {
      const leader = v.leader === null ? 'no leader' : `leader node ${v.leader}`;
      lines.push(`group: ${voters} voters, ${leader}, term ${v.term}`);
    } else {
      lines.push('group: no daemon answers');
    }
    lines.push('');
    const rows = [['NODE', 'PID', 'PROCESS', 'RAFT', 'TERM', 'REDIS', 'SENTINEL: get-master-addr-by-name']];
    for (const node of this.nodes) {
      const st = snap.statuses.get(node.n);
      const pid = node.child?.pid;
      rows.push([
        String(node.n),
        pid ? String(pid) : '-',
        node.child ? 'running' : (node.ended ?? 'not started'),
        typeof st === 'string' || st === undefined ? (st ?? '-') : st.role,
        typeof st === 'string' || st === undefined ? '-' : String(st.term),
        `:${node.ports.redis} ${snap.redis.get(node.n) ?? '-'}`,
        `:${node.ports.sentinel} ${snap.sentinel.get(node.n) ?? '-'}`,
      ]);
    }
    lines.push(table(rows), '');
    if (v) {
      const via = this.nodes.find((x) => x.n === v.node_id)!;
      lines.push(
        `bin/raftinel status --admin 127.0.0.1:${via.ports.admin}${v.role === 'leader' ? '   (the leader)' : ''}:`,
        renderStatus(v as Record<string, unknown>),
        '',
      );
    }
    lines.push('recent jobs:');
    if (snap.jobs.length === 0) lines.push('  none');
    for (const j of snap.jobs) {
      const age = Math.max(0, Math.round((Date.now() - j.updatedAtMs) / 1000));
      const why = j.reason ? `: ${j.reason}` : j.step && j.state === 'running' ? ` (${j.step})` : '';
      lines.push(`  ${j.id}  ${j.kind}  ${j.state}${why}  ${age}s ago`);
    }
    lines.push('', ...this.hints(snap));
    this.frames++;
    // Redraw in place: home, each line cleared to its end, then the rest of the screen cleared.
    const text = lines.join('\n');
    if (this.opts.clear) {
      process.stdout.write(`\x1b[H${text.replaceAll('\n', '\x1b[K\n')}\x1b[K\n\x1b[J`);
    } else out(`${this.frames > 1 ? '\n' : ''}--- ${now}\n${text}`);
  }

  private hints(snap: Snapshot): string[] {
    const leaderId = snap.view?.leader ?? null;
    const leader = this.nodes.find((x) => x.n === leaderId);
    const other = this.nodes.find((x) => x.n !== leaderId && x.child) ?? this.nodes[1]!;
    const bin = relative(path.join(REPO_ROOT, 'bin', 'raftinel'));
    const admin = `127.0.0.1:${(leader ?? this.nodes[0]!).ports.admin}`;
    const stopped = this.nodes.filter((x) => !x.child).map((x) => x.n);
    const h = ['try:'];
    if (leader?.child?.pid) {
      h.push(
        `  kill -9 ${leader.child.pid}   crash the leader's host: its daemon dies and run-node.sh stops its Redis`,
        `  kill ${leader.child.pid}      stop the leader cleanly: it hands leadership over first`,
      );
    }
    const running = this.nodes.filter((x) => x.child);
    const follower = running.find((x) => x.n !== leaderId) ?? this.nodes[2]!;
    const anyNode = running[0] ?? this.nodes[0]!;
    h.push(
      `  ${bin} transfer-leader ${other.n} --admin ${admin}`,
      `  ${bin} status --admin 127.0.0.1:${follower.ports.admin}     (any node answers)`,
      `  redis-cli -p ${anyNode.ports.sentinel} SENTINEL get-master-addr-by-name ${SHARD}`,
    );
    if (stopped.length > 0 && this.opts.forSeconds === undefined && process.stdin.isTTY)
      h.push(`  press ${stopped.join(' or ')} to start node ${stopped.join('/')} again`);
    h.push(
      `logs: ${relative(this.nodes[0]!.files.daemonLog).replace('node1', 'nodeN')}, ${relative(this.nodes[0]!.files.redisLog).replace('node1', 'nodeN')}`,
    );
    return h;
  }

  /** Restarts a node whose process has ended (from the keyboard). */
  restart(n: number): void {
    const node = this.nodes.find((x) => x.n === n);
    if (node && !node.child && !this.stopping) this.startNode(node);
  }

  /** Stops every node this started, and their redis-servers. Idempotent. */
  stop(): Promise<void> {
    this.stopping ??= this.stopAll();
    return this.stopping;
  }

  private async stopAll(): Promise<void> {
    const running = this.nodes.filter((x) => x.child?.pid);
    if (running.length > 0) out(`demo: stopping nodes ${running.map((x) => x.n).join(', ')}...`);
    const groups = running.map((x) => x.child!.pid!);
    const exits = running.map(
      (x) =>
        new Promise<void>((resolve) => {
          const child = x.child!;
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          child.once('exit', () => resolve());
          // The pid is the daemon's (run-node.sh execs it): SIGTERM stops it gracefully.
          try {
            child.kill('SIGTERM');
          } catch {
            resolve();
          }
        }),
    );
    const all = Promise.all(exits);
    if ((await Promise.race([all.then(() => true), sleep(15_000).then(() => false)])) === false) {
      for (const pid of groups) killGroup(pid, 'SIGKILL');
      await Promise.race([all, sleep(2000)]);
    }
    // run-node.sh's watchdog stops each Redis once its daemon is gone; make sure of it.
    await Promise.all(this.nodes.map((x) => stopRedis(x.files)));
    for (const pid of groups) killGroup(pid, 'SIGKILL'); // anything left in those groups
  }

  /** Last resort on exit: signal every node still running (synchronously). */
  killAllNow(): void {
    for (const x of this.nodes) {
      if (x.child?.pid && x.child.exitCode === null) killGroup(x.child.pid, 'SIGTERM');
    }
  }
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

function killGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // Gone already.
  }
}

/** Waits for the Redis of a node to exit (up to 10 s), then signals it itself. */
async function stopRedis(files: NodeFiles): Promise<void> {
  const deadline = Date.now() + 10_000;
  let pid = readPidFile(files.redisPidFile);
  while (pid !== null && processAlive(pid) && Date.now() < deadline) {
    await sleep(100);
    pid = readPidFile(files.redisPidFile);
  }
  if (pid === null || !processAlive(pid) || !isRedis(pid)) return;
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  for (let i = 0; i < 50 && processAlive(pid); i++) await sleep(100);
  if (processAlive(pid)) process.kill(pid, 'SIGKILL');
}

/** Whether `pid` is a redis-server (guards against a stale pid file naming a reused pid). */
function isRedis(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('redis-server');
  } catch {
    return process.platform !== 'linux';
  }
}

async function main(): Promise<number> {
  let opts: DemoOptions | { help: string };
  try {
    opts = parseDemoArgs(process.argv.slice(2), Boolean(process.stdout.isTTY));
  } catch (err) {
    console.error(`demo: ${(err as Error).message}`);
    return 2;
  }
  if ('help' in opts) {
    out(opts.help);
    return 0;
  }
  if (spawnSync('redis-server', ['--version']).error) {
    console.error('demo: redis-server not found: install redis-server: apt-get install redis-server');
    return 1;
  }
  let demo: Demo;
  try {
    demo = new Demo(opts);
  } catch (err) {
    console.error(`demo: ${(err as Error).message}`);
    return 2;
  }
  const onSignal = () => void demo.stop();
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, onSignal);
  process.on('exit', () => demo.killAllNow());
  const stdin = process.stdin;
  const interactive = opts.forSeconds === undefined && stdin.isTTY;
  if (interactive) {
    stdin.setRawMode(true);
    stdin.setEncoding('utf8');
    stdin.on('data', (key: string) => {
      if (key === '\u0003' || key === 'q' || key === 'Q') void demo.stop();
      else if (/^[1-9]$/.test(key)) demo.restart(Number(key));
    });
  }
  try {
    return await demo.run();
  } catch (err) {
    console.error(`demo: ${(err as Error).stack ?? err}`);
    await demo.stop();
    return 1;
  } finally {
    if (interactive) {
      stdin.setRawMode(false);
      stdin.pause();
    }
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  main().then((code) => {
    out(code === 0 ? 'demo: stopped' : `demo: exit ${code}`);
    process.exit(code);
  });
}

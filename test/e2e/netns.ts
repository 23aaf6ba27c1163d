/**
 * Test hosts on real network namespaces (needs root): one namespace per "host", each with its own
 * address on a private /24, all plugged into a Linux bridge that lives in a namespace of its own
 * (a "switch"), plus one veth from the root namespace into that switch so the test process (the
 * observer) can reach every host. Partitions are iptables DROP rules inside the host namespaces;
 * the observer's address is never blocked, so the test can always watch and measure.
 *
 *   root ns (observer, 10.213.N.254) ──┐
 *   host 1  (10.213.N.1, eth0) ────────┤ br0 in the switch namespace
 *   host 2  (10.213.N.2, eth0) ────────┤
 *   ...                                ┘
 *
 * Everything is created under names derived from the subnet's third octet N (`rfe-N-h1`, ...), N
 * being reserved by an exclusive lock file, so parallel test files and concurrent runs never clash.
 * `destroy()` kills what was started in the namespaces and deletes them (the veths, the bridge and
 * the iptables rules go with them). It also runs on process exit, SIGINT and SIGTERM; namespaces
 * left behind by a run that was SIGKILLed are swept by the next run (their lock's pid is dead).
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeSync,
} from 'node:fs';
import { createConnection } from 'node:net';
import { join } from 'node:path';

const PREFIX = 'rfe';
const LOCK_DIR = '/tmp/raftinel-e2e-locks';
const SUBNET_BASE = '10.213';

// ---------------------------------------------------------------------------------------------
// Can this machine run it?

export type Support = { ok: true } | { ok: false; reason: string };

function haveBinary(name: string): boolean {
  return (process.env.PATH ?? '')
    .split(':')
    .concat(['/usr/sbin', '/sbin'])
    .some((dir) => dir !== '' && existsSync(join(dir, name)));
}

let supportCache: Support | null = null;

/** Whether network-namespace tests can run here, and if not, why (one line). */
export function netnsSupport(): Support {
  if (supportCache) return supportCache;
  const check = (): Support => {
    if (process.platform !== 'linux')
      return { ok: false, reason: `needs Linux (this is ${process.platform})` };
    if (process.getuid?.() !== 0) return { ok: false, reason: 'needs root (ip netns, iptables)' };
    for (const bin of ['ip', 'iptables', 'iptables-restore', 'redis-server']) {
      if (!haveBinary(bin)) return { ok: false, reason: `needs ${bin} on PATH` };
    }
    const r = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8', timeout: 10_000 });
    if (r.status !== 0) return { ok: false, reason: `\`ip netns list\` failed: ${(r.stderr ?? '').trim()}` };
    return { ok: true };
  };
  supportCache = check();
  return supportCache;
}

// ---------------------------------------------------------------------------------------------
// Running commands

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Run a command to completion (bounded), resolving with its output; never rejects. */
export function run(
  cmd: string,
  args: string[],
  opts: { input?: string; timeoutMs?: number } = {},
): Promise<RunResult> {
  return new Promise((resolve) => {
    const p = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
    });
    p.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
    });
    const timer = setTimeout(() => p.kill('SIGKILL'), opts.timeoutMs ?? 15_000);
    p.once('error', (err) => {
      clearTimeout(timer);
      resolve({ code: null, stdout, stderr: `${stderr}${err.message}` });
    });
    p.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    p.stdin.on('error', () => {});
    p.stdin.end(opts.input ?? '');
  });
}

/** Like run(), but throws with the command and its stderr when it fails. */
export async function must(cmd: string, args: string[], opts: { input?: string; timeoutMs?: number } = {}) {
  const r = await run(cmd, args, opts);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.code}): ${r.stderr.trim()}`);
  return r;
}

// ---------------------------------------------------------------------------------------------
// Processes started inside namespaces

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A process started in a host's namespace (`ip netns exec` execs it: the pid is the process's). */
export class HostProcess {
  readonly lines: string[] = [];
  readonly exited: Promise<ExitInfo>;
  exit: ExitInfo | null = null;
  private listeners = new Set<(line: string) => void>();

  constructor(
    readonly name: string,
    readonly proc: ChildProcess,
  ) {
    this.exited = new Promise((resolve) => {
      proc.once('exit', (code, signal) => {
        this.exit = { code, signal };
        resolve(this.exit);
      });
      proc.once('error', (err) => {
        this.lines.push(`[spawn error] ${err.message}`);
        this.exit = { code: null, signal: null };
        resolve(this.exit);
      });
    });
    for (const stream of [proc.stdout, proc.stderr]) {
      if (!stream) continue;
      let buf = '';
      stream.setEncoding('utf8').on('data', (chunk: string) => {
        buf += chunk;
        for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
          this.push(buf.slice(0, nl));
          buf = buf.slice(nl + 1);
        }
      });
      stream.on('end', () => {
        if (buf) this.push(buf);
        buf = '';
      });
    }
  }

  get pid(): number | undefined {
    return this.proc.pid;
  }

  get running(): boolean {
    return this.exit === null;
  }

  private push(line: string): void {
    this.lines.push(line);
    for (const l of this.listeners) l(line);
  }

  /** Each line from now on (and none before); returns an unsubscribe function. */
  onLine(f: (line: string) => void): () => void {
    this.listeners.add(f);
    return () => this.listeners.delete(f);
  }

  /** Resolve with the first line (from index `from`) matching `pred`; reject on exit or timeout. */
  waitForLine(pred: (line: string) => boolean, timeoutMs: number, from = 0): Promise<string> {
    for (let i = from; i < this.lines.length; i++)
      if (pred(this.lines[i]!)) return Promise.resolve(this.lines[i]!);
    return new Promise((resolve, reject) => {
      let off = () => {};
      const timer = setTimeout(() => {
        off();
        reject(
          new Error(`${this.name}: no matching line within ${timeoutMs} ms; last lines:\n${this.tail(10)}`),
        );
      }, timeoutMs);
      off = this.onLine((l) => {
        if (!pred(l)) return;
        clearTimeout(timer);
        off();
        resolve(l);
      });
      void this.exited.then((e) => {
        clearTimeout(timer);
        off();
        reject(new Error(`${this.name} exited (${e.code ?? e.signal}); last lines:\n${this.tail(10)}`));
      });
    });
  }

  tail(n: number): string {
    return this.lines.slice(-n).join('\n');
  }

  signal(sig: NodeJS.Signals): void {
    if (this.exit) return;
    try {
      this.proc.kill(sig);
    } catch {
      // gone
    }
  }

  /** SIGCONT (in case it is stopped) and SIGKILL; resolves when it has exited (bounded). */
  async kill(timeoutMs = 5000): Promise<void> {
    if (this.exit) return;
    this.signal('SIGCONT');
    this.signal('SIGKILL');
    await Promise.race([this.exited, new Promise((r) => setTimeout(r, timeoutMs).unref())]);
  }
}

// ---------------------------------------------------------------------------------------------
// Partitions

/** A rule: host `on` drops what it receives from `peer` and/or what it sends to `peer`. */
interface DropRule {
  on: number;
  peer: number;
  dir: 'in' | 'out' | 'both';
  /** Only TCP to/from this port of the peer (the peer's server port). */
  peerPort?: number;
}

export interface FlapOptions {
  /** Applied when the link is down, undone when up (default: isolate `host`). */
  down: () => Promise<void>;
  up: () => Promise<void>;
  /** Length of each down and each up period, uniformly in [min, max] ms. */
  minMs: number;
  maxMs: number;
  /** Total flapping time; ends healed. */
  durationMs: number;
  /** Seed for the period lengths (printed by the caller to replay). */
  seed: number;
}

export interface FlapResult {
  toggles: number;
  downMs: number[];
  upMs: number[];
}

/** A small seeded PRNG (mulberry32), for reproducible flapping schedules. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// ---------------------------------------------------------------------------------------------
// Global registry: cleanup on exit and on signals

const liveNets = new Set<TestNet>();
let handlersInstalled = false;

function installExitHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.once('exit', () => {
    for (const n of liveNets) n.destroySync();
  });
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      for (const n of liveNets) n.destroySync();
      process.exit(sig === 'SIGINT' ? 130 : 143);
    });
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Kill the processes inside namespace `ns` (ours: only this harness starts processes there). */
function killNamespacePidsSync(ns: string): void {
  const r = spawnSync('ip', ['netns', 'pids', ns], { encoding: 'utf8', timeout: 5000 });
  for (const s of (r.stdout ?? '').split(/\s+/)) {
    const pid = Number(s);
    if (!Number.isInteger(pid) || pid <= 1 || pid === process.pid) continue;
    try {
      process.kill(pid, 'SIGCONT');
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
}

function statMtimeMs(path: string): number {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return 0;
  }
}

function ourNamespaces(): string[] {
  const r = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8', timeout: 5000 });
  return (r.stdout ?? '')
    .split('\n')
    .map((l) => l.split(/\s+/)[0] ?? '')
    .filter((n) => new RegExp(`^${PREFIX}-\\d+-`).test(n));
}

/**
 * Remove what a previous run left behind (it was SIGKILLed before its cleanup could run): the
 * namespaces of every subnet whose lock is missing or held by a dead process.
 */
function sweepStale(): void {
  mkdirSync(LOCK_DIR, { recursive: true });
  const lockOwner = (octet: string): number | null => {
    try {
      return Number(readFileSync(join(LOCK_DIR, `${octet}.lock`), 'utf8').trim()) || null;
    } catch {
      return null;
    }
  };
  for (const ns of ourNamespaces()) {
    const octet = ns.split('-')[1]!;
    const owner = lockOwner(octet);
    if (owner === null && Date.now() - statMtimeMs(join(LOCK_DIR, `${octet}.lock`)) < 60_000) continue;
    if (owner !== null && pidAlive(owner)) continue;
    killNamespacePidsSync(ns);
    spawnSync('ip', ['netns', 'del', ns], { timeout: 5000 });
  }
  for (const f of readdirSync(LOCK_DIR)) {
    const m = /^(\d+)\.lock$/.exec(f);
    if (!m) continue;
    const owner = lockOwner(m[1]!);
    // A lock without a pid yet may be being written right now: only an old one is stale.
    const fresh = owner === null && Date.now() - statMtimeMs(join(LOCK_DIR, f)) < 60_000;
    if (!fresh && (owner === null || !pidAlive(owner))) rmSync(join(LOCK_DIR, f), { force: true });
  }
}

/** Reserve a free third octet: an exclusive lock file, and no such subnet on the root namespace. */
function reserveOctet(): number {
  sweepStale();
  const used =
    spawnSync('ip', ['-4', '-o', 'addr', 'show'], { encoding: 'utf8', timeout: 5000 }).stdout ?? '';
  const routes = spawnSync('ip', ['-4', 'route', 'show'], { encoding: 'utf8', timeout: 5000 }).stdout ?? '';
  const start = 1 + Math.floor(Math.random() * 250);
  for (let i = 0; i < 250; i++) {
    const octet = 1 + ((start + i) % 250);
    const net = `${SUBNET_BASE}.${octet}.`;
    if (used.includes(net) || routes.includes(net)) continue;
    try {
      const fd = openSync(join(LOCK_DIR, `${octet}.lock`), 'wx');
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      return octet;
    } catch {
      // taken: try the next
    }
  }
  throw new Error(`no free ${SUBNET_BASE}.N.0/24 subnet for the test network`);
}

// ---------------------------------------------------------------------------------------------
// The network

export interface Host {
  /** 1-based. */
  id: number;
  ns: string;
  addr: string;
}

export class TestNet {
  readonly hosts: Host[] = [];
  readonly observerAddr: string;
  private readonly switchNs: string;
  private readonly procs = new Set<HostProcess>();
  private rules: DropRule[] = [];
  private destroyed = false;
  private applying: Promise<void> = Promise.resolve();

  private constructor(
    readonly octet: number,
    hostCount: number,
  ) {
    this.switchNs = `${PREFIX}-${octet}-sw`;
    this.observerAddr = `${SUBNET_BASE}.${octet}.254`;
    for (let i = 1; i <= hostCount; i++) {
      this.hosts.push({ id: i, ns: `${PREFIX}-${octet}-h${i}`, addr: `${SUBNET_BASE}.${octet}.${i}` });
    }
  }

  /** Create the switch, `hostCount` hosts and the observer's link. Cleans up if any step fails. */
  static async create(hostCount: number): Promise<TestNet> {
    const s = netnsSupport();
    if (!s.ok) throw new Error(`network namespaces unavailable: ${s.reason}`);
    installExitHandlers();
    const net = new TestNet(reserveOctet(), hostCount);
    liveNets.add(net);
    try {
      await net.build();
    } catch (err) {
      await net.destroy();
      throw err;
    }
    return net;
  }

  private async build(): Promise<void> {
    const sw = this.switchNs;
    const inSw = (...args: string[]) => must('ip', ['netns', 'exec', sw, 'ip', ...args]);
    await must('ip', ['netns', 'add', sw]);
    await inSw('link', 'set', 'lo', 'up');
    await inSw('link', 'add', 'br0', 'type', 'bridge');
    await inSw('link', 'set', 'br0', 'up');
    for (const h of this.hosts) {
      const tmp = `${PREFIX}${this.octet}e${h.id}`;
      const port = `p${h.id}`;
      await must('ip', ['netns', 'add', h.ns]);
      await must('ip', ['link', 'add', tmp, 'type', 'veth', 'peer', 'name', port, 'netns', sw]);
      await must('ip', ['link', 'set', tmp, 'netns', h.ns]);
      const inH = (...args: string[]) => must('ip', ['netns', 'exec', h.ns, 'ip', ...args]);
      await inH('link', 'set', tmp, 'name', 'eth0');
      await inH('addr', 'add', `${h.addr}/24`, 'dev', 'eth0');
      await inH('link', 'set', 'eth0', 'up');
      await inH('link', 'set', 'lo', 'up');
      await inSw('link', 'set', port, 'master', 'br0');
      await inSw('link', 'set', port, 'up');
    }
    // The observer's link: deleted with the switch namespace (a veth dies with its peer).
    const rootIf = `${PREFIX}${this.octet}r`;
    await must('ip', ['link', 'add', rootIf, 'type', 'veth', 'peer', 'name', 'pobs', 'netns', sw]);
    await must('ip', ['addr', 'add', `${this.observerAddr}/24`, 'dev', rootIf]);
    await must('ip', ['link', 'set', rootIf, 'up']);
    await inSw('link', 'set', 'pobs', 'master', 'br0');
    await inSw('link', 'set', 'pobs', 'up');
    // The bridge needs a moment to forward (no STP, but links come up asynchronously).
    const deadline = Date.now() + 10_000;
    for (const h of this.hosts) {
      for (;;) {
        const r = await run('ip', ['netns', 'exec', h.ns, 'ip', '-o', 'link', 'show', 'eth0']);
        if (/state UP|LOWER_UP/.test(r.stdout)) break;
        if (Date.now() > deadline) throw new Error(`${h.ns}: eth0 did not come up`);
        await new Promise((res) => setTimeout(res, 50));
      }
    }
  }

  host(id: number): Host {
    const h = this.hosts[id - 1];
    if (!h) throw new Error(`no host ${id}`);
    return h;
  }

  addr(id: number): string {
    return this.host(id).addr;
  }

  /** The host id with this IP address (or null). */
  hostOf(ip: string): number | null {
    return this.hosts.find((h) => h.addr === ip)?.id ?? null;
  }

  // -------------------------------------------------------------------------------------------
  // Processes

  /**
   * Start `cmd args` inside host `id`'s namespace (id 0: the observer's, the root namespace).
   * Output is captured line by line; the process is killed by destroy() whatever happens.
   */
  spawn(
    id: number,
    name: string,
    cmd: string,
    args: string[],
    opts: { env?: NodeJS.ProcessEnv; cwd?: string; stdin?: boolean } = {},
  ): HostProcess {
    if (this.destroyed) throw new Error('test network destroyed');
    const argv = id === 0 ? [cmd, ...args] : ['ip', 'netns', 'exec', this.host(id).ns, cmd, ...args];
    const p = spawn(argv[0]!, argv.slice(1), {
      stdio: [opts.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...opts.env },
      ...(opts.cwd ? { cwd: opts.cwd } : {}),
    });
    const hp = new HostProcess(`${name}@${id === 0 ? 'observer' : `h${id}`}`, p);
    this.procs.add(hp);
    void hp.exited.then(() => this.procs.delete(hp));
    return hp;
  }

  /** Run a command in host `id`'s namespace to completion (bounded). */
  exec(id: number, cmd: string, args: string[], opts: { input?: string; timeoutMs?: number } = {}) {
    return run('ip', ['netns', 'exec', this.host(id).ns, cmd, ...args], opts);
  }

  /**
   * Can host `from` (or the observer, `from` = 0) open a TCP connection to `addr:port` within
   * `timeoutMs`? With `refusedOk`, a refused connection counts too (the packets got through).
   */
  async reachable(
    from: number,
    addr: string,
    port: number,
    timeoutMs = 1000,
    refusedOk = false,
  ): Promise<boolean> {
    if (from === 0) return tcpReachable(addr, port, timeoutMs, refusedOk);
    const script =
      "const s=require('net').connect(+process.argv[2],process.argv[1]);" +
      "const done=(c)=>{s.destroy();process.exit(c)};s.on('connect',()=>done(0));" +
      "s.on('error',(e)=>done(e.code==='ECONNREFUSED'&&process.argv[4]==='1'?0:1));setTimeout(()=>done(2),+process.argv[3]);";
    const r = await this.exec(
      from,
      process.execPath,
      ['-e', script, addr, String(port), String(timeoutMs), refusedOk ? '1' : '0'],
      { timeoutMs: timeoutMs + 10_000 },
    );
    return r.code === 0;
  }

  // -------------------------------------------------------------------------------------------
  // Partitions (iptables DROP inside the hosts; the observer is never blocked)

  /** Cut host `id` off from every other host (both directions). */
  isolate(id: number): Promise<void> {
    return this.partition([[id], this.hosts.map((h) => h.id).filter((x) => x !== id)]);
  }

  /** Hosts in different groups cannot talk (hosts in no group are untouched). */
  partition(groups: number[][]): Promise<void> {
    const rules: DropRule[] = [];
    groups.forEach((g, gi) => {
      for (const a of g)
        groups.forEach((other, oi) => {
          if (oi !== gi) for (const b of other) rules.push({ on: a, peer: b, dir: 'both' });
        });
    });
    return this.setRules(rules);
  }

  /** `from` can send to `to`, but nothing from `to` reaches `from` (drop at `from`'s input). */
  oneWay(from: number, to: number): Promise<void> {
    return this.setRules([{ on: from, peer: to, dir: 'in' }]);
  }

  /**
   * A bridge partition: `sideA` and `sideB` cannot talk to each other, `bridge` talks to both
   * (Jepsen's "bridge" nemesis).
   */
  bridge(bridgeHost: number, sideA: number[], sideB: number[]): Promise<void> {
    const rules: DropRule[] = [];
    for (const a of sideA.filter((x) => x !== bridgeHost))
      for (const b of sideB.filter((x) => x !== bridgeHost)) {
        rules.push({ on: a, peer: b, dir: 'both' }, { on: b, peer: a, dir: 'both' });
      }
    return this.setRules(rules);
  }

  /** Only TCP between host `from` and host `to`'s server port `port` is cut (both directions). */
  cutPort(from: number, to: number, port: number): Promise<void> {
    return this.setRules([{ on: from, peer: to, dir: 'both', peerPort: port }]);
  }

  /** Remove every partition. */
  heal(): Promise<void> {
    return this.setRules([]);
  }

  /** The current rules, for logs. */
  describeRules(): string {
    if (this.rules.length === 0) return 'healed';
    return this.rules
      .map((r) => `h${r.on} drops ${r.dir} h${r.peer}${r.peerPort ? `:${r.peerPort}` : ''}`)
      .join('; ');
  }

  /**
   * Toggle a partition: down for a random period, up for a random period, ... for durationMs,
   * then healed. Periods are drawn from a seeded PRNG.
   */
  async flap(o: FlapOptions): Promise<FlapResult> {
    const rand = prng(o.seed);
    const period = () => Math.round(o.minMs + rand() * (o.maxMs - o.minMs));
    const end = Date.now() + o.durationMs;
    const res: FlapResult = { toggles: 0, downMs: [], upMs: [] };
    const maxToggles = Math.ceil(o.durationMs / Math.max(1, o.minMs)) + 2;
    try {
      for (let i = 0; i < maxToggles && Date.now() < end && !this.destroyed; i++) {
        const down = i % 2 === 0;
        const ms = Math.min(period(), Math.max(0, end - Date.now()));
        await (down ? o.down() : o.up());
        res.toggles++;
        (down ? res.downMs : res.upMs).push(ms);
        await new Promise((r) => setTimeout(r, ms));
      }
    } finally {
      await o.up();
    }
    return res;
  }

  /** Replace all rules and apply them to every host (atomically per host, with iptables-restore). */
  setRules(rules: DropRule[]): Promise<void> {
    this.rules = rules;
    const next = this.applying.then(() => this.applyRules());
    this.applying = next.catch(() => {});
    return next;
  }

  private async applyRules(): Promise<void> {
    if (this.destroyed) return;
    const rules = this.rules;
    await Promise.all(
      this.hosts.map(async (h) => {
        const lines = ['*filter', ':INPUT ACCEPT [0:0]', ':FORWARD ACCEPT [0:0]', ':OUTPUT ACCEPT [0:0]'];
        for (const r of rules.filter((x) => x.on === h.id)) {
          const peer = this.addr(r.peer);
          if (r.peerPort !== undefined) {
            // Our packets to the peer's port, and the peer's packets from that port.
            if (r.dir !== 'in') lines.push(`-A OUTPUT -d ${peer}/32 -p tcp --dport ${r.peerPort} -j DROP`);
            if (r.dir !== 'out') lines.push(`-A INPUT -s ${peer}/32 -p tcp --sport ${r.peerPort} -j DROP`);
          } else {
            if (r.dir !== 'in') lines.push(`-A OUTPUT -d ${peer}/32 -j DROP`);
            if (r.dir !== 'out') lines.push(`-A INPUT -s ${peer}/32 -j DROP`);
          }
        }
        lines.push('COMMIT', '');
        await must('ip', ['netns', 'exec', h.ns, 'iptables-restore'], { input: lines.join('\n') });
      }),
    );
  }

  // -------------------------------------------------------------------------------------------
  // Cleanup

  /** Kill every process started here, delete the namespaces, release the subnet. Idempotent. */
  async destroy(): Promise<void> {
    if (this.destroyed) return;
    this.destroyed = true;
    await Promise.all([...this.procs].map((p) => p.kill()));
    this.destroySync();
  }

  /** The synchronous part of destroy (also used from exit and signal handlers). */
  destroySync(): void {
    this.destroyed = true;
    for (const p of this.procs) p.signal('SIGKILL');
    for (const ns of [...this.hosts.map((h) => h.ns), this.switchNs]) {
      killNamespacePidsSync(ns);
      spawnSync('ip', ['netns', 'del', ns], { timeout: 5000, stdio: 'ignore' });
    }
    rmSync(join(LOCK_DIR, `${this.octet}.lock`), { force: true });
    liveNets.delete(this);
  }

  /** Namespaces of this network that still exist (for the harness's own test). */
  leftovers(): string[] {
    const names = new Set([...this.hosts.map((h) => h.ns), this.switchNs]);
    return ourNamespaces().filter((n) => names.has(n));
  }
}

/** A TCP connect from this process (the observer): true when it connects (or, with `refusedOk`, is refused). */
export function tcpReachable(
  addr: string,
  port: number,
  timeoutMs: number,
  refusedOk = false,
): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection({ host: addr, port });
    const done = (ok: boolean) => {
      clearTimeout(timer);
      s.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    s.once('connect', () => done(true));
    s.once('error', (e: NodeJS.ErrnoException) => done(refusedOk && e.code === 'ECONNREFUSED'));
  });
}

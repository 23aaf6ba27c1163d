/**
 * A network partition of one daemon on loopback, without root or iptables: every daemon advertises
 * its Raft address through a TCP proxy of ours, so every Raft and cluster-service connection
 * between daemons goes through a proxy. `isolate(id)` then cuts daemon `id` off: its proxy drops
 * every connection to it, and the other proxies drop every connection that daemon `id` opens
 * (recognised by looking up the connecting socket's owner in /proc: lazily, as it costs a few ms
 * on a machine with thousands of sockets). Redis and the Sentinel
 * ports are not touched: clients still reach every daemon, and every daemon still probes Redis.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';

interface Link {
  /** The daemon that opened it; undefined until looked up (lazily: a lookup reads /proc). */
  from: number | null | undefined;
  to: number;
  a: Socket;
  b: Socket;
}

/** The inodes of the IPv4/IPv6 TCP sockets, by "localPort>remotePort". */
function socketInodes(): Map<string, string> {
  const out = new Map<string, string>();
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10) continue;
      const lp = Number.parseInt(f[1]!.slice(f[1]!.lastIndexOf(':') + 1), 16);
      const rp = Number.parseInt(f[2]!.slice(f[2]!.lastIndexOf(':') + 1), 16);
      out.set(`${lp}>${rp}`, f[9]!);
    }
  }
  return out;
}

/** The socket inodes a process holds open. */
function socketsOf(pid: number): Set<string> {
  const out = new Set<string>();
  let fds: string[];
  try {
    fds = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return out;
  }
  for (const fd of fds) {
    try {
      const l = readlinkSync(`/proc/${pid}/fd/${fd}`);
      if (l.startsWith('socket:[')) out.add(l.slice(8, -1));
    } catch {
      // closed meanwhile
    }
  }
  return out;
}

export class RaftProxies {
  private readonly servers = new Map<number, Server>();
  private readonly targets = new Map<number, number>();
  private readonly links = new Set<Link>();
  private readonly isolated = new Set<number>();

  /** `pidOf(id)`: the pid of daemon `id`'s current process (undefined when not running). */
  constructor(private readonly pidOf: (id: number) => number | undefined) {}

  /** Start the proxy in front of daemon `id`'s Raft port; returns the proxy's port. */
  async add(id: number, targetPort: number): Promise<number> {
    this.targets.set(id, targetPort);
    const server = createServer((sock) => this.accept(id, sock));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    this.servers.set(id, server);
    const addr = server.address();
    return typeof addr === 'object' && addr ? addr.port : 0;
  }

  private proxyPort(id: number): number {
    const a = this.servers.get(id)?.address();
    return typeof a === 'object' && a ? a.port : 0;
  }

  /** Which daemon opened each of `conns` (one /proc scan for all): its id, or null if none. */
  private sources(conns: { to: number; a: Socket }[]): (number | null)[] {
    if (conns.length === 0) return [];
    const t0 = performance.now();
    const inodes = socketInodes();
    const owners = [...this.targets.keys()].map((id) => {
      const pid = this.pidOf(id);
      return { id, sockets: pid === undefined ? new Set<string>() : socketsOf(pid) };
    });
    const out = conns.map((c) => {
      const inode = c.a.remotePort ? inodes.get(`${c.a.remotePort}>${this.proxyPort(c.to)}`) : undefined;
      return inode ? (owners.find((o) => o.sockets.has(inode))?.id ?? null) : null;
    });
    this.lookupMs += performance.now() - t0;
    return out;
  }

  private sourceOf(to: number, a: Socket): number | null {
    return this.sources([{ to, a }])[0]!;
  }

  /** Fill in the sources of the links not looked up yet. */
  private identify(): void {
    const todo = [...this.links].filter((l) => l.from === undefined);
    this.sources(todo).forEach((from, i) => {
      todo[i]!.from = from;
    });
  }

  private blocked(from: number | null, to: number): boolean {
    return this.isolated.has(to) || (from !== null && this.isolated.has(from));
  }

  /** Time spent identifying connections (ms), for diagnostics. */
  lookupMs = 0;

  private accept(to: number, a: Socket): void {
    a.on('error', () => {});
    if (this.isolated.has(to)) {
      a.destroy();
      return;
    }
    // Sources are looked up only while a daemon is isolated (a connection from it is refused);
    // otherwise lazily, when `isolate` needs them.
    let from: number | null | undefined;
    if (this.isolated.size > 0) {
      from = this.sourceOf(to, a);
      if (this.blocked(from, to)) {
        a.destroy();
        return;
      }
    }
    const b = createConnection({ host: '127.0.0.1', port: this.targets.get(to)! });
    b.on('error', () => {});
    const link: Link = { from, to, a, b };
    this.links.add(link);
    const close = () => {
      a.destroy();
      b.destroy();
      this.links.delete(link);
    };
    a.on('close', close);
    b.on('close', close);
    a.pipe(b);
    b.pipe(a);
  }

  /** Cut daemon `id` off from every other daemon (both directions), now and until `heal`. */
  isolate(id: number): void {
    this.isolated.add(id);
    this.identify();
    for (const l of [...this.links]) {
      if (this.blocked(l.from ?? null, l.to)) {
        l.a.destroy();
        l.b.destroy();
        this.links.delete(l);
      }
    }
  }

  heal(id: number): void {
    this.isolated.delete(id);
  }

  /** Links currently open from daemon `from` (null: unknown source) to daemon `to`. */
  openLinks(): { from: number | null; to: number }[] {
    this.identify();
    return [...this.links].map((l) => ({ from: l.from ?? null, to: l.to }));
  }

  async close(): Promise<void> {
    for (const l of this.links) {
      l.a.destroy();
      l.b.destroy();
    }
    this.links.clear();
    await Promise.all(
      [...this.servers.values()].map((s) => new Promise<void>((resolve) => s.close(() => resolve()))),
    );
    this.servers.clear();
  }
}

/**
 * RaftProxies run in a child process (partition-child.ts, through tsx), so that the daemons' Raft
 * traffic does not stall whenever the test process is busy: a leader that hears nothing for an
 * election timeout steps down, and a test process running clients can be that busy on a loaded
 * machine. Same operations as RaftProxies, asynchronous.
 */
export class RaftProxiesProcess {
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();

  private constructor(
    private readonly child: ChildProcess,
    private readonly pidOf: (id: number) => number | undefined,
    private readonly ids: () => number[],
  ) {
    child.on('message', (m: { id?: number; value?: unknown; error?: string }) => {
      const w = m.id !== undefined ? this.waiting.get(m.id) : undefined;
      if (!w) return;
      this.waiting.delete(m.id!);
      if (m.error !== undefined) w.reject(new Error(m.error));
      else w.resolve(m.value);
    });
    child.on('exit', () => {
      for (const w of this.waiting.values()) w.reject(new Error('the proxy process exited'));
      this.waiting.clear();
    });
  }

  /** `pidOf(id)`: daemon `id`'s pid now; `ids()`: the daemons to tell apart. */
  static async start(
    pidOf: (id: number) => number | undefined,
    ids: () => number[],
  ): Promise<RaftProxiesProcess> {
    const child = fork(CHILD, [], {
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    children.add(child);
    child.once('exit', () => children.delete(child));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error('the proxy process did not start within 20 s')),
        20_000,
      );
      child.once('message', () => {
        clearTimeout(timer);
        resolve();
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`the proxy process exited (${code}) at start`));
      });
    });
    return new RaftProxiesProcess(child, pidOf, ids);
  }

  private call(msg: Record<string, unknown>): Promise<unknown> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.child.send({ ...msg, id });
    });
  }

  private sendPids(): Promise<unknown> {
    const pids: Record<number, number> = {};
    for (const id of this.ids()) {
      const pid = this.pidOf(id);
      if (pid !== undefined) pids[id] = pid;
    }
    return this.call({ op: 'pids', pids });
  }

  async add(id: number, targetPort: number): Promise<number> {
    return (await this.call({ op: 'add', node: id, targetPort })) as number;
  }

  async isolate(id: number): Promise<void> {
    await this.sendPids();
    await this.call({ op: 'isolate', node: id });
  }

  async heal(id: number): Promise<void> {
    await this.call({ op: 'heal', node: id });
  }

  async openLinks(): Promise<{ from: number | null; to: number }[]> {
    await this.sendPids();
    return ((await this.call({ op: 'links' })) as { links: { from: number | null; to: number }[] }).links;
  }

  async close(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    await Promise.race([this.call({ op: 'close' }).catch(() => {}), new Promise((r) => setTimeout(r, 2000))]);
    this.child.kill('SIGKILL');
  }
}

const CHILD = fileURLToPath(new URL('./partition-child.ts', import.meta.url));
const children = new Set<ChildProcess>();
process.once('exit', () => {
  for (const c of children) c.kill('SIGKILL');
});

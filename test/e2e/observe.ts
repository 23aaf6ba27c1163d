/**
 * The observer's instruments (they run in the test process, whose address no partition blocks):
 *
 * - WriteSampler: every `intervalMs`, tries one SET on every Redis node on a fresh connection with
 *   a short timeout, and records which node accepted it and when. From these samples,
 *   `dualMasterWindows` finds the times when two nodes accepted writes interleaved (split brain).
 * - NamingMonitor: every `intervalMs`, asks every daemon's Sentinel port
 *   SENTINEL GET-MASTER-ADDR-BY-NAME, and records each answer (an address, null, or no answer).
 *   `namingDisagreements` finds the windows when two daemons named different masters.
 *
 * Both talk raw RESP over one short-lived socket per probe: a write blocked by CLIENT PAUSE is
 * abandoned by closing the socket (Redis then drops it: it is never applied later).
 */
import { createConnection } from 'node:net';

/** Send one RESP command on a fresh connection; resolve with the first reply line ("" on timeout/error). */
export function respOnce(
  host: string,
  port: number,
  args: string[],
  timeoutMs: number,
): Promise<{ reply: string | null; error: string | null; raw: string }> {
  return new Promise((resolve) => {
    const s = createConnection({ host, port });
    let buf = '';
    let settled = false;
    const done = (reply: string | null, error: string | null) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      s.destroy();
      resolve({ reply, error, raw: buf });
    };
    const timer = setTimeout(() => done(null, 'timeout'), timeoutMs);
    s.setNoDelay(true);
    s.once('connect', () => {
      s.write(`*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`);
    });
    s.on('data', (d) => {
      buf += d.toString('utf8');
      const reply = parseFirstReply(buf);
      if (reply !== undefined) done(reply, null);
    });
    s.once('error', (e: NodeJS.ErrnoException) => done(null, e.code ?? e.message));
    s.once('close', () => done(null, 'closed'));
  });
}

/**
 * The first complete reply in `buf`, flattened: a simple string/error line as is (`+OK`,
 * `-READONLY ...`), an array of bulk strings as `host:port`-style joined with ':', a null array or
 * null bulk as 'null'. undefined when incomplete.
 */
export function parseFirstReply(buf: string): string | undefined {
  const nl = buf.indexOf('\r\n');
  if (nl < 0) return undefined;
  const head = buf.slice(0, nl);
  const t = head[0];
  if (t === '+' || t === '-' || t === ':') return head;
  if (t === '_' || head === '*-1' || head === '$-1') return 'null';
  if (t === '$') {
    const len = Number(head.slice(1));
    if (buf.length < nl + 2 + len + 2) return undefined;
    return buf.slice(nl + 2, nl + 2 + len);
  }
  if (t === '*') {
    const n = Number(head.slice(1));
    const items: string[] = [];
    let pos = nl + 2;
    for (let i = 0; i < n; i++) {
      const e = buf.indexOf('\r\n', pos);
      if (e < 0) return undefined;
      const h = buf.slice(pos, e);
      if (h[0] !== '$') return `unexpected:${h}`;
      const len = Number(h.slice(1));
      if (buf.length < e + 2 + len + 2) return undefined;
      items.push(buf.slice(e + 2, e + 2 + len));
      pos = e + 2 + len + 2;
    }
    return items.join(':');
  }
  return `unexpected:${head}`;
}

// ---------------------------------------------------------------------------------------------
// Which Redis nodes accept writes

export interface WriteSample {
  node: string;
  /** ms since epoch when the attempt started / got its answer. */
  startMs: number;
  endMs: number;
  accepted: boolean;
  /** '+OK', '-READONLY ...', 'timeout', 'ECONNREFUSED', ... */
  outcome: string;
}

export class WriteSampler {
  readonly samples: WriteSample[] = [];
  private stopped = false;
  private loop: Promise<void> | null = null;

  constructor(
    private readonly nodes: string[],
    private readonly opts: { intervalMs?: number; timeoutMs?: number; maxDurationMs?: number } = {},
  ) {}

  start(): this {
    this.loop = this.run();
    return this;
  }

  private async run(): Promise<void> {
    const interval = this.opts.intervalMs ?? 100;
    const timeout = this.opts.timeoutMs ?? 250;
    const end = Date.now() + (this.opts.maxDurationMs ?? 600_000);
    let n = 0;
    while (!this.stopped && Date.now() < end) {
      const round = Date.now();
      await Promise.all(
        this.nodes.map(async (node) => {
          const i = node.lastIndexOf(':');
          const startMs = Date.now();
          const r = await respOnce(
            node.slice(0, i),
            Number(node.slice(i + 1)),
            ['SET', `e2e:sample:${node}`, String(n)],
            timeout,
          );
          this.samples.push({
            node,
            startMs,
            endMs: Date.now(),
            accepted: r.reply === '+OK',
            outcome: r.reply ?? r.error ?? '?',
          });
        }),
      );
      n++;
      await new Promise((r) => setTimeout(r, Math.max(0, interval - (Date.now() - round))));
    }
  }

  async stop(): Promise<WriteSample[]> {
    this.stopped = true;
    await this.loop;
    return this.samples;
  }

  /** Nodes that accepted a write in [fromMs, toMs]. */
  acceptedBetween(fromMs: number, toMs: number): Set<string> {
    return new Set(
      this.samples.filter((s) => s.accepted && s.endMs >= fromMs && s.startMs <= toMs).map((s) => s.node),
    );
  }

  /** Last time `node` accepted a write (or null). */
  lastAccepted(node: string, beforeMs = Number.POSITIVE_INFINITY): number | null {
    let t: number | null = null;
    for (const s of this.samples)
      if (s.node === node && s.accepted && s.endMs <= beforeMs) t = Math.max(t ?? 0, s.endMs);
    return t;
  }
}

export interface DualWindow {
  a: string;
  b: string;
  fromMs: number;
  toMs: number;
  ms: number;
}

/**
 * Split brain as the samples show it: per node, runs of consecutive accepted samples
 * [first accept, last accept]; two runs of different nodes that overlap in time mean both nodes
 * accepted writes during the overlap.
 */
export function dualMasterWindows(samples: readonly WriteSample[]): DualWindow[] {
  const byNode = new Map<string, WriteSample[]>();
  for (const s of samples) byNode.set(s.node, [...(byNode.get(s.node) ?? []), s]);
  const runs: { node: string; from: number; to: number }[] = [];
  for (const [node, ss] of byNode) {
    ss.sort((x, y) => x.startMs - y.startMs);
    let cur: { node: string; from: number; to: number } | null = null;
    for (const s of ss) {
      if (s.accepted) {
        if (cur) cur.to = s.endMs;
        else cur = { node, from: s.startMs, to: s.endMs };
      } else if (cur) {
        runs.push(cur);
        cur = null;
      }
    }
    if (cur) runs.push(cur);
  }
  const out: DualWindow[] = [];
  for (let i = 0; i < runs.length; i++)
    for (let j = i + 1; j < runs.length; j++) {
      const x = runs[i]!;
      const y = runs[j]!;
      if (x.node === y.node) continue;
      const from = Math.max(x.from, y.from);
      const to = Math.min(x.to, y.to);
      if (to > from) out.push({ a: x.node, b: y.node, fromMs: from, toMs: to, ms: to - from });
    }
  return out.sort((p, q) => p.fromMs - q.fromMs);
}

// ---------------------------------------------------------------------------------------------
// Which master each daemon names

export interface NamingPoll {
  atMs: number;
  /** Daemon id → answer: 'ip:port', 'null', or 'none' (no answer in time). */
  answers: Map<number, string>;
}

export class NamingMonitor {
  readonly polls: NamingPoll[] = [];
  private stopped = false;
  private loop: Promise<void> | null = null;

  constructor(
    private readonly sentinels: { id: number; addr: string }[],
    private readonly name: string,
    private readonly opts: { intervalMs?: number; timeoutMs?: number; maxDurationMs?: number } = {},
  ) {}

  start(): this {
    this.loop = this.run();
    return this;
  }

  /** One round now: the answer of every daemon. */
  async poll(): Promise<NamingPoll> {
    const answers = new Map<number, string>();
    const atMs = Date.now();
    await Promise.all(
      this.sentinels.map(async (s) => {
        const i = s.addr.lastIndexOf(':');
        const r = await respOnce(
          s.addr.slice(0, i),
          Number(s.addr.slice(i + 1)),
          ['SENTINEL', 'GET-MASTER-ADDR-BY-NAME', this.name],
          this.opts.timeoutMs ?? 300,
        );
        answers.set(s.id, r.reply ?? 'none');
      }),
    );
    return { atMs, answers };
  }

  private async run(): Promise<void> {
    const interval = this.opts.intervalMs ?? 50;
    const end = Date.now() + (this.opts.maxDurationMs ?? 600_000);
    while (!this.stopped && Date.now() < end) {
      const t = Date.now();
      this.polls.push(await this.poll());
      await new Promise((r) => setTimeout(r, Math.max(0, interval - (Date.now() - t))));
    }
  }

  async stop(): Promise<NamingPoll[]> {
    this.stopped = true;
    await this.loop;
    return this.polls;
  }

  /** First poll at or after `fromMs` where daemon `id` answered `pred`; its time, or null. */
  firstAfter(id: number, fromMs: number, pred: (answer: string) => boolean): number | null {
    for (const p of this.polls) if (p.atMs >= fromMs && pred(p.answers.get(id) ?? 'none')) return p.atMs;
    return null;
  }

  /** Did daemon `id` name a master (an address) in any poll within [fromMs, toMs]? */
  namedBetween(id: number, fromMs: number, toMs: number): string[] {
    const out = new Set<string>();
    for (const p of this.polls) {
      if (p.atMs < fromMs || p.atMs > toMs) continue;
      const a = p.answers.get(id);
      if (a && a !== 'null' && a !== 'none') out.add(a);
    }
    return [...out];
  }
}

export interface NamingDisagreement {
  fromMs: number;
  toMs: number;
  ms: number;
  names: string[];
}

/**
 * Windows in which daemons named different masters (null and no-answer are not names). A window
 * spans consecutive disagreeing polls; its length runs to the next agreeing poll.
 */
export function namingDisagreements(polls: readonly NamingPoll[]): NamingDisagreement[] {
  const out: NamingDisagreement[] = [];
  let cur: NamingDisagreement | null = null;
  for (const p of polls) {
    const names = [...new Set([...p.answers.values()].filter((a) => a !== 'null' && a !== 'none'))].sort();
    if (names.length > 1) {
      if (cur) {
        cur.toMs = p.atMs;
        cur.names = [...new Set([...cur.names, ...names])].sort();
      } else cur = { fromMs: p.atMs, toMs: p.atMs, ms: 0, names };
    } else if (cur) {
      cur.toMs = p.atMs;
      cur.ms = cur.toMs - cur.fromMs;
      out.push(cur);
      cur = null;
    }
  }
  if (cur) {
    cur.ms = cur.toMs - cur.fromMs;
    out.push(cur);
  }
  return out;
}

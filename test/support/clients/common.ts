/**
 * What every client driver shares: a writer writes unique keys (`<prefix>:<n>`) in a loop through
 * a stock client library that finds the master through the Sentinel protocol, retries a failed
 * write like an application would, and records every acknowledged write with the time its reply
 * arrived. After a failover, `lostWrites` checks which acknowledged keys the final master lacks.
 *
 * Used by the Sentinel client tests (test/integration/sentinel-*.test.ts) and the benchmark.
 */
import { Redis } from 'ioredis';

export interface SentinelAddr {
  host: string;
  port: number;
}

export interface Ack {
  key: string;
  /** Date.now() when the reply arrived. */
  t: number;
}

export interface WriterError {
  t: number;
  msg: string;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export function parseAddr(addr: string): SentinelAddr {
  const i = addr.lastIndexOf(':');
  return { host: addr.slice(0, i), port: Number(addr.slice(i + 1)) };
}

export abstract class Writer {
  readonly acked: Ack[] = [];
  readonly errors: WriterError[] = [];
  protected stopping = false;
  private loopDone: Promise<void> | null = null;

  constructor(
    /** A label for reports, e.g. "ioredis", "node-redis", "redis-py". */
    readonly name: string,
    /** Key prefix; unique per writer. */
    readonly prefix: string,
    /** Pause between two acknowledged writes. */
    readonly intervalMs = 15,
  ) {}

  /** Extra state for error messages (e.g. a client library's trace). */
  diagnostics(): string {
    return '';
  }

  /** Why the client library gave up for good (it will never write again), or null. */
  endedReason(): string | null {
    return null;
  }

  /** Connect and start writing; resolves once the first write was acknowledged. */
  abstract start(timeoutMs?: number): Promise<void>;
  /** Stop writing and close the client (bounded). */
  abstract stop(): Promise<void>;

  protected noteError(err: unknown): void {
    const msg = err instanceof Error ? err.message : String(err);
    this.errors.push({ t: Date.now(), msg });
    if (this.errors.length > 20_000) this.errors.splice(0, 10_000);
  }

  /** The write loop of the Node.js drivers: one SET at a time, retried on any error. */
  protected runLoop(write: (key: string, value: string) => Promise<unknown>): void {
    this.loopDone = (async () => {
      let n = 0;
      while (!this.stopping) {
        const key = `${this.prefix}:${n}`;
        try {
          await write(key, String(n));
          this.acked.push({ key, t: Date.now() });
          n++;
          await sleep(this.intervalMs);
        } catch (err) {
          if (this.stopping) break;
          this.noteError(err);
          await sleep(50);
        }
      }
    })();
  }

  /** Wait (at most `ms`) for the write loop to end. */
  protected async loopEnded(ms: number): Promise<void> {
    if (!this.loopDone) return;
    await Promise.race([this.loopDone, sleep(ms)]);
  }

  acksAfter(t: number): Ack[] {
    return this.acked.filter((a) => a.t > t);
  }

  /** The first write acknowledged after `t`. */
  firstAckAfter(t: number): Ack | undefined {
    return this.acked.find((a) => a.t > t);
  }

  /**
   * The first write acknowledged after the outage that followed `t` (a kill -9, a switchover):
   * the ack that ends the longest wait for an ack after `t`. (A write in flight at `t` can still
   * be acknowledged by the old master a moment later; it does not count.)
   */
  firstAckAfterOutage(t: number): Ack | undefined {
    let best: Ack | undefined;
    let longest = -1;
    for (let i = 0; i < this.acked.length; i++) {
      const a = this.acked[i]!;
      if (a.t <= t) continue;
      const wait = a.t - Math.max(t, i > 0 ? this.acked[i - 1]!.t : t);
      if (wait > longest) {
        longest = wait;
        best = a;
      }
    }
    return best;
  }

  /** Wait until at least `n` writes were acknowledged after `t`. */
  async waitForAcksAfter(t: number, n: number, timeoutMs: number): Promise<Ack[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const after = this.acksAfter(t);
      if (after.length >= n) return after;
      const ended = this.endedReason();
      if (ended) throw new ClientEnded(this, ended);
      if (Date.now() > deadline) {
        const last = this.errors.slice(-3).map((e) => e.msg);
        throw new Error(
          `${this.name} [${this.prefix}]: only ${after.length} of ${n} writes acknowledged within ${timeoutMs} ms after t=${t}; last errors: ${JSON.stringify(last)}${this.diagnostics()}`,
        );
      }
      await sleep(25);
    }
  }
}

/** A client library that gave up for good (see Writer.endedReason). */
export class ClientEnded extends Error {
  constructor(
    readonly writer: Writer,
    readonly reason: string,
  ) {
    super(`${writer.name} [${writer.prefix}] ended: ${reason}`);
  }
}

/**
 * Wait until every writer has `n` writes acknowledged after `t`. A writer whose library ended for
 * a reason `tolerate` accepts (a known client bug, the same against redis-sentinel) is left out
 * with a warning; the others are returned.
 */
export async function waitAllAcks(
  writers: Writer[],
  t: number,
  n: number,
  timeoutMs: number,
  tolerate: (e: ClientEnded) => boolean = () => false,
): Promise<Writer[]> {
  const results = await Promise.allSettled(writers.map((w) => w.waitForAcksAfter(t, n, timeoutMs)));
  const live: Writer[] = [];
  results.forEach((r, i) => {
    if (r.status === 'fulfilled') live.push(writers[i]!);
    else if (r.reason instanceof ClientEnded && tolerate(r.reason)) {
      console.warn(`[sentinel-clients] tolerated a known client-library bug: ${r.reason.message}`);
    } else throw r.reason;
  });
  return live;
}

/** The acknowledged keys of `acks` that the Redis at `addr` does not have. */
export async function missingKeys(addr: string, acks: Ack[]): Promise<string[]> {
  const { host, port } = parseAddr(addr);
  const r = new Redis({ host, port, lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null });
  r.on('error', () => {});
  try {
    await r.connect();
    const missing: string[] = [];
    for (let i = 0; i < acks.length; i += 500) {
      const batch = acks.slice(i, i + 500);
      const p = r.pipeline();
      for (const a of batch) p.exists(a.key);
      const res = (await p.exec()) ?? [];
      res.forEach(([err, v], j) => {
        if (err || v !== 1) missing.push(batch[j]!.key);
      });
    }
    return missing;
  } finally {
    r.disconnect();
  }
}

/** One line per writer of a scenario, printed into the test output (and kept for the report). */
export interface WriterReport {
  scenario: string;
  client: string;
  acked: number;
  lost: number;
  lostKeys: string[];
  /** ms from the event (kill -9, switchover request) to the first write acknowledged after the outage. */
  firstWriteAfterMs: number | null;
  errors: number;
}

export async function reportWriters(
  scenario: string,
  writers: Writer[],
  finalMaster: string,
  eventAt: number,
): Promise<WriterReport[]> {
  const out: WriterReport[] = [];
  for (const w of writers) {
    const lostKeys = await missingKeys(finalMaster, w.acked);
    const first = w.firstAckAfterOutage(eventAt);
    out.push({
      scenario,
      client: `${w.name} [${w.prefix}]`,
      acked: w.acked.length,
      lost: lostKeys.length,
      lostKeys: lostKeys.slice(0, 20),
      firstWriteAfterMs: first ? Math.round(first.t - eventAt) : null,
      errors: w.errors.length,
    });
  }
  for (const r of out) {
    console.warn(
      `[sentinel-clients] ${r.scenario} | ${r.client.padEnd(40)} | acked ${String(r.acked).padStart(5)} | lost ${r.lost}${
        r.lost ? ` ${JSON.stringify(r.lostKeys)}` : ''
      } | first write after the outage ${r.firstWriteAfterMs ?? '-'} ms | failed attempts ${r.errors}`,
    );
  }
  return out;
}

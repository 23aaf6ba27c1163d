/**
 * Virtual time for the simulation: a priority queue of callbacks ordered by (time, insertion).
 * Nothing here reads the real clock, so a run depends only on its seed.
 */
import type { Clock, TimerHandle } from '../../src/util/clock.js';

interface Event {
  at: number;
  seq: number;
  fn: () => void;
  cancelled: boolean;
}

export class Scheduler {
  now = 0;
  steps = 0;
  private heap: Event[] = [];
  private seq = 0;

  schedule(delayMs: number, fn: () => void): TimerHandle {
    const ev: Event = { at: this.now + Math.max(0, delayMs), seq: this.seq++, fn, cancelled: false };
    this.push(ev);
    return {
      cancel: () => {
        ev.cancelled = true;
      },
    };
  }

  /** Run the next event; false when there is none. */
  step(): boolean {
    for (;;) {
      const ev = this.pop();
      if (!ev) return false;
      if (ev.cancelled) continue;
      // An overdue event (time was moved forward, as in a stall) runs late; time never goes back.
      this.now = Math.max(this.now, ev.at);
      this.steps++;
      ev.fn();
      return true;
    }
  }

  /** Run events until virtual time `t` (events at exactly t included), calling `after` after each. */
  runUntil(t: number, after?: () => void): void {
    while (this.heap.length > 0 && this.heap[0]!.at <= t) {
      if (this.step()) after?.();
    }
    if (this.now < t) this.now = t;
  }

  pending(): number {
    return this.heap.length;
  }

  /** A Clock for one simulated process; all its timers die with `alive()` turning false. */
  clockFor(alive: () => boolean): Clock {
    return {
      nowMs: () => this.now,
      wallMs: () => this.now,
      setTimeout: (cb, ms) => this.schedule(ms, () => alive() && cb()),
    };
  }

  private push(ev: Event): void {
    const h = this.heap;
    h.push(ev);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (before(h[p]!, ev)) break;
      h[i] = h[p]!;
      i = p;
    }
    h[i] = ev;
  }

  private pop(): Event | undefined {
    const h = this.heap;
    if (h.length === 0) return undefined;
    const top = h[0]!;
    const last = h.pop()!;
    if (h.length > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        let best = last;
        if (l < h.length && before(h[l]!, best)) {
          m = l;
          best = h[l]!;
        }
        if (r < h.length && before(h[r]!, best)) {
          m = r;
          best = h[r]!;
        }
        if (m === i) break;
        h[i] = h[m]!;
        i = m;
      }
      h[i] = last;
    }
    return top;
  }
}

function before(a: Event, b: Event): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}

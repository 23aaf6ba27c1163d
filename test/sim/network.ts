/**
 * A simulated network between members: per-message loss, delay, reordering (long delays) and
 * duplication, and directed link cuts for partitions (including one-way ones). Every choice comes
 * from the simulation's seeded random source.
 */
import type { RaftTransport } from '../../src/raft/transport.js';
import type { Message, NodeId } from '../../src/raft/types.js';
import type { Random } from '../../src/util/random.js';
import type { Scheduler } from './scheduler.js';

export interface NetworkConditions {
  /** Probability (0..1) that a message is lost. */
  dropRate: number;
  /** Probability that a message is delivered twice. */
  duplicateRate: number;
  minDelayMs: number;
  maxDelayMs: number;
  /** Probability of a long delay (reordering), up to longDelayMs. */
  longDelayRate: number;
  longDelayMs: number;
}

export const RELIABLE: NetworkConditions = {
  dropRate: 0,
  duplicateRate: 0,
  minDelayMs: 1,
  maxDelayMs: 3,
  longDelayRate: 0,
  longDelayMs: 0,
};

export class SimNetwork {
  conditions: NetworkConditions = { ...RELIABLE };
  /** Directed cuts: "a>b" means messages from a to b are lost. */
  private cut = new Set<string>();
  private endpoints = new Map<NodeId, (m: Message) => void>();
  delivered = 0;
  dropped = 0;
  /** Called for every message handed to the network (checks, traces). */
  onSend: ((m: Message) => void) | null = null;

  constructor(
    private readonly scheduler: Scheduler,
    private readonly random: Random,
  ) {}

  /** A transport for member `id`; `alive()` false means it is crashed and sends nothing. */
  transportFor(id: NodeId, alive: () => boolean): RaftTransport & { detach(): void } {
    return {
      send: (m) => {
        if (alive()) this.send(m);
      },
      setPeers: () => {},
      onMessage: (handler) => {
        this.endpoints.set(id, handler);
      },
      detach: () => {
        this.endpoints.delete(id);
      },
      close: async () => {
        this.endpoints.delete(id);
      },
    };
  }

  cutLink(from: NodeId, to: NodeId): void {
    this.cut.add(`${from}>${to}`);
  }

  /** Split into groups: links between different groups are cut both ways. */
  partition(groups: NodeId[][]): void {
    for (const a of groups)
      for (const b of groups) if (a !== b) for (const x of a) for (const y of b) this.cutLink(x, y);
  }

  isolate(id: NodeId, all: NodeId[]): void {
    for (const other of all) {
      if (other === id) continue;
      this.cutLink(id, other);
      this.cutLink(other, id);
    }
  }

  heal(): void {
    this.cut.clear();
  }

  isCut(from: NodeId, to: NodeId): boolean {
    return this.cut.has(`${from}>${to}`);
  }

  cutCount(): number {
    return this.cut.size;
  }

  private send(m: Message): void {
    this.onSend?.(m);
    const c = this.conditions;
    if (this.isCut(m.from, m.to) || (c.dropRate > 0 && this.random.int(1_000_000) < c.dropRate * 1_000_000)) {
      this.dropped++;
      return;
    }
    const copies = c.duplicateRate > 0 && this.random.int(1_000_000) < c.duplicateRate * 1_000_000 ? 2 : 1;
    for (let i = 0; i < copies; i++) {
      let delay = c.minDelayMs + this.random.int(Math.max(1, c.maxDelayMs - c.minDelayMs + 1));
      if (c.longDelayRate > 0 && this.random.int(1_000_000) < c.longDelayRate * 1_000_000) {
        delay += this.random.int(Math.max(1, c.longDelayMs));
      }
      this.scheduler.schedule(delay, () => {
        // A link cut while the message was in flight loses it, like a broken connection.
        if (this.isCut(m.from, m.to)) {
          this.dropped++;
          return;
        }
        const deliver = this.endpoints.get(m.to);
        if (!deliver) {
          this.dropped++;
          return;
        }
        this.delivered++;
        deliver(m);
      });
    }
  }
}

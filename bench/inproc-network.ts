/**
 * An in-process network for benchmarks: every member's RaftTransport delivers to the peer's
 * RaftNode in the same process, asynchronously (a later setImmediate, so disk completions and
 * timers interleave as they would with sockets), in send order, without copying or serializing.
 * Messages to a member with no receiver, or sent after close(), are dropped.
 */
import type { RaftTransport } from '../src/raft/transport.js';
import type { Message, NodeId } from '../src/raft/types.js';

export class InProcNetwork {
  /** Messages handed to the network so far (delivered or not). */
  sent = 0;
  private readonly receivers = new Map<NodeId, (m: Message) => void>();
  private queue: Message[] = [];
  private scheduled = false;
  private closed = false;

  transportFor(id: NodeId): RaftTransport {
    return {
      send: (m) => this.send(m),
      setPeers: () => {},
      onMessage: (handler) => {
        this.receivers.set(id, handler);
      },
      close: async () => {
        this.receivers.delete(id);
      },
    };
  }

  close(): void {
    this.closed = true;
    this.queue = [];
    this.receivers.clear();
  }

  private send(m: Message): void {
    if (this.closed) return;
    this.sent++;
    this.queue.push(m);
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.flush());
  }

  private flush(): void {
    this.scheduled = false;
    const batch = this.queue;
    this.queue = [];
    for (const m of batch) {
      if (this.closed) return;
      this.receivers.get(m.to)?.(m);
    }
  }
}

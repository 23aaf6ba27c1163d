import type { Message, NodeId } from './types.js';

/**
 * How the Raft driver talks to other members. Implementations: gRPC (src/raft/grpc/) for the
 * daemon, an in-memory network for the simulation and tests.
 *
 * `send` never blocks and never throws: a message to an unknown, slow or dead peer is queued
 * (bounded) or dropped. Raft tolerates loss; it does not tolerate a stuck event loop.
 */
export interface RaftTransport {
  send(message: Message): void;
  /** The current address book (member id → Raft address), replaced whenever membership changes. */
  setPeers(peers: ReadonlyMap<NodeId, string>): void;
  /** Register the single receiver of inbound messages. */
  onMessage(handler: (message: Message) => void): void;
  close(): Promise<void>;
}

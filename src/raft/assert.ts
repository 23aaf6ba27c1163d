/**
 * Invariant checks in production code: a broken invariant is a bug, and carrying on would turn it
 * into silent damage (a lost acknowledgement, two leases). The driver turns the throw into a fatal
 * stop of the Raft node.
 */
export class InvariantError extends Error {
  constructor(message: string) {
    super(`invariant broken: ${message}`);
    this.name = 'InvariantError';
  }
}

export function assert(cond: boolean, message: string): asserts cond {
  if (!cond) throw new InvariantError(message);
}

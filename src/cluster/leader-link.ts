/**
 * Calls to the current leader over the cluster RPC: the one way a daemon that is not the leader
 * hands a request on (a forwarded admin call, a probe report, a Redis registration).
 */
import { ClusterCallError, type ClusterClient } from '../raft/grpc/cluster.js';
import type { ClusterReply } from '../raft/grpc/server.js';
import { findMember } from '../raft/membership.js';
import type { RaftNode } from '../raft/node.js';
import { Refused } from './errors.js';

/** Default bound of a forwarded call (ms). */
export const FORWARD_TIMEOUT_MS = 10_000;

/**
 * The body of a successful reply; a refusal (any status from 300 up) throws, naming the method,
 * the status and the reason the answering daemon gave.
 */
export function bodyOf(method: string, reply: ClusterReply): unknown {
  if (reply.status >= 200 && reply.status < 300) return reply.body;
  const e = (reply.body as { error?: { message?: unknown } | string } | undefined)?.error;
  const why =
    typeof e === 'string' ? e : typeof e?.message === 'string' ? e.message : JSON.stringify(reply.body);
  throw new Error(`${method}: refused (${reply.status}): ${why}`);
}

export class LeaderLink {
  constructor(
    private readonly o: {
      raft: RaftNode;
      client: ClusterClient;
      /** Counts a call that did not reach the leader, by method. */
      onError?: (method: string) => void;
    },
  ) {}

  /**
   * Send `method` to the leader, one hop further than `hops`. Throws Refused('no_leader') when
   * there is none, Refused('leader_unreachable') when the call fails in transport; an answer
   * of the leader (any status) resolves.
   */
  async call(
    method: string,
    body: unknown,
    opts: { hops?: number; token?: string; timeoutMs?: number } = {},
  ): Promise<ClusterReply> {
    const st = this.o.raft.status();
    const leader = st.leader !== 0 ? findMember(st.membership, st.leader) : undefined;
    if (!leader)
      throw new Refused('no_leader', 'no leader: the group is electing one or has lost its majority');
    try {
      return await this.o.client.call(leader.addr, method, body, {
        hops: (opts.hops ?? 0) + 1,
        timeoutMs: opts.timeoutMs ?? FORWARD_TIMEOUT_MS,
        ...(opts.token !== undefined ? { token: opts.token } : {}),
      });
    } catch (err) {
      this.o.onError?.(method);
      const msg = err instanceof ClusterCallError ? err.message : (err as Error).message;
      throw new Refused('leader_unreachable', `could not reach the leader (node ${leader.id}): ${msg}`);
    }
  }

  /** call(), resolving with the body of a successful answer (see bodyOf). */
  async request(method: string, body: unknown, opts: { timeoutMs?: number } = {}): Promise<unknown> {
    return bodyOf(method, await this.call(method, body, opts));
  }
}

/**
 * The peer service: what one daemon asks another over the cluster RPC (`Cluster.Call`), as one
 * typed method table. Each method has one schema for its body (a body that does not match is
 * answered 400 naming the field), a leader policy (served anywhere, forwarded to the leader, or
 * refused off the leader), and a handler that returns a body or throws a domain error; one
 * mapping (src/admin/errors.ts) turns errors into replies. The daemon and the whole-system
 * simulation serve the same table.
 */
import { z } from 'zod';
import { errorReply } from '../admin/errors.js';
import type { FailoverEngine } from '../failover/engine.js';
import type { ClusterCallMeta, ClusterReply } from '../raft/grpc/server.js';
import type { RaftNode } from '../raft/node.js';
import { Refused } from './errors.js';
import { proposeCommand } from './jobs.js';
import type { JobRecord } from './jobs-model.js';
import type { ClusterState } from './state.js';

/** What the peer service needs; the admin API is absent where there is none (the simulation). */
export interface PeerServiceDeps {
  raft: RaftNode;
  state: ClusterState;
  engine: Pick<FailoverEngine, 'receiveReport' | 'register' | 'requestSentinelFailover'>;
  /** Send the call on to the leader (one hop more); throws Refused('no_leader' | ...). */
  forward(method: string, body: unknown, hops: number): Promise<ClusterReply>;
  admin?: {
    /** Serve an admin API request (forwarded by another daemon, or a join). */
    handle(req: {
      method: string;
      path: string;
      body: unknown;
      token: string | undefined;
      hops: number;
    }): Promise<{ status: number; body: unknown }>;
    /** The admin token a join is served with (a join is internal and carries none). */
    token: string | undefined;
  };
}

type LeaderPolicy =
  /** Served by any daemon. */
  | 'any'
  /** Forwarded to the leader by a daemon that is not it. */
  | 'forward'
  /** Refused off the leader (the caller asks the leader itself). */
  | 'refuse';

interface PeerMethod<S extends z.ZodType> {
  schema: S;
  leader: LeaderPolicy;
  /** Status of a success (200 unless it starts a job). */
  okStatus?: number;
  handle(deps: PeerServiceDeps, body: z.infer<S>, meta: ClusterCallMeta): Promise<unknown>;
}

function method<S extends z.ZodType>(m: PeerMethod<S>): PeerMethod<S> {
  return m;
}

const address = z.string().min(1).max(1024);
const nodeId = z.number().int().positive();

/** A reply that already carries its status (a forwarded admin call answers as the API did). */
class Passthrough {
  constructor(readonly reply: { status: number; body: unknown }) {}
}

export const PEER_METHODS = {
  /** An admin API call forwarded by a daemon that is not the leader. */
  admin: method({
    schema: z.object({ method: z.string(), path: z.string(), body: z.unknown().optional() }),
    leader: 'any',
    async handle(d, b, meta) {
      if (!d.admin) throw new Refused('invalid_request', 'this daemon serves no admin API');
      return new Passthrough(
        await d.admin.handle({
          method: b.method,
          path: b.path,
          body: b.body,
          token: meta.token === '' ? undefined : meta.token,
          hops: meta.hops,
        }),
      );
    },
  }),
  /** A new daemon asks to be added (answered with the member.add job). */
  join: method({
    schema: z.object({
      id: nodeId,
      role: z.string(),
      raft: address,
      sentinel: address.optional(),
      admin: address.optional(),
      version: z.string().optional(),
    }),
    leader: 'forward',
    async handle(d, b, meta) {
      if (!d.admin) throw new Refused('invalid_request', 'this daemon serves no admin API');
      // A retried join is answered with the job already under way.
      const active = d.state.activeJobs().find((j) => j.kind === 'member.add' && j.params.id === b.id);
      if (active) return new Passthrough({ status: 202, body: { job: active } });
      // A join is internal: it needs no admin token (the Raft port must be private, see
      // docs/OPERATIONS.md).
      return new Passthrough(
        await d.admin.handle({
          method: 'POST',
          path: '/v1/members',
          body: { id: b.id, role: b.role, raft: b.raft, sentinel: b.sentinel, admin: b.admin },
          token: d.admin.token,
          hops: meta.hops,
        }),
      );
    },
  }),
  'job.get': method({
    schema: z.object({ id: z.string() }),
    leader: 'any',
    async handle(d, b) {
      const job: JobRecord | undefined = d.state.job(b.id);
      if (!job) throw new Refused('unknown_job', `no job ${b.id}`);
      return { job };
    },
  }),
  membership: method({
    schema: z.unknown(),
    leader: 'any',
    async handle(d) {
      const st = d.raft.status();
      return { leader: st.leader, membership: st.membership };
    },
  }),
  'raft.progress': method({
    schema: z.unknown(),
    leader: 'refuse',
    async handle(d) {
      const st = d.raft.status();
      return {
        leader: st.id,
        term: st.term,
        progress: st.progress.map((p) => ({
          id: p.id,
          match: p.match,
          ack_age_ms: p.ticksSinceAck === null ? null : p.ticksSinceAck * d.raft.tickMs,
        })),
      };
    },
  }),
  /** A voting daemon's probe view (the engine validates every node it stores). */
  'probe.report': method({
    schema: z.object({ from: z.number().int(), report: z.object({ nodes: z.array(z.unknown()) }).loose() }),
    leader: 'refuse',
    async handle(d, b) {
      return d.engine.receiveReport(b);
    },
  }),
  'sentinel.failover': method({
    schema: z.object({ name: z.string() }),
    leader: 'forward',
    okStatus: 202,
    async handle(d, b) {
      return { job: await d.engine.requestSentinelFailover(b.name) };
    },
  }),
  'shard.register': method({
    schema: z.object({ shard: z.string(), addr: address }).loose(),
    leader: 'forward',
    async handle(d, b) {
      return d.engine.register(b);
    },
  }),
  /** Where a member's Sentinel and admin ports are, and its Sentinel run id. */
  'member.info': method({
    schema: z.object({
      id: nodeId,
      sentinel: address,
      admin: address,
      version: z.string().optional(),
      runId: z.string().optional(),
    }),
    leader: 'refuse',
    async handle(d, b) {
      const r = await proposeCommand(d.raft, {
        t: 'member.info',
        id: b.id,
        sentinel: b.sentinel,
        admin: b.admin,
        version: b.version ?? 'unknown',
        // A follower's Sentinel run id (SENTINEL MYID): what SENTINEL SENTINELS and +sentinel
        // name it by. Dropped here, it was never recorded, and the follower re-sent it forever.
        ...(b.runId !== undefined ? { runId: b.runId } : {}),
      });
      if (!r.ok) throw new Refused('conflict', r.error ?? 'refused');
      return {};
    },
  }),
} as const;

export type PeerMethodName = keyof typeof PEER_METHODS;

/** Serves PEER_METHODS: validation, the leader policy and the error mapping, once for all. */
export class PeerService {
  constructor(private readonly deps: PeerServiceDeps) {}

  methods(): PeerMethodName[] {
    return Object.keys(PEER_METHODS) as PeerMethodName[];
  }

  async handle(name: string, body: unknown, meta: ClusterCallMeta): Promise<ClusterReply> {
    const m = (PEER_METHODS as Record<string, PeerMethod<z.ZodType>>)[name];
    if (!m)
      return { status: 404, body: { error: { code: 'invalid_request', message: `unknown method ${name}` } } };
    const parsed = m.schema.safeParse(body);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const where = issue && issue.path.length > 0 ? issue.path.join('.') : 'body';
      return {
        status: 400,
        body: {
          error: { code: 'invalid_request', message: `${name}: ${where}: ${issue?.message ?? 'invalid'}` },
        },
      };
    }
    try {
      if (m.leader !== 'any' && this.deps.raft.status().role !== 'leader') {
        if (m.leader === 'forward') return await this.deps.forward(name, body, meta.hops);
        throw new Refused('not_leader', 'not the leader');
      }
      const out = await m.handle(this.deps, parsed.data, meta);
      if (out instanceof Passthrough) return out.reply;
      return { status: m.okStatus ?? 200, body: out };
    } catch (err) {
      return errorReply(err);
    }
  }
}

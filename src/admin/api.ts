/**
 * The admin API under /v1, independent of HTTP: requests arrive from the HTTP server
 * (src/admin/http.ts) or forwarded from another daemon over gRPC. Mutations create jobs on the
 * leader and answer 202 with the job; a daemon that is not the leader forwards them.
 */
import { timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { type AclUserRecord, aclUserRecord } from '../cluster/commands.js';
import type { JobKind, JobRecord } from '../cluster/jobs-model.js';
import { parseSettingsInput, type ShardSettings } from '../cluster/settings.js';
import { SCRIPT_PATH_MAX, type ShardScripts } from '../cluster/shards.js';
import { addressProblem } from '../config/address.js';
import { shardName as shardNameCheck } from '../config/schema.js';
import type { MemberRole } from '../raft/types.js';
import { AdminError, errorReply } from './errors.js';

export interface AdminRequest {
  method: string;
  path: string;
  /** Parsed JSON body (undefined when there was none). */
  body: unknown;
  /** Bearer token presented, if any. */
  token: string | undefined;
  /** How many daemons already forwarded this request. */
  hops: number;
}

export interface AdminResponse {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

export { AdminError } from './errors.js';

export type ShardOp =
  | {
      op: 'add';
      name: string;
      master: string;
      nodes: { addr: string; role: 'replica' | 'observer'; priority: number }[];
      settings: Partial<ShardSettings>;
    }
  | { op: 'remove'; name: string }
  | {
      op: 'set';
      name: string;
      settings: Partial<ShardSettings>;
      auth?: { username?: string; password?: string };
      /** A path sets a script, '' clears it (Sentinel's notification/client-reconfig-script). */
      scripts?: ShardScripts;
    }
  | {
      op: 'node.add';
      name: string;
      node: { addr: string; role: 'replica' | 'observer'; priority: number; accessible: boolean };
    }
  | { op: 'node.remove'; name: string; addr: string };

/** What the API needs from the daemon. */
export interface AdminBackend {
  readonly nodeId: number;
  status(): Promise<unknown>;
  isLeader(): boolean;
  /** Create a job (leader only); resolves once the job is committed. */
  createJob(kind: JobKind, params: Record<string, unknown>): Promise<JobRecord>;
  job(id: string): JobRecord | undefined;
  jobs(): JobRecord[];
  /** Forward to the leader; throws AdminError(503) when there is none. */
  forwardToLeader(req: AdminRequest): Promise<AdminResponse>;
  shards(): unknown[];
  shard(name: string): unknown | undefined;
  /** Leader: start a switchover (to the best replica when `to` is undefined). */
  switchover(name: string, to: string | undefined): Promise<JobRecord>;
  /** Leader: promote `to` whatever the automatic rules say. */
  forcedFailover(name: string, to: string): Promise<JobRecord>;
  /** Leader: change shards; resolves with a finished job recording it. */
  changeShards(op: ShardOp): Promise<JobRecord>;
  /** The Sentinel port's ACL users as this daemon knows them, without password hashes. */
  aclUsers(): unknown;
  /**
   * Leader: put an ACL user computed from the users at `revision` (Refused('conflict') with
   * `acl_revision` when they moved on); resolves with the new revision once committed.
   */
  putAclUser(user: AclUserRecord, revision: number): Promise<number>;
  /** Leader: delete an ACL user; resolves (whether it existed) once committed. */
  deleteAclUser(name: string): Promise<boolean>;
}

export const MAX_FORWARD_HOPS = 3;

const nodeId = z.number({ error: 'must be a positive integer node id' }).int().positive().max(2_147_483_647);
const address = z
  .string()
  .refine((s) => addressProblem(s) === null, { error: 'must be a host:port address' });
const role = z.enum(['voter', 'learner', 'witness'], { error: 'must be one of voter, learner, witness' });

const addMemberBody = z.strictObject({
  id: nodeId,
  raft: address,
  role: role.default('voter'),
  sentinel: address.optional(),
  admin: address.optional(),
});
const promoteBody = z.strictObject({
  role: z.enum(['voter', 'witness'], { error: 'must be voter or witness' }).default('voter'),
});
const transferBody = z.strictObject({ to: nodeId });
const shardName = z.string({ error: 'must be a shard name' }).superRefine((value, ctx) => {
  const problem = shardNameCheck.problem(value);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});
const nodeRole = z.enum(['replica', 'observer'], { error: 'must be replica or observer' });
const priority = z.number({ error: 'must be an integer >= 0' }).int().min(0).max(2_147_483_647);
/**
 * Shard settings by name, in any spelling of the settings table (`down_after_ms`,
 * `down-after-milliseconds`), each within its bounds; parsed to ShardSettings keys.
 */
const settingsBody = z
  .record(z.string(), z.unknown(), { error: 'must be an object of setting name: integer' })
  .transform((input, ctx) => {
    const { settings, problems } = parseSettingsInput(input);
    for (const p of problems) ctx.addIssue({ code: 'custom', message: p.message, path: [p.name], input });
    return settings;
  });
const nodeBody = z.strictObject({
  addr: address,
  role: nodeRole.default('replica'),
  priority: priority.default(100),
  accessible: z.boolean({ error: 'must be true or false' }).default(true),
});
const addShardBody = z.strictObject({
  name: shardName,
  master: address,
  nodes: z
    .array(nodeBody.omit({ accessible: true }))
    .max(64)
    .default([]),
  settings: settingsBody.default({}),
});
const switchoverBody = z.strictObject({ to: address.optional() });
const putAclUserBody = z.strictObject({
  user: aclUserRecord,
  revision: z.number({ error: 'must be the ACL revision the user was computed from' }).int().min(0),
});
const failoverBody = z.strictObject({
  to: address,
  force: z.literal(true, { error: 'must be true: a forced failover may lose writes, say so explicitly' }),
});

type Handler = (req: AdminRequest, params: Record<string, string>) => Promise<AdminResponse>;
interface Route {
  method: string;
  pattern: RegExp;
  keys: string[];
  mutating: boolean;
  handler: Handler;
}

function route(method: string, path: string, mutating: boolean, handler: Handler): Route {
  const keys: string[] = [];
  const pattern = new RegExp(
    `^${path.replace(/\{(\w+)\}/g, (_, k: string) => {
      keys.push(k);
      return '([^/]+)';
    })}$`,
  );
  return { method, pattern, keys, mutating, handler };
}

function parseBody<T>(schema: z.ZodType<T>, body: unknown): T {
  const r = schema.safeParse(body ?? {});
  if (!r.success) {
    const problems = r.error.issues.map((i) =>
      i.path.length > 0 ? `${i.path.join('.')}: ${i.message}` : i.message,
    );
    throw new AdminError(400, 'invalid_request', `invalid request body: ${problems.join('; ')}`);
  }
  return r.data;
}

function pathId(value: string, what: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n <= 0) {
    throw new AdminError(400, 'invalid_request', `${what} must be a positive integer, got "${value}"`);
  }
  return n;
}

function tokenMatches(expected: string, given: string | undefined): boolean {
  if (given === undefined) return false;
  const a = Buffer.from(expected);
  const b = Buffer.from(given);
  return a.length === b.length && timingSafeEqual(a, b);
}

export class AdminApi {
  private readonly routes: Route[];

  constructor(
    private readonly backend: AdminBackend,
    private readonly token: string | undefined,
  ) {
    const accepted = (job: JobRecord): AdminResponse => ({
      status: 202,
      body: { job },
      headers: { location: `/v1/jobs/${job.id}` },
    });
    this.routes = [
      route('GET', '/v1/health', false, async () => ({
        status: 200,
        body: { status: 'ok', node_id: backend.nodeId },
      })),
      route('GET', '/v1/status', false, async () => ({ status: 200, body: await backend.status() })),
      route('GET', '/v1/jobs', false, async () => ({
        status: 200,
        body: { jobs: backend.jobs().slice(-100).reverse() },
      })),
      route('GET', '/v1/jobs/{id}', false, async (_req, p) => {
        const job = backend.job(p.id!);
        if (!job) throw new AdminError(404, 'not_found', `no job ${p.id}`);
        return { status: 200, body: { job } };
      }),
      route('POST', '/v1/members', true, async (req) => {
        const b = parseBody(addMemberBody, req.body);
        return accepted(await backend.createJob('member.add', { ...b }));
      }),
      route('DELETE', '/v1/members/{id}', true, async (_req, p) =>
        accepted(await backend.createJob('member.remove', { id: pathId(p.id!, 'member id') })),
      ),
      route('POST', '/v1/members/{id}/promote', true, async (req, p) => {
        const b = parseBody(promoteBody, req.body);
        return accepted(
          await backend.createJob('member.promote', {
            id: pathId(p.id!, 'member id'),
            role: b.role as MemberRole,
          }),
        );
      }),
      route('POST', '/v1/leader/transfer', true, async (req) => {
        const b = parseBody(transferBody, req.body);
        return accepted(await backend.createJob('leader.transfer', { to: b.to }));
      }),
      route('GET', '/v1/shards', false, async () => ({ status: 200, body: { shards: backend.shards() } })),
      route('POST', '/v1/shards', true, async (req) => {
        const b = parseBody(addShardBody, req.body);
        return accepted(await backend.changeShards({ op: 'add', ...b }));
      }),
      route('GET', '/v1/shards/{name}', false, async (_req, p) => {
        const shard = backend.shard(p.name!);
        if (!shard) throw new AdminError(404, 'unknown_shard', `no shard ${p.name}`);
        return { status: 200, body: { shard } };
      }),
      route('DELETE', '/v1/shards/{name}', true, async (_req, p) =>
        accepted(await backend.changeShards({ op: 'remove', name: p.name! })),
      ),
      route('PATCH', '/v1/shards/{name}', true, async (req, p) => {
        const b = parseBody(
          z.strictObject({
            settings: settingsBody.default({}),
            auth: z
              .strictObject({ username: z.string().min(1).optional(), password: z.string().optional() })
              .optional(),
            scripts: z
              .strictObject({
                notification: z.string().max(SCRIPT_PATH_MAX).optional(),
                clientReconfig: z.string().max(SCRIPT_PATH_MAX).optional(),
              })
              .optional(),
          }),
          req.body,
        );
        return accepted(
          await backend.changeShards({
            op: 'set',
            name: p.name!,
            settings: b.settings,
            ...(b.auth ? { auth: b.auth } : {}),
            ...(b.scripts ? { scripts: b.scripts } : {}),
          }),
        );
      }),
      route('POST', '/v1/shards/{name}/nodes', true, async (req, p) => {
        const b = parseBody(nodeBody, req.body);
        return accepted(await backend.changeShards({ op: 'node.add', name: p.name!, node: b }));
      }),
      route('DELETE', '/v1/shards/{name}/nodes/{addr}', true, async (_req, p) =>
        accepted(await backend.changeShards({ op: 'node.remove', name: p.name!, addr: p.addr! })),
      ),
      route('POST', '/v1/shards/{name}/switchover', true, async (req, p) => {
        const b = parseBody(switchoverBody, req.body);
        return accepted(await backend.switchover(p.name!, b.to));
      }),
      route('POST', '/v1/shards/{name}/failover', true, async (req, p) => {
        const b = parseBody(failoverBody, req.body);
        return accepted(await backend.forcedFailover(p.name!, b.to));
      }),
      // ACL users of the Sentinel port: what ACL SETUSER/DELUSER on any daemon send to the leader.
      // Answered once committed (200), not as a job: the Sentinel command waits for it.
      route('GET', '/v1/acl/users', false, async () => ({ status: 200, body: backend.aclUsers() })),
      route('PUT', '/v1/acl/users/{name}', true, async (req, p) => {
        const b = parseBody(putAclUserBody, req.body);
        if (b.user.name !== p.name) {
          throw new AdminError(
            400,
            'invalid_request',
            `user.name "${b.user.name}" is not the path's "${p.name}"`,
          );
        }
        return { status: 200, body: { revision: await backend.putAclUser(b.user, b.revision) } };
      }),
      route('DELETE', '/v1/acl/users/{name}', true, async (_req, p) => {
        if (p.name === 'default')
          throw new AdminError(400, 'invalid_request', "the 'default' user cannot be removed");
        return { status: 200, body: { deleted: await backend.deleteAclUser(p.name!) } };
      }),
    ];
  }

  async handle(req: AdminRequest): Promise<AdminResponse> {
    try {
      return await this.dispatch(req);
    } catch (err) {
      const headers: Record<string, string> =
        err instanceof AdminError && err.status === 405 ? { allow: String(err.extra.allow) } : {};
      return { ...errorReply(err), headers };
    }
  }

  private async dispatch(req: AdminRequest): Promise<AdminResponse> {
    const matching = this.routes.filter((r) => r.pattern.test(req.path));
    if (matching.length === 0) throw new AdminError(404, 'not_found', `no such endpoint: ${req.path}`);
    const r = matching.find((x) => x.method === req.method);
    if (!r) {
      const allow = [...new Set(matching.map((x) => x.method))].join(', ');
      throw new AdminError(
        405,
        'method_not_allowed',
        `${req.method} is not allowed on ${req.path}; use ${allow}`,
        {
          allow,
        },
      );
    }
    if (r.mutating) {
      if (this.token !== undefined && !tokenMatches(this.token, req.token)) {
        throw new AdminError(
          401,
          'unauthorized',
          req.token === undefined ? 'this call needs "Authorization: Bearer <token>"' : 'wrong token',
        );
      }
      if (!this.backend.isLeader()) {
        if (req.hops >= MAX_FORWARD_HOPS)
          throw new AdminError(503, 'no_leader', 'no leader reachable (forwarded too many times)');
        // Headers do not cross the forwarding hop: restore the Location of an accepted job.
        const r = await this.backend.forwardToLeader({ ...req, hops: req.hops + 1 });
        const id = (r.body as { job?: { id?: unknown } } | null)?.job?.id;
        if (r.status === 202 && typeof id === 'string' && !r.headers?.location) {
          return { ...r, headers: { ...r.headers, location: `/v1/jobs/${id}` } };
        }
        return r;
      }
    }
    const m = r.pattern.exec(req.path)!;
    const params: Record<string, string> = {};
    r.keys.forEach((k, i) => {
      params[k] = decodeURIComponent(m[i + 1]!);
    });
    return r.handler(req, params);
  }
}

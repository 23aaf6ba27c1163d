/**
 * Executors of membership jobs: add a member (as a learner, then promoted once caught up unless
 * it is to stay a learner), remove a member (the leader hands over first when it is the one
 * removed), promote a learner, and transfer leadership.
 */
import { findMember, isVotingRole } from '../raft/membership.js';
import type { MemberRole, NodeId } from '../raft/types.js';
import {
  type JobContext,
  type JobExecutor,
  JobFailed,
  LostLeadership,
  proposeCommand,
  retryTransient,
} from './jobs.js';
import type { JobKind } from './jobs-model.js';
import type { Shard } from './shards.js';

/** How long a new member may take to catch up before its add/promote job fails. */
export const CATCH_UP_TIMEOUT_MS = 120_000;

function param<T>(ctx: JobContext, key: string): T {
  return ctx.job.params[key] as T;
}

function membership(ctx: JobContext) {
  return ctx.raft.status().membership;
}

/** Make `id` a member with `role`, going through learner first for voting roles. */
async function ensureRole(ctx: JobContext, id: NodeId, role: MemberRole): Promise<void> {
  const member = findMember(membership(ctx), id);
  if (!member) throw new JobFailed(`node ${id} is not a member`);
  if (member.role === role) return;
  const deadline = ctx.clock.nowMs() + CATCH_UP_TIMEOUT_MS;
  let lastStep = '';
  await retryTransient(ctx, () => ctx.raft.proposeConfigChange({ type: 'set_role', id, role }), {
    deadlineMs: deadline,
    what: `promoting node ${id} to ${role}`,
    onWait: async (err) => {
      if (err.code !== 'not_caught_up') return;
      const step = `waiting for node ${id} to catch up`;
      if (step !== lastStep) {
        lastStep = step;
        await ctx.step(step);
      }
    },
  });
}

const addMember: JobExecutor = async (ctx) => {
  const id = param<NodeId>(ctx, 'id');
  const role = param<MemberRole>(ctx, 'role');
  const addr = param<string>(ctx, 'raft');
  const m = membership(ctx);
  if (m.removed.includes(id))
    throw new JobFailed(`node id ${id} was removed from this group and can never be reused`);
  const existing = findMember(m, id);
  if (existing && existing.addr !== addr) {
    throw new JobFailed(`node ${id} is already a member with Raft address ${existing.addr}, not ${addr}`);
  }
  if (!existing) {
    await ctx.step(`adding node ${id} as a learner`);
    await retryTransient(
      ctx,
      () => ctx.raft.proposeConfigChange({ type: 'add', id, role: 'learner', addr }),
      {
        deadlineMs: ctx.clock.nowMs() + CATCH_UP_TIMEOUT_MS,
        what: `adding node ${id}`,
      },
    );
  }
  const sentinel = param<string | undefined>(ctx, 'sentinel');
  const admin = param<string | undefined>(ctx, 'admin');
  if (sentinel && admin) {
    const info = ctx.state.memberInfo.get(id);
    if (!info || info.sentinel !== sentinel || info.admin !== admin) {
      await proposeCommand(ctx.raft, {
        t: 'member.info',
        id,
        sentinel,
        admin,
        version: param<string | undefined>(ctx, 'version') ?? 'unknown',
      });
    }
  }
  if (role !== 'learner') {
    await ctx.step(`catching up node ${id} before making it a ${role}`);
    await ensureRole(ctx, id, role);
  }
  return { reason: `node ${id} is a ${role}` };
};

const promoteMember: JobExecutor = async (ctx) => {
  const id = param<NodeId>(ctx, 'id');
  const role = param<MemberRole>(ctx, 'role');
  if (!findMember(membership(ctx), id)) throw new JobFailed(`node ${id} is not a member`);
  await ensureRole(ctx, id, role);
  return { reason: `node ${id} is a ${role}` };
};

/** The voter (or witness) other than us with the most of the log: the best leader to hand over to. */
function bestSuccessor(ctx: JobContext, exclude: NodeId): NodeId | null {
  const s = ctx.raft.status();
  const candidates = s.progress
    .filter((p) => p.id !== exclude)
    .filter((p) => {
      const member = findMember(s.membership, p.id);
      return member !== undefined && isVotingRole(member.role);
    })
    .sort((a, b) => b.match - a.match || (a.ticksSinceAck ?? 1e9) - (b.ticksSinceAck ?? 1e9) || a.id - b.id);
  return candidates[0]?.id ?? null;
}

/** Hand leadership to `to` and wait; throws LostLeadership once it moved, JobFailed if it did not. */
async function handOver(ctx: JobContext, to: NodeId): Promise<never> {
  ctx.raft.transferLeadership(to);
  const deadline = ctx.clock.nowMs() + 3 * ctx.electionTimeoutMs;
  while (ctx.clock.nowMs() < deadline) {
    await ctx.sleep(20);
    const s = ctx.raft.status();
    if (s.role !== 'leader') throw new LostLeadership();
    if (s.transferee === 0) break; // aborted
  }
  ctx.raft.abortTransfer();
  throw new JobFailed(
    `node ${to} did not take over leadership within ${3 * ctx.electionTimeoutMs} ms (is it running and caught up?)`,
  );
}

const removeMember: JobExecutor = async (ctx) => {
  const id = param<NodeId>(ctx, 'id');
  const m = membership(ctx);
  if (!findMember(m, id)) {
    if (m.removed.includes(id)) return { reason: `node ${id} was removed` };
    throw new JobFailed(`node ${id} is not a member`);
  }
  if (id === ctx.raft.id) {
    const to = bestSuccessor(ctx, id);
    if (to === null)
      throw new JobFailed(`node ${id} is the only voter; add another voter before removing it`);
    await ctx.step(`handing leadership to node ${to} before removing node ${id}`);
    await handOver(ctx, to);
  }
  await ctx.step(`removing node ${id}`);
  await retryTransient(ctx, () => ctx.raft.proposeConfigChange({ type: 'remove', id }), {
    deadlineMs: ctx.clock.nowMs() + 30_000,
    what: `removing node ${id}`,
  });
  return { reason: `node ${id} was removed${leftBehind(ctx.state.shards.values(), id)}` };
};

/**
 * The Redis nodes a removed member's daemon managed stay in their shards (the operator decides
 * whether that Redis goes too): say so, with the command that takes each one out.
 */
export function leftBehind(shards: Iterable<Shard>, id: NodeId): string {
  const owned: string[] = [];
  for (const shard of shards)
    for (const n of shard.nodes) if (n.owner === id) owned.push(`${shard.name} ${n.addr}`);
  if (owned.length === 0) return '';
  return (
    `; the Redis nodes it managed stay in their shards with no daemon beside them: ` +
    owned.map((o) => `raftinel shard node-remove ${o}`).join(', ') +
    ' takes them out'
  );
}

const transferLeader: JobExecutor = async (ctx) => {
  const to = param<NodeId>(ctx, 'to');
  if (ctx.raft.id === to) return { reason: `node ${to} is the leader` };
  const member = findMember(membership(ctx), to);
  if (!member) throw new JobFailed(`node ${to} is not a member`);
  if (!isVotingRole(member.role)) throw new JobFailed(`node ${to} is a ${member.role} and cannot lead`);
  // Resumed by a leader other than the target after an attempt: leadership went elsewhere.
  if (
    ctx.job.step === `transferring leadership to node ${to}` &&
    ctx.clock.wallMs() - ctx.job.updatedAtMs > 3 * ctx.electionTimeoutMs
  ) {
    throw new JobFailed(`leadership moved to node ${ctx.raft.id} instead of node ${to}`);
  }
  await ctx.step(`transferring leadership to node ${to}`);
  return handOver(ctx, to);
};

export const membershipExecutors: Partial<Record<JobKind, JobExecutor>> = {
  'member.add': addMember,
  'member.remove': removeMember,
  'member.promote': promoteMember,
  'leader.transfer': transferLeader,
};

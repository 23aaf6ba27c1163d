/**
 * Membership upkeep of one daemon: joining the group (asking members until it is added with its
 * role), keeping the replicated state's record of where its Sentinel and admin ports are, and
 * noticing that it was removed while it was cut off.
 */
import { proposeCommand } from '../cluster/jobs.js';
import type { JobRecord } from '../cluster/jobs-model.js';
import type { LeaderLink } from '../cluster/leader-link.js';
import type { ClusterState } from '../cluster/state.js';
import type { ClusterClient } from '../raft/grpc/cluster.js';
import { findMember } from '../raft/membership.js';
import type { RaftNode } from '../raft/node.js';
import type { MemberRole, NodeId } from '../raft/types.js';
import type { Clock } from '../util/clock.js';
import type { Logger } from '../util/log.js';
import { VERSION } from '../util/version.js';

export interface MembershipUpkeepDeps {
  nodeId: NodeId;
  role: MemberRole;
  /** Members to ask when joining (host:port of their Raft port). */
  join: readonly string[];
  electionTimeoutMs: number;
  raft: RaftNode;
  state: ClusterState;
  client: ClusterClient;
  leader: LeaderLink;
  clock: Clock;
  log: Logger;
  /** Where this daemon's ports are, as others dial them. */
  addrs: () => { raft: string; sentinel: string; admin: string };
  sentinelId: () => string;
  stop: (reason: string, exitCode: number) => Promise<void>;
  stopping: () => boolean;
  sleep: (ms: number) => Promise<void>;
}

export class MembershipUpkeep {
  /** Still joining the group (started with --join and not yet a member with its role). */
  joining = false;
  private leaderlessSinceMs: number | null = null;

  constructor(private readonly o: MembershipUpkeepDeps) {}

  /** Ask members to add us until we are a member with our role; exit if refused for good. */
  async joinLoop(): Promise<void> {
    const body = {
      id: this.o.nodeId,
      role: this.o.role,
      raft: this.o.addrs().raft,
      sentinel: this.o.addrs().sentinel,
      admin: this.o.addrs().admin,
      version: VERSION,
    };
    let attempt = 0;
    let jobId: string | null = null;
    let jobAddr: string | null = null;
    while (!this.o.stopping()) {
      const me = findMember(this.o.raft.status().membership, this.o.nodeId);
      if (me && me.role === this.o.role) {
        this.joining = false;
        this.o.log.info({ role: me.role }, 'joined the group');
        return;
      }
      try {
        if (jobId && jobAddr) {
          const r = await this.o.client.call(jobAddr, 'job.get', { id: jobId }, { timeoutMs: 3000 });
          const job = (r.body as { job?: JobRecord }).job;
          if (r.status === 200 && job?.state === 'failed') {
            this.o.log.error({ reason: job.reason }, 'joining the group failed');
            jobId = null;
            void this.o.stop('join failed', 1);
            return;
          }
        } else {
          const addr = this.o.join[attempt % this.o.join.length]!;
          const r = await this.o.client.call(addr, 'join', body, { timeoutMs: 5000 });
          if (r.status === 202 || r.status === 200) {
            const job = (r.body as { job?: JobRecord }).job;
            if (job) {
              jobId = job.id;
              jobAddr = addr;
              this.o.log.info(
                { job: job.id, via: addr },
                'join requested; waiting to be added and caught up',
              );
            }
          } else if (r.status === 409 || r.status === 400) {
            const msg = (r.body as { error?: { message?: string } }).error?.message ?? JSON.stringify(r.body);
            this.o.log.error({ via: addr, reason: msg }, 'the group refused to add this node');
            void this.o.stop(`join refused: ${msg}`, 1);
            return;
          } else {
            this.o.log.warn({ via: addr, status: r.status, body: r.body }, 'join attempt failed; retrying');
          }
        }
      } catch (err) {
        this.o.log.warn({ err: (err as Error).message, attempt }, 'join attempt failed; retrying');
        jobId = null;
      }
      attempt++;
      await this.o.sleep(Math.min(2000, 200 * attempt));
    }
  }

  /** Make sure the replicated state knows where this member's Sentinel and admin ports are. */
  async reconcileMemberInfo(): Promise<void> {
    const st = this.o.raft.status();
    if (st.leader === 0 || !findMember(st.membership, this.o.nodeId)) return;
    const want = {
      sentinel: this.o.addrs().sentinel,
      admin: this.o.addrs().admin,
      version: VERSION,
      runId: this.o.sentinelId(),
    };
    const have = this.o.state.memberInfo.get(this.o.nodeId);
    if (
      have &&
      have.sentinel === want.sentinel &&
      have.admin === want.admin &&
      have.version === want.version &&
      have.runId === want.runId
    )
      return;
    const body = { id: this.o.nodeId, ...want };
    try {
      if (st.role === 'leader') {
        if (st.leaderReady) await proposeCommand(this.o.raft, { t: 'member.info', ...body });
      } else await this.o.leader.request('member.info', body);
    } catch (err) {
      this.o.log.debug({ err: (err as Error).message }, 'could not publish member info yet');
    }
  }

  /** A member removed while it was cut off never hears of it from the log: ask the others. */
  /** A member removed while it was cut off never hears of it from the log: ask the others. */
  async checkRemoved(): Promise<void> {
    const st = this.o.raft.status();
    if (st.leader !== 0 || this.joining) {
      this.leaderlessSinceMs = null;
      return;
    }
    const now = this.o.clock.nowMs();
    this.leaderlessSinceMs ??= now;
    if (now - this.leaderlessSinceMs < 3 * this.o.electionTimeoutMs) return;
    for (const m of st.membership.members) {
      if (m.id === this.o.nodeId) continue;
      try {
        const r = await this.o.client.call(m.addr, 'membership', {}, { timeoutMs: 1000 });
        const view = r.body as { leader?: number; membership?: { removed?: number[] } };
        if (view.leader && view.membership?.removed?.includes(this.o.nodeId)) {
          this.o.log.warn({ told_by: m.id }, 'this node was removed from the group while it was cut off');
          void this.o.stop('this node was removed from the group', 0);
          return;
        }
      } catch {
        // Unreachable peer: try the next.
      }
    }
  }
}

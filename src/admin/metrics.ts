/**
 * Prometheus metrics of one daemon (prom-client, a registry per daemon). Gauges are read from the
 * daemon at scrape time; counters are incremented as events happen.
 */
import { Counter, Gauge, Registry } from 'prom-client';
import type { CoreStatus } from '../raft/core.js';

export interface MetricsSource {
  raftStatus(): CoreStatus;
  leaseRemainingMs(): number;
  transportStats(): {
    sent: number;
    received: number;
    decodeErrors: number;
    dropped: Record<string, number>;
  } | null;
  jobCounts(): Record<string, number>;
  /** Redis nodes beside this daemon that it is fencing now. */
  fencedNodes(): number;
}

export class DaemonMetrics {
  readonly registry = new Registry();
  readonly elections: Counter;
  readonly leaderChanges: Counter;
  readonly membershipChanges: Counter;
  readonly snapshots: Counter<'kind'>;
  readonly grpcErrors: Counter<'kind'>;

  constructor(nodeId: number, source: MetricsSource) {
    const r = this.registry;
    r.setDefaultLabels({ node_id: String(nodeId) });
    const gauge = (name: string, help: string, read: (s: CoreStatus) => number) =>
      new Gauge({
        name,
        help,
        registers: [r],
        collect() {
          this.set(read(source.raftStatus()));
        },
      });
    gauge('raftinel_raft_term', 'Current Raft term.', (s) => s.term);
    gauge('raftinel_raft_leader_id', 'Node id of the leader this daemon knows (0: none).', (s) => s.leader);
    gauge('raftinel_raft_is_leader', '1 when this daemon is the Raft leader.', (s) =>
      s.role === 'leader' ? 1 : 0,
    );
    gauge('raftinel_raft_commit_index', 'Highest log index known committed.', (s) => s.commit);
    gauge(
      'raftinel_raft_applied_index',
      'Highest log index applied to the replicated state.',
      (s) => s.applied,
    );
    gauge('raftinel_raft_last_index', 'Last index in the local log.', (s) => s.lastIndex);
    gauge(
      'raftinel_raft_snapshot_index',
      'Index of the latest snapshot (log compacted up to here).',
      (s) => s.snapshotIndex,
    );
    new Gauge({
      name: 'raftinel_raft_role',
      help: 'Raft role of this daemon (1 for the current one).',
      labelNames: ['role'],
      registers: [r],
      collect() {
        const role = source.raftStatus().role;
        for (const x of ['follower', 'precandidate', 'candidate', 'leader'])
          this.set({ role: x }, x === role ? 1 : 0);
      },
    });
    new Gauge({
      name: 'raftinel_raft_members',
      help: 'Members of the group by role.',
      labelNames: ['role'],
      registers: [r],
      collect() {
        const members = source.raftStatus().membership.members;
        for (const role of ['voter', 'learner', 'witness'])
          this.set({ role }, members.filter((m) => m.role === role).length);
      },
    });
    new Gauge({
      name: 'raftinel_raft_lease_remaining_ms',
      help: 'Leader: ms until the lease lapses without majority contact. Follower: ms until its view of the leader goes stale.',
      registers: [r],
      collect() {
        this.set(source.leaseRemainingMs());
      },
    });
    new Gauge({
      name: 'raftinel_fenced_nodes',
      help: 'Redis masters beside this daemon whose writes it is pausing because it lost the majority.',
      registers: [r],
      collect() {
        this.set(source.fencedNodes());
      },
    });
    new Gauge({
      name: 'raftinel_jobs',
      help: 'Jobs in the replicated state, by state.',
      labelNames: ['state'],
      registers: [r],
      collect() {
        const counts = source.jobCounts();
        for (const state of ['pending', 'running', 'succeeded', 'failed'])
          this.set({ state }, counts[state] ?? 0);
      },
    });
    new Gauge({
      name: 'raftinel_grpc_messages',
      help: 'Raft messages through the gRPC transport since start.',
      labelNames: ['direction'],
      registers: [r],
      collect() {
        const s = source.transportStats();
        this.set({ direction: 'sent' }, s?.sent ?? 0);
        this.set({ direction: 'received' }, s?.received ?? 0);
      },
    });
    new Gauge({
      name: 'raftinel_grpc_dropped_messages',
      help: 'Raft messages dropped by the gRPC transport since start, by reason.',
      labelNames: ['reason'],
      registers: [r],
      collect() {
        const s = source.transportStats();
        if (!s) return;
        for (const [reason, n] of Object.entries(s.dropped)) this.set({ reason }, n);
        this.set({ reason: 'decode_error' }, s.decodeErrors);
      },
    });
    this.elections = new Counter({
      name: 'raftinel_raft_elections_total',
      help: 'Elections this daemon started (pre-vote or vote rounds).',
      registers: [r],
    });
    this.leaderChanges = new Counter({
      name: 'raftinel_raft_leader_changes_total',
      help: 'Changes of the leader this daemon follows.',
      registers: [r],
    });
    this.membershipChanges = new Counter({
      name: 'raftinel_raft_membership_changes_total',
      help: 'Membership changes applied.',
      registers: [r],
    });
    this.snapshots = new Counter({
      name: 'raftinel_raft_snapshots_total',
      help: 'Snapshots taken locally or installed from the leader.',
      labelNames: ['kind'],
      registers: [r],
    });
    this.grpcErrors = new Counter({
      name: 'raftinel_grpc_errors_total',
      help: 'Failed gRPC cluster calls (forwarding, join), by kind.',
      labelNames: ['kind'],
      registers: [r],
    });
  }

  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}

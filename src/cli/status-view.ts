/** Renders GET /v1/status as a readable table for `raftinel status`. */

interface MemberView {
  id: number;
  role: string;
  raft: string;
  sentinel: string | null;
  admin: string | null;
  reachable: boolean | null;
  leader: boolean;
  match_index: number | null;
}

interface ShardNodeView {
  addr: string;
  role: string;
  priority: number;
  owner: number | null;
  seen: {
    failing: boolean;
    down_for_ms: number;
    role: string | null;
    upstream: string | null;
    link_up: boolean | null;
    offset: number | null;
  } | null;
}

interface ShardView {
  name: string;
  epoch: number;
  master: string | null;
  pending?: { epoch: number; to: string; kind: string } | null;
  nodes?: ShardNodeView[];
}

/** One table of all shards' nodes: committed role, and what this daemon sees. */
export function renderShards(shards: unknown[]): string {
  const list = shards as ShardView[];
  if (list.length === 0) return 'no shards';
  const rows = [['SHARD', 'EPOCH', 'NODE', 'COMMITTED', 'SEEN', 'OFFSET', 'PRIORITY', 'OWNER']];
  for (const sh of list) {
    for (const n of sh.nodes ?? []) {
      const committed = n.addr === sh.master ? 'master' : n.role;
      const seen = !n.seen
        ? '?'
        : n.seen.failing
          ? `DOWN ${Math.round(n.seen.down_for_ms)} ms`
          : n.seen.role === 'slave'
            ? `replica of ${n.seen.upstream ?? '?'}${n.seen.link_up ? '' : ' (link down)'}`
            : (n.seen.role ?? '?');
      rows.push([
        sh.name,
        String(sh.epoch),
        n.addr,
        committed,
        seen,
        n.seen?.offset == null ? '-' : String(n.seen.offset),
        String(n.priority),
        n.owner === null ? '-' : String(n.owner),
      ]);
    }
    if (sh.pending)
      rows.push([
        sh.name,
        String(sh.pending.epoch),
        '',
        `${sh.pending.kind} to ${sh.pending.to} in progress`,
        '',
        '',
        '',
        '',
      ]);
  }
  return table(rows);
}

/** Columns padded to their widest cell, two spaces apart. */
export function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows
    .map((r) =>
      r
        .map((c, i) => c.padEnd(widths[i]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

export function renderStatus(s: Record<string, unknown>): string {
  const lines: string[] = [];
  const leader = s.leader === null ? 'none' : `node ${s.leader}`;
  const lease = s.lease as { valid: boolean; remaining_ms: number } | undefined;
  lines.push(
    `node ${s.node_id}: ${s.role}, term ${s.term}, leader ${leader}, commit ${s.commit_index}, applied ${s.applied_index}` +
      (lease ? `, lease ${lease.valid ? `${lease.remaining_ms} ms` : 'lapsed'}` : ''),
  );
  const members = (s.members as MemberView[]) ?? [];
  const rows = [['ID', 'ROLE', 'RAFT', 'SENTINEL', 'ADMIN', 'REACHABLE', 'MATCH', '']];
  for (const m of members) {
    rows.push([
      String(m.id),
      m.role,
      m.raft,
      m.sentinel ?? '-',
      m.admin ?? '-',
      m.reachable === null ? '?' : m.reachable ? 'yes' : 'NO',
      m.match_index === null ? '-' : String(m.match_index),
      [m.leader ? 'leader' : '', m.id === s.node_id ? '(this node)' : ''].filter(Boolean).join(' '),
    ]);
  }
  lines.push('', table(rows));
  lines.push('', renderShards((s.shards as unknown[]) ?? []));
  const jobs = (s.active_jobs as { id: string; kind: string; step: string | null }[]) ?? [];
  if (jobs.length > 0) {
    lines.push('', 'active jobs:');
    for (const j of jobs) lines.push(`  ${j.id}  ${j.kind}  ${j.step ?? ''}`);
  }
  return lines.join('\n');
}

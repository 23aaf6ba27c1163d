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

interface ShardView {
  name: string;
  epoch: number;
  master: string | null;
  nodes?: unknown[];
}

function table(rows: string[][]): string {
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
  const shards = (s.shards as ShardView[]) ?? [];
  lines.push('');
  if (shards.length === 0) lines.push('no shards');
  else {
    const srows = [['SHARD', 'EPOCH', 'MASTER', 'NODES']];
    for (const sh of shards)
      srows.push([sh.name, String(sh.epoch), sh.master ?? '-', String(sh.nodes?.length ?? 0)]);
    lines.push(table(srows));
  }
  const jobs = (s.active_jobs as { id: string; kind: string; step: string | null }[]) ?? [];
  if (jobs.length > 0) {
    lines.push('', 'active jobs:');
    for (const j of jobs) lines.push(`  ${j.id}  ${j.kind}  ${j.step ?? ''}`);
  }
  return lines.join('\n');
}

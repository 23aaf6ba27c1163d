import { describe, expect, it } from 'vitest';
import { leftBehind } from '../../../src/cluster/membership-jobs.js';
import { applyShardCommand, type Shard, type ShardSettings } from '../../../src/cluster/shards.js';
import { shardSettings } from '../../support/shard-settings.js';

const settings: ShardSettings = shardSettings();

function shards(): Map<string, Shard> {
  const m = new Map<string, Shard>();
  const node = (addr: string, owner: number | null) => ({
    addr,
    owner,
    role: 'replica' as const,
    priority: 100,
    accessible: true,
  });
  for (const [name, nodes] of [
    ['cache', [node('10.0.0.1:6379', 1), node('10.0.0.4:6379', 4)]],
    ['queue', [node('10.0.0.1:6380', 1), node('10.0.0.4:6380', 4), node('10.0.0.9:6380', null)]],
  ] as const) {
    const r = applyShardCommand(m, {
      t: 'shard.create',
      name,
      master: nodes[0].addr,
      nodes: [...nodes],
      settings,
      atMs: 0,
    });
    expect(r.ok).toBe(true);
  }
  return m;
}

describe('member.remove result', () => {
  it('names every Redis node the removed member managed, with the command that takes it out', () => {
    const hint = leftBehind(shards().values(), 4);
    expect(hint).toContain('raftinel shard node-remove cache 10.0.0.4:6379');
    expect(hint).toContain('raftinel shard node-remove queue 10.0.0.4:6380');
    expect(hint).not.toContain('10.0.0.1');
    expect(hint).not.toContain('10.0.0.9');
  });

  it('says nothing more for a member that managed no Redis (a witness)', () => {
    expect(leftBehind(shards().values(), 7)).toBe('');
  });
});

import { DEFAULT_SHARD_SETTINGS, type ShardSettings } from '../../src/cluster/settings.js';
import type { Shard } from '../../src/cluster/shards.js';

/**
 * Per-shard settings for unit tests: the settings table's defaults (Sentinel's where they exist)
 * with a short down_after_ms and lease_ms, and `overrides`.
 */
export function shardSettings(overrides: Partial<ShardSettings> = {}): ShardSettings {
  return { ...DEFAULT_SHARD_SETTINGS, downAfterMs: 1000, leaseMs: 1000, ...overrides };
}

/**
 * A committed shard for unit tests: `name` mymaster, epoch 1, no pending failover, no history,
 * the settings above; `over` replaces any field.
 */
export function shardFixture(over: Partial<Shard> & Pick<Shard, 'master' | 'nodes'>): Shard {
  return {
    name: 'mymaster',
    epoch: 1,
    lastEpoch: 1,
    settings: shardSettings(),
    pending: null,
    lastAbortAtMs: null,
    guardReplicas: 0,
    history: [],
    createdAtMs: 0,
    ...over,
  };
}

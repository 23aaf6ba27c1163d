import { DEFAULT_SHARD_SETTINGS, type ShardSettings } from '../../src/cluster/settings.js';

/**
 * Per-shard settings for unit tests: the settings table's defaults (Sentinel's where they exist)
 * with a short down_after_ms and lease_ms, and `overrides`.
 */
export function shardSettings(overrides: Partial<ShardSettings> = {}): ShardSettings {
  return { ...DEFAULT_SHARD_SETTINGS, downAfterMs: 1000, leaseMs: 1000, ...overrides };
}

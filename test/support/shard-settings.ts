import type { ShardSettings } from '../../src/cluster/shards.js';

/** Per-shard settings for unit tests: Sentinel's defaults where they exist, with `overrides`. */
export function shardSettings(overrides: Partial<ShardSettings> = {}): ShardSettings {
  return {
    downAfterMs: 1000,
    leaseMs: 1000,
    maxLagBytes: 1 << 20,
    switchoverPauseMs: 2000,
    failoverTimeoutMs: 180000,
    quorum: 2,
    parallelSyncs: 1,
    minReplicasToWrite: 0,
    minReplicasMaxLagSeconds: 10,
    ...overrides,
  };
}

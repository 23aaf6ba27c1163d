import type { ShardNode } from '../cluster/shards.js';
import type { RedisRef } from './redis.js';

/** How to reach a shard node: its address and credentials. */
export function refOf(n: ShardNode): RedisRef {
  return { addr: n.addr, username: n.username, password: n.password };
}

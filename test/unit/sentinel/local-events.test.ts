/**
 * ±sdown from a daemon's own probes (LocalEvents): published once per crossing of down_after_ms,
 * and, when a failover is decided on this daemon's vote before its own probes crossed
 * down_after_ms (the leader counts a report's age), +sdown for the master precedes the failover
 * and is not withdrawn until the node answers again.
 */
import { describe, expect, it } from 'vitest';
import type { Shard } from '../../../src/cluster/shards.js';
import { LocalEvents } from '../../../src/sentinel/events.js';
import type { SeenNode } from '../../../src/sentinel/sentinel-commands.js';
import { shardFixture, shardSettings } from '../../support/shard-settings.js';

const A = '127.0.0.1:7001';
const B = '127.0.0.1:7002';

function shard(master: string): Shard {
  return shardFixture({
    master,
    nodes: [
      { addr: A, owner: 1, role: 'replica', priority: 100, accessible: true },
      { addr: B, owner: 2, role: 'replica', priority: 100, accessible: true },
    ],
    settings: shardSettings({ downAfterMs: 2000, leaseMs: 500 }),
  });
}

function seenNode(failing: boolean, downForMs: number): SeenNode {
  return {
    failing,
    connected: !failing,
    downForMs,
    msSinceOk: downForMs,
    runId: 'x',
    role: failing ? null : 'slave',
    msSinceRoleChange: 0,
    msSinceInfo: 0,
    masterHost: null,
    masterPort: null,
    linkUp: true,
    linkDownMs: 0,
    offset: 0,
    rawInfo: null,
  };
}

function setup() {
  const published: [string, string][] = [];
  const views = new Map<string, SeenNode>([
    [A, seenNode(false, 0)],
    [B, seenNode(false, 0)],
  ]);
  const ev = new LocalEvents(
    (channel, message) => published.push([channel, message]),
    (addr) => views.get(addr) ?? null,
  );
  return { published, views, ev };
}

describe('LocalEvents', () => {
  it('publishes +sdown once when down_after_ms is crossed and -sdown when the node answers', () => {
    const { published, views, ev } = setup();
    const s = shard(A);
    views.set(A, seenNode(true, 1999));
    ev.round([s]);
    expect(published).toEqual([]);
    views.set(A, seenNode(true, 2000));
    ev.round([s]);
    ev.round([s]);
    expect(published).toEqual([['+sdown', 'master mymaster 127.0.0.1 7001']]);
    views.set(A, seenNode(false, 0));
    ev.round([s]);
    expect(published.at(-1)).toEqual(['-sdown', 'master mymaster 127.0.0.1 7001']);
  });

  it('a failover decided on this daemon vote publishes +sdown for the master, not later as a replica', () => {
    const { published, views, ev } = setup();
    const before = shard(A);
    // This daemon's probes see A failing for 1950 ms; the leader counted the report's age.
    views.set(A, seenNode(true, 1950));
    ev.round([before]);
    ev.declareDown(before, A);
    expect(published).toEqual([['+sdown', 'master mymaster 127.0.0.1 7001']]);
    // The failover completes; A is now a (still failing) replica of B: nothing more, no -sdown.
    const after = shard(B);
    views.set(A, seenNode(true, 1990));
    ev.round([after]);
    views.set(A, seenNode(true, 2100));
    ev.round([after]);
    expect(published).toEqual([['+sdown', 'master mymaster 127.0.0.1 7001']]);
    views.set(A, seenNode(false, 0));
    ev.round([after]);
    expect(published.at(-1)).toEqual([
      '-sdown',
      'slave 127.0.0.1:7001 127.0.0.1 7001 @ mymaster 127.0.0.1 7002',
    ]);
  });

  it('declares nothing for a master this daemon sees answering', () => {
    const { published, ev } = setup();
    ev.declareDown(shard(A), A);
    expect(published).toEqual([]);
  });
});

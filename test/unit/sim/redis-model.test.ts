/**
 * The Redis 7.0 model of the whole-system simulation (test/sim/redis-model.ts), on virtual time:
 * the scripted scenarios with the transcripts real redis-server 7.0 gives
 * (test/integration/redis-model-compat.test.ts checks them against real processes).
 */
import { describe, expect, it } from 'vitest';
import { ModelDriver, SCENARIOS, UNVERIFIED_SCENARIOS } from '../../sim/redis-scenarios.js';

const EXPECTED: Record<string, Record<string, unknown>> = {
  neverSynced: {
    bRole: 'slave',
    bLinkUp: false,
    bOffset: 1,
    bDownSince: -1,
    bReplidFresh: true,
    bReplid2None: true,
    bSyncing: false,
    aRole: 'slave',
    aOffset: 0,
    aKeepsReplid: true,
    aDownSince: -1,
    writeOnReplica: { err: 'READONLY' },
  },
  syncedNoWrite: {
    bOffset: 0,
    aOffset: 0,
    bHasAReplid: true,
    aNewReplidOnFirstBacklog: true,
    aReplicas: ['online'],
    aFullSyncs: 1,
    bOffsetAfterPing: true,
    sameOffsetAfterWrite: true,
    bValue: 'v1',
  },
  promotionLineage: {
    bRole: 'master',
    bReplid2IsOld: true,
    bNewReplid: true,
    bSecondOffset: true,
    cFollowsB: true,
    cReplid2IsOld: true,
    bPartialOk: 1,
    bFull: 0,
    cKeys: 2,
  },
  noReplicas: {
    alone: 'OK',
    aloneWrite: { err: 'NOREPLICAS' },
    withReplica: 'OK',
    stalled: { err: 'NOREPLICAS' },
    resumed: 'OK',
    keys: 2,
  },
  pauseQueues: {
    read: null,
    queuedAfter300: true,
    stillQueued: true,
    w1Reply: 'OK',
    queuedOnReplica: true,
    w2Reply: { err: 'READONLY' },
  },
  waitCounts: { one: 1, twoOfOne: 1, onReplica: { err: 'ERR' } },
  persistenceRestart: {
    keys: 1,
    loadedKeys: 1,
    noHistory: false,
    newRunId: true,
    replid2IsOld: true,
    offsetKept: true,
    secondOffset: true,
    maxLag: ['min-replicas-max-lag', '7'],
    delay: ['repl-diskless-sync-delay', '0'],
    bPartial: 1,
    bFull: 0,
  },
  emptyRestart: {
    aKeys: 0,
    aLoadedKeys: 0,
    aAof: false,
    aWrittenKeys: 1,
    aNoHistoryAfterWrite: true,
    bLoadedKeys: 0,
    aRole: 'master',
    aNewRunId: true,
    aNewReplid: true,
    aOffset: 0,
    bDownOffsetKept: true,
    bDownSinceCounts: true,
    bKeysAfter: 0,
    aFull: 1,
  },
  failoverTo: {
    abortNone: { err: 'ERR No failover in progress.' },
    notReplica: { err: 'ERR FAILOVER target HOST and PORT is not a replica.' },
    onReplica: { err: 'ERR FAILOVER is not valid when server is a replica.' },
    ok: 'OK',
    bRole: 'master',
    aFollowsB: true,
    bReplid2IsOld: true,
    bKeys: 1,
    writeOnA: { err: 'READONLY' },
    writeOnB: 'OK',
  },
};

describe('redis model scenarios', () => {
  for (const [name, scenario] of Object.entries({ ...SCENARIOS, ...UNVERIFIED_SCENARIOS })) {
    it(name, async () => {
      const d = new ModelDriver(1);
      expect(await scenario(d)).toEqual(EXPECTED[name]);
      await d.cleanup();
    });
  }

  it('replays exactly from a seed', async () => {
    const run = async () => {
      const d = new ModelDriver(7);
      await SCENARIOS.promotionLineage!(d);
      return [...d.world.servers.values()].map((s) => s.infoText()).join('\n');
    };
    expect(await run()).toEqual(await run());
  });
});

/**
 * The peer service's one method table: every body is checked by its method's schema, the leader
 * policy is applied once, and every domain error becomes a reply through one mapping.
 */
import { describe, expect, it } from 'vitest';
import { errorReply, REFUSAL_STATUS } from '../../../src/admin/errors.js';
import { Refused } from '../../../src/cluster/errors.js';
import { PEER_METHODS, PeerService, type PeerServiceDeps } from '../../../src/cluster/peer-service.js';
import { changeSettings, SettingsRuleError } from '../../../src/cluster/settings.js';
import { ClusterState } from '../../../src/cluster/state.js';
import { FailoverRefused } from '../../../src/failover/engine.js';
import type { ClusterCallMeta } from '../../../src/raft/grpc/server.js';
import type { RaftNode } from '../../../src/raft/node.js';
import { RaftError } from '../../../src/raft/types.js';
import { shardSettings } from '../../support/shard-settings.js';

const META: ClusterCallMeta = { method: 'x', token: '', hops: 0, peer: 'test' };

function setup(opts: { leader: boolean; failover?: (name: string) => Promise<unknown> }) {
  const forwarded: { method: string; body: unknown; hops: number }[] = [];
  const raft = {
    tickMs: 10,
    status: () => ({
      id: 1,
      term: 3,
      role: opts.leader ? 'leader' : 'follower',
      leader: opts.leader ? 1 : 2,
      membership: { members: [{ id: 1, role: 'voter', addr: 'a:1' }], removed: [] },
      progress: [{ id: 2, match: 7, ticksSinceAck: 3 }],
    }),
  };
  const deps: PeerServiceDeps = {
    raft: raft as unknown as RaftNode,
    state: new ClusterState(),
    engine: {
      receiveReport: () => ({ reachable: [1, 2] }),
      register: async () => ({ shard: 's' }),
      requestSentinelFailover: (async (name: string) =>
        opts.failover ? opts.failover(name) : { id: 'job-1' }) as never,
    },
    forward: async (method, body, hops) => {
      forwarded.push({ method, body, hops });
      return { status: 202, body: { forwarded: true } };
    },
  };
  return { peers: new PeerService(deps), forwarded };
}

describe('PeerService', () => {
  it('serves every method of the table and answers an unknown one 404', async () => {
    const { peers } = setup({ leader: true });
    expect(peers.methods().sort()).toEqual(Object.keys(PEER_METHODS).sort());
    const r = await peers.handle('nope', {}, META);
    expect(r.status).toBe(404);
    expect(JSON.stringify(r.body)).toMatch(/unknown method nope/);
  });

  it('answers a body that does not match its schema 400, naming the field', async () => {
    const { peers } = setup({ leader: true });
    const r = await peers.handle('probe.report', { from: 'two', report: { nodes: [] } }, META);
    expect(r.status).toBe(400);
    expect(r.body).toMatchObject({
      error: { code: 'invalid_request', message: expect.stringMatching(/^probe\.report: from: /) },
    });
    const m = await peers.handle('member.info', { id: 2, sentinel: 'a:1' }, META);
    expect(m.status).toBe(400);
    expect(JSON.stringify(m.body)).toMatch(/admin/);
    // A body that is not even an object.
    expect((await peers.handle('sentinel.failover', 'x', META)).status).toBe(400);
  });

  it('refuses leader-only methods off the leader, and forwards the others one hop further', async () => {
    const { peers, forwarded } = setup({ leader: false });
    const r = await peers.handle('raft.progress', {}, META);
    expect(r).toEqual({ status: 409, body: { error: { code: 'not_leader', message: 'not the leader' } } });
    const f = await peers.handle('sentinel.failover', { name: 'm' }, { ...META, hops: 2 });
    expect(f).toEqual({ status: 202, body: { forwarded: true } });
    expect(forwarded).toEqual([{ method: 'sentinel.failover', body: { name: 'm' }, hops: 2 }]);
    // Methods any daemon serves are not forwarded.
    expect((await peers.handle('membership', undefined, META)).status).toBe(200);
    expect(forwarded).toHaveLength(1);
  });

  it('answers on the leader with the method status and body', async () => {
    const { peers } = setup({ leader: true });
    expect(await peers.handle('sentinel.failover', { name: 'm' }, META)).toEqual({
      status: 202,
      body: { job: { id: 'job-1' } },
    });
    expect(await peers.handle('probe.report', { from: 2, report: { nodes: [] } }, META)).toEqual({
      status: 200,
      body: { reachable: [1, 2] },
    });
    const p = await peers.handle('raft.progress', {}, META);
    expect(p.body).toMatchObject({ progress: [{ id: 2, match: 7, ack_age_ms: 30 }] });
    const j = await peers.handle('job.get', { id: 'missing' }, META);
    expect(j).toMatchObject({ status: 404, body: { error: { code: 'unknown_job' } } });
  });

  it('maps domain errors once: refusals by code, Raft errors to 503, anything else to 500', async () => {
    const cases: [unknown, number, string][] = [
      [new FailoverRefused('in_progress', 'busy'), 409, 'in_progress'],
      [new FailoverRefused('no_candidate', 'none'), 409, 'no_candidate'],
      [new RaftError('leader_not_ready', 'not ready'), 503, 'leader_not_ready'],
      [new Error('boom'), 500, 'internal'],
    ];
    for (const [err, status, code] of cases) {
      const { peers } = setup({ leader: true, failover: () => Promise.reject(err) });
      const r = await peers.handle('sentinel.failover', { name: 'm' }, META);
      expect(r.status).toBe(status);
      expect(r.body).toMatchObject({ error: { code } });
    }
  });
});

describe('errorReply', () => {
  it('has a status for every refusal code, 4xx or 503', () => {
    for (const [code, status] of Object.entries(REFUSAL_STATUS)) {
      const r = errorReply(new Refused(code as keyof typeof REFUSAL_STATUS, 'why'));
      expect(r.status).toBe(status);
      expect(r.status === 503 || (r.status >= 400 && r.status < 500)).toBe(true);
    }
  });

  it('answers a broken settings rule 400 with the rules', () => {
    let err: unknown;
    try {
      changeSettings(shardSettings({}), { downAfterMs: 100 }, 1000);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(SettingsRuleError);
    const r = errorReply(err);
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe('settings_rule');
    expect(Array.isArray(r.body.error.rules)).toBe(true);
  });
});

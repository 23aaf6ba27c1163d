/**
 * The admin HTTP API of a real daemon under hostile input, bearer tokens, /metrics, and the CLI
 * pointed at an address where nothing listens. One single-node group with an admin token.
 */
import { connect, type Socket } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  cleanupAll,
  DaemonCluster,
  type DaemonProcess,
  type DaemonStatus,
  dumpLogsIfFailed,
  metricValue,
  runCli,
} from '../support/daemons.js';
import { freePort } from '../support/ports.js';

const TOKEN = 's3cret-admin-token';
let c: DaemonCluster;
let n: DaemonProcess;
let initial: DaemonStatus;
const sockets: Socket[] = [];

beforeAll(async () => {
  c = new DaemonCluster();
  await c.startGroup([1], { token: TOKEN });
  n = c.node(1);
  initial = await n.status();
});

afterEach(dumpLogsIfFailed);

afterAll(async () => {
  for (const s of sockets) s.destroy();
  await cleanupAll();
});

/** Send raw bytes and collect the whole answer (until the server closes or `untilMs`). */
function rawRequest(addr: string, data: string | Buffer, untilMs = 5000): Promise<string> {
  const [host, port] = addr.split(':') as [string, string];
  return new Promise((resolve, reject) => {
    const s = connect(Number(port), host);
    sockets.push(s);
    let out = '';
    const timer = setTimeout(() => {
      s.destroy();
      resolve(out);
    }, untilMs);
    s.setEncoding('utf8');
    s.on('data', (d: string) => {
      out += d;
    });
    s.on('error', (err) => {
      clearTimeout(timer);
      if (out) resolve(out);
      else reject(err);
    });
    s.on('close', () => {
      clearTimeout(timer);
      resolve(out);
    });
    s.write(data);
  });
}

describe('hostile HTTP', () => {
  it('rejects invalid JSON with 400 invalid_json', async () => {
    const r = await n.http('POST', '/v1/leader/transfer', { rawBody: '{"to": 1,', token: TOKEN });
    expect(r.status).toBe(400);
    expect(r.json).toMatchObject({ error: { code: 'invalid_json' } });
  });

  it('rejects a body over 64 KiB with 413, whether declared or streamed', async () => {
    const big = JSON.stringify({ to: 1, pad: 'x'.repeat(70 * 1024) });
    const r = await n.http('POST', '/v1/leader/transfer', { rawBody: big, token: TOKEN });
    expect(r.status).toBe(413);
    expect(r.json).toMatchObject({ error: { code: 'payload_too_large' } });

    // Chunked, no Content-Length: the limit applies to what arrives.
    const chunk = 'y'.repeat(16 * 1024);
    let req = `POST /v1/leader/transfer HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TOKEN}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n`;
    for (let i = 0; i < 6; i++) req += `${chunk.length.toString(16)}\r\n${chunk}\r\n`;
    req += '0\r\n\r\n';
    const raw = await rawRequest(n.adminAddr, req);
    expect(raw).toMatch(/^HTTP\/1\.1 413 /);
  });

  it('answers a wrong method with 405 and an Allow header, an unknown path with 404', async () => {
    const r = await n.http('PUT', '/v1/status');
    expect(r.status).toBe(405);
    expect(r.headers.get('allow')).toBe('GET');
    expect(r.json).toMatchObject({ error: { code: 'method_not_allowed' } });
    const d = await n.http('GET', '/v1/members/2');
    expect(d.status).toBe(405);
    expect(d.headers.get('allow')).toBe('DELETE');

    const u = await n.http('GET', '/v1/nope');
    expect(u.status).toBe(404);
    expect(u.json).toMatchObject({ error: { code: 'not_found' } });
    expect((u.json as { error: { message: string } }).error.message).toContain('/v1/nope');
  });

  it('needs the bearer token for mutations, not for reads', async () => {
    const none = await n.http('POST', '/v1/leader/transfer', { body: { to: 1 } });
    expect(none.status).toBe(401);
    expect(none.json).toMatchObject({ error: { code: 'unauthorized' } });
    const wrong = await n.http('POST', '/v1/leader/transfer', { body: { to: 1 }, token: 'nope' });
    expect(wrong.status).toBe(401);
    expect(wrong.text).not.toContain(TOKEN);
    const del = await n.http('DELETE', '/v1/members/1');
    expect(del.status).toBe(401);

    expect((await n.http('GET', '/v1/status')).status).toBe(200);
    expect((await n.http('GET', '/v1/health')).status).toBe(200);
    expect((await n.http('GET', '/v1/jobs')).status).toBe(200);

    const ok = await n.http('POST', '/v1/leader/transfer', { body: { to: 1 }, token: TOKEN });
    expect(ok.status, ok.text).toBe(202);

    // The CLI: refused without a token (exit non-zero, says why), accepted with --token.
    const cliNone = await c.cli(['transfer-leader', '1'], { adminOf: 1 });
    expect(cliNone.code).not.toBe(0);
    expect(cliNone.stderr).toMatch(/Bearer/);
    const cliOk = await c.cli(['transfer-leader', '1', '--token', TOKEN], { adminOf: 1 });
    expect(cliOk.code, cliOk.stderr).toBe(0);
  });

  it('rejects bad field types with 400 naming the field', async () => {
    const r = await n.http('POST', '/v1/members', { body: { id: 'x', raft: '127.0.0.1:1' }, token: TOKEN });
    expect(r.status).toBe(400);
    expect(r.json).toMatchObject({ error: { code: 'invalid_request' } });
    expect((r.json as { error: { message: string } }).error.message).toMatch(/\bid\b/);

    const t = await n.http('POST', '/v1/leader/transfer', { body: { to: -3 }, token: TOKEN });
    expect(t.status).toBe(400);
    expect((t.json as { error: { message: string } }).error.message).toMatch(/\bto\b/);

    const addr = await n.http('POST', '/v1/members', {
      body: { id: 9, raft: 'not-an-address' },
      token: TOKEN,
    });
    expect(addr.status).toBe(400);
    expect((addr.json as { error: { message: string } }).error.message).toMatch(/raft/);

    const extra = await n.http('POST', '/v1/leader/transfer', { body: { to: 1, bogus: true }, token: TOKEN });
    expect(extra.status).toBe(400);
    expect((extra.json as { error: { message: string } }).error.message).toMatch(/bogus/);

    const notObject = await n.http('POST', '/v1/leader/transfer', { rawBody: '[1,2]', token: TOKEN });
    expect(notObject.status).toBe(400);

    const badPath = await n.http('DELETE', '/v1/members/abc', { token: TOKEN });
    expect(badPath.status).toBe(400);
    expect((badPath.json as { error: { message: string } }).error.message).toMatch(/member id/);
  });

  it('keeps answering others while slow clients dribble their requests', async () => {
    const [host, port] = n.adminAddr.split(':') as [string, string];
    const slow: Socket[] = [];
    for (let i = 0; i < 20; i++) {
      const s = connect(Number(port), host);
      sockets.push(s);
      slow.push(s);
      s.on('error', () => {});
      s.write('POST /v1/leader/transfer HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n');
    }
    // Half-sent bodies too.
    for (let i = 0; i < 5; i++) {
      const s = connect(Number(port), host);
      sockets.push(s);
      slow.push(s);
      s.on('error', () => {});
      s.write(
        `POST /v1/leader/transfer HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TOKEN}\r\nContent-Length: 1000\r\n\r\n{"to":`,
      );
    }
    for (let i = 0; i < 5; i++) {
      const started = Date.now();
      const r = await n.http('GET', '/v1/health', { timeoutMs: 2000 });
      expect(r.status).toBe(200);
      expect(Date.now() - started).toBeLessThan(2000);
    }
    for (const s of slow) s.destroy();
  });

  it('still answers /v1/health afterwards, with its state intact', async () => {
    const h = await n.http('GET', '/v1/health');
    expect(h.status).toBe(200);
    expect(h.json).toMatchObject({ status: 'ok', node_id: 1 });
    const s = await n.status();
    expect(s.leader).toBe(1);
    expect(s.role).toBe('leader');
    const shape = (st: DaemonStatus) => st.members.map((m) => ({ id: m.id, role: m.role, raft: m.raft }));
    expect(shape(s)).toEqual(shape(initial));
    expect(s.removed).toEqual(initial.removed);
    expect(s.term).toBe(initial.term);
    expect(s.commit_index).toBeGreaterThanOrEqual(initial.commit_index);
    expect(s.applied_index).toBe(s.commit_index);
    expect(n.running).toBe(true);
    // No request crashed a handler.
    expect(n.lines.filter((l) => l.json?.msg === 'admin request failed').map((l) => l.raw)).toEqual([]);
  });
});

describe('/metrics', () => {
  it('serves Prometheus text whose values agree with the status', async () => {
    const r = await n.http('GET', '/metrics');
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/^text\/plain/);
    const text = r.text;
    for (const name of [
      'raftinel_raft_term',
      'raftinel_raft_leader_id',
      'raftinel_raft_role',
      'raftinel_raft_commit_index',
      'raftinel_raft_applied_index',
      'raftinel_raft_elections_total',
      'raftinel_raft_membership_changes_total',
      'raftinel_raft_snapshots_total',
      'raftinel_grpc_dropped_messages',
    ]) {
      expect(text, name).toMatch(new RegExp(`^# TYPE ${name} `, 'm'));
    }
    const s = await n.status();
    expect(metricValue(text, 'raftinel_raft_leader_id', { node_id: '1' })).toBe(s.leader);
    expect(metricValue(text, 'raftinel_raft_term')).toBe(s.term);
    expect(metricValue(text, 'raftinel_raft_role', { role: 'leader' })).toBe(1);
    expect(metricValue(text, 'raftinel_raft_role', { role: 'follower' })).toBe(0);
    const commit = metricValue(text, 'raftinel_raft_commit_index')!;
    expect(commit).toBeGreaterThan(0);
    expect(commit).toBeLessThanOrEqual(s.commit_index);
    expect(metricValue(text, 'raftinel_raft_applied_index')).toBeLessThanOrEqual(commit);
    expect(metricValue(text, 'raftinel_raft_elections_total')).toBeGreaterThanOrEqual(1);
    expect(metricValue(text, 'raftinel_raft_membership_changes_total')).toBeGreaterThanOrEqual(1);

    expect((await n.http('POST', '/metrics')).status).toBe(405);
  });
});

describe('the CLI against a dead admin address', () => {
  it('says it cannot reach the admin API and exits 1', async () => {
    const dead = `127.0.0.1:${await freePort()}`;
    const commands = [['status'], ['transfer-leader', '2'], ['peer', 'remove', '3']];
    const results = await Promise.all(commands.map((args) => runCli([...args, '--admin', dead])));
    results.forEach((r, i) => {
      expect(r.code, commands[i]!.join(' ')).toBe(1);
      expect(r.stderr).toContain(`cannot reach the admin API at ${dead}: connection refused`);
    });
  });
});

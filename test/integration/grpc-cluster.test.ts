import { Writable } from 'node:stream';
import * as grpc from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import { CLUSTER_CALL_PATH, loadProto, type PbClusterResponse } from '../../src/raft/grpc/proto.js';
import { ClusterCallError, ClusterClient, GrpcServer } from '../../src/raft/grpc/transport.js';
import { createLogger, silentLogger } from '../../src/util/log.js';
import { freePort } from '../support/ports.js';

const cleanups: (() => Promise<void> | void)[] = [];

afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

async function startServer(opts: { logger?: ReturnType<typeof createLogger>; maxHops?: number } = {}) {
  const server = new GrpcServer({
    listen: '127.0.0.1:0',
    logger: opts.logger ?? silentLogger,
    maxHops: opts.maxHops,
  });
  server.registerCluster('echo', async (body, meta) => ({
    status: 200,
    body: { body: body ?? null, token: meta.token, hops: meta.hops, method: meta.method },
  }));
  server.registerCluster('boom', async () => {
    throw new Error('the handler exploded');
  });
  server.registerCluster('created', async () => ({ status: 201 }));
  server.registerCluster('teapot', async () => ({ status: 418, body: { error: 'short and stout' } }));
  server.registerCluster('bad-status', async () => ({ status: 42 }) as never);
  server.registerCluster('unserializable', async () => ({ status: 200, body: { n: 1n } }));
  server.registerCluster('never', () => new Promise(() => {}));
  const port = await server.start();
  cleanups.push(() => server.stop());
  return { server, addr: `127.0.0.1:${port}` };
}

function client(): ClusterClient {
  const c = new ClusterClient({ logger: silentLogger });
  cleanups.push(() => c.close());
  return c;
}

describe('Cluster.Call', () => {
  it('round-trips a JSON body; token and hops reach the handler', async () => {
    const { addr } = await startServer();
    const body = {
      op: 'failover',
      master: 'mymaster',
      nested: { list: [1, 'två', null, true] },
      emoji: '🐘',
    };
    const reply = await client().call(addr, 'echo', body, { token: 's3cret', hops: 2, timeoutMs: 2_000 });
    expect(reply).toEqual({ status: 200, body: { body, token: 's3cret', hops: 2, method: 'echo' } });
  });

  it('passes "no body" both ways', async () => {
    const { addr } = await startServer();
    const c = client();
    expect(await c.call(addr, 'echo', undefined)).toEqual({
      status: 200,
      body: { body: null, token: '', hops: 0, method: 'echo' },
    });
    expect(await c.call(addr, 'created', { a: 1 })).toEqual({ status: 201, body: undefined });
  });

  it('passes application statuses through', async () => {
    const { addr } = await startServer();
    expect(await client().call(addr, 'teapot', null)).toEqual({
      status: 418,
      body: { error: 'short and stout' },
    });
  });

  it('answers 404 with a clear message for an unknown method', async () => {
    const { addr } = await startServer();
    const reply = await client().call(addr, 'no-such-method', {});
    expect(reply.status).toBe(404);
    expect(reply.body).toEqual({ error: "unknown cluster method 'no-such-method'" });
  });

  it('answers 500 with the message when the handler throws, and never logs the token', async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _enc, cb) {
        lines.push(String(chunk));
        cb();
      },
    });
    const { addr, server } = await startServer({
      logger: createLogger({ level: 'debug', destination: sink }),
    });
    const reply = await client().call(addr, 'boom', { x: 1 }, { token: 'top-secret-token' });
    expect(reply).toEqual({ status: 500, body: { error: 'the handler exploded' } });
    expect(lines.some((l) => l.includes('the handler exploded'))).toBe(true);
    expect(lines.join('')).not.toContain('top-secret-token');
    expect(server.stats().clusterErrors).toBe(1);
  });

  it('answers 500 for an invalid reply or an unserializable body', async () => {
    const { addr } = await startServer();
    const c = client();
    const bad = await c.call(addr, 'bad-status', null);
    expect(bad.status).toBe(500);
    expect(bad.body).toEqual({ error: "handler for 'bad-status' returned an invalid reply" });
    const unser = await c.call(addr, 'unserializable', null);
    expect(unser.status).toBe(500);
    expect((unser.body as { error: string }).error).toMatch(/not serializable/);
  });

  it('refuses requests forwarded too often with 508', async () => {
    const { addr } = await startServer({ maxHops: 3 });
    const c = client();
    expect((await c.call(addr, 'echo', {}, { hops: 3 })).status).toBe(200);
    const reply = await c.call(addr, 'echo', {}, { hops: 4 });
    expect(reply.status).toBe(508);
    expect((reply.body as { error: string }).error).toMatch(/4 hops > 3/);
  });

  it('answers 400 to a body that is not JSON (raw client)', async () => {
    const { addr } = await startServer();
    const proto = loadProto();
    const raw = new grpc.Client(addr, grpc.credentials.createInsecure());
    cleanups.push(() => raw.close());
    const response = await new Promise<PbClusterResponse>((resolve, reject) =>
      raw.makeUnaryRequest(
        CLUSTER_CALL_PATH,
        proto.serializeClusterRequest,
        proto.deserializeClusterResponse,
        { method: 'echo', json_body: Buffer.from('{not json'), token: '', hops: 0 },
        (err, res) => (err || !res ? reject(err) : resolve(res)),
      ),
    );
    expect(response.status).toBe(400);
    expect(Buffer.from(response.json_body).toString()).toMatch(/invalid JSON body/);
  });

  it('serves concurrent calls', async () => {
    const { addr } = await startServer();
    const c = client();
    const replies = await Promise.all(Array.from({ length: 100 }, (_, i) => c.call(addr, 'echo', { i })));
    expect(replies.map((r) => (r.body as { body: { i: number } }).body.i)).toEqual(
      Array.from({ length: 100 }, (_, i) => i),
    );
  });

  it('rejects with ClusterCallError UNAVAILABLE when nothing listens', async () => {
    const port = await freePort();
    const err = await client()
      .call(`127.0.0.1:${port}`, 'echo', {}, { timeoutMs: 2_000 })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ClusterCallError);
    expect((err as ClusterCallError).code).toBe(grpc.status.UNAVAILABLE);
    expect((err as ClusterCallError).unavailable).toBe(true);
    expect((err as Error).message).toContain(`127.0.0.1:${port}`);
  });

  it('rejects with DEADLINE_EXCEEDED when the handler is too slow', async () => {
    const { addr } = await startServer();
    const err = await client()
      .call(addr, 'never', {}, { timeoutMs: 100 })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ClusterCallError);
    expect((err as ClusterCallError).code).toBe(grpc.status.DEADLINE_EXCEEDED);
  });

  it('rejects a body that cannot be serialized, without sending', async () => {
    const { addr } = await startServer();
    const err = await client()
      .call(addr, 'echo', { n: 1n })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ClusterCallError);
    expect((err as ClusterCallError).code).toBe(grpc.status.INVALID_ARGUMENT);
  });

  it('refuses a duplicate handler registration', async () => {
    const { server } = await startServer();
    expect(() => server.registerCluster('echo', async () => ({ status: 200 }))).toThrow(/already registered/);
  });

  it('works again after the server restarts on the same port', async () => {
    const first = await startServer();
    const c = client();
    expect((await c.call(first.addr, 'echo', {})).status).toBe(200);
    const port = first.server.port;
    await first.server.stop();
    const again = new GrpcServer({ listen: `127.0.0.1:${port}`, logger: silentLogger });
    again.registerCluster('echo', async () => ({ status: 200, body: 'again' }));
    await again.start();
    cleanups.push(() => again.stop());
    // The cached channel reconnects; the first call may still see the old connection drop.
    const deadline = performance.now() + 5_000;
    for (;;) {
      const reply = await c
        .call(`127.0.0.1:${port}`, 'echo', {}, { timeoutMs: 1_000 })
        .catch((e: unknown) => e);
      if (!(reply instanceof ClusterCallError)) {
        expect(reply).toEqual({ status: 200, body: 'again' });
        break;
      }
      if (performance.now() > deadline) throw reply;
      await new Promise((r) => setTimeout(r, 20));
    }
  });
});

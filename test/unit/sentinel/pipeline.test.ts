/** Throughput and bounded memory of the Sentinel port under heavy pipelining. */
import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { encodeCommand } from '../../../src/sentinel/resp.js';
import type { SentinelServer } from '../../../src/sentinel/server.js';
import { startServer } from './helpers.js';

let server: SentinelServer | undefined;
let socket: Socket | undefined;

afterEach(async () => {
  socket?.destroy();
  await server?.close();
});

async function open(port: number): Promise<Socket> {
  const s = connect(port, '127.0.0.1');
  await new Promise<void>((resolve, reject) => {
    s.once('connect', resolve);
    s.once('error', reject);
  });
  s.setNoDelay(true);
  return s;
}

describe('pipelining', () => {
  it('one million PINGs in large writes: every reply, in order, with bounded memory', async () => {
    server = await startServer();
    const sock = await open(server.port);
    socket = sock;
    const N = 1_000_000;
    const PING = encodeCommand(['PING']);
    // Every 1000th request carries a number that its reply echoes, so order is checked.
    const request = (i: number): Buffer => (i % 1000 === 0 ? encodeCommand(['PING', String(i)]) : PING);
    const reply = (i: number): string => (i % 1000 === 0 ? `$${String(i).length}\r\n${i}\r\n` : '+PONG\r\n');

    let next = 0;
    let pending = '';
    let mismatch: string | null = null;
    const finished = new Promise<void>((resolve) => {
      sock.on('data', (chunk: Buffer) => {
        pending += chunk.toString('latin1');
        let pos = 0;
        while (next < N) {
          const want = reply(next);
          if (pending.length - pos < want.length) break;
          if (!pending.startsWith(want, pos)) {
            mismatch ??= `reply ${next}: got ${JSON.stringify(pending.slice(pos, pos + 20))}`;
            break;
          }
          pos += want.length;
          next++;
        }
        pending = pending.slice(pos);
        if (next === N || mismatch) resolve();
      });
    });

    const heapBefore = process.memoryUsage().heapUsed;
    let heapPeak = heapBefore;
    const started = performance.now();
    const batch = 20_000;
    for (let i = 0; i < N; i += batch) {
      const parts: Buffer[] = [];
      for (let j = i; j < i + batch; j++) parts.push(request(j));
      if (!sock.write(Buffer.concat(parts))) await new Promise((r) => sock.once('drain', r));
      heapPeak = Math.max(heapPeak, process.memoryUsage().heapUsed);
    }
    await finished;
    const seconds = (performance.now() - started) / 1000;
    heapPeak = Math.max(heapPeak, process.memoryUsage().heapUsed);
    expect(mismatch).toBeNull();
    expect(next).toBe(N);
    expect(pending).toBe('');
    console.log(
      `pipelined PING: ${N} in ${seconds.toFixed(2)} s = ${Math.round(N / seconds)} commands/s; heap peak +${((heapPeak - heapBefore) / 1e6).toFixed(1)} MB`,
    );
    expect(seconds).toBeLessThan(60);
    // Client and server share this process: the bound covers both (requests in flight, replies).
    expect(heapPeak - heapBefore).toBeLessThan(200 * 1024 * 1024);
    const stats = server.snapshotStats();
    expect(stats.totalCommandsProcessed).toBe(N);
    expect(stats.clientMaxInputBuffer).toBeLessThan(1024 * 1024);
  }, 120_000);

  it('a request/response loop from one client', async () => {
    server = await startServer();
    const sock = await open(server.port);
    socket = sock;
    const PING = encodeCommand(['PING']);
    let wake: (() => void) | null = null;
    let buffered = 0;
    sock.on('data', (d: Buffer) => {
      buffered += d.length;
      const w = wake;
      wake = null;
      w?.();
    });
    const M = 20_000;
    const started = performance.now();
    for (let i = 0; i < M; i++) {
      const target = (i + 1) * 7;
      sock.write(PING);
      while (buffered < target) await new Promise<void>((r) => (wake = r));
    }
    const seconds = (performance.now() - started) / 1000;
    console.log(
      `request/response PING: ${M} in ${seconds.toFixed(2)} s = ${Math.round(M / seconds)} round trips/s`,
    );
    expect(buffered).toBe(M * 7);
    expect(seconds).toBeLessThan(60);
  }, 120_000);

  it('a client that pipelines without reading is throttled, not buffered without bound', async () => {
    server = await startServer();
    const sock = await open(server.port);
    socket = sock;
    sock.pause(); // never read the replies
    const chunk = Buffer.concat(
      Array.from({ length: 10_000 }, () => encodeCommand(['PING', 'x'.repeat(100)])),
    );
    let written = 0;
    const deadline = Date.now() + 5_000;
    // Write until the kernel and the server push back, or 200 MB.
    while (written < 200 * 1024 * 1024 && Date.now() < deadline) {
      const ok = sock.write(chunk);
      written += chunk.length;
      if (!ok) {
        const drained = await Promise.race([
          new Promise<boolean>((r) => sock.once('drain', () => r(true))),
          new Promise<boolean>((r) => setTimeout(() => r(false), 300)),
        ]);
        if (!drained) break;
      }
    }
    const conn = server.clients()[0];
    expect(conn).toBeDefined();
    // The server stopped executing (output backlog) and stopped reading (socket paused).
    expect(conn?.outputBufferBytes).toBeLessThan(64 * 1024 * 1024);
    expect(conn?.queryBufferBytes).toBeLessThan(8 * 1024 * 1024);
    expect(written).toBeLessThan(200 * 1024 * 1024);
  }, 30_000);
});

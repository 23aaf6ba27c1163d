import { existsSync } from 'node:fs';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import {
  backoffDelay,
  clientChannelOptions,
  LogThrottle,
  serverChannelOptions,
} from '../../../src/raft/grpc/options.js';
import { loadProto, PROTO_PATH } from '../../../src/raft/grpc/proto.js';
import { createLogger } from '../../../src/util/log.js';

describe('backoffDelay', () => {
  const opts = { initialMs: 100, maxMs: 2_000 };

  it('doubles per attempt, capped, with jitter in [d/2, d]', () => {
    const expected = [100, 200, 400, 800, 1600, 2000, 2000];
    expected.forEach((d, attempt) => {
      expect(backoffDelay(attempt, opts, () => 0)).toBe(d / 2);
      expect(backoffDelay(attempt, opts, () => 0.999999)).toBe(d);
    });
    expect(backoffDelay(10_000, opts, () => 0.5)).toBe(1_500);
  });
});

describe('channel options', () => {
  it('set both message size limits and keepalive', () => {
    for (const o of [serverChannelOptions(1234), clientChannelOptions(1234)]) {
      expect(o['grpc.max_receive_message_length']).toBe(1234);
      expect(o['grpc.max_send_message_length']).toBe(1234);
      expect(o['grpc.keepalive_time_ms']).toBe(10_000);
    }
    const c = clientChannelOptions(1, {}, { initialMs: 10, maxMs: 20 });
    expect(c['grpc.initial_reconnect_backoff_ms']).toBe(10);
    expect(c['grpc.max_reconnect_backoff_ms']).toBe(20);
  });
});

describe('proto loading', () => {
  it('finds proto/raftinel.proto relative to the module and loads both services', () => {
    expect(PROTO_PATH.endsWith('/proto/raftinel.proto')).toBe(true);
    expect(existsSync(PROTO_PATH)).toBe(true);
    const p = loadProto();
    expect(Object.keys(p.raftService).sort()).toEqual(['InstallSnapshot', 'Send']);
    expect(Object.keys(p.clusterService)).toEqual(['Call']);
  });
});

describe('LogThrottle', () => {
  it('logs the first event and then at most one per interval, counting the suppressed ones', async () => {
    const lines: { msg: string; suppressed?: number }[] = [];
    const logger = createLogger({
      level: 'debug',
      destination: new Writable({
        write(chunk, _enc, cb) {
          lines.push(JSON.parse(String(chunk)));
          cb();
        },
      }),
    });
    const t = new LogThrottle(30);
    for (let i = 0; i < 5; i++) t.log(logger, 'warn', {}, 'x');
    expect(lines.length).toBe(1);
    const start = performance.now();
    while (performance.now() - start < 35) await new Promise((r) => setTimeout(r, 5));
    t.log(logger, 'warn', {}, 'x');
    expect(lines.length).toBe(2);
    expect(lines[1]!.suppressed).toBe(4);
  });
});

import { describe, expect, it } from 'vitest';
import { BENCHMARKS, main, type RunnerIO } from '../../../bench/run.js';
import type { Benchmark } from '../../../bench/types.js';

function capture(): RunnerIO & { stdout: () => string; stderr: () => string } {
  let out = '';
  let err = '';
  return {
    out: (text) => {
      out += text;
    },
    err: (text) => {
      err += text;
    },
    stdout: () => out,
    stderr: () => err,
  };
}

const fake: Benchmark = {
  name: 'fake',
  description: 'yields two rows',
  async *run(opts) {
    yield { system: 'raftinel', value_ms: 1.23456, quick: opts.quick };
    yield { system: 'redis-sentinel', value_ms: 2, quick: opts.quick };
  },
};

describe('bench runner', () => {
  it('rejects an unknown name with exit 2, listing the known ones', async () => {
    const io = capture();
    expect(await main(['raft', 'nope'], io)).toBe(2);
    expect(io.stderr()).toContain("unknown benchmark 'nope'");
    for (const b of BENCHMARKS) expect(io.stderr()).toContain(b.name);
    expect(io.stdout()).toBe('');
  });

  it('rejects a bad option value with exit 2', async () => {
    const io = capture();
    expect(await main(['--duration-ms', 'soon'], io)).toBe(2);
    expect(io.stderr()).toMatch(/positive integer/);
  });

  it('prints the environment, then one JSON row per result with bench and system', async () => {
    const io = capture();
    expect(await main(['--json', '--quick'], io, [fake])).toBe(0);
    const lines = io
      .stdout()
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.map((l) => [l.bench, l.system])).toEqual([
      ['env', 'raftinel'],
      ['fake', 'raftinel'],
      ['fake', 'redis-sentinel'],
    ]);
    expect(lines[0]).toMatchObject({ node: process.version, cpus: expect.any(Number) });
    expect(lines[1]).toMatchObject({ value_ms: 1.235, quick: true, cpu_self_pct: expect.any(Number) });
  });

  it('prints a table in human mode', async () => {
    const io = capture();
    expect(await main(['fake'], io, [fake])).toBe(0);
    expect(io.stdout()).toMatch(/^environment: .*node v/);
    expect(io.stdout()).toMatch(/system\s+value_ms/);
    expect(io.stdout()).toMatch(/redis-sentinel\s+2/);
  });

  it('runs the raft benchmark in an ultra-short mode', async () => {
    const io = capture();
    expect(await main(['raft', '--json', '--duration-ms', '200'], io)).toBe(0);
    const rows = io
      .stdout()
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((r) => r.bench === 'raft');
    expect(rows.length).toBeGreaterThanOrEqual(6);
    for (const row of rows) {
      expect(row).toMatchObject({
        system: 'raftinel',
        disk: expect.stringMatching(/^(real|tmpfs)$/),
        payload_bytes: expect.any(Number),
        clients: expect.any(Number),
        commits_per_s: expect.any(Number),
        p50_ms: expect.any(Number),
        p90_ms: expect.any(Number),
        p99_ms: expect.any(Number),
        max_ms: expect.any(Number),
        fsyncs_per_s: expect.any(Number),
        errors: 0,
      });
      expect(row.commits_per_s).toBeGreaterThan(0);
    }
  }, 30_000);
});

/**
 * The e2e checkers themselves (pure; no root needed): split-brain windows from write samples,
 * naming disagreements from Sentinel polls, and the RESP reply reader the probes use.
 */
import { describe, expect, it } from 'vitest';
import { prng } from './netns.js';
import {
  dualMasterWindows,
  type NamingPoll,
  namingDisagreements,
  parseFirstReply,
  type WriteSample,
} from './observe.js';

const A = '10.0.0.1:6379';
const B = '10.0.0.2:6379';

function samples(node: string, pattern: string, startMs = 0, stepMs = 100): WriteSample[] {
  return [...pattern].map((ch, i) => ({
    node,
    startMs: startMs + i * stepMs,
    endMs: startMs + i * stepMs + 5,
    accepted: ch === '+',
    outcome: ch === '+' ? '+OK' : 'timeout',
  }));
}

describe('dualMasterWindows', () => {
  it('finds nothing when one master hands over to the other', () => {
    // A accepts until 400, B from 600.
    expect(dualMasterWindows([...samples(A, '+++++-----'), ...samples(B, '------++++')])).toEqual([]);
  });

  it('finds the overlap when both accepted writes interleaved', () => {
    const w = dualMasterWindows([...samples(A, '++++++----'), ...samples(B, '----++++++')]);
    expect(w).toEqual([{ a: A, b: B, fromMs: 400, toMs: 505, ms: 105 }]);
  });

  it('ignores one node accepting on its own, and a gap inside a node', () => {
    expect(dualMasterWindows([...samples(A, '++-++-++'), ...samples(B, '--------')])).toEqual([]);
  });
});

describe('namingDisagreements', () => {
  const poll = (atMs: number, ...answers: string[]): NamingPoll => ({
    atMs,
    answers: new Map(answers.map((a, i) => [i + 1, a])),
  });

  it('does not count null or silent daemons as naming a master', () => {
    expect(namingDisagreements([poll(0, A, 'null', 'none'), poll(50, A, A, 'null')])).toEqual([]);
  });

  it('measures how long two masters were named at once', () => {
    const d = namingDisagreements([poll(0, A, A), poll(50, A, B), poll(100, B, A), poll(150, B, B)]);
    expect(d).toEqual([{ fromMs: 50, toMs: 150, ms: 100, names: [A, B] }]);
  });
});

describe('parseFirstReply', () => {
  it('reads simple strings, errors, bulk strings, arrays and nulls, and waits for incomplete ones', () => {
    expect(parseFirstReply('+OK\r\n')).toBe('+OK');
    expect(parseFirstReply('-READONLY no\r\n')).toBe('-READONLY no');
    expect(parseFirstReply('*2\r\n$8\r\n10.0.0.1\r\n$4\r\n6379\r\n')).toBe('10.0.0.1:6379');
    expect(parseFirstReply('*-1\r\n')).toBe('null');
    expect(parseFirstReply('_\r\n')).toBe('null');
    expect(parseFirstReply('*2\r\n$8\r\n10.0.0.1\r\n')).toBeUndefined();
    expect(parseFirstReply('$5\r\nhel')).toBeUndefined();
  });
});

describe('prng', () => {
  it('replays the same schedule for the same seed', () => {
    const a = prng(42);
    const b = prng(42);
    const xs = Array.from({ length: 5 }, () => a());
    expect(Array.from({ length: 5 }, () => b())).toEqual(xs);
    expect(xs.every((x) => x >= 0 && x < 1)).toBe(true);
  });
});

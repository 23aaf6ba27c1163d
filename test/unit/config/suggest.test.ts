import { describe, expect, it } from 'vitest';
import { closestKeys, editDistance, quotedAlternatives } from '../../../src/config/suggest.js';

describe('editDistance (optimal string alignment)', () => {
  it('counts insertions, deletions and substitutions', () => {
    expect(editDistance('', '')).toBe(0);
    expect(editDistance('abc', '')).toBe(3);
    expect(editDistance('', 'abc')).toBe(3);
    expect(editDistance('kitten', 'sitting')).toBe(3);
    expect(editDistance('electon_timeout_ms', 'election_timeout_ms')).toBe(1);
  });

  it('counts a swap of two adjacent characters as one edit', () => {
    expect(editDistance('jion', 'join')).toBe(1);
    expect(editDistance('ca', 'abc')).toBe(3); // OSA, not unrestricted Damerau (which says 2)
  });

  it('is symmetric', () => {
    for (const [a, b] of [
      ['listen', 'lisetn'],
      ['down_after_ms', 'downafter_ms'],
      ['token', 'tkn'],
    ] as const) {
      expect(editDistance(a, b)).toBe(editDistance(b, a));
    }
  });
});

describe('closestKeys', () => {
  const raftKeys = ['listen', 'advertise', 'single', 'join', 'role', 'heartbeat_ms', 'election_timeout_ms'];

  it('suggests the closest key within 3 edits', () => {
    expect(closestKeys('electon_timeout_ms', raftKeys)).toEqual(['election_timeout_ms']);
    expect(closestKeys('heartbeat', raftKeys)).toEqual(['heartbeat_ms']);
    expect(closestKeys('hartbeat_ms', raftKeys)).toEqual(['heartbeat_ms']);
    expect(closestKeys('advertize', raftKeys)).toEqual(['advertise']);
  });

  it('ignores case and hyphen versus underscore', () => {
    expect(closestKeys('Heartbeat-MS', raftKeys)).toEqual(['heartbeat_ms']);
  });

  it('does not "correct" short unrelated words', () => {
    expect(closestKeys('foo', raftKeys)).toEqual([]);
    expect(closestKeys('x', raftKeys)).toEqual([]);
  });

  it('quotes alternatives readably', () => {
    expect(quotedAlternatives(['a'])).toBe('"a"');
    expect(quotedAlternatives(['a', 'b'])).toBe('"a" or "b"');
    expect(quotedAlternatives(['a', 'b', 'c'])).toBe('"a", "b" or "c"');
  });
});

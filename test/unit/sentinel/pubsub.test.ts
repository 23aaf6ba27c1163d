import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type OutgoingMessage,
  PubSubHub,
  type Subscriber,
  stringMatch,
} from '../../../src/sentinel/pubsub.js';

describe('stringMatch (Redis stringmatchlen)', () => {
  const cases: [string, string, boolean][] = [
    ['*', 'anything', true],
    ['*', '', false], // Redis: a non-empty pattern never matches the empty string
    ['', '', true],
    ['h?llo', 'hello', true],
    ['h?llo', 'hllo', false],
    ['h*llo', 'hllo', true],
    ['h*llo', 'heeeello', true],
    ['h[ae]llo', 'hallo', true],
    ['h[ae]llo', 'hillo', false],
    ['h[^e]llo', 'hallo', true],
    ['h[^e]llo', 'hello', false],
    ['h[a-b]llo', 'hbllo', true],
    ['h[a-b]llo', 'hcllo', false],
    ['[z-a]', 'm', true],
    ['\\*', '*', true],
    ['\\*', 'x', false],
    ['[\\]]', ']', true],
    ['[abc', 'a', true],
    ['[abc', 'd', false],
    ['a\\', 'a\\', true],
    ['+switch-master', '+switch-master', true],
    ['switch-master', '+switch-master', false],
    ['[-+]sdown', '+sdown', true],
    ['[-+]sdown', '-sdown', true],
    ['[-+]sdown', '+odown', false],
    ['*master', '+switch-master', true],
    ['__sentinel__:*', '__sentinel__:hello', true],
    ['a**b', 'ab', true],
    ['a*', 'a', true],
    ['?', '', false],
  ];
  for (const [pattern, str, want] of cases) {
    it(`${JSON.stringify(pattern)} vs ${JSON.stringify(str)} → ${want}`, () => {
      expect(stringMatch(pattern, str)).toBe(want);
    });
  }

  it('nocase', () => {
    expect(stringMatch('PING', 'ping', true)).toBe(true);
    expect(stringMatch('c[L-M]ient*', 'client|list', true)).toBe(true);
    expect(stringMatch('PING', 'ping')).toBe(false);
  });

  it('stays fast on patterns built to backtrack', () => {
    const start = performance.now();
    expect(stringMatch(`${'a*'.repeat(40)}b`, 'a'.repeat(5000))).toBe(false);
    expect(stringMatch(`${'*'.repeat(60_000)}x`, 'y'.repeat(60_000))).toBe(false);
    expect(stringMatch('*a'.repeat(5000), 'a'.repeat(5000))).toBe(false); // nesting cap, as Redis
    expect(performance.now() - start).toBeLessThan(2_000);
  });

  it('agrees with a regular expression for patterns of literals, ? and *', () => {
    const toRegex = (p: string): RegExp =>
      new RegExp(`^${[...p].map((c) => (c === '*' ? '[\\s\\S]*' : c === '?' ? '[\\s\\S]' : c)).join('')}$`);
    fc.assert(
      fc.property(fc.stringMatching(/^[ab*?]{0,8}$/), fc.stringMatching(/^[ab]{0,8}$/), (pattern, str) => {
        const want = str === '' ? pattern === '' : toRegex(pattern).test(str);
        expect(stringMatch(pattern, str)).toBe(want);
      }),
      { numRuns: 2000 },
    );
  });
});

class FakeSub implements Subscriber {
  readonly channels = new Map<string, Buffer>();
  readonly patterns = new Map<string, Buffer>();
  readonly got: string[] = [];
  constructor(private readonly proto: 2 | 3 = 2) {}
  deliver(m: OutgoingMessage): void {
    this.got.push(m.encoded(this.proto).toString('latin1'));
  }
}

describe('PubSubHub', () => {
  it('delivers message and one pmessage per matching pattern, and counts deliveries', () => {
    const hub = new PubSubHub();
    const a = new FakeSub(2);
    const b = new FakeSub(3);
    const c = (s: string): Buffer => Buffer.from(s);
    expect(hub.subscribe(a, c('+switch-master'))).toBe(true);
    expect(hub.subscribe(a, c('+switch-master'))).toBe(false);
    hub.psubscribe(a, c('*'));
    hub.psubscribe(b, c('+switch-*'));
    hub.psubscribe(b, c('+sdown'));
    expect(hub.channelCount).toBe(1);
    expect(hub.patternCount).toBe(3);
    expect(hub.publish('+switch-master', 'm 1 2 3 4')).toBe(3);
    expect(a.got).toEqual([
      '*3\r\n$7\r\nmessage\r\n$14\r\n+switch-master\r\n$9\r\nm 1 2 3 4\r\n',
      '*4\r\n$8\r\npmessage\r\n$1\r\n*\r\n$14\r\n+switch-master\r\n$9\r\nm 1 2 3 4\r\n',
    ]);
    expect(b.got).toEqual([
      '>4\r\n$8\r\npmessage\r\n$9\r\n+switch-*\r\n$14\r\n+switch-master\r\n$9\r\nm 1 2 3 4\r\n',
    ]);
    expect(hub.publish('nobody', 'x')).toBe(1); // a's '*'
    hub.removeSubscriber(a);
    expect(hub.publish('nobody', 'x')).toBe(0);
    expect(hub.channelCount).toBe(0);
    expect(hub.patternCount).toBe(2);
    expect(hub.unsubscribe(b, c('never'))).toBe(false);
    expect(hub.punsubscribe(b, c('+sdown'))).toBe(true);
    expect(hub.patternCount).toBe(1);
  });

  it('is binary safe for channels, patterns and messages', () => {
    const hub = new PubSubHub();
    const s = new FakeSub();
    const channel = Buffer.from([0xff, 0x00, 0x0d, 0x0a]);
    hub.subscribe(s, channel);
    hub.psubscribe(s, Buffer.from([0xff, 0x2a])); // "\xff*"
    expect(hub.publish(channel, Buffer.from([1, 2]))).toBe(2);
    expect(s.got[0]).toBe('*3\r\n$7\r\nmessage\r\n$4\r\n\xff\x00\r\n\r\n$2\r\n\x01\x02\r\n');
  });
});

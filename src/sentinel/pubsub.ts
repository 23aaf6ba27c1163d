/**
 * Pub/Sub for the Sentinel port: channel and pattern subscriptions, and delivery of published
 * messages in the `message` / `pmessage` shapes of Redis (RESP2 arrays, RESP3 pushes).
 *
 * Channel names and patterns are binary strings; they are keyed by their bytes read as latin1, so
 * matching works on bytes exactly as Redis's `stringmatchlen` does.
 */
import { encodeReply, type ProtocolVersion, type Reply } from './resp.js';

/** The bytes of a channel, pattern or message; strings are UTF-8. */
export type Bytes = string | Buffer;

export function toBuffer(b: Bytes): Buffer {
  return typeof b === 'string' ? Buffer.from(b, 'utf8') : b;
}

/** The map key of a channel or pattern: its bytes as a latin1 string. */
export function byteKey(b: Bytes): string {
  return toBuffer(b).toString('latin1');
}

/** A published message, encoded at most once per protocol version however many receive it. */
export class OutgoingMessage {
  private resp2: Buffer | undefined;
  private resp3: Buffer | undefined;

  constructor(readonly items: readonly Reply[]) {}

  encoded(proto: ProtocolVersion): Buffer {
    if (proto === 3) {
      this.resp3 ??= encodeReply({ t: 'push', items: this.items }, 3);
      return this.resp3;
    }
    this.resp2 ??= encodeReply({ t: 'push', items: this.items }, 2);
    return this.resp2;
  }
}

/** A subscriber: in practice a client connection. */
export interface Subscriber {
  /** Subscribed channels, by byteKey, in subscription order. */
  readonly channels: Map<string, Buffer>;
  /** Subscribed patterns, by byteKey, in subscription order. */
  readonly patterns: Map<string, Buffer>;
  deliver(message: OutgoingMessage): void;
}

const MESSAGE: Reply = { t: 'bulk', v: 'message' };
const PMESSAGE: Reply = { t: 'bulk', v: 'pmessage' };

export class PubSubHub {
  private readonly channelSubs = new Map<string, Set<Subscriber>>();
  private readonly patternSubs = new Map<string, { pattern: Buffer; subs: Set<Subscriber> }>();

  /** Channels with at least one subscriber. */
  get channelCount(): number {
    return this.channelSubs.size;
  }

  /** Patterns with at least one subscriber. */
  get patternCount(): number {
    return this.patternSubs.size;
  }

  /** Adds a channel subscription; false when `sub` already had it. */
  subscribe(sub: Subscriber, channel: Buffer): boolean {
    const key = channel.toString('latin1');
    if (sub.channels.has(key)) return false;
    sub.channels.set(key, channel);
    let set = this.channelSubs.get(key);
    if (!set) {
      set = new Set();
      this.channelSubs.set(key, set);
    }
    set.add(sub);
    return true;
  }

  /** Removes a channel subscription; false when `sub` did not have it. */
  unsubscribe(sub: Subscriber, channel: Buffer): boolean {
    const key = channel.toString('latin1');
    if (!sub.channels.delete(key)) return false;
    const set = this.channelSubs.get(key);
    if (set) {
      set.delete(sub);
      if (set.size === 0) this.channelSubs.delete(key);
    }
    return true;
  }

  psubscribe(sub: Subscriber, pattern: Buffer): boolean {
    const key = pattern.toString('latin1');
    if (sub.patterns.has(key)) return false;
    sub.patterns.set(key, pattern);
    let entry = this.patternSubs.get(key);
    if (!entry) {
      entry = { pattern, subs: new Set() };
      this.patternSubs.set(key, entry);
    }
    entry.subs.add(sub);
    return true;
  }

  punsubscribe(sub: Subscriber, pattern: Buffer): boolean {
    const key = pattern.toString('latin1');
    if (!sub.patterns.delete(key)) return false;
    const entry = this.patternSubs.get(key);
    if (entry) {
      entry.subs.delete(sub);
      if (entry.subs.size === 0) this.patternSubs.delete(key);
    }
    return true;
  }

  /** Drops every subscription of `sub` (when its connection closes). */
  removeSubscriber(sub: Subscriber): void {
    for (const channel of [...sub.channels.values()]) this.unsubscribe(sub, channel);
    for (const pattern of [...sub.patterns.values()]) this.punsubscribe(sub, pattern);
  }

  /**
   * Delivers `message` to every subscriber of `channel` (as `message`) and of every pattern that
   * matches it (as `pmessage`, once per matching pattern). Returns the number of deliveries, as
   * Redis's PUBLISH does.
   */
  publish(channel: Bytes, message: Bytes): number {
    const channelBuf = toBuffer(channel);
    const messageBuf = toBuffer(message);
    const key = channelBuf.toString('latin1');
    const channelReply: Reply = { t: 'bulk', v: channelBuf };
    const messageReply: Reply = { t: 'bulk', v: messageBuf };
    let receivers = 0;
    const subs = this.channelSubs.get(key);
    if (subs && subs.size > 0) {
      const out = new OutgoingMessage([MESSAGE, channelReply, messageReply]);
      // Copy: a delivery may disconnect a slow subscriber, which unsubscribes it.
      for (const sub of [...subs]) {
        sub.deliver(out);
        receivers++;
      }
    }
    if (this.patternSubs.size > 0) {
      for (const [patternKey, entry] of [...this.patternSubs]) {
        if (!stringMatch(patternKey, key)) continue;
        const out = new OutgoingMessage([
          PMESSAGE,
          { t: 'bulk', v: entry.pattern },
          channelReply,
          messageReply,
        ]);
        for (const sub of [...entry.subs]) {
          sub.deliver(out);
          receivers++;
        }
      }
    }
    return receivers;
  }
}

function lower(c: number): number {
  return c >= 65 && c <= 90 ? c + 32 : c;
}

/** A byte as C's (signed) `char` on x86, for the range comparisons of `[a-z]`. */
function signed(c: number): number {
  return c > 127 ? c - 256 : c;
}

/**
 * Glob-style matching exactly as Redis's `stringmatchlen` (util.c): `*`, `?`, `[abc]`, `[^abc]`,
 * `[a-z]`, `\x` escapes; both arguments are byte strings (latin1). Bounded work on hostile
 * patterns: nesting is capped at 1000 and a failed `*` stops longer attempts (CVE-2022-36021 fix).
 */
export function stringMatch(pattern: string, str: string, nocase = false): boolean {
  const skip = { longer: false };
  return matchImpl(pattern, 0, str, 0, nocase, skip, 0);
}

function matchImpl(
  pattern: string,
  pStart: number,
  str: string,
  sStart: number,
  nocase: boolean,
  skip: { longer: boolean },
  nesting: number,
): boolean {
  if (nesting > 1000) return false;
  const pLen = pattern.length;
  const sLen = str.length;
  let p = pStart;
  let s = sStart;
  const pc = (i: number): number => (i < pLen ? pattern.charCodeAt(i) : 0);
  while (p < pLen && s < sLen) {
    const c = pattern.charCodeAt(p);
    switch (c) {
      case 42: {
        // '*'
        while (p + 1 < pLen && pattern.charCodeAt(p + 1) === 42) p++;
        if (p + 1 === pLen) return true;
        while (s < sLen) {
          if (matchImpl(pattern, p + 1, str, s, nocase, skip, nesting + 1)) return true;
          if (skip.longer) return false;
          s++;
        }
        skip.longer = true;
        return false;
      }
      case 63: // '?'
        s++;
        break;
      case 91: {
        // '['
        p++;
        const not = pc(p) === 94; // '^'
        if (not) p++;
        let match = false;
        const sc = str.charCodeAt(s);
        for (;;) {
          if (pc(p) === 92 && pLen - p >= 2) {
            p++;
            if (nocase ? lower(pc(p)) === lower(sc) : pc(p) === sc) match = true;
          } else if (pc(p) === 93) {
            // ']'
            break;
          } else if (p >= pLen) {
            p--;
            break;
          } else if (pLen - p >= 3 && pc(p + 1) === 45) {
            // range a-z
            let start = signed(pc(p));
            let end = signed(pc(p + 2));
            let ch = signed(sc);
            if (start > end) [start, end] = [end, start];
            if (nocase) {
              start = lower(start);
              end = lower(end);
              ch = lower(ch);
            }
            p += 2;
            if (ch >= start && ch <= end) match = true;
          } else if (nocase ? lower(pc(p)) === lower(sc) : pc(p) === sc) {
            match = true;
          }
          p++;
        }
        if (not) match = !match;
        if (!match) return false;
        s++;
        break;
      }
      default: {
        // '\\' escapes the next pattern byte
        if (c === 92 && pLen - p >= 2) p++;
        const want = pc(p);
        const got = str.charCodeAt(s);
        if (nocase ? lower(want) !== lower(got) : want !== got) return false;
        s++;
        break;
      }
    }
    p++;
    if (s === sLen) {
      while (p < pLen && pattern.charCodeAt(p) === 42) p++;
      break;
    }
  }
  return p >= pLen && s === sLen;
}

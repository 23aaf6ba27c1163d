/**
 * The ACL rules of the Sentinel port (src/sentinel/acl.ts), against Sentinel 7.0's command table:
 * what ACL SETUSER makes of rules (the descriptions real Sentinel 7.0.15 answers, captured on the
 * wire), Redis's error texts, the permission check behind NOPERM, and ACL LOG's grouping.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ACL_LOG_GROUPING_MS,
  AclCommandIndex,
  AclLog,
  AclRuleError,
  AclUser,
  type AclUserRecord,
  applyAclRules,
  channelsText,
  defaultUserRecord,
  describeUser,
  hashPassword,
  keysText,
  newUserRecord,
  nopermText,
  pubsubRevoked,
  userFlags,
} from '../../../src/sentinel/acl.js';
import { SENTINEL_7_0_COMMANDS } from '../../../src/sentinel/command-catalog.js';

/** Sentinel 7.0's table as the rules see it (what the port builds from its registered commands). */
const INDEX = new AclCommandIndex(
  SENTINEL_7_0_COMMANDS.map((e) => {
    const parent = e.name.includes('|') ? e.name.split('|')[0]! : null;
    return {
      fullName: e.name,
      categories: e.categories,
      parent,
      subcommands:
        parent === null
          ? SENTINEL_7_0_COMMANDS.filter((s) => s.name.startsWith(`${e.name}|`)).map((s) => s.name)
          : [],
      noAuth: e.flags.includes('no_auth'),
    };
  }),
);

const SECRET_HASH = '2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b';

function set(name: string, rules: string[], base?: AclUserRecord): AclUserRecord {
  return applyAclRules(name, base, rules, INDEX);
}

function ruleError(name: string, rules: string[], base?: AclUserRecord): string {
  try {
    set(name, rules, base);
  } catch (err) {
    expect(err).toBeInstanceOf(AclRuleError);
    return (err as Error).message;
  }
  throw new Error('expected an AclRuleError');
}

/** The permission check for `args` (a container's subcommand when it has one), as the port runs it. */
function check(r: AclUserRecord, ...args: string[]) {
  const base = INDEX.get(args[0]!)!;
  const target =
    base.subcommands.length > 0 && args.length > 1 ? INDEX.get(`${base.fullName}|${args[1]}`)! : base;
  return new AclUser(r, INDEX).check(target, args);
}

describe('ACL SETUSER rules (descriptions as Sentinel 7.0.15 gives them)', () => {
  it('a new user is off with no permissions and resetchannels; the default user is on nopass ~* &* +@all', () => {
    expect(describeUser(newUserRecord('u1', INDEX))).toBe('user u1 off resetchannels -@all');
    expect(describeUser(set('u1', []))).toBe('user u1 off resetchannels -@all');
    expect(describeUser(defaultUserRecord(INDEX))).toBe('user default on nopass ~* &* +@all');
    expect(describeUser(defaultUserRecord(INDEX, 'pw'))).toBe(
      `user default on #${hashPassword(Buffer.from('pw'))} ~* &* +@all`,
    );
  });

  it('passwords are SHA-256 hex; > adds, < removes, # and ! by hash; nopass and resetpass', () => {
    const u1 = set('u1', ['>secret', '+@all', 'on']);
    expect(u1.passwords).toEqual([SECRET_HASH]);
    expect(describeUser(u1)).toBe(`user u1 on #${SECRET_HASH} resetchannels +@all`);
    const u2 = set('u2', [
      'on',
      '>p1',
      '>p2',
      '<p1',
      '-@all',
      '+ping',
      '+sentinel|masters',
      '+client|id',
      '-client|id',
      '~*',
      '&*',
    ]);
    expect(describeUser(u2)).toBe(`user u2 on #${hashPassword('p2')} ~* &* -@all +ping +sentinel|masters`);
    expect(set('u9', [`#${SECRET_HASH}`, `!${SECRET_HASH}`]).passwords).toEqual([]);
    expect(set('u', ['>a', '>a']).passwords).toHaveLength(1);
    const nopass = set('u', ['>a', 'nopass']);
    expect(nopass.nopass).toBe(true);
    expect(nopass.passwords).toEqual([]);
    expect(set('u', ['resetpass'], nopass).nopass).toBe(false);
    expect(set('u', ['>b'], nopass).nopass).toBe(false);
  });

  it('commands: containers take their subcommands, categories fit best, first arguments', () => {
    expect(set('u3', ['+sentinel', '-sentinel|set', 'allcommands', 'nocommands']).commands).toBe('-@all');
    // Sentinel 7.0.15 gives the same rules (its own table order for the single commands): the
    // @admin category fits best, then the differences.
    const words = (s: string) => s.split(' ').sort();
    expect(words(set('u', ['+sentinel', '-sentinel|set']).commands)).toEqual(
      words(
        '-@all +@admin -shutdown -client|unpause -client|pause -client|no-evict -client|unblock -client|list -client|kill -sentinel|set -role -acl|users -acl|setuser -acl|getuser -acl|dryrun -acl|deluser -acl|save -acl|list -acl|load -acl|log',
      ),
    );
    expect(set('u', ['+@all', '-@admin', '+sentinel|masters']).commands).toBe(
      '+@all -@admin +sentinel|masters',
    );
    expect(set('u', ['+ping|x']).commands).toBe('-@all +ping|x');
    expect(set('u', ['+ping|x', '+ping']).commands).toBe('-@all +ping');
    expect(set('u', ['+@all', '-ping']).commands).toBe('+@all -ping');
    // Case does not matter for rule words, commands and categories.
    expect(set('u', ['ON', '+PING', '+@PubSub']).commands).toBe('-@all +@pubsub +ping');
  });

  it('keys and channels are kept and shown as Sentinel shows them', () => {
    const u4 = set('u4', ['~foo', '%R~bar', '%W~baz', '%RW~qux', '&chan', 'resetchannels', '&a', '&b']);
    expect(keysText(u4)).toBe('~foo %R~bar %W~baz ~qux');
    expect(channelsText(u4)).toBe('&a &b');
    expect(describeUser(u4)).toBe('user u4 off ~foo %R~bar %W~baz ~qux resetchannels &a &b -@all');
    expect(describeUser(set('u4', ['reset'], u4))).toBe('user u4 off sanitize-payload resetchannels -@all');
    expect(userFlags(set('u8', ['nopass', 'on', 'skip-sanitize-payload']))).toEqual([
      'on',
      'nopass',
      'skip-sanitize-payload',
    ]);
  });

  it("refuses what Redis refuses, with Redis's words, and changes nothing then", () => {
    const err = (op: string, why: string) => `Error in ACL SETUSER modifier '${op}': ${why}`;
    const unknown = 'Unknown command or category name in ACL';
    expect(ruleError('u', ['xyz'])).toBe(err('xyz', 'Syntax error'));
    expect(ruleError('u', ['+foo'])).toBe(err('+foo', unknown));
    expect(ruleError('u', ['+@foo'])).toBe(err('+@foo', unknown));
    expect(ruleError('u', ['+acl|foo'])).toBe(err('+acl|foo', unknown));
    expect(ruleError('u', ['-ping|x'])).toBe(err('-ping|x', unknown));
    expect(ruleError('u', ['+acl|setuser|x'])).toBe(
      err('+acl|setuser|x', 'Allowing first-arg of a subcommand is not supported'),
    );
    expect(ruleError('u', ['+ping|'])).toBe(err('+ping|', 'Syntax error'));
    const badHash =
      'The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters';
    expect(ruleError('u', ['#abc'])).toBe(err('#abc', badHash));
    expect(ruleError('u', ['!abc'])).toBe(err('!abc', badHash));
    expect(ruleError('u', ['<nope'])).toBe(
      err('<nope', 'The password you are trying to remove from the user does not exist'),
    );
    expect(ruleError('u', ['~*', '~foo'])).toMatch(
      /^Error in ACL SETUSER modifier '~foo': Adding a pattern after the \*/,
    );
    expect(ruleError('u', ['&*', '&foo'])).toMatch(/'allchannels' flag\) is not valid/);
    expect(ruleError('u', ['%X~foo'])).toBe(err('%X~foo', 'Syntax error'));
    expect(ruleError('u', ['(~x'])).toBe("Unmatched parenthesis in acl selector starting at '(~x'.");
    // Selectors are the one part of Redis's rules a Sentinel port refuses.
    expect(ruleError('u', ['(~x)'])).toMatch(
      /^Error in ACL SETUSER modifier '\(~x\)': Selectors are not supported/,
    );
    expect(ruleError('u', ['(~x', '+ping)'])).toMatch(/modifier '\(~x \+ping\)'/);
    // All or nothing: a good rule before a bad one is not applied.
    const base = set('u', ['on']);
    expect(() => set('u', ['off', '+foo'], base)).toThrow(AclRuleError);
    expect(base.enabled).toBe(true);
  });

  it('a record compiled again is the same user (the description rebuilds it exactly)', () => {
    const rules = fc.constantFrom(
      '+@all',
      '-@all',
      'allcommands',
      'nocommands',
      ...['admin', 'pubsub', 'connection', 'fast', 'slow', 'dangerous'].flatMap((c) => [`+@${c}`, `-@${c}`]),
      ...SENTINEL_7_0_COMMANDS.flatMap((c) => [`+${c.name}`, `-${c.name}`]),
      '+ping|x',
      '+role|y',
      'on',
      'off',
      '>pw',
      'nopass',
      'resetpass',
      '~*',
      'resetkeys',
      '&*',
      'resetchannels',
      'reset',
    );
    fc.assert(
      fc.property(fc.array(rules, { maxLength: 12 }), (ops) => {
        const once = set('u', ops);
        expect(set('u', [], once)).toEqual(once);
        const a = new AclUser(once, INDEX);
        const b = new AclUser(set('u', [], once), INDEX);
        for (const cmd of INDEX.ordered) {
          const args = cmd.fullName.split('|');
          expect(b.check(cmd, args)).toEqual(a.check(cmd, args));
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('permission checks (NOPERM)', () => {
  it('commands and subcommands, no_auth commands, first arguments', () => {
    const u = set('u', ['on', 'nopass', '-@all', '+ping', '+sentinel|masters', '+role|x']);
    expect(check(u, 'ping')).toBeNull();
    expect(check(u, 'sentinel', 'masters')).toBeNull();
    expect(check(u, 'sentinel', 'set', 'm', 'quorum', '1')).toEqual({ reason: 'command', pos: 0 });
    expect(check(u, 'client', 'id')).toEqual({ reason: 'command', pos: 0 });
    // AUTH and HELLO are no_auth: always allowed.
    expect(check(u, 'auth', 'a', 'b')).toBeNull();
    expect(check(u, 'hello', '3')).toBeNull();
    expect(check(u, 'role', 'X')).toBeNull();
    expect(check(u, 'role')).toEqual({ reason: 'command', pos: 0 });
    expect(nopermText({ reason: 'command', pos: 0 }, 'sentinel|set')).toBe(
      "NOPERM this user has no permissions to run the 'sentinel|set' command",
    );
  });

  it('channels: SUBSCRIBE and PUBLISH match patterns, PSUBSCRIBE must name one literally', () => {
    const u = set('u', ['on', 'nopass', '+@all', 'resetchannels', '&news.*']);
    expect(check(u, 'subscribe', 'news.a', 'news.b')).toBeNull();
    expect(check(u, 'subscribe', 'news.a', 'other')).toEqual({ reason: 'channel', pos: 2 });
    expect(check(u, 'publish', 'other', 'x')).toEqual({ reason: 'channel', pos: 1 });
    expect(check(u, 'psubscribe', 'news.*')).toBeNull();
    expect(check(u, 'psubscribe', 'news.a*')).toEqual({ reason: 'channel', pos: 1 });
    expect(check(u, 'unsubscribe', 'other')).toBeNull();
    // A new user has no channels (Redis 7.0's acl-pubsub-default resetchannels).
    expect(check(set('n', ['on', '+@all']), 'subscribe', '+switch-master')).toEqual({
      reason: 'channel',
      pos: 1,
    });
    expect(nopermText({ reason: 'channel', pos: 1 }, 'subscribe')).toBe(
      'NOPERM this user has no permissions to access one of the channels used as arguments',
    );
  });

  it('passwords: enabled users only; nopass opens with anything', () => {
    const u = new AclUser(set('u', ['on', '>secret']), INDEX);
    expect(u.checkPassword(Buffer.from('secret'))).toBe(true);
    expect(u.checkPassword(Buffer.from('nope'))).toBe(false);
    expect(new AclUser(set('u', ['off', '>secret']), INDEX).checkPassword(Buffer.from('secret'))).toBe(false);
    expect(new AclUser(set('u', ['on', 'nopass']), INDEX).checkPassword(Buffer.from('x'))).toBe(true);
  });

  it('a subscriber loses its connection when a channel it listens to is revoked', () => {
    const after = new AclUser(set('u', ['on', 'resetchannels', '&a*']), INDEX);
    expect(pubsubRevoked(after, ['ab'], [])).toBe(false);
    expect(pubsubRevoked(after, ['b'], [])).toBe(true);
    expect(pubsubRevoked(after, [], ['a*'])).toBe(false);
    expect(pubsubRevoked(after, [], ['ab*'])).toBe(true);
    expect(pubsubRevoked(new AclUser(set('u', ['&*']), INDEX), ['x'], ['y*'])).toBe(false);
  });
});

describe('ACL LOG', () => {
  const entry = (atMs: number, object = 'sentinel|set', username = 'u') => ({
    reason: 'command' as const,
    object,
    username,
    atMs,
    clientInfo: 'id=1',
  });

  it('groups the same denial within a minute, newest first, and keeps at most its limit', () => {
    const log = new AclLog(3);
    log.add(entry(0));
    log.add(entry(1000));
    expect(log.list(10)).toEqual([expect.objectContaining({ count: 2, atMs: 1000, context: 'toplevel' })]);
    log.add(entry(1000 + ACL_LOG_GROUPING_MS + 1));
    expect(log.size).toBe(2);
    log.add(entry(0, 'ping'));
    log.add(entry(0, 'role'));
    expect(log.size).toBe(3);
    expect(log.list(10).map((e) => e.object)).toEqual(['role', 'ping', 'sentinel|set']);
    expect(log.list(1)).toHaveLength(1);
    log.reset();
    expect(log.size).toBe(0);
  });
});

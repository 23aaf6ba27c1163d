/**
 * ACL users in the replicated state (ClusterState): a put is a compare-and-set on the users'
 * revision, so two daemons computing changes from the same users cannot lose one; deletes are
 * idempotent; snapshots carry the users, and snapshots written before users existed still restore.
 */
import { describe, expect, it } from 'vitest';
import { type Command, decodeCommand, encodeCommand } from '../../../src/cluster/commands.js';
import { ClusterState, type StateChange } from '../../../src/cluster/state.js';
import { EMPTY_MEMBERSHIP } from '../../../src/raft/membership.js';
import type { AclUserRecord } from '../../../src/sentinel/acl.js';

let index = 0;
function apply(state: ClusterState, cmd: Command) {
  index++;
  return state.apply({ index, term: 1, type: 'normal', data: encodeCommand(cmd) });
}

function user(name: string, extra: Partial<AclUserRecord> = {}): AclUserRecord {
  return {
    name,
    enabled: true,
    nopass: false,
    passwords: ['2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b'],
    commands: '+@all',
    allKeys: false,
    keys: [],
    allChannels: false,
    channels: [],
    ...extra,
  };
}

describe('ACL users in ClusterState', () => {
  it('put is a compare-and-set on the revision; delete is idempotent; every change is an event', () => {
    const state = new ClusterState();
    const changes: StateChange[] = [];
    state.onChange((c) => changes.push(c));
    expect(apply(state, { t: 'acl.user.put', user: user('a'), revision: 0 })).toEqual({ ok: true, value: 1 });
    // Computed from revision 0 too, by another daemon: refused, the users are unchanged.
    const stale = apply(state, { t: 'acl.user.put', user: user('b'), revision: 0 });
    expect(stale.ok).toBe(false);
    expect(state.aclUsers.has('b')).toBe(false);
    expect(apply(state, { t: 'acl.user.put', user: user('b'), revision: 1 })).toEqual({ ok: true, value: 2 });
    expect(apply(state, { t: 'acl.user.delete', name: 'a' })).toEqual({ ok: true, value: true });
    expect(apply(state, { t: 'acl.user.delete', name: 'a' })).toEqual({ ok: true, value: false });
    expect(state.aclRevision).toBe(3);
    expect([...state.aclUsers.keys()]).toEqual(['b']);
    expect(changes).toEqual([
      { type: 'acl', name: 'a', deleted: false },
      { type: 'acl', name: 'b', deleted: false },
      { type: 'acl', name: 'a', deleted: true },
    ]);
  });

  it('a record with a clear-text password, or a malformed hash, does not decode', () => {
    const bad = (u: unknown) => () =>
      decodeCommand(
        new TextEncoder().encode(JSON.stringify({ v: 1, t: 'acl.user.put', user: u, revision: 0 })),
      );
    expect(bad({ ...user('a'), passwords: ['secret'] })).toThrow(/passwords/);
    expect(bad({ ...user('a'), password: 'secret' })).toThrow();
  });

  it('snapshots carry the users and their revision', () => {
    const state = new ClusterState();
    apply(state, { t: 'acl.user.put', user: user('a', { channels: ['x*'] }), revision: 0 });
    const restored = new ClusterState();
    const events: StateChange[] = [];
    restored.onChange((c) => events.push(c));
    restored.restore(state.snapshot(), { index: 10, term: 1, membership: EMPTY_MEMBERSHIP });
    expect(restored.aclUsers.get('a')).toEqual(state.aclUsers.get('a'));
    expect(restored.aclRevision).toBe(1);
    expect(events).toEqual([{ type: 'restored' }]);
  });

  it('a snapshot from before ACL users (version 2) restores with none', () => {
    const old = { version: 2, memberInfo: [], jobs: [], shards: [] };
    const state = new ClusterState();
    apply(state, { t: 'acl.user.put', user: user('a'), revision: 0 });
    state.restore(new TextEncoder().encode(JSON.stringify(old)), {
      index: 10,
      term: 1,
      membership: EMPTY_MEMBERSHIP,
    });
    expect(state.aclUsers.size).toBe(0);
    expect(state.aclRevision).toBe(0);
    expect(JSON.parse(new TextDecoder().decode(state.snapshot())).version).toBe(3);
  });
});

/**
 * Membership rules: what a configuration change may do, and how config entries are encoded.
 * Pure functions; the core decides when a change may be proposed, this module decides whether it
 * is valid at all.
 */
import {
  type ConfigChange,
  type ConfigChangeRecord,
  type Member,
  type MemberRole,
  type Membership,
  type NodeId,
  RaftError,
} from './types.js';

export const EMPTY_MEMBERSHIP: Membership = Object.freeze({ members: [], removed: [] }) as Membership;

const ROLES: readonly MemberRole[] = ['voter', 'learner', 'witness'];

/** Voters and witnesses: the members that vote and count for commit. */
export function isVotingRole(role: MemberRole): boolean {
  return role === 'voter' || role === 'witness';
}

export function votersOf(m: Membership): NodeId[] {
  return m.members.filter((x) => isVotingRole(x.role)).map((x) => x.id);
}

export function findMember(m: Membership, id: NodeId): Member | undefined {
  return m.members.find((x) => x.id === id);
}

export function isVoter(m: Membership, id: NodeId): boolean {
  const member = findMember(m, id);
  return member !== undefined && isVotingRole(member.role);
}

function sorted(members: Member[]): Member[] {
  return [...members].sort((a, b) => a.id - b.id);
}

/** The membership after `change`, or a RaftError saying why the change is not allowed. */
export function applyConfigChange(current: Membership, change: ConfigChange): Membership {
  const existing = findMember(current, change.id);
  if (!Number.isInteger(change.id) || change.id <= 0) {
    throw new RaftError('invalid_request', `member id must be a positive integer, got ${change.id}`);
  }
  switch (change.type) {
    case 'add': {
      if (existing)
        throw new RaftError('member_exists', `node ${change.id} is already a member (${existing.role})`);
      if (current.removed.includes(change.id)) {
        throw new RaftError(
          'id_removed',
          `node id ${change.id} was removed from this group and can never be reused`,
        );
      }
      if (!ROLES.includes(change.role))
        throw new RaftError('invalid_request', `unknown member role "${change.role}"`);
      if (typeof change.addr !== 'string' || change.addr.length === 0) {
        throw new RaftError('invalid_request', `node ${change.id} needs a Raft address`);
      }
      return {
        members: sorted([...current.members, { id: change.id, role: change.role, addr: change.addr }]),
        removed: current.removed,
      };
    }
    case 'remove': {
      if (!existing) throw new RaftError('unknown_member', `node ${change.id} is not a member`);
      const members = current.members.filter((x) => x.id !== change.id);
      if (isVotingRole(existing.role) && !members.some((x) => isVotingRole(x.role))) {
        throw new RaftError('invalid_request', `cannot remove node ${change.id}: it is the last voter`);
      }
      return { members, removed: [...current.removed, change.id].sort((a, b) => a - b) };
    }
    case 'set_role': {
      if (!existing) throw new RaftError('unknown_member', `node ${change.id} is not a member`);
      if (!ROLES.includes(change.role))
        throw new RaftError('invalid_request', `unknown member role "${change.role}"`);
      if (existing.role === change.role) {
        throw new RaftError('invalid_request', `node ${change.id} is already a ${change.role}`);
      }
      const members = current.members.map((x) => (x.id === change.id ? { ...x, role: change.role } : x));
      if (!members.some((x) => isVotingRole(x.role))) {
        throw new RaftError(
          'invalid_request',
          `cannot make node ${change.id} a ${change.role}: it is the last voter`,
        );
      }
      return { members, removed: current.removed };
    }
    case 'set_addr': {
      if (!existing) throw new RaftError('unknown_member', `node ${change.id} is not a member`);
      if (typeof change.addr !== 'string' || change.addr.length === 0) {
        throw new RaftError('invalid_request', `node ${change.id} needs a Raft address`);
      }
      return {
        members: current.members.map((x) => (x.id === change.id ? { ...x, addr: change.addr } : x)),
        removed: current.removed,
      };
    }
    default:
      throw new RaftError('invalid_request', `unknown config change ${JSON.stringify(change)}`);
  }
}

/** A membership made of exactly the given voters: for bootstrapping a new group. */
export function initialMembership(members: Member[]): Membership {
  return { members: sorted(members), removed: [] };
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encodeConfigRecord(record: ConfigChangeRecord): Uint8Array {
  return encoder.encode(JSON.stringify(record));
}

export function decodeConfigRecord(data: Uint8Array): ConfigChangeRecord {
  const parsed = JSON.parse(decoder.decode(data)) as ConfigChangeRecord;
  if (!parsed || !Array.isArray(parsed.membership?.members) || !Array.isArray(parsed.membership?.removed)) {
    throw new Error('malformed config entry');
  }
  return parsed;
}

export function sameMembership(a: Membership, b: Membership): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * Conversion between our Raft `Message` objects (src/raft/types.ts) and the plain objects
 * proto-loader produces for `raftinel.v1.RaftMessage`, in both directions.
 *
 * Inbound data is untrusted: `decodeMessage` checks every field's type and range and throws a
 * `CodecError` naming the field (e.g. `append.entries[3].term`). `encodeMessage` applies the same
 * checks to outbound messages, so a bug in the core is caught at the sender rather than silently
 * mangled by protobufjs (which, for instance, encodes a negative uint64 as 0).
 *
 * One table (`VARIANTS`) lists every variant's fields, TS name next to proto name, so the two
 * directions cannot drift apart. The oneof case names equal the TS `type` strings.
 */
import type {
  Entry,
  EntryType,
  Member,
  MemberRole,
  Membership,
  Message,
  MessageType,
  SnapshotMeta,
} from '../types.js';
import {
  type PbEntry,
  type PbMember,
  type PbMembership,
  type PbRaftMessage,
  type PbSnapshotMeta,
  PROTO_ENTRY_TYPE,
  PROTO_MEMBER_ROLE,
} from './proto.js';

/** Thrown for a message that fails validation; `field` is the dotted path of the culprit. */
export class CodecError extends Error {
  constructor(
    readonly field: string,
    detail: string,
  ) {
    super(`invalid RaftMessage: ${field}: ${detail}`);
    this.name = 'CodecError';
  }
}

/** Caps on variable-size parts of a message (the byte size is capped separately by gRPC). */
export interface CodecLimits {
  /**
   * Entries in one 'append'. The default admits a 6 MiB batch at the core's 24-byte-per-entry
   * accounting (src/raft/log.ts); keep the core's maxAppendBytes / 24 below it.
   */
  maxEntries: number;
  /** Members in one membership. */
  maxMembers: number;
  /** Ids in `membership.removed`. */
  maxRemoved: number;
  /** UTF-16 length of a string field (member addr, read ctx). */
  maxStringLength: number;
}

export const DEFAULT_CODEC_LIMITS: Readonly<CodecLimits> = Object.freeze({
  maxEntries: 262_144,
  maxMembers: 1_024,
  maxRemoved: 65_536,
  maxStringLength: 4_096,
});

// ---------------------------------------------------------------------------------------------
// The schema

/**
 * id: a node id (positive safe integer). u64: a non-negative safe integer (index, term, offset,
 * seq). index: a safe integer >= -1 (read_index_resp.index, -1 = failed). u64?: an optional
 * non-negative safe integer, added to a message after its first version: 0 on the wire means
 * absent (what an older peer sends and what proto3 decodes a missing field as), so it is encoded
 * from undefined as 0 and decoded from 0 as absent.
 */
type Kind = 'id' | 'u64' | 'u64?' | 'index' | 'bool' | 'string' | 'bytes' | 'entries' | 'meta';

type VariantOf<T extends MessageType> = Extract<Message, { type: T }>;
type FieldSpec<T extends MessageType> = readonly [
  ts: Exclude<keyof VariantOf<T>, 'type'>,
  pb: string,
  kind: Kind,
];
type Schema = { readonly [T in MessageType]: readonly FieldSpec<T>[] };

const HEADER = [
  ['from', 'from', 'id'],
  ['to', 'to', 'id'],
  ['term', 'term', 'u64'],
] as const;

const VOTE_REQUEST = [
  ...HEADER,
  ['lastLogIndex', 'last_log_index', 'u64'],
  ['lastLogTerm', 'last_log_term', 'u64'],
  ['transfer', 'transfer', 'bool'],
] as const;

const VOTE_RESPONSE = [...HEADER, ['granted', 'granted', 'bool']] as const;

const VARIANTS: Schema = {
  prevote: VOTE_REQUEST,
  vote: VOTE_REQUEST,
  prevote_resp: VOTE_RESPONSE,
  vote_resp: VOTE_RESPONSE,
  append: [
    ...HEADER,
    ['prevIndex', 'prev_index', 'u64'],
    ['prevTerm', 'prev_term', 'u64'],
    ['entries', 'entries', 'entries'],
    ['commit', 'commit', 'u64'],
    ['seq', 'seq', 'u64'],
    ['leaseTicks', 'lease_ticks', 'u64?'],
    ['leaseEchoTick', 'lease_echo_tick', 'u64?'],
    ['leaseEchoIncarnation', 'lease_echo_incarnation', 'u64?'],
  ],
  append_resp: [
    ...HEADER,
    ['success', 'success', 'bool'],
    ['matchIndex', 'match_index', 'u64'],
    ['rejectIndex', 'reject_index', 'u64'],
    ['hintIndex', 'hint_index', 'u64'],
    ['hintTerm', 'hint_term', 'u64'],
    ['seq', 'seq', 'u64'],
    ['tick', 'tick', 'u64?'],
    ['incarnation', 'incarnation', 'u64?'],
  ],
  snapshot: [
    ...HEADER,
    ['meta', 'meta', 'meta'],
    ['offset', 'offset', 'u64'],
    ['data', 'data', 'bytes'],
    ['totalBytes', 'total_bytes', 'u64'],
    ['done', 'done', 'bool'],
    ['seq', 'seq', 'u64'],
  ],
  snapshot_resp: [
    ...HEADER,
    ['snapshotIndex', 'snapshot_index', 'u64'],
    ['nextOffset', 'next_offset', 'u64'],
    ['done', 'done', 'bool'],
    ['matchIndex', 'match_index', 'u64'],
    ['seq', 'seq', 'u64'],
  ],
  timeout_now: [...HEADER, ['seq', 'seq', 'u64?'], ['incarnation', 'incarnation', 'u64?']],
  read_index: [...HEADER, ['ctx', 'ctx', 'string']],
  read_index_resp: [...HEADER, ['ctx', 'ctx', 'string'], ['index', 'index', 'index']],
};

/** Every message type, in proto oneof order. */
export const MESSAGE_TYPES: readonly MessageType[] = Object.freeze(Object.keys(VARIANTS) as MessageType[]);

const LONE_SURROGATE = /\p{Cs}/u;
const ENTRY_TYPE_BY_NUMBER = invert(PROTO_ENTRY_TYPE);
const MEMBER_ROLE_BY_NUMBER = invert(PROTO_MEMBER_ROLE);

// ---------------------------------------------------------------------------------------------
// Public API

/** TS message → proto-loader object. Throws `CodecError` when the message is malformed. */
export function encodeMessage(message: Message, limits: CodecLimits = DEFAULT_CODEC_LIMITS): PbRaftMessage {
  const msg = record(message, 'message');
  const type = msg.type;
  if (typeof type !== 'string' || !Object.hasOwn(VARIANTS, type)) {
    throw new CodecError('message.type', `unknown message type ${describe(type)}`);
  }
  const variant = type as MessageType;
  const body: Record<string, unknown> = {};
  for (const [ts, pb, kind] of VARIANTS[variant] as readonly FieldSpec<MessageType>[]) {
    body[pb] = convert(msg[ts], `${variant}.${String(ts)}`, kind, limits, 'encode');
  }
  checkSnapshotBounds(variant, body.offset, body.data, body.total_bytes);
  return { msg: variant, [variant]: body };
}

/**
 * proto-loader object (or any untrusted value) → TS message. Throws `CodecError` naming the field
 * for anything that does not match the schema exactly.
 */
export function decodeMessage(input: unknown, limits: CodecLimits = DEFAULT_CODEC_LIMITS): Message {
  const root = record(input, 'RaftMessage');
  let variant: unknown = root.msg;
  if (variant === undefined || variant === null) {
    const present = Object.keys(root).filter((k) => root[k] !== undefined && root[k] !== null);
    if (present.length !== 1) {
      throw new CodecError(
        'RaftMessage.msg',
        present.length === 0 ? 'no message variant set' : `several variants set: ${present.join(', ')}`,
      );
    }
    variant = present[0];
  }
  if (typeof variant !== 'string' || !Object.hasOwn(VARIANTS, variant)) {
    throw new CodecError('RaftMessage.msg', `unknown message variant ${describe(variant)}`);
  }
  const type = variant as MessageType;
  const body = record(root[type], type);
  const out: Record<string, unknown> = { type };
  for (const [ts, pb, kind] of VARIANTS[type] as readonly FieldSpec<MessageType>[]) {
    const v = convert(body[pb], `${type}.${pb}`, kind, limits, 'decode');
    if (v !== undefined) out[ts] = v;
  }
  checkSnapshotBounds(type, out.offset, out.data, out.totalBytes);
  return out as unknown as Message;
}

// ---------------------------------------------------------------------------------------------
// Field conversion (shared by both directions; `dir` only picks enum and name mappings)

type Direction = 'encode' | 'decode';

function convert(value: unknown, path: string, kind: Kind, limits: CodecLimits, dir: Direction): unknown {
  switch (kind) {
    case 'id':
      return nodeId(value, path);
    case 'u64':
      return uint(value, path);
    case 'u64?':
      if (dir === 'encode') return value === undefined ? 0 : uint(value, path);
      return value === undefined || value === 0 ? undefined : uint(value, path);
    case 'index':
      if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < -1) {
        throw new CodecError(path, `expected a safe integer >= -1, got ${describe(value)}`);
      }
      return value;
    case 'bool':
      if (typeof value !== 'boolean')
        throw new CodecError(path, `expected a boolean, got ${describe(value)}`);
      return value;
    case 'string':
      return str(value, path, limits);
    case 'bytes':
      return bytes(value, path);
    case 'entries':
      return entries(value, path, limits, dir);
    case 'meta':
      return dir === 'encode' ? encodeMeta(value, path, limits) : decodeMeta(value, path, limits);
  }
}

function entries(value: unknown, path: string, limits: CodecLimits, dir: Direction): Entry[] | PbEntry[] {
  const list = array(value, path, limits.maxEntries);
  return list.map((item, i) => {
    const p = `${path}[${i}]`;
    const e = record(item, p);
    const index = uint(e.index, `${p}.index`);
    const term = uint(e.term, `${p}.term`);
    const data = bytes(e.data, `${p}.data`);
    if (dir === 'encode') {
      const t = e.type;
      if (typeof t !== 'string' || !Object.hasOwn(PROTO_ENTRY_TYPE, t)) {
        throw new CodecError(`${p}.type`, `unknown entry type ${describe(t)}`);
      }
      return { index, term, type: PROTO_ENTRY_TYPE[t as EntryType], data } satisfies PbEntry;
    }
    const type = ENTRY_TYPE_BY_NUMBER.get(e.type as number);
    if (type === undefined) throw new CodecError(`${p}.type`, `unknown entry type ${describe(e.type)}`);
    return { index, term, type, data } satisfies Entry;
  }) as Entry[] | PbEntry[];
}

function encodeMeta(value: unknown, path: string, limits: CodecLimits): PbSnapshotMeta {
  const meta = record(value, path);
  const membership = record(meta.membership, `${path}.membership`);
  return {
    index: uint(meta.index, `${path}.index`),
    term: uint(meta.term, `${path}.term`),
    membership: {
      members: array(membership.members, `${path}.membership.members`, limits.maxMembers).map((item, i) => {
        const p = `${path}.membership.members[${i}]`;
        const m = record(item, p);
        const role = m.role;
        if (typeof role !== 'string' || !Object.hasOwn(PROTO_MEMBER_ROLE, role)) {
          throw new CodecError(`${p}.role`, `unknown member role ${describe(role)}`);
        }
        return {
          id: nodeId(m.id, `${p}.id`),
          role: PROTO_MEMBER_ROLE[role as MemberRole],
          addr: str(m.addr, `${p}.addr`, limits),
        } satisfies PbMember;
      }),
      removed: removedIds(membership.removed, `${path}.membership.removed`, limits),
    } satisfies PbMembership,
  };
}

function decodeMeta(value: unknown, path: string, limits: CodecLimits): SnapshotMeta {
  const meta = record(value, path);
  const membership = record(meta.membership, `${path}.membership`);
  const result: Membership = {
    members: array(membership.members, `${path}.membership.members`, limits.maxMembers).map((item, i) => {
      const p = `${path}.membership.members[${i}]`;
      const m = record(item, p);
      const role = MEMBER_ROLE_BY_NUMBER.get(m.role as number);
      if (role === undefined) throw new CodecError(`${p}.role`, `unknown member role ${describe(m.role)}`);
      return { id: nodeId(m.id, `${p}.id`), role, addr: str(m.addr, `${p}.addr`, limits) } satisfies Member;
    }),
    removed: removedIds(membership.removed, `${path}.membership.removed`, limits),
  };
  return {
    index: uint(meta.index, `${path}.index`),
    term: uint(meta.term, `${path}.term`),
    membership: result,
  };
}

function removedIds(value: unknown, path: string, limits: CodecLimits): number[] {
  return array(value, path, limits.maxRemoved).map((id, i) => nodeId(id, `${path}[${i}]`));
}

function checkSnapshotBounds(type: MessageType, offset: unknown, data: unknown, total: unknown): void {
  if (type !== 'snapshot') return;
  const o = offset as number;
  const t = total as number;
  const len = (data as Uint8Array).byteLength;
  if (o + len > t) {
    throw new CodecError('snapshot.offset', `offset ${o} + data length ${len} exceeds total_bytes ${t}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Primitive checks

function record(value: unknown, path: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value) || value instanceof Uint8Array) {
    throw new CodecError(path, `expected an object, got ${describe(value)}`);
  }
  return value as Record<string, unknown>;
}

function array(value: unknown, path: string, max: number): unknown[] {
  if (!Array.isArray(value)) throw new CodecError(path, `expected an array, got ${describe(value)}`);
  if (value.length > max) throw new CodecError(path, `too many items: ${value.length} > limit ${max}`);
  return value;
}

function uint(value: unknown, path: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new CodecError(path, `expected a non-negative safe integer, got ${describe(value)}`);
  }
  return value;
}

function nodeId(value: unknown, path: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
    throw new CodecError(path, `expected a node id (positive safe integer), got ${describe(value)}`);
  }
  return value;
}

function str(value: unknown, path: string, limits: CodecLimits): string {
  if (typeof value !== 'string') throw new CodecError(path, `expected a string, got ${describe(value)}`);
  if (value.length > limits.maxStringLength) {
    throw new CodecError(path, `string too long: ${value.length} > limit ${limits.maxStringLength}`);
  }
  // A lone surrogate cannot be encoded as UTF-8: it would not survive the round trip.
  if (LONE_SURROGATE.test(value))
    throw new CodecError(path, 'string is not well-formed Unicode (lone surrogate)');
  return value;
}

/** Buffer or Uint8Array → a plain Uint8Array view of the same bytes (no copy). */
function bytes(value: unknown, path: string): Uint8Array {
  if (!(value instanceof Uint8Array)) throw new CodecError(path, `expected bytes, got ${describe(value)}`);
  return value.constructor === Uint8Array
    ? value
    : new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined (missing)';
  if (Array.isArray(value)) return `array(${value.length})`;
  if (value instanceof Uint8Array) return `bytes(${value.byteLength})`;
  switch (typeof value) {
    case 'number':
      return `number ${value}`;
    case 'string':
      return `string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)}`;
    case 'bigint':
      return `bigint ${value}`;
    case 'boolean':
      return `boolean ${value}`;
    default:
      return typeof value;
  }
}

function invert<K extends string>(map: Readonly<Record<K, number>>): Map<number, K> {
  return new Map(Object.entries(map).map(([k, v]) => [v as number, k as K]));
}

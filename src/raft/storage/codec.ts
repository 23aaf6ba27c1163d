/**
 * Pure encoders and decoders for the on-disk formats of FileStorage: log frames and snapshot
 * files. No I/O here, so both can be property-tested without a disk.
 *
 * Log frame (one per persisted batch):
 *
 *   [u32 LE payloadLength][u32 LE crc32(payload)][u32 LE crc32(header bytes 0..8)] payload
 *
 * Payload: [u8 formatVersion = 1] then items, each [u8 tag] + body, in this tag order:
 *   1 segment start  prevIndex u64, prevTerm u64     (at most once; first frame of a segment)
 *   2 reset          index u64, term u64             (at most once; a received snapshot)
 *   3 entry          index u64, term u64, type u8, dataLength u32, data   (any number)
 *   4 hard state     term u64, vote u64, commit u64  (at most once)
 * u64 = [u32 LE low][u32 LE high]; only integers in 0..2^53-1 are accepted either way.
 *
 * Snapshot file:
 *
 *   [8 magic "RTNLSNAP"][u32 version = 1][u32 metaLength][u64 dataLength]
 *   [u32 crc32(meta)][u32 crc32(data)][u32 crc32(header bytes 0..32)] meta (JSON) data
 */
import { crc32 } from 'node:zlib';
import type {
  Entry,
  EntryType,
  HardState,
  Member,
  MemberRole,
  Membership,
  Snapshot,
  SnapshotMeta,
} from '../types.js';

export const FRAME_HEADER_BYTES = 12;
export const LOG_FORMAT_VERSION = 1;

const TAG_SEGMENT_START = 1;
const TAG_RESET = 2;
const TAG_ENTRY = 3;
const TAG_HARD_STATE = 4;

const SEGMENT_START_BYTES = 1 + 8 + 8;
const RESET_BYTES = 1 + 8 + 8;
const ENTRY_OVERHEAD_BYTES = 1 + 8 + 8 + 1 + 4;
const HARD_STATE_BYTES = 1 + 8 + 8 + 8;

const TWO_POW_32 = 0x1_0000_0000;
/** Largest high word of a safe integer (2^53 - 1 = 0x1fffff * 2^32 + 0xffffffff). */
const MAX_SAFE_HIGH_WORD = 0x1f_ffff;
const MAX_U32 = 0xffff_ffff;

const ENTRY_TYPES: readonly EntryType[] = ['normal', 'noop', 'config'];
const ENTRY_TYPE_CODES: Record<EntryType, number> = { normal: 0, noop: 1, config: 2 };

/** The content of one log frame. Replay applies it in field order. */
export interface LogRecord {
  /** The log's last (index, term) when this segment was started; only in a segment's first frame. */
  segmentStart: { prevIndex: number; prevTerm: number } | null;
  /** Clear every entry and make (index, term) the log's base: a received snapshot was installed. */
  reset: { index: number; term: number } | null;
  /** Each entry truncates the log to index - 1, then is appended. */
  entries: Entry[];
  hardState: HardState | null;
}

/** A frame or snapshot that cannot be decoded. `offset` is relative to the decoded buffer. */
export class CodecError extends Error {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(message);
    this.name = 'CodecError';
  }
}

// ---------------------------------------------------------------------------------------------
// Numbers

function checkU64(value: number, what: string): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new CodecError(`${what} must be an integer in 0..2^53-1, got ${value}`, 0);
  }
}

function writeU64(buf: Buffer, offset: number, value: number): void {
  buf.writeUInt32LE(value % TWO_POW_32, offset);
  buf.writeUInt32LE(Math.floor(value / TWO_POW_32), offset + 4);
}

function readU64(buf: Buffer, offset: number): number {
  const high = buf.readUInt32LE(offset + 4);
  if (high > MAX_SAFE_HIGH_WORD) throw new CodecError('integer above 2^53-1', offset);
  return high * TWO_POW_32 + buf.readUInt32LE(offset);
}

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

// ---------------------------------------------------------------------------------------------
// Log frames

/** The encoded size of a record's frame, header included. */
export function frameBytes(record: LogRecord): number {
  let payloadBytes = 1;
  if (record.segmentStart) payloadBytes += SEGMENT_START_BYTES;
  if (record.reset) payloadBytes += RESET_BYTES;
  for (const entry of record.entries) payloadBytes += ENTRY_OVERHEAD_BYTES + entry.data.byteLength;
  if (record.hardState) payloadBytes += HARD_STATE_BYTES;
  return FRAME_HEADER_BYTES + payloadBytes;
}

/** Encode one record as one frame. Throws CodecError for numbers outside 0..2^53-1. */
export function encodeFrame(record: LogRecord): Buffer {
  const totalBytes = frameBytes(record);
  const payloadBytes = totalBytes - FRAME_HEADER_BYTES;
  if (payloadBytes > MAX_U32) throw new CodecError(`frame payload of ${payloadBytes} bytes is too large`, 0);
  const buf = Buffer.allocUnsafe(totalBytes);
  let pos = FRAME_HEADER_BYTES;
  buf[pos++] = LOG_FORMAT_VERSION;
  if (record.segmentStart) {
    const { prevIndex, prevTerm } = record.segmentStart;
    checkU64(prevIndex, 'segment start index');
    checkU64(prevTerm, 'segment start term');
    buf[pos] = TAG_SEGMENT_START;
    writeU64(buf, pos + 1, prevIndex);
    writeU64(buf, pos + 9, prevTerm);
    pos += SEGMENT_START_BYTES;
  }
  if (record.reset) {
    checkU64(record.reset.index, 'reset index');
    checkU64(record.reset.term, 'reset term');
    buf[pos] = TAG_RESET;
    writeU64(buf, pos + 1, record.reset.index);
    writeU64(buf, pos + 9, record.reset.term);
    pos += RESET_BYTES;
  }
  for (const entry of record.entries) {
    checkU64(entry.index, 'entry index');
    checkU64(entry.term, 'entry term');
    const typeCode = ENTRY_TYPE_CODES[entry.type];
    if (typeCode === undefined) throw new CodecError(`unknown entry type ${String(entry.type)}`, 0);
    buf[pos] = TAG_ENTRY;
    writeU64(buf, pos + 1, entry.index);
    writeU64(buf, pos + 9, entry.term);
    buf[pos + 17] = typeCode;
    buf.writeUInt32LE(entry.data.byteLength, pos + 18);
    buf.set(entry.data, pos + ENTRY_OVERHEAD_BYTES);
    pos += ENTRY_OVERHEAD_BYTES + entry.data.byteLength;
  }
  if (record.hardState) {
    const { term, vote, commit } = record.hardState;
    checkU64(term, 'hard state term');
    checkU64(vote, 'hard state vote');
    checkU64(commit, 'hard state commit');
    buf[pos] = TAG_HARD_STATE;
    writeU64(buf, pos + 1, term);
    writeU64(buf, pos + 9, vote);
    writeU64(buf, pos + 17, commit);
    pos += HARD_STATE_BYTES;
  }
  buf.writeUInt32LE(payloadBytes, 0);
  buf.writeUInt32LE(crc32(buf.subarray(FRAME_HEADER_BYTES)), 4);
  buf.writeUInt32LE(crc32(buf.subarray(0, 8)), 8);
  return buf;
}

/**
 * Decode a frame's payload (checksums already verified). Entry data are views into `payload`.
 * Throws CodecError (offset relative to the payload) when it is malformed.
 */
export function decodePayload(payload: Buffer): LogRecord {
  if (payload.length < 1) throw new CodecError('empty payload', 0);
  if (payload[0] !== LOG_FORMAT_VERSION) {
    throw new CodecError(`unsupported log format version ${payload[0]}`, 0);
  }
  const record: LogRecord = { segmentStart: null, reset: null, entries: [], hardState: null };
  let pos = 1;
  let lastTag = 0;
  const need = (bytes: number, what: string): void => {
    if (pos + bytes > payload.length) throw new CodecError(`truncated ${what}`, pos);
  };
  while (pos < payload.length) {
    const tag = payload[pos]!;
    if (tag < lastTag || (tag === lastTag && tag !== TAG_ENTRY)) {
      throw new CodecError(`item tag ${tag} out of order`, pos);
    }
    lastTag = tag;
    switch (tag) {
      case TAG_SEGMENT_START:
        need(SEGMENT_START_BYTES, 'segment start');
        record.segmentStart = { prevIndex: readU64(payload, pos + 1), prevTerm: readU64(payload, pos + 9) };
        pos += SEGMENT_START_BYTES;
        break;
      case TAG_RESET:
        need(RESET_BYTES, 'reset');
        record.reset = { index: readU64(payload, pos + 1), term: readU64(payload, pos + 9) };
        pos += RESET_BYTES;
        break;
      case TAG_ENTRY: {
        need(ENTRY_OVERHEAD_BYTES, 'entry');
        const type = ENTRY_TYPES[payload[pos + 17]!];
        if (type === undefined) throw new CodecError(`unknown entry type code ${payload[pos + 17]}`, pos);
        const dataBytes = payload.readUInt32LE(pos + 18);
        need(ENTRY_OVERHEAD_BYTES + dataBytes, 'entry data');
        const dataStart = pos + ENTRY_OVERHEAD_BYTES;
        record.entries.push({
          index: readU64(payload, pos + 1),
          term: readU64(payload, pos + 9),
          type,
          data: payload.subarray(dataStart, dataStart + dataBytes),
        });
        pos = dataStart + dataBytes;
        break;
      }
      case TAG_HARD_STATE:
        need(HARD_STATE_BYTES, 'hard state');
        record.hardState = {
          term: readU64(payload, pos + 1),
          vote: readU64(payload, pos + 9),
          commit: readU64(payload, pos + 17),
        };
        pos += HARD_STATE_BYTES;
        break;
      default:
        throw new CodecError(`unknown item tag ${tag}`, pos);
    }
  }
  return record;
}

export interface ScannedFrame {
  /** Byte offset of the frame's header in the scanned buffer. */
  offset: number;
  /** Header plus payload. */
  byteLength: number;
  record: LogRecord;
}

/**
 * How a scan ended. `torn`: from `offset` on, the bytes look like a write that a crash cut short
 * (acceptable only at the end of the newest segment). `corrupt`: damage that is not explained by a
 * torn last write.
 */
export type ScanEnd =
  | { kind: 'clean' }
  | { kind: 'torn'; offset: number; reason: string }
  | { kind: 'corrupt'; offset: number; reason: string };

export interface ScanResult {
  frames: ScannedFrame[];
  /** Length of the prefix made of whole, valid frames. */
  validBytes: number;
  end: ScanEnd;
}

function allZero(buf: Uint8Array, from: number): boolean {
  for (let i = from; i < buf.length; i++) if (buf[i] !== 0) return false;
  return true;
}

/**
 * The first offset at or after `from` where a whole valid frame starts (header and payload
 * checksums match and the payload decodes), or -1. Only used on a damaged tail, at recovery.
 * Entry data inside a torn write would have to embed a frame with both checksums right to be
 * taken for one; then recovery refuses to start, the safe side.
 */
function findCompleteFrame(buf: Buffer, from: number): number {
  for (let y = from; y + FRAME_HEADER_BYTES < buf.length; y++) {
    const payloadBytes = buf.readUInt32LE(y);
    const end = y + FRAME_HEADER_BYTES + payloadBytes;
    if (payloadBytes === 0 || end > buf.length) continue;
    if (crc32(buf.subarray(y, y + 8)) !== buf.readUInt32LE(y + 8)) continue;
    const payload = buf.subarray(y + FRAME_HEADER_BYTES, end);
    if (crc32(payload) !== buf.readUInt32LE(y + 4)) continue;
    try {
      decodePayload(payload);
    } catch (err) {
      if (!(err instanceof CodecError)) throw err;
      continue;
    }
    return y;
  }
  return -1;
}

/**
 * Decode consecutive frames from the start of `bytes` (a whole segment file). Stops at the first
 * frame that is not whole and valid, and classifies why. Entry data are views into `bytes`.
 */
export function scanFrames(bytes: Uint8Array): ScanResult {
  const buf = asBuffer(bytes);
  const frames: ScannedFrame[] = [];
  let offset = 0;
  const stop = (kind: 'torn' | 'corrupt', reason: string): ScanResult => ({
    frames,
    validBytes: offset,
    end: { kind, offset, reason },
  });
  while (offset < buf.length) {
    const remaining = buf.length - offset;
    if (remaining < FRAME_HEADER_BYTES) return stop('torn', `incomplete frame header (${remaining} bytes)`);
    const payloadBytes = buf.readUInt32LE(offset);
    const payloadCrc = buf.readUInt32LE(offset + 4);
    const headerCrc = buf.readUInt32LE(offset + 8);
    if (crc32(buf.subarray(offset, offset + 8)) !== headerCrc) {
      if (allZero(buf, offset)) return stop('torn', 'zero-filled tail');
      if (remaining - FRAME_HEADER_BYTES < FRAME_HEADER_BYTES) {
        return stop('torn', 'header checksum mismatch in the last bytes');
      }
      if (allZero(buf.subarray(offset, offset + FRAME_HEADER_BYTES), 0)) {
        // A zeroed header with non-zero bytes after it: the page holding the header of the last
        // write never reached the disk while later pages of the same write did (a power loss;
        // the file was extended, unwritten pages read as zeros). Each frame is one write, synced
        // before the next is written, so whatever follows a frame that was never synced belongs
        // to that same write. A complete valid frame after it would be a later, synced write:
        // then the damaged frame had been synced too (acknowledged) and this is corruption.
        const later = findCompleteFrame(buf, offset + FRAME_HEADER_BYTES);
        if (later < 0) return stop('torn', 'zeroed frame header followed by a partial write');
        return stop('corrupt', `zeroed frame header, yet a valid frame follows at offset ${later}`);
      }
      return stop('corrupt', 'header checksum mismatch');
    }
    const end = offset + FRAME_HEADER_BYTES + payloadBytes;
    if (end > buf.length) {
      return stop(
        'torn',
        `incomplete frame (${payloadBytes} payload bytes, ${remaining - FRAME_HEADER_BYTES} present)`,
      );
    }
    const payload = buf.subarray(offset + FRAME_HEADER_BYTES, end);
    if (crc32(payload) !== payloadCrc) {
      return end === buf.length
        ? stop('torn', 'checksum mismatch in the last frame')
        : stop('corrupt', 'checksum mismatch');
    }
    let record: LogRecord;
    try {
      record = decodePayload(payload);
    } catch (err) {
      if (!(err instanceof CodecError)) throw err;
      return stop('corrupt', `malformed frame: ${err.message} at payload byte ${err.offset}`);
    }
    frames.push({ offset, byteLength: end - offset, record });
    offset = end;
  }
  return { frames, validBytes: offset, end: { kind: 'clean' } };
}

// ---------------------------------------------------------------------------------------------
// Snapshot files

export const SNAPSHOT_MAGIC = Buffer.from('RTNLSNAP', 'latin1');
export const SNAPSHOT_FORMAT_VERSION = 1;
export const SNAPSHOT_HEADER_BYTES = 36;

/** The header and meta (first part) and the data (second part), to be written back to back. */
export function encodeSnapshotParts(snapshot: Snapshot): [Buffer, Uint8Array] {
  const { index, term, membership } = snapshot.meta;
  checkU64(index, 'snapshot index');
  checkU64(term, 'snapshot term');
  const meta = Buffer.from(JSON.stringify({ index, term, membership }), 'utf8');
  const head = Buffer.allocUnsafe(SNAPSHOT_HEADER_BYTES + meta.length);
  SNAPSHOT_MAGIC.copy(head, 0);
  head.writeUInt32LE(SNAPSHOT_FORMAT_VERSION, 8);
  head.writeUInt32LE(meta.length, 12);
  writeU64(head, 16, snapshot.data.byteLength);
  head.writeUInt32LE(crc32(meta), 24);
  head.writeUInt32LE(crc32(snapshot.data), 28);
  head.writeUInt32LE(crc32(head.subarray(0, 32)), 32);
  meta.copy(head, SNAPSHOT_HEADER_BYTES);
  return [head, snapshot.data];
}

export function encodeSnapshotFile(snapshot: Snapshot): Buffer {
  const [head, data] = encodeSnapshotParts(snapshot);
  return Buffer.concat([head, data]);
}

function isMember(value: unknown): value is Member {
  if (typeof value !== 'object' || value === null) return false;
  const m = value as Record<string, unknown>;
  const roles: MemberRole[] = ['voter', 'learner', 'witness'];
  return Number.isSafeInteger(m.id) && typeof m.addr === 'string' && roles.includes(m.role as MemberRole);
}

function parseMeta(json: string): SnapshotMeta {
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    throw new CodecError('snapshot meta is not JSON', SNAPSHOT_HEADER_BYTES);
  }
  const meta = parsed as { index?: unknown; term?: unknown; membership?: Partial<Membership> } | null;
  const membership = meta?.membership;
  if (
    !meta ||
    !Number.isSafeInteger(meta.index) ||
    (meta.index as number) < 0 ||
    !Number.isSafeInteger(meta.term) ||
    (meta.term as number) < 0 ||
    !membership ||
    !Array.isArray(membership.members) ||
    !membership.members.every(isMember) ||
    !Array.isArray(membership.removed) ||
    !membership.removed.every((id) => Number.isSafeInteger(id))
  ) {
    throw new CodecError('snapshot meta has an invalid shape', SNAPSHOT_HEADER_BYTES);
  }
  return {
    index: meta.index as number,
    term: meta.term as number,
    membership: {
      members: membership.members.map((m) => ({ id: m.id, role: m.role, addr: m.addr })),
      removed: [...membership.removed],
    },
  };
}

/** Decode a whole snapshot file. The data is a view into `bytes`. Throws CodecError. */
export function decodeSnapshotFile(bytes: Uint8Array): Snapshot {
  const buf = asBuffer(bytes);
  if (buf.length < SNAPSHOT_HEADER_BYTES) throw new CodecError('snapshot file too short', 0);
  if (!buf.subarray(0, 8).equals(SNAPSHOT_MAGIC)) throw new CodecError('not a snapshot file (bad magic)', 0);
  if (crc32(buf.subarray(0, 32)) !== buf.readUInt32LE(32)) {
    throw new CodecError('snapshot header checksum mismatch', 0);
  }
  const version = buf.readUInt32LE(8);
  if (version !== SNAPSHOT_FORMAT_VERSION) throw new CodecError(`unsupported snapshot version ${version}`, 8);
  const metaBytes = buf.readUInt32LE(12);
  const dataBytes = readU64(buf, 16);
  const metaEnd = SNAPSHOT_HEADER_BYTES + metaBytes;
  if (buf.length !== metaEnd + dataBytes) {
    throw new CodecError(`snapshot file is ${buf.length} bytes, header says ${metaEnd + dataBytes}`, 0);
  }
  const meta = buf.subarray(SNAPSHOT_HEADER_BYTES, metaEnd);
  if (crc32(meta) !== buf.readUInt32LE(24))
    throw new CodecError('snapshot meta checksum mismatch', SNAPSHOT_HEADER_BYTES);
  const data = buf.subarray(metaEnd);
  if (crc32(data) !== buf.readUInt32LE(28)) throw new CodecError('snapshot data checksum mismatch', metaEnd);
  return { meta: parseMeta(meta.toString('utf8')), data };
}

/**
 * Commands carried by 'normal' log entries, encoded as versioned JSON. Validated on decode: a
 * member never applies a malformed command differently from another.
 */
import { z } from 'zod';
import { JOB_KINDS } from './jobs-model.js';
import { type SettingKey, type SettingSpec, SHARD_SETTINGS } from './settings.js';
import { SCRIPT_PATH_MAX } from './shards.js';

const jobRecord = z.object({
  id: z.string().min(1).max(128),
  kind: z.enum(JOB_KINDS),
  params: z.record(z.string(), z.unknown()),
  state: z.enum(['pending', 'running', 'succeeded', 'failed']),
  reason: z.string().nullable(),
  step: z.string().nullable(),
  result: z.unknown(),
  createdAtMs: z.number(),
  updatedAtMs: z.number(),
  origin: z.number().int(),
});

const shardNode = z.object({
  addr: z.string().min(1),
  owner: z.number().int().positive().nullable(),
  role: z.enum(['replica', 'observer']),
  priority: z.number().int().min(0),
  accessible: z.boolean(),
  announced: z.boolean().optional(),
  username: z.string().optional(),
  password: z.string().optional(),
});
/**
 * Settings as committed: integers at or above each setting's committed minimum (./settings.ts).
 * No maximum and no cross-setting rule here: the edges (config, admin API, SENTINEL SET) check
 * those, and a command committed under older bounds must still decode on every member.
 */
const settingValue = (s: SettingSpec) =>
  z
    .number()
    .int()
    .min(s.committedMin ?? s.min);
const settingsShape = Object.fromEntries(SHARD_SETTINGS.map((s) => [s.key, settingValue(s)])) as {
  [K in SettingKey]: z.ZodNumber;
};
/**
 * Full settings (shard.create): a setting added later decodes, in entries committed before it
 * existed, with its fixed value. Not for partial changes, where an absent key means "unchanged".
 */
const fullSettings = z.object(
  Object.fromEntries(
    SHARD_SETTINGS.map((s: SettingSpec) => [
      s.key,
      s.absentCommitted === undefined ? settingValue(s) : settingValue(s).default(s.absentCommitted),
    ]),
  ) as { [K in SettingKey]: z.ZodNumber },
);
const failoverKind = z.enum(['auto', 'forced', 'switchover', 'initial']);

/** Longest ACL user name, rule description or pattern a command may carry (bytes as latin1). */
export const ACL_TEXT_MAX = 4096;
/**
 * An ACL user of the Sentinel port (src/sentinel/acl.ts), as computed by the daemon that ran ACL
 * SETUSER: passwords only as SHA-256 hex, command rules as their canonical description.
 */
export const aclUserRecord = z.strictObject({
  name: z.string().min(1).max(ACL_TEXT_MAX),
  enabled: z.boolean(),
  nopass: z.boolean(),
  payload: z.enum(['sanitize', 'skip']).optional(),
  passwords: z.array(z.string().regex(/^[0-9a-f]{64}$/)).max(1024),
  commands: z
    .string()
    .min(1)
    .max(64 * ACL_TEXT_MAX),
  allKeys: z.boolean(),
  keys: z.array(z.string().max(ACL_TEXT_MAX)).max(1024),
  allChannels: z.boolean(),
  channels: z.array(z.string().max(ACL_TEXT_MAX)).max(1024),
});
export type AclUserRecord = z.infer<typeof aclUserRecord>;

const command = z.discriminatedUnion('t', [
  z.object({
    t: z.literal('shard.create'),
    name: z.string().min(1),
    master: z.string().nullable(),
    nodes: z.array(shardNode),
    settings: fullSettings,
    atMs: z.number(),
  }),
  z.object({ t: z.literal('shard.remove'), name: z.string() }),
  z.object({
    t: z.literal('shard.node.put'),
    name: z.string(),
    node: shardNode,
    onlyUnowned: z.boolean().optional(),
  }),
  z.object({ t: z.literal('shard.node.remove'), name: z.string(), addr: z.string() }),
  z.object({ t: z.literal('shard.settings'), name: z.string(), settings: z.object(settingsShape).partial() }),
  z.object({
    t: z.literal('shard.scripts'),
    name: z.string(),
    scripts: z.strictObject({
      notification: z.string().max(SCRIPT_PATH_MAX).optional(),
      clientReconfig: z.string().max(SCRIPT_PATH_MAX).optional(),
    }),
  }),
  z.object({
    t: z.literal('shard.failover.begin'),
    name: z.string(),
    expectEpoch: z.number().int().min(0),
    epoch: z.number().int().positive(),
    from: z.string().nullable(),
    to: z.string(),
    kind: failoverKind,
    jobId: z.string(),
    atMs: z.number(),
    job: jobRecord,
  }),
  z.object({
    t: z.literal('shard.master'),
    name: z.string(),
    epoch: z.number().int().positive(),
    master: z.string(),
    from: z.string().nullable(),
    kind: failoverKind,
    jobId: z.string().nullable(),
    atMs: z.number(),
    reason: z.string(),
    /** The run id of the server promoted (absent in entries from before it was recorded). */
    runId: z.string().optional(),
  }),
  z.object({
    t: z.literal('shard.failover.abort'),
    name: z.string(),
    epoch: z.number().int(),
    reason: z.string(),
    atMs: z.number(),
  }),
  z.object({
    t: z.literal('shard.guard'),
    name: z.string(),
    epoch: z.number().int().min(0),
    replicas: z.number().int().min(0),
    reason: z.string(),
  }),
  z.object({
    t: z.literal('member.info'),
    id: z.number().int().positive(),
    sentinel: z.string(),
    admin: z.string(),
    version: z.string(),
    runId: z.string().optional(),
  }),
  /** Replace (or create) an ACL user if the users are still at `revision` (a compare-and-set). */
  z.object({ t: z.literal('acl.user.put'), user: aclUserRecord, revision: z.number().int().min(0) }),
  z.object({ t: z.literal('acl.user.delete'), name: z.string().min(1) }),
  z.object({ t: z.literal('job.create'), job: jobRecord }),
  z.object({
    t: z.literal('job.update'),
    id: z.string(),
    state: z.enum(['pending', 'running', 'succeeded', 'failed']),
    atMs: z.number(),
    step: z.string().nullable().optional(),
    reason: z.string().nullable().optional(),
    result: z.unknown().optional(),
  }),
]);

export type Command = z.infer<typeof command>;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encodeCommand(cmd: Command): Uint8Array {
  return encoder.encode(JSON.stringify({ v: 1, ...cmd }));
}

export function decodeCommand(data: Uint8Array): Command {
  const raw = JSON.parse(decoder.decode(data)) as { v?: unknown };
  if (raw.v !== 1) throw new Error(`unknown command version ${String(raw.v)}`);
  const parsed = command.safeParse(raw);
  if (!parsed.success)
    throw new Error(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '));
  return parsed.data;
}

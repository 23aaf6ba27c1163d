/**
 * Commands carried by 'normal' log entries, encoded as versioned JSON. Validated on decode: a
 * member never applies a malformed command differently from another.
 */
import { z } from 'zod';

const jobRecord = z.object({
  id: z.string().min(1).max(128),
  kind: z.enum(['member.add', 'member.remove', 'member.promote', 'leader.transfer']),
  params: z.record(z.string(), z.unknown()),
  state: z.enum(['pending', 'running', 'succeeded', 'failed']),
  reason: z.string().nullable(),
  step: z.string().nullable(),
  result: z.unknown(),
  createdAtMs: z.number(),
  updatedAtMs: z.number(),
  origin: z.number().int(),
});

const command = z.discriminatedUnion('t', [
  z.object({
    t: z.literal('member.info'),
    id: z.number().int().positive(),
    sentinel: z.string(),
    admin: z.string(),
    version: z.string(),
  }),
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

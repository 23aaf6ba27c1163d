/** Jobs: long-running operations, replicated through the log so any daemon can report them and a
 * new leader resumes them. */

export type JobState = 'pending' | 'running' | 'succeeded' | 'failed';
export const TERMINAL_JOB_STATES: ReadonlySet<JobState> = new Set(['succeeded', 'failed']);

export const JOB_KINDS = [
  'member.add',
  'member.remove',
  'member.promote',
  'leader.transfer',
  'shard.register',
  'shard.failover',
  'shard.switchover',
  'shard.change',
] as const;
export type JobKind = (typeof JOB_KINDS)[number];

export interface JobRecord {
  id: string;
  kind: JobKind;
  params: Record<string, unknown>;
  state: JobState;
  /** Why it failed, or a note on how it succeeded. */
  reason: string | null;
  /** The step it is in, for operators. */
  step: string | null;
  result: unknown;
  createdAtMs: number;
  updatedAtMs: number;
  /** Node that accepted the request. */
  origin: number;
}

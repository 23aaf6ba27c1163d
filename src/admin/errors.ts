/**
 * Where domain errors meet HTTP statuses: the one table the admin API and the peer service (whose
 * replies carry HTTP statuses, as forwarded admin calls do) both read.
 */
import { type RefusalCode, Refused } from '../cluster/errors.js';
import { SettingsRuleError } from '../cluster/settings.js';
import { RaftError } from '../raft/types.js';

/** An error of the HTTP layer itself (no route, bad body, no token): it carries its status. */
export class AdminError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

export const REFUSAL_STATUS: Readonly<Record<RefusalCode, number>> = {
  invalid_request: 400,
  settings_rule: 400,
  not_a_member: 403,
  scripts_denied: 403,
  not_executable: 400,
  unknown_shard: 404,
  unknown_node: 404,
  unknown_member: 404,
  unknown_job: 404,
  conflict: 409,
  in_progress: 409,
  no_master: 409,
  no_candidate: 409,
  master_not_down: 409,
  not_promotable: 409,
  is_master: 409,
  shard_exists: 409,
  id_removed: 409,
  member_exists: 409,
  last_voter: 409,
  not_leader: 409,
  no_leader: 503,
  leader_unreachable: 503,
};

export interface ErrorReply {
  status: number;
  body: { error: { code: string; message: string } & Record<string, unknown> };
}

/**
 * The reply for an error: its status and a body naming the code and the reason. A Raft error
 * (no leader yet, a transfer under way, a proposal that timed out) is temporary: 503, "retry".
 * Anything else is a bug: 500 with its message.
 */
export function errorReply(err: unknown): ErrorReply {
  const reply = (status: number, code: string, message: string, extra: Record<string, unknown> = {}) => ({
    status,
    body: { error: { code, message, ...extra } },
  });
  if (err instanceof AdminError) return reply(err.status, err.code, err.message, err.extra);
  if (err instanceof Refused) return reply(REFUSAL_STATUS[err.code], err.code, err.message, err.extra);
  if (err instanceof SettingsRuleError) return reply(400, 'settings_rule', err.message, { rules: err.rules });
  if (err instanceof RaftError) return reply(503, err.code, `${err.message}; retry`);
  return reply(500, 'internal', (err as Error)?.message ?? String(err));
}

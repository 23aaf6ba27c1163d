/**
 * Domain refusals: what the engine, the admin backend and the peer service throw when a request
 * cannot be done, each with a stable code and a message that says why. They know nothing of HTTP:
 * the admin API and the peer service map codes to statuses in one table (src/admin/errors.ts).
 */

export type RefusalCode =
  /** The request is malformed or asks for something meaningless (the master is already it). */
  | 'invalid_request'
  | 'unknown_shard'
  | 'unknown_node'
  | 'unknown_member'
  | 'unknown_job'
  /** A sender that is not a member of the group (a probe report from a stranger). */
  | 'not_a_member'
  /** The state moved under the request (a proposal the state machine refused). */
  | 'conflict'
  | 'in_progress'
  | 'no_master'
  | 'no_candidate'
  | 'master_not_down'
  /** An observer or priority-0 node named for promotion. */
  | 'not_promotable'
  | 'is_master'
  | 'shard_exists'
  | 'id_removed'
  | 'member_exists'
  | 'last_voter'
  /** A script path set while this daemon's deny_scripts_reconfig is on (Sentinel's rule). */
  | 'scripts_denied'
  /** A script path that is not an executable file on the daemon that checks it. */
  | 'not_executable'
  /** A settings change that breaks a rule across settings (lease + election <= down-after). */
  | 'settings_rule'
  /** Only the leader can do this, and this daemon is not it. */
  | 'not_leader'
  | 'no_leader'
  | 'leader_unreachable';

export class Refused extends Error {
  constructor(
    readonly code: RefusalCode,
    message: string,
    /** Extra fields for the error body (say, the rules a settings change broke). */
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'Refused';
  }
}

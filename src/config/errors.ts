/** What loadConfig throws: every problem found, one per line. */

export interface ConfigProblem {
  /** The config file as the user named it, or "command line". */
  source: string;
  /** Dotted key (`raft.heartbeat_ms`, `redis[1].addr`) or flag (`--join`), when there is one. */
  key?: string;
  /** Position of a TOML syntax error (1-based). */
  line?: number;
  column?: number;
  /** The whole line as shown to the user. */
  text: string;
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly problems: readonly ConfigProblem[];

  constructor(problems: readonly ConfigProblem[]) {
    super(problems.map((p) => p.text).join('\n'));
    this.problems = problems;
  }
}

export const COMMAND_LINE = 'command line';

export function keyProblem(source: string, key: string, message: string): ConfigProblem {
  return { source, key, text: `${source}: ${key}: ${message}` };
}

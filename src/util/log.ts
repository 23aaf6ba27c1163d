import { type DestinationStream, type Logger, type LoggerOptions, pino } from 'pino';

export type { Logger };

/** Keys whose values are never written to the log, wherever they appear in an object. */
const SECRET_PATHS = [
  'password',
  'token',
  'requirepass',
  '*.password',
  '*.token',
  '*.requirepass',
  'config.admin.token',
];

/** The daemon's logger: pino JSON lines on stdout, one event per line, each with node_id. */
export function createLogger(
  opts: { nodeId?: number; level?: string; destination?: DestinationStream } = {},
): Logger {
  const options: LoggerOptions = {
    level: opts.level ?? 'info',
    base: opts.nodeId === undefined ? {} : { node_id: opts.nodeId },
    redact: { paths: SECRET_PATHS, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  return opts.destination ? pino(options, opts.destination) : pino(options);
}

/** A logger that drops everything: for tests and the simulation. */
export const silentLogger: Logger = pino({ level: 'silent' });

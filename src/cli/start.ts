/**
 * `raftinel start`: load and check the config, run the daemon until it stops, and map start-up
 * failures to exit codes (2: configuration, 3: removed from the group, 1: anything else). Kept
 * apart from main.ts so the other commands do not load the daemon's modules.
 */
import { ConfigError } from '../config/errors.js';
import { configWarnings, loadConfig } from '../config/load.js';
import { Daemon, StartupError } from '../daemon/daemon.js';
import { StorageError } from '../raft/storage/types.js';

export async function runStart(opts: StartOptions): Promise<number> {
  try {
    return await start(opts);
  } catch (err) {
    return startFailure(err);
  }
}

export interface StartOptions {
  config?: string;
  single?: boolean;
  join?: string;
  nodeId?: number;
  dataDir?: string;
  logLevel?: string;
}

async function start(opts: StartOptions): Promise<number> {
  const config = loadConfig({
    ...(opts.config ? { file: opts.config } : {}),
    flags: {
      ...(opts.single ? { single: true } : {}),
      ...(opts.join ? { join: opts.join } : {}),
      ...(opts.nodeId !== undefined ? { nodeId: opts.nodeId } : {}),
      ...(opts.dataDir ? { dataDir: opts.dataDir } : {}),
      ...(opts.logLevel ? { logLevel: opts.logLevel } : {}),
    },
  });
  const daemon = await Daemon.start(config);
  for (const w of configWarnings(config)) daemon.log.warn({ warning: w }, 'configuration warning');
  let signals = 0;
  const onSignal = (sig: NodeJS.Signals) => {
    signals++;
    if (signals > 1) {
      daemon.log.warn({ signal: sig }, 'second signal: exiting now');
      process.exit(130);
    }
    daemon.log.info({ signal: sig }, 'signal received');
    void daemon.stop(`signal ${sig}`);
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  return daemon.stopped;
}

/** Print why the daemon could not start and return the exit code; rethrow anything unexpected. */
function startFailure(err: unknown): number {
  if (err instanceof ConfigError) {
    console.error(`raftinel: configuration error:\n${err.message}`);
    return 2;
  }
  if (err instanceof StartupError) {
    console.error(`raftinel: ${err.message}`);
    return err.exitCode;
  }
  if (err instanceof StorageError) {
    console.error(`raftinel: storage error: ${err.message}`);
    return 1;
  }
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'EADDRINUSE' || code === 'EACCES') {
    console.error(`raftinel: cannot listen: ${(err as Error).message}`);
    return 1;
  }
  throw err;
}

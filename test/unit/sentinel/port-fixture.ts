/**
 * A Sentinel port as the daemon registers it (generic commands with SHUTDOWN, SENTINEL, ROLE,
 * PUBLISH, INFO with its sentinel section) over a backend double: for tests of the command table
 * and INFO as a whole.
 */
import { infoCommandSpec } from '../../../src/sentinel/commands-generic.js';
import { type SentinelBackend, SentinelCommands } from '../../../src/sentinel/sentinel-commands.js';
import { SentinelServer, type SentinelServerOptions } from '../../../src/sentinel/server.js';

export async function startDaemonLikePort(opts: SentinelServerOptions = {}): Promise<SentinelServer> {
  const server = new SentinelServer({
    port: 0,
    ...opts,
    genericCommands: { shutdown: () => undefined },
  });
  const backend = {
    myId: () => '0'.repeat(40),
    fresh: () => true,
    shards: () => [],
    seen: () => null,
    objectivelyDown: () => false,
    failoverState: () => null,
    peers: () => [],
    votingMembers: () => 1,
    usableVoters: () => 1,
    timers: () => [],
    reset: () => 0,
  } as unknown as SentinelBackend;
  const commands = new SentinelCommands(backend, { logLevel: () => 'info' });
  commands.register(server);
  server.register(infoCommandSpec(server, { sections: [commands.infoSection()] }));
  await server.listen();
  return server;
}

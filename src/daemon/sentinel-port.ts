/**
 * The Redis Sentinel protocol port of a daemon: the Sentinel commands (DaemonSentinelBackend),
 * INFO, and the Sentinel events of every applied change, published on its pub/sub.
 */
import type { AdminApi } from '../admin/api.js';
import type { Shard, ShardScripts } from '../cluster/shards.js';
import type { ClusterState } from '../cluster/state.js';
import type { FailoverEngine } from '../failover/engine.js';
import type { ClusterReply } from '../raft/grpc/server.js';
import { votersOf } from '../raft/membership.js';
import type { RaftNode } from '../raft/node.js';
import { majority } from '../raft/quorum.js';
import type { NodeId } from '../raft/types.js';
import { infoCommandSpec } from '../sentinel/commands-generic.js';
import { eventsOfShardChange, LocalEvents, sentinelDetails } from '../sentinel/events.js';
import { ScriptHooks } from '../sentinel/script-hooks.js';
import { ScriptQueue, type ScriptSpawner } from '../sentinel/scripts.js';
import { SentinelCommands } from '../sentinel/sentinel-commands.js';
import { SentinelServer } from '../sentinel/server.js';
import type { Clock } from '../util/clock.js';
import type { Logger } from '../util/log.js';
import { VERSION } from '../util/version.js';
import { DaemonAclStore, DaemonSentinelBackend } from './sentinel-backend.js';

export interface SentinelPortDeps {
  host: string;
  port: number;
  requirepass: string | undefined;
  /** This daemon's Sentinel run id (SENTINEL MYID). */
  sentinelId: string;
  configFile: string;
  nodeId: NodeId;
  electionTimeoutMs: number;
  raft: RaftNode;
  state: ClusterState;
  engine: FailoverEngine;
  clock: Clock;
  log: Logger;
  api: () => AdminApi;
  adminToken: string | undefined;
  peerConnected: (id: NodeId) => boolean;
  /** SENTINEL FAILOVER, on the leader or forwarded to it (the peer service's sentinel.failover). */
  failover: (name: string) => Promise<ClusterReply>;
  /** SHUTDOWN on the port. */
  shutdown: () => void;
  /** `[sentinel] deny_scripts_reconfig`, and the daemon's own scripts (see ScriptHooks). */
  denyScriptsReconfig: boolean;
  scripts: ShardScripts;
  /** Starts script processes (src/daemon/script-spawner.ts in the daemon). */
  spawnScript: ScriptSpawner;
}

export interface SentinelPort {
  server: SentinelServer;
  /**
   * After every probe round: events from this daemon's own view (+sdown, ...), and whether it is
   * in touch with the group (how long commands naming masters are held, see unsettled()).
   */
  round(shards: Iterable<Shard>): void;
  /** Sentinel scripts this daemon runs (closed when the daemon stops). */
  scripts: ScriptQueue;
  port: number;
}

export async function openSentinelPort(d: SentinelPortDeps): Promise<SentinelPort> {
  const server = new SentinelServer({
    host: d.host,
    port: d.port,
    logger: d.log,
    // `[sentinel] requirepass` is the default user's password until an ACL SETUSER default is
    // committed; the users themselves are replicated (every daemon knows them).
    ...(d.requirepass ? { requirepass: d.requirepass } : {}),
    acl: new DaemonAclStore({ state: d.state, raft: d.raft, api: d.api, adminToken: d.adminToken }),
    genericCommands: {
      shutdown: () => {
        d.shutdown();
        return undefined;
      },
    },
  });
  const scripts = new ScriptQueue({
    clock: d.clock,
    spawn: d.spawnScript,
    publish: (channel, message) => publish(channel, message, null),
  });
  const hooks = new ScriptHooks({ queue: scripts, defaults: d.scripts });
  // Every event goes to the pub/sub and to the shard's notification script (Sentinel's
  // sentinelEvent); an event about a shard still in the state uses that shard's script.
  const publish = (channel: string, message: string, shard: string | Shard | null, led = true) => {
    server.publish(channel, message);
    hooks.onEvent(
      channel,
      message,
      typeof shard === 'string' ? (d.state.shards.get(shard) ?? null) : shard,
      led,
    );
  };
  const backend = new DaemonSentinelBackend({
    myId: d.sentinelId,
    nodeId: d.nodeId,
    raft: d.raft,
    state: d.state,
    engine: d.engine,
    clock: d.clock,
    api: d.api,
    adminToken: d.adminToken,
    peerConnected: d.peerConnected,
    failover: d.failover,
    publish,
    denyScriptsReconfig: d.denyScriptsReconfig,
    scripts,
    electionTimeoutMs: d.electionTimeoutMs,
  });
  const commands = new SentinelCommands(backend, {
    electionTimeoutMs: d.electionTimeoutMs,
    logLevel: () => d.log.level,
  });
  commands.register(server);
  server.register(
    infoCommandSpec(server, {
      sections: [commands.infoSection()],
      serverFields: () => ({ run_id: d.sentinelId, config_file: d.configFile, raftinel_version: VERSION }),
    }),
  );
  const localEvents = new LocalEvents(publish, (addr) => backend.seen(addr));
  d.state.onChange((change) => {
    if (change.type === 'shard') {
      const e = change.event;
      const voters = votersOf(d.raft.status().membership).length;
      const shard = e.type === 'shard-removed' ? null : e.shard;
      const led = d.raft.status().role === 'leader';
      if (e.type === 'failover-begin' && e.pending.kind === 'auto' && e.pending.from)
        localEvents.declareDown(e.shard, e.pending.from);
      for (const [channel, message] of eventsOfShardChange(e, majority(voters)))
        publish(channel, message, shard, led);
      if (e.type === 'master-changed') hooks.onMasterChanged(e.shard, e.record, led ? 'leader' : 'observer');
    } else if (change.type === 'member-info') {
      const info = d.state.memberInfo.get(change.id);
      if (!info?.runId || change.id === d.nodeId) return;
      for (const s of d.state.shards.values())
        publish(
          '+sentinel',
          sentinelDetails(info.runId ?? String(change.id), info.sentinel, s.name, s.master),
          s,
        );
    }
  });
  const bound = await server.listen();
  const round = (shards: Iterable<Shard>) => {
    backend.observe();
    localEvents.round(shards);
  };
  return { server, round, scripts, port: bound.port };
}

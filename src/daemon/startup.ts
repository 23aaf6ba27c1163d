/**
 * How a daemon starts from its data_dir: resume the Raft state it holds, bootstrap a one-member
 * group (`single`), or join an existing group (`join`); anything else is a clear startup error.
 */
import type { NodeConfig } from '../config/types.js';
import { encodeConfigRecord } from '../raft/membership.js';
import type { FileStorage } from '../raft/storage/file-storage.js';
import type { RecoveredState } from '../raft/storage/types.js';
import type { Entry, NodeId } from '../raft/types.js';
import type { Logger } from '../util/log.js';

/** The daemon cannot start: the message says why and what to do. */
export class StartupError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
    this.name = 'StartupError';
  }
}

export type StartMode = { kind: 'bootstrap' | 'join' | 'resume'; recovered: RecoveredState };

/** Bootstrap a new group, join one, or resume from data_dir. */
export async function decideStartMode(
  c: NodeConfig,
  raftAddr: string,
  recovered: RecoveredState,
  storage: FileStorage,
  log: Logger,
): Promise<StartMode> {
  const hasState =
    recovered.hardState.term > 0 || recovered.entries.length > 0 || recovered.snapshot !== null;
  if (hasState) {
    if (c.raft.single || c.raft.join.length > 0) {
      log.info('data_dir holds Raft state: resuming; single/join are ignored');
    }
    if (membershipOf(recovered).removed.includes(c.nodeId)) {
      throw new StartupError(
        `node ${c.nodeId} was removed from its group and cannot rejoin with this id; to join again, wipe ${c.dataDir} and start with a new node_id`,
        3,
      );
    }
    return { kind: 'resume', recovered };
  }
  if (c.raft.single) {
    const entry: Entry = {
      index: 1,
      term: 1,
      type: 'config',
      data: encodeConfigRecord({
        change: { type: 'add', id: c.nodeId, role: c.raft.role, addr: raftAddr },
        membership: { members: [{ id: c.nodeId, role: c.raft.role, addr: raftAddr }], removed: [] },
      }),
    };
    const hardState = { term: 1, vote: 0, commit: 0 };
    await new Promise<void>((resolve, reject) =>
      storage.persist({ hardState, entries: [entry], snapshot: null }, (err) =>
        err ? reject(err) : resolve(),
      ),
    );
    log.info('bootstrapped a new one-member group');
    return { kind: 'bootstrap', recovered: { hardState, snapshot: null, entries: [entry] } };
  }
  if (c.raft.join.length > 0) return { kind: 'join', recovered };
  throw new StartupError(
    `data_dir ${c.dataDir} holds no Raft state: start with --single (or raft.single = true) to bootstrap a new group, or --join host:port to join an existing one`,
    2,
  );
}

function membershipOf(recovered: RecoveredState) {
  let m = recovered.snapshot?.meta.membership ?? { members: [], removed: [] as NodeId[] };
  for (const e of recovered.entries) {
    if (e.type === 'config') m = JSON.parse(new TextDecoder().decode(e.data)).membership;
  }
  return m;
}

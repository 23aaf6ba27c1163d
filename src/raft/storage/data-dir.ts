import { readFileSync } from 'node:fs';
/**
 * The data_dir's housekeeping: file names, the exclusive lock, the identity file, atomic writes.
 */
import { type FileHandle, open, readFile, realpath, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../../util/log.js';
import { StorageError } from './types.js';

export const LOCK_FILE = 'LOCK';
export const IDENTITY_FILE = 'IDENTITY';
export const TEMP_SUFFIX = '.tmp';

const SEGMENT_NAME = /^log-(\d{16})\.seg$/;
const SNAPSHOT_NAME = /^snap-(\d{20})-(\d+)\.snap$/;

export function segmentFileName(seq: number): string {
  return `log-${String(seq).padStart(16, '0')}.seg`;
}

export function snapshotFileName(index: number, term: number): string {
  return `snap-${String(index).padStart(20, '0')}-${term}.snap`;
}

export function parseSegmentFileName(name: string): number | null {
  const m = SEGMENT_NAME.exec(name);
  return m ? Number(m[1]) : null;
}

export function parseSnapshotFileName(name: string): { index: number; term: number } | null {
  const m = SNAPSHOT_NAME.exec(name);
  if (!m) return null;
  const index = Number(m[1]);
  const term = Number(m[2]);
  return Number.isSafeInteger(index) && Number.isSafeInteger(term) ? { index, term } : null;
}

export function errorCode(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | null)?.code;
}

/** Write all of `buf` at the handle's position (one write call unless the OS writes partially). */
export async function writeAll(handle: FileHandle, buf: Uint8Array): Promise<void> {
  let written = 0;
  while (written < buf.byteLength) {
    const { bytesWritten } = await handle.write(buf, written, buf.byteLength - written, null);
    if (bytesWritten <= 0) throw new Error('write made no progress');
    written += bytesWritten;
  }
}

/** Write a file atomically: temp file in the same dir, write, fsync, rename, fsync the dir. */
export async function writeFileAtomic(
  dirHandle: FileHandle,
  path: string,
  parts: readonly Uint8Array[],
): Promise<void> {
  const tempPath = path + TEMP_SUFFIX;
  const handle = await open(tempPath, 'w');
  try {
    for (const part of parts) await writeAll(handle, part);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(tempPath, path);
  await dirHandle.sync();
}

// ---------------------------------------------------------------------------------------------
// Lock

/** Real paths of the data dirs this process holds the lock of. */
const lockedDirs = new Set<string>();

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return errorCode(err) === 'EPERM';
  }
  // A killed process stays a zombie until its parent reaps it (containers without an init often
  // never do); a zombie holds no files, so its lock is stale.
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return true;
  }
}

export interface DirLock {
  release(): Promise<void>;
}

/**
 * Take the data_dir's exclusive lock: a LOCK file created with O_EXCL that holds our pid. A lock
 * whose pid is dead is stale and taken over. A lock holding our own pid that this process did not
 * take is stale too (a restarted container runs the daemon with the same pid).
 */
export async function acquireLock(dir: string, log: Logger): Promise<DirLock> {
  const path = join(dir, LOCK_FILE);
  const key = await realpath(dir);
  if (lockedDirs.has(key)) {
    throw new StorageError(`data_dir ${dir} is already open in this process (pid ${process.pid})`, path);
  }
  for (let attempt = 0; attempt < 3; attempt++) {
    let handle: FileHandle | null = null;
    try {
      handle = await open(path, 'wx');
    } catch (err) {
      if (errorCode(err) !== 'EEXIST') throw err;
    }
    if (handle) {
      try {
        await handle.writeFile(`${process.pid}\n`);
      } finally {
        await handle.close();
      }
      lockedDirs.add(key);
      let released = false;
      return {
        async release() {
          if (released) return;
          released = true;
          lockedDirs.delete(key);
          await unlink(path).catch(() => undefined);
        },
      };
    }
    let content: string;
    try {
      content = await readFile(path, 'utf8');
    } catch (err) {
      if (errorCode(err) === 'ENOENT') continue;
      throw err;
    }
    const text = content.trim();
    const pid = /^\d+$/.test(text) ? Number(text) : 0;
    if (pid <= 0) {
      throw new StorageError(
        `data_dir ${dir} is locked: ${path} exists but holds no pid (a daemon may be starting); ` +
          'remove it if no raftinel process uses this data_dir',
        path,
      );
    }
    if (pid !== process.pid && processAlive(pid)) {
      throw new StorageError(`data_dir ${dir} is locked by running process pid ${pid} (${path})`, path);
    }
    log.warn({ file: path, stalePid: pid }, 'taking over a stale data_dir lock');
    await unlink(path).catch((err: unknown) => {
      if (errorCode(err) !== 'ENOENT') throw err;
    });
  }
  throw new StorageError(`could not take the data_dir lock ${path}: it keeps changing`, path);
}

// ---------------------------------------------------------------------------------------------
// Identity

/**
 * Check (or, on first use, record) which node the data_dir belongs to. `hasData` says whether log or
 * snapshot files exist: data without an identity file is refused rather than adopted.
 */
export async function checkIdentity(
  dir: string,
  dirHandle: FileHandle,
  nodeId: number,
  hasData: boolean,
): Promise<void> {
  const path = join(dir, IDENTITY_FILE);
  let content: string | null = null;
  try {
    content = await readFile(path, 'utf8');
  } catch (err) {
    if (errorCode(err) !== 'ENOENT') throw err;
  }
  if (content === null) {
    if (hasData) {
      throw new StorageError(
        `data_dir ${dir} holds Raft data but no ${IDENTITY_FILE} file; refusing to adopt it as node ${nodeId}`,
        path,
      );
    }
    await writeFileAtomic(dirHandle, path, [Buffer.from(`${JSON.stringify({ nodeId })}\n`, 'utf8')]);
    return;
  }
  let owner: unknown;
  try {
    owner = (JSON.parse(content) as { nodeId?: unknown } | null)?.nodeId;
  } catch {
    owner = undefined;
  }
  if (!Number.isSafeInteger(owner)) {
    throw new StorageError(`identity file ${path} is unreadable; refusing to start`, path);
  }
  if (owner !== nodeId) {
    throw new StorageError(`data_dir ${dir} belongs to node ${owner}, not node ${nodeId}`, path);
  }
}

/** The Sentinel id this daemon reports (SENTINEL MYID, runid): 40 hex digits, kept in data_dir. */
import { randomBytes } from 'node:crypto';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export async function loadOrCreateSentinelId(dataDir: string): Promise<string> {
  const file = join(dataDir, 'sentinel-id');
  try {
    const id = (await readFile(file, 'utf8')).trim();
    if (/^[0-9a-f]{40}$/.test(id)) return id;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const id = randomBytes(20).toString('hex');
  const tmp = `${file}.tmp`;
  await writeFile(tmp, `${id}\n`);
  await rename(tmp, file);
  return id;
}

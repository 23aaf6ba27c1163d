/**
 * vitest globalSetup: compile src/ to dist/ once before the tests, so that the integration tests
 * that run `bin/raftinel` (which loads dist/) exercise the current code. Skipped when dist/ was
 * built after the last change to any file under src/ (or to the build's tsconfig files).
 *
 * Runs that name only test/unit/ paths skip the build (see unitTestsOnly).
 *
 * Type errors do not stop the tests: tsc still emits JavaScript, `npm test` type-checks on its own,
 * and a half-finished file elsewhere in src/ should not hide the results of every other test.
 * A build that emits nothing (dist/cli/main.js missing) does stop them.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const STAMP = join(ROOT, 'dist', '.build-stamp');
const ENTRY = join(ROOT, 'dist', 'cli', 'main.js');

function newestMtimeMs(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestMtimeMs(p));
    else if (entry.isFile()) newest = Math.max(newest, statSync(p).mtimeMs);
  }
  return newest;
}

function isFresh(): boolean {
  if (!existsSync(STAMP) || !existsSync(ENTRY)) return false;
  const sources = Math.max(
    newestMtimeMs(join(ROOT, 'src')),
    statSync(join(ROOT, 'tsconfig.json')).mtimeMs,
    statSync(join(ROOT, 'tsconfig.build.json')).mtimeMs,
  );
  return statSync(STAMP).mtimeMs > sources;
}

/**
 * True when the run was clearly asked for unit tests only (`vitest run test/unit/...`): those never
 * run bin/raftinel, so they need not wait for a build. Anything else (no filter, a test name, any
 * other path) builds.
 */
function unitTestsOnly(): boolean {
  const args = process.argv
    .slice(2)
    .filter((a) => !a.startsWith('-') && !['run', 'watch', 'dev'].includes(a));
  return args.length > 0 && args.every((a) => /(^|[/\\])test[/\\]unit([/\\]|$)/.test(a));
}

export default function setup(): void {
  if (unitTestsOnly()) return;
  buildDist();
}

/** Compile src/ to dist/ unless dist/ is newer than every source. */
export function buildDist(): void {
  if (isFresh()) return;
  const started = Date.now();
  // Stamp the time the build started: a source saved during the build makes the next run rebuild.
  const startedAt = new Date();
  const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  const r = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 180_000,
  });
  if (r.error) throw new Error(`building dist/ failed: ${r.error.message}`);
  if (!existsSync(ENTRY)) {
    throw new Error(`building dist/ failed (tsc exit ${r.status}):\n${r.stdout}${r.stderr}`);
  }
  if (r.status !== 0) {
    console.warn(
      `[build] tsc reported errors (JavaScript was emitted anyway; \`npm run typecheck\` shows them):\n${r.stdout}${r.stderr}`,
    );
  }
  writeFileSync(STAMP, `${startedAt.toISOString()}\n`);
  utimesSync(STAMP, startedAt, startedAt);
  console.warn(`[build] dist/ rebuilt in ${Date.now() - started} ms`);
}

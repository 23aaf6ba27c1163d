/**
 * `npm run test:sentinel-suite [-- --system raftinel|redis-sentinel] [--unit PATTERN]...`
 *
 * Runs Redis's own Sentinel test suite (`tests/sentinel` of the Redis source, Tcl) against
 * raftinel daemons, or against the real redis-sentinel as the reference. The suite comes from
 * Debian's source package of the installed redis-server, fetched once into a cache outside the
 * repository (never committed); see README.md in this directory.
 *
 * Each unit runs on its own (`run.tcl --single`), bounded in time, so a unit that hangs is
 * stopped and reported, and the next one starts clean. One line per unit, then:
 *   sentinel-suite: units=U passed=P failed=F tests_passed=T tests_failed=X
 * Exit code 0 only when every unit passed.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildDist } from '../../support/build.js';
import { parseUnitOutput, type UnitResult } from './parse.js';

const HERE = dirname(fileURLToPath(import.meta.url));
/** Where Debian's source of redis is kept between runs (outside the repository). */
const CACHE_DIR = process.env.RAFTINEL_REDIS_SRC_CACHE ?? '/var/cache/raftinel/redis-src';
/** A unit that runs longer than this is stopped and counted as failed (real Sentinel: < 60 s). */
const UNIT_TIMEOUT_MS = Number(process.env.SENTINEL_SUITE_UNIT_TIMEOUT_MS ?? 300_000);
/** The suite's first sentinel port: that member bootstraps the group, the others join it. */
const SEED_PORT = 20000;

type System = 'raftinel' | 'redis-sentinel';

function parseArgs(argv: string[]): { system: System; units: string[]; mustPass: string[] } {
  let system: System = 'raftinel';
  const units: string[] = [];
  const mustPass: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--system') {
      const v = argv[++i];
      if (v !== 'raftinel' && v !== 'redis-sentinel')
        throw new Error(`--system must be raftinel or redis-sentinel, not ${v ?? 'nothing'}`);
      system = v;
    } else if (a === '--unit') {
      const v = argv[++i];
      if (!v) throw new Error('--unit needs a pattern (e.g. 05-manual)');
      units.push(v);
    } else if (a === '--must-pass') {
      const v = argv[++i];
      if (!v) throw new Error('--must-pass needs a pattern (e.g. 05-manual)');
      mustPass.push(v);
    } else {
      throw new Error(
        `unknown option ${a} (expected --system raftinel|redis-sentinel, --unit PATTERN, --must-pass PATTERN)`,
      );
    }
  }
  return { system, units, mustPass };
}

function sh(cmd: string, args: string[], opts: { cwd?: string } = {}): string {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], ...opts });
}

function have(cmd: string): boolean {
  try {
    sh('sh', ['-c', `command -v ${cmd}`]);
    return true;
  } catch {
    return false;
  }
}

/** Install tcl (tclsh) if it is missing: the suite is Tcl. */
function ensureTcl(): void {
  if (have('tclsh')) return;
  if (process.getuid?.() !== 0) throw new Error('tclsh is missing: apt-get install tcl (as root)');
  console.log('sentinel-suite: installing tcl');
  execFileSync('apt-get', ['install', '-y', '-q', 'tcl'], { stdio: 'inherit' });
}

/** deb-src entries for the suites the machine's deb entries use, in a private apt config. */
function writeSourceList(aptDir: string): void {
  const parts = join(aptDir, 'sources.list.d');
  mkdirSync(parts, { recursive: true });
  const out: string[] = [];
  const dir = '/etc/apt/sources.list.d';
  for (const f of existsSync(dir) ? readdirSync(dir) : []) {
    if (!f.endsWith('.sources')) continue;
    const text = execFileSync('cat', [join(dir, f)], { encoding: 'utf8' });
    for (const stanza of text.split(/\n\s*\n/)) {
      if (!/^Types:.*\bdeb\b/m.test(stanza)) continue;
      out.push(stanza.replace(/^Types:.*$/m, 'Types: deb-src').trim());
    }
  }
  writeFileSync(join(parts, 'src.sources'), `${out.join('\n\n')}\n`);
  const legacy: string[] = [];
  if (existsSync('/etc/apt/sources.list')) {
    const text = execFileSync('cat', ['/etc/apt/sources.list'], { encoding: 'utf8' });
    for (const line of text.split('\n'))
      if (/^deb\s/.test(line)) legacy.push(line.replace(/^deb\s/, 'deb-src '));
  }
  writeFileSync(join(aptDir, 'sources.list'), `${legacy.join('\n')}\n`);
}

/** The source tree of the installed redis-server's Debian package (fetched once). */
function redisSource(): string {
  // biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query's own format syntax
  const version = sh('dpkg-query', ['-W', '-f=${Version}', 'redis-server']).trim();
  if (!version)
    throw new Error('redis-server is not installed (apt-get install redis-server redis-sentinel)');
  const upstream = version.replace(/^\d+:/, '').replace(/-[^-]*$/, '');
  const base = join(CACHE_DIR, version.replace(/[^A-Za-z0-9.+~-]/g, '_'));
  const tree = join(base, `redis-${upstream}`);
  if (existsSync(join(tree, 'tests', 'sentinel', 'run.tcl'))) return tree;
  console.log(`sentinel-suite: fetching Debian's source of redis ${version} into ${base}`);
  mkdirSync(base, { recursive: true });
  const apt = join(base, 'apt');
  writeSourceList(apt);
  mkdirSync(join(apt, 'lists', 'partial'), { recursive: true });
  const opts = [
    '-o',
    `Dir::Etc::SourceList=${join(apt, 'sources.list')}`,
    '-o',
    `Dir::Etc::SourceParts=${join(apt, 'sources.list.d')}`,
    '-o',
    `Dir::State::Lists=${join(apt, 'lists')}`,
  ];
  execFileSync('apt-get', [...opts, '-q', 'update'], { stdio: 'inherit' });
  execFileSync('apt-get', [...opts, '-q', 'source', `redis=${version}`], { cwd: base, stdio: 'inherit' });
  if (!existsSync(join(tree, 'tests', 'sentinel', 'run.tcl')))
    throw new Error(`apt-get source redis=${version} did not leave ${tree}/tests/sentinel`);
  return tree;
}

/** A scratch copy of the suite, with src/redis-server and src/redis-sentinel pointing where we want. */
function workTree(source: string, system: System): string {
  const work = join(tmpdir(), `raftinel-sentinel-suite-${process.pid}`);
  rmSync(work, { recursive: true, force: true });
  mkdirSync(join(work, 'src'), { recursive: true });
  cpSync(join(source, 'tests'), join(work, 'tests'), { recursive: true });
  mkdirSync(join(work, 'tests', 'sentinel', 'tmp'), { recursive: true });
  symlinkSync('/usr/bin/redis-server', join(work, 'src', 'redis-server'));
  const sentinel = system === 'raftinel' ? resolve(HERE, 'redis-sentinel') : '/usr/bin/redis-sentinel';
  symlinkSync(sentinel, join(work, 'src', 'redis-sentinel'));
  return work;
}

function units(work: string): string[] {
  return readdirSync(join(work, 'tests', 'sentinel', 'tests'))
    .filter((f) => /^\d\d-.*\.tcl$/.test(f))
    .sort();
}

/** Kill what a unit left running: its process group, then anything still on the suite's ports. */
function killGroup(child: ChildProcess): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

/** Move the unit's instance directories (configs, logs, data) to `<unit>.tmp/` in the work tree. */
function keepInstanceDirs(work: string, unit: string): void {
  const tmp = join(work, 'tests', 'sentinel', 'tmp');
  if (!existsSync(tmp)) return;
  const keep = join(work, `${unit}.tmp`);
  mkdirSync(keep, { recursive: true });
  for (const name of readdirSync(tmp)) renameSync(join(tmp, name), join(keep, name));
}

function runUnit(work: string, unit: string): Promise<UnitResult> {
  return new Promise((resolveUnit) => {
    const started = Date.now();
    // --dont-clean keeps the instances' logs; they are moved beside the unit's output below, so
    // the next unit still starts from empty directories.
    const args = ['tests/sentinel/run.tcl', '--single', unit.replace(/\.tcl$/, ''), '--dont-clean'];
    const child = spawn('tclsh', args, {
      cwd: work,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, TERM: 'dumb', RAFTINEL_SUITE_SEED_PORT: String(SEED_PORT) },
    });
    let output = '';
    child.stdout!.on('data', (d: Buffer) => {
      output += d.toString();
    });
    child.stderr!.on('data', (d: Buffer) => {
      output += d.toString();
    });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup(child);
    }, UNIT_TIMEOUT_MS);
    child.on('close', (code) => {
      clearTimeout(timer);
      // The suite kills its instances at the end; after a timeout nothing did: the group goes.
      killGroup(child);
      const r = parseUnitOutput(unit, output, { exitCode: code, timedOut, ms: Date.now() - started });
      writeFileSync(join(work, `${unit}.out`), output);
      keepInstanceDirs(work, unit);
      resolveUnit(r);
    });
  });
}

async function main(): Promise<number> {
  const { system, units: only, mustPass } = parseArgs(process.argv.slice(2));
  ensureTcl();
  if (system === 'redis-sentinel' && !existsSync('/usr/bin/redis-sentinel'))
    throw new Error('redis-sentinel is missing: apt-get install redis-sentinel');
  // The wrapper runs bin/raftinel, which loads dist/: build it from the current sources.
  if (system === 'raftinel') buildDist();
  const work = workTree(redisSource(), system);
  const all = units(work).filter((u) => only.length === 0 || only.some((p) => u.includes(p)));
  if (all.length === 0) throw new Error(`no unit matches ${only.join(', ')}`);
  console.log(`sentinel-suite: system=${system}, ${all.length} units, outputs in ${work}`);
  const results: UnitResult[] = [];
  for (const u of all) {
    const r = await runUnit(work, u);
    results.push(r);
    const first = r.failures[0];
    console.log(
      `sentinel-suite: ${u.padEnd(26)} ${r.passed ? 'passed' : 'FAILED'} ` +
        `${r.testsPassed}/${r.testsPassed + r.testsFailed} tests, ${(r.ms / 1000).toFixed(1)} s` +
        (first ? ` — first failure: ${first.test}: ${first.reason}` : '') +
        (r.timedOut ? ` (stopped after ${UNIT_TIMEOUT_MS / 1000} s)` : ''),
    );
  }
  const withTests = results.filter((r) => r.testsPassed + r.testsFailed > 0 || !r.passed);
  const passed = withTests.filter((r) => r.passed).length;
  const tp = results.reduce((n, r) => n + r.testsPassed, 0);
  const tf = results.reduce((n, r) => n + r.testsFailed, 0);
  console.log(
    `sentinel-suite: units=${withTests.length} passed=${passed} failed=${withTests.length - passed} tests_passed=${tp} tests_failed=${tf}`,
  );
  if (mustPass.length === 0) return passed === withTests.length ? 0 : 1;
  // The ratchet CI runs: the units named must pass (and be found); the others are reported.
  const missing = mustPass.filter((p) => !results.some((r) => r.unit.includes(p)));
  const broken = results.filter((r) => mustPass.some((p) => r.unit.includes(p)) && !r.passed);
  for (const p of missing) console.log(`sentinel-suite: --must-pass ${p}: no such unit ran`);
  for (const r of broken) console.log(`sentinel-suite: ${r.unit} must pass and FAILED`);
  console.log(
    `sentinel-suite: must-pass ${mustPass.length - missing.length - broken.length}/${mustPass.length} passed`,
  );
  return missing.length === 0 && broken.length === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err: Error) => {
    console.error(`sentinel-suite: ${err.message}`);
    process.exit(2);
  },
);

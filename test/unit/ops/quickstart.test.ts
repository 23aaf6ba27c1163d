/**
 * The README's Quick start: exactly two commands (the demo's, then the tests'), each naming npm
 * scripts and files that exist; .ci/run runs the second one; the README names every package that
 * scripts/install-deps.sh installs.
 */
import { accessSync, constants, existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../../scripts/local-group.js';

const readme = readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8');
const scripts: Record<string, string> = JSON.parse(
  readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8'),
).scripts;
const installDeps = readFileSync(path.join(REPO_ROOT, 'scripts', 'install-deps.sh'), 'utf8');

/** The README's text from its Quick start heading to the next heading. */
function quickStartSection(): string {
  const start = readme.indexOf('## Quick start');
  expect(start, 'README.md has a "## Quick start" section').toBeGreaterThanOrEqual(0);
  const next = readme.indexOf('\n## ', start + 1);
  return readme.slice(start, next < 0 ? undefined : next);
}

/** The commands of the README's first ```sh block (comments and blank lines dropped). */
function quickStartCommands(): string[] {
  const block = /```sh\n([\s\S]*?)```/.exec(readme);
  expect(block, 'README.md has a ```sh block').not.toBeNull();
  expect(quickStartSection()).toContain(block?.[0]);
  return (block?.[1] ?? '')
    .split('\n')
    .map((line) => line.replace(/(^|\s)#.*$/, '').trim())
    .filter((line) => line !== '');
}

/**
 * What a command refers to that must exist, following npm scripts into their bodies:
 * `npm run NAME` / `npm test` need the script, `bash FILE` / `./FILE` / `scripts/...` the file.
 */
function problems(command: string, seen = new Set<string>()): string[] {
  const found: string[] = [];
  for (const part of command.split(/&&|\|\||;/).map((p) => p.trim())) {
    const words = part.split(/\s+/);
    let script: string | undefined;
    if (words[0] === 'npm' && words[1] === 'run') script = words[2];
    else if (words[0] === 'npm' && (words[1] === 'test' || words[1] === 't')) script = 'test';
    else if (words[0] === 'npm' && words[1] === 'ci') continue;
    if (script !== undefined) {
      if (!(script in scripts)) found.push(`npm script "${script}" is not in package.json`);
      else if (!seen.has(script)) {
        seen.add(script);
        found.push(...problems(scripts[script] ?? '', seen));
      }
      continue;
    }
    for (const w of words) {
      if (!/^(\.\/|scripts\/|\.ci\/|bin\/)/.test(w)) continue;
      if (!existsSync(path.join(REPO_ROOT, w))) found.push(`file ${w} does not exist`);
    }
  }
  return found;
}

/** The packages `scripts/install-deps.sh MODE` installs, from its `MODE) packages=(...)` line. */
function packagesOf(mode: 'demo' | 'test'): string[] {
  const m = new RegExp(`\\b${mode}\\)\\s*packages=\\(([^)]*)\\)`).exec(installDeps);
  expect(m, `install-deps.sh has a package list for ${mode}`).not.toBeNull();
  return (m?.[1] ?? '').trim().split(/\s+/);
}

describe('README Quick start', () => {
  it('is exactly two commands, each of which exists', () => {
    const commands = quickStartCommands();
    expect(commands).toHaveLength(2);
    for (const c of commands) expect(problems(c), c).toEqual([]);
  });

  it('installs and starts the demo first, installs and runs the tests second', () => {
    const expand = (c: string) => {
      const name = /^npm run (\S+)$/.exec(c)?.[1];
      return name ? (scripts[name] ?? '') : c;
    };
    const [demo, tests] = quickStartCommands().map(expand);
    expect(demo).toMatch(/install-deps\.sh demo\b/);
    expect(demo).toMatch(/npm run demo\b|scripts\/demo\.ts/);
    expect(tests).toMatch(/install-deps\.sh test\b/);
    expect(tests).toMatch(/&& npm test$/);
  });

  it('is what .ci/run runs', () => {
    const ci = readFileSync(path.join(REPO_ROOT, '.ci', 'run'), 'utf8').split('\n');
    expect(ci).toContain(quickStartCommands()[1]);
  });

  it('names every package the install script installs', () => {
    const section = quickStartSection();
    for (const p of [...packagesOf('demo'), ...packagesOf('test')]) expect(section).toContain(`\`${p}\``);
  });

  it('refers to an executable install script', () => {
    expect(() =>
      accessSync(path.join(REPO_ROOT, 'scripts', 'install-deps.sh'), constants.X_OK),
    ).not.toThrow();
  });
});

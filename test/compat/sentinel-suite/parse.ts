/**
 * Reads what Redis's Sentinel test suite (tests/instances.tcl) prints for one unit. A test prints
 * `HH:MM:SS> <description>: ` and then, on the same line, `OK`, `FAILED: <assertion>` or (an
 * error that is not an assertion) `FAILED: caught an error in the test <error>`. An error outside
 * any test prints only the latter, on a line of its own. The run ends with `GOOD! No errors.` or
 * `WARNING <n> test(s) failed.` and exits 0 or 1. Pure.
 */

export interface UnitResult {
  unit: string;
  passed: boolean;
  testsPassed: number;
  testsFailed: number;
  /** Each failed test (or `(unit)` for an error outside a test) and why, in order. */
  failures: { test: string; reason: string }[];
  timedOut: boolean;
  ms: number;
}

const TEST_LINE = /^\d\d:\d\d:\d\d> (.*?): (OK|FAILED: (.*))$/;
const LOOSE_ERROR = /^FAILED: caught an error in the test (.+)$/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: colours are ANSI escapes
const ANSI = /\u001b\[[0-9;]*m/g;

export function parseUnitOutput(
  unit: string,
  output: string,
  run: { exitCode: number | null; timedOut: boolean; ms: number },
): UnitResult {
  let testsPassed = 0;
  let testsFailed = 0;
  const failures: UnitResult['failures'] = [];
  let lastHeader: string | null = null;
  for (const raw of output.split('\n')) {
    const line = raw.replace(ANSI, '').trimEnd();
    const t = TEST_LINE.exec(line);
    if (t) {
      if (t[2] === 'OK') testsPassed++;
      else {
        testsFailed++;
        failures.push({ test: t[1]!, reason: (t[3] ?? '').replace(/^caught an error in the test /, '') });
      }
      lastHeader = null;
      continue;
    }
    const header = /^\d\d:\d\d:\d\d> (.*?):$/.exec(line);
    if (header) {
      // A test that never finished its line (the run was stopped inside it).
      lastHeader = header[1]!;
      continue;
    }
    const loose = LOOSE_ERROR.exec(line);
    // An error with a reason outside any test (the empty one follows an assertion already counted).
    if (loose && failures.length === 0) failures.push({ test: '(unit)', reason: loose[1]! });
  }
  if (lastHeader !== null) {
    testsFailed++;
    failures.push({
      test: lastHeader,
      reason: run.timedOut ? 'did not finish (unit stopped)' : 'did not finish',
    });
  }
  if (run.timedOut && failures.length === 0)
    failures.push({ test: '(unit)', reason: 'stopped: no output for too long' });
  if (!run.timedOut && run.exitCode !== 0 && failures.length === 0) {
    const tail = output.replace(ANSI, '').trim().split('\n').slice(-3).join(' | ');
    failures.push({ test: '(unit)', reason: `exit code ${run.exitCode}: ${tail}` });
  }
  const passed = !run.timedOut && run.exitCode === 0 && failures.length === 0;
  return { unit, passed, testsPassed, testsFailed, failures, timedOut: run.timedOut, ms: run.ms };
}

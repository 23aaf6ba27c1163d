import { describe, expect, it } from 'vitest';
import { parseUnitOutput } from '../../compat/sentinel-suite/parse.js';

const ok = { exitCode: 0, timedOut: false, ms: 1000 };

describe("reading the Sentinel suite's output for one unit", () => {
  it('counts passed tests and passes the unit that ended well', () => {
    const out = [
      'Starting sentinel #0 at port 20000',
      'Testing unit: 05-manual.tcl',
      '21:00:01> (init) Remove old master entry from sentinels: OK',
      '21:00:02> Manual failover works: \u001b[0;32mOK\u001b[0m',
      'Cleaning up...',
      'GOOD! No errors.',
    ].join('\n');
    const r = parseUnitOutput('05-manual.tcl', out, ok);
    expect(r).toMatchObject({ passed: true, testsPassed: 2, testsFailed: 0, failures: [] });
  });

  it('an assertion failure counts once, with its message, though the suite prints FAILED twice', () => {
    const out = [
      '21:00:01> (init) Sentinels can start monitoring a master: OK',
      '21:00:03> (init) Sentinels are able to auto-discover slaves: FAILED: Not all slaves discovered',
      '(Jumping to next unit after error)',
      'FAILED: caught an error in the test ',
      'WARNING 2 test(s) failed.',
    ].join('\n');
    const r = parseUnitOutput('01-conf-update.tcl', out, { ...ok, exitCode: 1 });
    expect(r.passed).toBe(false);
    expect(r.testsPassed).toBe(1);
    expect(r.testsFailed).toBe(1);
    expect(r.failures).toEqual([
      { test: '(init) Sentinels are able to auto-discover slaves', reason: 'Not all slaves discovered' },
    ]);
  });

  it('an error reply inside a test is a failure of that test, with the error', () => {
    const out =
      '21:00:01> SENTINEL SET with scripts: FAILED: caught an error in the test ERR Reconfiguration of scripts path is denied\n' +
      '    while executing\nWARNING 1 test(s) failed.\n';
    const r = parseUnitOutput('03-runtime-reconf.tcl', out, { ...ok, exitCode: 1 });
    expect(r.failures).toEqual([
      { test: 'SENTINEL SET with scripts', reason: 'ERR Reconfiguration of scripts path is denied' },
    ]);
  });

  it('a unit stopped inside a test fails that test; one that failed with no test line says why', () => {
    const hung = parseUnitOutput('06-ckquorum.tcl', '21:00:01> CKQUORUM detects failed quorum: ', {
      exitCode: null,
      timedOut: true,
      ms: 300_000,
    });
    expect(hung).toMatchObject({ passed: false, testsFailed: 1, timedOut: true });
    expect(hung.failures[0]!.test).toBe('CKQUORUM detects failed quorum');
    const aborted = parseUnitOutput('00-base.tcl', 'WARNING: Aborting the test.\n>>>>>>>> Starting failed', {
      ...ok,
      exitCode: 1,
    });
    expect(aborted.passed).toBe(false);
    expect(aborted.failures[0]!.reason).toMatch(/exit code 1: .*Starting failed/);
  });
});

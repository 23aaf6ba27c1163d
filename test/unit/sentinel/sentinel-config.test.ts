/**
 * SENTINEL CONFIG GET/SET on a raftinel daemon: every parameter either does what it says or a SET
 * that would need it is refused, saying why (src/sentinel/sentinel-config.ts). In particular
 * sentinel-user/sentinel-pass: daemons never reach each other through the Sentinel port.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ReplyError } from '../../../src/sentinel/command-table.js';
import { SentinelConfig } from '../../../src/sentinel/sentinel-config.js';
import type { SentinelServer } from '../../../src/sentinel/server.js';
import { err, RawClient, simple } from './helpers.js';
import { startDaemonLikePort } from './port-fixture.js';

function refusal(f: () => void): string {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(ReplyError);
    return (e as ReplyError).text;
  }
  throw new Error('expected a refusal');
}

describe('SentinelConfig', () => {
  it("GET: Sentinel 7.0's parameters in its order, then loglevel from the daemon's log level", () => {
    const c = new SentinelConfig({ logLevel: () => 'info' });
    expect(c.get(['*']).map(([k]) => k)).toEqual([
      'resolve-hostnames',
      'announce-hostnames',
      'announce-ip',
      'announce-port',
      'sentinel-user',
      'sentinel-pass',
      'loglevel',
    ]);
    expect(c.get(['loglevel'])).toEqual([['loglevel', 'notice']]);
    expect(new SentinelConfig({ logLevel: () => 'debug' }).get(['LOGLEVEL'])).toEqual([
      ['loglevel', 'debug'],
    ]);
    expect(c.get(['announce-*', 'announce-ip'])).toEqual([
      ['announce-hostnames', 'no'],
      ['announce-ip', ''],
      ['announce-port', '0'],
    ]);
  });

  it('sentinel-user / sentinel-pass: only "" (no credentials) is true of raftinel', () => {
    const c = new SentinelConfig();
    c.set(['sentinel-user', '', 'sentinel-pass', '']);
    expect(refusal(() => c.set(['sentinel-user', 'testuser']))).toMatch(
      /^ERR SENTINEL CONFIG SET 'sentinel-user' 'testuser' is not supported by raftinel: raftinel daemons reach each other over gRPC/,
    );
    expect(refusal(() => c.set(['sentinel-pass', 'secret']))).toMatch(/never through the Sentinel port/);
    expect(c.get(['sentinel-*'])).toEqual([
      ['sentinel-user', ''],
      ['sentinel-pass', ''],
    ]);
  });

  it('announce-ip / announce-port: only the defaults; loglevel: only the current level', () => {
    const c = new SentinelConfig({ logLevel: () => 'info' });
    c.set(['announce-ip', '', 'announce-port', '0', 'loglevel', 'notice']);
    expect(refusal(() => c.set(['announce-ip', '10.0.0.1']))).toMatch(/\[sentinel\] advertise/);
    expect(refusal(() => c.set(['announce-port', '26380']))).toMatch(/\[sentinel\] advertise/);
    expect(refusal(() => c.set(['announce-port', 'x']))).toBe(
      "ERR Invalid value 'x' to SENTINEL CONFIG SET 'announce-port'",
    );
    expect(refusal(() => c.set(['loglevel', 'debug']))).toMatch(/log_level/);
    expect(refusal(() => c.set(['loglevel', 'loud']))).toBe(
      "ERR Invalid value 'loud' to SENTINEL CONFIG SET 'loglevel'",
    );
  });

  it('resolve-hostnames / announce-hostnames take yes or no; checks come before any change', () => {
    const c = new SentinelConfig();
    c.set(['resolve-hostnames', 'YES']);
    expect(c.get(['resolve-hostnames'])).toEqual([['resolve-hostnames', 'yes']]);
    expect(refusal(() => c.set(['announce-hostnames', 'maybe']))).toBe(
      "ERR Invalid value 'maybe' to SENTINEL CONFIG SET 'announce-hostnames'",
    );
    expect(refusal(() => c.set(['resolve-hostnames', 'no', 'sentinel-user', 'x']))).toMatch(/not supported/);
    expect(c.get(['resolve-hostnames'])).toEqual([['resolve-hostnames', 'yes']]);
    expect(refusal(() => c.set(['foo', 'bar']))).toBe("ERR Invalid argument 'foo' to SENTINEL CONFIG SET");
    expect(refusal(() => c.set(['resolve-hostnames']))).toBe('ERR Missing argument');
  });
});

let server: SentinelServer | null = null;
let client: RawClient | null = null;
afterEach(async () => {
  client?.close();
  client = null;
  await server?.close();
  server = null;
});

describe('SENTINEL CONFIG on the port', () => {
  it('answers as Sentinel for the forms it has', async () => {
    server = await startDaemonLikePort();
    client = await RawClient.connect(server.port);
    const only = err('ERR Only SENTINEL CONFIG GET <option> / SET <option> <value> are supported.');
    expect(await client.call('SENTINEL', 'CONFIG', 'GET')).toBe(only);
    expect(await client.call('SENTINEL', 'CONFIG', 'SET', 'x')).toBe(err('ERR Missing argument'));
    expect(await client.call('SENTINEL', 'CONFIG', 'FOO', 'x')).toBe(only);
    expect(await client.call('SENTINEL', 'CONFIG', 'SET', 'sentinel-user', '')).toBe(simple('OK'));
    expect(await client.call('SENTINEL', 'CONFIG', 'SET', 'sentinel-user', 'u')).toMatch(
      /^-ERR .*not supported by raftinel/,
    );
    expect(await client.call('SENTINEL', 'CONFIG', 'GET', 'sentinel-user')).toBe(
      '*2\r\n$13\r\nsentinel-user\r\n$0\r\n\r\n',
    );
  });
});

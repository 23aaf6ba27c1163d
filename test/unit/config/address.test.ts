import { describe, expect, it } from 'vitest';
import {
  addressProblem,
  formatAddress,
  isWildcardHost,
  listenersConflict,
  parseAddress,
} from '../../../src/config/address.js';

describe('addresses', () => {
  it('parses IPv4, host names and bracketed IPv6', () => {
    expect(parseAddress('127.0.0.1:6379')).toEqual({ host: '127.0.0.1', port: 6379 });
    expect(parseAddress('redis-1.example.com:26379')).toEqual({ host: 'redis-1.example.com', port: 26379 });
    expect(parseAddress('[::1]:27379')).toEqual({ host: '::1', port: 27379 });
    expect(parseAddress('[fe80::1]:1')).toEqual({ host: 'fe80::1', port: 1 });
  });

  it('formats IPv6 hosts in brackets', () => {
    expect(formatAddress('::1', 6379)).toBe('[::1]:6379');
    expect(formatAddress('10.0.0.1', 6379)).toBe('10.0.0.1:6379');
  });

  it.each([
    ['127.0.0.1', 'no port'],
    ['127.0.0.1:', 'no port'],
    [':6379', 'no host'],
    ['127.0.0.1:0', 'out of range'],
    ['127.0.0.1:65536', 'out of range'],
    ['127.0.0.1:63a', 'not a number'],
    ['300.0.0.1:6379', 'not an IPv4 address'],
    ['bad host:6379', 'not a valid host name'],
    ['::1:6379', 'IPv6 addresses go in brackets: [::1]:6379'],
    ['::1', 'IPv6 addresses go in brackets, with a port'],
    ['[::1]', 'no port'],
    ['[::1', 'missing "]"'],
    ['[::g]:6379', '"::g" is not an IPv6 address'],
    ['[::1]6379', 'expected ":"'],
    [' 127.0.0.1:6379', 'spaces'],
    ['', 'empty'],
  ])('rejects %j (%s)', (text, reason) => {
    expect(addressProblem(text)).toContain(reason);
    expect(() => parseAddress(text)).toThrow();
  });

  it('knows the wildcard hosts', () => {
    expect(isWildcardHost('0.0.0.0')).toBe(true);
    expect(isWildcardHost('::')).toBe(true);
    expect(isWildcardHost('0:0:0:0:0:0:0:0')).toBe(true);
    expect(isWildcardHost('127.0.0.1')).toBe(false);
    expect(isWildcardHost('::1')).toBe(false);
    expect(isWildcardHost('localhost')).toBe(false);
  });

  it('sees listeners on the same port as conflicting when a host matches or is a wildcard', () => {
    const a = (s: string) => parseAddress(s);
    expect(listenersConflict(a('127.0.0.1:1'), a('127.0.0.1:1'))).toBe(true);
    expect(listenersConflict(a('0.0.0.0:1'), a('10.0.0.1:1'))).toBe(true);
    expect(listenersConflict(a('[::]:1'), a('127.0.0.1:1'))).toBe(true);
    expect(listenersConflict(a('127.0.0.1:1'), a('127.0.0.2:1'))).toBe(false);
    expect(listenersConflict(a('127.0.0.1:1'), a('127.0.0.1:2'))).toBe(false);
  });
});

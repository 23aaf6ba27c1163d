/**
 * `host:port` addresses as the config file writes them: IPv4, a hostname, or an IPv6 literal in
 * brackets (`[::1]:26379`), and a port from 1 to 65535.
 */
import { isIPv4, isIPv6 } from 'node:net';

export interface HostPort {
  /** The host without brackets: `127.0.0.1`, `redis-1.example`, `::1`. */
  host: string;
  port: number;
}

const HOST_LABEL = /^[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$/;

/**
 * Why `text` is not a valid `host:port`, or null when it is. The reason is a short phrase meant to
 * follow "expected host:port, got "...": ".
 */
export function addressProblem(text: string): string | null {
  const parsed = splitAddress(text);
  return typeof parsed === 'string' ? parsed : null;
}

/** Parses `host:port`; throws on anything `addressProblem` rejects. */
export function parseAddress(text: string): HostPort {
  const parsed = splitAddress(text);
  if (typeof parsed === 'string') throw new Error(`invalid address "${text}": ${parsed}`);
  return parsed;
}

/** `host:port`, with brackets around an IPv6 host. */
export function formatAddress(host: string, port: number): string {
  return isIPv6(host) ? `[${host}]:${port}` : `${host}:${port}`;
}

/** True for the any-address hosts (`0.0.0.0`, `::`) that a server can bind but nobody can dial. */
export function isWildcardHost(host: string): boolean {
  if (isIPv4(host)) return host === '0.0.0.0';
  if (isIPv6(host)) return /^[0:]+$/.test(host);
  return false;
}

/** A key under which two spellings of the same address compare equal (host case, brackets). */
export function addressKey(addr: HostPort): string {
  return `${addr.host.toLowerCase()}|${addr.port}`;
}

/** True when two listeners would fight over the same port: same port, and same or wildcard host. */
export function listenersConflict(a: HostPort, b: HostPort): boolean {
  if (a.port !== b.port) return false;
  return isWildcardHost(a.host) || isWildcardHost(b.host) || a.host.toLowerCase() === b.host.toLowerCase();
}

function splitAddress(text: string): HostPort | string {
  if (text.trim() !== text) return 'has leading or trailing spaces';
  if (text === '') return 'empty';
  let host: string;
  let portText: string;
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close < 0) return 'missing "]" after the IPv6 address';
    host = text.slice(1, close);
    const rest = text.slice(close + 1);
    if (rest === '') return 'no port (write [host]:port)';
    if (!rest.startsWith(':')) return 'expected ":" and a port after "]"';
    portText = rest.slice(1);
    if (!isIPv6(host)) return `"${host}" is not an IPv6 address`;
  } else {
    const colon = text.lastIndexOf(':');
    if (colon < 0) return 'no port';
    host = text.slice(0, colon);
    portText = text.slice(colon + 1);
    if (host.includes(':')) {
      // "::1:6379" is most likely host ::1 and port 6379; "::1" alone lacks a port.
      if (isIPv6(host) && /^\d+$/.test(portText))
        return `IPv6 addresses go in brackets: [${host}]:${portText}`;
      if (isIPv6(text)) return `IPv6 addresses go in brackets, with a port: [${text}]:port`;
      return 'too many ":"';
    }
    if (host === '') return 'no host';
    const hostProblem = hostnameProblem(host);
    if (hostProblem) return hostProblem;
  }
  if (portText === '') return 'no port';
  if (!/^\d+$/.test(portText)) return `port "${portText}" is not a number`;
  const port = Number(portText);
  if (port < 1 || port > 65535) return `port ${portText} is out of range (1 to 65535)`;
  return { host, port };
}

function hostnameProblem(host: string): string | null {
  if (/^[\d.]+$/.test(host)) return isIPv4(host) ? null : `"${host}" is not an IPv4 address`;
  if (host.length > 253) return 'host name longer than 253 characters';
  for (const label of host.split('.')) {
    if (!HOST_LABEL.test(label)) return `"${host}" is not a valid host name`;
  }
  return null;
}

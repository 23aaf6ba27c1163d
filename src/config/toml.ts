/** Reading TOML into plain values the schema can check, and describing values in messages. */
import { parse, TomlDate, TomlError } from 'smol-toml';

/**
 * A TOML float. No config key takes a float, and JavaScript cannot tell `100.0` from `100`, so
 * floats are kept apart from integers: `heartbeat_ms = 100.0` is reported, not read as 100.
 */
export class TomlFloat {
  constructor(readonly value: number) {}

  toString(): string {
    if (Number.isNaN(this.value)) return 'nan';
    if (!Number.isFinite(this.value)) return this.value > 0 ? 'inf' : '-inf';
    return Number.isInteger(this.value) ? this.value.toFixed(1) : String(this.value);
  }
}

export type ParsedToml = { ok: true; table: Record<string, unknown> } | SyntaxProblem;
export interface SyntaxProblem {
  ok: false;
  line: number;
  column: number;
  message: string;
}

/**
 * Parses a TOML document. Integers become numbers (or bigints beyond 2^53, which every integer
 * check rejects), floats TomlFloat, tables plain objects; dates stay TomlDate.
 */
export function parseToml(text: string): ParsedToml {
  let raw: Record<string, unknown>;
  try {
    raw = parse(text, { integersAsBigInt: true, unsafeKeyBehaviour: 'keep' });
  } catch (err) {
    if (err instanceof TomlError) {
      const first = err.message.split('\n')[0] ?? err.message;
      const message = first.replace(/^Invalid TOML document:\s*/, '') || 'invalid TOML';
      return { ok: false, line: err.line, column: err.column, message };
    }
    throw err;
  }
  return { ok: true, table: normalize(raw) as Record<string, unknown> };
}

function normalize(value: unknown): unknown {
  if (typeof value === 'bigint') {
    return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER)
      ? Number(value)
      : value;
  }
  if (typeof value === 'number') return new TomlFloat(value);
  if (Array.isArray(value)) return value.map(normalize);
  if (value instanceof TomlDate || value instanceof Date) return value;
  if (typeof value === 'object' && value !== null) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      // defineProperty, not assignment: a key named __proto__ must stay a key (and be reported).
      Object.defineProperty(out, k, {
        value: normalize(v),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
    return out;
  }
  return value;
}

/** True for a TOML table (after parseToml) or a plain object. */
export function isTable(value: unknown): value is Record<string, unknown> {
  return (
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    Object.getPrototypeOf(value) === Object.prototype
  );
}

/** A value as it would be written in TOML, for "got ..." in messages. */
export function showValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean')
    return String(value);
  if (value instanceof TomlFloat) return value.toString();
  if (value instanceof TomlDate) return value.toISOString();
  if (value instanceof Date) return value.toISOString();
  return typeName(value);
}

/** "a string", "an integer", ... : what is shown instead of a secret's value. */
export function typeName(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (typeof value === 'string') return 'a string';
  if (typeof value === 'number' || typeof value === 'bigint') return 'an integer';
  if (typeof value === 'boolean') return 'a boolean';
  if (value instanceof TomlFloat) return 'a float';
  if (value instanceof Date) return 'a date';
  if (Array.isArray(value)) return 'an array';
  if (isTable(value)) return 'a table';
  return typeof value;
}

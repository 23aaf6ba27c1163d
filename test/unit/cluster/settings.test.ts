/**
 * The settings table and the rules across settings: every spelling names one setting, bounds and
 * defaults hold, and a change that would promote a new master before the old one is fenced is
 * refused (lease_ms + election_timeout_ms <= down_after_ms), whatever path proposes it.
 */
import { describe, expect, it } from 'vitest';
import { decodeCommand, encodeCommand } from '../../../src/cluster/commands.js';
import {
  changeSettings,
  DEFAULT_SHARD_SETTINGS,
  defaultSettings,
  findSentinelSetting,
  findSetting,
  GUARD_MAX_LAG_MIN_S,
  newShardSettings,
  parseSettingsInput,
  ruleNaming,
  SettingsRuleError,
  SHARD_SETTINGS,
  settingsByName,
  settingsRuleViolations,
  settingValueProblem,
  withAbsentSettings,
} from '../../../src/cluster/settings.js';
import { DEFAULTS } from '../../../src/config/types.js';
import { shardSettings } from '../../support/shard-settings.js';

const ET = 1000;

describe('the settings table', () => {
  it('names each setting once in every spelling, with a default inside its bounds', () => {
    const seen = new Set<string>();
    for (const s of SHARD_SETTINGS) {
      for (const n of new Set([s.key.toLowerCase(), s.name, s.sentinel])) {
        expect(seen.has(n), n).toBe(false);
        seen.add(n);
      }
      expect(s.default).toBeGreaterThanOrEqual(s.min);
      expect(s.default).toBeLessThanOrEqual(s.max);
      expect(findSetting(s.key)).toBe(s);
      expect(findSetting(s.name)).toBe(s);
      expect(findSetting(s.sentinel)).toBe(s);
      expect(findSentinelSetting(s.sentinel.toUpperCase())).toBe(s);
    }
    expect(findSetting('down-after-milliseconds')?.key).toBe('downAfterMs');
    expect(findSetting('DOWN_AFTER_MS')?.key).toBe('downAfterMs');
    expect(findSetting('down_after')).toBeUndefined();
    // SENTINEL SET takes Sentinel names only.
    expect(findSentinelSetting('down_after_ms')).toBeUndefined();
  });

  it("keeps today's defaults, which satisfy the rules with the default election timeout", () => {
    expect(DEFAULT_SHARD_SETTINGS).toEqual({
      downAfterMs: 3000,
      leaseMs: 2000,
      maxLagBytes: 1_048_576,
      switchoverPauseMs: 2000,
      failoverTimeoutMs: 180_000,
      quorum: 2,
      parallelSyncs: 1,
      minReplicasToWrite: 1,
      minReplicasMaxLagSeconds: 2,
      masterRebootDownAfterMs: 0,
    });
    expect(settingsRuleViolations(DEFAULT_SHARD_SETTINGS, DEFAULTS.raft.electionTimeoutMs)).toEqual([]);
    expect(DEFAULTS.failover).toEqual({ ...DEFAULT_SHARD_SETTINGS, failoverParallelism: 4 });
  });

  it('a setting added later: old shard.create entries decode with its fixed value; a partial change never sets it', () => {
    const { masterRebootDownAfterMs: _m, ...old } = DEFAULT_SHARD_SETTINGS;
    const create = { v: 1, t: 'shard.create', name: 's', master: null, nodes: [], settings: old, atMs: 0 };
    const c = decodeCommand(new TextEncoder().encode(JSON.stringify(create)));
    expect(c.t === 'shard.create' && c.settings.masterRebootDownAfterMs).toBe(0);
    const change = { v: 1, t: 'shard.settings', name: 's', settings: { quorum: 3 } };
    expect(decodeCommand(new TextEncoder().encode(JSON.stringify(change)))).toMatchObject({
      settings: { quorum: 3 },
    });
    expect(
      Object.keys(
        (decodeCommand(new TextEncoder().encode(JSON.stringify(change))) as { settings: object }).settings,
      ),
    ).toEqual(['quorum']);
    expect(withAbsentSettings(old)).toEqual(DEFAULT_SHARD_SETTINGS);
  });

  it('parses settings given in any spelling, within bounds, each at most once', () => {
    expect(
      parseSettingsInput({ 'down-after-milliseconds': 5000, lease_ms: 2000, minReplicasToWrite: 1 }),
    ).toEqual({ settings: { downAfterMs: 5000, leaseMs: 2000, minReplicasToWrite: 1 }, problems: [] });
    const r = parseSettingsInput({
      down_after_ms: 5000,
      'down-after-milliseconds': 6000,
      quorum: 0,
      failover_timeout_ms: 2_147_483_648,
      max_lag_bytes: 1.5,
      lease_ms: '2000',
      down_after: 1,
    });
    expect(r.settings).toEqual({ downAfterMs: 5000 });
    expect(r.problems.map((p) => p.name)).toEqual([
      'down-after-milliseconds',
      'quorum',
      'failover_timeout_ms',
      'max_lag_bytes',
      'lease_ms',
      'down_after',
    ]);
    expect(r.problems[0]!.message).toBe('names the same setting as "down_after_ms"');
    expect(r.problems[2]!.message).toBe(
      'expected a positive integer (ms) from 1 to 2147483647, got 2147483648',
    );
    expect(r.problems[5]!.message).toMatch(/^unknown setting; known: down_after_ms, lease_ms, /);
    expect(settingValueProblem(SHARD_SETTINGS[2], 0)).toBeNull();
  });

  it('fills a new shard from given defaults, taking the table default for a missing or invalid one', () => {
    // A registration from an older daemon sends only some keys.
    expect(defaultSettings({ downAfterMs: 9000, leaseMs: 3000, quorum: 0 } as never)).toEqual({
      ...DEFAULT_SHARD_SETTINGS,
      downAfterMs: 9000,
      leaseMs: 3000,
    });
    expect(defaultSettings(DEFAULTS.failover)).toEqual(DEFAULT_SHARD_SETTINGS);
    expect(settingsByName({ downAfterMs: 1, minReplicasMaxLagSeconds: 2 })).toEqual({
      down_after_ms: 1,
      min_replicas_max_lag: 2,
    });
  });

  it('decodes committed settings with every key of the table', () => {
    const cmd = { t: 'shard.settings' as const, name: 'm', settings: { downAfterMs: 5000, quorum: 1 } };
    expect(decodeCommand(encodeCommand(cmd))).toEqual(cmd);
    expect(() =>
      decodeCommand(encodeCommand({ t: 'shard.settings', name: 'm', settings: { quorum: 0 } })),
    ).toThrow(/quorum/);
    // min_replicas_max_lag 1 was accepted before its bound rose to 2: committed, it still decodes.
    const old = { t: 'shard.settings' as const, name: 'm', settings: { minReplicasMaxLagSeconds: 1 } };
    expect(decodeCommand(encodeCommand(old))).toEqual(old);
  });

  it('refuses a write guard max-lag below 2 s (with 1 a healthy master refuses writes now and then)', () => {
    expect(DEFAULT_SHARD_SETTINGS.minReplicasMaxLagSeconds).toBeGreaterThanOrEqual(GUARD_MAX_LAG_MIN_S);
    const r = parseSettingsInput({ 'min-replicas-max-lag': 1 });
    expect(r.settings).toEqual({});
    expect(r.problems).toEqual([
      { name: 'min-replicas-max-lag', message: expect.stringMatching(/from 2 to .*got 1$/) },
    ]);
  });
});

describe('the rules across settings', () => {
  const ok = shardSettings({ downAfterMs: 5000, leaseMs: 2000 });

  it('refuses a down_after_ms below lease_ms + election_timeout_ms, naming the rule and the values', () => {
    let caught: unknown;
    try {
      changeSettings(ok, { downAfterMs: 2500 }, ET);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(SettingsRuleError);
    const e = caught as SettingsRuleError;
    expect(e.rules).toEqual(['fenced-before-promotion']);
    expect(e.violations[0]!.values).toEqual({ leaseMs: 2000, electionTimeoutMs: 1000, downAfterMs: 2500 });
    expect(e.message).toBe(
      'lease_ms (2000) + raft.election_timeout_ms (1000) = 3000 must be at most down_after_ms (2500): a master ' +
        'cut off from the majority must be fenced before the majority can declare it down and promote another ' +
        '(lower lease_ms or raft.election_timeout_ms, or raise down_after_ms)',
    );
  });

  it('refuses a lease_ms that is longer than down_after_ms allows or shorter than an election', () => {
    expect(() => changeSettings(ok, { leaseMs: 4001 }, ET)).toThrow(SettingsRuleError);
    expect(() => changeSettings(ok, { leaseMs: 999 }, ET)).toThrow(/lease_ms \(999\) must be at least/);
    expect(() => changeSettings(ok, { leaseMs: 999 }, ET, ruleNaming('sentinel'))).toThrow(
      /^lease-ms \(999\) must be at least raft\.election_timeout_ms \(1000\)/,
    );
  });

  it('accepts changes that keep the rules, judged on the result of the whole change', () => {
    expect(changeSettings(ok, { leaseMs: 4000 }, ET)).toEqual({ ...ok, leaseMs: 4000 });
    expect(changeSettings(ok, { downAfterMs: 3000 }, ET).downAfterMs).toBe(3000);
    expect(changeSettings(ok, { downAfterMs: 20_000, leaseMs: 15_000 }, ET)).toMatchObject({
      downAfterMs: 20_000,
      leaseMs: 15_000,
    });
    expect(changeSettings(ok, { quorum: 1 }, ET).quorum).toBe(1);
  });

  it('on a shard that already breaks a rule (an older leader, a longer election timeout), takes steps towards it and other settings, never a step away', () => {
    const broken = shardSettings({ downAfterMs: 2500, leaseMs: 2000 });
    expect(changeSettings(broken, { quorum: 1 }, ET).quorum).toBe(1);
    expect(changeSettings(broken, { downAfterMs: 2800 }, ET).downAfterMs).toBe(2800);
    expect(() => changeSettings(broken, { downAfterMs: 2400 }, ET)).toThrow(SettingsRuleError);
    expect(() => changeSettings(broken, { leaseMs: 2100 }, ET)).toThrow(SettingsRuleError);
  });

  it('checks a new shard: its given settings over the defaults', () => {
    const defaults = shardSettings({ downAfterMs: 3000, leaseMs: 2000 });
    expect(newShardSettings(defaults, { quorum: 1 }, ET).quorum).toBe(1);
    expect(() => newShardSettings(defaults, { downAfterMs: 2000 }, ET)).toThrow(
      /must be at most down_after_ms/,
    );
  });

  it('checks only the rules whose inputs are known (the config file with a broken key)', () => {
    expect(settingsRuleViolations({ leaseMs: 500 }, undefined)).toEqual([]);
    expect(settingsRuleViolations({ leaseMs: 500 }, 1000).map((v) => v.rule)).toEqual([
      'lease-covers-election',
    ]);
    expect(settingsRuleViolations({ leaseMs: 500, downAfterMs: 1000 }, 1000).map((v) => v.rule)).toEqual([
      'lease-covers-election',
      'fenced-before-promotion',
    ]);
  });
});

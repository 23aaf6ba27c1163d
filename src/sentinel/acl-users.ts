/**
 * Where the Sentinel port's ACL users live: an AclStore holds the committed records (in the
 * daemon, the replicated ClusterState, changed through the Raft log; in tests, memory), and the
 * AclDirectory is what the port reads: those records compiled against its command table, with the
 * default user from `[sentinel] requirepass` until an ACL SETUSER default is committed.
 */
import {
  type AclCommandIndex,
  AclUser,
  type AclUserRecord,
  applyAclRules,
  defaultUserRecord,
} from './acl.js';

/** The outcome of a compare-and-set put. */
export type AclPutResult = 'ok' | 'conflict';

export interface AclStore {
  /** Committed users by name (the default user only once it was changed). */
  users(): ReadonlyMap<string, AclUserRecord>;
  /** Raised by every committed change; what put() compares against. */
  revision(): number;
  /** Bring this view up to everything committed now (a read barrier). Rejects when it cannot. */
  sync(): Promise<void>;
  /** Put `user` if the users are still at `revision`; resolves once the change is visible here. */
  put(user: AclUserRecord, revision: number): Promise<AclPutResult>;
  /** Delete a user; resolves (true if it existed) once the change is visible here. */
  remove(name: string): Promise<boolean>;
  /** Called after every change of the users (applied or restored). Returns an unsubscribe. */
  onChange(listener: () => void): () => void;
}

/** An AclStore in memory: a one-process Sentinel port (tests, tools). */
export class MemoryAclStore implements AclStore {
  private readonly records = new Map<string, AclUserRecord>();
  private rev = 0;
  private listeners: (() => void)[] = [];

  users(): ReadonlyMap<string, AclUserRecord> {
    return this.records;
  }

  revision(): number {
    return this.rev;
  }

  async sync(): Promise<void> {}

  async put(user: AclUserRecord, revision: number): Promise<AclPutResult> {
    if (revision !== this.rev) return 'conflict';
    this.records.set(user.name, user);
    this.rev++;
    this.emit();
    return 'ok';
  }

  async remove(name: string): Promise<boolean> {
    if (!this.records.delete(name)) return false;
    this.rev++;
    this.emit();
    return true;
  }

  onChange(listener: () => void): () => void {
    this.listeners.push(listener);
    return () => {
      this.listeners = this.listeners.filter((l) => l !== listener);
    };
  }

  private emit(): void {
    for (const l of this.listeners) l();
  }
}

/** The users as the port uses them: compiled records, plus the configured default user. */
export class AclDirectory {
  private requirepass: string | undefined;
  private configDefault: { index: AclCommandIndex; record: AclUserRecord } | null = null;
  private readonly compiled = new Map<
    string,
    { record: AclUserRecord; index: AclCommandIndex; user: AclUser }
  >();

  constructor(
    readonly store: AclStore,
    /** The port's command table as the rules see it (rebuilt when the table changes). */
    private readonly index: () => AclCommandIndex,
    requirepass?: string,
  ) {
    this.requirepass = requirepass;
  }

  /** `[sentinel] requirepass`: the default user's password until ACL SETUSER default is committed. */
  setRequirePass(password: string | undefined): void {
    this.requirepass = password;
    this.configDefault = null;
  }

  /** The record of `name` as this port uses it, or undefined. */
  record(name: string): AclUserRecord | undefined {
    const committed = this.store.users().get(name);
    if (committed || name !== 'default') return committed;
    const index = this.index();
    if (this.configDefault?.index !== index) {
      this.configDefault = { index, record: defaultUserRecord(index, this.requirepass) };
    }
    return this.configDefault.record;
  }

  /** `name` compiled for checks, or undefined when there is no such user. */
  user(name: string): AclUser | undefined {
    const record = this.record(name);
    if (!record) return undefined;
    const index = this.index();
    const cached = this.compiled.get(name);
    if (cached && cached.record === record && cached.index === index) return cached.user;
    const user = new AclUser(record, index);
    this.compiled.set(name, { record, index, user });
    return user;
  }

  /** The default user (always exists). */
  defaultUser(): AclUser {
    return this.user('default') as AclUser;
  }

  /** Every user name, in Redis's order (bytes). */
  names(): string[] {
    const names = new Set(this.store.users().keys());
    names.add('default');
    return [...names].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  }

  /** Redis's ACLCheckUserCredentials: the user when `password` opens it, else null. */
  authenticate(name: string, password: Buffer): AclUser | null {
    const user = this.user(name);
    return user?.checkPassword(password) ? user : null;
  }

  /** ACL SETUSER's computation: the record `rules` make of `name` (throws AclRuleError). */
  computeUser(name: string, rules: readonly string[]): AclUserRecord {
    return applyAclRules(name, this.record(name), rules, this.index());
  }

  /** Drop compiled users whose record is gone (after a change of the store). */
  prune(): void {
    for (const name of [...this.compiled.keys()]) if (!this.record(name)) this.compiled.delete(name);
  }

  /** The command table as the rules see it. */
  commandIndex(): AclCommandIndex {
    return this.index();
  }
}

/**
 * What Redis Sentinel 7.0 says about its commands, as its COMMAND INFO and COMMAND DOCS answer
 * (observed on the wire from Debian's redis-sentinel 7.0.15): the 15 commands and 57 subcommands a
 * Sentinel has, each with its arity, flags, ACL categories, tips and documentation summary.
 *
 * The Sentinel port's command table takes these descriptions over whatever a registration says
 * (CommandTable with a catalog), so that COMMAND, COMMAND COUNT/LIST/INFO/DOCS, ACL CAT and the
 * ACL rules (+@admin, ...) see exactly Sentinel's table. A command Sentinel 7.0 does not have is
 * either not registered or registered `hidden` (accepted, never listed: QUIT, CLIENT SETINFO).
 *
 * Not carried: COMMAND DOCS `history` and `arguments` (no client reads them from a Sentinel).
 */

export interface CatalogDoc {
  summary: string;
  since: string;
  group: string;
  complexity?: string;
  /** COMMAND DOCS `doc_flags` (`deprecated`). */
  docFlags?: readonly string[];
  deprecatedSince?: string;
  replacedBy?: string;
}

export interface CatalogEntry {
  /** Full name: `ping`, or `client|kill` for a subcommand. */
  name: string;
  arity: number;
  flags: readonly string[];
  categories: readonly string[];
  tips?: readonly string[];
  doc: CatalogDoc;
}

/** Redis 7.0's ACL categories, in ACL CAT's order (without the `@`). */
export const ACL_CATEGORIES: readonly string[] = [
  'keyspace',
  'read',
  'write',
  'set',
  'sortedset',
  'list',
  'hash',
  'string',
  'bitmap',
  'hyperloglog',
  'geo',
  'stream',
  'pubsub',
  'admin',
  'fast',
  'slow',
  'blocking',
  'dangerous',
  'connection',
  'transaction',
  'scripting',
];

/** Every command and subcommand of Sentinel 7.0 (containers before their subcommands). */
export const SENTINEL_7_0_COMMANDS: readonly CatalogEntry[] = [
  {
    name: 'ping',
    arity: -1,
    flags: ['fast'],
    categories: ['@fast', '@connection'],
    tips: ['request_policy:all_shards', 'response_policy:all_succeeded'],
    doc: { summary: 'Ping the server', since: '1.0.0', group: 'connection', complexity: 'O(1)' },
  },
  {
    name: 'auth',
    arity: -2,
    flags: ['noscript', 'loading', 'stale', 'fast', 'no_auth', 'allow_busy'],
    categories: ['@fast', '@connection'],
    doc: {
      summary: 'Authenticate to the server',
      since: '1.0.0',
      group: 'connection',
      complexity: 'O(N) where N is the number of passwords defined for the user',
    },
  },
  {
    name: 'hello',
    arity: -1,
    flags: ['noscript', 'loading', 'stale', 'fast', 'no_auth', 'allow_busy'],
    categories: ['@fast', '@connection'],
    doc: { summary: 'Handshake with Redis', since: '6.0.0', group: 'connection', complexity: 'O(1)' },
  },
  {
    name: 'client',
    arity: -2,
    flags: [],
    categories: ['@slow'],
    doc: {
      summary: 'A container for client connection commands',
      since: '2.4.0',
      group: 'connection',
      complexity: 'Depends on subcommand.',
    },
  },
  {
    name: 'client|id',
    arity: 2,
    flags: ['noscript', 'loading', 'stale'],
    categories: ['@slow', '@connection'],
    doc: {
      summary: 'Returns the client ID for the current connection',
      since: '5.0.0',
      group: 'connection',
      complexity: 'O(1)',
    },
  },
  {
    name: 'client|getname',
    arity: 2,
    flags: ['noscript', 'loading', 'stale'],
    categories: ['@slow', '@connection'],
    doc: {
      summary: 'Get the current connection name',
      since: '2.6.9',
      group: 'connection',
      complexity: 'O(1)',
    },
  },
  {
    name: 'client|setname',
    arity: 3,
    flags: ['noscript', 'loading', 'stale'],
    categories: ['@slow', '@connection'],
    doc: {
      summary: 'Set the current connection name',
      since: '2.6.9',
      group: 'connection',
      complexity: 'O(1)',
    },
  },
  {
    name: 'client|info',
    arity: 2,
    flags: ['noscript', 'loading', 'stale'],
    categories: ['@slow', '@connection'],
    tips: ['nondeterministic_output'],
    doc: {
      summary: 'Returns information about the current client connection.',
      since: '6.2.0',
      group: 'connection',
      complexity: 'O(1)',
    },
  },
  {
    name: 'client|list',
    arity: -2,
    flags: ['admin', 'noscript', 'loading', 'stale'],
    categories: ['@admin', '@slow', '@dangerous', '@connection'],
    tips: ['nondeterministic_output'],
    doc: {
      summary: 'Get the list of client connections',
      since: '2.4.0',
      group: 'connection',
      complexity: 'O(N) where N is the number of client connections',
    },
  },
  {
    name: 'client|kill',
    arity: -3,
    flags: ['admin', 'noscript', 'loading', 'stale'],
    categories: ['@admin', '@slow', '@dangerous', '@connection'],
    doc: {
      summary: 'Kill the connection of a client',
      since: '2.4.0',
      group: 'connection',
      complexity: 'O(N) where N is the number of client connections',
    },
  },
  {
    name: 'client|pause',
    arity: -3,
    flags: ['admin', 'noscript', 'loading', 'stale'],
    categories: ['@admin', '@slow', '@dangerous', '@connection'],
    doc: {
      summary: 'Stop processing commands from clients for some time',
      since: '2.9.50',
      group: 'connection',
      complexity: 'O(1)',
    },
  },
  {
    name: 'client|unpause',
    arity: 2,
    flags: ['admin', 'noscript', 'loading', 'stale'],
    categories: ['@admin', '@slow', '@dangerous', '@connection'],
    doc: {
      summary: 'Resume processing of clients that were paused',
      since: '6.2.0',
      group: 'connection',
      complexity: 'O(N) Where N is the number of paused clients',
    },
  },
  {
    name: 'client|reply',
    arity: 3,
    flags: ['noscript', 'loading', 'stale'],
    categories: ['@slow', '@connection'],
    doc: {
      summary: 'Instruct the server whether to reply to commands',
      since: '3.2.0',
      group: 'connection',
      complexity: 'O(1)',
    },
  },
  {
    name: 'client|tracking',
    arity: -3,
    flags: ['noscript', 'loading', 'stale'],
    categories: ['@slow', '@connection'],
    doc: {
      summary: 'Enable or disable server assisted client side caching support',
      since: '6.0.0',
      group: 'connection',
      complexity: 'O(1). Some options may introduce additional complexity.',
    },
  },
  {
    name: 'client|trackinginfo',
    arity: 2,
    flags: ['noscript', 'loading', 'stale'],
    categories: ['@slow', '@connection'],
    doc: {
      summary: 'Return information about server assisted client side caching for the current connection',
      since: '6.2.0',
      group: 'connection',
      complexity: 'O(1)',
    },
  },
  {
    name: 'client|getredir',
    arity: 2,
    flags: ['noscript', 'loading', 'stale'],
    categories: ['@slow', '@connection'],
    doc: {
      summary: 'Get tracking notifications redirection client ID if any',
      since: '6.0.0',
      group: 'connection',
      complexity: 'O(1)',
    },
  },
  {
    name: 'client|caching',
    arity: 3,
    flags: ['noscript', 'loading', 'stale'],
    categories: ['@slow', '@connection'],
    doc: {
      summary: 'Instruct the server about tracking or not keys in the next request',
      since: '6.0.0',
      group: 'connection',
      complexity: 'O(1)',
    },
  },
  {
    name: 'client|unblock',
    arity: -3,
    flags: ['admin', 'noscript', 'loading', 'stale'],
    categories: ['@admin', '@slow', '@dangerous', '@connection'],
    doc: {
      summary: 'Unblock a client blocked in a blocking command from a different connection',
      since: '5.0.0',
      group: 'connection',
      complexity: 'O(log N) where N is the number of client connections',
    },
  },
  {
    name: 'client|no-evict',
    arity: 3,
    flags: ['admin', 'noscript', 'loading', 'stale'],
    categories: ['@admin', '@slow', '@dangerous', '@connection'],
    doc: {
      summary: 'Set client eviction mode for the current connection',
      since: '7.0.0',
      group: 'connection',
      complexity: 'O(1)',
    },
  },
  {
    name: 'client|help',
    arity: 2,
    flags: ['loading', 'stale'],
    categories: ['@slow', '@connection'],
    doc: {
      summary: 'Show helpful text about the different subcommands',
      since: '5.0.0',
      group: 'connection',
      complexity: 'O(1)',
    },
  },
  {
    name: 'command',
    arity: -1,
    flags: ['loading', 'stale'],
    categories: ['@slow', '@connection'],
    tips: ['nondeterministic_output_order'],
    doc: {
      summary: 'Get array of Redis command details',
      since: '2.8.13',
      group: 'server',
      complexity: 'O(N) where N is the total number of Redis commands',
    },
  },
  {
    name: 'command|count',
    arity: 2,
    flags: ['loading', 'stale'],
    categories: ['@slow', '@connection'],
    doc: {
      summary: 'Get total number of Redis commands',
      since: '2.8.13',
      group: 'server',
      complexity: 'O(1)',
    },
  },
  {
    name: 'command|list',
    arity: -2,
    flags: ['loading', 'stale'],
    categories: ['@slow', '@connection'],
    tips: ['nondeterministic_output_order'],
    doc: {
      summary: 'Get an array of Redis command names',
      since: '7.0.0',
      group: 'server',
      complexity: 'O(N) where N is the total number of Redis commands',
    },
  },
  {
    name: 'command|info',
    arity: -2,
    flags: ['loading', 'stale'],
    categories: ['@slow', '@connection'],
    tips: ['nondeterministic_output_order'],
    doc: {
      summary: 'Get array of specific Redis command details, or all when no argument is given.',
      since: '2.8.13',
      group: 'server',
      complexity: 'O(N) where N is the number of commands to look up',
    },
  },
  {
    name: 'command|docs',
    arity: -2,
    flags: ['loading', 'stale'],
    categories: ['@slow', '@connection'],
    tips: ['nondeterministic_output_order'],
    doc: {
      summary: 'Get array of specific Redis command documentation',
      since: '7.0.0',
      group: 'server',
      complexity: 'O(N) where N is the number of commands to look up',
    },
  },
  {
    name: 'command|getkeys',
    arity: -4,
    flags: ['loading', 'stale'],
    categories: ['@slow', '@connection'],
    doc: {
      summary: 'Extract keys given a full Redis command',
      since: '2.8.13',
      group: 'server',
      complexity: 'O(N) where N is the number of arguments to the command',
    },
  },
  {
    name: 'command|getkeysandflags',
    arity: -4,
    flags: ['loading', 'stale'],
    categories: ['@slow', '@connection'],
    doc: {
      summary: 'Extract keys and access flags given a full Redis command',
      since: '7.0.0',
      group: 'server',
      complexity: 'O(N) where N is the number of arguments to the command',
    },
  },
  {
    name: 'command|help',
    arity: 2,
    flags: ['loading', 'stale'],
    categories: ['@slow', '@connection'],
    doc: {
      summary: 'Show helpful text about the different subcommands',
      since: '5.0.0',
      group: 'server',
      complexity: 'O(1)',
    },
  },
  {
    name: 'subscribe',
    arity: -2,
    flags: ['pubsub', 'noscript', 'loading', 'stale'],
    categories: ['@pubsub', '@slow'],
    doc: {
      summary: 'Listen for messages published to the given channels',
      since: '2.0.0',
      group: 'pubsub',
      complexity: 'O(N) where N is the number of channels to subscribe to.',
    },
  },
  {
    name: 'unsubscribe',
    arity: -1,
    flags: ['pubsub', 'noscript', 'loading', 'stale'],
    categories: ['@pubsub', '@slow'],
    doc: {
      summary: 'Stop listening for messages posted to the given channels',
      since: '2.0.0',
      group: 'pubsub',
      complexity: 'O(N) where N is the number of clients already subscribed to a channel.',
    },
  },
  {
    name: 'psubscribe',
    arity: -2,
    flags: ['pubsub', 'noscript', 'loading', 'stale'],
    categories: ['@pubsub', '@slow'],
    doc: {
      summary: 'Listen for messages published to channels matching the given patterns',
      since: '2.0.0',
      group: 'pubsub',
      complexity: 'O(N) where N is the number of patterns the client is already subscribed to.',
    },
  },
  {
    name: 'punsubscribe',
    arity: -1,
    flags: ['pubsub', 'noscript', 'loading', 'stale'],
    categories: ['@pubsub', '@slow'],
    doc: {
      summary: 'Stop listening for messages posted to channels matching the given patterns',
      since: '2.0.0',
      group: 'pubsub',
      complexity:
        'O(N+M) where N is the number of patterns the client is already subscribed and M is the number of total patterns subscribed in the system (by any client).',
    },
  },
  {
    name: 'publish',
    arity: 3,
    flags: ['pubsub', 'loading', 'stale', 'fast'],
    categories: ['@pubsub', '@fast'],
    doc: {
      summary: 'Post a message to a channel',
      since: '2.0.0',
      group: 'pubsub',
      complexity:
        'O(N+M) where N is the number of clients subscribed to the receiving channel and M is the total number of subscribed patterns (by any client).',
    },
  },
  {
    name: 'info',
    arity: -1,
    flags: ['loading', 'stale'],
    categories: ['@slow', '@dangerous'],
    tips: ['nondeterministic_output', 'request_policy:all_shards', 'response_policy:special'],
    doc: {
      summary: 'Get information and statistics about the server',
      since: '1.0.0',
      group: 'server',
      complexity: 'O(1)',
    },
  },
  {
    name: 'role',
    arity: 1,
    flags: ['noscript', 'loading', 'stale', 'fast'],
    categories: ['@admin', '@fast', '@dangerous'],
    doc: {
      summary: 'Return the role of the instance in the context of replication',
      since: '2.8.12',
      group: 'server',
      complexity: 'O(1)',
    },
  },
  {
    name: 'sentinel',
    arity: -2,
    flags: ['admin'],
    categories: ['@admin', '@slow', '@dangerous'],
    doc: {
      summary: 'A container for Sentinel commands',
      since: '2.8.4',
      group: 'sentinel',
      complexity: 'Depends on subcommand.',
    },
  },
  {
    name: 'sentinel|get-master-addr-by-name',
    arity: 3,
    flags: ['admin'],
    categories: ['@admin', '@slow', '@dangerous'],
    doc: {
      summary: 'Get port and address of a master',
      since: '2.8.4',
      group: 'sentinel',
      complexity: 'O(1)',
    },
  },
  {
    name: 'sentinel|masters',
    arity: 2,
    flags: ['admin'],
    categories: ['@admin', '@slow', '@dangerous'],
    doc: {
      summary: 'List the monitored masters',
      since: '2.8.4',
      group: 'sentinel',
      complexity: 'O(N) where N is the number of masters',
    },
  },
  {
    name: 'sentinel|master',
    arity: 3,
    flags: ['admin'],
    categories: ['@admin', '@slow', '@dangerous'],
    doc: { summary: 'Shows the state of a master', since: '2.8.4', group: 'sentinel', complexity: 'O(1)' },
  },
  {
    name: 'sentinel|replicas',
    arity: 3,
    flags: ['admin'],
    categories: ['@admin', '@slow', '@dangerous'],
    doc: {
      summary: 'List the monitored replicas',
      since: '5.0.0',
      group: 'sentinel',
      complexity: 'O(N) where N is the number of replicas',
    },
  },
  {
    name: 'sentinel|slaves',
    arity: 3,
    flags: ['admin'],
    categories: ['@admin', '@slow', '@dangerous'],
    doc: {
      summary: 'List the monitored slaves',
      since: '2.8.0',
      group: 'sentinel',
      complexity: 'O(N) where N is the number of slaves',
      docFlags: ['deprecated'],
      deprecatedSince: '5.0.0',
      replacedBy: '`SENTINEL REPLICAS`',
    },
  },
  {
    name: 'sentinel|sentinels',
    arity: 3,
    flags: ['admin'],
    categories: ['@admin', '@slow', '@dangerous'],
    doc: {
      summary: 'List the Sentinel instances',
      since: '2.8.4',
      group: 'sentinel',
      complexity: 'O(N) where N is the number of Sentinels',
    },
  },
  {
    name: 'sentinel|myid',
    arity: 2,
    flags: ['admin'],
    categories: ['@admin', '@slow', '@dangerous'],
    doc: { summary: 'Get the Sentinel instance ID', since: '6.2.0', group: 'sentinel', complexity: 'O(1)' },
  },
  {
    name: 'sentinel|ckquorum',
    arity: 3,
    flags: ['admin'],
    categories: ['@admin', '@slow', '@dangerous'],
    doc: { summary: 'Check for a Sentinel quorum', since: '2.8.4', group: 'sentinel' },
  },
  {
    name: 'sentinel|failover',
    arity: 3,
    flags: ['admin'],
    categories: ['@admin', '@slow', '@dangerous'],
    doc: { summary: 'Force a failover', since: '2.8.4', group: 'sentinel' },
  },
  {
    name: 'sentinel|monitor',
    arity: 6,
    flags: ['admin'],
    categories: ['@admin', '@slow', '@dangerous'],
    doc: { summary: 'Start monitoring', since: '2.8.4', group: 'sentinel', complexity: 'O(1)' },
  },
  {
    name: 'sentinel|remove',
    arity: 3,
    flags: ['admin'],
    categories: ['@admin', '@slow', '@dangerous'],
    doc: { summary: 'Stop monitoring', since: '2.8.4', group: 'sentinel', complexity: 'O(1)' },
  },
  {
    name: 'sentinel|set',
    arity: -5,
    flags: ['admin'],
    categories: ['@admin', '@slow', '@dangerous'],
    doc: {
      summary: 'Change the configuration of a monitored master',
      since: '2.8.4',
      group: 'sentinel',
      complexity: 'O(1)',
    },
  },
  {
    name: 'sentinel|reset',
    arity: 3,
    flags: ['admin'],
    categories: ['@admin', '@slow', '@dangerous'],
    doc: {
      summary: 'Reset masters by name pattern',
      since: '2.8.4',
      group: 'sentinel',
      complexity: 'O(N) where N is the number of monitored masters',
    },
  },
  {
    name: 'sentinel|flushconfig',
    arity: 2,
    flags: ['admin'],
    categories: ['@admin', '@slow', '@dangerous'],
    doc: { summary: 'Rewrite configuration file', since: '2.8.4', group: 'sentinel', complexity: 'O(1)' },
  },
  {
    name: 'sentinel|is-master-down-by-addr',
    arity: 6,
    flags: ['admin'],
    categories: ['@admin', '@slow', '@dangerous'],
    doc: { summary: 'Check if a master is down', since: '2.8.4', group: 'sentinel', complexity: 'O(1)' },
  },
  {
    name: 'sentinel|info-cache',
    arity: -3,
    flags: ['admin'],
    categories: ['@admin', '@slow', '@dangerous'],
    doc: {
      summary: 'Get cached INFO from the instances in the deployment',
      since: '3.2.0',
      group: 'sentinel',
      complexity: 'O(N) where N is the number of instances',
    },
  },
  {
    name: 'sentinel|pending-scripts',
    arity: 2,
    flags: ['admin'],
    categories: ['@admin', '@slow', '@dangerous'],
    doc: { summary: 'Get information about pending scripts', since: '2.8.4', group: 'sentinel' },
  },
  {
    name: 'sentinel|debug',
    arity: -2,
    flags: ['admin'],
    categories: ['@admin', '@slow', '@dangerous'],
    doc: {
      summary: 'List or update the current configurable parameters',
      since: '7.0.0',
      group: 'sentinel',
      complexity: 'O(N) where N is the number of configurable parameters',
    },
  },
  {
    name: 'sentinel|simulate-failure',
    arity: -3,
    flags: ['admin'],
    categories: ['@admin', '@slow', '@dangerous'],
    doc: { summary: 'Simulate failover scenarios', since: '3.2.0', group: 'sentinel' },
  },
  {
    name: 'sentinel|config',
    arity: -3,
    flags: ['admin'],
    categories: ['@admin', '@slow', '@dangerous'],
    doc: { summary: 'Configure Sentinel', since: '6.2.0', group: 'sentinel', complexity: 'O(1)' },
  },
  {
    name: 'sentinel|help',
    arity: 2,
    flags: ['loading', 'stale'],
    categories: ['@slow'],
    doc: {
      summary: 'Show helpful text about the different subcommands',
      since: '6.2.0',
      group: 'sentinel',
      complexity: 'O(1)',
    },
  },
  {
    name: 'shutdown',
    arity: -1,
    flags: ['admin', 'noscript', 'loading', 'stale', 'no_multi', 'allow_busy'],
    categories: ['@admin', '@slow', '@dangerous'],
    doc: {
      summary: 'Synchronously save the dataset to disk and then shut down the server',
      since: '1.0.0',
      group: 'server',
      complexity:
        'O(N) when saving, where N is the total number of keys in all databases when saving data, otherwise O(1)',
    },
  },
  {
    name: 'acl',
    arity: -2,
    flags: [],
    categories: ['@slow'],
    doc: {
      summary: 'A container for Access List Control commands ',
      since: '6.0.0',
      group: 'server',
      complexity: 'Depends on subcommand.',
    },
  },
  {
    name: 'acl|cat',
    arity: -2,
    flags: ['noscript', 'loading', 'stale'],
    categories: ['@slow'],
    doc: {
      summary: 'List the ACL categories or the commands inside a category',
      since: '6.0.0',
      group: 'server',
      complexity: 'O(1) since the categories and commands are a fixed set.',
    },
  },
  {
    name: 'acl|deluser',
    arity: -3,
    flags: ['admin', 'noscript', 'loading', 'stale'],
    categories: ['@admin', '@slow', '@dangerous'],
    doc: {
      summary: 'Remove the specified ACL users and the associated rules',
      since: '6.0.0',
      group: 'server',
      complexity: 'O(1) amortized time considering the typical user.',
    },
  },
  {
    name: 'acl|dryrun',
    arity: -4,
    flags: ['admin', 'noscript', 'loading', 'stale'],
    categories: ['@admin', '@slow', '@dangerous'],
    doc: {
      summary: 'Returns whether the user can execute the given command without executing the command.',
      since: '7.0.0',
      group: 'server',
      complexity: 'O(1).',
    },
  },
  {
    name: 'acl|genpass',
    arity: -2,
    flags: ['noscript', 'loading', 'stale'],
    categories: ['@slow'],
    doc: {
      summary: 'Generate a pseudorandom secure password to use for ACL users',
      since: '6.0.0',
      group: 'server',
      complexity: 'O(1)',
    },
  },
  {
    name: 'acl|getuser',
    arity: 3,
    flags: ['admin', 'noscript', 'loading', 'stale'],
    categories: ['@admin', '@slow', '@dangerous'],
    doc: {
      summary: 'Get the rules for a specific ACL user',
      since: '6.0.0',
      group: 'server',
      complexity: 'O(N). Where N is the number of password, command and pattern rules that the user has.',
    },
  },
  {
    name: 'acl|list',
    arity: 2,
    flags: ['admin', 'noscript', 'loading', 'stale'],
    categories: ['@admin', '@slow', '@dangerous'],
    doc: {
      summary: 'List the current ACL rules in ACL config file format',
      since: '6.0.0',
      group: 'server',
      complexity: 'O(N). Where N is the number of configured users.',
    },
  },
  {
    name: 'acl|load',
    arity: 2,
    flags: ['admin', 'noscript', 'loading', 'stale'],
    categories: ['@admin', '@slow', '@dangerous'],
    doc: {
      summary: 'Reload the ACLs from the configured ACL file',
      since: '6.0.0',
      group: 'server',
      complexity: 'O(N). Where N is the number of configured users.',
    },
  },
  {
    name: 'acl|log',
    arity: -2,
    flags: ['admin', 'noscript', 'loading', 'stale'],
    categories: ['@admin', '@slow', '@dangerous'],
    doc: {
      summary: 'List latest events denied because of ACLs in place',
      since: '6.0.0',
      group: 'server',
      complexity: 'O(N) with N being the number of entries shown.',
    },
  },
  {
    name: 'acl|save',
    arity: 2,
    flags: ['admin', 'noscript', 'loading', 'stale'],
    categories: ['@admin', '@slow', '@dangerous'],
    doc: {
      summary: 'Save the current ACL rules in the configured ACL file',
      since: '6.0.0',
      group: 'server',
      complexity: 'O(N). Where N is the number of configured users.',
    },
  },
  {
    name: 'acl|setuser',
    arity: -3,
    flags: ['admin', 'noscript', 'loading', 'stale'],
    categories: ['@admin', '@slow', '@dangerous'],
    doc: {
      summary: 'Modify or create the rules for a specific ACL user',
      since: '6.0.0',
      group: 'server',
      complexity: 'O(N). Where N is the number of rules provided.',
    },
  },
  {
    name: 'acl|users',
    arity: 2,
    flags: ['admin', 'noscript', 'loading', 'stale'],
    categories: ['@admin', '@slow', '@dangerous'],
    doc: {
      summary: 'List the username of all the configured ACL rules',
      since: '6.0.0',
      group: 'server',
      complexity: 'O(N). Where N is the number of configured users.',
    },
  },
  {
    name: 'acl|whoami',
    arity: 2,
    flags: ['noscript', 'loading', 'stale'],
    categories: ['@slow'],
    doc: {
      summary: 'Return the name of the user associated to the current connection',
      since: '6.0.0',
      group: 'server',
      complexity: 'O(1)',
    },
  },
  {
    name: 'acl|help',
    arity: 2,
    flags: ['loading', 'stale'],
    categories: ['@slow'],
    doc: {
      summary: 'Show helpful text about the different subcommands',
      since: '6.0.0',
      group: 'server',
      complexity: 'O(1)',
    },
  },
];

/** The catalog by full name. */
export const SENTINEL_CATALOG: ReadonlyMap<string, CatalogEntry> = new Map(
  SENTINEL_7_0_COMMANDS.map((e) => [e.name, e]),
);

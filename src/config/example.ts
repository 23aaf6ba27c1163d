/** The commented example config of the product contract (PRODUCT.md, "Config file (TOML)"). */

const EXAMPLE = `\
node_id = 1                       # positive integer, unique in the group forever (removed ids are never reused)
data_dir = "data/node1"           # Raft log, vote, snapshots
log_level = "info"

[raft]
listen = "127.0.0.1:27379"        # gRPC: Raft and the cluster service (requests forwarded to the leader)
advertise = "127.0.0.1:27379"     # what other daemons dial; defaults to listen
single = true                     # bootstrap a one-node group if data_dir is empty; ignored afterwards
# join = ["127.0.0.1:27380"]      # or join an existing group through any member
role = "voter"                    # voter | learner | witness
heartbeat_ms = 100
election_timeout_ms = 1000

[sentinel]
listen = "127.0.0.1:26379"        # Redis Sentinel protocol for clients
# requirepass = "..."
# deny_scripts_reconfig = true    # Sentinel's "sentinel deny-scripts-reconfig": refuse SENTINEL SET of script paths
# notification_script = "/etc/raftinel/notify.sh"      # for shards without their own (SENTINEL SET)
# client_reconfig_script = "/etc/raftinel/reconfig.sh"

[admin]
listen = "127.0.0.1:28379"        # HTTP admin API and /metrics
# token = "..."                   # bearer token for mutating calls

[failover]                        # defaults for every shard; per shard: SENTINEL SET or the admin API
down_after_ms = 3000
lease_ms = 2000

[[redis]]                         # each Redis this daemon sits beside; none for a witness
shard = "mymaster"
addr = "127.0.0.1:6379"
role = "replica"                  # replica | observer
priority = 100
# username = "...", password = "..."
`;

/**
 * A commented example node.toml: node 1 of a group, bootstrapping it (`single = true`), beside the
 * Redis at 127.0.0.1:6379 of shard `mymaster`. Every value shown is the default except node_id,
 * data_dir and single. Parsing it back gives the documented values (a unit test checks this).
 */
export function renderConfigExample(): string {
  return EXAMPLE;
}

/**
 * The wire schema (proto/raftinel.proto), loaded once at run time with @grpc/proto-loader, and the
 * shapes of the plain objects proto-loader produces for it.
 *
 * The .proto file is located relative to this module, so the same code works from src/ (vitest,
 * tsx: src/raft/grpc/proto.ts) and from dist/ (compiled: dist/raft/grpc/proto.js): both are three
 * directories below the package root, where proto/ lives.
 */
import { fileURLToPath } from 'node:url';
import type { MethodDefinition, ServiceDefinition } from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

export const PROTO_PATH = fileURLToPath(new URL('../../../proto/raftinel.proto', import.meta.url));

export const PROTO_PACKAGE = 'raftinel.v1';
export const RAFT_SERVICE = `${PROTO_PACKAGE}.Raft`;
export const CLUSTER_SERVICE = `${PROTO_PACKAGE}.Cluster`;
export const RAFT_SEND_PATH = `/${RAFT_SERVICE}/Send`;
export const RAFT_SNAPSHOT_PATH = `/${RAFT_SERVICE}/InstallSnapshot`;
export const CLUSTER_CALL_PATH = `/${CLUSTER_SERVICE}/Call`;

export const LOADER_OPTIONS: protoLoader.Options = {
  keepCase: true,
  longs: Number,
  enums: Number,
  bytes: Buffer,
  defaults: true,
  oneofs: true,
};

// ---------------------------------------------------------------------------------------------
// Plain-object shapes (what proto-loader's deserializers return and its serializers accept).
// Inbound objects are untrusted: codec.ts validates every field before use.

/** proto enum raftinel.v1.MemberRole */
export const PROTO_MEMBER_ROLE = { voter: 1, learner: 2, witness: 3 } as const;
/** proto enum raftinel.v1.EntryType */
export const PROTO_ENTRY_TYPE = { normal: 1, noop: 2, config: 3 } as const;

export interface PbMember {
  id: number;
  role: number;
  addr: string;
}

export interface PbMembership {
  members: PbMember[];
  removed: number[];
}

export interface PbEntry {
  index: number;
  term: number;
  type: number;
  data: Uint8Array;
}

export interface PbSnapshotMeta {
  index: number;
  term: number;
  membership: PbMembership | null;
}

/** Any one Raft message body: the common header plus variant fields (snake_case). */
export interface PbMessageBody {
  from: number;
  to: number;
  term: number;
  [field: string]: unknown;
}

/** One `RaftMessage`: `msg` names the oneof case that is set (proto-loader's `oneofs: true`). */
export interface PbRaftMessage {
  msg?: string;
  [variant: string]: unknown;
}

export interface PbClusterRequest {
  method: string;
  json_body: Uint8Array;
  token: string;
  hops: number;
}

export interface PbClusterResponse {
  status: number;
  json_body: Uint8Array;
}

// ---------------------------------------------------------------------------------------------
// Loading

export interface LoadedProto {
  raftService: ServiceDefinition;
  clusterService: ServiceDefinition;
  /** RaftMessage object → wire bytes (throws on a shape protobufjs cannot encode). */
  serializeRaftMessage(message: PbRaftMessage): Buffer;
  /** Wire bytes → RaftMessage object (throws on malformed protobuf). */
  deserializeRaftMessage(bytes: Buffer): PbRaftMessage;
  serializeAck(ack: Record<string, never>): Buffer;
  deserializeAck(bytes: Buffer): Record<string, never>;
  serializeClusterRequest(request: PbClusterRequest): Buffer;
  deserializeClusterRequest(bytes: Buffer): PbClusterRequest;
  serializeClusterResponse(response: PbClusterResponse): Buffer;
  deserializeClusterResponse(bytes: Buffer): PbClusterResponse;
}

let loaded: LoadedProto | null = null;

/** The schema, loaded (synchronously, once) on first use. */
export function loadProto(): LoadedProto {
  if (loaded) return loaded;
  const def = protoLoader.loadSync(PROTO_PATH, LOADER_OPTIONS);
  const raftService = def[RAFT_SERVICE] as ServiceDefinition | undefined;
  const clusterService = def[CLUSTER_SERVICE] as ServiceDefinition | undefined;
  if (!raftService || !clusterService)
    throw new Error(`${PROTO_PATH}: services ${RAFT_SERVICE}/${CLUSTER_SERVICE} missing`);
  const send = method(raftService, 'Send');
  const call = method(clusterService, 'Call');
  loaded = {
    raftService,
    clusterService,
    serializeRaftMessage: send.requestSerialize,
    deserializeRaftMessage: send.requestDeserialize,
    serializeAck: send.responseSerialize,
    deserializeAck: send.responseDeserialize,
    serializeClusterRequest: call.requestSerialize,
    deserializeClusterRequest: call.requestDeserialize,
    serializeClusterResponse: call.responseSerialize,
    deserializeClusterResponse: call.responseDeserialize,
  };
  return loaded;
}

// biome-ignore lint/suspicious/noExplicitAny: proto-loader's method definitions are untyped
function method(service: ServiceDefinition, name: string): MethodDefinition<any, any> {
  const m = service[name];
  if (!m) throw new Error(`${PROTO_PATH}: method ${name} missing`);
  return m;
}

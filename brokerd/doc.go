// Package brokerd is the Kafki broker: a Kafka-compatible commit log.
// This file holds no code; it says where things happen, for a reader who
// starts here. Dependencies point one way: server → auth, groups, node →
// topics → storage, batch; node → replication/follower,
// replication/isr → topics → replication (the leader's pure state
// machine); node, replication/follower → interbroker (clients of
// peers); node → cluster → lease, meta; metastore implements the stores
// of meta, cluster, lease and tiering/remote on DynamoDB; server, meta
// and metastore → acl → auth; broker wires everything from config.
//
// # Where does X happen?
//
//   - A Produce lands: server/00_produce.go validates the request and each
//     batch (package batch: CRC, lengths, codecs), checks the leader epoch
//     and acks (topics.Partition.CheckLeader, CanAcceptAll), appends
//     (topics.Partition.Append → storage.Log.Append, which assigns offsets
//     and writes the active segment), and for acks=all waits
//     (topics.Partition.AwaitCommitted, which waits for the high watermark
//     kept by replication.Leader).
//   - A Fetch is served: server/01_fetch.go reads each partition up to its
//     high watermark from the local segments (storage.Log.Read), or below
//     the local log start from the tier (topics/tiering.go →
//     tiering/fetch, through its cache), long-polling on
//     topics.Partition.HWChanged.
//   - Followers fetch: replication/follower runs one fetcher per leader
//     broker (fetcher.go: replica fetches with this broker's id,
//     truncating first with OffsetForLeaderEpoch, appending with
//     storage/replica.go's AppendReplica), following the partitions
//     node/node.go's applyRole hands it; the leader answers them in
//     server/01_fetch.go (a fetch with a replica id), where
//     topics.Partition.FollowerFetch reports the follower's position to
//     replication.Leader, which moves the high watermark.
//   - The ISR changes: replication.Leader decides who lags or caught up
//     (Laggards, FollowerFetch's expand); replication/isr's Keeper
//     persists each change (metastore PutISR, fenced by the leader's
//     session lease) before a shrink takes effect, and after an
//     expansion is counted.
//   - Brokers connect to each other: interbroker.Factory builds every
//     broker-to-broker client (the replica fetchers', node's shutdown
//     checks of its peers); the inter-broker listener's security goes
//     there.
//   - Leases renew: lease.Lease.Run, started by node/node.go for the
//     broker's session (runSession) and by cluster/controller.go for the
//     controller lease; the records live in the table (metastore/lease.go).
//   - The controller decides: cluster.Decide (cluster/plan.go) is the pure
//     decision (fence lapsed brokers, elect, place, delete); the loop in
//     cluster/controller.go reads the snapshot and the brokers' leases,
//     calls it, and writes the plan through metastore, fenced by its
//     lease epoch.
//   - Brokers take their roles: node/node.go polls the metadata version,
//     reads the snapshot when it moved (metastore.Store.Read), and applies
//     each partition state as leader, follower or nothing
//     (topics.Partition.BecomeLeader/BecomeFollower/BecomeNone).
//   - Tiering hooks in: storage seals a rolled segment (SealedSegment),
//     topics/tiering.go hands it to tiering/upload, commits its metadata
//     (tiering/remote, metastore.Remote in a cluster, fenced by the
//     leader epoch), and enforces local and remote retention
//     (tiering/cleanup).
//   - A client connects: broker/listeners.go binds every listener of
//     config's ListenerList (Kafka's listeners,
//     listener.security.protocol.map) and hands each to
//     server.ServeListener as a server.Listener (name, protocol,
//     advertised address, TLS); on SSL and SASL_SSL listeners
//     server/conn.go handshakes first (tlsconf's certificates, re-read
//     when their files change) and an SSL session's principal is the
//     client certificate's subject mapped by tlsconf.PrincipalMapper.
//     Metadata answers with each broker's endpoint on the client's
//     listener (server/cluster.go brokers; endpoints are registered by
//     node and stored by metastore).
//   - A request is authorized: each handler in server asks auth.Authorizer
//     (server/authorize.go: one Authorize call per request) what Kafka's
//     KafkaApis asks, about the connection's auth.Session (listener,
//     principal, client software), and answers a denial with Kafka's error
//     code; the default, auth.AllowAll, is skipped without a call.
//   - ACLs decide: package acl (authorizer.class.name) is the
//     authorizer, Kafka's StandardAuthorizer rules over an immutable
//     index swapped on change; server/29-31 serve DescribeAcls,
//     CreateAcls and DeleteAcls through it; the bindings live in the
//     metadata store (meta/acls.go, metastore/acls.go), and broker/acl.go
//     re-reads them whenever node applies a new metadata snapshot.
//   - A client authenticates (SASL): on a SASL listener server/sasl.go
//     lets only ApiVersions, SaslHandshake (17_sasl_handshake.go) and
//     SaslAuthenticate (36_sasl_authenticate.go) through until the
//     exchange, run by package sasl (PLAIN, SCRAM via xdg-go/scram),
//     names the user, who becomes the session's principal User:<name>.
//     SCRAM users are stored by meta (embedded) or metastore (DynamoDB,
//     users.go), managed with AlterUserScramCredentials (51_…) and read
//     through sasl.Cache, refreshed by broker/sasl.go on every applied
//     metadata snapshot.
//   - The metrics an operator pages on: package metrics defines them;
//     the under-replicated, under-min-ISR and offline partition gauges
//     and the active controller are computed at scrape time by
//     node.Node.Health (node/health.go); the ISR shrinks and expansions
//     are counted by replication/isr's Keeper once persisted; lease
//     renewal failures by lease.Lease.Renew, and the losses of the
//     session by node/node.go's runSession. broker wires them.
//   - Compaction (cleanup.policy=compact): package cleaner picks the
//     dirtiest compacted partition of this broker (leader or follower:
//     every replica cleans its own copy) and runs storage.Log.Clean
//     (storage/clean.go: offset map, rewrite of closed segments, the
//     crash-safe .cleaned/.swap swap that Open completes); the topic
//     configs and the keyless-record check are topics/compaction.go;
//     broker/cleaner.go wires it from the log.cleaner.* settings.
//   - Consumer groups: server's group handlers call groups.Coordinator,
//     whose state is the __consumer_offsets partition it leads
//     (groups/log.go, through topics like any partition).
package brokerd

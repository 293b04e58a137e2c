// Package metastore owns the cluster's DynamoDB table: its schema (keys,
// TTL attribute, item kinds), the codec of every item, the writes and the
// conditions they carry, the metadata version they bump, and the one
// classification of a failed write (a condition that did not hold or a
// concurrent transaction: lease.ErrConflict, read again; anything else:
// an error). Other packages hold the domain types and the decisions
// (meta: topics; cluster: partition states, brokers, the controller;
// lease: the lease state machine; tiering/remote: remote segments); this
// package is the only one that knows how they are stored.
//
// Store implements meta.Store, cluster.Store and lease.Store on the
// table; Remote implements remote.Store. TableSchema is the schema as
// plain data (schema.json beside this file is the same, for the CDK stack
// in infra/, and a test keeps the two equal); EnsureTable creates the
// table from it (--metadata.create-table).
//
// # Table
//
// Partition key pk (S), sort key sk (S), on-demand billing, TTL on
// expires_at, no secondary index: every read is a strongly consistent
// GetItem or Query on the table's own keys, so a broker's view is never
// older than what it read.
//
//	kind                 pk                       sk                  attributes
//	metadata version     meta                     version             version N
//	producer id counter  meta                     producer_id         next N
//	topic                topic                    <topic>             id S (hex), partitions N, rf N, configs M, version N, changes N, deleted BOOL
//	partition state      partition#<topic>        <partition:10>      replicas L, isr L, leader N, leader_epoch N, leader_session N, version N
//	broker               broker                   <broker id:10>      addr S (inter-broker), endpoints M (listener → "PROTOCOL://host:port"; absent in old items), rack S, session_epoch N, fenced BOOL, expires_at N (when fenced)
//	lease                lease                    <name>              holder S, rvn S, epoch N, duration_ms N
//	remote partition     remote                   <topic>/<p:10>      fence N, ver N, fend N, topic S, partition N
//	remote segment       rseg#<topic>/<p:10>      <segment id>        seg S (the segment as JSON)
//	trigger              trigger                  <trigger id>        def S (JSON, owned by lambdas/triggers), version N, status S
//	ACL change counter   meta                     acl_version         version N
//	ACL binding          acl                      <sha256 hex>        rt N, name S, pt N, principal S, host S, op N, perm N
//	SCRAM credential     scram                    <mechanism>/<user>  salt B, stored_key B, server_key B, iterations N (never a password)
//
// Numbers in sort keys are zero-padded to 10 digits so Queries return
// them in numeric order. Topic names cannot hold '/' or '#'. Lease names
// are "controller" and "broker/<id>".
//
// # Reads
//
//   - Brokers poll the metadata version (one GetItem) and read the
//     snapshot only when it moved (Store.Read): one Query of the topic
//     items, one of the brokers, and one Query of partition states for
//     each topic whose change counter moved since the store's last read.
//     A change costs O(topics + brokers + partitions of the changed
//     topics), not O(table); remote segments are never read by it.
//   - SCRAM users are one Query of the scram items (ScramUsers), which
//     every broker runs when it applied a new snapshot (any metadata
//     change, not only a user's): O(credentials) items per change.
//   - A partition's remote segments are one Query (Remote.List), served
//     from a cache while the remote partition item's ver is unchanged.
//
// # Writes and their conditions
//
// Every metadata write (everything but leases, the producer id counter
// and remote segments) is a transaction that also bumps the metadata
// version, and every write of a topic or of one of its partitions also
// bumps the topic's change counter (conditional on the topic item
// existing). Beyond that:
//
//   - CreateTopic: the name is free (no item, or a deleted topic's
//     tombstone). UpdateTopic: the topic's version is the one read.
//     DeleteTopic: the topic exists and is not deleted; it becomes a
//     tombstone. DropTopic (controller): still a tombstone.
//   - Partition states (controller: PutPartitions, DeletePartition):
//     the controller lease is at the controller's epoch, and the state's
//     version is the one read (0: the item does not exist).
//   - ISR changes (PutISR, by the partition's leader): the leader's
//     session lease is at its epoch, and the state's version is the one
//     read.
//   - Register (a broker): its session lease is at the epoch it
//     registers under. FenceBroker (controller): the controller lease,
//     and the registration's session epoch is the one observed.
//   - Announce (a new controller): the controller lease; it only bumps
//     the version, so every broker re-reads.
//   - Leases: Create on absence, Swap on the record version number read
//     (package lease has the rules).
//   - Remote segments: every write is conditional on the partition's
//     fence (leader epoch) and on the segment item as read (see Remote).
//   - Producer ids: an atomic ADD, no condition needed.
//   - Lambda triggers (triggers.Store): PutTrigger creates on the item's
//     absence and replaces on the version read (it increments version);
//     DeleteTrigger is conditional on the version read (or on existence);
//     PutTriggerStatus only sets status, on the item existing, so a
//     runner's late report never resurrects a deleted trigger. Trigger
//     items are not part of the metadata snapshot and do not bump the
//     metadata version: trigger runners read them with their own Query
//     (Store.Triggers), and brokers never do.
//   - Kafka ACLs (acl.Store): PutACLs and DeleteACLs are transactions of
//     at most 98 unconditional Puts or Deletes (a binding is its own key,
//     so creating one twice or deleting an absent one is harmless) with
//     the ACL change counter and the metadata version bumped, so every
//     broker's poll sees them; its authorizer then reads the counter and,
//     when it moved, the ACL items (one Query).
//
// SCRAM credentials (sasl.UserStore): PutScramCredential replaces the
// item unconditionally, DeleteScramCredential is conditional on its
// existence (sasl.ErrNoCredential otherwise); both bump the metadata
// version, so every broker refreshes its users cache within one poll.
//
// A transaction holds at most 100 items: PutPartitions packs partitions
// with the lease check, the version bump and one counter bump per topic.
package metastore

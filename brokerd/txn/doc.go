// Package txn is the transaction coordinator's model of one transactional
// id, as Kafka's TransactionMetadata: who holds it (producer id and
// epoch), what its transaction is doing (State) and which partitions it
// wrote to, and the transitions the coordinator's requests ask for
// (InitProducerID, AddPartitions, EndTxn, Complete, and the coordinator's
// own abort of a transaction past its timeout). It also encodes that
// state as the records of __transaction_state, Kafka's TransactionLog
// key and value.
//
// The package is pure: no I/O, no clock (times are given), no locks. The
// coordinator decides a transition here, appends the resulting Metadata
// to __transaction_state, and installs it only once that write is
// committed; while it is in flight the coordinator refuses other requests
// for the id with CONCURRENT_TRANSACTIONS, as Kafka's pendingState does.
//
// # Transitions
//
//	Empty, CompleteCommit, CompleteAbort --AddPartitions--> Ongoing
//	Ongoing --AddPartitions--> Ongoing
//	Ongoing --EndTxn(commit)--> PrepareCommit --Complete--> CompleteCommit
//	Ongoing --EndTxn(abort)---> PrepareAbort  --Complete--> CompleteAbort
//	Ongoing --Expire / InitProducerID--> PrepareAbort (epoch bumped: the
//	    holder is fenced, and the transaction is aborted)
//	Empty, CompleteCommit, CompleteAbort --InitProducerID--> Empty (epoch
//	    bumped; a new producer id once the epoch is exhausted)
//
// Kafka 3.x passes through PrepareEpochFence on the way to PrepareAbort;
// here the fence and the abort are one write, which is what Kafka 4.x
// does under transaction version 2 (KIP-890 part 2), and a reader of the
// log never sees PrepareEpochFence from Kafki (Decode accepts it).
//
// # Invariants
//
//   - Epoch only grows for a producer id; a new producer id starts at
//     epoch 0. A request whose producer id or epoch is older than the
//     metadata's is fenced (PRODUCER_FENCED), never applied.
//   - Partitions is empty outside Ongoing, PrepareCommit and
//     PrepareAbort, and sorted without duplicates.
//   - StartMs is set (>= 0) exactly while a transaction is open: Ongoing,
//     PrepareCommit, PrepareAbort.
//   - Under transaction version 2 every EndTxn bumps the epoch, so a
//     producer's every transaction runs at its own epoch and a late write
//     of a finished transaction is fenced by the partition leader (KIP-890
//     part 2). Under version 0/1 only InitProducerID and fencing bump it.
package txn

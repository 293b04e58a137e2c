package server

// Transactions (issue 17): the handlers of AddPartitionsToTxn (key 24),
// EndTxn (key 26), DescribeTransactions (65) and ListTransactions (66),
// and the transactional side of InitProducerId, FindCoordinator and
// Produce. The coordinator is package txn's; Txn gives it with its state
// opened on demand (__transaction_state is created on first use, as in
// Kafka). In a cluster this broker coordinates the ids of the partitions
// of __transaction_state it leads; a request for any other id answers
// NOT_COORDINATOR (the coordinator's own check), and the client looks the
// coordinator up again. WriteTxnMarkers (27) is in its own file.
//
//   - AddPartitionsToTxn v0-v5: v0-v3 name one transaction (clients); v4+
//     batch transactions and may be verify-only (KIP-890 part 1, as a
//     partition leader asks its coordinator; brokers only, so, as in
//     Kafka, v4+ needs CLUSTER_ACTION on the cluster rather than WRITE on
//     the ids and topics, whose producer the partition leader checked). A
//     partition of an unknown topic is UNKNOWN_TOPIC_OR_PARTITION and, as
//     in Kafka, the others of the request then answer
//     OPERATION_NOT_ATTEMPTED.
//   - EndTxn v0-v5: v5 is transaction version 2 (KIP-890 part 2: every
//     commit or abort bumps the producer epoch, which the response
//     returns, so a late write of a finished transaction is fenced). It
//     is advertised, with the transaction.version feature at 2 in
//     ApiVersions, unless the broker runs with transaction.version=1.
//   - Produce with a transactional id: each partition's batch must be
//     transactional. Produce v12+ under transaction version 2 adds its
//     partition to the producer's transaction at the coordinator (Txn.Add);
//     older produces must name a partition already in the open
//     transaction (KIP-890 part 1's verification, Txn.Verify). Both ask
//     the coordinator wherever it is, for every batch, before the append;
//     a refusal is INVALID_TXN_STATE (or the coordinator's
//     PRODUCER_FENCED / INVALID_PRODUCER_EPOCH / CONCURRENT_TRANSACTIONS),
//     and nothing is written. A coordinator that cannot answer now
//     (moving, loading, unreachable) gives NOT_ENOUGH_REPLICAS, which
//     producers retry, as in Kafka.
//     A transactional batch without a transactional id is INVALID_RECORD.
//
// Authorization, as Kafka: WRITE on the transactional id
// (TRANSACTIONAL_ID_AUTHORIZATION_FAILED), and for AddPartitionsToTxn
// WRITE on each topic (TOPIC_AUTHORIZATION_FAILED); DESCRIBE on the id for
// DescribeTransactions; ListTransactions lists the ids the caller may
// describe.

import (
	"context"
	"errors"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafki/kafki/brokerd/auth"
	"github.com/kafki/kafki/brokerd/txn"
)

// Txn is the transaction coordinator with its state opened on demand.
type Txn interface {
	Coordinator() *txn.Coordinator
	// Ensure opens __transaction_state (creating it) and, on a single
	// node, loads it; in a cluster leadership loads its partitions.
	Ensure() error
	// Verify checks with the coordinator of id, here or on another
	// broker, that parts are in the open transaction of pid at epoch
	// (KIP-890 part 1), as a partition leader does before it appends a
	// transactional batch. The error carries the Kafka error to answer.
	Verify(ctx context.Context, id string, pid int64, epoch int16, parts []txn.Partition) error
	// Add adds parts to the transaction of pid at epoch at the
	// coordinator of id, here or on another broker, starting one if none
	// is open: transaction version 2's implicit add (Produce v12+,
	// TxnOffsetCommit v5+). Errors as Verify's.
	Add(ctx context.Context, id string, pid int64, epoch int16, parts []txn.Partition) error
}

const (
	addPartitionsToTxnMin   = 0
	addPartitionsToTxnMax   = 5
	endTxnMin               = 0
	describeTransactionsMin = 0
	describeTransactionsMax = 0
	listTransactionsMin     = 0
	listTransactionsMax     = 1
)

// endTxnMax is 5 (KIP-890 part 2) when the broker offers transaction
// version 2, else 4.
func (s *Server) endTxnMax() int16 {
	if s.opts.TransactionVersion >= txn.TV2 {
		return 5
	}
	return 4
}

// txnCoordinator returns the coordinator, its state loaded, or the error
// code to answer.
func (s *Server) txnCoordinator(rc *reqCtx) (*txn.Coordinator, int16) {
	if s.txn == nil {
		return nil, kerr.CoordinatorNotAvailable.Code
	}
	if err := s.txn.Ensure(); err != nil {
		rc.conn.log.Error("transaction state unavailable", "err", err)
		return nil, kerr.CoordinatorNotAvailable.Code
	}
	return s.txn.Coordinator(), 0
}

// initTransactional answers InitProducerId for a transactional id.
func (s *Server) initTransactional(ctx context.Context, rc *reqCtx, req *kmsg.InitProducerIDRequest, resp *kmsg.InitProducerIDResponse) {
	id := *req.TransactionalID
	if !rc.authorize(ctx, auth.OpWrite, auth.TransactionalID(id)) {
		resp.ErrorCode = rc.errCode(kerr.TransactionalIDAuthorizationFailed.Code)
		return
	}
	c, code := s.txnCoordinator(rc)
	if code != 0 {
		resp.ErrorCode = rc.errCode(code)
		return
	}
	pid, epoch, err := c.InitProducerID(ctx, id, req.TransactionTimeoutMillis, req.ProducerID, req.ProducerEpoch)
	if err != nil {
		resp.ErrorCode = rc.errCode(errorCode(err))
		return
	}
	resp.ProducerID, resp.ProducerEpoch = pid, epoch
}

func (s *Server) handleAddPartitionsToTxn(ctx context.Context, rc *reqCtx, r kmsg.Request) kmsg.Response {
	req := r.(*kmsg.AddPartitionsToTxnRequest)
	resp := req.ResponseKind().(*kmsg.AddPartitionsToTxnResponse)
	txns := req.Transactions
	if req.Version < 4 {
		one := kmsg.NewAddPartitionsToTxnRequestTransaction()
		one.TransactionalID, one.ProducerID, one.ProducerEpoch = req.TransactionalID, req.ProducerID, req.ProducerEpoch
		for _, t := range req.Topics {
			one.Topics = append(one.Topics, kmsg.AddPartitionsToTxnRequestTransactionTopic{Topic: t.Topic, Partitions: t.Partitions})
		}
		txns = []kmsg.AddPartitionsToTxnRequestTransaction{one}
	}
	if req.Version >= 4 && !rc.authorize(ctx, auth.OpClusterAction, auth.Cluster()) {
		resp.ErrorCode = rc.errCode(kerr.ClusterAuthorizationFailed.Code)
		return resp
	}
	c, code := s.txnCoordinator(rc)
	for i := range txns {
		res := s.addPartitionsOne(ctx, rc, c, code, &txns[i], req.Version >= 4)
		if req.Version < 4 {
			for _, t := range res.Topics {
				rt := kmsg.NewAddPartitionsToTxnResponseTopic()
				rt.Topic = t.Topic
				for _, p := range t.Partitions {
					rt.Partitions = append(rt.Partitions, kmsg.AddPartitionsToTxnResponseTopicPartition{Partition: p.Partition, ErrorCode: p.ErrorCode})
				}
				resp.Topics = append(resp.Topics, rt)
			}
			break
		}
		resp.Transactions = append(resp.Transactions, res)
	}
	return resp
}

// addPartitionsOne serves one transaction of AddPartitionsToTxn; code is
// the coordinator's unavailability, if any; fromBroker: v4+, whose
// CLUSTER_ACTION was checked instead of WRITE on the id and topics.
func (s *Server) addPartitionsOne(ctx context.Context, rc *reqCtx, c *txn.Coordinator, code int16, t *kmsg.AddPartitionsToTxnRequestTransaction, fromBroker bool) kmsg.AddPartitionsToTxnResponseTransaction {
	res := kmsg.NewAddPartitionsToTxnResponseTransaction()
	res.TransactionalID = t.TransactionalID
	codes := make([][]int16, len(t.Topics))
	var parts []txn.Partition
	failed := false
	if code == 0 && !fromBroker && !rc.authorize(ctx, auth.OpWrite, auth.TransactionalID(t.TransactionalID)) {
		code = kerr.TransactionalIDAuthorizationFailed.Code
	}
	for i, tp := range t.Topics {
		codes[i] = make([]int16, len(tp.Partitions))
		allowed := code == 0 && (fromBroker || rc.authorize(ctx, auth.OpWrite, auth.Topic(tp.Topic)))
		for j, p := range tp.Partitions {
			switch {
			case code != 0:
				codes[i][j] = code
			case !allowed:
				codes[i][j], failed = kerr.TopicAuthorizationFailed.Code, true
			case s.topics.Partition(tp.Topic, p) == nil:
				codes[i][j], failed = kerr.UnknownTopicOrPartition.Code, true
			default:
				parts = append(parts, txn.Partition{Topic: tp.Topic, Partition: p})
			}
		}
	}
	if code == 0 {
		code = s.applyAddPartitions(ctx, c, t, parts, failed)
		for i := range codes {
			for j := range codes[i] {
				if codes[i][j] == 0 {
					codes[i][j] = code
				}
			}
		}
	}
	for i, tp := range t.Topics {
		rt := kmsg.NewAddPartitionsToTxnResponseTransactionTopic()
		rt.Topic = tp.Topic
		for j, p := range tp.Partitions {
			rt.Partitions = append(rt.Partitions, kmsg.AddPartitionsToTxnResponseTransactionTopicPartition{Partition: p, ErrorCode: rc.errCode(codes[i][j])})
		}
		res.Topics = append(res.Topics, rt)
	}
	return res
}

// applyAddPartitions adds (or, verify-only, checks) the valid partitions
// of one transaction; with another partition of the request failed,
// nothing is added, as in Kafka.
func (s *Server) applyAddPartitions(ctx context.Context, c *txn.Coordinator, t *kmsg.AddPartitionsToTxnRequestTransaction, parts []txn.Partition, failed bool) int16 {
	switch {
	case failed:
		return kerr.OperationNotAttempted.Code
	case t.VerifyOnly:
		return errorCode(c.Verify(t.TransactionalID, t.ProducerID, t.ProducerEpoch, parts))
	default:
		return errorCode(c.AddPartitions(ctx, t.TransactionalID, t.ProducerID, t.ProducerEpoch, parts))
	}
}

func (s *Server) handleEndTxn(ctx context.Context, rc *reqCtx, r kmsg.Request) kmsg.Response {
	req := r.(*kmsg.EndTxnRequest)
	resp := req.ResponseKind().(*kmsg.EndTxnResponse)
	resp.ProducerID, resp.ProducerEpoch = -1, -1
	if !rc.authorize(ctx, auth.OpWrite, auth.TransactionalID(req.TransactionalID)) {
		resp.ErrorCode = rc.errCode(kerr.TransactionalIDAuthorizationFailed.Code)
		return resp
	}
	c, code := s.txnCoordinator(rc)
	if code != 0 {
		resp.ErrorCode = rc.errCode(code)
		return resp
	}
	// The request version decides, as in Kafka: v5+ is sent only by a
	// client using transaction version 2.
	tv := int16(1)
	if req.Version >= 5 {
		tv = txn.TV2
	}
	pid, epoch, err := c.EndTxn(ctx, req.TransactionalID, req.ProducerID, req.ProducerEpoch, req.Commit, tv)
	if err != nil {
		resp.ErrorCode = rc.errCode(errorCode(err))
		return resp
	}
	resp.ProducerID, resp.ProducerEpoch = pid, epoch
	return resp
}

// verifyTxnProduce checks a transactional producer's batch for one
// partition before it is appended; it returns the error code to answer.
// A Produce v12+ under transaction version 2 adds the partition to the
// producer's transaction (KIP-890 part 2: such clients send no
// AddPartitionsToTxn), starting one if none is open; older requests must
// name a partition already added (part 1's verification).
func (s *Server) verifyTxnProduce(ctx context.Context, version int16, id string, h produceTxnHeader, topic string, partition int32) int16 {
	if !h.transactional {
		return kerr.InvalidTxnState.Code
	}
	if s.txn == nil {
		return kerr.CoordinatorNotAvailable.Code
	}
	parts := []txn.Partition{{Topic: topic, Partition: partition}}
	if version < 12 || s.opts.TransactionVersion < txn.TV2 {
		return errorCode(s.txn.Verify(ctx, id, h.pid, h.epoch, parts))
	}
	return s.addImplicitly(ctx, id, h.pid, h.epoch, parts)
}

// addImplicitly adds parts to the transaction of id for a transaction
// version 2 request that carries the add itself (Produce v12+,
// TxnOffsetCommit v5+). Such a client sends right after its EndTxn
// answer, often while the previous transaction's markers are still being
// written (CONCURRENT_TRANSACTIONS). As Kafka's
// add.partitions.to.txn.retry.* settings, the broker retries briefly
// rather than bouncing it to the client, which would wait for a metadata
// refresh first.
func (s *Server) addImplicitly(ctx context.Context, id string, pid int64, epoch int16, parts []txn.Partition) int16 {
	deadline := time.Now().Add(addPartitionsRetryMax)
	for {
		err := s.txn.Add(ctx, id, pid, epoch, parts)
		if !errors.Is(err, kerr.ConcurrentTransactions) || time.Now().Add(addPartitionsRetryBackoff).After(deadline) {
			return errorCode(err)
		}
		select {
		case <-ctx.Done():
			return errorCode(err)
		case <-time.After(addPartitionsRetryBackoff):
		}
	}
}

// Kafka's add.partitions.to.txn.retry.backoff.ms and
// add.partitions.to.txn.retry.backoff.max.ms defaults.
const (
	addPartitionsRetryBackoff = 20 * time.Millisecond
	addPartitionsRetryMax     = 100 * time.Millisecond
)

// produceTxnHeader is what verifyTxnProduce needs of a batch header.
type produceTxnHeader struct {
	transactional bool
	pid           int64
	epoch         int16
}

func (s *Server) handleDescribeTransactions(ctx context.Context, rc *reqCtx, r kmsg.Request) kmsg.Response {
	req := r.(*kmsg.DescribeTransactionsRequest)
	resp := req.ResponseKind().(*kmsg.DescribeTransactionsResponse)
	c, code := s.txnCoordinator(rc)
	for _, id := range req.TransactionalIDs {
		st := kmsg.NewDescribeTransactionsResponseTransactionState()
		st.TransactionalID, st.ProducerID, st.ProducerEpoch = id, -1, -1
		switch {
		case !rc.authorize(ctx, auth.OpDescribe, auth.TransactionalID(id)):
			st.ErrorCode = rc.errCode(kerr.TransactionalIDAuthorizationFailed.Code)
		case code != 0:
			st.ErrorCode = rc.errCode(code)
		default:
			m, err := c.Describe(id)
			if err != nil {
				st.ErrorCode = rc.errCode(errorCode(err))
				break
			}
			describeTxn(&st, m)
		}
		resp.TransactionStates = append(resp.TransactionStates, st)
	}
	return resp
}

func describeTxn(st *kmsg.DescribeTransactionsResponseTransactionState, m txn.Metadata) {
	st.State = m.State.String()
	st.TimeoutMillis = m.TimeoutMs
	st.StartTimestamp = m.StartMs
	st.ProducerID, st.ProducerEpoch = m.ProducerID, m.Epoch
	for _, p := range m.Partitions {
		n := len(st.Topics)
		if n == 0 || st.Topics[n-1].Topic != p.Topic {
			t := kmsg.NewDescribeTransactionsResponseTransactionStateTopic()
			t.Topic = p.Topic
			st.Topics = append(st.Topics, t)
			n++
		}
		st.Topics[n-1].Partitions = append(st.Topics[n-1].Partitions, p.Partition)
	}
}

func (s *Server) handleListTransactions(ctx context.Context, rc *reqCtx, r kmsg.Request) kmsg.Response {
	req := r.(*kmsg.ListTransactionsRequest)
	resp := req.ResponseKind().(*kmsg.ListTransactionsResponse)
	c, code := s.txnCoordinator(rc)
	if code != 0 {
		resp.ErrorCode = rc.errCode(code)
		return resp
	}
	states := map[string]bool{}
	for _, st := range req.StateFilters {
		states[st] = true
	}
	pids := map[int64]bool{}
	for _, p := range req.ProducerIDFilters {
		pids[p] = true
	}
	nowMs := time.Now().UnixMilli()
	for _, m := range c.List() {
		switch {
		case len(states) > 0 && !states[m.State.String()]:
		case len(pids) > 0 && !pids[m.ProducerID]:
		case req.DurationFilterMillis >= 0 && req.Version >= 1 && (m.StartMs < 0 || nowMs-m.StartMs < req.DurationFilterMillis):
		case !rc.authorize(ctx, auth.OpDescribe, auth.TransactionalID(m.ID)):
		default:
			t := kmsg.NewListTransactionsResponseTransactionState()
			t.TransactionalID, t.ProducerID, t.TransactionState = m.ID, m.ProducerID, m.State.String()
			resp.TransactionStates = append(resp.TransactionStates, t)
		}
	}
	return resp
}

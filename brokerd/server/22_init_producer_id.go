package server

// InitProducerId (key 22), versions 0-5.
//
// Idempotent producers (no transactional id) get a fresh producer id with
// epoch 0. A v3+ request that names its current id and epoch (KIP-360,
// after an error the producer cannot otherwise recover from) gets the same
// id with the epoch bumped, or a fresh id when the epoch is exhausted; the
// log then requires sequence 0 from the new epoch. A transactional id is
// served by the transaction coordinator (txn.go: epoch bump, fencing of
// the previous holder, transaction.max.timeout.ms), here only if this
// broker coordinates the id (NOT_COORDINATOR otherwise). Without a
// coordinator (Options.Txn nil) it gets
// TRANSACTIONAL_ID_AUTHORIZATION_FAILED, which clients treat as fatal
// rather than retrying forever.
//
// Authorization, as Kafka: an idempotent producer needs IDEMPOTENT_WRITE on
// the cluster or WRITE on some topic (KIP-679), else
// CLUSTER_AUTHORIZATION_FAILED.

import (
	"context"
	"math"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafki/kafki/brokerd/auth"
)

const (
	initProducerIDMin = 0
	initProducerIDMax = 5
)

func (s *Server) handleInitProducerID(ctx context.Context, rc *reqCtx, r kmsg.Request) kmsg.Response {
	req := r.(*kmsg.InitProducerIDRequest)
	resp := req.ResponseKind().(*kmsg.InitProducerIDResponse)
	resp.ProducerID, resp.ProducerEpoch = -1, -1
	if req.TransactionalID != nil && s.txn == nil {
		// No coordinator: clients treat this error as fatal rather
		// than retrying.
		resp.ErrorCode = rc.errCode(kerr.TransactionalIDAuthorizationFailed.Code)
		return resp
	}
	if req.TransactionalID != nil {
		s.initTransactional(ctx, rc, req, resp)
		return resp
	}
	if !rc.authorize(ctx, auth.OpIdempotentWrite, auth.Cluster()) && !rc.authorizeByType(ctx, auth.OpWrite, auth.ResourceTopic) {
		resp.ErrorCode = rc.errCode(kerr.ClusterAuthorizationFailed.Code)
		return resp
	}
	if req.ProducerID >= 0 && req.ProducerEpoch >= 0 && req.ProducerEpoch < math.MaxInt16-1 {
		resp.ProducerID, resp.ProducerEpoch = req.ProducerID, req.ProducerEpoch+1
		return resp
	}
	id, err := s.topics.AllocateProducerID(ctx)
	if err != nil {
		rc.conn.log.Error("producer id allocation failed", "err", err)
		resp.ErrorCode = rc.errCode(kerr.CoordinatorNotAvailable.Code)
		return resp
	}
	resp.ProducerID, resp.ProducerEpoch = id, 0
	return resp
}

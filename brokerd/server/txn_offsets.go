package server

// Transactional consumer offsets (issue 17), single node: AddOffsetsToTxn
// (key 25) and TxnOffsetCommit (key 28).
//
//   - AddOffsetsToTxn v0-v4 adds the group's partition of
//     __consumer_offsets to the producer's transaction, as
//     AddPartitionsToTxn adds a topic's (the first use creates
//     __consumer_offsets, as FindCoordinator does).
//   - TxnOffsetCommit v0-v4: v3+ carry the consumer's member id,
//     generation and instance id (KIP-447), checked against the group as
//     OffsetCommit's (ILLEGAL_GENERATION, UNKNOWN_MEMBER_ID,
//     FENCED_INSTANCE_ID). v5+ belong to transaction version 2, which
//     folds AddOffsetsToTxn into TxnOffsetCommit; as EndTxn v5 is not
//     served, clients run version 1 and send v4 at most (the Java client's
//     LAST_STABLE_VERSION_BEFORE_TRANSACTION_V2, franz-go's AddOffsetsToTxn
//     path). Before the group coordinator writes anything, the producer is
//     verified with the transaction coordinator (KIP-890 part 1): the
//     group's offsets partition must be in its open transaction, else
//     INVALID_TXN_STATE (or the coordinator's PRODUCER_FENCED /
//     INVALID_PRODUCER_EPOCH / INVALID_PRODUCER_ID_MAPPING). The offsets
//     then stay pending (package groups) until the transaction's marker.
//
// Authorization, as Kafka: WRITE on the transactional id
// (TRANSACTIONAL_ID_AUTHORIZATION_FAILED), READ on the group
// (GROUP_AUTHORIZATION_FAILED), and for TxnOffsetCommit READ on each
// topic (its partitions TOPIC_AUTHORIZATION_FAILED; the others are
// committed).

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafki/kafki/brokerd/auth"
	"github.com/kafki/kafki/brokerd/groups"
	"github.com/kafki/kafki/brokerd/topics"
	"github.com/kafki/kafki/brokerd/txn"
)

const (
	addOffsetsToTxnMin = 0
	addOffsetsToTxnMax = 4
	txnOffsetCommitMin = 0
	txnOffsetCommitMax = 4
)

func (s *Server) handleAddOffsetsToTxn(ctx context.Context, rc *reqCtx, r kmsg.Request) kmsg.Response {
	req := r.(*kmsg.AddOffsetsToTxnRequest)
	resp := req.ResponseKind().(*kmsg.AddOffsetsToTxnResponse)
	resp.ErrorCode = rc.errCode(s.addOffsetsToTxn(ctx, rc, req))
	return resp
}

func (s *Server) addOffsetsToTxn(ctx context.Context, rc *reqCtx, req *kmsg.AddOffsetsToTxnRequest) int16 {
	if !rc.authorize(ctx, auth.OpWrite, auth.TransactionalID(req.TransactionalID)) {
		return kerr.TransactionalIDAuthorizationFailed.Code
	}
	if !rc.authorize(ctx, auth.OpRead, auth.Group(req.Group)) {
		return kerr.GroupAuthorizationFailed.Code
	}
	c, code := s.txnCoordinator(rc)
	if code != 0 {
		return code
	}
	p, code := s.offsetsPartition(ctx, rc, req.Group)
	if code != 0 {
		return code
	}
	return errorCode(c.AddPartitions(ctx, req.TransactionalID, req.ProducerID, req.ProducerEpoch, []txn.Partition{p}))
}

// offsetsPartition is group's partition of __consumer_offsets, opening
// the group state (creating the topic) on first use.
func (s *Server) offsetsPartition(ctx context.Context, rc *reqCtx, group string) (txn.Partition, int16) {
	if group == "" {
		return txn.Partition{}, kerr.InvalidGroupID.Code
	}
	if s.groups == nil {
		return txn.Partition{}, kerr.CoordinatorNotAvailable.Code
	}
	if err := s.ensureGroups(ctx); err != nil {
		rc.conn.log.Error("group state unavailable", "err", err)
		return txn.Partition{}, kerr.CoordinatorNotAvailable.Code
	}
	t := s.topics.Topic(topics.OffsetsTopic)
	if t == nil || len(t.Partitions) == 0 {
		return txn.Partition{}, kerr.CoordinatorNotAvailable.Code
	}
	return txn.Partition{Topic: topics.OffsetsTopic, Partition: groups.PartitionFor(group, int32(len(t.Partitions)))}, 0
}

func (s *Server) handleTxnOffsetCommit(ctx context.Context, rc *reqCtx, r kmsg.Request) kmsg.Response {
	req := r.(*kmsg.TxnOffsetCommitRequest)
	resp := req.ResponseKind().(*kmsg.TxnOffsetCommitResponse)
	if req.Version < 3 {
		req.Generation, req.MemberID, req.InstanceID = -1, "", nil
	}
	var denied []kmsg.TxnOffsetCommitRequestTopic
	if !s.allowAll {
		id := rc.ask(auth.OpWrite, auth.TransactionalID(req.TransactionalID))
		g := rc.ask(auth.OpRead, auth.Group(req.Group))
		names := make([]string, len(req.Topics))
		for i, t := range req.Topics {
			names[i] = t.Topic
		}
		authz := rc.askTopics(auth.OpRead, names)
		rc.decide(ctx)
		switch {
		case !rc.allowed(id):
			return txnOffsetCommitAll(rc, resp, req.Topics, kerr.TransactionalIDAuthorizationFailed.Code)
		case !rc.allowed(g):
			return txnOffsetCommitAll(rc, resp, req.Topics, kerr.GroupAuthorizationFailed.Code)
		}
		var kept []kmsg.TxnOffsetCommitRequestTopic
		for i, t := range req.Topics {
			if rc.allowedAt(authz, i) {
				kept = append(kept, t)
			} else {
				denied = append(denied, t)
			}
		}
		req.Topics = kept
	}
	if len(req.Topics) > 0 {
		if code := s.verifyTxnOffsets(ctx, rc, req); code != 0 {
			txnOffsetCommitAll(rc, resp, req.Topics, code)
		} else {
			got := s.groups.TxnOffsetCommit(req)
			for _, t := range got.Topics {
				for _, p := range t.Partitions {
					rc.errCode(p.ErrorCode)
				}
			}
			resp.Topics = got.Topics
		}
	}
	return txnOffsetCommitAll(rc, resp, denied, kerr.TopicAuthorizationFailed.Code)
}

// verifyTxnOffsets checks with the transaction coordinator that the
// group's offsets partition is in the producer's open transaction.
func (s *Server) verifyTxnOffsets(ctx context.Context, rc *reqCtx, req *kmsg.TxnOffsetCommitRequest) int16 {
	c, code := s.txnCoordinator(rc)
	if code != 0 {
		return code
	}
	p, code := s.offsetsPartition(ctx, rc, req.Group)
	if code != 0 {
		return code
	}
	if !s.groups.Owns(req.Group) {
		return kerr.NotCoordinator.Code
	}
	return errorCode(c.Verify(req.TransactionalID, req.ProducerID, req.ProducerEpoch, []txn.Partition{p}))
}

// txnOffsetCommitAll answers every partition of ts with code, in resp.
func txnOffsetCommitAll(rc *reqCtx, resp *kmsg.TxnOffsetCommitResponse, ts []kmsg.TxnOffsetCommitRequestTopic, code int16) *kmsg.TxnOffsetCommitResponse {
	for _, t := range ts {
		rt := kmsg.NewTxnOffsetCommitResponseTopic()
		rt.Topic = t.Topic
		for _, p := range t.Partitions {
			rp := kmsg.NewTxnOffsetCommitResponseTopicPartition()
			rp.Partition, rp.ErrorCode = p.Partition, rc.errCode(code)
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp
}

package server

// Produce (key 0), versions 0-13; v13 names topics by id.
//
// Versions 0-2 are advertised, as Kafka 4.x does, because librdkafka turns
// compression off against a broker whose Produce minimum is above 0; their
// magic 0/1 message sets are refused per partition with
// UNSUPPORTED_FOR_MESSAGE_FORMAT, as only v2 batches are stored.
//
// acks=0 sends no response; acks=1 answers after the leader's append;
// acks=-1 answers after the append and, with log.flush.on.ack, an fsync,
// and in a cluster once every in-sync replica has copied the batch (the
// high watermark passed it): NOT_ENOUGH_REPLICAS when the ISR is below
// min.insync.replicas before the append, NOT_ENOUGH_REPLICAS_AFTER_APPEND
// when it shrank below it before the commit, REQUEST_TIMED_OUT when the
// request's timeout passed first, NOT_LEADER_OR_FOLLOWER when leadership
// (or this broker's session lease) was lost. A single node is its own
// in-sync replica set, so there acks=-1 and acks=1 differ only in the
// fsync. Each partition carries exactly one v2 batch, as Kafka
// requires (more is INVALID_RECORD); it is validated in full before it is
// appended: a CRC mismatch is CORRUPT_MESSAGE and nothing is written.
//
// Authorization: WRITE on each topic, TOPIC_AUTHORIZATION_FAILED on its
// partitions otherwise, before existence is checked (as Kafka, so a
// producer learns nothing of topics it may not write); an unknown topic id
// is UNKNOWN_TOPIC_ID first. Idempotent batches need nothing more
// (KIP-679: WRITE implies IDEMPOTENT_WRITE).

import (
	"context"
	"errors"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafki/kafki/brokerd/auth"
	"github.com/kafki/kafki/brokerd/batch"
	"github.com/kafki/kafki/brokerd/meta"
	"github.com/kafki/kafki/brokerd/topics"
)

const (
	produceMin = 0
	produceMax = 13
)

func (s *Server) handleProduce(ctx context.Context, rc *reqCtx, r kmsg.Request) kmsg.Response {
	req := r.(*kmsg.ProduceRequest)
	resp := req.ResponseKind().(*kmsg.ProduceResponse)
	sync := req.Acks == -1 && s.opts.FlushOnAck
	if req.Acks != 0 && req.Acks != 1 && req.Acks != -1 {
		return s.produceAllErr(rc, req, resp, kerr.InvalidRequiredAcks.Code)
	}
	if req.TransactionID != nil && !rc.authorize(ctx, auth.OpWrite, auth.TransactionalID(*req.TransactionID)) {
		// As Kafka, WRITE on the id before anything else.
		return s.produceAllErr(rc, req, resp, kerr.TransactionalIDAuthorizationFailed.Code)
	}
	authz := s.produceAuthz(ctx, rc, req)
	defer rc.releaseAuthz()
	// acks=all writes waiting for the ISR, answered after every append of
	// the request so that the partitions replicate in parallel.
	type pending struct {
		ti, pi int // index of the answer in resp.Topics[ti].Partitions[pi]
		part   *topics.Partition
		last   int64
	}
	var waits []pending
	for ti, t := range req.Topics {
		rt := kmsg.NewProduceResponseTopic()
		rt.Topic, rt.TopicID = t.Topic, t.TopicID
		name := s.produceName(req, &t)
		denied := !rc.allowedAt(authz, ti)
		for _, p := range t.Partitions {
			rp := kmsg.NewProduceResponseTopicPartition()
			rp.Partition = p.Partition
			rp.BaseOffset, rp.LogAppendTime, rp.LogStartOffset = -1, -1, -1
			part := s.topics.Partition(name, p.Partition)
			switch {
			case denied:
				rp.ErrorCode = rc.errCode(kerr.TopicAuthorizationFailed.Code)
			case part == nil && req.Version >= 13:
				rp.ErrorCode = rc.errCode(kerr.UnknownTopicID.Code)
			case part == nil:
				rp.ErrorCode = rc.errCode(kerr.UnknownTopicOrPartition.Code)
			case topics.IsInternal(name):
				// Only the group coordinator writes its own topic; a client
				// record there would be taken as group state.
				rp.ErrorCode = rc.errCode(kerr.InvalidTopicException.Code)
				msg := "cannot produce to internal topic " + name
				rp.ErrorMessage = &msg
			case req.Version < 3:
				rp.ErrorCode = rc.errCode(kerr.UnsupportedForMessageFormat.Code)
			default:
				if req.Acks == -1 {
					if err := part.CanAcceptAll(); err != nil {
						rp.ErrorCode = rc.errCode(errorCode(err))
						break
					}
				}
				if req.TransactionID != nil {
					if code := s.verifyTxnProduce(ctx, req.Version, *req.TransactionID, txnHeaderOf(p.Records), name, p.Partition); code != 0 {
						rp.ErrorCode = rc.errCode(code)
						break
					}
				}
				res, err := part.AppendWith(p.Records, topics.AppendOptions{Sync: sync, Transactional: req.TransactionID != nil})
				if err != nil {
					rp.ErrorCode = rc.errCode(errorCode(err))
					rp.ErrorMessage = errMsg(err)
					if !errors.Is(err, batch.ErrCorrupt) {
						rc.conn.log.Debug("produce refused", "topic", name, "partition", p.Partition, "err", err)
					} else {
						rc.conn.log.Warn("corrupt batch refused", "topic", name, "partition", p.Partition, "err", err)
					}
					break
				}
				rp.BaseOffset, rp.LogAppendTime, rp.LogStartOffset = res.BaseOffset, res.LogAppendTime, res.LogStartOffset
				if req.Acks == -1 && s.cluster != nil {
					waits = append(waits, pending{ti: len(resp.Topics), pi: len(rt.Partitions), part: part, last: res.LastOffset})
				}
			}
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	if len(waits) > 0 {
		wctx, cancel := context.WithTimeout(ctx, requestTimeout(req.TimeoutMillis))
		defer cancel()
		for _, w := range waits {
			if err := w.part.AwaitCommitted(wctx, w.last); err != nil {
				rp := &resp.Topics[w.ti].Partitions[w.pi]
				rp.ErrorCode = rc.errCode(errorCode(err))
				rp.BaseOffset, rp.LogAppendTime = -1, -1
			}
		}
	}
	if req.Acks == 0 {
		return nil
	}
	return resp
}

// produceAuthz asks for WRITE on each topic of the request (an unknown
// topic id is UNKNOWN_TOPIC_ID, not asked); the verdicts are for
// rc.allowedAt.
func (s *Server) produceAuthz(ctx context.Context, rc *reqCtx, req *kmsg.ProduceRequest) []int {
	if s.allowAll {
		return nil
	}
	authz := rc.authzIndexes(len(req.Topics))
	for ti := range req.Topics {
		authz[ti] = -1
		if name := s.produceName(req, &req.Topics[ti]); name != "" {
			authz[ti] = rc.ask(auth.OpWrite, auth.Topic(name))
		}
	}
	rc.decide(ctx)
	return authz
}

// produceName is the name of a topic of the request; "" for an unknown
// topic id (v13+).
func (s *Server) produceName(req *kmsg.ProduceRequest, t *kmsg.ProduceRequestTopic) string {
	if req.Version < 13 {
		return t.Topic
	}
	if tp := s.topics.TopicByID(meta.TopicID(t.TopicID)); tp != nil {
		return tp.Name
	}
	return ""
}

func (s *Server) produceAllErr(rc *reqCtx, req *kmsg.ProduceRequest, resp *kmsg.ProduceResponse, code int16) kmsg.Response {
	for _, t := range req.Topics {
		rt := kmsg.NewProduceResponseTopic()
		rt.Topic, rt.TopicID = t.Topic, t.TopicID
		for _, p := range t.Partitions {
			rp := kmsg.NewProduceResponseTopicPartition()
			rp.Partition = p.Partition
			rp.BaseOffset, rp.LogAppendTime, rp.LogStartOffset = -1, -1, -1
			rp.ErrorCode = rc.errCode(code)
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	if req.Acks == 0 {
		return nil
	}
	return resp
}

// txnHeaderOf reads what transaction verification needs of a produce
// record set's first batch; an unparseable one is not transactional (the
// append then refuses it with the batch's own error).
func txnHeaderOf(records []byte) produceTxnHeader {
	h, err := batch.ParseHeader(records)
	if err != nil {
		return produceTxnHeader{}
	}
	return produceTxnHeader{transactional: h.IsTransactional() && !h.IsControl(), pid: h.ProducerID, epoch: h.ProducerEpoch}
}

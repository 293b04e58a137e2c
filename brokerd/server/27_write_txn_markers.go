package server

// WriteTxnMarkers (key 27), versions 0-2: a transaction coordinator (another
// broker's, or this one's through the same path) or an admin
// (kafka-transactions.sh abort) asks this broker, as the leader of each
// named partition, to end a producer's transaction there with a COMMIT or
// ABORT control batch.
//
// For each marker and partition: UNKNOWN_TOPIC_OR_PARTITION for a partition
// this broker does not have, NOT_LEADER_OR_FOLLOWER where it is not the
// leader (the coordinator looks the leader up again and retries),
// INVALID_PRODUCER_EPOCH for a marker older than the producer's epoch in
// the log (a fenced coordinator's or a late retry's). Otherwise the marker
// is appended and the partition answers once its in-sync replicas have it
// (the high watermark passed it): a marker acknowledged here survives the
// loss of this leader, which is what lets the coordinator complete the
// transaction. Markers are appended first and awaited after, so the
// partitions of a request replicate in parallel. v2's TransactionVersion is
// accepted: under transaction version 2 the marker carries the bumped
// epoch, which the log's producer state takes as the producer's new epoch.
//
// Authorization, as Kafka: CLUSTER_ACTION on the cluster (brokers and
// admins), CLUSTER_AUTHORIZATION_FAILED on every partition otherwise.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafki/kafki/brokerd/auth"
	"github.com/kafki/kafki/brokerd/topics"
)

const (
	writeTxnMarkersMin = 0
	writeTxnMarkersMax = 2
)

func (s *Server) handleWriteTxnMarkers(ctx context.Context, rc *reqCtx, r kmsg.Request) kmsg.Response {
	req := r.(*kmsg.WriteTxnMarkersRequest)
	resp := req.ResponseKind().(*kmsg.WriteTxnMarkersResponse)
	code := int16(0)
	if !rc.authorize(ctx, auth.OpClusterAction, auth.Cluster()) {
		code = kerr.ClusterAuthorizationFailed.Code
	}
	type pending struct {
		mi, ti, pi int // the answer's place in resp.Markers[mi].Topics[ti].Partitions[pi]
		part       *topics.Partition
		offset     int64
	}
	var waits []pending
	for mi, m := range req.Markers {
		rm := kmsg.NewWriteTxnMarkersResponseMarker()
		rm.ProducerID = m.ProducerID
		for ti, t := range m.Topics {
			rt := kmsg.NewWriteTxnMarkersResponseMarkerTopic()
			rt.Topic = t.Topic
			for pi, p := range t.Partitions {
				rp := kmsg.NewWriteTxnMarkersResponseMarkerTopicPartition()
				rp.Partition = p
				part := s.topics.Partition(t.Topic, p)
				switch {
				case code != 0:
					rp.ErrorCode = code
				case part == nil:
					rp.ErrorCode = kerr.UnknownTopicOrPartition.Code
				default:
					off, err := part.AppendMarker(m.ProducerID, m.ProducerEpoch, m.Committed, m.CoordinatorEpoch, s.opts.FlushOnAck)
					if err != nil {
						rp.ErrorCode = errorCode(err)
						rc.conn.log.Debug("transaction marker refused", "topic", t.Topic, "partition", p, "producer.id", m.ProducerID, "err", err)
						break
					}
					waits = append(waits, pending{mi: mi, ti: ti, pi: pi, part: part, offset: off})
				}
				rp.ErrorCode = rc.errCode(rp.ErrorCode)
				rt.Partitions = append(rt.Partitions, rp)
			}
			rm.Topics = append(rm.Topics, rt)
		}
		resp.Markers = append(resp.Markers, rm)
	}
	if len(waits) > 0 {
		wctx, cancel := context.WithTimeout(ctx, requestTimeout(0))
		defer cancel()
		for _, w := range waits {
			if err := w.part.AwaitCommitted(wctx, w.offset); err != nil {
				resp.Markers[w.mi].Topics[w.ti].Partitions[w.pi].ErrorCode = rc.errCode(errorCode(err))
			}
		}
	}
	return resp
}

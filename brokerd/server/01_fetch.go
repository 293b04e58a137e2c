package server

// Fetch (key 1), versions 4-17; v13+ names topics by id.
//
// Sessionless: a request that asks for a new fetch session (epoch 0) gets
// session id 0 back, which tells clients (KIP-227) to keep sending full
// requests; an incremental request for a session id gets
// FETCH_SESSION_ID_NOT_FOUND. Only offsets below the high watermark are
// returned. Long polls: when fewer than MinBytes are ready the request waits
// on the partitions' change signals until MinBytes, MaxWaitMillis or
// shutdown, whichever comes first. MaxBytes and PartitionMaxBytes bound the
// response, except that the first batch of the response is returned whole
// even when larger (KIP-74), so consumers always progress.
//
// Record bytes are read from the segment with one pread into a buffer of
// their own and copied once more into the response frame by kmsg's encoder.
//
// Tiered storage: an offset below the local log start is read from the
// remote tier (topics.Partition.ReadRemote), whose object-store requests
// are bounded by its own semaphore and cache; the log start offset
// reported is the remote one when the remote tier holds older data. An
// offset below the remote start is OFFSET_OUT_OF_RANGE; a failing object
// store is KAFKA_STORAGE_ERROR, which clients retry.
//
// In a cluster the leader answers consumers (FENCED_LEADER_EPOCH /
// UNKNOWN_LEADER_EPOCH when the request's current leader epoch is older /
// newer than this broker's), and so do followers for Fetch v11+ (KIP-392),
// from their local log up to the high watermark the leader last reported;
// elsewhere NOT_LEADER_OR_FOLLOWER. With replica.selector.class set to
// RackAwareReplicaSelector a leader answers a consumer that names a rack
// other than its own with no records and the in-sync follower of that
// rack holding the fetch offset (the most caught-up one) as its preferred
// read replica; as in Kafka, an offset a follower does not hold is
// OFFSET_OUT_OF_RANGE with its log start and high watermark, from which
// the client tells whether to go back to the leader or validate its
// position there. A fetch with
// a replica id is a follower's: the fetch offset is recorded as the
// follower's log end offset (which may move the high watermark and answer
// acks=all producers) and records up to the leader's log end are returned,
// from the local log only.
//
// Authorization, as Kafka: a follower's fetch needs CLUSTER_ACTION on the
// cluster, else every partition is TOPIC_AUTHORIZATION_FAILED; a
// consumer's needs READ on each topic, else its partitions are
// TOPIC_AUTHORIZATION_FAILED (before existence is checked; an unknown
// topic id is UNKNOWN_TOPIC_ID). Asked once per request, not per poll.

import (
	"context"
	"errors"
	"math"
	"reflect"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafki/kafki/brokerd/auth"
	"github.com/kafki/kafki/brokerd/batch"
	"github.com/kafki/kafki/brokerd/meta"
	"github.com/kafki/kafki/brokerd/topics"
)

const (
	fetchMin = 4
	fetchMax = 17
	// maxFetchWait caps a client's MaxWaitMillis.
	maxFetchWait = 5 * time.Minute
)

func (s *Server) handleFetch(ctx context.Context, rc *reqCtx, r kmsg.Request) kmsg.Response {
	req := r.(*kmsg.FetchRequest)
	if req.SessionID != 0 || req.SessionEpoch > 0 {
		resp := req.ResponseKind().(*kmsg.FetchResponse)
		resp.ErrorCode = rc.errCode(kerr.FetchSessionIDNotFound.Code)
		return resp
	}
	authz := s.fetchAuthz(ctx, rc, req)
	defer rc.releaseAuthz()
	wait := time.Duration(req.MaxWaitMillis) * time.Millisecond
	if wait > maxFetchWait {
		wait = maxFetchWait
	}
	var deadline <-chan time.Time
	for {
		// Take the change signals before reading, so an append between
		// the read and the wait still wakes us.
		signals := s.fetchSignals(req)
		resp, n, final := s.fetchOnce(ctx, rc, req, authz)
		if final || n >= int(req.MinBytes) || wait <= 0 {
			s.countFetched(resp)
			return resp
		}
		if deadline == nil {
			t := time.NewTimer(wait)
			defer t.Stop()
			deadline = t.C
		}
		cases := make([]reflect.SelectCase, 0, len(signals)+2)
		cases = append(cases,
			reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(deadline)},
			reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(ctx.Done())})
		for _, ch := range signals {
			cases = append(cases, reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(ch)})
		}
		chosen, _, _ := reflect.Select(cases)
		if chosen < 2 {
			resp, _, _ = s.fetchOnce(ctx, rc, req, authz)
			s.countFetched(resp)
			return resp
		}
	}
}

// fetchAuthz asks whether the fetch may read its topics: a follower's
// needs CLUSTER_ACTION on the cluster, a consumer's READ on each topic (an
// unknown topic id is UNKNOWN_TOPIC_ID, not asked). It returns the
// verdict's index per request topic for rc.allowedAt.
func (s *Server) fetchAuthz(ctx context.Context, rc *reqCtx, req *kmsg.FetchRequest) []int {
	if s.allowAll {
		return nil
	}
	idx := rc.authzIndexes(len(req.Topics))
	if fetchReplica(req) >= 0 {
		c := rc.ask(auth.OpClusterAction, auth.Cluster())
		for i := range idx {
			idx[i] = c
		}
	} else {
		for i := range req.Topics {
			rt := &req.Topics[i]
			idx[i] = -1
			if t := s.fetchTopic(req, rt); t != nil {
				idx[i] = rc.ask(auth.OpRead, auth.Topic(t.Name))
			} else if req.Version < 13 {
				idx[i] = rc.ask(auth.OpRead, auth.Topic(rt.Topic))
			}
		}
	}
	rc.decide(ctx)
	return idx
}

// fetchReplica is the fetching replica's id, -1 for a consumer.
func fetchReplica(req *kmsg.FetchRequest) int32 {
	if req.Version >= 15 {
		return req.ReplicaState.ID
	}
	return req.ReplicaID
}

func (s *Server) fetchTopic(req *kmsg.FetchRequest, t *kmsg.FetchRequestTopic) *topics.Topic {
	if req.Version >= 13 {
		return s.topics.TopicByID(meta.TopicID(t.TopicID))
	}
	return s.topics.Topic(t.Topic)
}

func (s *Server) fetchSignals(req *kmsg.FetchRequest) []<-chan struct{} {
	var out []<-chan struct{}
	for i := range req.Topics {
		t := s.fetchTopic(req, &req.Topics[i])
		if t == nil {
			continue
		}
		for _, p := range req.Topics[i].Partitions {
			if p.Partition >= 0 && int(p.Partition) < len(t.Partitions) {
				part := t.Partitions[p.Partition]
				out = append(out, part.Log().Changed())
				if s.cluster != nil {
					out = append(out, part.HWChanged())
				}
			}
		}
	}
	return out
}

// fetchOnce builds a response from what is readable now. n is the number of
// record bytes in it; final is true when a partition error means waiting
// would not help (Kafka answers errors at once). authz holds the verdicts
// of fetchAuthz.
func (s *Server) fetchOnce(ctx context.Context, rc *reqCtx, req *kmsg.FetchRequest, authz []int) (resp *kmsg.FetchResponse, n int, final bool) {
	resp = req.ResponseKind().(*kmsg.FetchResponse)
	resp.SetVersion(req.Version)
	replica := fetchReplica(req)
	budget := int(req.MaxBytes)
	if req.Version < 3 || budget <= 0 {
		budget = int(s.opts.MaxRequestBytes)
	}
	for i := range req.Topics {
		rt := &req.Topics[i]
		t := s.fetchTopic(req, rt)
		st := kmsg.NewFetchResponseTopic()
		st.Topic, st.TopicID = rt.Topic, rt.TopicID
		if t != nil {
			st.Topic = t.Name
		}
		for _, rp := range rt.Partitions {
			sp := kmsg.NewFetchResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.HighWatermark, sp.LastStableOffset, sp.LogStartOffset = -1, -1, -1
			sp.PreferredReadReplica = -1
			// librdkafka rejects a null record set: always send bytes,
			// empty when there is nothing, as Kafka does.
			sp.RecordBatches = []byte{}
			var part *topics.Partition
			if t != nil && rp.Partition >= 0 && int(rp.Partition) < len(t.Partitions) {
				part = t.Partitions[rp.Partition]
			}
			switch {
			case !rc.allowedAt(authz, i):
				sp.ErrorCode = rc.errCode(kerr.TopicAuthorizationFailed.Code)
				final = true
			case part == nil && req.Version >= 13:
				sp.ErrorCode = rc.errCode(kerr.UnknownTopicID.Code)
				final = true
			case part == nil:
				sp.ErrorCode = rc.errCode(kerr.UnknownTopicOrPartition.Code)
				final = true
			case replica >= 0 && s.cluster == nil:
				sp.ErrorCode = rc.errCode(kerr.NotLeaderForPartition.Code)
				final = true
			case replica >= 0:
				hw, err := part.FollowerFetch(replica, rp.CurrentLeaderEpoch, rp.FetchOffset, rp.LogStartOffset)
				if err != nil {
					sp.ErrorCode = rc.errCode(errorCode(err))
					final = true
					break
				}
				l := part.Log()
				sp.HighWatermark, sp.LastStableOffset, sp.LogStartOffset = hw, hw, l.LogStartOffset()
				limit := min(int(rp.PartitionMaxBytes), budget)
				if n > 0 && limit <= 0 {
					break
				}
				data, err := l.ReadWith(rp.FetchOffset, max(limit, 1), math.MaxInt64, rc.allocRead)
				if err != nil {
					sp.ErrorCode = rc.errCode(errorCode(err))
					final = true
					break
				}
				if n > 0 && len(data) > limit {
					data = nil // only the response's first batch may exceed the limits
				}
				if data != nil {
					sp.RecordBatches = data
				}
				n += len(data)
				budget -= len(data)
			default:
				follower, err := s.consumerRead(req, part, rp.CurrentLeaderEpoch)
				if err != nil {
					sp.ErrorCode = rc.errCode(errorCode(err))
					final = true
					break
				}
				l := part.Log()
				hw := part.HighWatermark()
				lso := l.LastStableOffset(hw)
				sp.HighWatermark, sp.LastStableOffset, sp.LogStartOffset = hw, lso, l.LogStartOffset()
				// read_committed reads up to the last stable offset.
				upper := hw
				if req.IsolationLevel == 1 {
					upper = lso
				}
				if pref := s.preferredReadReplica(rc, req, part, follower, rp.FetchOffset); pref >= 0 {
					// KIP-392: no records, just where to fetch them.
					sp.PreferredReadReplica = pref
					final = true
					break
				}
				limit := int(rp.PartitionMaxBytes)
				if limit > budget {
					limit = budget
				}
				if n > 0 && limit <= 0 {
					break // response full; the client asks again
				}
				if limit <= 0 {
					limit = 1 // KIP-74: still return the first batch whole
				}
				var data []byte
				remote := false
				if !follower {
					// A follower serves its local log only: an offset
					// below it is OFFSET_OUT_OF_RANGE with its log start,
					// which sends KIP-392 clients back to the leader.
					data, remote, err = part.ReadRemote(ctx, rp.FetchOffset, limit)
				}
				if !remote {
					data, err = l.ReadWith(rp.FetchOffset, limit, upper, rc.allocRead)
				}
				if s.topics.Tier() != nil && !follower {
					sp.LogStartOffset = part.LogStartOffset(ctx)
				}
				if err != nil {
					code := errorCode(err)
					if errors.Is(err, topics.ErrRemoteUnavailable) {
						code = kerr.KafkaStorageError.Code
					}
					sp.ErrorCode = rc.errCode(code)
					final = true
					break
				}
				if n > 0 && len(data) > limit {
					// The log returns a first batch larger than the
					// limit whole; KIP-74 allows that only for the
					// first batch of the whole response.
					data = nil
				}
				if data != nil && req.IsolationLevel == 1 {
					if sp.AbortedTransactions, err = abortedTxns(ctx, part, rp.FetchOffset, data); err != nil {
						sp.ErrorCode = rc.errCode(kerr.KafkaStorageError.Code)
						final = true
						break
					}
				}
				if data != nil {
					// nil keeps the empty (not null) records that
					// non-flexible versions' readers require.
					sp.RecordBatches = data
				}
				n += len(data)
				budget -= len(data)
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp, n, final
}

func (s *Server) countFetched(resp *kmsg.FetchResponse) {
	for _, t := range resp.Topics {
		var n int
		for _, p := range t.Partitions {
			n += len(p.RecordBatches)
		}
		if n > 0 {
			s.metrics.Fetched(t.Topic, n)
		}
	}
}

// consumerRead checks that this broker may answer a consumer's fetch of
// part at epoch: as its leader, or (Fetch v11+, in a cluster) as one of
// its followers (follower true).
func (s *Server) consumerRead(req *kmsg.FetchRequest, part *topics.Partition, epoch int32) (follower bool, err error) {
	err = part.CheckLeader(epoch)
	if err == nil || !errors.Is(err, topics.ErrNotLeader) || req.Version < 11 || s.cluster == nil {
		return false, err
	}
	if ferr := part.CheckFollowerRead(epoch); ferr != nil {
		if errors.Is(ferr, topics.ErrNotLeader) {
			return false, err
		}
		return false, ferr
	}
	return true, nil
}

// preferredReadReplica is the follower a leader sends a consumer at
// offset to (KIP-392, Kafka's RackAwareReplicaSelector): an in-sync
// follower in the consumer's rack holding the offset, the most caught-up
// one (the lowest id on a tie); -1 to serve it here, which is always the
// case when this broker is in the consumer's rack or the selector is off.
func (s *Server) preferredReadReplica(rc *reqCtx, req *kmsg.FetchRequest, part *topics.Partition, follower bool, offset int64) int32 {
	if follower || !s.opts.RackAwareReads || s.cluster == nil || req.Version < 11 || req.Rack == "" {
		return -1
	}
	if rc.racks == nil {
		// Once per request, not per partition and long-poll pass: the
		// broker list is copied under the node's lock.
		rc.racks = map[int32]string{}
		for _, b := range s.cluster.Brokers() {
			rc.racks[b.ID] = b.Rack
		}
	}
	racks := rc.racks
	if racks[s.cluster.Self()] == req.Rack {
		return -1
	}
	best, bestEnd := int32(-1), int64(-1)
	for _, r := range part.ReadReplicas(offset) {
		if racks[r.ID] != req.Rack {
			continue
		}
		if r.LogEnd > bestEnd || (r.LogEnd == bestEnd && r.ID < best) {
			best, bestEnd = r.ID, r.LogEnd
		}
	}
	return best
}

// abortedTxns lists the aborted transactions a read_committed client
// needs for the records of data, read from offset from: it drops their
// records. Kafka sends an empty list rather than null when there are
// none.
func abortedTxns(ctx context.Context, part *topics.Partition, from int64, data []byte) ([]kmsg.FetchResponseTopicPartitionAbortedTransaction, error) {
	as, err := part.AbortedTxns(ctx, from, recordsEnd(from, data))
	if err != nil {
		return nil, err
	}
	out := make([]kmsg.FetchResponseTopicPartitionAbortedTransaction, 0, len(as))
	for _, a := range as {
		t := kmsg.NewFetchResponseTopicPartitionAbortedTransaction()
		t.ProducerID, t.FirstOffset = a.ProducerID, a.FirstOffset
		out = append(out, t)
	}
	return out, nil
}

// recordsEnd is the offset after the last whole batch of data (the log's
// own bytes, so headers parse); from when there is none.
func recordsEnd(from int64, data []byte) int64 {
	end := from
	for len(data) > 0 {
		h, err := batch.ParseHeader(data)
		if err != nil || h.Size() > len(data) {
			break
		}
		end = h.LastOffset() + 1
		data = data[h.Size():]
	}
	return end
}

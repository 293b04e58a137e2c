package server

// Metadata (key 3), versions 0-13.
//
// Lists this broker as the only broker, controller and leader (epoch 0) of
// every partition. A null topic list (an empty one in v0) means all topics.
// Unknown topics are created with num.partitions when
// auto.create.topics.enable is on and the request allows it (always in
// v0-3); names that are not legal get INVALID_TOPIC_EXCEPTION. v10+ may
// name topics by id; an unknown id is UNKNOWN_TOPIC_ID.

import (
	"context"
	"errors"
	"sort"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafki/kafki/brokerd/meta"
	"github.com/kafki/kafki/brokerd/topics"
)

const (
	metadataMin = 0
	metadataMax = 13
)

func (s *Server) handleMetadata(ctx context.Context, rc *reqCtx, r kmsg.Request) kmsg.Response {
	req := r.(*kmsg.MetadataRequest)
	resp := req.ResponseKind().(*kmsg.MetadataResponse)
	b := kmsg.NewMetadataResponseBroker()
	b.NodeID, b.Host, b.Port = s.cfg.NodeID, s.host, s.port
	resp.Brokers = []kmsg.MetadataResponseBroker{b}
	cid := s.cfg.ClusterID
	resp.ClusterID = &cid
	resp.ControllerID = s.cfg.NodeID

	all := req.Topics == nil || (req.Version == 0 && len(req.Topics) == 0)
	if all {
		ts := s.topics.Topics()
		sort.Slice(ts, func(i, j int) bool { return ts[i].Name < ts[j].Name })
		for _, t := range ts {
			resp.Topics = append(resp.Topics, s.metadataTopic(t))
		}
		return resp
	}
	autoCreate := s.cfg.AutoCreateTopics && (req.Version < 4 || req.AllowAutoTopicCreation)
	for _, rt := range req.Topics {
		var t *topics.Topic
		switch {
		case rt.Topic == nil || *rt.Topic == "":
			if rt.TopicID == ([16]byte{}) {
				mt := s.metadataErr(rc, rt, kerr.InvalidTopicException.Code)
				resp.Topics = append(resp.Topics, mt)
				continue
			}
			if t = s.topics.TopicByID(meta.TopicID(rt.TopicID)); t == nil {
				resp.Topics = append(resp.Topics, s.metadataErr(rc, rt, kerr.UnknownTopicID.Code))
				continue
			}
		default:
			t = s.topics.Topic(*rt.Topic)
			if t == nil && autoCreate {
				var err error
				t, err = s.topics.CreateTopic(ctx, *rt.Topic, -1, nil, false)
				if errors.Is(err, topics.ErrTopicExists) {
					t, err = s.topics.Topic(*rt.Topic), nil
				}
				if err != nil || t == nil {
					resp.Topics = append(resp.Topics, s.metadataErr(rc, rt, errorCode(err)))
					continue
				}
			}
			if t == nil {
				code := kerr.UnknownTopicOrPartition.Code
				if topics.ValidateName(*rt.Topic) != nil {
					code = kerr.InvalidTopicException.Code
				}
				resp.Topics = append(resp.Topics, s.metadataErr(rc, rt, code))
				continue
			}
		}
		resp.Topics = append(resp.Topics, s.metadataTopic(t))
	}
	return resp
}

func (s *Server) metadataErr(rc *reqCtx, rt kmsg.MetadataRequestTopic, code int16) kmsg.MetadataResponseTopic {
	mt := kmsg.NewMetadataResponseTopic()
	mt.Topic, mt.TopicID = rt.Topic, rt.TopicID
	mt.ErrorCode = rc.errCode(code)
	return mt
}

func (s *Server) metadataTopic(t *topics.Topic) kmsg.MetadataResponseTopic {
	mt := kmsg.NewMetadataResponseTopic()
	name := t.Name
	mt.Topic, mt.TopicID = &name, t.ID
	mt.IsInternal = topics.IsInternal(name)
	replicas := []int32{s.cfg.NodeID}
	for i := range t.Partitions {
		p := kmsg.NewMetadataResponseTopicPartition()
		p.Partition = int32(i)
		p.Leader = s.cfg.NodeID
		p.LeaderEpoch = currentLeaderEpoch
		p.Replicas, p.ISR = replicas, replicas
		if t.Partitions[i].Log().Offline() != nil {
			p.ErrorCode = kerr.KafkaStorageError.Code
			p.OfflineReplicas = replicas
		}
		mt.Partitions = append(mt.Partitions, p)
	}
	return mt
}

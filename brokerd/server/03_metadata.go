package server

// Metadata (key 3), versions 0-13.
//
// On a single node, lists this broker as the only broker, controller and
// leader (epoch 0) of every partition; in a cluster, the live brokers, the
// controller and each partition's leader, epoch, replicas and ISR as last
// read from the shared metadata (LEADER_NOT_AVAILABLE while a partition
// has no leader). A null topic list (an empty one in v0) means all topics.
// Unknown topics are created with num.partitions when
// auto.create.topics.enable is on and the request allows it (always in
// v0-3); names that are not legal get INVALID_TOPIC_EXCEPTION. v10+ may
// name topics by id; an unknown id is UNKNOWN_TOPIC_ID.
//
// Authorization, as Kafka: DESCRIBE on each topic. Of all topics, those
// not describable are left out; a topic named explicitly and not
// describable is TOPIC_AUTHORIZATION_FAILED whether or not it exists (by
// id: answered without its name). Auto-creation also needs CREATE on the
// cluster or on the topic (TOPIC_AUTHORIZATION_FAILED otherwise). v8+
// return the authorized operations asked for (KIP-430, acls.go).

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafki/kafki/brokerd/auth"
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
	brokers, ctrl := s.brokers(rc.conn.listener)
	for _, ba := range brokers {
		b := kmsg.NewMetadataResponseBroker()
		b.NodeID, b.Host, b.Port, b.Rack = ba.id, ba.host, ba.port, ba.rack
		resp.Brokers = append(resp.Brokers, b)
	}
	cid := s.opts.ClusterID
	resp.ClusterID = &cid
	resp.ControllerID = ctrl

	all := req.Topics == nil || (req.Version == 0 && len(req.Topics) == 0)
	if all {
		ts := s.topics.Topics()
		sort.Slice(ts, func(i, j int) bool { return ts[i].Name < ts[j].Name })
		var authz []int
		if !s.allowAll {
			authz = make([]int, len(ts))
			for i, t := range ts {
				authz[i] = rc.ask(auth.OpDescribe, auth.Topic(t.Name))
			}
			rc.decide(ctx)
		}
		for i, t := range ts {
			if rc.allowedAt(authz, i) { // the others are not disclosed
				resp.Topics = append(resp.Topics, s.metadataTopic(t))
			}
		}
		s.metadataAuthorizedOps(ctx, rc, req, resp)
		return resp
	}
	autoCreate := s.opts.AutoCreateTopics && (req.Version < 4 || req.AllowAutoTopicCreation)
	authz, createAll := s.metadataAuthz(ctx, rc, req, autoCreate)
	for i, rt := range req.Topics {
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
			if !rc.allowedAt(authz, i) {
				// Ids are not secret, names are: answer without it.
				resp.Topics = append(resp.Topics, s.metadataErr(rc, rt, kerr.TopicAuthorizationFailed.Code))
				continue
			}
		case !rc.allowedAt(authz, i):
			// Whether it exists is not disclosed.
			resp.Topics = append(resp.Topics, s.metadataErr(rc, rt, kerr.TopicAuthorizationFailed.Code))
			continue
		default:
			var code int16
			if t, code = s.metadataNamed(ctx, rc, *rt.Topic, autoCreate, createAll); t == nil {
				resp.Topics = append(resp.Topics, s.metadataErr(rc, rt, code))
				continue
			}
		}
		resp.Topics = append(resp.Topics, s.metadataTopic(t))
	}
	s.metadataAuthorizedOps(ctx, rc, req, resp)
	return resp
}

// metadataAuthz asks, for a request naming topics, for DESCRIBE on each
// (by name, or by the name of the topic an id names; an unknown id is not
// asked), and when topics may be auto-created for CREATE on the cluster.
// It returns the per-topic verdict indexes and CREATE's.
func (s *Server) metadataAuthz(ctx context.Context, rc *reqCtx, req *kmsg.MetadataRequest, autoCreate bool) ([]int, int) {
	if s.allowAll {
		return nil, -1
	}
	authz := make([]int, len(req.Topics))
	for i, rt := range req.Topics {
		authz[i] = -1
		if rt.Topic != nil && *rt.Topic != "" {
			authz[i] = rc.ask(auth.OpDescribe, auth.Topic(*rt.Topic))
		} else if t := s.topics.TopicByID(meta.TopicID(rt.TopicID)); t != nil {
			authz[i] = rc.ask(auth.OpDescribe, auth.Topic(t.Name))
		}
	}
	create := -1
	if autoCreate {
		create = rc.ask(auth.OpCreate, auth.Cluster())
	}
	rc.decide(ctx)
	return authz, create
}

// metadataNamed finds a topic a Metadata request names (the caller may
// describe it), auto-creating it when allowed: by the request, and by
// CREATE on the cluster (the verdict createAll) or else on the topic. It
// returns the topic or the error code to answer.
func (s *Server) metadataNamed(ctx context.Context, rc *reqCtx, name string, autoCreate bool, createAll int) (*topics.Topic, int16) {
	t := s.topics.Topic(name)
	if t == nil && s.cluster != nil {
		// Perhaps created through another broker a moment ago.
		if err := s.cluster.Sync(ctx); err == nil {
			t = s.topics.Topic(name)
		}
	}
	if t != nil {
		return t, 0
	}
	if autoCreate {
		if !rc.allowed(createAll) && !rc.authorize(ctx, auth.OpCreate, auth.Topic(name)) {
			return nil, kerr.TopicAuthorizationFailed.Code
		}
		t, err := s.autoCreate(ctx, name)
		if errors.Is(err, topics.ErrTopicExists) {
			t, err = s.topics.Topic(name), nil
		}
		if err != nil || t == nil {
			return nil, errorCode(err)
		}
		return t, 0
	}
	if topics.ValidateName(name) != nil {
		return nil, kerr.InvalidTopicException.Code
	}
	return nil, kerr.UnknownTopicOrPartition.Code
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
	for i := range t.Partitions {
		p := kmsg.NewMetadataResponseTopicPartition()
		p.Partition = int32(i)
		v := s.partitionView(t.Partitions[i])
		p.Leader, p.LeaderEpoch, p.Replicas, p.ISR = v.leader, v.epoch, v.replicas, v.isr
		p.ErrorCode, p.OfflineReplicas = v.code, v.offline
		mt.Partitions = append(mt.Partitions, p)
	}
	return mt
}

// autoCreate creates a topic a Metadata request named, with the broker
// defaults; in a cluster it waits briefly for the controller to place it.
func (s *Server) autoCreate(ctx context.Context, name string) (*topics.Topic, error) {
	if s.cluster == nil {
		return s.topics.CreateTopic(ctx, name, -1, nil, false)
	}
	rf, code, msg := s.replicationFactor(ctx, -1)
	if code != 0 {
		return nil, fmt.Errorf("%w: %s", topics.ErrInvalidReplicationFactor, msg)
	}
	t, err := s.topics.CreateReplicatedTopic(ctx, name, -1, rf, nil, false)
	if err != nil {
		return nil, err
	}
	s.waitPlaced(ctx, name, int32(len(t.Partitions)), 5000)
	return t, nil
}

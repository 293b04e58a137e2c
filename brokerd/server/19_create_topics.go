package server

// CreateTopics (key 19), versions 2-7.
//
// Replication factor must be -1 (default.replication.factor) or between 1
// and the number of live brokers (INVALID_REPLICATION_FACTOR otherwise). On
// a single node manual replica assignments may only name this broker; in a
// cluster the controller places replicas (rack-aware) and manual
// assignments are refused for now. In a cluster the answer waits, within
// the request's timeout, until the controller has given every partition a
// leader, so the topic is usable when CreateTopics returns. Configs
// are validated before anything is written (INVALID_CONFIG). v5+ returns
// the effective configs; v7 the topic id. ValidateOnly checks without
// creating.
//
// Authorization, as Kafka: CREATE on the cluster or on the topic, else
// TOPIC_AUTHORIZATION_FAILED; the configs of the answer also need
// DESCRIBE_CONFIGS on the topic, else they are left out with
// ConfigErrorCode TOPIC_AUTHORIZATION_FAILED.

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafki/kafki/brokerd/auth"
)

const (
	createTopicsMin = 2
	createTopicsMax = 7
)

func (s *Server) handleCreateTopics(ctx context.Context, rc *reqCtx, r kmsg.Request) kmsg.Response {
	req := r.(*kmsg.CreateTopicsRequest)
	resp := req.ResponseKind().(*kmsg.CreateTopicsResponse)
	seen := map[string]int{}
	for _, t := range req.Topics {
		seen[t.Topic]++
	}
	create, describe := s.createTopicsAuthz(ctx, rc, req)
	for i, t := range req.Topics {
		rt := kmsg.NewCreateTopicsResponseTopic()
		rt.Topic = t.Topic
		rt.NumPartitions, rt.ReplicationFactor = -1, -1
		fail := func(code int16, msg string) {
			rt.ErrorCode = rc.errCode(code)
			rt.ErrorMessage = &msg
		}
		partitions := t.NumPartitions
		switch {
		case seen[t.Topic] > 1:
			fail(kerr.InvalidRequest.Code, fmt.Sprintf("topic %q appears more than once in the request", t.Topic))
		case !create(i):
			fail(kerr.TopicAuthorizationFailed.Code, "Authorization failed.")
		case t.ReplicationFactor != -1 && t.ReplicationFactor < 1:
			fail(kerr.InvalidReplicationFactor.Code, fmt.Sprintf("replication factor %d: must be at least 1", t.ReplicationFactor))
		case len(t.ReplicaAssignment) > 0 && s.cluster != nil:
			fail(kerr.InvalidReplicaAssignment.Code, "manual replica assignment is not supported in a cluster yet; give partitions and a replication factor")
		case len(t.ReplicaAssignment) > 0 && (t.NumPartitions != -1 || t.ReplicationFactor != -1):
			fail(kerr.InvalidRequest.Code, "give either a replica assignment or partitions and replication factor, not both")
		default:
			if len(t.ReplicaAssignment) > 0 {
				if msg := s.checkAssignment(t.ReplicaAssignment); msg != "" {
					fail(kerr.InvalidReplicaAssignment.Code, msg)
					break
				}
				partitions = int32(len(t.ReplicaAssignment))
			}
			configs, msg := createConfigs(t.Configs)
			if msg != "" {
				fail(kerr.InvalidConfig.Code, msg)
				break
			}
			rf, code, msg := s.replicationFactor(ctx, t.ReplicationFactor)
			if code != 0 {
				fail(code, msg)
				break
			}
			created, err := s.topics.CreateReplicatedTopic(ctx, t.Topic, partitions, rf, configs, req.ValidateOnly)
			if err != nil {
				fail(errorCode(err), err.Error())
				break
			}
			if !req.ValidateOnly {
				if code := s.waitPlaced(ctx, t.Topic, int32(len(created.Partitions)), req.TimeoutMillis); code != 0 {
					fail(code, "the controller has not placed the topic's partitions yet; it will")
				}
			}
			rt.TopicID = created.ID
			rt.NumPartitions = int32(len(created.Partitions))
			rt.ReplicationFactor = rf
			if !rc.allowedAt(describe, i) {
				rt.ConfigErrorCode = rc.errCode(kerr.TopicAuthorizationFailed.Code)
				break
			}
			for _, e := range s.opts.TopicConfigs(configs) {
				c := kmsg.NewCreateTopicsResponseTopicConfig()
				v := e.Value
				c.Name, c.Value, c.Source = e.Name, &v, int8(e.Source)
				rt.Configs = append(rt.Configs, c)
			}
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp
}

// createTopicsAuthz asks, in one call, for CREATE on the cluster and on
// each topic, and DESCRIBE_CONFIGS on each topic (for the configs v5+
// answers). create(i) reports whether topic i may be created; describe
// holds the DESCRIBE_CONFIGS verdicts for rc.allowedAt.
func (s *Server) createTopicsAuthz(ctx context.Context, rc *reqCtx, req *kmsg.CreateTopicsRequest) (create func(int) bool, describe []int) {
	if s.allowAll {
		return func(int) bool { return true }, nil
	}
	all := rc.ask(auth.OpCreate, auth.Cluster())
	names := make([]string, len(req.Topics))
	for i, t := range req.Topics {
		names[i] = t.Topic
	}
	byTopic := rc.askTopics(auth.OpCreate, names)
	describe = rc.askTopics(auth.OpDescribeConfigs, names)
	rc.decide(ctx)
	return func(i int) bool { return rc.allowed(all) || rc.allowedAt(byTopic, i) }, describe
}

// createConfigs are a new topic's configs, or why they are invalid.
func createConfigs(cs []kmsg.CreateTopicsRequestTopicConfig) (map[string]string, string) {
	configs := make(map[string]string, len(cs))
	for _, c := range cs {
		if c.Value == nil {
			return nil, fmt.Sprintf("config %q has a null value", c.Name)
		}
		configs[c.Name] = *c.Value
	}
	return configs, ""
}

func (s *Server) checkAssignment(as []kmsg.CreateTopicsRequestTopicReplicaAssignment) string {
	for i, a := range as {
		if a.Partition != int32(i) {
			return fmt.Sprintf("replica assignment partitions must be 0..%d in order", len(as)-1)
		}
		if len(a.Replicas) != 1 || a.Replicas[0] != s.opts.NodeID {
			return fmt.Sprintf("partition %d: replicas %v, but the only broker is %d", a.Partition, a.Replicas, s.opts.NodeID)
		}
	}
	return ""
}

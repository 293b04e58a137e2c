package server

// DescribeConfigs (key 32), versions 1-4.
//
// Topics: every supported topic config with its effective value and source
// (DYNAMIC_TOPIC_CONFIG for overrides, DEFAULT_CONFIG otherwise), filtered
// by ConfigNames when given. Brokers (this node's id, or "" for the cluster
// default): the broker-level defaults, read-only. Unknown resources get
// UNKNOWN_TOPIC_OR_PARTITION or INVALID_REQUEST.

import (
	"context"
	"fmt"
	"strconv"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafki/kafki/brokerd/topics"
)

const (
	describeConfigsMin = 1
	describeConfigsMax = 4
)

var configKinds = map[string]kmsg.ConfigType{
	"long":   kmsg.ConfigTypeLong,
	"int":    kmsg.ConfigTypeInt,
	"string": kmsg.ConfigTypeString,
	"list":   kmsg.ConfigTypeList,
}

func (s *Server) handleDescribeConfigs(_ context.Context, rc *reqCtx, r kmsg.Request) kmsg.Response {
	req := r.(*kmsg.DescribeConfigsRequest)
	resp := req.ResponseKind().(*kmsg.DescribeConfigsResponse)
	for _, res := range req.Resources {
		rr := kmsg.NewDescribeConfigsResponseResource()
		rr.ResourceType, rr.ResourceName = res.ResourceType, res.ResourceName
		var entries []topics.ConfigEntry
		readOnly := false
		switch res.ResourceType {
		case kmsg.ConfigResourceTypeTopic:
			t := s.topics.Topic(res.ResourceName)
			if t == nil {
				rr.ErrorCode = rc.errCode(kerr.UnknownTopicOrPartition.Code)
				msg := fmt.Sprintf("topic %q does not exist", res.ResourceName)
				rr.ErrorMessage = &msg
				break
			}
			entries = topics.EffectiveConfigs(s.cfg, t.Overrides)
		case kmsg.ConfigResourceTypeBroker:
			if res.ResourceName != "" && res.ResourceName != strconv.Itoa(int(s.cfg.NodeID)) {
				rr.ErrorCode = rc.errCode(kerr.InvalidRequest.Code)
				msg := fmt.Sprintf("broker %q is not this broker (%d)", res.ResourceName, s.cfg.NodeID)
				rr.ErrorMessage = &msg
				break
			}
			entries = topics.EffectiveConfigs(s.cfg, nil)
			readOnly = true
		default:
			rr.ErrorCode = rc.errCode(kerr.InvalidRequest.Code)
			msg := fmt.Sprintf("config resource type %d is not supported", res.ResourceType)
			rr.ErrorMessage = &msg
		}
		want := map[string]bool{}
		for _, n := range res.ConfigNames {
			want[n] = true
		}
		for _, e := range entries {
			if len(want) > 0 && !want[e.Name] {
				continue
			}
			c := kmsg.NewDescribeConfigsResponseResourceConfig()
			v := e.Value
			c.Name, c.Value, c.ReadOnly = e.Name, &v, readOnly
			c.Source = kmsg.ConfigSource(e.Source)
			c.IsDefault = e.Source == topics.SourceDefault
			c.ConfigType = configKinds[e.Kind]
			if req.IncludeSynonyms {
				syn := kmsg.NewDescribeConfigsResponseResourceConfigConfigSynonym()
				syn.Name, syn.Value, syn.Source = e.Name, &v, c.Source
				c.ConfigSynonyms = append(c.ConfigSynonyms, syn)
			}
			rr.Configs = append(rr.Configs, c)
		}
		resp.Resources = append(resp.Resources, rr)
	}
	return resp
}

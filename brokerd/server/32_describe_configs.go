package server

// DescribeConfigs (key 32), versions 1-4.
//
// Topics: every supported topic config with its effective value and source:
// DYNAMIC_TOPIC_CONFIG for an override, STATIC_BROKER_CONFIG when the
// broker setting behind the default (log.retention.ms for retention.ms) was
// set by the operator, DEFAULT_CONFIG otherwise; with IncludeSynonyms, the
// layers in Kafka's order (override, static broker setting, default).
// Broker with this node's id: the broker's own settings under Kafka's names
// (config.KafkaConfigs), read-only, STATIC_BROKER_CONFIG or DEFAULT_CONFIG.
// Broker "" (the cluster-wide dynamic defaults): Kafka lists only
// DYNAMIC_DEFAULT_BROKER_CONFIG entries and Kafki has none, so nothing.
// ConfigNames filters; names that do not exist are left out, as Kafka does.
// Unknown resources get UNKNOWN_TOPIC_OR_PARTITION or INVALID_REQUEST.
//
// Authorization, as Kafka: DESCRIBE_CONFIGS on the topic
// (TOPIC_AUTHORIZATION_FAILED otherwise) or, for a broker, on the cluster
// (CLUSTER_AUTHORIZATION_FAILED otherwise).

import (
	"context"
	"fmt"
	"strconv"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafki/kafki/brokerd/auth"
	"github.com/kafki/kafki/brokerd/config"
	"github.com/kafki/kafki/brokerd/topics"
)

const (
	describeConfigsMin = 1
	describeConfigsMax = 4
)

var configKinds = map[config.ConfigKind]kmsg.ConfigType{
	config.KindBoolean: kmsg.ConfigTypeBoolean,
	config.KindString:  kmsg.ConfigTypeString,
	config.KindInt:     kmsg.ConfigTypeInt,
	config.KindShort:   kmsg.ConfigTypeShort,
	config.KindLong:    kmsg.ConfigTypeLong,
	config.KindList:    kmsg.ConfigTypeList,
	config.KindDouble:  kmsg.ConfigTypeDouble,
}

func (s *Server) handleDescribeConfigs(ctx context.Context, rc *reqCtx, r kmsg.Request) kmsg.Response {
	req := r.(*kmsg.DescribeConfigsRequest)
	resp := req.ResponseKind().(*kmsg.DescribeConfigsResponse)
	authz := rc.askConfigs(auth.OpDescribeConfigs, len(req.Resources), func(i int) (kmsg.ConfigResourceType, string) {
		return req.Resources[i].ResourceType, req.Resources[i].ResourceName
	})
	rc.decide(ctx)
	for i, res := range req.Resources {
		rr := kmsg.NewDescribeConfigsResponseResource()
		rr.ResourceType, rr.ResourceName = res.ResourceType, res.ResourceName
		if !rc.allowedAt(authz, i) {
			rr.ErrorCode = rc.errCode(configsDenied(res.ResourceType))
			rr.Configs = []kmsg.DescribeConfigsResponseResourceConfig{}
			resp.Resources = append(resp.Resources, rr)
			continue
		}
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
			entries = s.opts.TopicConfigs(t.Overrides)
		case kmsg.ConfigResourceTypeBroker:
			if res.ResourceName == "" {
				// Cluster-wide dynamic defaults: none exist.
				rr.Configs = []kmsg.DescribeConfigsResponseResourceConfig{}
				break
			}
			if res.ResourceName != strconv.Itoa(int(s.opts.NodeID)) {
				rr.ErrorCode = rc.errCode(kerr.InvalidRequest.Code)
				msg := fmt.Sprintf("broker %q is not this broker (%d)", res.ResourceName, s.opts.NodeID)
				rr.ErrorMessage = &msg
				break
			}
			entries = brokerEntries(s.opts.BrokerConfigs)
			// Kafki has no dynamic broker configs: everything is a flag.
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
			c.Name, c.Value, c.ReadOnly, c.IsSensitive = e.Name, &v, readOnly, e.Sensitive
			c.Source = kmsg.ConfigSource(e.Source)
			c.IsDefault = e.Source == topics.SourceDefault // v0 only; kept consistent
			c.ConfigType = configKinds[e.Kind]
			if req.IncludeSynonyms {
				for _, syn := range e.Synonyms {
					ks := kmsg.NewDescribeConfigsResponseResourceConfigConfigSynonym()
					sv := syn.Value
					ks.Name, ks.Value, ks.Source = syn.Name, &sv, kmsg.ConfigSource(syn.Source)
					c.ConfigSynonyms = append(c.ConfigSynonyms, ks)
				}
			}
			rr.Configs = append(rr.Configs, c)
		}
		resp.Resources = append(resp.Resources, rr)
	}
	return resp
}

// brokerEntries renders the broker's settings under Kafka's names, with
// Kafka's broker synonyms: the static setting when the operator gave one,
// then the built-in default unless there is none (Kafka's null default).
func brokerEntries(kcs []config.KafkaConfig) []topics.ConfigEntry {
	out := make([]topics.ConfigEntry, 0, len(kcs))
	for _, k := range kcs {
		e := topics.ConfigEntry{Kind: k.Kind, Name: k.Name, Value: k.Value, Source: topics.SourceDefault}
		if k.Set() {
			e.Source = topics.SourceStatic
			e.Synonyms = append(e.Synonyms, topics.ConfigSynonym{Name: k.Name, Value: k.Value, Source: topics.SourceStatic})
		}
		if k.HasDefault {
			e.Synonyms = append(e.Synonyms, topics.ConfigSynonym{Name: k.Name, Value: k.Default, Source: topics.SourceDefault})
		}
		out = append(out, e)
	}
	return out
}

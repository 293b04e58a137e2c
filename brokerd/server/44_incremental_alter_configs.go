package server

// IncrementalAlterConfigs (key 44), versions 0-1.
//
// Topic resources only: SET, DELETE, APPEND and SUBTRACT (the last two for
// list-valued keys, of which Kafki has cleanup.policy). The result is
// validated as a whole before it is persisted (INVALID_CONFIG); a resource
// whose ops fail changes nothing. Broker resources are read-only here
// (INVALID_REQUEST): broker settings are flags and environment variables.
//
// Authorization, as Kafka: ALTER_CONFIGS on the topic
// (TOPIC_AUTHORIZATION_FAILED otherwise) or, for a broker, on the cluster
// (CLUSTER_AUTHORIZATION_FAILED otherwise).

import (
	"context"
	"fmt"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafki/kafki/brokerd/auth"
	"github.com/kafki/kafki/brokerd/topics"
)

const (
	incrementalAlterConfigsMin = 0
	incrementalAlterConfigsMax = 1
)

func (s *Server) handleIncrementalAlterConfigs(ctx context.Context, rc *reqCtx, r kmsg.Request) kmsg.Response {
	req := r.(*kmsg.IncrementalAlterConfigsRequest)
	resp := req.ResponseKind().(*kmsg.IncrementalAlterConfigsResponse)
	authz := rc.askConfigs(auth.OpAlterConfigs, len(req.Resources), func(i int) (kmsg.ConfigResourceType, string) {
		return req.Resources[i].ResourceType, req.Resources[i].ResourceName
	})
	rc.decide(ctx)
	for i, res := range req.Resources {
		rr := kmsg.NewIncrementalAlterConfigsResponseResource()
		rr.ResourceType, rr.ResourceName = res.ResourceType, res.ResourceName
		var err error
		code := int16(0)
		if !rc.allowedAt(authz, i) {
			code, err = configsDenied(res.ResourceType), fmt.Errorf("not authorized to alter the configs of %q", res.ResourceName)
		} else if res.ResourceType != kmsg.ConfigResourceTypeTopic {
			code, err = kerr.InvalidRequest.Code, fmt.Errorf("only topic configs can be altered; broker settings are flags (see brokerd --help)")
		} else {
			err = s.topics.AlterConfigs(ctx, res.ResourceName, req.ValidateOnly, func(o map[string]string) error {
				return applyConfigOps(s, o, res.Configs)
			})
			code = errorCode(err)
		}
		if err != nil {
			rr.ErrorCode = rc.errCode(code)
			rr.ErrorMessage = errMsg(err)
		}
		resp.Resources = append(resp.Resources, rr)
	}
	return resp
}

func applyConfigOps(s *Server, overrides map[string]string, ops []kmsg.IncrementalAlterConfigsRequestResourceConfig) error {
	current := func(name string) string {
		if v, ok := overrides[name]; ok {
			return v
		}
		for _, e := range s.opts.TopicConfigs(nil) {
			if e.Name == name {
				return e.Value
			}
		}
		return ""
	}
	for _, op := range ops {
		switch op.Op {
		case kmsg.IncrementalAlterConfigOpSet:
			if op.Value == nil {
				return fmt.Errorf("%w: SET %s without a value", topics.ErrInvalidConfig, op.Name)
			}
			overrides[op.Name] = *op.Value
		case kmsg.IncrementalAlterConfigOpDelete:
			delete(overrides, op.Name)
		case kmsg.IncrementalAlterConfigOpAppend, kmsg.IncrementalAlterConfigOpSubtract:
			if op.Value == nil {
				return fmt.Errorf("%w: %v %s without a value", topics.ErrInvalidConfig, op.Op, op.Name)
			}
			var list []string
			if cur := current(op.Name); cur != "" {
				list = strings.Split(cur, ",")
			}
			if op.Op == kmsg.IncrementalAlterConfigOpAppend {
				list = append(list, *op.Value)
			} else {
				kept := list[:0]
				for _, v := range list {
					if v != *op.Value {
						kept = append(kept, v)
					}
				}
				list = kept
			}
			overrides[op.Name] = strings.Join(list, ",")
		default:
			return fmt.Errorf("%w: unknown operation %d on %s", topics.ErrInvalidConfig, op.Op, op.Name)
		}
	}
	return nil
}

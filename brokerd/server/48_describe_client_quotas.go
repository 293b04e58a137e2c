package server

// DescribeClientQuotas (key 48), versions 0-1.
//
// Kafki enforces no client quotas, so every filter matches no entity:
// the answer is an empty list. It is served because kafka-configs.sh
// --describe --entity-type users asks for a user's quotas alongside its
// SCRAM credentials (DescribeUserScramCredentials) and fails on an
// unsupported API.
//
// Authorization: DESCRIBE_CONFIGS on the cluster, else
// CLUSTER_AUTHORIZATION_FAILED, as Kafka.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafki/kafki/brokerd/auth"
)

const (
	describeClientQuotasMin = 0
	describeClientQuotasMax = 1
)

func (s *Server) handleDescribeClientQuotas(ctx context.Context, rc *reqCtx, r kmsg.Request) kmsg.Response {
	req := r.(*kmsg.DescribeClientQuotasRequest)
	resp := req.ResponseKind().(*kmsg.DescribeClientQuotasResponse)
	if !rc.authorize(ctx, auth.OpDescribeConfigs, auth.Cluster()) {
		resp.ErrorCode = rc.errCode(kerr.ClusterAuthorizationFailed.Code)
		return resp
	}
	resp.Entries = []kmsg.DescribeClientQuotasResponseEntry{}
	return resp
}

package server

// DescribeCluster (key 60), versions 0-1.
//
// This broker is the whole cluster and its controller. v1 asks for an
// endpoint type; only brokers (1) are served (UNSUPPORTED_ENDPOINT_TYPE
// otherwise).
//
// Authorization: none, as in Kafka, which asks about the cluster only to
// compute ClusterAuthorizedOperations when the client asks for them
// (KIP-430, acls.go).

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafki/kafki/brokerd/auth"
)

const (
	describeClusterMin = 0
	describeClusterMax = 1
)

func (s *Server) handleDescribeCluster(ctx context.Context, rc *reqCtx, r kmsg.Request) kmsg.Response {
	req := r.(*kmsg.DescribeClusterRequest)
	resp := req.ResponseKind().(*kmsg.DescribeClusterResponse)
	resp.EndpointType = 1
	if req.Version >= 1 && req.EndpointType != 1 {
		resp.ErrorCode = rc.errCode(kerr.UnsupportedEndpointType.Code)
		return resp
	}
	resp.ClusterID = s.opts.ClusterID
	resp.ClusterAuthorizedOperations = -2147483648 // not requested
	if req.IncludeClusterAuthorizedOperations {
		resp.ClusterAuthorizedOperations = rc.authorizedOps(ctx, auth.Cluster())
	}
	brokers, ctrl := s.brokers(rc.conn.listener)
	resp.ControllerID = ctrl
	for _, ba := range brokers {
		b := kmsg.NewDescribeClusterResponseBroker()
		b.NodeID, b.Host, b.Port, b.Rack = ba.id, ba.host, ba.port, ba.rack
		resp.Brokers = append(resp.Brokers, b)
	}
	return resp
}

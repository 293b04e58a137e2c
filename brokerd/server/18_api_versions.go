package server

// ApiVersions (key 18), versions 0-4.
//
// Lists every API in apis.go with exactly the versions its handler serves.
// A request at a version above 4 is answered by conn.writeUnsupported with
// a v0 response carrying UNSUPPORTED_VERSION and the same list (KIP-511),
// so newer clients downgrade instead of disconnecting. v3+ requests name
// the client's software (KIP-511), which the connection's session keeps.
// Like SaslHandshake, ApiVersions needs no authorization.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"
)

const (
	apiVersionsMin = 0
	apiVersionsMax = 4
)

func (s *Server) apiVersionsResponse(version int16) *kmsg.ApiVersionsResponse {
	resp := kmsg.NewPtrApiVersionsResponse()
	resp.SetVersion(version)
	for _, a := range s.versions {
		k := kmsg.NewApiVersionsResponseApiKey()
		k.ApiKey, k.MinVersion, k.MaxVersion = a.key, a.min, a.max
		resp.ApiKeys = append(resp.ApiKeys, k)
	}
	return resp
}

func (s *Server) handleAPIVersions(_ context.Context, rc *reqCtx, r kmsg.Request) kmsg.Response {
	req := r.(*kmsg.ApiVersionsRequest)
	if req.Version >= 3 {
		ss := rc.session()
		ss.ClientSoftwareName, ss.ClientSoftwareVersion = req.ClientSoftwareName, req.ClientSoftwareVersion
	}
	return s.apiVersionsResponse(req.Version)
}

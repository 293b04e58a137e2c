package server

// ApiVersions (key 18), versions 0-4.
//
// Lists every API in apis.go with exactly the versions its handler serves.
// A request at a version above 4 is answered by conn.writeUnsupported with
// a v0 response carrying UNSUPPORTED_VERSION and the same list (KIP-511),
// so newer clients downgrade instead of disconnecting. v3+ requests name
// the client's software (KIP-511), which the connection's session keeps.
// With a transaction coordinator, v3+ responses carry the
// transaction.version feature (supported 0-2, finalized at the broker's
// transaction.version), which Kafka 4.x clients read to choose
// KIP-890 part 2.
// Like SaslHandshake, ApiVersions needs no authorization.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafki/kafki/brokerd/txn"
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
	if version >= 3 && s.txn != nil {
		// Features are v3+ tagged fields. transaction.version is what
		// Kafka 4.x clients read to choose KIP-890 part 2.
		sf := kmsg.NewApiVersionsResponseSupportedFeature()
		sf.Name, sf.MinVersion, sf.MaxVersion = transactionVersionFeature, 0, txn.TV2
		resp.SupportedFeatures = append(resp.SupportedFeatures, sf)
		ff := kmsg.NewApiVersionsResponseFinalizedFeature()
		ff.Name, ff.MinVersionLevel, ff.MaxVersionLevel = transactionVersionFeature, s.opts.TransactionVersion, s.opts.TransactionVersion
		resp.FinalizedFeatures = append(resp.FinalizedFeatures, ff)
		// The level is fixed for the broker's life: one epoch.
		resp.FinalizedFeaturesEpoch = 1
	}
	return resp
}

// transactionVersionFeature is Kafka's feature name for the transaction
// protocol version (KIP-1022).
const transactionVersionFeature = "transaction.version"

func (s *Server) handleAPIVersions(_ context.Context, rc *reqCtx, r kmsg.Request) kmsg.Response {
	req := r.(*kmsg.ApiVersionsRequest)
	if req.Version >= 3 {
		ss := rc.session()
		ss.ClientSoftwareName, ss.ClientSoftwareVersion = req.ClientSoftwareName, req.ClientSoftwareVersion
	}
	return s.apiVersionsResponse(req.Version)
}

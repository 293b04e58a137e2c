package server

import (
	"context"
	"sort"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// handlerFunc serves one decoded request. It returns the response to send,
// or nil to send nothing (Produce with acks=0).
type handlerFunc func(ctx context.Context, rc *reqCtx, req kmsg.Request) kmsg.Response

// api is one served API: its key, the versions served, and the handler.
type api struct {
	key      int16
	min, max int16
	handle   handlerFunc
}

// apis returns the table of served APIs, sorted by key. Each entry's
// versions are stated at the top of its handler's file.
func (s *Server) apis() []api {
	t := []api{
		{key: 0, min: produceMin, max: produceMax, handle: s.handleProduce},
		{key: 1, min: fetchMin, max: fetchMax, handle: s.handleFetch},
		{key: 2, min: listOffsetsMin, max: listOffsetsMax, handle: s.handleListOffsets},
		{key: 3, min: metadataMin, max: metadataMax, handle: s.handleMetadata},
		{key: 23, min: offsetForLeaderEpochMin, max: offsetForLeaderEpochMax, handle: s.handleOffsetForLeaderEpoch},
		{key: 8, min: offsetCommitMin, max: offsetCommitMax, handle: s.handleOffsetCommit},
		{key: 9, min: offsetFetchMin, max: offsetFetchMax, handle: s.handleOffsetFetch},
		{key: 10, min: findCoordinatorMin, max: findCoordinatorMax, handle: s.handleFindCoordinator},
		{key: 11, min: joinGroupMin, max: joinGroupMax, handle: s.handleJoinGroup},
		{key: 12, min: heartbeatMin, max: heartbeatMax, handle: s.handleHeartbeat},
		{key: 13, min: leaveGroupMin, max: leaveGroupMax, handle: s.handleLeaveGroup},
		{key: 14, min: syncGroupMin, max: syncGroupMax, handle: s.handleSyncGroup},
		{key: 15, min: describeGroupsMin, max: describeGroupsMax, handle: s.handleDescribeGroups},
		{key: 16, min: listGroupsMin, max: listGroupsMax, handle: s.handleListGroups},
		{key: 17, min: saslHandshakeMin, max: saslHandshakeMax, handle: s.handleSaslHandshake},
		{key: 36, min: saslAuthenticateMin, max: saslAuthenticateMax, handle: s.handleSaslAuthenticate},
		{key: 48, min: describeClientQuotasMin, max: describeClientQuotasMax, handle: s.handleDescribeClientQuotas},
		{key: 50, min: describeUserScramCredentialsMin, max: describeUserScramCredentialsMax, handle: s.handleDescribeUserScramCredentials},
		{key: 51, min: alterUserScramCredentialsMin, max: alterUserScramCredentialsMax, handle: s.handleAlterUserScramCredentials},
		{key: 18, min: apiVersionsMin, max: apiVersionsMax, handle: s.handleAPIVersions},
		{key: 19, min: createTopicsMin, max: createTopicsMax, handle: s.handleCreateTopics},
		{key: 20, min: deleteTopicsMin, max: deleteTopicsMax, handle: s.handleDeleteTopics},
		{key: 21, min: deleteRecordsMin, max: deleteRecordsMax, handle: s.handleDeleteRecords},
		{key: 22, min: initProducerIDMin, max: initProducerIDMax, handle: s.handleInitProducerID},
		{key: 24, min: addPartitionsToTxnMin, max: addPartitionsToTxnMax, handle: s.handleAddPartitionsToTxn},
		{key: 26, min: endTxnMin, max: endTxnMax, handle: s.handleEndTxn},
		{key: 65, min: describeTransactionsMin, max: describeTransactionsMax, handle: s.handleDescribeTransactions},
		{key: 66, min: listTransactionsMin, max: listTransactionsMax, handle: s.handleListTransactions},
		{key: 32, min: describeConfigsMin, max: describeConfigsMax, handle: s.handleDescribeConfigs},
		{key: 35, min: describeLogDirsMin, max: describeLogDirsMax, handle: s.handleDescribeLogDirs},
		{key: 37, min: createPartitionsMin, max: createPartitionsMax, handle: s.handleCreatePartitions},
		{key: 42, min: deleteGroupsMin, max: deleteGroupsMax, handle: s.handleDeleteGroups},
		{key: 44, min: incrementalAlterConfigsMin, max: incrementalAlterConfigsMax, handle: s.handleIncrementalAlterConfigs},
		{key: 47, min: offsetDeleteMin, max: offsetDeleteMax, handle: s.handleOffsetDelete},
		{key: 60, min: describeClusterMin, max: describeClusterMax, handle: s.handleDescribeCluster},
		{key: 75, min: describeTopicPartitionsMin, max: describeTopicPartitionsMax, handle: s.handleDescribeTopicPartitions},
	}
	// Transactional consumer offsets (txn_offsets.go).
	t = append(t,
		api{key: 25, min: addOffsetsToTxnMin, max: addOffsetsToTxnMax, handle: s.handleAddOffsetsToTxn},
		api{key: 28, min: txnOffsetCommitMin, max: txnOffsetCommitMax, handle: s.handleTxnOffsetCommit},
	)
	// Kafka ACLs (acls.go; SECURITY_DISABLED without an ACL authorizer).
	t = append(t,
		api{key: 29, min: describeACLsMin, max: describeACLsMax, handle: s.handleDescribeACLs},
		api{key: 30, min: createACLsMin, max: createACLsMax, handle: s.handleCreateACLs},
		api{key: 31, min: deleteACLsMin, max: deleteACLsMax, handle: s.handleDeleteACLs},
	)
	sort.Slice(t, func(i, j int) bool { return t[i].key < t[j].key })
	return t
}

// apiName is the Kafka name of a key, for logs and metrics.
func apiName(key int16) string {
	if r := kmsg.RequestForKey(key); r != nil {
		return kmsg.NameForKey(key)
	}
	return "Unknown"
}

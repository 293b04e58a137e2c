package metastore

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Partition-key values and prefixes of the item kinds (see the package
// doc). Numbers in keys are zero-padded to 10 digits so that a Query
// returns them in numeric order.
const (
	pkMeta            = "meta"
	skVersion         = "version"
	skProducerID      = "producer_id"
	pkTopic           = "topic"
	pkPartitionPrefix = "partition#"
	pkBroker          = "broker"
	pkLease           = "lease"
	pkRemote          = "remote"
	pkSegmentPrefix   = "rseg#"
)

// key is the primary key of one item.
func key(pk, sk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{AttrPK: str(pk), AttrSK: str(sk)}
}

// pad writes a non-negative number in 10 digits (int32's range).
func pad(n int32) string { return fmt.Sprintf("%010d", n) }

func unpad(s string) (int32, error) {
	n, err := strconv.ParseInt(s, 10, 32)
	if err != nil || n < 0 || len(s) != 10 {
		return 0, fmt.Errorf("bad number %q in key", s)
	}
	return int32(n), nil
}

func versionKey() map[string]types.AttributeValue    { return key(pkMeta, skVersion) }
func producerIDKey() map[string]types.AttributeValue { return key(pkMeta, skProducerID) }
func topicKey(name string) map[string]types.AttributeValue {
	return key(pkTopic, name)
}
func partitionPK(topic string) string { return pkPartitionPrefix + topic }
func partitionKey(topic string, p int32) map[string]types.AttributeValue {
	return key(partitionPK(topic), pad(p))
}
func brokerKey(id int32) map[string]types.AttributeValue { return key(pkBroker, pad(id)) }
func leaseKey(name string) map[string]types.AttributeValue {
	return key(pkLease, name)
}

// remotePartSK names a partition among the remote partition items;
// topic names cannot hold '/'.
func remotePartSK(topic string, p int32) string { return topic + "/" + pad(p) }
func segmentPK(topic string, p int32) string    { return pkSegmentPrefix + remotePartSK(topic, p) }

// parseRemotePartSK is remotePartSK's inverse.
func parseRemotePartSK(sk string) (string, int32, error) {
	i := strings.LastIndexByte(sk, '/')
	if i <= 0 {
		return "", 0, fmt.Errorf("bad remote partition key %q", sk)
	}
	p, err := unpad(sk[i+1:])
	return sk[:i], p, err
}

// withAttr adds one attribute to an item and returns it.
func withAttr(it map[string]types.AttributeValue, name string, v types.AttributeValue) map[string]types.AttributeValue {
	it[name] = v
	return it
}

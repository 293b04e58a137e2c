package cluster

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/kafki/kafki/brokerd/lease"
)

// Item layout (table shared with package lease and meta; hash key "pk"):
//
//	partition#<topic>/<p>  replicas (L of N), leader (N), leader_epoch (N), isr (L of N), version (N)
//	metadata#version       version (N): bumped with every partition write,
//	                       so brokers poll one item, not every partition
//
// Partition writes are made by the controller under its lease epoch
// (lease.DynamoStore.Fenced) and conditional on the version read, so a
// deposed controller cannot write and two writers cannot interleave.
const (
	partitionPrefix = "partition#"
	metaVersionKey  = "metadata#version"
	ControllerLease = "controller"
)

// Store persists partition state in DynamoDB.
type Store struct {
	Leases *lease.DynamoStore // its Client and Table are used for everything
}

func (s *Store) client() *dynamodb.Client { return s.Leases.Client }
func (s *Store) table() *string           { return &s.Leases.Table }

func partitionKey(topic string, p int32) string {
	return partitionPrefix + topic + "/" + strconv.Itoa(int(p))
}

func nums(v []int32) *types.AttributeValueMemberL {
	l := &types.AttributeValueMemberL{Value: []types.AttributeValue{}}
	for _, x := range v {
		l.Value = append(l.Value, &types.AttributeValueMemberN{Value: strconv.Itoa(int(x))})
	}
	return l
}

func num(v int64) *types.AttributeValueMemberN {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(v, 10)}
}

// PutPartition writes next (with Version = expectVersion+1) if the stored
// version is still expectVersion (0: the item must not exist), under the
// controller lease at controllerEpoch. lease.ErrConflict when either
// condition fails.
func (s *Store) PutPartition(ctx context.Context, controllerEpoch int64, next PartitionState, expectVersion int64) error {
	if err := next.Validate(); err != nil {
		return err
	}
	next.Version = expectVersion + 1
	item := map[string]types.AttributeValue{
		"pk":           &types.AttributeValueMemberS{Value: partitionKey(next.Topic, next.Partition)},
		"replicas":     nums(next.Replicas),
		"isr":          nums(next.ISR),
		"leader":       num(int64(next.Leader)),
		"leader_epoch": num(int64(next.LeaderEpoch)),
		"version":      num(next.Version),
	}
	put := &types.Put{TableName: s.table(), Item: item, ExpressionAttributeNames: map[string]string{}}
	if expectVersion == 0 {
		put.ConditionExpression = aws.String("attribute_not_exists(pk)")
	} else {
		put.ConditionExpression = aws.String("#v = :v")
		put.ExpressionAttributeNames["#v"] = "version"
		put.ExpressionAttributeValues = map[string]types.AttributeValue{":v": num(expectVersion)}
	}
	if len(put.ExpressionAttributeNames) == 0 {
		put.ExpressionAttributeNames = nil
	}
	bump := &types.Update{
		TableName:                 s.table(),
		Key:                       map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: metaVersionKey}},
		UpdateExpression:          aws.String("ADD #v :one"),
		ExpressionAttributeNames:  map[string]string{"#v": "version"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":one": num(1)},
	}
	return s.Leases.Fenced(ctx, ControllerLease, controllerEpoch,
		types.TransactWriteItem{Put: put}, types.TransactWriteItem{Update: bump})
}

// MetadataVersion is the counter bumped by every partition write; brokers
// re-read partitions only when it moved.
func (s *Store) MetadataVersion(ctx context.Context) (int64, error) {
	out, err := s.client().GetItem(ctx, &dynamodb.GetItemInput{
		TableName: s.table(), ConsistentRead: aws.Bool(true),
		Key: map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: metaVersionKey}},
	})
	if err != nil {
		return 0, fmt.Errorf("read metadata version: %w", err)
	}
	v, ok := out.Item["version"].(*types.AttributeValueMemberN)
	if !ok {
		return 0, nil
	}
	return strconv.ParseInt(v.Value, 10, 64)
}

// Partitions returns every partition state.
func (s *Store) Partitions(ctx context.Context) ([]PartitionState, error) {
	var out []PartitionState
	p := dynamodb.NewScanPaginator(s.client(), &dynamodb.ScanInput{
		TableName:                 s.table(),
		ConsistentRead:            aws.Bool(true),
		FilterExpression:          aws.String("begins_with(pk, :p)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":p": &types.AttributeValueMemberS{Value: partitionPrefix}},
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("scan partitions: %w", err)
		}
		for _, item := range page.Items {
			st, err := parsePartition(item)
			if err != nil {
				return nil, err
			}
			out = append(out, st)
		}
	}
	return out, nil
}

func parsePartition(item map[string]types.AttributeValue) (PartitionState, error) {
	var st PartitionState
	pk, _ := item["pk"].(*types.AttributeValueMemberS)
	if pk == nil {
		return st, errors.New("partition item without key")
	}
	rest := strings.TrimPrefix(pk.Value, partitionPrefix)
	i := strings.LastIndexByte(rest, '/')
	if i <= 0 {
		return st, fmt.Errorf("partition item %q: bad key", pk.Value)
	}
	p, err := strconv.ParseInt(rest[i+1:], 10, 32)
	if err != nil {
		return st, fmt.Errorf("partition item %q: bad partition", pk.Value)
	}
	st.Topic, st.Partition = rest[:i], int32(p)
	getNum := func(k string) (int64, error) {
		v, ok := item[k].(*types.AttributeValueMemberN)
		if !ok {
			return 0, fmt.Errorf("partition item %q: %s missing", pk.Value, k)
		}
		return strconv.ParseInt(v.Value, 10, 64)
	}
	getList := func(k string) ([]int32, error) {
		l, ok := item[k].(*types.AttributeValueMemberL)
		if !ok {
			return nil, fmt.Errorf("partition item %q: %s missing", pk.Value, k)
		}
		out := []int32{}
		for _, e := range l.Value {
			n, ok := e.(*types.AttributeValueMemberN)
			if !ok {
				return nil, fmt.Errorf("partition item %q: %s holds a non-number", pk.Value, k)
			}
			x, err := strconv.ParseInt(n.Value, 10, 32)
			if err != nil {
				return nil, err
			}
			out = append(out, int32(x))
		}
		return out, nil
	}
	if st.Replicas, err = getList("replicas"); err != nil {
		return st, err
	}
	if st.ISR, err = getList("isr"); err != nil {
		return st, err
	}
	leader, err := getNum("leader")
	if err != nil {
		return st, err
	}
	epoch, err := getNum("leader_epoch")
	if err != nil {
		return st, err
	}
	if st.Version, err = getNum("version"); err != nil {
		return st, err
	}
	st.Leader, st.LeaderEpoch = int32(leader), int32(epoch)
	if err := st.Validate(); err != nil {
		return st, fmt.Errorf("stored state: %w", err)
	}
	return st, nil
}

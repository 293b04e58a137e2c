package meta

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Item layout in the DynamoDB table (hash key "pk", string):
//
//	topic#<name>        id (S, hex), partitions (N), rf (N), configs (M of S), version (N)
//	counter#producer_id next (N)
//	metadata#version    version (N): bumped in the same transaction as every
//	                    topic change (and by package cluster with every
//	                    partition or broker change), so brokers poll one
//	                    item to learn that something changed
//
// Every change is a conditional write: creation on attribute_not_exists,
// updates on the version read, deletion on attribute_exists. The lease
// package shares the table (items lease#<name>).
const (
	dynKey        = "pk"
	topicPrefix   = "topic#"
	pidCounterKey = "counter#producer_id"
	// maxUpdateRetries bounds UpdateTopic's optimistic retries.
	maxUpdateRetries = 16
	// VersionKey is the item whose counter every metadata change bumps.
	VersionKey = "metadata#version"
)

// BumpVersion is the transaction item that increments the metadata
// version; every metadata write carries one.
func BumpVersion(table string) types.TransactWriteItem {
	return types.TransactWriteItem{Update: &types.Update{
		TableName:                 aws.String(table),
		Key:                       skey(VersionKey),
		UpdateExpression:          aws.String("ADD #v :one"),
		ExpressionAttributeNames:  map[string]string{"#v": "version"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":one": &types.AttributeValueMemberN{Value: "1"}},
	}}
}

// transactCondition reports whether a transaction failed because one of
// its conditions did not hold.
func transactCondition(err error) bool {
	var tce *types.TransactionCanceledException
	if !errors.As(err, &tce) {
		return false
	}
	for _, r := range tce.CancellationReasons {
		if r.Code != nil && *r.Code == "ConditionalCheckFailed" {
			return true
		}
	}
	return false
}

// write runs one conditional write together with the version bump.
func (d *Dynamo) write(ctx context.Context, w types.TransactWriteItem) error {
	_, err := d.client.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{w, BumpVersion(d.table)}})
	return err
}

// Dynamo is the DynamoDB Store, for clusters. Safe for concurrent use, and
// by many brokers at once: the table is the single source of truth.
type Dynamo struct {
	client *dynamodb.Client
	table  string
}

// NewDynamo returns a store on an existing table (see lease.EnsureTable
// for its schema).
func NewDynamo(client *dynamodb.Client, table string) *Dynamo {
	return &Dynamo{client: client, table: table}
}

func skey(v string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{dynKey: &types.AttributeValueMemberS{Value: v}}
}

func topicItem(t Topic, version int64) map[string]types.AttributeValue {
	item := skey(topicPrefix + t.Name)
	item["id"] = &types.AttributeValueMemberS{Value: hex.EncodeToString(t.ID[:])}
	item["partitions"] = &types.AttributeValueMemberN{Value: strconv.Itoa(int(t.Partitions))}
	if t.ReplicationFactor > 0 {
		item["rf"] = &types.AttributeValueMemberN{Value: strconv.Itoa(int(t.ReplicationFactor))}
	}
	item["version"] = &types.AttributeValueMemberN{Value: strconv.FormatInt(version, 10)}
	cfg := map[string]types.AttributeValue{}
	for k, v := range t.Configs {
		cfg[k] = &types.AttributeValueMemberS{Value: v}
	}
	item["configs"] = &types.AttributeValueMemberM{Value: cfg}
	return item
}

// IsTopicItem reports whether a scanned item of the table is a topic.
func IsTopicItem(item map[string]types.AttributeValue) bool {
	pk, _ := item[dynKey].(*types.AttributeValueMemberS)
	return pk != nil && strings.HasPrefix(pk.Value, topicPrefix)
}

// ParseTopicItem decodes a topic item (see IsTopicItem).
func ParseTopicItem(item map[string]types.AttributeValue) (Topic, error) {
	t, _, err := parseTopicItem(item)
	return t, err
}

func parseTopicItem(item map[string]types.AttributeValue) (Topic, int64, error) {
	var t Topic
	pk, _ := item[dynKey].(*types.AttributeValueMemberS)
	if pk == nil || !strings.HasPrefix(pk.Value, topicPrefix) {
		return t, 0, errors.New("topic item without a topic key")
	}
	t.Name = strings.TrimPrefix(pk.Value, topicPrefix)
	bad := func(what string) (Topic, int64, error) {
		return t, 0, fmt.Errorf("topic item %q: bad %s", t.Name, what)
	}
	id, _ := item["id"].(*types.AttributeValueMemberS)
	if id == nil {
		return bad("id")
	}
	var err error
	if t.ID, err = parseID(id.Value); err != nil {
		return bad("id")
	}
	parts, _ := item["partitions"].(*types.AttributeValueMemberN)
	if parts == nil {
		return bad("partitions")
	}
	n, err := strconv.ParseInt(parts.Value, 10, 32)
	if err != nil || n < 1 {
		return bad("partitions")
	}
	t.Partitions = int32(n)
	if rf, ok := item["rf"].(*types.AttributeValueMemberN); ok {
		r, err := strconv.ParseInt(rf.Value, 10, 16)
		if err != nil || r < 1 {
			return bad("rf")
		}
		t.ReplicationFactor = int16(r)
	}
	ver, _ := item["version"].(*types.AttributeValueMemberN)
	if ver == nil {
		return bad("version")
	}
	version, err := strconv.ParseInt(ver.Value, 10, 64)
	if err != nil {
		return bad("version")
	}
	t.Configs = map[string]string{}
	if m, ok := item["configs"].(*types.AttributeValueMemberM); ok {
		for k, v := range m.Value {
			s, ok := v.(*types.AttributeValueMemberS)
			if !ok {
				return bad("config " + k)
			}
			t.Configs[k] = s.Value
		}
	}
	return t, version, nil
}

// Topics implements Store.
func (d *Dynamo) Topics(ctx context.Context) ([]Topic, error) {
	var out []Topic
	p := dynamodb.NewScanPaginator(d.client, &dynamodb.ScanInput{
		TableName:                 &d.table,
		ConsistentRead:            aws.Bool(true),
		FilterExpression:          aws.String("begins_with(#pk, :prefix)"),
		ExpressionAttributeNames:  map[string]string{"#pk": dynKey},
		ExpressionAttributeValues: map[string]types.AttributeValue{":prefix": &types.AttributeValueMemberS{Value: topicPrefix}},
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("scan topics: %w", err)
		}
		for _, item := range page.Items {
			t, _, err := parseTopicItem(item)
			if err != nil {
				return nil, err
			}
			out = append(out, t)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// CreateTopic implements Store.
func (d *Dynamo) CreateTopic(ctx context.Context, t Topic) error {
	if t.Partitions < 1 {
		return fmt.Errorf("topic %q: %d partitions", t.Name, t.Partitions)
	}
	err := d.write(ctx, types.TransactWriteItem{Put: &types.Put{
		TableName:                &d.table,
		Item:                     topicItem(t, 1),
		ConditionExpression:      aws.String("attribute_not_exists(#pk)"),
		ExpressionAttributeNames: map[string]string{"#pk": dynKey},
	}})
	if transactCondition(err) {
		return fmt.Errorf("%w: %q", ErrTopicExists, t.Name)
	}
	if err != nil {
		return fmt.Errorf("create topic %q: %w", t.Name, err)
	}
	return nil
}

// DeleteTopic implements Store.
func (d *Dynamo) DeleteTopic(ctx context.Context, name string) error {
	err := d.write(ctx, types.TransactWriteItem{Delete: &types.Delete{
		TableName:                &d.table,
		Key:                      skey(topicPrefix + name),
		ConditionExpression:      aws.String("attribute_exists(#pk)"),
		ExpressionAttributeNames: map[string]string{"#pk": dynKey},
	}})
	if transactCondition(err) {
		return fmt.Errorf("%w: %q", ErrUnknownTopic, name)
	}
	if err != nil {
		return fmt.Errorf("delete topic %q: %w", name, err)
	}
	return nil
}

// UpdateTopic implements Store: read, apply fn, write conditional on the
// version read; retried when another writer got there first.
func (d *Dynamo) UpdateTopic(ctx context.Context, name string, fn func(*Topic) error) (Topic, error) {
	for attempt := 0; attempt < maxUpdateRetries; attempt++ {
		out, err := d.client.GetItem(ctx, &dynamodb.GetItemInput{TableName: &d.table, Key: skey(topicPrefix + name), ConsistentRead: aws.Bool(true)})
		if err != nil {
			return Topic{}, fmt.Errorf("read topic %q: %w", name, err)
		}
		if len(out.Item) == 0 {
			return Topic{}, fmt.Errorf("%w: %q", ErrUnknownTopic, name)
		}
		cur, version, err := parseTopicItem(out.Item)
		if err != nil {
			return Topic{}, err
		}
		next := cur.Clone()
		if err := fn(&next); err != nil {
			return Topic{}, err
		}
		if next.Name != cur.Name || next.ID != cur.ID || next.Partitions < 1 {
			return Topic{}, fmt.Errorf("topic %q: update may not change name or id, and needs >= 1 partition", name)
		}
		err = d.write(ctx, types.TransactWriteItem{Put: &types.Put{
			TableName:                 &d.table,
			Item:                      topicItem(next, version+1),
			ConditionExpression:       aws.String("#v = :v"),
			ExpressionAttributeNames:  map[string]string{"#v": "version"},
			ExpressionAttributeValues: map[string]types.AttributeValue{":v": &types.AttributeValueMemberN{Value: strconv.FormatInt(version, 10)}},
		}})
		if transactCondition(err) {
			continue // someone else changed or deleted it: read again
		}
		if err != nil {
			return Topic{}, fmt.Errorf("update topic %q: %w", name, err)
		}
		return next, nil
	}
	return Topic{}, fmt.Errorf("update topic %q: still contended after %d attempts", name, maxUpdateRetries)
}

// AllocateProducerIDs implements Store with an atomic counter: ADD returns
// the new value, so blocks never overlap whichever broker asks.
func (d *Dynamo) AllocateProducerIDs(ctx context.Context, n int64) (int64, error) {
	if n < 1 {
		return 0, fmt.Errorf("allocate %d producer ids", n)
	}
	out, err := d.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 &d.table,
		Key:                       skey(pidCounterKey),
		UpdateExpression:          aws.String("ADD #next :n"),
		ExpressionAttributeNames:  map[string]string{"#next": "next"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":n": &types.AttributeValueMemberN{Value: strconv.FormatInt(n, 10)}},
		ReturnValues:              types.ReturnValueUpdatedNew,
	})
	if err != nil {
		return 0, fmt.Errorf("allocate producer ids: %w", err)
	}
	v, ok := out.Attributes["next"].(*types.AttributeValueMemberN)
	if !ok {
		return 0, errors.New("allocate producer ids: counter missing from answer")
	}
	end, err := strconv.ParseInt(v.Value, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("allocate producer ids: counter %q", v.Value)
	}
	return end - n, nil
}

// Close implements Store.
func (d *Dynamo) Close() error { return nil }

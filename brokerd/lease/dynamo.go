package lease

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Attribute names of lease items. The key is "lease#<name>" in attribute
// "pk", so leases can share a table with other metadata items.
const (
	attrKey      = "pk"
	attrHolder   = "holder"
	attrRVN      = "rvn"
	attrEpoch    = "epoch"
	attrDuration = "duration_ms"
	keyPrefix    = "lease#"
)

// DynamoStore keeps lease records in a DynamoDB table whose hash key is the
// string attribute "pk". Every write is a conditional write; reads are
// strongly consistent.
type DynamoStore struct {
	Client *dynamodb.Client
	Table  string
}

func leaseKey(name string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{attrKey: &types.AttributeValueMemberS{Value: keyPrefix + name}}
}

func toItem(r Record) map[string]types.AttributeValue {
	item := leaseKey(r.Name)
	item[attrHolder] = &types.AttributeValueMemberS{Value: r.Holder}
	item[attrRVN] = &types.AttributeValueMemberS{Value: r.RVN}
	item[attrEpoch] = &types.AttributeValueMemberN{Value: strconv.FormatInt(r.Epoch, 10)}
	item[attrDuration] = &types.AttributeValueMemberN{Value: strconv.FormatInt(r.Duration.Milliseconds(), 10)}
	return item
}

func fromItem(name string, item map[string]types.AttributeValue) (Record, error) {
	r := Record{Name: name}
	str := func(k string) (string, error) {
		v, ok := item[k].(*types.AttributeValueMemberS)
		if !ok {
			return "", fmt.Errorf("lease item %s: attribute %s missing or not a string", name, k)
		}
		return v.Value, nil
	}
	num := func(k string) (int64, error) {
		v, ok := item[k].(*types.AttributeValueMemberN)
		if !ok {
			return 0, fmt.Errorf("lease item %s: attribute %s missing or not a number", name, k)
		}
		return strconv.ParseInt(v.Value, 10, 64)
	}
	var err error
	if r.Holder, err = str(attrHolder); err != nil {
		return r, err
	}
	if r.RVN, err = str(attrRVN); err != nil {
		return r, err
	}
	if r.Epoch, err = num(attrEpoch); err != nil {
		return r, err
	}
	ms, err := num(attrDuration)
	if err != nil {
		return r, err
	}
	if ms <= 0 {
		return r, fmt.Errorf("lease item %s: duration %d ms", name, ms)
	}
	r.Duration = time.Duration(ms) * time.Millisecond
	return r, nil
}

func conflict(err error) bool {
	var ccf *types.ConditionalCheckFailedException
	var tce *types.TransactionCanceledException
	return errors.As(err, &ccf) || errors.As(err, &tce)
}

// Get implements Store.
func (s *DynamoStore) Get(ctx context.Context, name string) (Record, bool, error) {
	out, err := s.Client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: &s.Table, Key: leaseKey(name), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return Record{}, false, fmt.Errorf("get lease %s: %w", name, err)
	}
	if len(out.Item) == 0 {
		return Record{}, false, nil
	}
	r, err := fromItem(name, out.Item)
	return r, err == nil, err
}

// Create implements Store.
func (s *DynamoStore) Create(ctx context.Context, rec Record) error {
	_, err := s.Client.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:           &s.Table,
		Item:                toItem(rec),
		ConditionExpression: aws.String("attribute_not_exists(#pk)"),
		ExpressionAttributeNames: map[string]string{
			"#pk": attrKey,
		},
	})
	if conflict(err) {
		return fmt.Errorf("create lease %s: %w", rec.Name, ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("create lease %s: %w", rec.Name, err)
	}
	return nil
}

// Swap implements Store.
func (s *DynamoStore) Swap(ctx context.Context, expectRVN string, next Record) error {
	_, err := s.Client.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                 &s.Table,
		Item:                      toItem(next),
		ConditionExpression:       aws.String("#rvn = :expect"),
		ExpressionAttributeNames:  map[string]string{"#rvn": attrRVN},
		ExpressionAttributeValues: map[string]types.AttributeValue{":expect": &types.AttributeValueMemberS{Value: expectRVN}},
	})
	if conflict(err) {
		return fmt.Errorf("swap lease %s: %w", next.Name, ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("swap lease %s: %w", next.Name, err)
	}
	return nil
}

// Fenced performs writes atomically, only if lease name is still at epoch
// (rule 4): a holder that lost its lease cannot write on its behalf even
// before it notices. ErrConflict when the epoch moved on or a write's own
// condition failed.
func (s *DynamoStore) Fenced(ctx context.Context, name string, epoch int64, writes ...types.TransactWriteItem) error {
	items := make([]types.TransactWriteItem, 0, len(writes)+1)
	items = append(items, types.TransactWriteItem{ConditionCheck: &types.ConditionCheck{
		TableName:                 &s.Table,
		Key:                       leaseKey(name),
		ConditionExpression:       aws.String("#epoch = :epoch"),
		ExpressionAttributeNames:  map[string]string{"#epoch": attrEpoch},
		ExpressionAttributeValues: map[string]types.AttributeValue{":epoch": &types.AttributeValueMemberN{Value: strconv.FormatInt(epoch, 10)}},
	}})
	items = append(items, writes...)
	_, err := s.Client.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
	if conflict(err) {
		return fmt.Errorf("fenced write under lease %s epoch %d: %w", name, epoch, ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("fenced write under lease %s epoch %d: %w", name, epoch, err)
	}
	return nil
}

// EnsureTable creates the table (hash key "pk", on-demand billing) if it
// does not exist and waits until it is active.
func EnsureTable(ctx context.Context, client *dynamodb.Client, table string) error {
	_, err := client.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:            &table,
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String(attrKey), AttributeType: types.ScalarAttributeTypeS}},
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String(attrKey), KeyType: types.KeyTypeHash}},
		BillingMode:          types.BillingModePayPerRequest,
	})
	var inUse *types.ResourceInUseException
	if err != nil && !errors.As(err, &inUse) {
		return fmt.Errorf("create table %s: %w", table, err)
	}
	w := dynamodb.NewTableExistsWaiter(client)
	if err := w.Wait(ctx, &dynamodb.DescribeTableInput{TableName: &table}, 2*time.Minute); err != nil {
		return fmt.Errorf("wait for table %s: %w", table, err)
	}
	return nil
}

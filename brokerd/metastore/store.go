package metastore

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/kafki/kafki/brokerd/cluster"
	"github.com/kafki/kafki/brokerd/lease"
	"github.com/kafki/kafki/brokerd/meta"
)

// Store is the cluster metadata in one DynamoDB table: topics and
// producer ids (meta.Store), partition states and broker registrations
// (cluster.Store), and leases (lease.Store). Safe for concurrent use, and
// by many brokers at once: the table is the single source of truth; the
// Store's own state is a cache of what it read, never trusted without a
// read that shows it current.
type Store struct {
	tableRef
	now func() time.Time

	mu sync.Mutex
	// topics caches, per topic, the partition states last read with the
	// topic's change counter at that read (see Read). Guarded by mu.
	topics map[string]cachedTopic

	// afterRead, when set (tests only), runs between a Read's queries and
	// its second look at the metadata version.
	afterRead func()
}

var (
	_ meta.Store    = (*Store)(nil)
	_ cluster.Store = (*Store)(nil)
	_ lease.Store   = (*Store)(nil)
)

// New returns a store on an existing table (EnsureTable creates one).
func New(client *dynamodb.Client, table string) *Store {
	return &Store{tableRef: tableRef{client: client, table: table}, now: time.Now, topics: map[string]cachedTopic{}}
}

// tableRef is the table a store works on.
type tableRef struct {
	client    *dynamodb.Client
	table     string
	itemsRead atomic.Int64 // items returned by Queries, for tests and cost figures
}

// Table is the store's table name.
func (s *tableRef) Table() string { return s.table }

// Client is the store's DynamoDB client.
func (s *tableRef) Client() *dynamodb.Client { return s.client }

// ItemsRead counts the items this store's Queries returned so far: the
// read cost of what it read (every read is a Query or a GetItem).
func (s *tableRef) ItemsRead() int64 { return s.itemsRead.Load() }

// Close implements meta.Store.
func (s *Store) Close() error { return nil }

// bumpVersion is the transaction item that increments the metadata
// version; every metadata write carries one, so brokers poll one item.
func (s *Store) bumpVersion() types.TransactWriteItem {
	return types.TransactWriteItem{Update: &types.Update{
		TableName:                 &s.table,
		Key:                       versionKey(),
		UpdateExpression:          aws.String("ADD #v :one"),
		ExpressionAttributeNames:  map[string]string{"#v": "version"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":one": num(1)},
	}}
}

// touchTopic is the transaction item that increments a topic's change
// counter, conditional on the topic item existing (live or deleted): a
// write to a partition of a topic whose remains were dropped fails.
func (s *Store) touchTopic(topic string) types.TransactWriteItem {
	return types.TransactWriteItem{Update: &types.Update{
		TableName:                 &s.table,
		Key:                       topicKey(topic),
		UpdateExpression:          aws.String("ADD #c :one"),
		ConditionExpression:       aws.String("attribute_exists(#pk)"),
		ExpressionAttributeNames:  map[string]string{"#c": attrChanges, "#pk": AttrPK},
		ExpressionAttributeValues: map[string]types.AttributeValue{":one": num(1)},
	}}
}

// leaseCheck is the transaction item that holds only while lease name is
// at epoch (lease rule 4: the epoch is the fencing token).
func (s *Store) leaseCheck(name string, epoch int64) types.TransactWriteItem {
	return types.TransactWriteItem{ConditionCheck: &types.ConditionCheck{
		TableName:                 &s.table,
		Key:                       leaseKey(name),
		ConditionExpression:       aws.String("#epoch = :epoch"),
		ExpressionAttributeNames:  map[string]string{"#epoch": attrEpoch},
		ExpressionAttributeValues: map[string]types.AttributeValue{":epoch": num(epoch)},
	}}
}

// transact runs items as one transaction; lease.ErrConflict when it
// raced another write.
func (s *Store) transact(ctx context.Context, what string, items []types.TransactWriteItem) error {
	_, err := s.client.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
	if err == nil {
		return nil
	}
	if raced(err) {
		return fmt.Errorf("%s: %w", what, lease.ErrConflict)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// fenced runs writes atomically with the version bump, only while lease
// name is still at epoch: a holder that lost its lease cannot write on
// its behalf even before it notices.
func (s *Store) fenced(ctx context.Context, name string, epoch int64, writes ...types.TransactWriteItem) error {
	items := make([]types.TransactWriteItem, 0, len(writes)+2)
	items = append(items, s.leaseCheck(name, epoch))
	items = append(items, writes...)
	items = append(items, s.bumpVersion())
	return s.transact(ctx, "fenced write under lease "+name+" epoch "+strconv.FormatInt(epoch, 10), items)
}

// query returns every item under partition key pk (strongly consistent,
// in sort-key order), page by page.
func (s *tableRef) query(ctx context.Context, pk string, each func(map[string]types.AttributeValue) error) error {
	p := dynamodb.NewQueryPaginator(s.client, &dynamodb.QueryInput{
		TableName:                 &s.table,
		ConsistentRead:            aws.Bool(true),
		KeyConditionExpression:    aws.String("#pk = :pk"),
		ExpressionAttributeNames:  map[string]string{"#pk": AttrPK},
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": str(pk)},
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("query %s: %w", pk, err)
		}
		s.itemsRead.Add(int64(len(page.Items)))
		for _, it := range page.Items {
			if err := each(it); err != nil {
				return err
			}
		}
	}
	return nil
}

// get reads one item, strongly consistent; nil when absent.
func (s *tableRef) get(ctx context.Context, k map[string]types.AttributeValue) (map[string]types.AttributeValue, error) {
	out, err := s.client.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.table, Key: k, ConsistentRead: aws.Bool(true)})
	if err != nil {
		return nil, err
	}
	if len(out.Item) == 0 {
		return nil, nil
	}
	return out.Item, nil
}

// sortKeyOf returns an item's sort key ("" when missing).
func sortKeyOf(m map[string]types.AttributeValue) string {
	v, _ := m[AttrSK].(*types.AttributeValueMemberS)
	if v == nil {
		return ""
	}
	return v.Value
}

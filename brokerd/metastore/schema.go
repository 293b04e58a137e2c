package metastore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Key and special attribute names of the table.
const (
	AttrPK  = "pk"         // partition key (S): the item kind, or kind#<owner>
	AttrSK  = "sk"         // sort key (S): the item within its kind
	AttrTTL = "expires_at" // TTL attribute (N, epoch seconds); see Schema
)

// DefaultTableName is metadata.table's default.
const DefaultTableName = "kafki"

// Schema is the table's definition as plain data: the one description
// that the broker's --metadata.create-table, the tests and the CDK stack
// (infra/, which reads schema.json) create the table from.
type Schema struct {
	TableName    string  `json:"tableName"` // default; deployments choose their own
	PartitionKey KeyAttr `json:"partitionKey"`
	SortKey      KeyAttr `json:"sortKey"`
	TTLAttribute string  `json:"ttlAttribute"`
	BillingMode  string  `json:"billingMode"`
	// GlobalSecondaryIndexes is empty: every read the broker makes is a
	// strongly consistent GetItem or Query on the table's own keys
	// (GSIs cannot be read consistently).
	GlobalSecondaryIndexes []Index `json:"globalSecondaryIndexes"`
	ItemKinds              []Kind  `json:"itemKinds"`
}

// KeyAttr is a key attribute: its name and DynamoDB scalar type (S, N, B).
type KeyAttr struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

// Index is a secondary index.
type Index struct {
	Name         string  `json:"name"`
	PartitionKey KeyAttr `json:"partitionKey"`
	SortKey      KeyAttr `json:"sortKey"`
}

// Kind documents one kind of item: the shape of its keys.
type Kind struct {
	Name string `json:"name"`
	PK   string `json:"pk"`
	SK   string `json:"sk"`
}

// TableSchema returns the table's schema.
func TableSchema() Schema {
	return Schema{
		TableName:              DefaultTableName,
		PartitionKey:           KeyAttr{Name: AttrPK, Type: "S"},
		SortKey:                KeyAttr{Name: AttrSK, Type: "S"},
		TTLAttribute:           AttrTTL,
		BillingMode:            string(types.BillingModePayPerRequest),
		GlobalSecondaryIndexes: []Index{},
		ItemKinds: []Kind{
			{Name: "metadata version", PK: pkMeta, SK: skVersion},
			{Name: "producer id counter", PK: pkMeta, SK: skProducerID},
			{Name: "topic", PK: pkTopic, SK: "<topic>"},
			{Name: "partition state", PK: pkPartitionPrefix + "<topic>", SK: "<partition, 10 digits>"},
			{Name: "broker registration", PK: pkBroker, SK: "<broker id, 10 digits>"},
			{Name: "lease", PK: pkLease, SK: "<lease name>"},
			{Name: "remote partition", PK: pkRemote, SK: "<topic>/<partition, 10 digits>"},
			{Name: "remote segment", PK: pkSegmentPrefix + "<topic>/<partition, 10 digits>", SK: "<segment id>"},
			// Kafka ACLs (acls.go).
			{Name: "ACL change counter", PK: pkMeta, SK: skACLVersion},
			{Name: "ACL binding", PK: pkACL, SK: "<SHA-256 of the binding, hex>"},
			{Name: "SCRAM credential", PK: pkScram, SK: "<mechanism>/<user>"},
		},
	}
}

// CreateTableInput is the CreateTable request for the schema.
func (s Schema) CreateTableInput(table string) *dynamodb.CreateTableInput {
	return &dynamodb.CreateTableInput{
		TableName: aws.String(table),
		AttributeDefinitions: []types.AttributeDefinition{
			{AttributeName: aws.String(s.PartitionKey.Name), AttributeType: types.ScalarAttributeType(s.PartitionKey.Type)},
			{AttributeName: aws.String(s.SortKey.Name), AttributeType: types.ScalarAttributeType(s.SortKey.Type)},
		},
		KeySchema: []types.KeySchemaElement{
			{AttributeName: aws.String(s.PartitionKey.Name), KeyType: types.KeyTypeHash},
			{AttributeName: aws.String(s.SortKey.Name), KeyType: types.KeyTypeRange},
		},
		BillingMode: types.BillingMode(s.BillingMode),
	}
}

// ErrSchemaMismatch means an existing table has other keys than Schema:
// typically a table made by an older Kafki (hash key "pk" alone), which
// this version cannot use.
var ErrSchemaMismatch = errors.New("table keys differ from Kafki's schema")

// EnsureTable creates the table from TableSchema if it does not exist,
// waits until it is active, enables its TTL attribute, and checks that
// an existing table has the schema's keys.
func EnsureTable(ctx context.Context, client *dynamodb.Client, table string) error {
	s := TableSchema()
	_, err := client.CreateTable(ctx, s.CreateTableInput(table))
	var inUse *types.ResourceInUseException
	if err != nil && !errors.As(err, &inUse) {
		return fmt.Errorf("create table %s: %w", table, err)
	}
	w := dynamodb.NewTableExistsWaiter(client)
	if err := w.Wait(ctx, &dynamodb.DescribeTableInput{TableName: &table}, 2*time.Minute); err != nil {
		return fmt.Errorf("wait for table %s: %w", table, err)
	}
	if err := CheckTable(ctx, client, table); err != nil {
		return err
	}
	_, err = client.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{
		TableName:               &table,
		TimeToLiveSpecification: &types.TimeToLiveSpecification{AttributeName: aws.String(s.TTLAttribute), Enabled: aws.Bool(true)},
	})
	if err != nil && !ttlAlreadyEnabled(err) {
		return fmt.Errorf("enable TTL on table %s: %w", table, err)
	}
	return nil
}

// ttlAlreadyEnabled: DynamoDB refuses to enable TTL twice
// ("TimeToLive is already enabled").
func ttlAlreadyEnabled(err error) bool {
	var ve interface{ ErrorMessage() string }
	return errors.As(err, &ve) && strings.Contains(ve.ErrorMessage(), "already enabled")
}

// CheckTable reports ErrSchemaMismatch when table's key schema is not
// the schema's (hash key pk, range key sk, both strings).
func CheckTable(ctx context.Context, client *dynamodb.Client, table string) error {
	out, err := client.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: &table})
	if err != nil {
		return fmt.Errorf("describe table %s: %w", table, err)
	}
	s := TableSchema()
	want := map[string]types.KeyType{s.PartitionKey.Name: types.KeyTypeHash, s.SortKey.Name: types.KeyTypeRange}
	got := map[string]types.KeyType{}
	for _, k := range out.Table.KeySchema {
		got[aws.ToString(k.AttributeName)] = k.KeyType
	}
	if len(got) != len(want) || got[s.PartitionKey.Name] != types.KeyTypeHash || got[s.SortKey.Name] != types.KeyTypeRange {
		return fmt.Errorf("table %s: %w: it has %v, Kafki needs hash key %q and range key %q (create a new table)", table, ErrSchemaMismatch, got, s.PartitionKey.Name, s.SortKey.Name)
	}
	return nil
}

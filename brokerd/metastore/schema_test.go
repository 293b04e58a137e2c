package metastore

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

var update = flag.Bool("update", false, "rewrite schema.json from TableSchema")

// schema.json is what infra/ creates the table from: it must be exactly
// TableSchema (go test ./brokerd/metastore -run Schema -update rewrites it).
func TestSchemaJSONIsTableSchema(t *testing.T) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(TableSchema()); err != nil {
		t.Fatal(err)
	}
	want := buf.Bytes()
	if *update {
		if err := os.WriteFile("schema.json", want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile("schema.json")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("schema.json differs from TableSchema(); run go test ./brokerd/metastore -run Schema -update\ngot:\n%s\nwant:\n%s", got, want)
	}
	var back Schema
	if err := json.Unmarshal(got, &back); err != nil || back.PartitionKey.Name != AttrPK || back.SortKey.Name != AttrSK || back.TTLAttribute != AttrTTL {
		t.Fatalf("schema.json does not read back: %+v %v", back, err)
	}
}

// EnsureTable makes the table the schema describes (keys, TTL), is
// idempotent, and refuses a table of another shape (an older Kafki's,
// hash key only) with a message that says what to do.
func TestEnsureTable(t *testing.T) {
	client, table := newTable(t)
	ctx := t.Context()
	if err := EnsureTable(ctx, client, table); err != nil {
		t.Fatalf("second EnsureTable: %v", err)
	}
	out, err := client.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: &table})
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string]types.KeyType{}
	for _, k := range out.Table.KeySchema {
		keys[aws.ToString(k.AttributeName)] = k.KeyType
	}
	if keys[AttrPK] != types.KeyTypeHash || keys[AttrSK] != types.KeyTypeRange || len(keys) != 2 {
		t.Fatalf("key schema %v", keys)
	}
	ttl, err := client.DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: &table})
	if err != nil {
		t.Fatal(err)
	}
	if d := ttl.TimeToLiveDescription; d == nil || aws.ToString(d.AttributeName) != AttrTTL || d.TimeToLiveStatus != types.TimeToLiveStatusEnabled {
		t.Fatalf("TTL %+v", d)
	}

	old := fmt.Sprintf("kafki-old-%d", time.Now().UnixNano())
	_, err = client.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:            &old,
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("pk"), AttributeType: types.ScalarAttributeTypeS}},
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("pk"), KeyType: types.KeyTypeHash}},
		BillingMode:          types.BillingModePayPerRequest,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := EnsureTable(ctx, client, old); !errors.Is(err, ErrSchemaMismatch) {
		t.Fatalf("EnsureTable on a hash-key-only table: %v, want ErrSchemaMismatch", err)
	}
	if err := CheckTable(ctx, client, "missing-"+old); err == nil {
		t.Fatal("CheckTable of a missing table succeeded")
	}
}

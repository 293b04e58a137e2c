package stack

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// Schema is the part of brokerd/metastore/schema.json the stack uses. The
// broker's metastore owns the file (a test there keeps it equal to the
// code); the stack reads it at synth time and copies no key by hand.
type Schema struct {
	TableName    string     `json:"tableName"`
	PartitionKey SchemaKey  `json:"partitionKey"`
	SortKey      *SchemaKey `json:"sortKey"`
	TTLAttribute string     `json:"ttlAttribute"`
	BillingMode  string     `json:"billingMode"`
	GSIs         []any      `json:"globalSecondaryIndexes"`
}

// SchemaKey is a key attribute: its name and DynamoDB type (S, N, B).
type SchemaKey struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

// ReadSchema reads and checks the metastore's schema file.
func ReadSchema(path string) (Schema, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Schema{}, fmt.Errorf("metastore schema: %w (-c schema=PATH)", err)
	}
	var s Schema
	if err := json.Unmarshal(b, &s); err != nil {
		return Schema{}, fmt.Errorf("metastore schema %s: %w", path, err)
	}
	if s.PartitionKey.Name == "" {
		return Schema{}, fmt.Errorf("metastore schema %s: no partitionKey", path)
	}
	if s.BillingMode != "" && s.BillingMode != "PAY_PER_REQUEST" {
		return Schema{}, fmt.Errorf("metastore schema %s: billingMode %s; the stack creates on-demand tables only", path, s.BillingMode)
	}
	if len(s.GSIs) > 0 {
		return Schema{}, fmt.Errorf("metastore schema %s: secondary indexes are not supported by the stack yet", path)
	}
	return s, nil
}

func attributeType(t string) awsdynamodb.AttributeType {
	switch t {
	case "N":
		return awsdynamodb.AttributeType_NUMBER
	case "B":
		return awsdynamodb.AttributeType_BINARY
	}
	return awsdynamodb.AttributeType_STRING
}

// Storage is the cluster's state outside the brokers: the metadata table
// (leases, topics, partition states, remote-segment metadata) and the
// tier bucket (sealed segments).
type Storage struct {
	constructs.Construct
	Table  awsdynamodb.Table
	Bucket awss3.Bucket
}

// NewStorage creates the table from the schema and the tier bucket.
func NewStorage(scope constructs.Construct, id string, c Config, s Schema) *Storage {
	st := &Storage{Construct: constructs.NewConstruct(scope, jsii.String(id))}
	removal := awscdk.RemovalPolicy_DESTROY
	if c.Retain {
		removal = awscdk.RemovalPolicy_RETAIN
	}
	props := &awsdynamodb.TableProps{
		PartitionKey: &awsdynamodb.Attribute{Name: jsii.String(s.PartitionKey.Name), Type: attributeType(s.PartitionKey.Type)},
		BillingMode:  awsdynamodb.BillingMode_PAY_PER_REQUEST,
		PointInTimeRecoverySpecification: &awsdynamodb.PointInTimeRecoverySpecification{
			PointInTimeRecoveryEnabled: jsii.Bool(true),
		},
		DeletionProtection: jsii.Bool(c.TableDeletionProtection),
		RemovalPolicy:      removal,
	}
	if s.SortKey != nil {
		props.SortKey = &awsdynamodb.Attribute{Name: jsii.String(s.SortKey.Name), Type: attributeType(s.SortKey.Type)}
	}
	if s.TTLAttribute != "" {
		props.TimeToLiveAttribute = jsii.String(s.TTLAttribute)
	}
	st.Table = awsdynamodb.NewTable(st.Construct, jsii.String("Metadata"), props)

	st.Bucket = awss3.NewBucket(st.Construct, jsii.String("Tier"), &awss3.BucketProps{
		BlockPublicAccess: awss3.BlockPublicAccess_BLOCK_ALL(),
		Encryption:        awss3.BucketEncryption_S3_MANAGED,
		EnforceSSL:        jsii.Bool(true),
		ObjectOwnership:   awss3.ObjectOwnership_BUCKET_OWNER_ENFORCED,
		// Segments are written once and deleted by retention: versions
		// would only keep deleted segments (and their cost) alive.
		Versioned: jsii.Bool(false),
		// With -c retain=false a non-empty bucket still fails to
		// delete: tiered data is not thrown away by `cdk destroy`.
		RemovalPolicy: removal,
		LifecycleRules: &[]*awss3.LifecycleRule{
			{
				// An upload killed mid-way leaves parts that are billed
				// and invisible to the sweeper's object listing.
				Id:                                  jsii.String("abort-incomplete-multipart-uploads"),
				AbortIncompleteMultipartUploadAfter: awscdk.Duration_Days(jsii.Number(1)),
			},
			{
				// Backstop for orphans the broker's sweeper never saw
				// (a cluster torn down with its table, a deleted
				// topic whose leader died mid-delete): no object
				// outlives ten times the default retention. Topics
				// with a longer retention.ms need -c retentionDays.
				Id:         jsii.String("orphan-backstop"),
				Expiration: awscdk.Duration_Days(jsii.Number(float64(OrphanBackstopDays(c)))),
			},
		},
	})
	return st
}

// OrphanBackstopDays is the age at which the tier bucket's lifecycle
// expires any object: ten times the retention, at least 30 days.
func OrphanBackstopDays(c Config) int {
	return max(30, 10*c.RetentionDays)
}

package broker

import (
	"context"
	"fmt"
	"path/filepath"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/kafki/kafki/brokerd/cluster"
	"github.com/kafki/kafki/brokerd/config"
	"github.com/kafki/kafki/brokerd/lease"
	"github.com/kafki/kafki/brokerd/meta"
)

// openMetaStore opens the configured metadata store: the embedded one
// under the data directory, or a DynamoDB table reached through the AWS
// default configuration (credentials chain, region, AWS_ENDPOINT_URL).
func openMetaStore(ctx context.Context, cfg *config.Config) (meta.Store, *cluster.Store, error) {
	if cfg.MetadataStore != config.MetadataDynamoDB {
		s, err := meta.OpenEmbedded(filepath.Join(cfg.DataDir, "__meta"))
		return s, nil, err
	}
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("metadata.store=dynamodb: aws config: %w", err)
	}
	client := dynamodb.NewFromConfig(awsCfg)
	if cfg.MetadataCreateTable {
		if err := lease.EnsureTable(ctx, client, cfg.MetadataTable); err != nil {
			return nil, nil, fmt.Errorf("metadata.table %s: %w", cfg.MetadataTable, err)
		}
	}
	// Fail fast, before listening, if the table cannot be read.
	store := meta.NewDynamo(client, cfg.MetadataTable)
	if _, err := store.Topics(ctx); err != nil {
		return nil, nil, fmt.Errorf("metadata.table %s: %w", cfg.MetadataTable, err)
	}
	return store, &cluster.Store{Leases: &lease.DynamoStore{Client: client, Table: cfg.MetadataTable}}, nil
}

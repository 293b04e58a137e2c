package broker

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/kafki/kafki/brokerd/cluster"
	"github.com/kafki/kafki/brokerd/config"
	"github.com/kafki/kafki/brokerd/lease"
	"github.com/kafki/kafki/brokerd/meta"
	"github.com/kafki/kafki/brokerd/metrics"
)

// openMetaStore opens the configured metadata store: the embedded one
// under the data directory, or a DynamoDB table reached through the AWS
// default configuration (credentials chain, region, AWS_ENDPOINT_URL).
func openMetaStore(ctx context.Context, cfg *config.Config, m *metrics.Metrics) (meta.Store, *cluster.Store, error) {
	if cfg.MetadataStore != config.MetadataDynamoDB {
		s, err := meta.OpenEmbedded(filepath.Join(cfg.DataDir, "__meta"))
		return s, nil, err
	}
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("metadata.store=dynamodb: aws config: %w", err)
	}
	awsCfg.HTTPClient = countingClient{next: awshttp.NewBuildableClient(), count: m.DynamoRequests}
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

// countingClient counts requests by DynamoDB operation (the X-Amz-Target
// header, "DynamoDB_20120810.GetItem"), so operators can see the control
// plane's request rate (kafki_dynamodb_requests_total).
type countingClient struct {
	next  *awshttp.BuildableClient
	count *prometheus.CounterVec
}

func (c countingClient) Do(req *http.Request) (*http.Response, error) {
	op := req.Header.Get("X-Amz-Target")
	if i := strings.LastIndexByte(op, '.'); i >= 0 {
		op = op[i+1:]
	}
	if op == "" {
		op = "other"
	}
	c.count.WithLabelValues(op).Inc()
	return c.next.Do(req)
}

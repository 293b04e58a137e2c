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

	"github.com/kafki/kafki/brokerd/config"
	"github.com/kafki/kafki/brokerd/meta"
	"github.com/kafki/kafki/brokerd/metastore"
	"github.com/kafki/kafki/brokerd/metrics"
)

// openMetaStore opens the configured metadata store: the embedded one
// under the data directory, or a DynamoDB table reached through the AWS
// default configuration (credentials chain, region, AWS_ENDPOINT_URL).
func openMetaStore(ctx context.Context, cfg *config.Config, m *metrics.Metrics) (meta.Store, *metastore.Store, error) {
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
		if err := metastore.EnsureTable(ctx, client, cfg.MetadataTable); err != nil {
			return nil, nil, fmt.Errorf("metadata.table %s: %w", cfg.MetadataTable, err)
		}
	} else if err := metastore.CheckTable(ctx, client, cfg.MetadataTable); err != nil {
		// Fail fast, before listening, if the table is missing or is not
		// Kafki's.
		return nil, nil, fmt.Errorf("metadata.table %s: %w", cfg.MetadataTable, err)
	}
	store := metastore.New(client, cfg.MetadataTable)
	if _, err := store.Topics(ctx); err != nil {
		return nil, nil, fmt.Errorf("metadata.table %s: %w", cfg.MetadataTable, err)
	}
	return store, store, nil
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

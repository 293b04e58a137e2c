package broker

import (
	"context"
	"path/filepath"

	"github.com/kafki/kafki/brokerd/config"
	"github.com/kafki/kafki/brokerd/metastore"
	"github.com/kafki/kafki/tiering"
	"github.com/kafki/kafki/tiering/fetch"
)

// openTier builds tiered storage from the tier.* settings; nil when
// tiering is off.
//
// With tier.dir, objects and their metadata both live under it
// (objects/, metadata/), so a broker that lost its data.dir still finds
// its remote tier. With tier.s3.bucket the objects are in S3 and the
// metadata under data.dir/__tier. A clustered broker keeps the metadata
// in the cluster's DynamoDB table (metadata.table) instead, whichever
// the object store: a new partition leader must see exactly what the old
// one committed, and the leader-epoch fence must hold across brokers.
func openTier(ctx context.Context, cfg *config.Config, cstore *metastore.Store) (*tiering.Tier, error) {
	if !cfg.TieringEnabled() {
		return nil, nil
	}
	loc := tiering.Location{
		Dir: cfg.TierDir, S3Bucket: cfg.TierS3Bucket, S3PathStyle: cfg.TierS3PathStyle, S3Prefix: cfg.TierS3Prefix,
		MetadataDir: filepath.Join(cfg.DataDir, "__tier"),
	}
	if cstore != nil {
		// The metadata store's client, so that these requests are
		// counted in kafki_dynamodb_requests_total too.
		loc.Meta = metastore.NewRemote(cstore.Client(), cstore.Table(), nil)
	}
	store, meta, err := tiering.Open(ctx, loc)
	if err != nil {
		return nil, err
	}
	return tiering.New(tiering.Config{
		Store:      store,
		Meta:       meta,
		Reader:     fetch.Options{CacheBytes: cfg.TierCacheBytes},
		SweepGrace: cfg.TierSweepGrace,
	}), nil
}

// closeTier stops the tier's background reads, if any.
func (b *Broker) closeTier() {
	if b.tier == nil {
		return
	}
	if err := b.tier.Close(); err != nil {
		b.log.Warn("closing tiered storage", "err", err)
	}
}

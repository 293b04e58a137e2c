package broker

import (
	"context"
	"fmt"
	"path/filepath"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"

	"github.com/kafki/kafki/brokerd/config"
	"github.com/kafki/kafki/tiering"
	"github.com/kafki/kafki/tiering/fetch"
	"github.com/kafki/kafki/tiering/objstore"
	"github.com/kafki/kafki/tiering/remote"
)

// openTier builds tiered storage from the tier.* settings; nil when
// tiering is off.
//
// With tier.dir, objects and their metadata both live under it
// (objects/, metadata/), so a broker that lost its data.dir still finds
// its remote tier. With tier.s3.bucket the objects are in S3 and the
// metadata under data.dir/__tier until a shared metadata store (DynamoDB,
// with the cluster work) exists.
func openTier(ctx context.Context, cfg *config.Config) (*tiering.Tier, error) {
	if !cfg.TieringEnabled() {
		return nil, nil
	}
	var (
		store   objstore.Store
		metaDir string
	)
	if cfg.TierDir != "" {
		local, err := objstore.OpenLocal(filepath.Join(cfg.TierDir, "objects"))
		if err != nil {
			return nil, fmt.Errorf("tier.dir %s: %w", cfg.TierDir, err)
		}
		store, metaDir = local, filepath.Join(cfg.TierDir, "metadata")
	} else {
		awsCfg, err := awsconfig.LoadDefaultConfig(ctx)
		if err != nil {
			return nil, fmt.Errorf("tier.s3.bucket %s: aws config: %w", cfg.TierS3Bucket, err)
		}
		s3, err := objstore.NewS3(awsCfg, objstore.S3Options{Bucket: cfg.TierS3Bucket, UsePathStyle: cfg.TierS3PathStyle})
		if err != nil {
			return nil, fmt.Errorf("tier.s3.bucket %s: %w", cfg.TierS3Bucket, err)
		}
		store, metaDir = s3, filepath.Join(cfg.DataDir, "__tier")
	}
	meta, err := remote.OpenFileStore(metaDir, nil)
	if err != nil {
		return nil, fmt.Errorf("tier metadata %s: %w", metaDir, err)
	}
	return tiering.New(tiering.Config{
		Store:  store,
		Meta:   meta,
		Reader: fetch.Options{CacheBytes: cfg.TierCacheBytes},
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

package tiering

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"

	"github.com/kafki/kafki/tiering/objstore"
	"github.com/kafki/kafki/tiering/remote"
)

// Location says where a tier lives: a local directory (objects and
// metadata under it), or an S3 bucket with the metadata in a directory of
// its own (a single broker's data.dir/__tier). In a cluster the metadata
// lives in the cluster's DynamoDB table instead (Meta, a metastore.Remote
// given by the broker), so that every broker, and each new partition
// leader, sees what the others committed and the leader-epoch fence holds
// across brokers.
type Location struct {
	Dir         string // local-directory tier
	S3Bucket    string // S3 tier (AWS default config; AWS_ENDPOINT_URL honoured)
	S3PathStyle bool   // path-style addressing (moto, MinIO)
	// S3Prefix is prepended to every object key (CheckPrefix's rules;
	// a missing trailing "/" is added), so that clusters can share a
	// bucket. The sweeper only ever looks under it.
	S3Prefix    string
	MetadataDir string // metadata directory of an S3 tier without Meta
	// Meta, if set, is the metadata store whatever the object store (a
	// cluster's, in its DynamoDB table), and MetadataDir is not used.
	Meta remote.Store
}

// Open opens the object store and the metadata store of loc. The broker
// and the kafki tools open tiers the same way through it.
func Open(ctx context.Context, loc Location) (objstore.Store, remote.Store, error) {
	var (
		store   objstore.Store
		metaDir string
	)
	switch {
	case loc.Dir != "" && loc.S3Bucket != "":
		return nil, nil, errors.New("tier: give a directory or an S3 bucket, not both")
	case loc.Dir != "":
		local, err := objstore.OpenLocal(filepath.Join(loc.Dir, "objects"))
		if err != nil {
			return nil, nil, fmt.Errorf("tier.dir %s: %w", loc.Dir, err)
		}
		store, metaDir = local, filepath.Join(loc.Dir, "metadata")
	case loc.S3Bucket != "":
		if loc.MetadataDir == "" && loc.Meta == nil {
			return nil, nil, errors.New("tier: an S3 tier needs its metadata directory or table")
		}
		awsCfg, err := awsconfig.LoadDefaultConfig(ctx)
		if err != nil {
			return nil, nil, fmt.Errorf("tier.s3.bucket %s: aws config: %w", loc.S3Bucket, err)
		}
		if err := CheckPrefix(loc.S3Prefix); err != nil {
			return nil, nil, fmt.Errorf("tier.s3.prefix: %w", err)
		}
		prefix := loc.S3Prefix
		if prefix != "" && !strings.HasSuffix(prefix, "/") {
			prefix += "/"
		}
		s3, err := objstore.NewS3(awsCfg, objstore.S3Options{Bucket: loc.S3Bucket, Prefix: prefix, UsePathStyle: loc.S3PathStyle})
		if err != nil {
			return nil, nil, fmt.Errorf("tier.s3.bucket %s: %w", loc.S3Bucket, err)
		}
		store, metaDir = s3, loc.MetadataDir
	default:
		return nil, nil, errors.New("tier: no directory or S3 bucket given")
	}
	if loc.Meta != nil {
		return store, loc.Meta, nil
	}
	meta, err := remote.OpenFileStore(metaDir, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("tier metadata %s: %w", metaDir, err)
	}
	return store, meta, nil
}

// CheckPrefix reports whether prefix can prefix S3 object keys: empty, or
// relative ("kafki/prod" or "kafki/prod/") with no empty, "." or ".."
// element, within 512 bytes (S3 keys are at most 1024, and the tier's own
// keys need the rest).
func CheckPrefix(prefix string) error {
	if prefix == "" {
		return nil
	}
	if len(prefix) > 512 {
		return fmt.Errorf("%d bytes: at most 512", len(prefix))
	}
	for _, el := range strings.Split(strings.TrimSuffix(prefix, "/"), "/") {
		if el == "" || el == "." || el == ".." {
			return fmt.Errorf("%q: must be relative, with no empty, \".\" or \"..\" element", prefix)
		}
	}
	return nil
}

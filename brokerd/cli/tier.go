package cli

// kafki tier: describe and verify a broker's tiered storage, reading the
// object store and the remote-segment metadata directly (not through a
// broker), so it also works on a tier whose broker is down.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"
	"time"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/kafki/kafki/brokerd/metastore"
	"github.com/kafki/kafki/tiering"
	"github.com/kafki/kafki/tiering/audit"
	"github.com/kafki/kafki/tiering/remote"
)

const tierHelp = `Usage: kafki tier <describe|verify> [flags]

Inspect tiered storage: the remote segments of each partition, and whether
every object the metadata names exists with the recorded size and checksum.
Run 'kafki tier <subcommand> --help' for the flags of each subcommand.
`

// ErrTierProblems: verify found missing, damaged or orphaned objects.
var ErrTierProblems = errors.New("tier verification found problems")

// tierFlags locate a tier as the broker's tier.* settings do.
type tierFlags struct {
	loc   tiering.Location
	table string
	topic *string
}

func (f *tierFlags) register(c *command) {
	c.fs.StringVar(&f.loc.Dir, "tier.dir", "", "The broker's --tier.dir (local-directory tier).")
	c.fs.StringVar(&f.loc.S3Bucket, "tier.s3.bucket", "", "The broker's --tier.s3.bucket (S3 tier; AWS default config, AWS_ENDPOINT_URL honoured).")
	c.fs.BoolVar(&f.loc.S3PathStyle, "tier.s3.path-style", false, "S3 path-style addressing (moto, MinIO).")
	c.fs.StringVar(&f.loc.S3Prefix, "tier.s3.prefix", "", "The broker's --tier.s3.prefix.")
	c.fs.StringVar(&f.loc.MetadataDir, "tier.metadata.dir", "", "With an S3 tier: the broker's data.dir/__tier.")
	c.fs.StringVar(&f.table, "tier.metadata.table", "", "Clustered brokers: their --metadata.table (DynamoDB; AWS_ENDPOINT_URL honoured), where they keep the tier's metadata.")
	f.topic = c.fs.String("topic", "", "Only this topic (default: every topic in the tier).")
}

func runTier(ctx context.Context, verify bool, args []string, env Env) error {
	name, what := "tier describe", "List each partition's remote segments: offsets, size, leader epoch, state."
	example := "  kafki tier describe --tier.dir /var/lib/kafki/tier --topic orders"
	if verify {
		name, what = "tier verify", "Check every object the remote metadata names (exists, size, and with --checksums its CRC32C) and report orphaned objects. Exits 1 on any problem."
		example = "  kafki tier verify --tier.dir /var/lib/kafki/tier --checksums"
	}
	c := newCommand(name, name+" [flags]", what, example)
	var f tierFlags
	f.register(c)
	checksums := c.fs.Bool("checksums", false, "Read every object whole and compare its CRC32C (verify).")
	if err := c.parse(args, env.Stdout); err != nil {
		return err
	}
	if f.loc.Dir == "" && f.loc.S3Bucket == "" {
		return usagef("give --tier.dir or --tier.s3.bucket")
	}
	if f.table != "" {
		awsCfg, err := awsconfig.LoadDefaultConfig(ctx)
		if err != nil {
			return fmt.Errorf("tier.metadata.table %s: aws config: %w", f.table, err)
		}
		f.loc.Meta = metastore.NewRemote(dynamodb.NewFromConfig(awsCfg), f.table, nil)
	}
	store, meta, err := tiering.Open(ctx, f.loc)
	if err != nil {
		return err
	}
	tps, err := meta.Partitions(ctx)
	if err != nil {
		return fmt.Errorf("list partitions: %w", err)
	}
	w := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
	var problems, segments int
	var bytes int64
	for _, tp := range tps {
		if *f.topic != "" && tp.Topic != *f.topic {
			continue
		}
		rep, err := audit.Verify(ctx, store, meta, tp, verify && *checksums)
		if err != nil {
			return fmt.Errorf("%s: %w", tp, err)
		}
		segments += len(rep.Segments)
		bytes += rep.RemoteBytes
		if verify {
			for _, p := range rep.Problems {
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", tp, p.Kind, p.Key, p.Detail)
			}
			problems += len(rep.Problems)
			continue
		}
		describePartition(w, tp, rep)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if verify {
		if problems > 0 {
			return fmt.Errorf("%w: %d (listed above)", ErrTierProblems, problems)
		}
		fmt.Fprintf(env.Stdout, "OK: %d segments, %d bytes, no problems\n", segments, bytes)
	}
	return nil
}

func describePartition(w io.Writer, tp remote.TopicPartition, rep audit.Report) {
	start, end, ok := remote.Bounds(remote.Finished(rep.Segments))
	bounds := "none"
	if ok {
		bounds = strconv.FormatInt(start, 10) + ".." + strconv.FormatInt(end, 10)
	}
	fmt.Fprintf(w, "Topic: %s\tPartition: %d\tRemoteOffsets: %s\tSegments: %d\tBytes: %d\n", tp.Topic, tp.Partition, bounds, len(rep.Segments), rep.RemoteBytes)
	for _, s := range rep.Segments {
		fmt.Fprintf(w, "\tBase: %d\tLast: %d\tSize: %d\tLeaderEpoch: %d\tState: %s\tCreated: %s\n",
			s.BaseOffset, s.LastOffset, s.Size, s.LeaderEpoch, s.State, s.CreatedAt.UTC().Format(time.RFC3339))
	}
}

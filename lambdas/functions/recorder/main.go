// Command recorder is the test function (provided.al2023): it records
// every batch it receives as one DynamoDB item, so a test can rebuild
// exactly what the function saw and in which order, and it fails on
// demand. Item: pk = RECORDER_NAME, sk = <start unix ns, 20 digits>-<topic>-
// <partition>-<first offset>, attributes topic, partition, offsets (the
// offsets of the batch, comma-separated), ts (the records' timestamps in
// ms, comma-separated), start_ms (when the handler started), records.
//
// Environment: RECORDER_TABLE (required), RECORDER_NAME (default
// "recorder"), RECORDER_FAIL=always (every batch fails, after being
// recorded with failed=true), RECORDER_POISON=s (a batch fails when a
// record's value contains s), RECORDER_NOOP=1 (record nothing: the
// benchmark's no-op function; with RECORDER_LATENCY=1 it records start_ms
// and ts only).
package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/kafki/kafki/lambdas/functions/internal/awsenv"
	"github.com/kafki/kafki/lambdas/kafkaevent"
)

func main() {
	start := func() time.Time { return time.Now() }
	if os.Getenv("RECORDER_NOOP") == "1" && os.Getenv("RECORDER_LATENCY") != "1" {
		kafkaevent.Start(func(context.Context, kafkaevent.Batch) error { return nil })
		return
	}
	table := awsenv.MustEnv("RECORDER_TABLE")
	name := os.Getenv("RECORDER_NAME")
	if name == "" {
		name = "recorder"
	}
	failAlways := os.Getenv("RECORDER_FAIL") == "always"
	poison := os.Getenv("RECORDER_POISON")
	cfg, err := awsenv.Load(context.Background())
	if err != nil {
		panic(err)
	}
	db := dynamodb.NewFromConfig(cfg)
	kafkaevent.Start(func(ctx context.Context, b kafkaevent.Batch) error {
		t0 := start()
		var fail error
		switch {
		case failAlways:
			fail = errors.New("recorder told to fail")
		case poison != "":
			for _, r := range b.Records {
				if bytes.Contains(r.Value, []byte(poison)) {
					fail = fmt.Errorf("poison record at %s-%d offset %d", r.Topic, r.Partition, r.Offset)
				}
			}
		}
		for _, recs := range b.Partitions() {
			if err := record(ctx, db, table, name, t0, recs, fail != nil); err != nil {
				return err
			}
		}
		return fail
	})
}

func record(ctx context.Context, db *dynamodb.Client, table, name string, t0 time.Time, recs []kafkaevent.Record, failed bool) error {
	offs := make([]string, len(recs))
	ts := make([]string, len(recs))
	for i, r := range recs {
		offs[i] = strconv.FormatInt(r.Offset, 10)
		ts[i] = strconv.FormatInt(r.Timestamp.UnixMilli(), 10)
	}
	first := recs[0]
	sk := fmt.Sprintf("%020d-%s-%d-%d", t0.UnixNano(), first.Topic, first.Partition, first.Offset)
	s := func(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
	n := func(v int64) types.AttributeValue {
		return &types.AttributeValueMemberN{Value: strconv.FormatInt(v, 10)}
	}
	_, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: &table, Item: map[string]types.AttributeValue{
		"pk": s(name), "sk": s(sk), "topic": s(first.Topic), "partition": n(int64(first.Partition)),
		"offsets": s(strings.Join(offs, ",")), "ts": s(strings.Join(ts, ",")), "start_ms": n(t0.UnixMilli()),
		"records": n(int64(len(recs))), "failed": &types.AttributeValueMemberBOOL{Value: failed},
	}})
	if err != nil {
		return fmt.Errorf("record batch: %w", err)
	}
	return nil
}

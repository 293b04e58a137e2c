// Command s3-archiver is a Lambda function (provided.al2023) that archives
// every batch to S3: one object per partition of the batch, newline-
// delimited JSON, named <prefix><topic>/<partition>/<first offset, 20
// digits>.ndjson, so a redelivered batch overwrites its object instead of
// duplicating it. Environment: ARCHIVE_BUCKET, ARCHIVE_PREFIX (optional).
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/kafki/kafki/lambdas/functions/internal/awsenv"
	"github.com/kafki/kafki/lambdas/kafkaevent"
)

type line struct {
	Topic     string            `json:"topic"`
	Partition int32             `json:"partition"`
	Offset    int64             `json:"offset"`
	Timestamp int64             `json:"timestamp"`
	Key       *string           `json:"key"`
	Value     *string           `json:"value"`
	Headers   map[string]string `json:"headers,omitempty"`
}

func main() {
	bucket := awsenv.MustEnv("ARCHIVE_BUCKET")
	prefix := os.Getenv("ARCHIVE_PREFIX")
	cfg, err := awsenv.Load(context.Background())
	if err != nil {
		panic(err)
	}
	client := awsenv.S3(cfg)
	kafkaevent.Start(func(ctx context.Context, b kafkaevent.Batch) error {
		for _, recs := range b.Partitions() {
			if err := archive(ctx, client, bucket, prefix, recs); err != nil {
				return err
			}
		}
		return nil
	})
}

// ObjectKey names the object of a batch that starts at first.
func ObjectKey(prefix string, first kafkaevent.Record) string {
	return fmt.Sprintf("%s%s/%d/%020d.ndjson", prefix, first.Topic, first.Partition, first.Offset)
}

func archive(ctx context.Context, client *s3.Client, bucket, prefix string, recs []kafkaevent.Record) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	for _, r := range recs {
		l := line{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset, Timestamp: r.Timestamp.UnixMilli()}
		if r.Key != nil {
			k := string(r.Key)
			l.Key = &k
		}
		if r.Value != nil {
			v := string(r.Value)
			l.Value = &v
		}
		for _, h := range r.Headers {
			if l.Headers == nil {
				l.Headers = map[string]string{}
			}
			l.Headers[h.Key] = string(h.Value)
		}
		if err := enc.Encode(l); err != nil {
			return fmt.Errorf("encode offset %d: %w", r.Offset, err)
		}
	}
	key := ObjectKey(prefix, recs[0])
	if _, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: &bucket, Key: &key, Body: bytes.NewReader(buf.Bytes()),
		ContentType: aws.String("application/x-ndjson")}); err != nil {
		return fmt.Errorf("put s3://%s/%s: %w", bucket, key, err)
	}
	return nil
}

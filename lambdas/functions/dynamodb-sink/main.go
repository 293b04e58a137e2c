// Command dynamodb-sink is a Lambda function (provided.al2023) that keeps a
// materialised view of a topic in a DynamoDB table: one item per record
// key (attribute pk, the key as a string) holding the latest value, with
// the topic, partition and offset it came from. A write is conditional on
// the stored offset being older, so a redelivered (older) batch never
// overwrites a newer value: the sink is idempotent under at-least-once
// delivery. Records without a key are skipped. Environment: SINK_TABLE.
package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/kafki/kafki/lambdas/functions/internal/awsenv"
	"github.com/kafki/kafki/lambdas/kafkaevent"
)

// parallel bounds concurrent PutItems within a batch (distinct keys only).
const parallel = 8

func main() {
	table := awsenv.MustEnv("SINK_TABLE")
	cfg, err := awsenv.Load(context.Background())
	if err != nil {
		panic(err)
	}
	db := dynamodb.NewFromConfig(cfg)
	kafkaevent.Start(func(ctx context.Context, b kafkaevent.Batch) error { return sink(ctx, db, table, b) })
}

func sink(ctx context.Context, db *dynamodb.Client, table string, b kafkaevent.Batch) error {
	// The last record of each key wins within the batch (records are in
	// offset order per partition, and a key lives in one partition).
	latest := map[string]kafkaevent.Record{}
	var order []string
	for _, r := range b.Records {
		if r.Key == nil {
			continue
		}
		k := string(r.Key)
		if _, ok := latest[k]; !ok {
			order = append(order, k)
		}
		latest[k] = r
	}
	sem := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	for _, k := range order {
		r := latest[k]
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := put(ctx, db, table, r); err != nil {
				mu.Lock()
				if firstErr == nil {
					firstErr = err
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return firstErr
}

func put(ctx context.Context, db *dynamodb.Client, table string, r kafkaevent.Record) error {
	pos := fmt.Sprintf("%s/%d", r.Topic, r.Partition)
	_, err := db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: &table,
		Item: map[string]types.AttributeValue{
			"pk":     &types.AttributeValueMemberS{Value: string(r.Key)},
			"value":  &types.AttributeValueMemberS{Value: string(r.Value)},
			"source": &types.AttributeValueMemberS{Value: pos},
			"offset": &types.AttributeValueMemberN{Value: strconv.FormatInt(r.Offset, 10)},
		},
		ConditionExpression:       aws.String("attribute_not_exists(pk) OR #src <> :src OR #off <= :off"),
		ExpressionAttributeNames:  map[string]string{"#src": "source", "#off": "offset"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":src": &types.AttributeValueMemberS{Value: pos}, ":off": &types.AttributeValueMemberN{Value: strconv.FormatInt(r.Offset, 10)}},
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return nil // a newer value is already there: this is a redelivery
	}
	if err != nil {
		return fmt.Errorf("put %q (%s offset %d): %w", r.Key, pos, r.Offset, err)
	}
	return nil
}

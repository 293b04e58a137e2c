package metastore

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/kafki/kafki/brokerd/lease"
)

// Attributes of lease items.
const (
	attrHolder   = "holder"      // S, "" when released
	attrRVN      = "rvn"         // S: record version number, new at every write
	attrEpoch    = "epoch"       // N: the fencing token
	attrDuration = "duration_ms" // N
)

func leaseItem(r lease.Record) map[string]types.AttributeValue {
	it := leaseKey(r.Name)
	it[attrHolder] = str(r.Holder)
	it[attrRVN] = str(r.RVN)
	it[attrEpoch] = num(r.Epoch)
	it[attrDuration] = num(r.Duration.Milliseconds())
	return it
}

func parseLease(name string, m map[string]types.AttributeValue) (lease.Record, error) {
	it := item{what: "lease item " + name, m: m}
	r := lease.Record{Name: name}
	r.Holder = it.str(attrHolder)
	r.RVN = it.str(attrRVN)
	r.Epoch = it.num(attrEpoch)
	ms := it.num(attrDuration)
	if it.err != nil {
		return r, it.err
	}
	if ms <= 0 {
		return r, fmt.Errorf("%s: duration %d ms", it.what, ms)
	}
	r.Duration = time.Duration(ms) * time.Millisecond
	return r, nil
}

// Get implements lease.Store.
func (s *Store) Get(ctx context.Context, name string) (lease.Record, bool, error) {
	m, err := s.get(ctx, leaseKey(name))
	if err != nil {
		return lease.Record{}, false, fmt.Errorf("get lease %s: %w", name, err)
	}
	if m == nil {
		return lease.Record{}, false, nil
	}
	r, err := parseLease(name, m)
	return r, err == nil, err
}

// Create implements lease.Store: a put conditional on no lease of that
// name.
func (s *Store) Create(ctx context.Context, rec lease.Record) error {
	_, err := s.client.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                &s.table,
		Item:                     leaseItem(rec),
		ConditionExpression:      aws.String("attribute_not_exists(#pk)"),
		ExpressionAttributeNames: map[string]string{"#pk": AttrPK},
	})
	if raced(err) {
		return fmt.Errorf("create lease %s: %w", rec.Name, lease.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("create lease %s: %w", rec.Name, err)
	}
	return nil
}

// Swap implements lease.Store: a put conditional on the RVN read.
func (s *Store) Swap(ctx context.Context, expectRVN string, next lease.Record) error {
	_, err := s.client.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                 &s.table,
		Item:                      leaseItem(next),
		ConditionExpression:       aws.String("#rvn = :expect"),
		ExpressionAttributeNames:  map[string]string{"#rvn": attrRVN},
		ExpressionAttributeValues: map[string]types.AttributeValue{":expect": str(expectRVN)},
	})
	if raced(err) {
		return fmt.Errorf("swap lease %s: %w", next.Name, lease.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("swap lease %s: %w", next.Name, err)
	}
	return nil
}

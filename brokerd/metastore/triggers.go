package metastore

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/kafki/kafki/lambdas/triggers"
)

// Lambda trigger items (triggers.Store): pk "trigger", sk the trigger id,
// def S (the definition's JSON, owned by lambdas/triggers), version N,
// status S (the runners' last report). They are not part of the metadata
// snapshot brokers read, so their writes do not bump the metadata
// version: runners Query them on their own poll.
const (
	pkTrigger     = "trigger"
	attrDef       = "def"
	attrTrigVer   = "version"
	attrTrigState = "status"
)

var _ triggers.Store = (*Store)(nil)

func triggerKey(id string) map[string]types.AttributeValue { return key(pkTrigger, id) }

// Triggers implements triggers.Store: one Query.
func (s *Store) Triggers(ctx context.Context) ([]triggers.Stored, error) {
	var out []triggers.Stored
	err := s.query(ctx, pkTrigger, func(m map[string]types.AttributeValue) error {
		id := sortKeyOf(m)
		it := item{what: fmt.Sprintf("trigger item %q", id), m: m}
		st := triggers.Stored{ID: id, Definition: []byte(it.str(attrDef)), Version: it.num(attrTrigVer), Status: []byte(it.optStr(attrTrigState))}
		if it.err != nil {
			return it.err
		}
		out = append(out, st)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read triggers: %w", err)
	}
	return out, nil
}

// PutTrigger implements triggers.Store: a create is conditional on the
// item's absence, a replacement on the version read.
func (s *Store) PutTrigger(ctx context.Context, id string, def []byte, version int64) (int64, error) {
	in := &dynamodb.UpdateItemInput{
		TableName:                &s.table,
		Key:                      triggerKey(id),
		UpdateExpression:         aws.String("SET #def = :def, #v = :next"),
		ExpressionAttributeNames: map[string]string{"#def": attrDef, "#v": attrTrigVer},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":def": str(string(def)), ":next": num(version + 1),
		},
	}
	if version == 0 {
		in.ConditionExpression = aws.String("attribute_not_exists(#pk)")
		in.ExpressionAttributeNames["#pk"] = AttrPK
	} else {
		in.ConditionExpression = aws.String("#v = :v")
		in.ExpressionAttributeValues[":v"] = num(version)
	}
	_, err := s.client.UpdateItem(ctx, in)
	if err != nil {
		return 0, s.triggerWriteError(ctx, "put", id, version, err)
	}
	return version + 1, nil
}

// DeleteTrigger implements triggers.Store: conditional on the version
// read, or on existence with version 0.
func (s *Store) DeleteTrigger(ctx context.Context, id string, version int64) error {
	in := &dynamodb.DeleteItemInput{
		TableName: &s.table, Key: triggerKey(id),
		ConditionExpression:      aws.String("attribute_exists(#pk)"),
		ExpressionAttributeNames: map[string]string{"#pk": AttrPK},
	}
	if version != 0 {
		in.ConditionExpression = aws.String("#v = :v")
		in.ExpressionAttributeNames = map[string]string{"#v": attrTrigVer}
		in.ExpressionAttributeValues = map[string]types.AttributeValue{":v": num(version)}
	}
	if _, err := s.client.DeleteItem(ctx, in); err != nil {
		return s.triggerWriteError(ctx, "delete", id, version, err)
	}
	return nil
}

// PutTriggerStatus implements triggers.Store: conditional on the trigger
// existing, so a status never resurrects a deleted trigger.
func (s *Store) PutTriggerStatus(ctx context.Context, id string, status []byte) error {
	_, err := s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: &s.table, Key: triggerKey(id),
		UpdateExpression:          aws.String("SET #st = :st"),
		ConditionExpression:       aws.String("attribute_exists(#pk)"),
		ExpressionAttributeNames:  map[string]string{"#st": attrTrigState, "#pk": AttrPK},
		ExpressionAttributeValues: map[string]types.AttributeValue{":st": str(string(status))},
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return fmt.Errorf("%w: %q", triggers.ErrNotFound, id)
	}
	if err != nil {
		return fmt.Errorf("write trigger %q status: %w", id, err)
	}
	return nil
}

// triggerWriteError tells a failed condition apart: absent item
// (ErrNotFound), present on create (ErrExists), other version
// (ErrConflict).
func (s *Store) triggerWriteError(ctx context.Context, op, id string, version int64, err error) error {
	var ccf *types.ConditionalCheckFailedException
	if !errors.As(err, &ccf) {
		return fmt.Errorf("%s trigger %q: %w", op, id, err)
	}
	if version == 0 && op == "put" {
		return fmt.Errorf("%w: %q", triggers.ErrExists, id)
	}
	cur, gerr := s.get(ctx, triggerKey(id))
	switch {
	case gerr != nil:
		return fmt.Errorf("%s trigger %q: %w", op, id, gerr)
	case cur == nil:
		return fmt.Errorf("%w: %q", triggers.ErrNotFound, id)
	}
	return fmt.Errorf("%w: %q", triggers.ErrConflict, id)
}

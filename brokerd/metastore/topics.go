package metastore

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/kafki/kafki/brokerd/meta"
)

// Attributes of topic items.
const (
	attrTopicID    = "id"         // S, hex
	attrPartitions = "partitions" // N
	attrRF         = "rf"         // N, absent: 1
	attrConfigs    = "configs"    // M of S: the overrides
	attrTopicVer   = "version"    // N: compare-and-set of the topic's own fields
	attrChanges    = "changes"    // N: bumped by every write of the topic or its partitions
	attrDeleted    = "deleted"    // BOOL: a tombstone until the controller drops the remains
)

// maxUpdateRetries bounds UpdateTopic's optimistic retries.
const maxUpdateRetries = 16

// topicRow is a topic item as read.
type topicRow struct {
	topic   meta.Topic
	version int64
	changes int64
	deleted bool
}

func topicItem(t meta.Topic, version int64) map[string]types.AttributeValue {
	it := topicKey(t.Name)
	for k, v := range topicFields(t, version) {
		it[k] = v
	}
	it[attrChanges] = num(1)
	return it
}

// topicFields are the attributes a create or update sets.
func topicFields(t meta.Topic, version int64) map[string]types.AttributeValue {
	cfg := map[string]types.AttributeValue{}
	for k, v := range t.Configs {
		cfg[k] = str(v)
	}
	f := map[string]types.AttributeValue{
		attrTopicID:    str(hex.EncodeToString(t.ID[:])),
		attrPartitions: num(int64(t.Partitions)),
		attrRF:         num(int64(max(t.ReplicationFactor, 1))),
		attrConfigs:    &types.AttributeValueMemberM{Value: cfg},
		attrTopicVer:   num(version),
		attrDeleted:    boolean(false),
	}
	return f
}

func parseTopic(m map[string]types.AttributeValue) (topicRow, error) {
	name := sortKeyOf(m)
	it := item{what: fmt.Sprintf("topic item %q", name), m: m}
	var r topicRow
	r.topic.Name = name
	id := it.str(attrTopicID)
	parts := it.num(attrPartitions)
	rf, hasRF := it.optNum(attrRF)
	r.topic.Configs = it.strMap(attrConfigs)
	r.version = it.num(attrTopicVer)
	r.changes, _ = it.optNum(attrChanges)
	r.deleted = it.optBool(attrDeleted)
	if it.err != nil {
		return r, it.err
	}
	var err error
	if r.topic.ID, err = parseID(id); err != nil {
		return r, fmt.Errorf("%s: bad id", it.what)
	}
	if name == "" || parts < 1 || parts > 1<<31-1 {
		return r, fmt.Errorf("%s: bad name or partition count %d", it.what, parts)
	}
	r.topic.Partitions = int32(parts)
	if hasRF {
		if rf < 1 || rf > 1<<15-1 {
			return r, fmt.Errorf("%s: bad rf %d", it.what, rf)
		}
		r.topic.ReplicationFactor = int16(rf)
	}
	return r, nil
}

func parseID(s string) (meta.TopicID, error) {
	var id meta.TopicID
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != len(id) {
		return id, errors.New("bad topic id")
	}
	copy(id[:], b)
	return id, nil
}

// topicRows reads every topic item, tombstones included, sorted by name.
func (s *Store) topicRows(ctx context.Context) ([]topicRow, error) {
	var out []topicRow
	err := s.query(ctx, pkTopic, func(m map[string]types.AttributeValue) error {
		r, err := parseTopic(m)
		if err != nil {
			return err
		}
		out = append(out, r)
		return nil
	})
	return out, err
}

// Topics implements meta.Store: one Query of the topic items.
func (s *Store) Topics(ctx context.Context) ([]meta.Topic, error) {
	rows, err := s.topicRows(ctx)
	if err != nil {
		return nil, fmt.Errorf("read topics: %w", err)
	}
	var out []meta.Topic
	for _, r := range rows {
		if !r.deleted {
			out = append(out, r.topic)
		}
	}
	return out, nil
}

// CreateTopic implements meta.Store: a put conditional on the name being
// free (no item, or the tombstone of a deleted topic), with the version
// bump.
func (s *Store) CreateTopic(ctx context.Context, t meta.Topic) error {
	if t.Partitions < 1 {
		return fmt.Errorf("topic %q: %d partitions", t.Name, t.Partitions)
	}
	_, err := s.client.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Put: &types.Put{
			TableName:                 &s.table,
			Item:                      topicItem(t, 1),
			ConditionExpression:       aws.String("attribute_not_exists(#pk) OR #del = :true"),
			ExpressionAttributeNames:  map[string]string{"#pk": AttrPK, "#del": attrDeleted},
			ExpressionAttributeValues: map[string]types.AttributeValue{":true": boolean(true)},
		}},
		s.bumpVersion(),
	}})
	if conditionFailed(err) {
		return fmt.Errorf("%w: %q", meta.ErrTopicExists, t.Name)
	}
	if err != nil {
		return fmt.Errorf("create topic %q: %w", t.Name, err)
	}
	return nil
}

// DeleteTopic implements meta.Store. The topic item becomes a tombstone
// (deleted, change counter bumped) so that every broker's next read sees
// the deletion, and the controller finds the partition states to remove;
// it drops the tombstone after them (DropTopic).
func (s *Store) DeleteTopic(ctx context.Context, name string) error {
	_, err := s.client.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Update: &types.Update{
			TableName:                 &s.table,
			Key:                       topicKey(name),
			UpdateExpression:          aws.String("SET #del = :true ADD #c :one"),
			ConditionExpression:       aws.String("attribute_exists(#pk) AND (attribute_not_exists(#del) OR #del = :false)"),
			ExpressionAttributeNames:  map[string]string{"#pk": AttrPK, "#del": attrDeleted, "#c": attrChanges},
			ExpressionAttributeValues: map[string]types.AttributeValue{":true": boolean(true), ":false": boolean(false), ":one": num(1)},
		}},
		s.bumpVersion(),
	}})
	if conditionFailed(err) {
		return fmt.Errorf("%w: %q", meta.ErrUnknownTopic, name)
	}
	if err != nil {
		return fmt.Errorf("delete topic %q: %w", name, err)
	}
	return nil
}

// UpdateTopic implements meta.Store: read, apply fn, write conditional on
// the topic's version; retried when another writer got there first. The
// write is an update, not a put, so that the change counter (which
// partition writes bump without touching the version) only grows.
func (s *Store) UpdateTopic(ctx context.Context, name string, fn func(*meta.Topic) error) (meta.Topic, error) {
	for attempt := 0; attempt < maxUpdateRetries; attempt++ {
		m, err := s.get(ctx, topicKey(name))
		if err != nil {
			return meta.Topic{}, fmt.Errorf("read topic %q: %w", name, err)
		}
		if m == nil {
			return meta.Topic{}, fmt.Errorf("%w: %q", meta.ErrUnknownTopic, name)
		}
		cur, err := parseTopic(m)
		if err != nil {
			return meta.Topic{}, err
		}
		if cur.deleted {
			return meta.Topic{}, fmt.Errorf("%w: %q", meta.ErrUnknownTopic, name)
		}
		next := cur.topic.Clone()
		if err := fn(&next); err != nil {
			return meta.Topic{}, err
		}
		if next.Name != cur.topic.Name || next.ID != cur.topic.ID || next.Partitions < 1 {
			return meta.Topic{}, fmt.Errorf("topic %q: update may not change name or id, and needs >= 1 partition", name)
		}
		names := map[string]string{"#v": attrTopicVer, "#c": attrChanges}
		values := map[string]types.AttributeValue{":v": num(cur.version), ":one": num(1)}
		set := ""
		i := 0
		for k, v := range topicFields(next, cur.version+1) {
			n, val := "#f"+strconv.Itoa(i), ":f"+strconv.Itoa(i)
			names[n], values[val] = k, v
			if set != "" {
				set += ", "
			}
			set += n + " = " + val
			i++
		}
		_, err = s.client.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
			{Update: &types.Update{
				TableName: &s.table, Key: topicKey(name),
				UpdateExpression:          aws.String("SET " + set + " ADD #c :one"),
				ConditionExpression:       aws.String("#v = :v"),
				ExpressionAttributeNames:  names,
				ExpressionAttributeValues: values,
			}},
			s.bumpVersion(),
		}})
		if raced(err) {
			continue // someone else changed or deleted it: read again
		}
		if err != nil {
			return meta.Topic{}, fmt.Errorf("update topic %q: %w", name, err)
		}
		return next, nil
	}
	return meta.Topic{}, fmt.Errorf("update topic %q: still contended after %d attempts", name, maxUpdateRetries)
}

// AllocateProducerIDs implements meta.Store with an atomic counter: ADD
// returns the new value, so blocks never overlap whichever broker asks.
func (s *Store) AllocateProducerIDs(ctx context.Context, n int64) (int64, error) {
	if n < 1 {
		return 0, fmt.Errorf("allocate %d producer ids", n)
	}
	out, err := s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 &s.table,
		Key:                       producerIDKey(),
		UpdateExpression:          aws.String("ADD #next :n"),
		ExpressionAttributeNames:  map[string]string{"#next": "next"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":n": num(n)},
		ReturnValues:              types.ReturnValueUpdatedNew,
	})
	if err != nil {
		return 0, fmt.Errorf("allocate producer ids: %w", err)
	}
	it := item{what: "producer id counter", m: out.Attributes}
	end := it.num("next")
	if it.err != nil {
		return 0, fmt.Errorf("allocate producer ids: %w", it.err)
	}
	return end - n, nil
}

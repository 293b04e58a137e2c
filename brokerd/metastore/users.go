package metastore

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/kafki/kafki/brokerd/sasl"
)

// SCRAM credential items (sasl.UserStore): pk "scram", sk
// "<mechanism>/<user>" (mechanism names hold no '/', user names may),
// salt B, stored_key B, server_key B, iterations N. Never a password.
// Every write is a transaction with the metadata version bump, so every
// broker's users cache refreshes within one metadata poll; brokers read
// them with one Query (ScramUsers), separately from the snapshot.
const (
	pkScram        = "scram"
	attrSalt       = "salt"
	attrStoredKey  = "stored_key"
	attrServerKey  = "server_key"
	attrIterations = "iterations"
)

var _ sasl.UserStore = (*Store)(nil)

func scramSK(user string, m sasl.ScramMechanism) string { return m.Name() + "/" + user }

func scramKey(user string, m sasl.ScramMechanism) map[string]types.AttributeValue {
	return key(pkScram, scramSK(user, m))
}

// ScramUsers implements sasl.UserStore: one Query.
func (s *Store) ScramUsers(ctx context.Context) ([]sasl.User, error) {
	byName := map[string]*sasl.User{}
	var names []string
	err := s.query(ctx, pkScram, func(m map[string]types.AttributeValue) error {
		sk := sortKeyOf(m)
		mechName, user, ok := strings.Cut(sk, "/")
		mech, known := sasl.ParseScramMechanism(mechName)
		if !ok || !known || user == "" {
			return fmt.Errorf("SCRAM credential item %q: bad sort key", sk)
		}
		it := item{what: fmt.Sprintf("SCRAM credential item %q", sk), m: m}
		c := sasl.ScramCredential{Salt: it.bin(attrSalt), StoredKey: it.bin(attrStoredKey), ServerKey: it.bin(attrServerKey), Iterations: int(it.num(attrIterations))}
		if it.err != nil {
			return it.err
		}
		u := byName[user]
		if u == nil {
			u = &sasl.User{Name: user, Credentials: map[sasl.ScramMechanism]sasl.ScramCredential{}}
			byName[user] = u
			names = append(names, user)
		}
		u.Credentials[mech] = c
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read SCRAM users: %w", err)
	}
	out := make([]sasl.User, 0, len(names))
	for _, n := range names {
		out = append(out, *byName[n])
	}
	sortUsers(out)
	return out, nil
}

func sortUsers(us []sasl.User) {
	sort.Slice(us, func(i, j int) bool { return us[i].Name < us[j].Name })
}

// bin returns a binary attribute.
func (it *item) bin(attr string) []byte {
	v, ok := it.m[attr].(*types.AttributeValueMemberB)
	if !ok {
		it.fail(attr, "missing or not binary")
		return nil
	}
	return v.Value
}

// PutScramCredential implements sasl.UserStore: a Put of the item with
// the version bump.
func (s *Store) PutScramCredential(ctx context.Context, user string, m sasl.ScramMechanism, c sasl.ScramCredential) error {
	if user == "" || !m.Valid() {
		return fmt.Errorf("%w: user %q, mechanism %v", sasl.ErrBadCredential, user, m)
	}
	it := scramKey(user, m)
	it[attrSalt] = &types.AttributeValueMemberB{Value: c.Salt}
	it[attrStoredKey] = &types.AttributeValueMemberB{Value: c.StoredKey}
	it[attrServerKey] = &types.AttributeValueMemberB{Value: c.ServerKey}
	it[attrIterations] = num(int64(c.Iterations))
	return s.transact(ctx, fmt.Sprintf("put SCRAM credential %v of %q", m, user), []types.TransactWriteItem{
		{Put: &types.Put{TableName: &s.table, Item: it}},
		s.bumpVersion(),
	})
}

// DeleteScramCredential implements sasl.UserStore: a Delete conditional
// on the item existing, with the version bump.
func (s *Store) DeleteScramCredential(ctx context.Context, user string, m sasl.ScramMechanism) error {
	_, err := s.client.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Delete: &types.Delete{
			TableName: &s.table, Key: scramKey(user, m),
			ConditionExpression:      aws.String("attribute_exists(#pk)"),
			ExpressionAttributeNames: map[string]string{"#pk": AttrPK},
		}},
		s.bumpVersion(),
	}})
	switch {
	case err == nil:
		return nil
	case conditionFailed(err):
		return fmt.Errorf("%w: user %q, %v", sasl.ErrNoCredential, user, m)
	}
	return fmt.Errorf("delete SCRAM credential %v of %q: %w", m, user, err)
}

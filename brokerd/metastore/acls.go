package metastore

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/kafki/kafki/brokerd/acl"
	"github.com/kafki/kafki/brokerd/auth"
)

// Kafka ACL bindings (acl.Store): pk "acl", sk the hex SHA-256 of the
// binding's fields (a binding is its own identity, and its fields may
// hold any character and exceed what a sort key may), attributes rt,
// name, pt, principal, host, op, perm. The ACL change counter is
// meta/acl_version (version N). Every ACL write is a transaction that
// bumps the counter and the metadata version, so brokers' metadata poll
// sees it (their authorizers then read the counter, and the ACLs when it
// moved: acl.Authorizer.Run).
const (
	pkACL        = "acl"
	skACLVersion = "acl_version"
	attrRT       = "rt"
	attrName     = "name"
	attrPT       = "pt"
	attrPrinc    = "principal"
	attrHost     = "host"
	attrOp       = "op"
	attrPerm     = "perm"
)

var _ acl.Store = (*Store)(nil)

// aclsPerTransaction leaves room for the two counter bumps in
// DynamoDB's 100 items per transaction.
const aclsPerTransaction = 98

func aclVersionKey() map[string]types.AttributeValue { return key(pkMeta, skACLVersion) }

// aclSK is a binding's sort key: a hash of its fields, each
// length-prefixed so that no two bindings encode alike.
func aclSK(b acl.Binding) string {
	h := sha256.New()
	var n [8]byte
	for _, f := range []string{b.Resource.Name, b.Principal, b.Host} {
		binary.BigEndian.PutUint64(n[:], uint64(len(f)))
		h.Write(n[:])
		h.Write([]byte(f))
	}
	h.Write([]byte{byte(b.Resource.Type), byte(b.Resource.Pattern), byte(b.Op), byte(b.Permission)})
	return hex.EncodeToString(h.Sum(nil))
}

// ACLs implements acl.Store: the counter, then one Query. A write
// landing between the two is in the bindings but not the counter read,
// so the next Refresh reads again: never a counter newer than the
// bindings.
func (s *Store) ACLs(ctx context.Context) ([]acl.Binding, int64, error) {
	v, err := s.ACLVersion(ctx)
	if err != nil {
		return nil, 0, err
	}
	var out []acl.Binding
	err = s.query(ctx, pkACL, func(m map[string]types.AttributeValue) error {
		it := item{what: fmt.Sprintf("ACL item %q", sortKeyOf(m)), m: m}
		b := acl.Binding{
			Resource:  auth.Resource{Type: auth.ResourceType(it.num(attrRT)), Name: it.str(attrName), Pattern: auth.PatternType(it.num(attrPT))},
			Principal: it.str(attrPrinc), Host: it.str(attrHost),
			Op: auth.Operation(it.num(attrOp)), Permission: acl.Permission(it.num(attrPerm)),
		}
		if it.err != nil {
			return it.err
		}
		out = append(out, b)
		return nil
	})
	if err != nil {
		return nil, 0, fmt.Errorf("read ACLs: %w", err)
	}
	return out, v, nil
}

// ACLVersion implements acl.Store: one GetItem.
func (s *Store) ACLVersion(ctx context.Context) (int64, error) {
	m, err := s.get(ctx, aclVersionKey())
	if err != nil {
		return 0, fmt.Errorf("read ACL version: %w", err)
	}
	if m == nil {
		return 0, nil
	}
	it := item{what: "ACL version", m: m}
	v := it.num("version")
	return v, it.err
}

// PutACLs implements acl.Store: a Put per binding (an existing one is
// rewritten unchanged), in transactions of at most aclsPerTransaction
// with the two counter bumps.
func (s *Store) PutACLs(ctx context.Context, bs []acl.Binding) error {
	return s.aclWrites(ctx, "put ACLs", bs, func(b acl.Binding, sk string) types.TransactWriteItem {
		return types.TransactWriteItem{Put: &types.Put{TableName: &s.table, Item: map[string]types.AttributeValue{
			AttrPK: str(pkACL), AttrSK: str(sk),
			attrRT: num(int64(b.Resource.Type)), attrName: str(b.Resource.Name), attrPT: num(int64(b.Resource.Pattern)),
			attrPrinc: str(b.Principal), attrHost: str(b.Host), attrOp: num(int64(b.Op)), attrPerm: num(int64(b.Permission)),
		}}}
	})
}

// DeleteACLs implements acl.Store: a Delete per binding (an absent one
// is no failure), batched as PutACLs.
func (s *Store) DeleteACLs(ctx context.Context, bs []acl.Binding) error {
	return s.aclWrites(ctx, "delete ACLs", bs, func(_ acl.Binding, sk string) types.TransactWriteItem {
		return types.TransactWriteItem{Delete: &types.Delete{TableName: &s.table, Key: key(pkACL, sk)}}
	})
}

// aclWrites runs one write per distinct binding (a transaction may not
// touch an item twice), with the counter bumps, chunk by chunk.
func (s *Store) aclWrites(ctx context.Context, what string, bs []acl.Binding, write func(acl.Binding, string) types.TransactWriteItem) error {
	seen := make(map[string]bool, len(bs))
	var items []types.TransactWriteItem
	flush := func() error {
		if len(items) == 0 {
			return nil
		}
		items = append(items, s.bumpACLVersion(), s.bumpVersion())
		err := s.transact(ctx, what, items)
		items = items[:0]
		return err
	}
	for _, b := range bs {
		sk := aclSK(b)
		if seen[sk] {
			continue
		}
		seen[sk] = true
		items = append(items, write(b, sk))
		if len(items) == aclsPerTransaction {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	return flush()
}

func (s *Store) bumpACLVersion() types.TransactWriteItem {
	return types.TransactWriteItem{Update: &types.Update{
		TableName:                 &s.table,
		Key:                       aclVersionKey(),
		UpdateExpression:          aws.String("ADD #v :one"),
		ExpressionAttributeNames:  map[string]string{"#v": "version"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":one": num(1)},
	}}
}

package metastore

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/kafki/kafki/brokerd/cluster"
	"github.com/kafki/kafki/brokerd/meta"
)

// Attributes of partition-state and broker items.
const (
	attrReplicas      = "replicas"       // L of N
	attrISR           = "isr"            // L of N
	attrLeader        = "leader"         // N, -1: offline
	attrLeaderEpoch   = "leader_epoch"   // N
	attrLeaderSession = "leader_session" // N
	attrVersion       = "version"        // N: compare-and-set
	attrAddr          = "addr"           // S
	attrRack          = "rack"           // S
	// attrEndpoints: listener name → "PROTOCOL://host:port", every
	// listener's advertised endpoint; absent in registrations written
	// before listeners had names (then addr serves every listener).
	attrEndpoints    = "endpoints"     // M of S
	attrSessionEpoch = "session_epoch" // N
	attrFenced       = "fenced"        // BOOL
)

// FencedBrokerTTL is how long a fenced broker's registration stays in
// the table when the broker never registers again (a decommissioned or
// replaced host): DynamoDB's TTL removes it after that.
const FencedBrokerTTL = 7 * 24 * time.Hour

// maxPerTransaction is DynamoDB's limit of items in one transaction.
const maxPerTransaction = 100

// cachedTopic is the partition states of one topic as a Read found them,
// at the topic's change counter; parts is never mutated.
type cachedTopic struct {
	id      meta.TopicID
	changes int64
	parts   []cluster.PartitionState
}

// MetadataVersion implements cluster.Store.
func (s *Store) MetadataVersion(ctx context.Context) (int64, error) {
	m, err := s.get(ctx, versionKey())
	if err != nil {
		return 0, fmt.Errorf("read metadata version: %w", err)
	}
	if m == nil {
		return 0, nil
	}
	it := item{what: "metadata version", m: m}
	v := it.num("version")
	return v, it.err
}

// readAttempts bounds how often Read reads again because the metadata
// moved during a read.
const readAttempts = 4

// Read implements cluster.Store. Its cost is O(topics + brokers + the
// partitions of the topics that changed since this store's last read),
// not O(table): one Query of the topic items, one of the brokers, and one
// Query of partition states per topic whose change counter moved (every
// write of a topic or of one of its partitions bumps it in the same
// transaction); the other topics' partitions come from the cache.
//
// Queries are not a transaction: items read at different moments can
// mix versions. Every metadata write bumps the metadata version in its
// own transaction, so when the version reads the same before and after
// the queries no write landed in between and the snapshot is a
// consistent cut; otherwise Read reads again, up to readAttempts times,
// and then returns the last read, which still holds every change up to
// its Version (later polls see the version moved and read again). A
// cached entry is never older than the counter it is filed under:
// partitions are queried after the counter was read, and the counter
// moves with every partition write.
func (s *Store) Read(ctx context.Context) (cluster.Snapshot, error) {
	v, err := s.MetadataVersion(ctx)
	if err != nil {
		return cluster.Snapshot{}, err
	}
	for attempt := 1; ; attempt++ {
		snap, err := s.read(ctx, v)
		if err != nil {
			return snap, err
		}
		if s.afterRead != nil {
			s.afterRead()
		}
		after, err := s.MetadataVersion(ctx)
		if err != nil {
			return snap, err
		}
		if after == v || attempt == readAttempts {
			return snap, nil
		}
		v = after
	}
}

// read reads the metadata once, reusing cached partitions of the topics
// that did not change.
func (s *Store) read(ctx context.Context, version int64) (cluster.Snapshot, error) {
	snap := cluster.Snapshot{Version: version}
	rows, err := s.topicRows(ctx)
	if err != nil {
		return snap, fmt.Errorf("read topics: %w", err)
	}
	next := make(map[string]cachedTopic, len(rows))
	for _, r := range rows {
		if r.deleted {
			snap.Deleted = append(snap.Deleted, r.topic.Name)
		} else {
			snap.Topics = append(snap.Topics, r.topic)
		}
		s.mu.Lock()
		c, ok := s.topics[r.topic.Name]
		s.mu.Unlock()
		if !ok || c.id != r.topic.ID || c.changes != r.changes {
			parts, err := s.partitionsOf(ctx, r.topic.Name)
			if err != nil {
				return snap, err
			}
			c = cachedTopic{id: r.topic.ID, changes: r.changes, parts: parts}
		}
		next[r.topic.Name] = c
		for _, p := range c.parts {
			snap.Partitions = append(snap.Partitions, p.Clone())
		}
	}
	s.mu.Lock()
	s.topics = next
	s.mu.Unlock()
	if snap.Brokers, err = s.brokers(ctx); err != nil {
		return snap, err
	}
	return snap, nil
}

// partitionsOf reads one topic's partition states, in partition order.
func (s *Store) partitionsOf(ctx context.Context, topic string) ([]cluster.PartitionState, error) {
	var out []cluster.PartitionState
	err := s.query(ctx, partitionPK(topic), func(m map[string]types.AttributeValue) error {
		st, err := parsePartition(topic, m)
		if err != nil {
			return err
		}
		out = append(out, st)
		return nil
	})
	return out, err
}

func (s *Store) brokers(ctx context.Context) ([]cluster.BrokerInfo, error) {
	var out []cluster.BrokerInfo
	err := s.query(ctx, pkBroker, func(m map[string]types.AttributeValue) error {
		b, err := parseBroker(m)
		if err != nil {
			return err
		}
		out = append(out, b)
		return nil
	})
	return out, err
}

func parsePartition(topic string, m map[string]types.AttributeValue) (cluster.PartitionState, error) {
	sk := sortKeyOf(m)
	st := cluster.PartitionState{Topic: topic}
	it := item{what: fmt.Sprintf("partition item %s/%s", topic, sk), m: m}
	p, err := unpad(sk)
	if err != nil {
		return st, fmt.Errorf("%s: %w", it.what, err)
	}
	st.Partition = p
	st.Replicas = it.int32s(attrReplicas)
	st.ISR = it.int32s(attrISR)
	leader := it.num(attrLeader)
	epoch := it.num(attrLeaderEpoch)
	st.Version = it.num(attrVersion)
	st.LeaderSession, _ = it.optNum(attrLeaderSession)
	if it.err != nil {
		return st, it.err
	}
	if leader < -1 || leader > 1<<31-1 || epoch < 0 || epoch > 1<<31-1 {
		return st, fmt.Errorf("%s: leader %d or epoch %d out of range", it.what, leader, epoch)
	}
	st.Leader, st.LeaderEpoch = int32(leader), int32(epoch)
	if err := st.Validate(); err != nil {
		return st, fmt.Errorf("stored state: %w", err)
	}
	return st, nil
}

func parseBroker(m map[string]types.AttributeValue) (cluster.BrokerInfo, error) {
	sk := sortKeyOf(m)
	it := item{what: fmt.Sprintf("broker item %q", sk), m: m}
	var b cluster.BrokerInfo
	id, err := unpad(sk)
	if err != nil {
		return b, fmt.Errorf("%s: %w", it.what, err)
	}
	b.ID = id
	b.Addr = it.str(attrAddr)
	b.Rack = it.optStr(attrRack)
	b.SessionEpoch = it.num(attrSessionEpoch)
	b.Fenced = it.optBool(attrFenced)
	if it.err == nil && b.Addr == "" {
		it.fail(attrAddr, "is empty")
	}
	for name, v := range it.strMap(attrEndpoints) {
		e, err := parseEndpoint(name, v)
		if err != nil {
			it.fail(attrEndpoints+"."+name, err.Error())
			continue
		}
		b.Endpoints = append(b.Endpoints, e)
	}
	slices.SortFunc(b.Endpoints, func(x, y cluster.Endpoint) int { return strings.Compare(x.Listener, y.Listener) })
	return b, it.err
}

// formatEndpoint is an endpoint's value in attrEndpoints.
func formatEndpoint(e cluster.Endpoint) string { return e.Protocol + "://" + e.Addr() }

func parseEndpoint(name, v string) (cluster.Endpoint, error) {
	proto, addr, ok := strings.Cut(v, "://")
	if !ok || proto == "" {
		return cluster.Endpoint{}, fmt.Errorf("is %q, not PROTOCOL://host:port", v)
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return cluster.Endpoint{}, fmt.Errorf("is %q: %v", v, err)
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return cluster.Endpoint{}, fmt.Errorf("is %q: port %v", v, err)
	}
	return cluster.Endpoint{Listener: name, Protocol: proto, Host: host, Port: int32(p)}, nil
}

// versionCondition makes a write conditional on the item's version
// (0: the item must not exist).
func versionCondition(expectVersion int64) (*string, map[string]string, map[string]types.AttributeValue) {
	if expectVersion == 0 {
		return aws.String("attribute_not_exists(#pk)"), map[string]string{"#pk": AttrPK}, nil
	}
	return aws.String("#v = :v"), map[string]string{"#v": attrVersion}, map[string]types.AttributeValue{":v": num(expectVersion)}
}

func (s *Store) partitionWrite(pw cluster.PartitionWrite) (types.TransactWriteItem, error) {
	next := pw.Next
	if err := next.Validate(); err != nil {
		return types.TransactWriteItem{}, err
	}
	next.Version = pw.ExpectVersion + 1
	it := partitionKey(next.Topic, next.Partition)
	it[attrReplicas] = nums(next.Replicas)
	it[attrISR] = nums(next.ISR)
	it[attrLeader] = num(int64(next.Leader))
	it[attrLeaderEpoch] = num(int64(next.LeaderEpoch))
	it[attrLeaderSession] = num(next.LeaderSession)
	it[attrVersion] = num(next.Version)
	cond, names, values := versionCondition(pw.ExpectVersion)
	return types.TransactWriteItem{Put: &types.Put{
		TableName: &s.table, Item: it,
		ConditionExpression: cond, ExpressionAttributeNames: names, ExpressionAttributeValues: values,
	}}, nil
}

// PutISR implements cluster.Store: the leader's write, fenced by its
// session lease; a leader deposed meanwhile (new version) or one whose
// session was taken over (new lease epoch) cannot write.
func (s *Store) PutISR(ctx context.Context, sessionEpoch int64, next cluster.PartitionState, expectVersion int64) error {
	if expectVersion == 0 {
		return fmt.Errorf("ISR change of %s-%d without a version", next.Topic, next.Partition)
	}
	w, err := s.partitionWrite(cluster.PartitionWrite{Next: next, ExpectVersion: expectVersion})
	if err != nil {
		return err
	}
	return s.fenced(ctx, cluster.BrokerLease(next.Leader), sessionEpoch, w, s.touchTopic(next.Topic))
}

// PutPartitions implements cluster.Store: as many partitions per
// transaction as fit beside the lease check, the version bump and one
// change-counter bump per topic they belong to (placing a large topic,
// or electing new leaders for every partition a dead broker led, costs a
// few requests, not one per partition). Each transaction is
// all-or-nothing; on lease.ErrConflict earlier transactions may have been
// applied, and the caller re-reads.
func (s *Store) PutPartitions(ctx context.Context, controllerEpoch int64, writes []cluster.PartitionWrite) error {
	for len(writes) > 0 {
		var items []types.TransactWriteItem
		touched := map[string]bool{}
		n := 0
		for ; n < len(writes); n++ {
			w := writes[n]
			extra := 1
			if !touched[w.Next.Topic] {
				extra = 2
			}
			if len(items)+extra+2 > maxPerTransaction {
				break
			}
			item, err := s.partitionWrite(w)
			if err != nil {
				return err
			}
			items = append(items, item)
			if !touched[w.Next.Topic] {
				touched[w.Next.Topic] = true
				items = append(items, s.touchTopic(w.Next.Topic))
			}
		}
		if err := s.fenced(ctx, cluster.ControllerLease, controllerEpoch, items...); err != nil {
			return err
		}
		writes = writes[n:]
	}
	return nil
}

// DeletePartition implements cluster.Store, conditional on the version
// read.
func (s *Store) DeletePartition(ctx context.Context, controllerEpoch int64, topic string, p int32, expectVersion int64) error {
	cond, names, values := versionCondition(expectVersion)
	return s.fenced(ctx, cluster.ControllerLease, controllerEpoch, types.TransactWriteItem{Delete: &types.Delete{
		TableName: &s.table, Key: partitionKey(topic, p),
		ConditionExpression: cond, ExpressionAttributeNames: names, ExpressionAttributeValues: values,
	}}, s.touchTopic(topic))
}

// DropTopic implements cluster.Store: the tombstone of a deleted topic
// goes, conditional on it still being one (a topic re-created under the
// name stays).
func (s *Store) DropTopic(ctx context.Context, controllerEpoch int64, topic string) error {
	return s.fenced(ctx, cluster.ControllerLease, controllerEpoch, types.TransactWriteItem{Delete: &types.Delete{
		TableName: &s.table, Key: topicKey(topic),
		ConditionExpression:       aws.String("#del = :true"),
		ExpressionAttributeNames:  map[string]string{"#del": attrDeleted},
		ExpressionAttributeValues: map[string]types.AttributeValue{":true": boolean(true)},
	}})
}

// Announce implements cluster.Store.
func (s *Store) Announce(ctx context.Context, controllerEpoch int64) error {
	return s.fenced(ctx, cluster.ControllerLease, controllerEpoch)
}

// Register implements cluster.Store. The registration replaces any
// earlier one of the broker (and clears its expiry).
func (s *Store) Register(ctx context.Context, b cluster.BrokerInfo) error {
	it := brokerKey(b.ID)
	it[attrAddr] = str(b.Addr)
	it[attrRack] = str(b.Rack)
	if len(b.Endpoints) > 0 {
		eps := make(map[string]types.AttributeValue, len(b.Endpoints))
		for _, e := range b.Endpoints {
			eps[e.Listener] = str(formatEndpoint(e))
		}
		it[attrEndpoints] = &types.AttributeValueMemberM{Value: eps}
	}
	it[attrSessionEpoch] = num(b.SessionEpoch)
	it[attrFenced] = boolean(false)
	return s.fenced(ctx, cluster.BrokerLease(b.ID), b.SessionEpoch, types.TransactWriteItem{Put: &types.Put{TableName: &s.table, Item: it}})
}

// FenceBroker implements cluster.Store: conditional on the registration
// still being the one of sessionEpoch (a newer registration wins). The
// item expires after FencedBrokerTTL unless the broker registers again.
func (s *Store) FenceBroker(ctx context.Context, controllerEpoch int64, id int32, sessionEpoch int64) error {
	expires := s.now().Add(FencedBrokerTTL).Unix()
	return s.fenced(ctx, cluster.ControllerLease, controllerEpoch, types.TransactWriteItem{Update: &types.Update{
		TableName: &s.table, Key: brokerKey(id),
		UpdateExpression:          aws.String("SET #f = :t, #ttl = :exp"),
		ConditionExpression:       aws.String("#e = :e"),
		ExpressionAttributeNames:  map[string]string{"#f": attrFenced, "#e": attrSessionEpoch, "#ttl": AttrTTL},
		ExpressionAttributeValues: map[string]types.AttributeValue{":t": boolean(true), ":e": num(sessionEpoch), ":exp": num(expires)},
	}})
}

package cluster

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/kafki/kafki/brokerd/lease"
	"github.com/kafki/kafki/brokerd/meta"
)

// Item layout (table shared with package lease and meta; hash key "pk"):
//
//	partition#<topic>/<p>  replicas (L of N), leader (N), leader_epoch (N), leader_session (N), isr (L of N), version (N)
//	broker#<id>            addr (S), rack (S), session_epoch (N), fenced (BOOL)
//	metadata#version       (package meta) bumped with every write below, so
//	                       brokers poll one item, not every partition
//
// Every write is a transaction: the write itself, conditional on the
// version read (compare-and-set), a condition that the writer's lease is
// still at the epoch it acts under (lease.DynamoStore.Fenced), and the
// version bump. The controller writes under the controller lease; a
// partition leader changes its ISR under its own broker session lease and
// only while the stored leader and leader epoch are its own; a broker
// registers under its session lease.
const (
	partitionPrefix = "partition#"
	brokerPrefix    = "broker#"
	ControllerLease = "controller"
)

// BrokerLease is the name of broker id's session lease.
func BrokerLease(id int32) string { return "broker/" + strconv.Itoa(int(id)) }

// Fence names the lease, and its epoch, a write is made under.
type Fence struct {
	Lease string
	Epoch int64
}

// Store persists partition state and broker registrations in DynamoDB.
type Store struct {
	Leases *lease.DynamoStore // its Client and Table are used for everything

	// afterScan, when set (tests only), runs between Read's scan and its
	// second look at the metadata version.
	afterScan func()
}

func (s *Store) client() *dynamodb.Client { return s.Leases.Client }
func (s *Store) table() *string           { return &s.Leases.Table }

func partitionKey(topic string, p int32) string {
	return partitionPrefix + topic + "/" + strconv.Itoa(int(p))
}

func skey(k string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: k}}
}

func nums(v []int32) *types.AttributeValueMemberL {
	l := &types.AttributeValueMemberL{Value: []types.AttributeValue{}}
	for _, x := range v {
		l.Value = append(l.Value, &types.AttributeValueMemberN{Value: strconv.Itoa(int(x))})
	}
	return l
}

func num(v int64) *types.AttributeValueMemberN {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(v, 10)}
}

// versionCondition makes a write conditional on the item's version
// (0: the item must not exist).
func versionCondition(expectVersion int64) (*string, map[string]string, map[string]types.AttributeValue) {
	if expectVersion == 0 {
		return aws.String("attribute_not_exists(pk)"), nil, nil
	}
	return aws.String("#v = :v"), map[string]string{"#v": "version"}, map[string]types.AttributeValue{":v": num(expectVersion)}
}

func (s *Store) fenced(ctx context.Context, f Fence, w types.TransactWriteItem) error {
	return s.Leases.Fenced(ctx, f.Lease, f.Epoch, w, meta.BumpVersion(s.Leases.Table))
}

// PutPartition writes next (with Version = expectVersion+1) if the stored
// version is still expectVersion (0: the item must not exist), under the
// controller lease at controllerEpoch. lease.ErrConflict when either
// condition fails.
func (s *Store) PutPartition(ctx context.Context, controllerEpoch int64, next PartitionState, expectVersion int64) error {
	return s.putPartition(ctx, Fence{ControllerLease, controllerEpoch}, next, expectVersion)
}

// PutISR writes an ISR change made by the partition's leader (next.Leader)
// under its broker session lease at sessionEpoch, conditional on the
// version read: a leader deposed meanwhile (new version) or one whose
// session was taken over (new lease epoch) cannot write.
func (s *Store) PutISR(ctx context.Context, sessionEpoch int64, next PartitionState, expectVersion int64) error {
	if expectVersion == 0 {
		return fmt.Errorf("ISR change of %s-%d without a version", next.Topic, next.Partition)
	}
	return s.putPartition(ctx, Fence{BrokerLease(next.Leader), sessionEpoch}, next, expectVersion)
}

func (s *Store) putPartition(ctx context.Context, f Fence, next PartitionState, expectVersion int64) error {
	w, err := s.partitionWrite(PartitionWrite{Next: next, ExpectVersion: expectVersion})
	if err != nil {
		return err
	}
	return s.fenced(ctx, f, w)
}

func (s *Store) partitionWrite(pw PartitionWrite) (types.TransactWriteItem, error) {
	next := pw.Next
	if err := next.Validate(); err != nil {
		return types.TransactWriteItem{}, err
	}
	next.Version = pw.ExpectVersion + 1
	item := skey(partitionKey(next.Topic, next.Partition))
	item["replicas"] = nums(next.Replicas)
	item["isr"] = nums(next.ISR)
	item["leader"] = num(int64(next.Leader))
	item["leader_epoch"] = num(int64(next.LeaderEpoch))
	item["leader_session"] = num(next.LeaderSession)
	item["version"] = num(next.Version)
	cond, names, values := versionCondition(pw.ExpectVersion)
	return types.TransactWriteItem{Put: &types.Put{
		TableName: s.table(), Item: item,
		ConditionExpression: cond, ExpressionAttributeNames: names, ExpressionAttributeValues: values,
	}}, nil
}

// PartitionWrite is one compare-and-set of PutPartitions.
type PartitionWrite struct {
	Next          PartitionState
	ExpectVersion int64 // 0: the item must not exist
}

// maxPerTransaction keeps a transaction within DynamoDB's 100 items: the
// lease condition and the version bump take two.
const maxPerTransaction = 98

// PutPartitions writes many partition states under the controller lease,
// up to 98 per transaction (placing a large topic, or electing new leaders
// for every partition a dead broker led, costs a few requests, not one
// per partition). Each transaction is all-or-nothing; on
// lease.ErrConflict some earlier transactions may have been applied, and
// the caller re-reads.
func (s *Store) PutPartitions(ctx context.Context, controllerEpoch int64, writes []PartitionWrite) error {
	for len(writes) > 0 {
		n := min(len(writes), maxPerTransaction)
		items := make([]types.TransactWriteItem, 0, n+1)
		for _, w := range writes[:n] {
			item, err := s.partitionWrite(w)
			if err != nil {
				return err
			}
			items = append(items, item)
		}
		items = append(items, meta.BumpVersion(s.Leases.Table))
		if err := s.Leases.Fenced(ctx, ControllerLease, controllerEpoch, items...); err != nil {
			return err
		}
		writes = writes[n:]
	}
	return nil
}

// DeletePartition removes a partition's state (its topic was deleted),
// under the controller lease, conditional on the version read.
func (s *Store) DeletePartition(ctx context.Context, controllerEpoch int64, topic string, p int32, expectVersion int64) error {
	cond, names, values := versionCondition(expectVersion)
	return s.fenced(ctx, Fence{ControllerLease, controllerEpoch}, types.TransactWriteItem{Delete: &types.Delete{
		TableName: s.table(), Key: skey(partitionKey(topic, p)),
		ConditionExpression: cond, ExpressionAttributeNames: names, ExpressionAttributeValues: values,
	}})
}

// Announce bumps the metadata version under the controller lease, so
// brokers re-read the metadata (a new controller announces itself).
func (s *Store) Announce(ctx context.Context, controllerEpoch int64) error {
	return s.Leases.Fenced(ctx, ControllerLease, controllerEpoch, meta.BumpVersion(s.Leases.Table))
}

// BrokerInfo is a broker's registration.
type BrokerInfo struct {
	ID   int32
	Addr string // host:port clients and peers connect to
	Rack string
	// SessionEpoch is the epoch of the session lease it registered under.
	SessionEpoch int64
	// Fenced: the controller found its session lapsed; it leads nothing
	// and is not listed to clients until it registers again.
	Fenced bool
}

// Register writes b's registration under its own session lease at
// b.SessionEpoch.
func (s *Store) Register(ctx context.Context, b BrokerInfo) error {
	item := skey(brokerPrefix + strconv.Itoa(int(b.ID)))
	item["addr"] = &types.AttributeValueMemberS{Value: b.Addr}
	item["rack"] = &types.AttributeValueMemberS{Value: b.Rack}
	item["session_epoch"] = num(b.SessionEpoch)
	item["fenced"] = &types.AttributeValueMemberBOOL{Value: false}
	return s.fenced(ctx, Fence{BrokerLease(b.ID), b.SessionEpoch}, types.TransactWriteItem{Put: &types.Put{TableName: s.table(), Item: item}})
}

// FenceBroker marks broker id fenced, under the controller lease, if it is
// still registered with sessionEpoch (a newer registration wins).
func (s *Store) FenceBroker(ctx context.Context, controllerEpoch int64, id int32, sessionEpoch int64) error {
	return s.fenced(ctx, Fence{ControllerLease, controllerEpoch}, types.TransactWriteItem{Update: &types.Update{
		TableName: s.table(), Key: skey(brokerPrefix + strconv.Itoa(int(id))),
		UpdateExpression:          aws.String("SET #f = :t"),
		ConditionExpression:       aws.String("#e = :e"),
		ExpressionAttributeNames:  map[string]string{"#f": "fenced", "#e": "session_epoch"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":t": &types.AttributeValueMemberBOOL{Value: true}, ":e": num(sessionEpoch)},
	}})
}

// MetadataVersion is the counter bumped by every metadata write; brokers
// re-read the snapshot only when it moved.
func (s *Store) MetadataVersion(ctx context.Context) (int64, error) {
	out, err := s.client().GetItem(ctx, &dynamodb.GetItemInput{
		TableName: s.table(), ConsistentRead: aws.Bool(true), Key: skey(meta.VersionKey),
	})
	if err != nil {
		return 0, fmt.Errorf("read metadata version: %w", err)
	}
	v, ok := out.Item["version"].(*types.AttributeValueMemberN)
	if !ok {
		return 0, nil
	}
	return strconv.ParseInt(v.Value, 10, 64)
}

// Snapshot is the cluster metadata as one scan read it.
type Snapshot struct {
	// Version is the metadata version read before the scan: the snapshot
	// holds every change up to it, and no later one unless the version
	// kept moving through every scan Read tried.
	Version    int64
	Topics     []meta.Topic
	Partitions []PartitionState
	Brokers    []BrokerInfo // sorted by id
}

// readAttempts bounds how often Read rescans because the metadata moved
// during its scan.
const readAttempts = 4

// Read returns the whole metadata in one paginated scan: its cost grows
// with the number of partitions, which is why brokers call it only when
// MetadataVersion moved.
//
// A scan is not a transaction: pages read at different moments can mix
// item versions (a topic's partitions from before a change with its topic
// item from after it). Every metadata write bumps the version in its own
// transaction, so when the version reads the same before and after the
// scan no write landed in between and the snapshot is a consistent cut;
// otherwise Read scans again, up to readAttempts times, and then returns
// the last scan, which still holds every change up to its Version (later
// polls see the version moved and read again).
func (s *Store) Read(ctx context.Context) (Snapshot, error) {
	v, err := s.MetadataVersion(ctx)
	if err != nil {
		return Snapshot{}, err
	}
	for attempt := 1; ; attempt++ {
		snap, err := s.scan(ctx, v)
		if err != nil {
			return snap, err
		}
		if s.afterScan != nil {
			s.afterScan()
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

// scan reads every metadata item once.
func (s *Store) scan(ctx context.Context, version int64) (Snapshot, error) {
	snap := Snapshot{Version: version}
	p := dynamodb.NewScanPaginator(s.client(), &dynamodb.ScanInput{TableName: s.table(), ConsistentRead: aws.Bool(true)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return snap, fmt.Errorf("scan metadata: %w", err)
		}
		for _, item := range page.Items {
			pk, _ := item["pk"].(*types.AttributeValueMemberS)
			if pk == nil {
				continue
			}
			switch {
			case strings.HasPrefix(pk.Value, partitionPrefix):
				st, err := parsePartition(item)
				if err != nil {
					return snap, err
				}
				snap.Partitions = append(snap.Partitions, st)
			case strings.HasPrefix(pk.Value, brokerPrefix):
				b, err := parseBroker(item)
				if err != nil {
					return snap, err
				}
				snap.Brokers = append(snap.Brokers, b)
			case meta.IsTopicItem(item):
				t, err := meta.ParseTopicItem(item)
				if err != nil {
					return snap, err
				}
				snap.Topics = append(snap.Topics, t)
			}
		}
	}
	sort.Slice(snap.Topics, func(i, j int) bool { return snap.Topics[i].Name < snap.Topics[j].Name })
	sort.Slice(snap.Brokers, func(i, j int) bool { return snap.Brokers[i].ID < snap.Brokers[j].ID })
	sort.Slice(snap.Partitions, func(i, j int) bool {
		a, b := snap.Partitions[i], snap.Partitions[j]
		return a.Topic < b.Topic || a.Topic == b.Topic && a.Partition < b.Partition
	})
	return snap, nil
}

func parseBroker(item map[string]types.AttributeValue) (BrokerInfo, error) {
	var b BrokerInfo
	pk := item["pk"].(*types.AttributeValueMemberS).Value
	id, err := strconv.ParseInt(strings.TrimPrefix(pk, brokerPrefix), 10, 32)
	if err != nil || id < 0 {
		return b, fmt.Errorf("broker item %q: bad id", pk)
	}
	b.ID = int32(id)
	addr, ok := item["addr"].(*types.AttributeValueMemberS)
	if !ok || addr.Value == "" {
		return b, fmt.Errorf("broker item %q: addr missing", pk)
	}
	b.Addr = addr.Value
	if r, ok := item["rack"].(*types.AttributeValueMemberS); ok {
		b.Rack = r.Value
	}
	e, ok := item["session_epoch"].(*types.AttributeValueMemberN)
	if !ok {
		return b, fmt.Errorf("broker item %q: session_epoch missing", pk)
	}
	if b.SessionEpoch, err = strconv.ParseInt(e.Value, 10, 64); err != nil {
		return b, fmt.Errorf("broker item %q: bad session_epoch", pk)
	}
	if f, ok := item["fenced"].(*types.AttributeValueMemberBOOL); ok {
		b.Fenced = f.Value
	}
	return b, nil
}

// Partitions returns every partition state.
func (s *Store) Partitions(ctx context.Context) ([]PartitionState, error) {
	var out []PartitionState
	p := dynamodb.NewScanPaginator(s.client(), &dynamodb.ScanInput{
		TableName:                 s.table(),
		ConsistentRead:            aws.Bool(true),
		FilterExpression:          aws.String("begins_with(pk, :p)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":p": &types.AttributeValueMemberS{Value: partitionPrefix}},
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("scan partitions: %w", err)
		}
		for _, item := range page.Items {
			st, err := parsePartition(item)
			if err != nil {
				return nil, err
			}
			out = append(out, st)
		}
	}
	return out, nil
}

func parsePartition(item map[string]types.AttributeValue) (PartitionState, error) {
	var st PartitionState
	pk, _ := item["pk"].(*types.AttributeValueMemberS)
	if pk == nil {
		return st, errors.New("partition item without key")
	}
	rest := strings.TrimPrefix(pk.Value, partitionPrefix)
	i := strings.LastIndexByte(rest, '/')
	if i <= 0 {
		return st, fmt.Errorf("partition item %q: bad key", pk.Value)
	}
	p, err := strconv.ParseInt(rest[i+1:], 10, 32)
	if err != nil {
		return st, fmt.Errorf("partition item %q: bad partition", pk.Value)
	}
	st.Topic, st.Partition = rest[:i], int32(p)
	getNum := func(k string) (int64, error) {
		v, ok := item[k].(*types.AttributeValueMemberN)
		if !ok {
			return 0, fmt.Errorf("partition item %q: %s missing", pk.Value, k)
		}
		return strconv.ParseInt(v.Value, 10, 64)
	}
	getList := func(k string) ([]int32, error) {
		l, ok := item[k].(*types.AttributeValueMemberL)
		if !ok {
			return nil, fmt.Errorf("partition item %q: %s missing", pk.Value, k)
		}
		out := []int32{}
		for _, e := range l.Value {
			n, ok := e.(*types.AttributeValueMemberN)
			if !ok {
				return nil, fmt.Errorf("partition item %q: %s holds a non-number", pk.Value, k)
			}
			x, err := strconv.ParseInt(n.Value, 10, 32)
			if err != nil {
				return nil, err
			}
			out = append(out, int32(x))
		}
		return out, nil
	}
	if st.Replicas, err = getList("replicas"); err != nil {
		return st, err
	}
	if st.ISR, err = getList("isr"); err != nil {
		return st, err
	}
	leader, err := getNum("leader")
	if err != nil {
		return st, err
	}
	epoch, err := getNum("leader_epoch")
	if err != nil {
		return st, err
	}
	if st.Version, err = getNum("version"); err != nil {
		return st, err
	}
	st.Leader, st.LeaderEpoch = int32(leader), int32(epoch)
	if _, ok := item["leader_session"]; ok {
		if st.LeaderSession, err = getNum("leader_session"); err != nil {
			return st, err
		}
	}
	if err := st.Validate(); err != nil {
		return st, fmt.Errorf("stored state: %w", err)
	}
	return st, nil
}

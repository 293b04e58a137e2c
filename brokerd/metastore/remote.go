package metastore

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/kafki/kafki/tiering/remote"
)

// dynMaxAttempts bounds the optimistic retries of one remote write or
// List; each attempt that fails did so because another write landed in
// between, so running out means sustained contention on a partition.
const dynMaxAttempts = 64

// Remote is the remote.Store of a cluster: remote-segment metadata in the
// cluster's DynamoDB table, so every broker (and a new partition leader)
// sees exactly what any leader committed, and the leader-epoch fence holds
// across brokers. It keeps FileStore's contract (see the package doc);
// the table is the single source of truth.
//
// # Design
//
// One item per partition and one per segment (a partition can have
// thousands of segments; one item holding them all would outgrow
// DynamoDB's 400 KB item limit). The partition item carries:
//
//   - fence: the highest leader epoch any successful write carried;
//   - ver: a counter every successful write increments;
//   - fend: the greatest last offset among the COPY_FINISHED segments,
//     which is all the remote.ErrNoProgress rule needs.
//
// Every write is one TransactWriteItems of an update of the partition
// item (conditional on fence <= epoch; it raises fence to epoch and bumps
// ver) and, except for Fence, a write of the segment item (conditional on
// the segment's JSON being exactly what was read, or on its absence for
// Create). Writes are planned against a consistent snapshot of the two
// items (TransactGetItems), so errors are classified in FileStore's order
// (stale epoch, not found or exists, state conflict, no progress) from
// one point in time; when a condition fails, someone wrote in between,
// and the write is planned again from a fresh snapshot.
//
// Why fend and not a read of the finished segments: a partition can hold
// thousands of segments, and fend makes a commit O(1) and still exact under
// concurrent writers: the commit's transaction requires fend < last (or no
// fend) and sets fend = last, so of two commits of the same range only
// the first lands and the second, replanned, sees fend >= last. fend must
// stay the maximum over the finished segments (FileStore lets a range be
// re-committed once the segment that held it left COPY_FINISHED, e.g.
// after retention or an audit removed the newest segment), so a segment
// leaving COPY_FINISHED is conditional on fend > its last offset (it is
// not the newest; fend is unchanged), or, when it is the newest, fend is
// recomputed from a Query of the segments and the transaction is
// conditional on ver being the one read before the Query, so no write
// slipped in between. That Query happens only when the newest finished
// segment goes.
//
// # Reads and their cost
//
// List is one Query of the partition's segment items (their own
// partition key). Readers call List on every remote fetch, so a Remote keeps the
// last listing of each partition with the ver it was read at, and serves
// it again after one consistent GetItem of the partition item shows ver
// unchanged. That stays correct when other brokers write, since every
// write bumps ver; a listing is cached only if ver was the same before
// and after its Query, i.e. it is a snapshot. Partitions is one Query
// of the remote partition items (for tools and audits).
type Remote struct {
	tableRef
	now func() time.Time

	mu    sync.Mutex
	lists map[remote.TopicPartition]cachedList // guarded by mu
}

// cachedList is a listing of a partition at version ver; segs is never
// mutated (List hands out copies).
type cachedList struct {
	ver  int64
	segs []remote.Segment
}

var _ remote.Store = (*Remote)(nil)

// NewRemote returns the remote-segment store on an existing metadata
// table (see EnsureTable). now stamps CreatedAt; nil means time.Now.
func NewRemote(client *dynamodb.Client, table string, now func() time.Time) *Remote {
	if now == nil {
		now = time.Now
	}
	return &Remote{tableRef: tableRef{client: client, table: table}, now: now, lists: map[remote.TopicPartition]cachedList{}}
}

// remotePartKey is the key of tp's remote partition item.
func remotePartKey(tp remote.TopicPartition) map[string]types.AttributeValue {
	return key(pkRemote, remotePartSK(tp.Topic, tp.Partition))
}

// segmentKey is the key of segment id of tp.
func segmentKey(tp remote.TopicPartition, id string) map[string]types.AttributeValue {
	return key(segmentPK(tp.Topic, tp.Partition), id)
}

// partState is a partition item as read; exists is false before the
// partition's first write (fence -1, like FileStore).
type partState struct {
	exists  bool
	fence   int32
	ver     int64
	fend    int64
	hasFend bool
}

// segState is a segment item as read: raw is the stored JSON, which
// conditional writes compare against.
type segState struct {
	exists bool
	raw    string
	seg    remote.Segment
}

func parsePart(tp remote.TopicPartition, m map[string]types.AttributeValue) (partState, error) {
	if m == nil {
		return partState{fence: -1}, nil
	}
	it := item{what: fmt.Sprintf("remote: %v metadata", tp), m: m}
	p := partState{exists: true}
	fence := it.num("fence")
	p.fence = int32(fence)
	p.ver, _ = it.optNum("ver")
	p.fend, p.hasFend = it.optNum("fend")
	if it.err != nil {
		return partState{}, fmt.Errorf("%w: %w", remote.ErrInvalid, it.err)
	}
	return p, nil
}

func parseSeg(item map[string]types.AttributeValue) (segState, error) {
	if item == nil {
		return segState{}, nil
	}
	pk, _ := item[AttrPK].(*types.AttributeValueMemberS)
	raw, ok := item["seg"].(*types.AttributeValueMemberS)
	if !ok || pk == nil {
		return segState{}, fmt.Errorf("%w: segment item without seg", remote.ErrInvalid)
	}
	var seg remote.Segment
	if err := json.Unmarshal([]byte(raw.Value), &seg); err != nil {
		return segState{}, fmt.Errorf("%w: %s: %v", remote.ErrInvalid, pk.Value, err)
	}
	if err := seg.Validate(); err != nil {
		return segState{}, fmt.Errorf("remote: %s: %w", pk.Value, err)
	}
	if pk.Value != segmentPK(seg.Topic, seg.Partition) || sortKeyOf(item) != seg.ID {
		return segState{}, fmt.Errorf("%w: item %s holds segment %v %s", remote.ErrInvalid, pk.Value, seg.TopicPartition, seg.ID)
	}
	return segState{exists: true, raw: raw.Value, seg: seg}, nil
}

// readPart reads tp's partition item (strongly consistent).
func (s *Remote) readPart(ctx context.Context, tp remote.TopicPartition) (partState, error) {
	out, err := s.client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: &s.table, Key: remotePartKey(tp), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return partState{}, fmt.Errorf("remote: read %v: %w", tp, err)
	}
	return parsePart(tp, out.Item)
}

// snapshot reads tp's partition item and, if id is not empty, segment
// id's item, at one point in time.
func (s *Remote) snapshot(ctx context.Context, tp remote.TopicPartition, id string) (partState, segState, error) {
	if id == "" {
		p, err := s.readPart(ctx, tp)
		return p, segState{}, err
	}
	out, err := s.client.TransactGetItems(ctx, &dynamodb.TransactGetItemsInput{TransactItems: []types.TransactGetItem{
		{Get: &types.Get{TableName: &s.table, Key: remotePartKey(tp)}},
		{Get: &types.Get{TableName: &s.table, Key: segmentKey(tp, id)}},
	}})
	if err != nil {
		return partState{}, segState{}, fmt.Errorf("remote: read %v %s: %w", tp, id, err)
	}
	if len(out.Responses) != 2 {
		return partState{}, segState{}, fmt.Errorf("remote: read %v %s: %d responses", tp, id, len(out.Responses))
	}
	p, err := parsePart(tp, out.Responses[0].Item)
	if err != nil {
		return partState{}, segState{}, err
	}
	sg, err := parseSeg(out.Responses[1].Item)
	if err != nil {
		return partState{}, segState{}, err
	}
	return p, sg, nil
}

// partWrite is what a write adds to the partition item's update beyond
// the fence check, the fence raise and the ver bump.
type partWrite struct {
	cond   string // extra condition
	set    string // extra SET clauses
	remove string // REMOVE clause
	names  map[string]string
	values map[string]types.AttributeValue
}

// partUpdate is the transaction item that fences a write at epoch on tp
// and records it (fence = epoch, ver + 1).
func (s *Remote) partUpdate(tp remote.TopicPartition, epoch int32, w partWrite) types.TransactWriteItem {
	names := map[string]string{"#fence": "fence", "#topic": "topic", "#part": "partition", "#ver": "ver"}
	values := map[string]types.AttributeValue{
		":epoch": num(int64(epoch)), ":topic": str(tp.Topic), ":part": num(int64(tp.Partition)), ":one": num(1),
	}
	for k, v := range w.names {
		names[k] = v
	}
	for k, v := range w.values {
		values[k] = v
	}
	cond := "(attribute_not_exists(#fence) OR #fence <= :epoch)"
	if w.cond != "" {
		cond += " AND (" + w.cond + ")"
	}
	update := "SET #fence = :epoch, #topic = :topic, #part = :part"
	if w.set != "" {
		update += ", " + w.set
	}
	update += " ADD #ver :one"
	if w.remove != "" {
		update += " REMOVE " + w.remove
	}
	return types.TransactWriteItem{Update: &types.Update{
		TableName: &s.table, Key: remotePartKey(tp),
		UpdateExpression: &update, ConditionExpression: &cond,
		ExpressionAttributeNames: names, ExpressionAttributeValues: values,
	}}
}

// segUnchanged is the condition that a segment item still holds raw.
func segUnchanged(raw string) (*string, map[string]string, map[string]types.AttributeValue) {
	return aws.String("#seg = :old"), map[string]string{"#seg": "seg"}, map[string]types.AttributeValue{":old": str(raw)}
}

// plan turns a snapshot into the transaction to run, or into the error
// the write fails with.
type plan func(p partState, sg segState) ([]types.TransactWriteItem, error)

// write runs plan on a snapshot of tp (and segment id) and commits the
// transaction it returns, planning again from a fresh snapshot while the
// transaction fails because the items changed since the snapshot.
func (s *Remote) write(ctx context.Context, tp remote.TopicPartition, id string, pl plan) error {
	for attempt := 1; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		p, sg, err := s.snapshot(ctx, tp, id)
		if err != nil {
			return err
		}
		items, err := pl(p, sg)
		if err != nil {
			return err
		}
		_, err = s.client.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
		if err == nil {
			return nil
		}
		if !raced(err) {
			return fmt.Errorf("remote: write %v: %w", tp, err)
		}
		if attempt == dynMaxAttempts {
			return fmt.Errorf("remote: write %v: contended for %d attempts: %w", tp, attempt, err)
		}
		if err := backoff(ctx, attempt); err != nil {
			return err
		}
	}
}

// backoff waits a jittered, growing delay before attempt+1, so racing
// writers spread out instead of colliding again.
func backoff(ctx context.Context, attempt int) error {
	d := time.Millisecond << min(attempt, 7) // up to 128ms
	t := time.NewTimer(d/2 + rand.N(d/2+1))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func staleErr(tp remote.TopicPartition, epoch int32, p partState) error {
	if p.exists && epoch < p.fence {
		return fmt.Errorf("%w: %v: epoch %d, fence %d", remote.ErrStaleEpoch, tp, epoch, p.fence)
	}
	return nil
}

// Create implements remote.Store.
func (s *Remote) Create(ctx context.Context, seg remote.Segment) error {
	if err := seg.Validate(); err != nil {
		return err
	}
	seg.State = remote.CopyStarted
	if seg.CreatedAt.IsZero() {
		seg.CreatedAt = s.now()
	}
	b, err := json.Marshal(seg)
	if err != nil {
		return fmt.Errorf("remote: encode %v %s: %w", seg.TopicPartition, seg.ID, err)
	}
	tp := seg.TopicPartition
	return s.write(ctx, tp, seg.ID, func(p partState, sg segState) ([]types.TransactWriteItem, error) {
		if err := staleErr(tp, seg.LeaderEpoch, p); err != nil {
			return nil, err
		}
		if sg.exists {
			return nil, fmt.Errorf("%w: %v %s", remote.ErrExists, tp, seg.ID)
		}
		return []types.TransactWriteItem{
			s.partUpdate(tp, seg.LeaderEpoch, partWrite{}),
			{Put: &types.Put{
				TableName:                &s.table,
				Item:                     withAttr(segmentKey(tp, seg.ID), "seg", str(string(b))),
				ConditionExpression:      aws.String("attribute_not_exists(#pk)"),
				ExpressionAttributeNames: map[string]string{"#pk": AttrPK},
			}},
		}, nil
	})
}

// Transition implements remote.Store.
func (s *Remote) Transition(ctx context.Context, tp remote.TopicPartition, id string, epoch int32, from, to remote.State) error {
	if !remote.Allowed(from, to) {
		return fmt.Errorf("%w: %v %s: %s -> %s not allowed", remote.ErrStateConflict, tp, id, from, to)
	}
	return s.write(ctx, tp, id, s.transitionPlan(ctx, tp, id, epoch, from, to))
}

// transitionPlan plans Transition (an allowed one) from a snapshot.
func (s *Remote) transitionPlan(ctx context.Context, tp remote.TopicPartition, id string, epoch int32, from, to remote.State) plan {
	return func(p partState, sg segState) ([]types.TransactWriteItem, error) {
		if err := staleErr(tp, epoch, p); err != nil {
			return nil, err
		}
		if !sg.exists {
			return nil, fmt.Errorf("%w: %v %s", remote.ErrNotFound, tp, id)
		}
		if sg.seg.State != from {
			return nil, fmt.Errorf("%w: %v %s is %s, not %s", remote.ErrStateConflict, tp, id, sg.seg.State, from)
		}
		last := sg.seg.LastOffset
		var pw partWrite
		switch {
		case to == remote.CopyFinished:
			if p.hasFend && p.fend >= last {
				return nil, fmt.Errorf("%w: %v %s ends at %d, a finished segment already ends at %d", remote.ErrNoProgress, tp, id, last, p.fend)
			}
			pw = partWrite{
				cond: "attribute_not_exists(#fend) OR #fend < :last", set: "#fend = :last",
				names: map[string]string{"#fend": "fend"}, values: map[string]types.AttributeValue{":last": num(last)},
			}
		case from == remote.CopyFinished && p.hasFend && p.fend > last:
			// Not the newest finished segment: the maximum stays.
			pw = partWrite{
				cond:  "#fend > :last",
				names: map[string]string{"#fend": "fend"}, values: map[string]types.AttributeValue{":last": num(last)},
			}
		case from == remote.CopyFinished:
			// The newest finished segment goes: fend becomes the newest
			// of the others, read by a Query that no write may overtake.
			var err error
			if pw, err = s.recomputeFend(ctx, tp, id, p.ver); err != nil {
				return nil, err
			}
		}
		next := sg.seg
		next.State = to
		b, err := json.Marshal(next)
		if err != nil {
			return nil, fmt.Errorf("remote: encode %v %s: %w", tp, id, err)
		}
		cond, names, values := segUnchanged(sg.raw)
		values[":new"] = str(string(b))
		return []types.TransactWriteItem{
			s.partUpdate(tp, epoch, pw),
			{Update: &types.Update{
				TableName: &s.table, Key: segmentKey(tp, id),
				UpdateExpression: aws.String("SET #seg = :new"), ConditionExpression: cond,
				ExpressionAttributeNames: names, ExpressionAttributeValues: values,
			}},
		}, nil
	}
}

// recomputeFend plans the partition update for segment id, the newest
// finished one, leaving COPY_FINISHED: fend becomes the greatest last
// offset of the other finished segments (or goes), conditional on the
// partition being at version ver, the one read before the Query.
func (s *Remote) recomputeFend(ctx context.Context, tp remote.TopicPartition, id string, ver int64) (partWrite, error) {
	segs, err := s.segments(ctx, tp)
	if err != nil {
		return partWrite{}, err
	}
	var (
		fend  int64
		found bool
	)
	for _, f := range segs {
		if f.State == remote.CopyFinished && f.ID != id && (!found || f.LastOffset > fend) {
			fend, found = f.LastOffset, true
		}
	}
	pw := partWrite{
		cond:  "#ver = :ver",
		names: map[string]string{"#fend": "fend"}, values: map[string]types.AttributeValue{":ver": num(ver)},
	}
	if found {
		pw.set, pw.values[":fend"] = "#fend = :fend", num(fend)
	} else {
		pw.remove = "#fend"
	}
	return pw, nil
}

// Remove implements remote.Store.
func (s *Remote) Remove(ctx context.Context, tp remote.TopicPartition, id string, epoch int32) error {
	return s.write(ctx, tp, id, func(p partState, sg segState) ([]types.TransactWriteItem, error) {
		if err := staleErr(tp, epoch, p); err != nil {
			return nil, err
		}
		if !sg.exists {
			return nil, fmt.Errorf("%w: %v %s", remote.ErrNotFound, tp, id)
		}
		if st := sg.seg.State; st != remote.DeleteStarted {
			return nil, fmt.Errorf("%w: %v %s is %s, not %s", remote.ErrStateConflict, tp, id, st, remote.DeleteStarted)
		}
		cond, names, values := segUnchanged(sg.raw)
		return []types.TransactWriteItem{
			s.partUpdate(tp, epoch, partWrite{}),
			{Delete: &types.Delete{
				TableName: &s.table, Key: segmentKey(tp, id), ConditionExpression: cond,
				ExpressionAttributeNames: names, ExpressionAttributeValues: values,
			}},
		}, nil
	})
}

// Fence implements remote.Store.
func (s *Remote) Fence(ctx context.Context, tp remote.TopicPartition, epoch int32) error {
	return s.write(ctx, tp, "", func(p partState, _ segState) ([]types.TransactWriteItem, error) {
		if err := staleErr(tp, epoch, p); err != nil {
			return nil, err
		}
		return []types.TransactWriteItem{s.partUpdate(tp, epoch, partWrite{})}, nil
	})
}

// List implements remote.Store. The returned slice is the caller's. It costs
// one consistent GetItem while tp is unchanged since this store last
// listed it, and a Query of its segments otherwise (see Remote).
func (s *Remote) List(ctx context.Context, tp remote.TopicPartition) ([]remote.Segment, error) {
	for attempt := 1; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		before, err := s.readPart(ctx, tp)
		if err != nil {
			return nil, err
		}
		if !before.exists {
			return nil, nil // segments are written only with their partition item
		}
		s.mu.Lock()
		c, ok := s.lists[tp]
		s.mu.Unlock()
		if ok && c.ver == before.ver {
			return append([]remote.Segment(nil), c.segs...), nil
		}
		segs, err := s.segments(ctx, tp)
		if err != nil {
			return nil, err
		}
		after, err := s.readPart(ctx, tp)
		if err != nil {
			return nil, err
		}
		if after.ver == before.ver {
			// No write landed during the Query: segs is tp at ver.
			s.mu.Lock()
			if cur, ok := s.lists[tp]; !ok || cur.ver < before.ver {
				s.lists[tp] = cachedList{ver: before.ver, segs: segs}
			}
			s.mu.Unlock()
			return append([]remote.Segment(nil), segs...), nil
		}
		if attempt == dynMaxAttempts {
			return nil, fmt.Errorf("remote: list %v: changed during each of %d reads", tp, attempt)
		}
		if err := backoff(ctx, attempt); err != nil {
			return nil, err
		}
	}
}

// segments reads tp's segment items (one strongly consistent Query of the
// partition's segment key), sorted.
func (s *Remote) segments(ctx context.Context, tp remote.TopicPartition) ([]remote.Segment, error) {
	var out []remote.Segment
	err := s.query(ctx, segmentPK(tp.Topic, tp.Partition), func(item map[string]types.AttributeValue) error {
		sg, err := parseSeg(item)
		if err != nil {
			return err
		}
		if sg.seg.TopicPartition != tp {
			return fmt.Errorf("%w: segment %s of %v under %v", remote.ErrInvalid, sg.seg.ID, sg.seg.TopicPartition, tp)
		}
		out = append(out, sg.seg)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("remote: list %v: %w", tp, err)
	}
	remote.Sort(out)
	return out, nil
}

// Partitions implements remote.Store: one Query of the remote partition
// items, sorted by topic and partition.
func (s *Remote) Partitions(ctx context.Context) ([]remote.TopicPartition, error) {
	var out []remote.TopicPartition
	err := s.query(ctx, pkRemote, func(item map[string]types.AttributeValue) error {
		topic, p, err := parseRemotePartSK(sortKeyOf(item))
		if err != nil {
			return fmt.Errorf("%w: %v", remote.ErrInvalid, err)
		}
		out = append(out, remote.TopicPartition{Topic: topic, Partition: p})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("remote: partitions: %w", err)
	}
	return out, nil
}

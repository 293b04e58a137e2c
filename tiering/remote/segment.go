package remote

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Errors of the metadata store, wrapped with detail; test with errors.Is.
var (
	// ErrStaleEpoch: the writer's leader epoch is below the partition's
	// fence; it has been deposed and must stop acting as leader.
	ErrStaleEpoch = errors.New("remote: stale leader epoch")
	// ErrNotFound: no segment has the id.
	ErrNotFound = errors.New("remote: segment not found")
	// ErrExists: Create of an id that exists.
	ErrExists = errors.New("remote: segment exists")
	// ErrStateConflict: the segment is not in the state the write
	// expected, or the transition is not allowed.
	ErrStateConflict = errors.New("remote: segment state conflict")
	// ErrNoProgress: the commit would add no offsets beyond the finished
	// segments (the range is already in the remote tier).
	ErrNoProgress = errors.New("remote: segment adds no offsets")
	// ErrInvalid: the segment record is malformed.
	ErrInvalid = errors.New("remote: invalid segment")
)

// TopicPartition names a partition.
type TopicPartition struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
}

func (tp TopicPartition) String() string { return fmt.Sprintf("%s-%d", tp.Topic, tp.Partition) }

// State is a remote segment's life-cycle state.
type State uint8

// The states, in life-cycle order. Zero is invalid.
const (
	CopyStarted State = iota + 1
	CopyFinished
	DeleteStarted
)

var stateNames = map[State]string{CopyStarted: "COPY_STARTED", CopyFinished: "COPY_FINISHED", DeleteStarted: "DELETE_STARTED"}

func (s State) String() string {
	if n, ok := stateNames[s]; ok {
		return n
	}
	return "State(" + strconv.Itoa(int(s)) + ")"
}

// MarshalText writes the state's name, so metadata files are readable.
func (s State) MarshalText() ([]byte, error) {
	n, ok := stateNames[s]
	if !ok {
		return nil, fmt.Errorf("%w: state %d", ErrInvalid, s)
	}
	return []byte(n), nil
}

// UnmarshalText parses a state name.
func (s *State) UnmarshalText(b []byte) error {
	for st, n := range stateNames {
		if n == string(b) {
			*s = st
			return nil
		}
	}
	return fmt.Errorf("%w: state %q", ErrInvalid, b)
}

// Allowed lists the legal transitions (see the package doc).
func Allowed(from, to State) bool {
	switch {
	case from == CopyStarted && (to == CopyFinished || to == DeleteStarted):
		return true
	case from == CopyFinished && to == DeleteStarted:
		return true
	}
	return false
}

// Kind names one of the objects a segment is uploaded as.
type Kind string

// The objects of a remote segment; Log is required, the others optional.
const (
	KindLog          Kind = "log"
	KindIndex        Kind = "index"
	KindTimeIndex    Kind = "timeindex"
	KindSnapshot     Kind = "snapshot"
	KindLeaderEpochs Kind = "epochs"
	// KindTxnIndex is the aborted-transactions index (Kafka's
	// .txnindex), present only for a segment with an ABORT marker.
	KindTxnIndex Kind = "txnindex"
)

// Object is one uploaded file of a segment.
type Object struct {
	Kind   Kind   `json:"kind"`
	Key    string `json:"key"`
	Size   int64  `json:"size"`
	CRC32C uint32 `json:"crc32c"` // Castagnoli CRC of the whole object
}

// Segment is the metadata of one remote segment.
type Segment struct {
	TopicPartition
	// ID is unique per upload attempt (NewID): the base offset and a
	// random suffix.
	ID           string    `json:"id"`
	BaseOffset   int64     `json:"baseOffset"`
	LastOffset   int64     `json:"lastOffset"`
	MaxTimestamp int64     `json:"maxTimestamp"` // -1 if unknown
	Size         int64     `json:"size"`         // bytes of the log object
	LeaderEpoch  int32     `json:"leaderEpoch"`  // epoch of the uploading leader
	Objects      []Object  `json:"objects"`
	State        State     `json:"state"`
	CreatedAt    time.Time `json:"createdAt"`
}

// Object returns the segment's object of kind k.
func (s *Segment) Object(k Kind) (Object, bool) {
	for _, o := range s.Objects {
		if o.Kind == k {
			return o, true
		}
	}
	return Object{}, false
}

// Validate checks what every stored record must satisfy.
func (s *Segment) Validate() error {
	switch {
	case s.Topic == "" || strings.ContainsAny(s.Topic, "/") || s.Partition < 0:
		return fmt.Errorf("%w: partition %v", ErrInvalid, s.TopicPartition)
	case s.ID == "":
		return fmt.Errorf("%w: empty id", ErrInvalid)
	case s.BaseOffset < 0 || s.LastOffset < s.BaseOffset:
		return fmt.Errorf("%w: %s: offsets [%d, %d]", ErrInvalid, s.ID, s.BaseOffset, s.LastOffset)
	}
	if _, ok := s.Object(KindLog); !ok {
		return fmt.Errorf("%w: %s: no log object", ErrInvalid, s.ID)
	}
	return nil
}

// NewID returns a fresh segment id for a segment at base.
func NewID(base int64) (string, error) {
	var r [8]byte
	if _, err := rand.Read(r[:]); err != nil {
		return "", fmt.Errorf("remote: segment id: %w", err)
	}
	return fmt.Sprintf("%020d-%s", base, hex.EncodeToString(r[:])), nil
}

// PartitionPrefix is the object-key prefix of all of tp's objects.
func PartitionPrefix(tp TopicPartition) string {
	return tp.Topic + "/" + strconv.Itoa(int(tp.Partition)) + "/"
}

// ObjectKey is where object kind of segment id of tp is stored.
func ObjectKey(tp TopicPartition, id string, k Kind) string {
	return PartitionPrefix(tp) + id + "." + string(k)
}

// SegmentIDOfKey returns the segment id of an object key below
// PartitionPrefix(tp); ok is false for keys that are not segment objects.
func SegmentIDOfKey(tp TopicPartition, key string) (id string, ok bool) {
	rest, found := strings.CutPrefix(key, PartitionPrefix(tp))
	if !found {
		return "", false
	}
	id, _, found = strings.Cut(rest, ".")
	return id, found && id != "" && !strings.Contains(rest, "/")
}

// Sort orders segments by base offset, then id.
func Sort(segs []Segment) {
	sort.Slice(segs, func(i, j int) bool {
		if segs[i].BaseOffset != segs[j].BaseOffset {
			return segs[i].BaseOffset < segs[j].BaseOffset
		}
		return segs[i].ID < segs[j].ID
	})
}

// Finished returns the COPY_FINISHED segments of segs, in base offset
// order: the ones readers may serve.
func Finished(segs []Segment) []Segment {
	var out []Segment
	for _, s := range segs {
		if s.State == CopyFinished {
			out = append(out, s)
		}
	}
	Sort(out)
	return out
}

// Find returns the finished segment serving offset: the one with the
// greatest base offset <= offset among those whose last offset >= offset.
// finished must be sorted (Finished). ok is false if none holds offset.
func Find(finished []Segment, offset int64) (Segment, bool) {
	i := sort.Search(len(finished), func(i int) bool { return finished[i].BaseOffset > offset })
	// Last offsets increase with base offsets (ErrNoProgress), so if the
	// nearest segment starting at or below offset ends before it, none
	// holds it.
	if i == 0 || finished[i-1].LastOffset < offset {
		return Segment{}, false
	}
	return finished[i-1], true
}

// Bounds returns the offset range of the finished segments: the first
// base offset and the offset after the last one; ok is false when there
// are none.
func Bounds(finished []Segment) (start, end int64, ok bool) {
	if len(finished) == 0 {
		return 0, 0, false
	}
	return finished[0].BaseOffset, finished[len(finished)-1].LastOffset + 1, true
}

package topics

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kafki/kafki/brokerd/config"
	"github.com/kafki/kafki/brokerd/meta"
	"github.com/kafki/kafki/brokerd/storage"
	"github.com/kafki/kafki/tiering"
)

// Errors of the manager; test with errors.Is.
var (
	ErrUnknownTopic     = errors.New("unknown topic or partition")
	ErrTopicExists      = errors.New("topic already exists")
	ErrInvalidPartition = errors.New("invalid partition count")
	ErrClosed           = errors.New("topic manager closed")
)

// producerIDBlock is how many producer ids are reserved from the store at a
// time, so that InitProducerId does not write metadata on every call.
const producerIDBlock = 1000

// Topic is an immutable snapshot of a topic: its fields are not modified
// once it is published (settings is an atomic pointer, shared by the
// topic's snapshots).
type Topic struct {
	Name       string
	ID         meta.TopicID
	Overrides  map[string]string // do not modify
	Partitions []*Partition      // index i is partition i; do not modify
	settings   *atomic.Pointer[Settings]
}

// Settings returns the topic's effective settings.
func (t *Topic) Settings() *Settings { return t.settings.Load() }

// Options are what a Manager is built with; OptionsFrom derives them
// from the broker's configuration.
type Options struct {
	// Dir holds one log directory per partition (data.dir).
	Dir string
	// Defaults are the broker settings that topic configs fall back on
	// (Kafka's broker-level synonyms: log.retention.ms for retention.ms
	// and the rest). Read, never modified.
	Defaults *config.Config
	// DefaultPartitions and MaxPartitions are num.partitions and
	// max.partitions.per.topic.
	DefaultPartitions, MaxPartitions int32
	// Flush is when logs fsync besides acks (flush.ms, flush.messages).
	Flush storage.FlushPolicy
	// Clustered: partitions serve nothing until the cluster's metadata
	// gives them a role; otherwise each one leads alone (Standalone).
	Clustered bool
	// Tier is tiered storage; nil when the broker has none.
	Tier *tiering.Tier
	// TierFetchMaxWait bounds how long a fetch waits for a remote read.
	TierFetchMaxWait time.Duration
	// OnAppend, when set, is called after every successful append (the
	// broker's produce metrics).
	OnAppend func(topic string, records int64, bytes int)
	Log      *slog.Logger
}

// OptionsFrom is the Options of a broker configured by cfg, without a
// tier or an append hook.
func OptionsFrom(cfg *config.Config, log *slog.Logger) Options {
	return Options{
		Dir: cfg.DataDir, Defaults: cfg,
		DefaultPartitions: cfg.DefaultPartitions, MaxPartitions: cfg.MaxPartitions,
		Flush:     storage.FlushPolicy{Interval: cfg.FlushIntervalMs, Bytes: cfg.FlushBytes},
		Clustered: cfg.Clustered(), TierFetchMaxWait: cfg.TierFetchMaxWait,
		Log: log,
	}
}

// Manager owns the topics of this broker. Safe for concurrent use.
type Manager struct {
	// Set by Open, read-only after.
	opts  Options
	store meta.Store
	log   *slog.Logger
	dir   string

	mu     sync.RWMutex
	topics map[string]*Topic       // guarded by mu
	byID   map[meta.TopicID]*Topic // guarded by mu
	closed bool                    // guarded by mu
	// changeSeq counts the topic changes made through this manager
	// (create, delete, grow, alter), changedAt the last of each name;
	// Apply leaves alone the names changed after the snapshot was asked
	// for (see ChangeToken).
	changeSeq uint64            // guarded by mu
	changedAt map[string]uint64 // guarded by mu

	pidMu   sync.Mutex
	pidNext int64 // next producer id to hand out; guarded by pidMu
	pidEnd  int64 // end of the reserved block; guarded by pidMu

	// The rest is set by Open (tier, tierWake) or before serving
	// (SetReplicaHooks) and read-only after, so it needs no lock.

	// tier is opts.Tier, nil when off (see tiering.go); tierWake
	// (buffered(1), made by Open) wakes its uploader when a segment was
	// sealed.
	tier     *tiering.Tier
	tierWake chan struct{}

	// replicaHooks connect partitions to the cluster (replica.go); zero
	// on a single node.
	replicaHooks ReplicaHooks
}

// SetReplicaHooks installs the cluster's hooks. Call before serving.
func (m *Manager) SetReplicaHooks(h ReplicaHooks) { m.replicaHooks = h }

// Open loads every topic of the store and opens its partition logs under
// opts.Dir.
func Open(ctx context.Context, opts Options, store meta.Store) (*Manager, error) {
	m := &Manager{
		opts:      opts,
		store:     store,
		log:       opts.Log,
		dir:       opts.Dir,
		tier:      opts.Tier,
		topics:    map[string]*Topic{},
		byID:      map[meta.TopicID]*Topic{},
		changedAt: map[string]uint64{},

		tierWake: make(chan struct{}, 1),
	}
	all, err := store.Topics(ctx)
	if err != nil {
		return nil, fmt.Errorf("load topics: %w", err)
	}
	for _, mt := range all {
		t, err := m.openTopic(mt, nil)
		if err != nil {
			m.Close()
			return nil, err
		}
		m.topics[t.Name] = t
		m.byID[t.ID] = t
	}
	if err := m.removeStrayDirs(); err != nil {
		m.Close()
		return nil, err
	}
	return m, nil
}

func (m *Manager) partitionDir(topic string, p int32) string {
	return filepath.Join(m.dir, topic+"-"+strconv.Itoa(int(p)))
}

// openTopic opens the logs of mt, reusing partitions from prev (a previous
// snapshot) where present.
func (m *Manager) openTopic(mt meta.Topic, prev *Topic) (*Topic, error) {
	s, err := resolve(m.opts.Defaults, mt.Configs)
	if err != nil {
		return nil, fmt.Errorf("topic %q: %w", mt.Name, err)
	}
	t := &Topic{Name: mt.Name, ID: mt.ID, Overrides: mt.Configs}
	if prev != nil {
		t.settings = prev.settings
	} else {
		t.settings = new(atomic.Pointer[Settings])
	}
	t.settings.Store(&s)
	for i := int32(0); i < mt.Partitions; i++ {
		if prev != nil && int(i) < len(prev.Partitions) {
			t.Partitions = append(t.Partitions, prev.Partitions[i])
			continue
		}
		opts := storage.Options{
			Config: m.logConfig(s),
			Flush:  m.opts.Flush,
			Logger: m.log.With("topic", mt.Name, "partition", i),
		}
		if m.tier != nil {
			opts.OnSealed = m.onSealed
		}
		l, err := storage.Open(m.partitionDir(mt.Name, i), opts)
		if err != nil {
			for _, p := range t.Partitions[len(prevParts(prev)):] {
				p.log.Close()
			}
			return nil, fmt.Errorf("open partition %s-%d: %w", mt.Name, i, err)
		}
		p := &Partition{Topic: mt.Name, Index: i, log: l, settings: t.settings, mgr: m}
		if m.opts.Clustered {
			// Serve nothing until the cluster's metadata says what this
			// broker is for the partition.
			p.rep.role, p.rep.leaderID, p.rep.epoch = NoRole, -1, -1
		}
		t.Partitions = append(t.Partitions, p)
	}
	return t, nil
}

func prevParts(prev *Topic) []*Partition {
	if prev == nil {
		return nil
	}
	return prev.Partitions
}

// removeStrayDirs deletes partition directories of topics the store does
// not know: leftovers of a deletion interrupted by a crash.
func (m *Manager) removeStrayDirs() error {
	entries, err := os.ReadDir(m.dir)
	if err != nil {
		return fmt.Errorf("list data dir: %w", err)
	}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		i := strings.LastIndexByte(e.Name(), '-')
		if i <= 0 {
			continue
		}
		p, err := strconv.Atoi(e.Name()[i+1:])
		if err != nil || p < 0 {
			continue
		}
		topic := e.Name()[:i]
		if t, ok := m.topics[topic]; ok && p < len(t.Partitions) {
			continue
		}
		if ValidateName(topic) != nil {
			continue
		}
		m.log.Warn("removing log directory of a deleted topic", "dir", e.Name())
		if err := os.RemoveAll(filepath.Join(m.dir, e.Name())); err != nil {
			return fmt.Errorf("remove stray log dir: %w", err)
		}
	}
	return nil
}

// Topic returns the topic named name, or nil.
func (m *Manager) Topic(name string) *Topic {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.topics[name]
}

// TopicByID returns the topic with the given id, or nil.
func (m *Manager) TopicByID(id meta.TopicID) *Topic {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.byID[id]
}

// Partition returns a partition, or nil if the topic or partition is
// unknown.
func (m *Manager) Partition(topic string, p int32) *Partition {
	t := m.Topic(topic)
	if t == nil || p < 0 || int(p) >= len(t.Partitions) {
		return nil
	}
	return t.Partitions[p]
}

// Topics returns a snapshot of all topics.
func (m *Manager) Topics() []*Topic {
	m.mu.RLock()
	defer m.mu.RUnlock()
	out := make([]*Topic, 0, len(m.topics))
	for _, t := range m.topics {
		out = append(out, t)
	}
	return out
}

// CreateTopic creates a topic. partitions < 1 means the broker default.
// With validateOnly nothing is written.
func (m *Manager) CreateTopic(ctx context.Context, name string, partitions int32, configs map[string]string, validateOnly bool) (*Topic, error) {
	if IsInternal(name) {
		return nil, errInternal(name)
	}
	return m.createTopic(ctx, name, partitions, 1, configs, validateOnly)
}

// CreateReplicatedTopic is CreateTopic with a replication factor, for a
// cluster: the controller places the replicas.
func (m *Manager) CreateReplicatedTopic(ctx context.Context, name string, partitions int32, rf int16, configs map[string]string, validateOnly bool) (*Topic, error) {
	if IsInternal(name) {
		return nil, errInternal(name)
	}
	return m.createTopic(ctx, name, partitions, rf, configs, validateOnly)
}

func (m *Manager) createTopic(ctx context.Context, name string, partitions int32, rf int16, configs map[string]string, validateOnly bool) (*Topic, error) {
	if err := ValidateName(name); err != nil {
		return nil, err
	}
	if partitions == -1 {
		partitions = m.opts.DefaultPartitions
	}
	if partitions < 1 || partitions > m.opts.MaxPartitions {
		return nil, fmt.Errorf("%w: %d (want 1..%d, max.partitions.per.topic)", ErrInvalidPartition, partitions, m.opts.MaxPartitions)
	}
	if err := ValidateConfigs(m.opts.Defaults, configs); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, ErrClosed
	}
	if _, ok := m.topics[name]; ok {
		return nil, fmt.Errorf("%w: %q", ErrTopicExists, name)
	}
	for other := range m.topics {
		if collisionKey(other) == collisionKey(name) {
			return nil, fmt.Errorf("%w: %q collides with existing topic %q ('.' and '_' are interchangeable in metric names)", ErrInvalidName, name, other)
		}
	}
	mt := meta.Topic{Name: name, ID: meta.NewTopicID(), Partitions: partitions, ReplicationFactor: rf, Configs: copyMap(configs)}
	if validateOnly {
		return &Topic{Name: name, ID: mt.ID, Overrides: mt.Configs, Partitions: make([]*Partition, partitions)}, nil
	}
	if err := m.store.CreateTopic(ctx, mt); err != nil {
		if errors.Is(err, meta.ErrTopicExists) {
			return nil, fmt.Errorf("%w: %q", ErrTopicExists, name)
		}
		return nil, fmt.Errorf("persist topic %q: %w", name, err)
	}
	t, err := m.openTopic(mt, nil)
	if err != nil {
		// The store has the topic but its logs would not open: take it
		// back out so the two agree.
		if derr := m.store.DeleteTopic(ctx, name); derr != nil {
			m.log.Error("could not roll back topic creation", "topic", name, "err", derr)
		}
		return nil, err
	}
	m.topics[name] = t
	m.byID[t.ID] = t
	m.noteChange(name)
	m.log.Info("created topic", "topic", name, "partitions", partitions, "configs", configs)
	return t, nil
}

// noteChange records that name was changed here and in the store just
// now. Callers hold m.mu.
func (m *Manager) noteChange(name string) {
	m.changeSeq++
	m.changedAt[name] = m.changeSeq
}

// ChangeToken marks the present among this manager's own topic changes.
// Take it before reading the snapshot to give Apply: the changes made
// before it were in the store when the read began, the ones after it may
// be missing from the snapshot.
func (m *Manager) ChangeToken() uint64 {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.changeSeq
}

// DeleteTopic deletes a topic and its data.
func (m *Manager) DeleteTopic(ctx context.Context, name string) error {
	if IsInternal(name) {
		return errInternal(name)
	}
	m.mu.Lock()
	t, ok := m.topics[name]
	if !ok {
		m.mu.Unlock()
		return fmt.Errorf("%w: %q", ErrUnknownTopic, name)
	}
	if err := m.store.DeleteTopic(ctx, name); err != nil && !errors.Is(err, meta.ErrUnknownTopic) {
		m.mu.Unlock()
		return fmt.Errorf("delete topic %q: %w", name, err)
	}
	delete(m.topics, name)
	delete(m.byID, t.ID)
	m.noteChange(name)
	m.mu.Unlock()

	var firstErr error
	for _, p := range t.Partitions {
		if err := p.log.Delete(); err != nil && firstErr == nil {
			firstErr = fmt.Errorf("delete partition %s-%d: %w", name, p.Index, err)
		}
		if err := p.deleteRemote(ctx); err != nil && firstErr == nil {
			firstErr = err
		}
	}
	m.log.Info("deleted topic", "topic", name)
	return firstErr
}

// CreatePartitions grows a topic to total partitions.
func (m *Manager) CreatePartitions(ctx context.Context, name string, total int32, validateOnly bool) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	t, ok := m.topics[name]
	if !ok {
		return fmt.Errorf("%w: %q", ErrUnknownTopic, name)
	}
	if total <= int32(len(t.Partitions)) {
		return fmt.Errorf("%w: topic %q has %d partitions; the count can only grow", ErrInvalidPartition, name, len(t.Partitions))
	}
	if total > m.opts.MaxPartitions {
		return fmt.Errorf("%w: %d (at most %d, max.partitions.per.topic)", ErrInvalidPartition, total, m.opts.MaxPartitions)
	}
	if validateOnly {
		return nil
	}
	mt, err := m.store.UpdateTopic(ctx, name, func(mt *meta.Topic) error {
		mt.Partitions = total
		return nil
	})
	if err != nil {
		return fmt.Errorf("grow topic %q: %w", name, err)
	}
	nt, err := m.openTopic(mt, t)
	if err != nil {
		return err
	}
	m.topics[name] = nt
	m.byID[nt.ID] = nt
	m.noteChange(name)
	m.log.Info("added partitions", "topic", name, "partitions", total)
	return nil
}

// AlterConfigs replaces a topic's overrides with the result of fn applied
// to a copy of them, after validating the result.
func (m *Manager) AlterConfigs(ctx context.Context, name string, validateOnly bool, fn func(overrides map[string]string) error) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	t, ok := m.topics[name]
	if !ok {
		return fmt.Errorf("%w: %q", ErrUnknownTopic, name)
	}
	next := copyMap(t.Overrides)
	if err := fn(next); err != nil {
		return err
	}
	s, err := resolve(m.opts.Defaults, next)
	if err != nil {
		return err
	}
	if err := checkTiering(m.opts.Defaults, s); err != nil {
		return err
	}
	if err := checkCompactedTiering(s); err != nil {
		return err
	}
	if validateOnly {
		return nil
	}
	if _, err := m.store.UpdateTopic(ctx, name, func(mt *meta.Topic) error {
		mt.Configs = next
		return nil
	}); err != nil {
		return fmt.Errorf("alter configs of %q: %w", name, err)
	}
	nt := *t
	nt.Overrides = next
	t.settings.Store(&s)
	for _, p := range t.Partitions {
		p.log.SetConfig(m.logConfig(s))
	}
	m.topics[name] = &nt
	m.byID[nt.ID] = &nt
	m.noteChange(name)
	m.log.Info("altered topic configs", "topic", name, "configs", next)
	return nil
}

// AllocateProducerID hands out a producer id never used before.
func (m *Manager) AllocateProducerID(ctx context.Context) (int64, error) {
	m.pidMu.Lock()
	defer m.pidMu.Unlock()
	if m.pidNext >= m.pidEnd {
		first, err := m.store.AllocateProducerIDs(ctx, producerIDBlock)
		if err != nil {
			return 0, fmt.Errorf("allocate producer ids: %w", err)
		}
		m.pidNext, m.pidEnd = first, first+producerIDBlock
	}
	id := m.pidNext
	m.pidNext++
	return id, nil
}

// Maintain runs retention, age-based rolls and interval flushes on every
// partition; errors are logged, not returned, so one bad partition does not
// stop the others.
func (m *Manager) Maintain() {
	for _, t := range m.Topics() {
		for _, p := range t.Partitions {
			if err := p.log.Maintain(); err != nil {
				m.log.Error("log maintenance failed", "topic", t.Name, "partition", p.Index, "err", err)
			}
		}
	}
}

// Run calls Maintain every interval until ctx ends.
func (m *Manager) Run(ctx context.Context, interval time.Duration) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			m.Maintain()
		}
	}
}

// Close flushes and closes every log.
func (m *Manager) Close() error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil
	}
	m.closed = true
	all := m.topics
	m.mu.Unlock()
	var firstErr error
	for _, t := range all {
		for _, p := range t.Partitions {
			err := p.log.Close()
			if err != nil && p.log.Offline() != nil {
				// Already reported when it went offline; its data up to
				// the failure is intact and recovery handles the rest.
				m.log.Warn("closed offline partition", "topic", t.Name, "partition", p.Index, "err", err)
				continue
			}
			if err != nil && firstErr == nil {
				firstErr = fmt.Errorf("close %s-%d: %w", t.Name, p.Index, err)
			}
		}
	}
	return firstErr
}

func copyMap(in map[string]string) map[string]string {
	out := make(map[string]string, len(in))
	for k, v := range in {
		out[k] = v
	}
	return out
}

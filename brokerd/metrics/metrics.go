// Package metrics defines brokerd's Prometheus metrics on a registry of its
// own (no global state), and serves them over HTTP.
//
// Per-request and per-topic metrics are looked up once per API key or
// topic and cached, so the request path does no label hashing.
package metrics

import (
	"net/http"
	"strconv"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics is the broker's metric set.
type Metrics struct {
	Registry *prometheus.Registry

	requests    *prometheus.CounterVec
	errors      *prometheus.CounterVec
	latency     *prometheus.HistogramVec
	NetBytesIn  prometheus.Counter
	NetBytesOut prometheus.Counter
	Connections prometheus.Gauge
	topicIn     *prometheus.CounterVec
	topicRecs   *prometheus.CounterVec
	topicOut    *prometheus.CounterVec
	// DynamoRequests counts requests to the metadata table by operation
	// (GetItem, TransactWriteItems, Query...): the control plane's cost.
	DynamoRequests *prometheus.CounterVec

	// Cluster membership (package node): ISR changes this broker
	// persisted as a leader, its failed lease renewals, and the losses of
	// its session. Their series exist from the start, at 0, so an alarm
	// on them has data before the first event.
	ISRShrinks                prometheus.Counter
	ISRExpands                prometheus.Counter
	SessionRenewalFailures    prometheus.Counter
	ControllerRenewalFailures prometheus.Counter
	BrokerFenced              prometheus.Counter

	// SASL authentication (package server's SaslAuthenticate): finished
	// exchanges by outcome, Kafka's successful-authentication-total and
	// failed-authentication-total.
	SASLSucceeded prometheus.Counter
	SASLFailed    prometheus.Counter
	// TLSHandshakeFailures counts connections closed because their TLS
	// handshake failed (untrusted or expired certificate, plaintext on a
	// TLS port, a client that sent nothing), by listener name. Kafka
	// counts these in failed-authentication-total too; a separate series
	// tells a certificate problem from a wrong password.
	TLSHandshakeFailures *prometheus.CounterVec

	mu     sync.Mutex
	perAPI map[int16]*APIMetrics // guarded by mu

	perTopic sync.Map // topic -> *topicMetrics: label lookups once per topic
}

type topicMetrics struct {
	in, recs, out prometheus.Counter
}

func (m *Metrics) topic(name string) *topicMetrics {
	if v, ok := m.perTopic.Load(name); ok {
		return v.(*topicMetrics)
	}
	tm := &topicMetrics{
		in:   m.topicIn.WithLabelValues(name),
		recs: m.topicRecs.WithLabelValues(name),
		out:  m.topicOut.WithLabelValues(name),
	}
	v, _ := m.perTopic.LoadOrStore(name, tm)
	return v.(*topicMetrics)
}

// APIMetrics are the cached children for one API key.
type APIMetrics struct {
	Requests prometheus.Counter
	Latency  prometheus.Observer
	name     string
	errors   *prometheus.CounterVec
}

// Error counts one error code in a response of this API.
func (a *APIMetrics) Error(code int16) {
	a.errors.WithLabelValues(a.name, strconv.Itoa(int(code))).Inc()
}

// New creates the metric set with Go runtime and process collectors.
func New() *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kafki_requests_total", Help: "Kafka protocol requests handled, by API.",
		}, []string{"api"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kafki_request_errors_total", Help: "Non-zero Kafka error codes returned, by API and code (per partition where the API is per partition).",
		}, []string{"api", "error_code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "kafki_request_duration_seconds", Help: "Time from a request's arrival to its response being written, by API.",
			Buckets: prometheus.ExponentialBuckets(0.00005, 2.5, 14),
		}, []string{"api"}),
		NetBytesIn: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "kafki_network_received_bytes_total", Help: "Bytes of request frames received.",
		}),
		NetBytesOut: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "kafki_network_sent_bytes_total", Help: "Bytes of response frames sent.",
		}),
		Connections: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "kafki_connections", Help: "Open client connections.",
		}),
		topicIn: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kafki_topic_produced_bytes_total", Help: "Record batch bytes appended, by topic.",
		}, []string{"topic"}),
		topicRecs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kafki_topic_produced_records_total", Help: "Records appended, by topic.",
		}, []string{"topic"}),
		topicOut: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kafki_topic_fetched_bytes_total", Help: "Record batch bytes returned to fetchers, by topic.",
		}, []string{"topic"}),
		perAPI: map[int16]*APIMetrics{},
		DynamoRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kafki_dynamodb_requests_total", Help: "Requests to the DynamoDB metadata table, by operation.",
		}, []string{"operation"}),
	}
	renewals := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "kafki_lease_renewal_failures_total",
		Help: "Lease renewals that did not extend the lease (DynamoDB throttled, unreachable or an unknown outcome, or the lease found lost), by lease: session (this broker's) or controller (while this broker is the controller). A broker whose session renewals fail for a lease duration stops acknowledging and is fenced.",
	}, []string{"lease"})
	m.SessionRenewalFailures = renewals.WithLabelValues("session")
	m.ControllerRenewalFailures = renewals.WithLabelValues("controller")
	m.ISRShrinks = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "kafki_isr_shrinks_total",
		Help: "ISR shrinks persisted by this broker as a partition's leader, one per change (Kafka's kafka.server:type=ReplicaManager,name=IsrShrinksPerSec).",
	})
	m.ISRExpands = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "kafki_isr_expands_total",
		Help: "ISR expansions persisted by this broker as a partition's leader, one per change (Kafka's kafka.server:type=ReplicaManager,name=IsrExpandsPerSec).",
	})
	m.BrokerFenced = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "kafki_broker_fenced_total",
		Help: "Times this broker found its session lease taken (the controller fenced it after its renewals lapsed) and dropped every role before registering again (the closest Kafka metric is kafka.server:type=SessionExpireListener,name=ZooKeeperExpiresPerSec).",
	})
	saslAuth := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "kafki_sasl_authentications_total",
		Help: "SASL authentications by result: succeeded or failed (wrong password, unknown user, malformed exchange; each failed one closed its connection). Kafka's successful-authentication-total and failed-authentication-total.",
	}, []string{"result"})
	m.SASLSucceeded = saslAuth.WithLabelValues("succeeded")
	m.SASLFailed = saslAuth.WithLabelValues("failed")
	m.Registry.MustRegister(saslAuth)
	m.TLSHandshakeFailures = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "kafki_tls_handshake_failures_total",
		Help: "Connections closed because their TLS handshake failed (untrusted, expired or missing client certificate, a plaintext client on a TLS port, a client that sent nothing before the handshake timeout), by listener. Kafka counts these in failed-authentication-total.",
	}, []string{"listener"})
	m.Registry.MustRegister(m.TLSHandshakeFailures)
	m.Registry.MustRegister(m.requests, m.errors, m.latency, m.NetBytesIn, m.NetBytesOut, m.Connections,
		m.topicIn, m.topicRecs, m.topicOut, m.DynamoRequests,
		renewals, m.ISRShrinks, m.ISRExpands, m.BrokerFenced,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// API returns the cached metrics of one API.
func (m *Metrics) API(key int16, name string) *APIMetrics {
	m.mu.Lock()
	defer m.mu.Unlock()
	a, ok := m.perAPI[key]
	if !ok {
		a = &APIMetrics{
			Requests: m.requests.WithLabelValues(name),
			Latency:  m.latency.WithLabelValues(name),
			name:     name,
			errors:   m.errors,
		}
		m.perAPI[key] = a
	}
	return a
}

// Produced counts an append to topic.
func (m *Metrics) Produced(topic string, records int64, bytes int) {
	tm := m.topic(topic)
	tm.in.Add(float64(bytes))
	tm.recs.Add(float64(records))
}

// Fetched counts record bytes returned from topic.
func (m *Metrics) Fetched(topic string, bytes int) {
	m.topic(topic).out.Add(float64(bytes))
}

// DeleteTopic drops the per-topic series of a deleted topic.
func (m *Metrics) DeleteTopic(topic string) {
	m.perTopic.Delete(topic)
	m.topicIn.DeleteLabelValues(topic)
	m.topicRecs.DeleteLabelValues(topic)
	m.topicOut.DeleteLabelValues(topic)
}

// Handler serves the registry in the Prometheus exposition format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{})
}

// PartitionStat is one partition's state for the partition collector.
type PartitionStat struct {
	Topic          string
	Partition      int32
	LogStartOffset int64
	LogEndOffset   int64
	HighWatermark  int64
	SizeBytes      int64
	Segments       int
	Offline        bool
	// TierLagBytes is, for a partition with remote storage, the bytes of
	// sealed segments not uploaded yet (local disk held beyond
	// local.retention while the object store is slow or down); -1 when
	// the partition is not tiered.
	TierLagBytes int64
	// Role is this broker's role for the partition: "leader",
	// "follower", "none" or "standalone" (single node).
	Role string
}

// RegisterPartitions adds a collector that reads partition state at scrape
// time from list.
func (m *Metrics) RegisterPartitions(list func() []PartitionStat) {
	m.Registry.MustRegister(&partitionCollector{list: list})
}

var (
	descStart    = prometheus.NewDesc("kafki_partition_log_start_offset", "First offset of the partition's log.", []string{"topic", "partition"}, nil)
	descEnd      = prometheus.NewDesc("kafki_partition_log_end_offset", "Next offset the partition will assign.", []string{"topic", "partition"}, nil)
	descHW       = prometheus.NewDesc("kafki_partition_high_watermark", "Offset below which records are visible to consumers.", []string{"topic", "partition"}, nil)
	descSize     = prometheus.NewDesc("kafki_partition_size_bytes", "Bytes of the partition's segments on disk.", []string{"topic", "partition"}, nil)
	descSegments = prometheus.NewDesc("kafki_partition_segments", "Segments of the partition's log.", []string{"topic", "partition"}, nil)
	descOffline  = prometheus.NewDesc("kafki_partition_offline", "1 if an I/O error took the partition offline.", []string{"topic", "partition"}, nil)
	descTierLag  = prometheus.NewDesc("kafki_partition_tier_lag_bytes", "Bytes of sealed segments of a tiered partition not uploaded yet.", []string{"topic", "partition"}, nil)
	descLeader   = prometheus.NewDesc("kafki_partition_leader", "1 if this broker leads the partition (or is a single node).", []string{"topic", "partition"}, nil)
)

type partitionCollector struct{ list func() []PartitionStat }

func (c *partitionCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descStart, descEnd, descHW, descSize, descSegments, descOffline, descTierLag, descLeader} {
		ch <- d
	}
}

func (c *partitionCollector) Collect(ch chan<- prometheus.Metric) {
	for _, p := range c.list() {
		lv := []string{p.Topic, strconv.Itoa(int(p.Partition))}
		offline := 0.0
		if p.Offline {
			offline = 1
		}
		ch <- prometheus.MustNewConstMetric(descStart, prometheus.GaugeValue, float64(p.LogStartOffset), lv...)
		ch <- prometheus.MustNewConstMetric(descEnd, prometheus.GaugeValue, float64(p.LogEndOffset), lv...)
		ch <- prometheus.MustNewConstMetric(descHW, prometheus.GaugeValue, float64(p.HighWatermark), lv...)
		ch <- prometheus.MustNewConstMetric(descSize, prometheus.GaugeValue, float64(p.SizeBytes), lv...)
		ch <- prometheus.MustNewConstMetric(descSegments, prometheus.GaugeValue, float64(p.Segments), lv...)
		ch <- prometheus.MustNewConstMetric(descOffline, prometheus.GaugeValue, offline, lv...)
		if p.TierLagBytes >= 0 {
			ch <- prometheus.MustNewConstMetric(descTierLag, prometheus.GaugeValue, float64(p.TierLagBytes), lv...)
		}
		leader := 0.0
		if p.Role == "leader" || p.Role == "standalone" {
			leader = 1
		}
		ch <- prometheus.MustNewConstMetric(descLeader, prometheus.GaugeValue, leader, lv...)
	}
}

// ClusterStat is this broker's view of the cluster's health, read at
// scrape time (package node computes it).
type ClusterStat struct {
	// UnderReplicated counts the partitions this broker leads whose
	// persisted ISR is smaller than their replica set.
	UnderReplicated int
	// UnderMinISR counts the partitions this broker leads whose
	// persisted ISR is smaller than their min.insync.replicas.
	UnderMinISR int
	// ActiveController reports whether this broker is the controller.
	ActiveController bool
	// Offline counts the partitions without a leader; only the
	// controller reports it (0 elsewhere), as Kafka's active controller.
	Offline int
}

// RegisterCluster adds a collector that reads the cluster's health at
// scrape time from stat (one call per scrape).
func (m *Metrics) RegisterCluster(stat func() ClusterStat) {
	m.Registry.MustRegister(&clusterCollector{stat: stat})
}

var (
	descUnderReplicated = prometheus.NewDesc("kafki_under_replicated_partitions",
		"Partitions this broker leads whose ISR is smaller than their replicas (Kafka's kafka.server:type=ReplicaManager,name=UnderReplicatedPartitions).", nil, nil)
	descUnderMinISR = prometheus.NewDesc("kafki_under_min_isr_partitions",
		"Partitions this broker leads whose ISR is smaller than min.insync.replicas: acks=all produces to them fail (Kafka's kafka.server:type=ReplicaManager,name=UnderMinIsrPartitionCount).", nil, nil)
	descActiveController = prometheus.NewDesc("kafki_active_controller",
		"1 if this broker holds the controller lease (Kafka's kafka.controller:type=KafkaController,name=ActiveControllerCount).", nil, nil)
	descOfflinePartitions = prometheus.NewDesc("kafki_offline_partitions",
		"Partitions without a leader, reported by the controller (0 on the other brokers): no replica may be elected, none is readable or writable (Kafka's kafka.controller:type=KafkaController,name=OfflinePartitionsCount).", nil, nil)
)

type clusterCollector struct{ stat func() ClusterStat }

func (c *clusterCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descUnderReplicated, descUnderMinISR, descActiveController, descOfflinePartitions} {
		ch <- d
	}
}

func (c *clusterCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.stat()
	active := 0.0
	if s.ActiveController {
		active = 1
	}
	ch <- prometheus.MustNewConstMetric(descUnderReplicated, prometheus.GaugeValue, float64(s.UnderReplicated))
	ch <- prometheus.MustNewConstMetric(descUnderMinISR, prometheus.GaugeValue, float64(s.UnderMinISR))
	ch <- prometheus.MustNewConstMetric(descActiveController, prometheus.GaugeValue, active)
	ch <- prometheus.MustNewConstMetric(descOfflinePartitions, prometheus.GaugeValue, float64(s.Offline))
}

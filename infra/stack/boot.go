package stack

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Paths on a broker instance.
const (
	BinDir      = "/opt/kafki/bin"
	EtcDir      = "/etc/kafki"
	DataMount   = "/var/lib/kafki"
	DataDir     = DataMount + "/data"
	LogDir      = "/var/log/kafki"
	BrokerLog   = LogDir + "/brokerd.log"
	TriggersLog = LogDir + "/kafki-triggers.log"
	AgentConfig = "/opt/aws/amazon-cloudwatch-agent/etc/kafki.json"
)

// BrokerBoot is what one broker instance's first boot needs. String fields
// may hold CDK tokens (table and bucket names, ARNs); they are resolved
// in the user data CloudFormation renders.
type BrokerBoot struct {
	NodeID        int
	Cluster       string
	Advertised    string // host:port clients are told
	ENI           string // the broker's own network interface (its stable address)
	Region        string
	Table         string
	Bucket        string
	Storage       string
	RetentionDays int
	Replication   int
	Shutdown      time.Duration
	BrokerLogs    string // log group of brokerd's JSON log
	MetricsLogs   string // log group of the EMF records the agent writes
	// TriggerRole and TriggersJSON configure kafki-triggers; empty
	// TriggerRole: the runner is not installed.
	TriggerRole  string
	TriggersJSON string
	Bootstrap    string
	// Name is the broker's DNS name; Secure, when set, makes the broker
	// serve SASL_SSL (-c security=sasl_ssl).
	Name   string
	Secure *SecureBoot
}

// BrokerEnv is brokerd's environment: every setting by its Kafka name
// (KAFKI_<NAME>, see brokerd --help). KAFKI_BROKER_RACK is the AZ, read
// from the instance metadata at boot ($AZ in the boot script).
func BrokerEnv(b BrokerBoot) string {
	lines := []string{
		fmt.Sprintf("KAFKI_NODE_ID=%d", b.NodeID),
		"KAFKI_BROKER_RACK=$AZ",
		// Consumers that set client.rack to their AZ read from the
		// replica in it (KIP-392) and pay no cross-AZ transfer.
		"KAFKI_REPLICA_SELECTOR_CLASS=org.apache.kafka.common.replica.RackAwareReplicaSelector",
	}
	if b.Secure != nil {
		lines = append(lines, SecureEnv(b)...)
	} else {
		lines = append(lines, fmt.Sprintf("KAFKI_LISTEN=0.0.0.0:%d", ClientPort), "KAFKI_ADVERTISED_LISTENER="+b.Advertised)
	}
	lines = append(lines,
		"KAFKI_CLUSTER_ID="+b.Cluster,
		"KAFKI_DATA_DIR="+DataDir,
		"KAFKI_METADATA_STORE=dynamodb",
		"KAFKI_METADATA_TABLE="+b.Table,
		"KAFKI_TIER_S3_BUCKET="+b.Bucket,
		fmt.Sprintf("KAFKI_METRICS_LISTEN=127.0.0.1:%d", MetricsPort),
		"KAFKI_LOG_FORMAT=json",
		fmt.Sprintf("KAFKI_LOG_RETENTION=%dh", 24*b.RetentionDays),
		fmt.Sprintf("KAFKI_DEFAULT_REPLICATION_FACTOR=%d", b.Replication),
		fmt.Sprintf("KAFKI_OFFSETS_TOPIC_REPLICATION_FACTOR=%d", b.Replication),
		"KAFKI_SHUTDOWN_TIMEOUT="+b.Shutdown.String(),
		"AWS_REGION="+b.Region,
	)
	return strings.Join(lines, "\n") + "\n"
}

// StopTimeout is systemd's TimeoutStopSec for brokerd: the broker's
// shutdown timeout plus StopMargin for the leadership handover.
func StopTimeout(shutdown time.Duration) time.Duration { return shutdown + StopMargin }

// BrokerUnit is brokerd's systemd unit. SIGTERM is the broker's
// controlled shutdown (hand leaderships over, finish in-flight requests,
// flush, close); systemd waits StopTimeout before SIGKILL. The unit is
// ordered after the network and the data mount, so at instance shutdown
// it stops before either goes away.
func BrokerUnit(shutdown time.Duration) string {
	return fmt.Sprintf(`[Unit]
Description=Kafki broker
Wants=network-online.target
After=network-online.target kafki-eni.service
RequiresMountsFor=%[1]s

[Service]
Type=simple
User=kafki
Group=kafki
EnvironmentFile=%[2]s/brokerd.env
ExecStart=%[3]s/brokerd
KillSignal=SIGTERM
KillMode=mixed
TimeoutStopSec=%[4]d
Restart=on-failure
RestartSec=2
LimitNOFILE=1048576
StandardOutput=append:%[5]s
StandardError=append:%[5]s

[Install]
WantedBy=multi-user.target
`, DataMount, EtcDir, BinDir, int(StopTimeout(shutdown).Seconds()), BrokerLog)
}

// TriggersUnit runs kafki-triggers beside the broker, under a role of its
// own (the AWS profile "triggers" assumes it from the instance's role).
func TriggersUnit() string {
	return fmt.Sprintf(`[Unit]
Description=Kafki Lambda trigger runner
Wants=network-online.target
After=network-online.target kafki.service

[Service]
Type=simple
User=kafki-triggers
Environment=AWS_CONFIG_FILE=%[1]s/triggers-aws-config
Environment=AWS_PROFILE=triggers
EnvironmentFile=%[1]s/triggers.env
ExecStart=%[2]s/kafki-triggers --declare=%[1]s/triggers.json
KillSignal=SIGTERM
TimeoutStopSec=60
Restart=always
RestartSec=5
StandardOutput=append:%[3]s
StandardError=append:%[3]s

[Install]
WantedBy=multi-user.target
`, EtcDir, BinDir, TriggersLog)
}

// triggersSecurityEnv is kafki-triggers' login (sasl_ssl): SCRAM-SHA-512
// as the consumers' user, the brokers' certificates checked against the
// stack's CA.
func triggersSecurityEnv(b BrokerBoot) string {
	if b.Secure == nil {
		return ""
	}
	return "KAFKI_SECURITY_PROTOCOL=SASL_SSL\nKAFKI_SASL_MECHANISM=SCRAM-SHA-512\n" +
		"KAFKI_SASL_SECRET_FILE=" + ConsumerFile + "\nKAFKI_SSL_TRUSTSTORE_LOCATION=" + ConsumerCAFile + "\n"
}

// PrometheusMetrics are the broker metrics the CloudWatch agent publishes
// (namespace Kafki, dimensions cluster and node). Per-topic and
// per-partition series are published without their topic and partition
// labels: CloudWatch then aggregates them per broker (Sum of the bytes,
// Maximum of offline), which keeps the metric count, and its cost, per
// broker rather than per partition; so are the session and controller
// series of kafki_lease_renewal_failures_total (label lease).
var PrometheusMetrics = []string{
	"kafki_network_received_bytes_total",
	"kafki_network_sent_bytes_total",
	"kafki_topic_produced_bytes_total",
	"kafki_topic_produced_records_total",
	"kafki_topic_fetched_bytes_total",
	"kafki_connections",
	"kafki_partition_offline",
	"kafki_partition_leader",
	"kafki_partition_tier_lag_bytes",
	"kafki_partition_size_bytes",
	"kafki_dynamodb_requests_total",
	"kafki_request_errors_total",
	"kafki_under_replicated_partitions",
	"kafki_under_min_isr_partitions",
	"kafki_offline_partitions",
	"kafki_active_controller",
	"kafki_isr_shrinks_total",
	"kafki_isr_expands_total",
	"kafki_lease_renewal_failures_total",
	"kafki_broker_fenced_total",
}

// MetricNamespace is where the broker's metrics land in CloudWatch.
const MetricNamespace = "Kafki"

// AgentConfig is the CloudWatch agent's configuration: the data disk's
// use (CWAgent namespace, per Auto Scaling group, which is stable across
// replacements of a broker), brokerd's log file, and the Prometheus
// endpoint turned into EMF records.
func AgentConfigJSON(b BrokerBoot) string {
	selectors := make([]string, len(PrometheusMetrics))
	for i, m := range PrometheusMetrics {
		selectors[i] = "^" + m + "$"
	}
	files := []map[string]any{{
		"file_path": BrokerLog, "log_group_name": b.BrokerLogs,
		"log_stream_name": fmt.Sprintf("broker-%d/brokerd", b.NodeID), "timezone": "UTC",
	}}
	if b.TriggerRole != "" {
		files = append(files, map[string]any{
			"file_path": TriggersLog, "log_group_name": b.BrokerLogs,
			"log_stream_name": fmt.Sprintf("broker-%d/kafki-triggers", b.NodeID), "timezone": "UTC",
		})
	}
	cfg := map[string]any{
		"agent": map[string]any{"metrics_collection_interval": 60, "run_as_user": "root"},
		"metrics": map[string]any{
			"namespace":              "CWAgent",
			"append_dimensions":      map[string]string{"AutoScalingGroupName": "${aws:AutoScalingGroupName}"},
			"aggregation_dimensions": [][]string{{"AutoScalingGroupName"}},
			"metrics_collected": map[string]any{
				"disk": map[string]any{"measurement": []string{"used_percent"}, "resources": []string{DataMount}, "drop_device": true},
				"mem":  map[string]any{"measurement": []string{"mem_used_percent"}},
			},
		},
		"logs": map[string]any{
			"logs_collected": map[string]any{"files": map[string]any{"collect_list": files}},
			"metrics_collected": map[string]any{"prometheus": map[string]any{
				"log_group_name":         b.MetricsLogs,
				"prometheus_config_path": EtcDir + "/prometheus.yaml",
				"emf_processor": map[string]any{
					"metric_namespace": MetricNamespace,
					"metric_declaration": []map[string]any{{
						"source_labels":    []string{"job"},
						"label_matcher":    "^kafki$",
						"dimensions":       [][]string{{"cluster", "node"}},
						"metric_selectors": selectors,
					}},
				},
			}},
		},
	}
	out, _ := json.MarshalIndent(cfg, "", "  ")
	return string(out) + "\n"
}

// PrometheusConfig is the agent's scrape configuration: brokerd's
// loopback endpoint, labelled with the cluster and the broker's id.
func PrometheusConfig(b BrokerBoot) string {
	return fmt.Sprintf(`global:
  scrape_interval: 60s
  scrape_timeout: 10s
scrape_configs:
  - job_name: kafki
    static_configs:
      - targets: ["127.0.0.1:%d"]
        labels:
          cluster: %q
          node: "%d"
`, MetricsPort, b.Cluster, b.NodeID)
}

// BootScript is the first-boot script of a broker instance (Amazon Linux
// 2023): mount the hot-log disk, attach the broker's own network
// interface (whose private address the broker's DNS name points at, so a
// replacement instance takes the same name), install the binaries the
// user data downloaded, configure the CloudWatch agent and start brokerd.
// The binaries are at /tmp/kafki-assets/<name> (user data downloads them
// from the CDK asset bucket before this runs).
func BootScript(b BrokerBoot) string {
	var s strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&s, format, args...) }
	w(`set -euo pipefail
exec > >(tee -a /var/log/kafki-boot.log) 2>&1
REGION=%s
ENI=%s
IMDS=$(curl -sS -X PUT http://169.254.169.254/latest/api/token -H 'X-aws-ec2-metadata-token-ttl-seconds: 600')
md() { curl -sS -H "X-aws-ec2-metadata-token: $IMDS" "http://169.254.169.254/latest/meta-data/$1"; }
AZ=$(md placement/availability-zone)
INSTANCE=$(md instance-id)
echo "kafki broker %d in $AZ on $INSTANCE"

dnf install -y -q amazon-cloudwatch-agent xfsprogs logrotate jq
`, b.Region, b.ENI, b.NodeID)

	// The hot-log disk.
	if b.Storage == StorageInstance {
		w(`# instance store: the first NVMe instance-storage device (a new instance has a blank one)
DEV=$(lsblk -dpno NAME,MODEL | awk '/Instance Storage/ {print $1; exit}')
`)
	} else {
		w(`# gp3 volume of the launch template (/dev/sdf, an NVMe device on Nitro)
for i in $(seq 1 60); do [ -e /dev/sdf ] && break; sleep 2; done
DEV=$(readlink -f /dev/sdf)
`)
	}
	w(`[ -n "$DEV" ] || { echo "no data disk found"; exit 1; }
blkid "$DEV" >/dev/null || mkfs.xfs -q "$DEV"
mkdir -p %[1]s
echo "UUID=$(blkid -s UUID -o value "$DEV") %[1]s xfs defaults,noatime,nofail 0 2" >> /etc/fstab
mount %[1]s
`, DataMount)

	// The stable address.
	w(`# the broker's own network interface: wait until the instance it served is gone
for i in $(seq 1 120); do
  read -r STATUS OWNER < <(aws ec2 describe-network-interfaces --region "$REGION" --network-interface-ids "$ENI" \
    --query 'NetworkInterfaces[0].[Status,Attachment.InstanceId]' --output text)
  [ "$OWNER" = "$INSTANCE" ] && break
  if [ "$STATUS" = available ]; then
    aws ec2 attach-network-interface --region "$REGION" --network-interface-id "$ENI" --instance-id "$INSTANCE" --device-index 1 && continue
  elif [ "$STATUS" = in-use ] && [ "$OWNER" != None ]; then
    OWNER_STATE=$(aws ec2 describe-instances --region "$REGION" --instance-ids "$OWNER" --query 'Reservations[0].Instances[0].State.Name' --output text || echo gone)
    case "$OWNER_STATE" in running|pending) ;; *) aws ec2 detach-network-interface --region "$REGION" --attachment-id \
      "$(aws ec2 describe-network-interfaces --region "$REGION" --network-interface-ids "$ENI" --query 'NetworkInterfaces[0].Attachment.AttachmentId' --output text)" --force || true ;; esac
  fi
  sleep 5
done
ENI_IP=$(aws ec2 describe-network-interfaces --region "$REGION" --network-interface-ids "$ENI" --query 'NetworkInterfaces[0].PrivateIpAddress' --output text)
for i in $(seq 1 60); do ip -4 -o addr | grep -q " $ENI_IP/" && break; sleep 2; done
`)

	// Users, binaries, configuration.
	w(`id kafki >/dev/null 2>&1 || useradd --system --home-dir %[1]s --shell /sbin/nologin kafki
mkdir -p %[2]s %[3]s %[4]s %[5]s
install -m 0755 /tmp/kafki-assets/brokerd /tmp/kafki-assets/kafki %[3]s/
chown kafki:kafki %[1]s %[2]s
chown kafki:kafki %[4]s
cat > %[5]s/brokerd.env <<EOF
%[6]sEOF
cat > /etc/systemd/system/kafki.service <<'EOF'
%[7]sEOF
cat > /etc/logrotate.d/kafki <<'EOF'
%[4]s/*.log {
  daily
  rotate 3
  compress
  missingok
  copytruncate
}
EOF
cat > %[5]s/prometheus.yaml <<'EOF'
%[8]sEOF
cat > %[9]s <<'EOF'
%[10]sEOF
`, DataMount, DataDir, BinDir, LogDir, EtcDir, BrokerEnv(b), BrokerUnit(b.Shutdown), PrometheusConfig(b), AgentConfig, AgentConfigJSON(b))
	if b.Secure != nil {
		s.WriteString(secretFetchScript(b))
		if b.TriggerRole == "" && len(b.Secure.Topics) > 0 {
			w("install -m 0755 /tmp/kafki-assets/kafki-triggers %s/\n", BinDir)
		}
	}

	if b.TriggerRole != "" {
		w(`id kafki-triggers >/dev/null 2>&1 || useradd --system --no-create-home --shell /sbin/nologin kafki-triggers
install -m 0755 /tmp/kafki-assets/kafki-triggers %[1]s/
cat > %[2]s/triggers-aws-config <<'EOF'
[profile triggers]
role_arn = %[3]s
credential_source = Ec2InstanceMetadata
region = %[4]s
EOF
cat > %[2]s/triggers.env <<'EOF'
KAFKI_BOOTSTRAP_SERVER=%[5]s
KAFKI_ADMIN=http://127.0.0.1:%[9]d
AWS_REGION=%[4]s
%[10]sEOF
cat > %[2]s/triggers.json <<'EOF'
%[6]s
EOF
cat > /etc/systemd/system/kafki-triggers.service <<'EOF'
%[7]sEOF
touch %[8]s && chown kafki-triggers %[8]s
`, BinDir, EtcDir, b.TriggerRole, b.Region, b.Bootstrap, b.TriggersJSON, TriggersUnit(), TriggersLog, MetricsPort, triggersSecurityEnv(b))
		if b.Secure != nil {
			w("fetch %q . %s kafki-triggers\nfetch %q .certificate %s kafki-triggers\n", b.Secure.Consumer, ConsumerFile, b.Secure.RootCA, ConsumerCAFile)
		}
	}

	w(`touch %[1]s && chown kafki:kafki %[1]s
systemctl daemon-reload
systemctl enable --now kafki.service
`, BrokerLog)
	if b.Secure != nil {
		s.WriteString(usersScript(b))
	}
	if b.TriggerRole != "" {
		w("systemctl enable --now kafki-triggers.service\n")
	}
	w("/opt/aws/amazon-cloudwatch-agent/bin/amazon-cloudwatch-agent-ctl -a fetch-config -m ec2 -c file:%s -s\n", AgentConfig)
	return s.String()
}

package stack

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatchactions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssnssubscriptions"
	"github.com/aws/aws-cdk-go/awscdk/v2/interfaces/interfacesawscloudwatch"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// Log-derived metrics, for what the broker exports no counter of: the
// controller's fencing of a broker whose session lapsed (a broker that
// died cannot count its own fencing; kafki_broker_fenced_total counts
// only those that noticed). brokerd/cluster logs each as one JSON line.
var logMetrics = []struct{ Name, Pattern string }{
	{"BrokersFenced", `{ $.msg = "broker session lapsed; fenced" }`},
}

// Observability is the dashboard and the alarms that page (to the Alarms
// topic; -c alarmEmail subscribes an address).
type Observability struct {
	constructs.Construct
	Dashboard awscloudwatch.Dashboard
	Alarms    awssns.Topic
}

func brokerMetric(c Config, name, stat string, node int) awscloudwatch.Metric {
	return awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
		Namespace: jsii.String(MetricNamespace), MetricName: jsii.String(name),
		DimensionsMap: &map[string]*string{"cluster": jsii.String(c.StackName), "node": jsii.String(fmt.Sprint(node))},
		Statistic:     jsii.String(stat), Period: awscdk.Duration_Minutes(jsii.Number(1)),
	})
}

// labelled is m for a graph. Alarms take metrics without a label: a label
// makes CDK render the alarm as metric math, which MiniStack refuses.
func labelled(m awscloudwatch.Metric, node int) awscloudwatch.IMetric {
	return m.With(&awscloudwatch.MetricOptions{Label: jsii.String(fmt.Sprintf("broker %d", node))})
}

func perBroker(c Config, name, stat string) *[]awscloudwatch.IMetric {
	var ms []awscloudwatch.IMetric
	for id := 1; id <= c.Brokers; id++ {
		ms = append(ms, labelled(brokerMetric(c, name, stat, id), id))
	}
	return &ms
}

// series is one metric per broker on a graph of several metrics, each
// labelled "broker N what".
func series(c Config, name, stat, what string) []awscloudwatch.IMetric {
	var ms []awscloudwatch.IMetric
	for id := 1; id <= c.Brokers; id++ {
		ms = append(ms, brokerMetric(c, name, stat, id).With(&awscloudwatch.MetricOptions{Label: jsii.String(fmt.Sprintf("broker %d %s", id, what))}))
	}
	return ms
}

// brokerAlarms are the alarms that page, per broker, on the broker's own
// metrics: each names one metric (dimensions cluster, node), and a
// missing datapoint is not breaching (NotReporting pages for a broker
// that stops reporting).
var brokerAlarms = []struct {
	ID, Description, Metric, Stat string
	Threshold                     float64
	Comparison                    awscloudwatch.ComparisonOperator
	Periods                       float64
	PeriodMinutes                 float64
}{
	{"OfflinePartitions", "broker %d has a partition offline after a local I/O error", "kafki_partition_offline", "Maximum",
		0, awscloudwatch.ComparisonOperator_GREATER_THAN_THRESHOLD, 2, 1},
	{"TierLag", "broker %d holds over 10 GiB of sealed segments not uploaded to S3 for 15 minutes", "kafki_partition_tier_lag_bytes", "Sum",
		10 << 30, awscloudwatch.ComparisonOperator_GREATER_THAN_THRESHOLD, 15, 1},
	// Kafka's UnderReplicatedPartitions > 0: a follower out of the ISR
	// for 5 minutes (longer than a rolling restart keeps one out).
	{"UnderReplicated", "broker %d leads partitions with a replica out of the ISR for 5 minutes", "kafki_under_replicated_partitions", "Maximum",
		0, awscloudwatch.ComparisonOperator_GREATER_THAN_THRESHOLD, 5, 1},
	// Kafka's OfflinePartitionsCount > 0 on the active controller: only
	// the controller reports a value above 0, so whichever broker it is,
	// its alarm pages.
	{"LeaderlessPartitions", "broker %d, as the controller, reports partitions without a leader (no in-sync replica alive): unreadable and unwritable", "kafki_offline_partitions", "Maximum",
		0, awscloudwatch.ComparisonOperator_GREATER_THAN_THRESHOLD, 1, 1},
	// The session and controller series summed: renewals fail every
	// third of a lease while DynamoDB is throttled or unreachable.
	{"LeaseRenewalFailures", "broker %d's lease renewals failing (DynamoDB throttled or unreachable): it will stop acknowledging and be fenced", "kafki_lease_renewal_failures_total", "Sum",
		3, awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD, 1, 5},
}

// NewObservability creates the dashboard, the log metric filter and the
// alarms. b.Groups is empty in emulator mode (no disk alarms then).
func NewObservability(scope constructs.Construct, id string, c Config, b *Brokers, cons *Consumers) *Observability {
	o := &Observability{Construct: constructs.NewConstruct(scope, jsii.String(id))}
	o.Alarms = awssns.NewTopic(o.Construct, jsii.String("Alarms"), &awssns.TopicProps{
		DisplayName: jsii.String("Kafki " + c.StackName + " alarms"),
		EnforceSSL:  jsii.Bool(true),
	})
	if c.AlarmEmail != "" {
		o.Alarms.AddSubscription(awssnssubscriptions.NewEmailSubscription(jsii.String(c.AlarmEmail), nil))
	}
	action := awscloudwatchactions.NewSnsAction(o.Alarms)
	page := func(a awscloudwatch.Alarm) { a.AddAlarmAction(action); a.AddOkAction(action) }

	logMetric := map[string]awscloudwatch.Metric{}
	for _, lm := range logMetrics {
		// One metric per cluster (the name carries the stack name):
		// a filter with dimensions cannot have a default value.
		awslogs.NewMetricFilter(o.Construct, jsii.String(lm.Name+"Filter"), &awslogs.MetricFilterProps{
			LogGroup:        b.BrokerLogs,
			FilterPattern:   awslogs.FilterPattern_Literal(jsii.String(lm.Pattern)),
			MetricNamespace: jsii.String(MetricNamespace),
			MetricName:      jsii.String(lm.Name + "-" + c.StackName),
			MetricValue:     jsii.String("1"),
			DefaultValue:    jsii.Number(0),
		})
		logMetric[lm.Name] = awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
			Namespace: jsii.String(MetricNamespace), MetricName: jsii.String(lm.Name + "-" + c.StackName),
			Statistic: jsii.String("Sum"), Period: awscdk.Duration_Minutes(jsii.Number(1)),
		})
	}

	var alarms []interfacesawscloudwatch.IAlarmRef
	for id := 1; id <= c.Brokers; id++ {
		for _, ba := range brokerAlarms {
			a := awscloudwatch.NewAlarm(o.Construct, jsii.String(fmt.Sprintf("Broker%d%s", id, ba.ID)), &awscloudwatch.AlarmProps{
				AlarmDescription: jsii.String(fmt.Sprintf(ba.Description, id)),
				Metric: brokerMetric(c, ba.Metric, ba.Stat, id).With(&awscloudwatch.MetricOptions{
					Period: awscdk.Duration_Minutes(jsii.Number(ba.PeriodMinutes))}),
				Threshold:          jsii.Number(ba.Threshold),
				ComparisonOperator: ba.Comparison,
				EvaluationPeriods:  jsii.Number(ba.Periods),
				TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
			})
			page(a)
			alarms = append(alarms, a)
		}
		// A broker that stops reporting: its agent, its instance or brokerd is gone.
		down := awscloudwatch.NewAlarm(o.Construct, jsii.String(fmt.Sprintf("Broker%dNotReporting", id)), &awscloudwatch.AlarmProps{
			AlarmDescription:   jsii.String(fmt.Sprintf("broker %d has reported no metrics for 5 minutes", id)),
			Metric:             brokerMetric(c, "kafki_connections", "SampleCount", id),
			Threshold:          jsii.Number(1),
			ComparisonOperator: awscloudwatch.ComparisonOperator_LESS_THAN_THRESHOLD,
			EvaluationPeriods:  jsii.Number(5),
			TreatMissingData:   awscloudwatch.TreatMissingData_BREACHING,
		})
		page(down)
		alarms = append(alarms, down)
	}
	diskMetrics := []awscloudwatch.IMetric{}
	for i, g := range b.Groups {
		m := awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
			Namespace: jsii.String("CWAgent"), MetricName: jsii.String("disk_used_percent"),
			DimensionsMap: &map[string]*string{"AutoScalingGroupName": g.AutoScalingGroupName()},
			Statistic:     jsii.String("Maximum"), Period: awscdk.Duration_Minutes(jsii.Number(1)),
		})
		diskMetrics = append(diskMetrics, labelled(m, i+1))
		a := awscloudwatch.NewAlarm(o.Construct, jsii.String(fmt.Sprintf("Broker%dDisk", i+1)), &awscloudwatch.AlarmProps{
			AlarmDescription:   jsii.String(fmt.Sprintf("broker %d's hot-log disk is over 80%% full", i+1)),
			Metric:             m,
			Threshold:          jsii.Number(80),
			ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_THRESHOLD,
			EvaluationPeriods:  jsii.Number(5),
			TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
		})
		page(a)
		alarms = append(alarms, a)
	}
	o.Dashboard = awscloudwatch.NewDashboard(o.Construct, jsii.String("Dashboard"), &awscloudwatch.DashboardProps{
		DefaultInterval: awscdk.Duration_Hours(jsii.Number(3)),
	})
	graph := func(title string, left *[]awscloudwatch.IMetric) awscloudwatch.GraphWidget {
		return awscloudwatch.NewGraphWidget(&awscloudwatch.GraphWidgetProps{Title: jsii.String(title), Left: left, Width: jsii.Number(8)})
	}
	o.Dashboard.AddWidgets(
		graph("Produced bytes / min", perBroker(c, "kafki_topic_produced_bytes_total", "Sum")),
		graph("Fetched bytes / min", perBroker(c, "kafki_topic_fetched_bytes_total", "Sum")),
		graph("Network in / out bytes / min", perBroker(c, "kafki_network_received_bytes_total", "Sum")),
	)
	urp := append(series(c, "kafki_under_replicated_partitions", "Maximum", "under-replicated"),
		series(c, "kafki_under_min_isr_partitions", "Maximum", "under min ISR")...)
	isrChanges := append(series(c, "kafki_isr_shrinks_total", "Sum", "shrinks"),
		series(c, "kafki_isr_expands_total", "Sum", "expands")...)
	leases := append(series(c, "kafki_lease_renewal_failures_total", "Sum", "renewal failures"),
		series(c, "kafki_broker_fenced_total", "Sum", "lost its session")...)
	leases = append(leases, logMetric["BrokersFenced"].With(&awscloudwatch.MetricOptions{Label: jsii.String("brokers fenced by the controller (from logs)")}))
	o.Dashboard.AddWidgets(
		graph("Under-replicated / under min ISR partitions (led)", &urp),
		graph("Partitions without a leader (the controller's)", perBroker(c, "kafki_offline_partitions", "Maximum")),
		graph("Offline partitions (local I/O error)", perBroker(c, "kafki_partition_offline", "Maximum")),
	)
	o.Dashboard.AddWidgets(
		graph("ISR shrinks / expands per min", &isrChanges),
		graph("Lease renewal failures, fencings per min", &leases),
		graph("Active controller", perBroker(c, "kafki_active_controller", "Maximum")),
	)
	o.Dashboard.AddWidgets(
		graph("Tier upload lag bytes", perBroker(c, "kafki_partition_tier_lag_bytes", "Sum")),
		graph("Hot-log disk used %", &diskMetrics),
		graph("Partitions led", perBroker(c, "kafki_partition_leader", "Sum")),
	)
	var fnErrors, fnDuration []awscloudwatch.IMetric
	for _, name := range c.Functions {
		fn := cons.Functions[name]
		fnErrors = append(fnErrors, fn.MetricErrors(nil))
		fnDuration = append(fnDuration, fn.MetricDuration(nil))
	}
	o.Dashboard.AddWidgets(
		graph("Trigger function errors", &fnErrors),
		graph("Trigger function duration", &fnDuration),
		graph("DynamoDB requests / min (control plane)", perBroker(c, "kafki_dynamodb_requests_total", "Sum")),
		awscloudwatch.NewTextWidget(&awscloudwatch.TextWidgetProps{Width: jsii.Number(24), Height: jsii.Number(2), Markdown: jsii.String(
			"Trigger lag: `kafki groups describe --group kafki-trigger-...` until kafki-triggers exports a lag metric. " +
				"Which partitions are under-replicated or without a leader: `kafki cluster describe`.")}),
		awscloudwatch.NewAlarmStatusWidget(&awscloudwatch.AlarmStatusWidgetProps{Alarms: &alarms, Width: jsii.Number(24), Title: jsii.String("Alarms that page")}),
	)
	return o
}

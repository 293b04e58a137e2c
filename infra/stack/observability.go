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

// Log-derived metrics: the broker exports no counter for these yet, but
// logs each event as one JSON line (brokerd/node, brokerd/cluster).
var logMetrics = []struct{ Name, Pattern string }{
	{"LeaseRenewalFailures", `{ $.msg = "session lease renewal failed" || $.msg = "controller lease renewal failed" || $.msg = "session lease lost*" }`},
	{"IsrShrinks", `{ $.msg = "followers fell behind; shrinking the ISR" }`},
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

// NewObservability creates the dashboard, the log metric filters and the
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
		a := awscloudwatch.NewAlarm(o.Construct, jsii.String(fmt.Sprintf("Broker%dOfflinePartitions", id)), &awscloudwatch.AlarmProps{
			AlarmDescription:   jsii.String(fmt.Sprintf("broker %d has a partition offline after a local I/O error", id)),
			Metric:             brokerMetric(c, "kafki_partition_offline", "Maximum", id),
			Threshold:          jsii.Number(0),
			ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_THRESHOLD,
			EvaluationPeriods:  jsii.Number(2),
			TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
		})
		page(a)
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
		lag := awscloudwatch.NewAlarm(o.Construct, jsii.String(fmt.Sprintf("Broker%dTierLag", id)), &awscloudwatch.AlarmProps{
			AlarmDescription:   jsii.String(fmt.Sprintf("broker %d holds over 10 GiB of sealed segments not uploaded to S3 for 15 minutes", id)),
			Metric:             brokerMetric(c, "kafki_partition_tier_lag_bytes", "Sum", id),
			Threshold:          jsii.Number(10 << 30),
			ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_THRESHOLD,
			EvaluationPeriods:  jsii.Number(15),
			TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
		})
		page(lag)
		alarms = append(alarms, a, down, lag)
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
	lease := awscloudwatch.NewAlarm(o.Construct, jsii.String("LeaseRenewalFailures"), &awscloudwatch.AlarmProps{
		AlarmDescription:   jsii.String("lease renewals failing (DynamoDB throttled or unreachable): brokers will stop acknowledging"),
		Metric:             logMetric["LeaseRenewalFailures"].With(&awscloudwatch.MetricOptions{Period: awscdk.Duration_Minutes(jsii.Number(5))}),
		Threshold:          jsii.Number(3),
		ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
		EvaluationPeriods:  jsii.Number(1),
		TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
	})
	page(lease)
	alarms = append(alarms, lease)

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
	o.Dashboard.AddWidgets(
		graph("Offline partitions (local I/O error)", perBroker(c, "kafki_partition_offline", "Maximum")),
		graph("ISR shrinks (under-replication events, from logs)", &[]awscloudwatch.IMetric{logMetric["IsrShrinks"], logMetric["BrokersFenced"]}),
		graph("Lease renewal failures (from logs)", &[]awscloudwatch.IMetric{logMetric["LeaseRenewalFailures"]}),
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
				"Under-replicated partitions: `kafki cluster describe` (the broker exports no gauge yet; ISR shrinks above come from its log).")}),
		awscloudwatch.NewAlarmStatusWidget(&awscloudwatch.AlarmStatusWidgetProps{Alarms: &alarms, Width: jsii.Number(24), Title: jsii.String("Alarms that page")}),
	)
	return o
}

package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cftypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
)

// cdkTimeout bounds one CDK CLI command; the app's first Go build is
// about 40 s on two cores, a deploy onto an emulator seconds.
const cdkTimeout = 5 * time.Minute

// deployment is the stack the suite deployed with the CDK CLI.
type deployment struct {
	stack    string
	assembly string            // the synthesized cloud assembly (cdk.out)
	outputs  map[string]string // the stack's outputs, the only configuration the brokers get
	timings  map[string]time.Duration
	// viaCloudFormation: the CLI's deploy failed and the synthesized
	// template went through CreateStack instead.
	viaCloudFormation bool
}

// cdkContext is the app's context for the suite: emulator mode, the
// functions' assets, a table and bucket that cdk destroy may delete, and
// the trigger the suite checks, declared in the app.
func cdkContext(stack string, b binaries) []string {
	return []string{
		"-c", "emulator=true", "-c", "stackName=" + stack,
		"-c", "lambdaAssets=" + b.lambdas,
		"-c", "retain=false", "-c", "deletionProtection=false",
		"-c", "triggers=" + sinkTopic + "=dynamodb-sink",
	}
}

// cdk runs the CDK CLI from the repository root (cdk.json) against the
// emulator and returns its output.
func (e *emulator) cdk(ctx context.Context, b binaries, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, cdkTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, b.cdk, args...)
	cmd.Dir = b.root
	cmd.Env = append(e.env(e.cdkEndpoint),
		// The CLI caches the account per access key: a home of its own
		// per emulator (moto's account differs from MiniStack's).
		"CDK_HOME="+filepath.Join(e.dir, "cdk-home"),
		"CDK_DISABLE_CLI_TELEMETRY=1", "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20",
		"CI=true") // no progress bars
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("cdk %s: %w\n%s", strings.Join(args[:1], " "), err, tailOf(string(out), 4000))
	}
	return string(out), nil
}

// deploy synthesizes the app, bootstraps the emulator's environment and
// deploys the stack, timing each step; then it reads the outputs.
func deploy(t *testing.T, e *emulator, b binaries, stack string) *deployment {
	t.Helper()
	d := &deployment{stack: stack, assembly: filepath.Join(e.dir, "cdk.out"), timings: map[string]time.Duration{}}
	ctxArgs := cdkContext(stack, b)
	step := func(name string, args ...string) (string, error) {
		start := time.Now()
		out, err := e.cdk(t.Context(), b, args...)
		d.timings[name] = time.Since(start)
		return out, err
	}
	if _, err := step("synth", append([]string{"synth", "-q", "-o", d.assembly}, ctxArgs...)...); err != nil {
		t.Fatal(err)
	}
	if _, err := step("bootstrap", "bootstrap", "-q", "aws://"+e.account+"/"+region, "-a", d.assembly); err != nil {
		t.Fatal(err)
	}
	outFile := filepath.Join(e.dir, "outputs.json")
	_, err := step("deploy", "deploy", stack, "-a", d.assembly, "--require-approval", "never", "--outputs-file", outFile)
	if err != nil {
		if e.kind != moto {
			t.Fatal(err)
		}
		// The issue allows it on moto: the same template through
		// CloudFormation's own API.
		t.Logf("emulator difference: cdk deploy failed on moto; deploying the synthesized template with CreateStack: %v", err)
		d.timings["deploy (cdk, failed)"] = d.timings["deploy"]
		start := time.Now()
		d.createStack(t, e)
		d.timings["deploy"] = time.Since(start)
		d.viaCloudFormation = true
	}
	if !d.viaCloudFormation {
		d.outputs = readOutputs(t, outFile, stack)
	}
	if len(d.outputs) == 0 {
		t.Logf("emulator difference: %s's CloudFormation returned no stack outputs (AWS returns every Output); resolving them from the stack's resources", e.kind)
		d.outputs = d.resolveOutputs(t, e)
	}
	for _, k := range []string{"MetadataTable", "TierBucket", "SinkTable"} {
		if d.outputs[k] == "" {
			t.Fatalf("stack output %s missing: %v", k, d.outputs)
		}
	}
	t.Logf("deployed %s on %s: synth %v, bootstrap %v, deploy %v; outputs %v", stack, e.kind,
		d.timings["synth"].Round(time.Millisecond), d.timings["bootstrap"].Round(time.Millisecond),
		d.timings["deploy"].Round(time.Millisecond), keys(d.outputs))
	return d
}

// destroy runs cdk destroy and times it.
func (d *deployment) destroy(t *testing.T, e *emulator, b binaries) {
	t.Helper()
	start := time.Now()
	_, err := e.cdk(t.Context(), b, "destroy", d.stack, "-a", d.assembly, "--force")
	d.timings["destroy"] = time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
}

func readOutputs(t *testing.T, path, stack string) map[string]string {
	t.Helper()
	raw, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var all map[string]map[string]string
	if err := json.Unmarshal(raw, &all); err != nil {
		t.Fatalf("outputs file %s: %v", path, err)
	}
	return all[stack]
}

// template is the synthesized template of the stack.
func (d *deployment) template(t *testing.T) map[string]any {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(d.assembly, d.stack+".template.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// resolveOutputs computes the outputs that are a Ref to a resource (the
// table, the bucket, the function names) from the stack's resources, as
// CloudFormation would have.
func (d *deployment) resolveOutputs(t *testing.T, e *emulator) map[string]string {
	t.Helper()
	res, err := e.cloudformation().DescribeStackResources(t.Context(), &cloudformation.DescribeStackResourcesInput{StackName: aws.String(d.stack)})
	if err != nil {
		t.Fatalf("describe stack resources: %v", err)
	}
	physical := map[string]string{}
	for _, r := range res.StackResources {
		physical[aws.ToString(r.LogicalResourceId)] = aws.ToString(r.PhysicalResourceId)
	}
	out := map[string]string{}
	outputs, _ := d.template(t)["Outputs"].(map[string]any)
	for name, o := range outputs {
		v, _ := o.(map[string]any)["Value"].(map[string]any)
		if ref, ok := v["Ref"].(string); ok && physical[ref] != "" {
			out[name] = physical[ref]
		}
	}
	return out
}

// motoUnsupported are the resource types of the emulator-mode template
// that moto's CloudFormation cannot create, with what it does instead:
// found by deploying the template piece by piece onto moto 5.2.1.
var motoUnsupported = map[string]string{
	"AWS::SecretsManager::Secret": "a policy naming the secret by Ref fails with MalformedPolicyDocument (the Ref resolves to nothing)",
	"AWS::CloudWatch::Dashboard":  "the dashboard's Fn::GetAtt of an alarm's Arn is an undefined resource to moto",
}

// createStack deploys the synthesized template through CloudFormation's
// CreateStack, after removing what moto cannot create (motoUnsupported,
// each logged) and the policy statements and outputs that name it. The
// functions' zips are already in the bootstrap bucket: the CLI published
// the assets before its deploy failed. The CLI's failed attempt is
// deleted first.
func (d *deployment) createStack(t *testing.T, e *emulator) {
	t.Helper()
	tmpl := d.template(t)
	resources := tmpl["Resources"].(map[string]any)
	gone := map[string]bool{}
	for id, r := range resources {
		typ, _ := r.(map[string]any)["Type"].(string)
		if why, ok := motoUnsupported[typ]; ok {
			gone[id] = true
			delete(resources, id)
			t.Logf("emulator difference: moto cannot create %s (%s): %s; left out of its deployment", id, typ, why)
		}
	}
	names := func(v any) bool {
		b, _ := json.Marshal(v)
		for id := range gone {
			if strings.Contains(string(b), `"`+id+`"`) {
				return true
			}
		}
		return false
	}
	for _, r := range resources {
		rm := r.(map[string]any)
		if deps, ok := rm["DependsOn"].([]any); ok {
			var keep []any
			for _, dep := range deps {
				if !gone[dep.(string)] {
					keep = append(keep, dep)
				}
			}
			rm["DependsOn"] = keep
		}
		if rm["Type"] != "AWS::IAM::Policy" {
			continue
		}
		doc := rm["Properties"].(map[string]any)["PolicyDocument"].(map[string]any)
		var keep []any
		for _, st := range doc["Statement"].([]any) {
			if !names(st) {
				keep = append(keep, st)
			}
		}
		doc["Statement"] = keep
	}
	if outputs, ok := tmpl["Outputs"].(map[string]any); ok {
		for k, v := range outputs {
			if names(v) {
				delete(outputs, k)
			}
		}
	}
	body, err := json.Marshal(tmpl)
	if err != nil {
		t.Fatal(err)
	}
	cf := e.cloudformation()
	ctx := t.Context()
	if _, err := cf.DeleteStack(ctx, &cloudformation.DeleteStackInput{StackName: aws.String(d.stack)}); err != nil {
		t.Logf("delete the CLI's failed stack: %v", err)
	}
	must(t, time.Minute, "the CLI's failed stack deleted", func() error {
		out, err := cf.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String(d.stack)})
		if err != nil || len(out.Stacks) == 0 || out.Stacks[0].StackStatus == cftypes.StackStatusDeleteComplete {
			return nil
		}
		return fmt.Errorf("status %s", out.Stacks[0].StackStatus)
	})
	if _, err := cf.CreateStack(ctx, &cloudformation.CreateStackInput{
		StackName: aws.String(d.stack), TemplateBody: aws.String(string(body)),
		Capabilities: []cftypes.Capability{cftypes.CapabilityCapabilityIam, cftypes.CapabilityCapabilityNamedIam},
	}); err != nil {
		t.Fatalf("CreateStack: %v", err)
	}
	var outputs []cftypes.Output
	must(t, 2*time.Minute, "stack "+d.stack+" CREATE_COMPLETE", func() error {
		out, err := cf.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String(d.stack)})
		if err != nil {
			return err
		}
		if s := out.Stacks[0].StackStatus; s != cftypes.StackStatusCreateComplete {
			return fmt.Errorf("status %s (%s)", s, aws.ToString(out.Stacks[0].StackStatusReason))
		}
		outputs = out.Stacks[0].Outputs
		return nil
	})
	d.outputs = map[string]string{}
	for _, o := range outputs {
		d.outputs[aws.ToString(o.OutputKey)] = aws.ToString(o.OutputValue)
	}
}

func keys(m map[string]string) []string {
	var l []string
	for k := range m {
		l = append(l, k)
	}
	return l
}

func tailOf(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "..." + s[len(s)-n:]
}

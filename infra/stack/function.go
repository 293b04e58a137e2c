package stack

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// goFunction is one of Kafki's Go Lambda functions: the bootstrap that
// `make lambdas` builds for provided.al2023 under the assets directory,
// with a role of its own that may write only to its own log group (the
// caller grants the rest). The construct ids are the caller's, so that
// resources keep their logical ids in the template.
type goFunction struct {
	logsID, roleID, fnID string
	asset                string // directory holding bootstrap
	roleDescription      string
	description          string
	// environment is the function's environment, given its role (which
	// it may grant more to); nil: none.
	environment func(awsiam.Role) *map[string]*string
}

// checkAsset fails synth with a message a person can act on when the
// function's bootstrap was not built.
func checkAsset(dir, hint string) error {
	p := filepath.Join(dir, "bootstrap")
	if _, err := os.Stat(p); err != nil {
		return fmt.Errorf("lambda asset %s: not found; run `make lambdas` or give -c lambdaAssets=DIR%s", p, hint)
	}
	return nil
}

// add creates the log group, the role and the function in scope.
func (g goFunction) add(scope constructs.Construct) (awslambda.Function, awsiam.Role) {
	logs := awslogs.NewLogGroup(scope, jsii.String(g.logsID), &awslogs.LogGroupProps{
		Retention: awslogs.RetentionDays_ONE_MONTH, RemovalPolicy: awscdk.RemovalPolicy_DESTROY,
	})
	role := awsiam.NewRole(scope, jsii.String(g.roleID), &awsiam.RoleProps{
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String("lambda.amazonaws.com"), nil),
		Description: jsii.String(g.roleDescription),
	})
	logs.GrantWrite(role)
	var env *map[string]*string
	if g.environment != nil {
		env = g.environment(role)
	}
	fn := awslambda.NewFunction(scope, jsii.String(g.fnID), &awslambda.FunctionProps{
		Runtime:      awslambda.Runtime_PROVIDED_AL2023(),
		Architecture: awslambda.Architecture_X86_64(),
		Handler:      jsii.String("bootstrap"),
		Code:         awslambda.Code_FromAsset(jsii.String(g.asset), nil),
		MemorySize:   jsii.Number(256),
		Timeout:      awscdk.Duration_Seconds(jsii.Number(60)),
		Role:         role,
		LogGroup:     logs,
		Description:  jsii.String(g.description),
		Environment:  env,
	})
	return fn, role
}

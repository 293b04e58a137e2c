// Package e2e is the end-to-end suite of the whole Kafki stack on a local
// AWS emulator, with no AWS account: the CDK app in infra/ deployed in
// its emulator mode with the real CDK CLI (cdk synth, bootstrap, deploy,
// destroy) onto MiniStack or moto_server started on a free loopback port;
// three brokerd processes configured only from the stack's outputs (the
// metadata table, the tier bucket); kcat as the client; a leader
// SIGKILLed; tiered segments read back from the emulator's S3; the
// trigger declared in the CDK app running the real dynamodb-sink function
// in MiniStack's Lambda; cdk destroy checked by looking for the bucket and
// the table.
//
// Every check looks at an effect (records read back, objects listed,
// items scanned), never at a status code alone: an emulator answers 200
// for things it did not do. Where the emulators differ from each other or
// from AWS's documented behaviour, the suite logs it (lines starting
// "emulator difference:") and the code follows AWS.
//
// The tests are in _test.go files only: the suite is a test of the
// system, and nothing here is imported. It runs when KAFKI_LOCALSTACK is
// set (make localstack-test-short sets "short", make localstack-test
// "long"); otherwise it skips, saying so. The long version adds the
// failure cases: the emulator stopped and restarted under load, a failing
// function retried and dead-lettered, S3 errors from a fault proxy.
//
// It lives outside brokerd/, so it cannot use brokerd/internal's
// harnesses; it starts brokers with loadtest/brokerproc and waits with its
// own bounded poll (wait_test.go).
package e2e

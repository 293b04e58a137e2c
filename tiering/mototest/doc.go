// Package mototest runs a moto_server (a fake of AWS services: S3,
// DynamoDB, ...) for tests, on a free loopback port, and hands back its
// endpoint and a ready aws.Config.
//
// Typical use, one server per test package because moto starts slowly:
//
//	var moto *mototest.Server
//
//	func TestMain(m *testing.M) {
//		os.Exit(mototest.Main(m, &moto))
//	}
//
// or, in a single test, srv := mototest.StartT(t), stopped at cleanup.
//
// # Invariants
//
//   - Nothing global is set: no environment variable, no default client.
//     The returned aws.Config carries the endpoint (BaseEndpoint), region
//     us-east-1 and static fake credentials; services that need
//     path-style addressing (S3 on a loopback host) must ask for it.
//   - Start returns only once the server answers HTTP, and Close kills the
//     whole process group it started (moto forks a werkzeug worker) and
//     waits for it, so no server outlives the test binary's cleanup.
//   - A missing moto_server is reported with how to install it
//     (pip install 'moto[server]'), never as a hang.
package mototest

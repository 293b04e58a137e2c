package compare

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/kafki/kafki/loadtest/brokerproc"
)

// MotoServer is the program the Kafki cluster needs as its DynamoDB; its
// absence makes the Kafki three-node column NotAvailableNoMoto instead of
// a failure.
const MotoServer = "moto_server"

// NotAvailableNoMoto is what the Kafki column says for three replicas when
// moto_server (the local DynamoDB the cluster's metadata and leases live
// in) is not installed.
const NotAvailableNoMoto = "needs moto_server (pip install 'moto[server]')"

// ErrNoMoto means moto_server is not on PATH.
var ErrNoMoto = errors.New("moto_server not found on PATH (pip install 'moto[server]'): a Kafki cluster keeps its metadata and leases in DynamoDB")

// KafkiClusterOptions describe a Kafki cluster to start.
type KafkiClusterOptions struct {
	DevCluster string // the kafki-dev-cluster binary
	Brokerd    string // the brokerd binary
	Brokers    int
	Fsync      Fsync
	// Dir holds the brokerd wrapper, the brokers' data (a fresh
	// subdirectory removed by Stop) and the cluster's log.
	Dir     string
	Timeout time.Duration // bound on start-up, moto included
}

// StartKafkiCluster starts opts.Brokers brokers through kafki-dev-cluster
// (brokerproc.StartDevCluster) and waits until each accepts connections
// and the cluster's metadata lists all of them.
//
// kafki-dev-cluster passes the brokers no flags of ours and clears KAFKI_*
// from their environment, so, as for a single broker, a wrapper script
// execs brokerd with the fsync policy's flags appended (flags win over the
// KAFKI_* variables the harness sets; exec keeps the process id the
// harness reports, so RSS is sampled on brokerd itself).
func StartKafkiCluster(ctx context.Context, opts KafkiClusterOptions) (*brokerproc.DevCluster, error) {
	if _, err := exec.LookPath(MotoServer); err != nil {
		return nil, ErrNoMoto
	}
	brokerd, err := filepath.Abs(opts.Brokerd)
	if err == nil {
		_, err = os.Stat(brokerd)
	}
	if err != nil {
		return nil, fmt.Errorf("kafki binary: %w", err)
	}
	if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("kafki cluster dir: %w", err)
	}
	wrapper := filepath.Join(opts.Dir, "brokerd-cluster-"+string(opts.Fsync))
	script := "#!/bin/sh\nexec " + shellQuote(brokerd) + ` "$@" ` + strings.Join(opts.Fsync.KafkiFlags(), " ") + "\n"
	if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
		return nil, fmt.Errorf("kafki wrapper: %w", err)
	}
	return brokerproc.StartDevCluster(ctx, brokerproc.DevClusterOptions{DevCluster: opts.DevCluster, Brokerd: wrapper,
		Brokers: opts.Brokers, Dir: opts.Dir, Timeout: opts.Timeout})
}

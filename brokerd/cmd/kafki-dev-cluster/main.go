// Command kafki-dev-cluster runs a local multi-broker Kafki cluster for
// development: a moto_server as DynamoDB (or an endpoint given with
// --endpoint) and N brokerd processes on free loopback ports, with data
// under --dir. Once every broker accepts connections it prints one line
// of JSON for programs (brokerproc.Ready: {"ready":true,"bootstrap":...,
// "brokers":[...],"dynamodb":...}; loadtest compare reads it), then the
// bootstrap servers and example commands for people, and runs until
// SIGINT or SIGTERM, then stops every broker and moto.
//
// `make dev-cluster` builds the binaries and runs it.
//
// moto keeps its tables in memory, so without --endpoint the metadata dies
// with the cluster; the brokers' old data directories would then describe
// partitions the new metadata does not know, so they are removed at start.
// With --endpoint the metadata persists and the data is kept.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/kafki/kafki/brokerd/internal/clusterproc"
	"github.com/kafki/kafki/loadtest/brokerproc"
)

const name = "kafki-dev-cluster"

// defaultTable is the DynamoDB table of the dev cluster: fixed, so a cluster run
// against a persistent --endpoint finds its metadata again.
const defaultTable = "kafki-dev-cluster"

// startTimeout bounds the whole start, moto included.
const startTimeout = 2 * time.Minute

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// settings are the parsed flags.
type settings struct {
	brokers  int
	brokerd  string
	dir      string
	endpoint string
	logFile  string
	racks    string
	table    string
	bucket   string // tier.s3.bucket, empty: no tier
}

// run is the command; it returns the exit code: 0 after a clean stop, 1 if
// the cluster failed, 2 for a usage error.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	s, err := parseFlags(args, stdout)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "%s: %s (see %s --help)\n", name, strings.Replace(err.Error(), " -", " --", 1), name)
		return 2
	}
	if err := serve(ctx, s, stdout); err != nil {
		fmt.Fprintf(stderr, "%s: %s\n", name, oneLine(err.Error()))
		return 1
	}
	return 0
}

func parseFlags(args []string, stdout io.Writer) (settings, error) {
	var s settings
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	// Errors are reported by run as one line; help is printed on demand.
	fs.SetOutput(io.Discard)
	fs.IntVar(&s.brokers, "brokers", 3, "number of brokers (node ids 1..N)")
	fs.StringVar(&s.brokerd, "brokerd", defaultBrokerd(), "brokerd binary to run")
	fs.StringVar(&s.dir, "dir", filepath.Join("data", "dev-cluster"), "directory for the brokers' data (broker-<id>) and their log")
	fs.StringVar(&s.endpoint, "endpoint", "", "use this DynamoDB endpoint (e.g. http://localhost:4566) instead of starting moto_server; data in --dir is then kept across runs")
	fs.StringVar(&s.logFile, "log-file", "", `file for the brokers' output (default <dir>/brokers.log; "-" is stderr)`)
	fs.StringVar(&s.racks, "racks", "", "comma-separated racks assigned to brokers in turn (e.g. a,b,c)")
	fs.StringVar(&s.table, "table", defaultTable, "the metadata table (e.g. a deployed stack's MetadataTable output)")
	fs.StringVar(&s.bucket, "tier-bucket", "", "tier sealed segments to this S3 bucket, path-style, at AWS_ENDPOINT_URL (e.g. a stack's TierBucket output)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintf(stdout, "Usage: %s [flags]\n\nRun a local Kafki cluster (moto_server as DynamoDB plus N brokers) until Ctrl-C.\n\nFlags:\n", name)
			fs.SetOutput(stdout)
			fs.PrintDefaults()
		}
		return s, err
	}
	if fs.NArg() > 0 {
		return s, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if s.brokers < 1 || s.brokers > 64 {
		return s, fmt.Errorf("--brokers must be between 1 and 64, got %d", s.brokers)
	}
	if s.dir == "" {
		return s, errors.New("--dir must not be empty")
	}
	if s.endpoint != "" && !strings.HasPrefix(s.endpoint, "http://") && !strings.HasPrefix(s.endpoint, "https://") {
		return s, fmt.Errorf("--endpoint %q must be an http:// or https:// URL", s.endpoint)
	}
	return s, nil
}

// defaultBrokerd is the brokerd next to this binary, where `make build`
// puts both.
func defaultBrokerd() string {
	exe, err := os.Executable()
	if err != nil {
		return "brokerd"
	}
	return filepath.Join(filepath.Dir(exe), "brokerd")
}

// serve starts the cluster, prints how to use it, and waits for ctx.
func serve(ctx context.Context, s settings, stdout io.Writer) error {
	if s.endpoint == "" {
		if _, err := exec.LookPath("moto_server"); err != nil {
			return errors.New("moto_server not found on PATH; install it with: pip install 'moto[server]' (or pass --endpoint)")
		}
	}
	dir, err := filepath.Abs(s.dir)
	if err != nil {
		return fmt.Errorf("--dir: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("--dir: %w", err)
	}
	if s.endpoint == "" {
		if err := removeBrokerDirs(dir); err != nil {
			return err
		}
	}
	logs, logName, err := openLog(s.logFile, dir)
	if err != nil {
		return err
	}
	defer logs.Close()

	var racks []string
	if s.racks != "" {
		racks = strings.Split(s.racks, ",")
	}
	startCtx, cancel := context.WithTimeout(ctx, startTimeout)
	c, err := clusterproc.Start(startCtx, clusterproc.Options{
		Brokers:     s.brokers,
		BrokerdPath: s.brokerd,
		BaseDir:     dir,
		Endpoint:    s.endpoint,
		Table:       s.table,
		Racks:       racks,
		Env:         tierEnv(s.bucket),
		Stdout:      logs,
	})
	cancel()
	if err != nil {
		if ctx.Err() != nil {
			return errors.New("interrupted while starting")
		}
		return fmt.Errorf("%w (broker output: %s)", err, logName)
	}
	if err := brokerproc.WriteReady(stdout, readyLine(c, logName)); err != nil {
		_ = c.Close()
		return err
	}
	printUsage(stdout, c, s, logName)

	// Report brokers that exit while the cluster runs (a developer may
	// kill one on purpose to watch a failover; it is not restarted).
	for _, p := range c.Brokers() {
		go func() {
			select {
			case <-p.Exited():
				if ctx.Err() != nil {
					return // stopping: exits are expected
				}
				fmt.Fprintf(stdout, "broker %d (pid %d) exited; see %s\n", p.ID(), p.PID(), logName)
			case <-ctx.Done():
			}
		}()
	}
	<-ctx.Done()
	fmt.Fprintln(stdout, "stopping the cluster...")
	if err := c.Close(); err != nil {
		return fmt.Errorf("stop: %w", err)
	}
	fmt.Fprintln(stdout, "stopped.")
	return nil
}

// removeBrokerDirs deletes the broker-<id> directories of an earlier run;
// see the command doc for why.
func removeBrokerDirs(dir string) error {
	old, err := filepath.Glob(filepath.Join(dir, "broker-*"))
	if err != nil {
		return err
	}
	for _, d := range old {
		if err := os.RemoveAll(d); err != nil {
			return fmt.Errorf("remove old broker data: %w", err)
		}
	}
	return nil
}

// openLog opens where broker output goes and returns a name to show.
func openLog(flagValue, dir string) (io.WriteCloser, string, error) {
	if flagValue == "-" {
		return nopCloser{os.Stderr}, "stderr", nil
	}
	path := flagValue
	if path == "" {
		path = filepath.Join(dir, "brokers.log")
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, "", fmt.Errorf("--log-file: %w", err)
	}
	return f, relPath(path), nil
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }

// readyLine describes the running cluster for programs; logName is where
// the brokers' output goes ("stderr", or a file made absolute here).
func readyLine(c *clusterproc.Cluster, logName string) brokerproc.Ready {
	if logName != "stderr" {
		if abs, err := filepath.Abs(logName); err == nil {
			logName = abs
		}
	}
	r := brokerproc.Ready{Ready: true, Bootstrap: strings.Join(c.Bootstrap(), ","), DynamoDB: c.Endpoint(), Table: c.Table(), Logs: logName}
	for _, p := range c.Brokers() {
		r.Brokers = append(r.Brokers, brokerproc.ReadyBroker{ID: p.ID(), Addr: p.Addr(), PID: p.PID(), DataDir: p.DataDir()})
	}
	return r
}

func printUsage(w io.Writer, c *clusterproc.Cluster, s settings, logName string) {
	bootstrap := strings.Join(c.Bootstrap(), ",")
	store := c.Endpoint() + " (moto_server)"
	if s.endpoint != "" {
		store = c.Endpoint()
	}
	rf := min(3, s.brokers)
	kafki := relPath(filepath.Join(filepath.Dir(s.brokerd), "kafki"))
	fmt.Fprintf(w, "Kafki dev cluster: %d brokers, DynamoDB %s, table %s\n", s.brokers, store, c.Table())
	for _, p := range c.Brokers() {
		fmt.Fprintf(w, "  broker %d  %s  pid %d  data %s\n", p.ID(), p.Addr(), p.PID(), relPath(p.DataDir()))
	}
	fmt.Fprintf(w, "Broker logs: %s\n", logName)
	fmt.Fprintf(w, "Bootstrap servers: %s\n\n", bootstrap)
	fmt.Fprintf(w, "Try:\n")
	fmt.Fprintf(w, "  export KAFKI_BOOTSTRAP_SERVER=%s\n", bootstrap)
	fmt.Fprintf(w, "  %s cluster describe\n", kafki)
	fmt.Fprintf(w, "  %s topics create --topic demo --partitions 3 --replication-factor %d\n", kafki, rf)
	fmt.Fprintf(w, "  printf 'one\\ntwo\\n' | %s produce --topic demo --acks all\n", kafki)
	fmt.Fprintf(w, "  %s consume --topic demo --from-beginning --max-messages 2\n", kafki)
	fmt.Fprintf(w, "  kcat -b %s -L\n", bootstrap)
	fmt.Fprintf(w, "  kill -9 <pid of a broker>   # then '%s cluster describe' to watch the failover\n", kafki)
	fmt.Fprintf(w, "Ctrl-C stops the cluster.\n")
}

// relPath shows p relative to the working directory when it lies below it.
func relPath(p string) string {
	wd, err := os.Getwd()
	if err != nil {
		return p
	}
	if r, err := filepath.Rel(wd, p); err == nil && !strings.HasPrefix(r, "..") {
		return r
	}
	return p
}

// oneLine keeps an error on one line: clusterproc may join several.
func oneLine(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", "; ")), " ")
}

// tierEnv is the brokers' tier settings for bucket; none without one.
func tierEnv(bucket string) []string {
	if bucket == "" {
		return nil
	}
	return []string{"KAFKI_TIER_S3_BUCKET=" + bucket, "KAFKI_TIER_S3_PATH_STYLE=true"}
}

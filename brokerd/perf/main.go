package perf

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/pprof"
	"strings"
)

// Exit codes of Main.
const (
	ExitOK      = 0
	ExitFailure = 1 // a cell failed, or the run could not complete
	ExitUsage   = 2 // bad flags
)

// Env is what a run reads and writes outside its arguments, passed in so
// that runs need no global state and tests can capture the output.
type Env struct {
	Stdout io.Writer // the results table
	Stderr io.Writer // progress lines and the one-line error
	// Getenv looks up KAFKI_BOOTSTRAP_SERVER; nil means nothing is set.
	Getenv func(string) string
}

// Main runs kafki-perf with the process environment and returns the exit
// code. args excludes the program name.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return MainEnv(ctx, args, Env{Stdout: stdout, Stderr: stderr, Getenv: os.Getenv})
}

// MainEnv is Main with an explicit environment.
func MainEnv(ctx context.Context, args []string, env Env) int {
	cfg, err := ParseFlags(args, env.Getenv, env.Stdout)
	switch {
	case IsHelp(err):
		return ExitOK
	case err != nil:
		msg := strings.TrimPrefix(err.Error(), ErrUsage.Error()+": ")
		fmt.Fprintf(env.Stderr, "kafki-perf: %s (see 'kafki-perf --help')\n", oneLine(msg))
		return ExitUsage
	}
	if cfg.CPUProfile != "" {
		stop, err := startCPUProfile(cfg.CPUProfile)
		if err != nil {
			fmt.Fprintf(env.Stderr, "kafki-perf: %s\n", oneLine(err.Error()))
			return ExitFailure
		}
		defer stop()
	}

	rep, runErr := Run(ctx, cfg, env.Stderr)
	if rep != nil && len(rep.Cells) > 0 {
		fmt.Fprintln(env.Stdout)
		if err := WriteTable(env.Stdout, rep); err != nil {
			runErr = errors.Join(runErr, err)
		}
		if cfg.JSONPath != "" {
			if err := WriteJSON(cfg.JSONPath, rep); err != nil {
				runErr = errors.Join(runErr, err)
			}
		}
	}
	if runErr != nil {
		fmt.Fprintf(env.Stderr, "kafki-perf: %s\n", oneLine(runErr.Error()))
		return ExitFailure
	}
	if n := rep.Failed(); n > 0 {
		fmt.Fprintf(env.Stderr, "kafki-perf: %d of %d cells failed\n", n, len(rep.Cells))
		return ExitFailure
	}
	return ExitOK
}

// startCPUProfile profiles kafki-perf itself (not the broker) into path.
func startCPUProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	return func() {
		pprof.StopCPUProfile()
		_ = f.Close()
	}, nil
}

// oneLine joins a possibly multi-line message (errors.Join) into one line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", "; ")), " ")
}

package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// Defaults shared by every command that talks to a broker.
const (
	defaultBootstrap = "localhost:9092"
	bootstrapEnv     = "KAFKI_BOOTSTRAP_SERVER"
	defaultTimeout   = 10 * time.Second
)

// command is one subcommand: its flags plus the text --help prints. Each
// command owns a fresh FlagSet so parsing one never affects another.
type command struct {
	name     string // as typed after "kafki", e.g. "topics create"
	synopsis string // the usage line without the leading "kafki "
	summary  string // one paragraph saying what the command does
	examples string // lines of example invocations, already indented
	fs       *flag.FlagSet
}

func newCommand(name, synopsis, summary, examples string) *command {
	fs := flag.NewFlagSet("kafki "+name, flag.ContinueOnError)
	// The flag package prints its own errors and usage on failure; we
	// report errors ourselves as one line, and print help on demand.
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return &command{name: name, synopsis: synopsis, summary: summary, examples: examples, fs: fs}
}

// parse parses args. It returns errHelpShown after writing the help text to
// stdout when --help (or -h) is given, and a usage error for unknown flags,
// malformed values or stray positional arguments.
func (c *command) parse(args []string, stdout io.Writer) error {
	if err := c.fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			c.writeHelp(stdout)
			return errHelpShown
		}
		return usagef("%s", strings.Replace(err.Error(), " -", " --", 1))
	}
	if c.fs.NArg() > 0 {
		return usagef("unexpected argument %q", c.fs.Arg(0))
	}
	return nil
}

// isSet reports whether the flag was given on the command line (as opposed
// to holding its default).
func (c *command) isSet(name string) bool {
	set := false
	c.fs.Visit(func(f *flag.Flag) {
		if f.Name == name {
			set = true
		}
	})
	return set
}

// writeHelp prints the command's usage, flags and examples. Flags are shown
// with two dashes, as people type them.
func (c *command) writeHelp(w io.Writer) {
	fmt.Fprintf(w, "Usage: kafki %s\n\n%s\n", c.synopsis, c.summary)
	fmt.Fprintf(w, "\nFlags:\n")
	c.fs.VisitAll(func(f *flag.Flag) {
		valueName, usage := flag.UnquoteUsage(f)
		if valueName != "" {
			fmt.Fprintf(w, "  --%s %s\n", f.Name, valueName)
		} else {
			fmt.Fprintf(w, "  --%s\n", f.Name)
		}
		if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "[]" && f.DefValue != "0" && f.DefValue != "0s" {
			usage += fmt.Sprintf(" (default %s)", f.DefValue)
		}
		fmt.Fprintf(w, "      %s\n", usage)
	})
	fmt.Fprintf(w, "  --help\n      Show this help.\n")
	if c.examples != "" {
		fmt.Fprintf(w, "\nExamples:\n%s\n", strings.TrimRight(c.examples, "\n"))
	}
}

// connFlags are the flags of every command that talks to a broker.
type connFlags struct {
	bootstrap string
	timeout   time.Duration
	// SASL (issue 12, users.go): log in with this mechanism as the user
	// of a secret file; none when mechanism is empty.
	saslMechanism, saslSecretFile string
	// tls: how to reach an SSL or SASL_SSL listener (security.go).
	tls tlsFlags
}

// register adds --bootstrap-server, --timeout and the TLS and SASL flags to c. The bootstrap default
// comes from the KAFKI_BOOTSTRAP_SERVER environment variable when it is set.
func (f *connFlags) register(c *command, getenv func(string) string) {
	def := defaultBootstrap
	if v := strings.TrimSpace(getenv(bootstrapEnv)); v != "" {
		def = v
	}
	c.fs.StringVar(&f.bootstrap, "bootstrap-server", def,
		"Comma-separated host:port list of brokers to connect to first (env "+bootstrapEnv+").")
	c.fs.DurationVar(&f.timeout, "timeout", defaultTimeout,
		"How long to wait for the broker to answer before giving up (e.g. 500ms, 10s).")
	f.registerSASL(c, getenv) // users.go
	f.registerTLS(c, getenv)  // security.go
}

// seeds validates the flags and returns the bootstrap addresses.
func (f *connFlags) seeds() ([]string, error) {
	if f.timeout <= 0 {
		return nil, usagef("--timeout must be positive, got %s", f.timeout)
	}
	return parseBootstrap(f.bootstrap)
}

// parseBootstrap splits a comma-separated broker list, rejecting empty
// entries and entries whose port is not a number.
func parseBootstrap(s string) ([]string, error) {
	var out []string
	for _, part := range strings.Split(s, ",") {
		addr := strings.TrimSpace(part)
		if addr == "" {
			return nil, usagef("--bootstrap-server %q has an empty address", s)
		}
		if i := strings.LastIndexByte(addr, ':'); i >= 0 && !strings.HasSuffix(addr, "]") {
			port, err := strconv.Atoi(addr[i+1:])
			if err != nil || port <= 0 || port > 65535 {
				return nil, usagef("--bootstrap-server address %q has an invalid port", addr)
			}
		}
		out = append(out, addr)
	}
	return out, nil
}

// stringList is a repeatable string flag: each occurrence appends.
type stringList []string

func (l *stringList) String() string { return strings.Join(*l, ",") }

func (l *stringList) Set(v string) error {
	*l = append(*l, v)
	return nil
}

// optionalBool is a boolean flag that also remembers whether it was given,
// for flags whose default depends on other flags (--idempotent).
type optionalBool struct {
	set   bool
	value bool
}

func (b *optionalBool) String() string {
	if !b.set {
		return ""
	}
	return strconv.FormatBool(b.value)
}

func (b *optionalBool) Set(v string) error {
	parsed, err := strconv.ParseBool(v)
	if err != nil {
		return fmt.Errorf("want true or false")
	}
	b.set, b.value = true, parsed
	return nil
}

// IsBoolFlag lets "--flag" alone mean "--flag=true".
func (b *optionalBool) IsBoolFlag() bool { return true }

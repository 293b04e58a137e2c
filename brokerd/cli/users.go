package cli

// kafki users: create, list and delete SCRAM users through Kafka's own
// APIs (AlterUserScramCredentials, DescribeUserScramCredentials), so they
// work against any broker, like kafka-configs.sh --entity-type users. The
// password is read from a file or from stdin, never from a flag (flags
// end up in shell history and in ps). The client computes the salted
// password (kadm, PBKDF2); the broker never sees the password itself.
//
// Also here: the SASL login of every command (--sasl-mechanism,
// --sasl-secret-file), so kafki can talk to a SASL listener.

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafki/kafki/brokerd/sasl"
)

// usersHelp is printed by "kafki users --help".
const usersHelp = `Usage: kafki users <create|list|delete> [flags]

Manage SCRAM users (SASL/SCRAM-SHA-256 and SCRAM-SHA-512, and PLAIN,
which checks the same credentials), like kafka-configs.sh --entity-type
users. Run 'kafki users <subcommand> --help' for the flags of each.
`

// Environment variables of the SASL login.
const (
	saslMechanismEnv  = "KAFKI_SASL_MECHANISM"
	saslSecretFileEnv = "KAFKI_SASL_SECRET_FILE"
)

// registerSASL adds --sasl-mechanism and --sasl-secret-file to c.
func (f *connFlags) registerSASL(c *command, getenv func(string) string) {
	c.fs.StringVar(&f.saslMechanism, "sasl-mechanism", strings.TrimSpace(getenv(saslMechanismEnv)),
		"Log in over SASL with PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (env "+saslMechanismEnv+"); needs --sasl-secret-file.")
	c.fs.StringVar(&f.saslSecretFile, "sasl-secret-file", strings.TrimSpace(getenv(saslSecretFileEnv)),
		`JSON file {"username": ..., "password": ...} (the AWS Secrets Manager layout) to log in as (env `+saslSecretFileEnv+").")
}

// saslOpts are the client options of the SASL login, none without one.
func (f *connFlags) saslOpts() ([]kgo.Opt, error) {
	switch {
	case f.saslMechanism == "" && f.saslSecretFile == "":
		return nil, nil
	case f.saslMechanism == "" || f.saslSecretFile == "":
		return nil, usagef("--sasl-mechanism and --sasl-secret-file go together")
	}
	sec, err := sasl.ReadSecret(f.saslSecretFile)
	if err != nil {
		return nil, err
	}
	m, err := sec.KgoMechanism(f.saslMechanism)
	if err != nil {
		return nil, usagef("--sasl-mechanism: %v", err)
	}
	return []kgo.Opt{kgo.SASL(m)}, nil
}

// scramMechanisms parses --mechanism: a comma-separated list.
func scramMechanisms(v string) ([]kadm.ScramMechanism, error) {
	var out []kadm.ScramMechanism
	for _, name := range strings.Split(v, ",") {
		switch strings.TrimSpace(name) {
		case sasl.ScramSHA256:
			out = append(out, kadm.ScramSha256)
		case sasl.ScramSHA512:
			out = append(out, kadm.ScramSha512)
		default:
			return nil, usagef("--mechanism %q: want SCRAM-SHA-256, SCRAM-SHA-512 or both, comma-separated", name)
		}
	}
	return out, nil
}

// readPassword reads the password: the file's content, or stdin's first
// line, without the trailing newline.
func readPassword(file string, stdin io.Reader) (string, error) {
	var raw string
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return "", fmt.Errorf("read password: %w", err)
		}
		raw = string(b)
	} else {
		line, err := bufio.NewReader(stdin).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return "", fmt.Errorf("read password from stdin: %w", err)
		}
		raw = line
	}
	pw := strings.TrimRight(raw, "\r\n")
	if pw == "" {
		return "", usagef("empty password (give it on stdin or with --password-file)")
	}
	return pw, nil
}

func runUsersCreate(ctx context.Context, args []string, env Env) error {
	c := newCommand("users create", "users create --user NAME [flags] < password",
		"Create a SCRAM user, or change its password: one credential per mechanism. The password is the first line of stdin, or the content of --password-file.",
		`  printf '%s\n' "$PASSWORD" | kafki users create --user alice
  kafki users create --user alice --password-file alice.pw --mechanism SCRAM-SHA-512 --iterations 8192`)
	var conn connFlags
	conn.register(c, env.Getenv)
	user := c.fs.String("user", "", "The user name.")
	pwFile := c.fs.String("password-file", "", "Read the password from this file instead of stdin.")
	mechs := c.fs.String("mechanism", "SCRAM-SHA-256,SCRAM-SHA-512", "SCRAM mechanisms to create credentials for, comma-separated.")
	iters := c.fs.Int("iterations", 8192, "PBKDF2 iterations of the credentials (4096 to 16384).")
	if err := c.parse(args, env.Stdout); err != nil {
		return err
	}
	if *user == "" {
		return usagef("--user is required")
	}
	if *iters < sasl.MinIterations || *iters > sasl.MaxIterations {
		return usagef("--iterations %d: must be between %d and %d", *iters, sasl.MinIterations, sasl.MaxIterations)
	}
	ms, err := scramMechanisms(*mechs)
	if err != nil {
		return err
	}
	pw, err := readPassword(*pwFile, env.Stdin)
	if err != nil {
		return err
	}
	var ups []kadm.UpsertSCRAM
	for _, m := range ms {
		ups = append(ups, kadm.UpsertSCRAM{User: *user, Mechanism: m, Iterations: int32(*iters), Password: pw})
	}
	return alterUsers(ctx, conn, env, nil, ups, "created")
}

func runUsersDelete(ctx context.Context, args []string, env Env) error {
	c := newCommand("users delete", "users delete --user NAME [flags]",
		"Delete a SCRAM user's credentials: every mechanism it has, or those of --mechanism.",
		`  kafki users delete --user alice
  kafki users delete --user alice --mechanism SCRAM-SHA-256`)
	var conn connFlags
	conn.register(c, env.Getenv)
	user := c.fs.String("user", "", "The user name.")
	mechs := c.fs.String("mechanism", "", "Only these SCRAM mechanisms, comma-separated (default: all the user has).")
	if err := c.parse(args, env.Stdout); err != nil {
		return err
	}
	if *user == "" {
		return usagef("--user is required")
	}
	var ms []kadm.ScramMechanism
	if *mechs != "" {
		var err error
		if ms, err = scramMechanisms(*mechs); err != nil {
			return err
		}
	} else {
		s, err := conn.connect(ctx)
		if err != nil {
			return err
		}
		d, err := describeUsers(ctx, s, *user)
		s.close()
		if err != nil {
			return err
		}
		for _, ci := range d[*user].CredInfos {
			ms = append(ms, ci.Mechanism)
		}
	}
	var dels []kadm.DeleteSCRAM
	for _, m := range ms {
		dels = append(dels, kadm.DeleteSCRAM{User: *user, Mechanism: m})
	}
	return alterUsers(ctx, conn, env, dels, nil, "deleted")
}

// alterUsers sends one AlterUserScramCredentials and reports its result.
func alterUsers(ctx context.Context, conn connFlags, env Env, dels []kadm.DeleteSCRAM, ups []kadm.UpsertSCRAM, done string) error {
	s, err := conn.connect(ctx)
	if err != nil {
		return err
	}
	defer s.close()
	actx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	res, err := s.adm.AlterUserSCRAMs(actx, dels, ups)
	if err != nil {
		return fmt.Errorf("alter SCRAM users: %w", s.wrap(err, ""))
	}
	for _, r := range res.Sorted() {
		if r.Err != nil {
			return fmt.Errorf("user %q: %w", r.User, s.wrap(r.Err, r.ErrMessage))
		}
		fmt.Fprintf(env.Stdout, "%s user %s\n", done, r.User)
	}
	return nil
}

// describeUsers describes the named users (all with none); an unknown
// named user is ErrUsage's sibling: a one-line error naming it.
func describeUsers(ctx context.Context, s *session, users ...string) (kadm.DescribedUserSCRAMs, error) {
	dctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	d, err := s.adm.DescribeUserSCRAMs(dctx, users...)
	if err != nil {
		return nil, fmt.Errorf("describe SCRAM users: %w", s.wrap(err, ""))
	}
	for _, u := range d.Sorted() {
		if u.Err != nil {
			return nil, fmt.Errorf("user %q: %w", u.User, s.wrap(u.Err, u.ErrMessage))
		}
	}
	return d, nil
}

func runUsersList(ctx context.Context, args []string, env Env) error {
	c := newCommand("users list", "users list [flags]",
		"Print every SCRAM user with its mechanisms and iterations (never a password: the broker has none).",
		`  kafki users list`)
	var conn connFlags
	conn.register(c, env.Getenv)
	if err := c.parse(args, env.Stdout); err != nil {
		return err
	}
	s, err := conn.connect(ctx)
	if err != nil {
		return err
	}
	defer s.close()
	d, err := describeUsers(ctx, s)
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(env.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "USER\tMECHANISM\tITERATIONS")
	for _, u := range d.Sorted() {
		cis := u.CredInfos
		sort.Slice(cis, func(i, j int) bool { return cis[i].Mechanism < cis[j].Mechanism })
		for _, ci := range cis {
			fmt.Fprintf(w, "%s\t%s\t%d\n", u.User, ci.Mechanism, ci.Iterations)
		}
	}
	return w.Flush()
}

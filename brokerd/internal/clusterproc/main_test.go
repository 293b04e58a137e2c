package clusterproc

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kafki/kafki/loadtest/brokerproc"
)

// fakeEnv selects the fake broker mode when the test binary is run by the
// harness in place of brokerd (see fakeBroker).
const fakeEnv = "CLUSTERPROC_FAKE_BROKER"

// brokerdBin is the real broker built by TestMain; brokerdErr says why
// there is none. Only the real-cluster test needs it, so a broken build
// elsewhere in the tree does not hide the harness's own test results.
var (
	brokerdBin string
	brokerdErr error
)

func TestMain(m *testing.M) {
	if mode := os.Getenv(fakeEnv); mode != "" {
		os.Exit(fakeBroker(mode))
	}
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	dir, err := os.MkdirTemp("", "kafki-clusterproc-")
	if err != nil {
		fmt.Fprintf(os.Stderr, "clusterproc: %v\n", err)
		return 1
	}
	defer os.RemoveAll(dir)
	brokerdBin, brokerdErr = brokerproc.BuildBrokerd(dir, false)
	return m.Run()
}

// fakeBroker stands in for brokerd so the harness's process handling can
// be tested without a cluster-capable broker or DynamoDB. It prints its
// arguments and environment, listens on KAFKI_LISTEN, and exits 0 on
// SIGTERM. Modes:
//
//	serve     as above; a connection that sends "crash" makes it exit 3,
//	          one that sends "dial host:port" is answered "ok" if this
//	          process can connect there, else "err <why>"
//	fail      print a fatal line and exit 2 without listening
//	stubborn  serve, but ignore SIGTERM
func fakeBroker(mode string) int {
	fmt.Println("args", strings.Join(os.Args[1:], " "))
	env := os.Environ()
	sort.Strings(env)
	for _, kv := range env {
		fmt.Println("env", kv)
	}
	if mode == "fail" {
		fmt.Fprintln(os.Stderr, "fatal: bad config for the fake broker")
		return 2
	}
	sigs := make(chan os.Signal, 1)
	if mode == "stubborn" {
		signal.Ignore(syscall.SIGTERM)
	} else {
		signal.Notify(sigs, syscall.SIGTERM)
	}
	l, err := net.Listen("tcp", os.Getenv("KAFKI_LISTEN"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "fake broker:", err)
		return 1
	}
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				_ = conn.SetReadDeadline(time.Now().Add(time.Second))
				line, _ := bufio.NewReader(conn).ReadString('\n')
				cmd, arg, _ := strings.Cut(strings.TrimSpace(line), " ")
				switch cmd {
				case "crash":
					fmt.Println("fake broker: crashing as asked")
					os.Exit(3)
				case "dial":
					// Reports whether this process, in its network
					// namespace, reaches arg.
					c, err := net.DialTimeout("tcp", arg, 300*time.Millisecond)
					if err != nil {
						fmt.Fprintf(conn, "err %v\n", err)
						return
					}
					c.Close()
					fmt.Fprintln(conn, "ok")
				}
			}()
		}
	}()
	<-sigs
	fmt.Println("fake broker: SIGTERM, exiting")
	return 0
}

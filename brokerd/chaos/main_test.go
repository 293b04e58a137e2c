package chaos

import (
	"fmt"
	"os"
	"os/exec"
	"testing"

	"github.com/kafki/kafki/loadtest/brokerproc"
)

// brokerdBin is the broker TestMain built; brokerdErr says why there is
// none (reported by the test, so a build failure is a failure, not a skip).
var (
	brokerdBin string
	brokerdErr error
)

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "kafki-chaos-bin-")
	if err != nil {
		fmt.Fprintf(os.Stderr, "chaos: %v\n", err)
		return 1
	}
	defer os.RemoveAll(dir)
	brokerdBin, brokerdErr = brokerproc.BuildBrokerd(dir, false)
	return m.Run()
}

// motoAvailable reports whether the single-threaded moto the harness
// starts (mototest.StartSerialized) can run here.
func motoAvailable() bool {
	return exec.Command("python3", "-c", "import moto.server, werkzeug.serving").Run() == nil
}

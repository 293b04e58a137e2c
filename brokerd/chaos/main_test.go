package chaos

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
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
	bin := filepath.Join(dir, "brokerd")
	out, err := exec.Command(goTool(), "build", "-o", bin, "github.com/kafki/kafki/brokerd/cmd/brokerd").CombinedOutput()
	if err != nil {
		brokerdErr = fmt.Errorf("build brokerd: %v\n%s", err, out)
	} else {
		brokerdBin = bin
	}
	return m.Run()
}

// goTool is the go command of the toolchain running the tests, so the
// broker is built with the same Go even when PATH differs.
func goTool() string {
	if out, err := exec.Command("go", "env", "GOROOT").Output(); err == nil {
		p := filepath.Join(strings.TrimSpace(string(out)), "bin", "go")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return "go"
}

// motoAvailable reports whether the single-threaded moto the harness
// starts (mototest.StartSerialized) can run here.
func motoAvailable() bool {
	return exec.Command("python3", "-c", "import moto.server, werkzeug.serving").Run() == nil
}

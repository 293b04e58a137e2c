package brokerproc

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Ready is the machine-readable line kafki-dev-cluster prints on its
// standard output, one JSON object on one line, once every broker accepts
// connections, beside its human banner (whose wording may change; this
// line's fields only grow):
//
//	{"ready":true,"bootstrap":"127.0.0.1:4001,...","brokers":[{"id":1,"addr":"127.0.0.1:4001","pid":123,"data_dir":"..."},...],"dynamodb":"http://127.0.0.1:5000","table":"kafki-dev-cluster","logs":"..."}
//
// WriteReady writes it; ParseReady and StartDevCluster read it.
type Ready struct {
	Ready     bool          `json:"ready"`
	Bootstrap string        `json:"bootstrap"` // every broker's host:port, comma-separated, in node id order
	Brokers   []ReadyBroker `json:"brokers"`
	DynamoDB  string        `json:"dynamodb"` // the metadata store's endpoint URL
	Table     string        `json:"table"`    // the DynamoDB metadata table
	Logs      string        `json:"logs"`     // where the brokers' output goes
}

// ReadyBroker is one broker of a Ready line.
type ReadyBroker struct {
	ID      int32  `json:"id"`
	Addr    string `json:"addr"`
	PID     int    `json:"pid"`
	DataDir string `json:"data_dir"`
}

// readyPrefix starts every Ready line: json.Marshal keeps the field order.
const readyPrefix = `{"ready":`

// ErrNotReady means a line looked like a Ready line but is not a valid one.
var ErrNotReady = errors.New("bad ready line")

// WriteReady writes r as one line of JSON.
func WriteReady(w io.Writer, r Ready) error {
	data, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("encode ready line: %w", err)
	}
	_, err = w.Write(append(data, '\n'))
	return err
}

// ParseReady reads a Ready line. ok is false (and err nil) for any other
// line, such as the human banner's; a line that starts like a Ready line
// but does not decode, says it is not ready, or whose brokers and
// bootstrap disagree is an error wrapping ErrNotReady.
func ParseReady(line string) (r Ready, ok bool, err error) {
	line = strings.TrimSpace(line)
	if !strings.HasPrefix(line, readyPrefix) {
		return Ready{}, false, nil
	}
	dec := json.NewDecoder(bytes.NewReader([]byte(line)))
	if err := dec.Decode(&r); err != nil {
		return Ready{}, true, fmt.Errorf("%w: %v: %q", ErrNotReady, err, line)
	}
	if !r.Ready || len(r.Brokers) == 0 {
		return Ready{}, true, fmt.Errorf("%w: not ready or no brokers: %q", ErrNotReady, line)
	}
	addrs := make([]string, len(r.Brokers))
	for i, b := range r.Brokers {
		if b.Addr == "" || b.PID <= 0 {
			return Ready{}, true, fmt.Errorf("%w: broker %d has address %q, pid %d", ErrNotReady, b.ID, b.Addr, b.PID)
		}
		addrs[i] = b.Addr
	}
	if strings.Join(addrs, ",") != r.Bootstrap {
		return Ready{}, true, fmt.Errorf("%w: bootstrap %q does not list the brokers %v", ErrNotReady, r.Bootstrap, addrs)
	}
	return r, true, nil
}

// PIDs are the brokers' process ids, in the line's (node id) order.
func (r Ready) PIDs() []int {
	pids := make([]int, len(r.Brokers))
	for i, b := range r.Brokers {
		pids[i] = b.PID
	}
	return pids
}

// Addrs are the brokers' host:port, in the line's (node id) order.
func (r Ready) Addrs() []string {
	addrs := make([]string, len(r.Brokers))
	for i, b := range r.Brokers {
		addrs[i] = b.Addr
	}
	return addrs
}

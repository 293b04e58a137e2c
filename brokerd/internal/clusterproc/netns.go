package clusterproc

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// ErrNoNetNS is returned (wrapped, with the reason) by NetNSAvailable and
// by Start with Options.NetNS on a machine where the harness cannot create
// network namespaces.
var ErrNoNetNS = errors.New("network namespaces unavailable")

// errNotNetNS is returned by the network faults of a cluster started
// without Options.NetNS.
var errNotNetNS = errors.New("network faults need a cluster started with Options.NetNS")

// Names and addresses of the harness's network objects. Every name the
// harness creates starts with namePrefix (links) or nsPrefix (namespaces)
// followed by the network's random tag, and nothing else is ever touched:
// the stale sweep only deletes objects with these prefixes whose owner is
// gone.
const (
	namePrefix = "kfk"   // bridge kfk<tag>, veths kfk<tag>h<id> (host) and kfk<tag>n<id>
	nsPrefix   = "kafki" // namespace kafki-<tag>-b<id>
	tagLen     = 6       // hex digits: kfk + 6 + h + 3 digits stays within IFNAMSIZ-1 = 15
	aliasMark  = "kafki-clusterproc pid="
	brokerPort = 9092 // each broker has its own address, so all can use the Kafka port
	maxNetNSID = 244  // broker addresses are 10.X.0.(10+id)
)

// NetNSAvailable returns nil if Options.NetNS can work here (Linux, root,
// iproute2's ip on PATH), or an error wrapping ErrNoNetNS that says what
// is missing. Tests skip with its message.
func NetNSAvailable() error {
	_, err := ipTool()
	return err
}

func ipTool() (string, error) {
	if runtime.GOOS != "linux" {
		return "", fmt.Errorf("%w: not Linux (%s)", ErrNoNetNS, runtime.GOOS)
	}
	if os.Geteuid() != 0 {
		return "", fmt.Errorf("%w: creating network namespaces needs root (euid %d)", ErrNoNetNS, os.Geteuid())
	}
	path, err := exec.LookPath("ip")
	if err != nil {
		return "", fmt.Errorf("%w: iproute2's ip not found on PATH", ErrNoNetNS)
	}
	return path, nil
}

// network is a bridge in the root namespace with one namespace per
// broker attached to it by a veth pair:
//
//	root namespace: bridge kfk<tag>, 10.X.0.1/24 (moto_server, test clients)
//	  └ veth kfk<tag>h<id>  ⇄  kfk<tag>n<id> in namespace kafki-<tag>-b<id>, 10.X.0.(10+id)/24
//
// Faults change only routes inside the harness's own namespaces and the
// state of its own host-side veths.
type network struct {
	ip     string // path of the ip command
	tag    string
	subnet netip.Prefix // 10.X.0.0/24
	ids    []int32

	mu       sync.Mutex
	cut      map[int32]bool    // CutFromPeers in force
	isolated map[int32]bool    // Isolate in force
	holes    map[[2]int32]bool // blackhole route to [1]'s address installed in [0]'s namespace
	created  map[string]bool   // namespaces created, for teardown
	deleted  bool
}

// newNetwork sweeps stale objects of dead harnesses, then creates the
// bridge and one namespace per id. On error it removes what it created.
func newNetwork(ids []int32) (_ *network, err error) {
	ip, err := ipTool()
	if err != nil {
		return nil, err
	}
	if len(ids) > maxNetNSID {
		return nil, fmt.Errorf("at most %d brokers fit the namespace addressing, got %d", maxNetNSID, len(ids))
	}
	n := &network{
		ip: ip, tag: randomHex(tagLen / 2), ids: ids,
		cut: map[int32]bool{}, isolated: map[int32]bool{}, holes: map[[2]int32]bool{}, created: map[string]bool{},
	}
	n.sweepStale()
	if n.subnet, err = n.pickSubnet(); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, n.teardown())
		}
	}()
	br := n.bridge()
	// The alias names the owning process, so a later harness can tell a
	// dead run's bridge from a concurrent live one.
	for _, args := range [][]string{
		{"link", "add", "name", br, "type", "bridge"},
		{"link", "set", "dev", br, "alias", aliasMark + strconv.Itoa(os.Getpid())},
		{"addr", "add", n.hostPrefix().String(), "dev", br},
		{"link", "set", "dev", br, "up"},
	} {
		if err := n.run(args...); err != nil {
			return nil, err
		}
	}
	for _, id := range ids {
		ns, host, inner := n.ns(id), n.hostVeth(id), n.nsVeth(id)
		if err := n.run("netns", "add", ns); err != nil {
			return nil, err
		}
		n.created[ns] = true
		pfx := netip.PrefixFrom(n.addr(id), n.subnet.Bits())
		for _, args := range [][]string{
			// Created with its peer already in the namespace: deleting
			// the namespace then removes both ends.
			{"link", "add", "name", host, "type", "veth", "peer", "name", inner, "netns", ns},
			{"link", "set", "dev", host, "master", br, "up"},
			{"-n", ns, "addr", "add", pfx.String(), "dev", inner},
			{"-n", ns, "link", "set", "dev", inner, "up"},
			{"-n", ns, "link", "set", "dev", "lo", "up"},
		} {
			if err := n.run(args...); err != nil {
				return nil, err
			}
		}
	}
	return n, nil
}

func (n *network) bridge() string           { return namePrefix + n.tag }
func (n *network) hostVeth(id int32) string { return fmt.Sprintf("%s%sh%d", namePrefix, n.tag, id) }
func (n *network) nsVeth(id int32) string   { return fmt.Sprintf("%s%sn%d", namePrefix, n.tag, id) }
func (n *network) ns(id int32) string       { return fmt.Sprintf("%s-%s-b%d", nsPrefix, n.tag, id) }

// hostAddr is the bridge's address: moto_server listens there, and it is
// the address test clients' connections to brokers come from.
func (n *network) hostAddr() netip.Addr {
	b := n.subnet.Addr().As4()
	b[3] = 1
	return netip.AddrFrom4(b)
}

func (n *network) hostPrefix() netip.Prefix { return netip.PrefixFrom(n.hostAddr(), n.subnet.Bits()) }

func (n *network) addr(id int32) netip.Addr {
	b := n.subnet.Addr().As4()
	b[3] = byte(10 + id)
	return netip.AddrFrom4(b)
}

// brokerAddr is broker id's listener, host:port.
func (n *network) brokerAddr(id int32) string {
	return netip.AddrPortFrom(n.addr(id), brokerPort).String()
}

// pickSubnet picks a random 10.X.0.0/24 that overlaps no route of the
// root namespace, so it cannot shadow a real network nor collide with a
// concurrent harness's bridge.
func (n *network) pickSubnet() (netip.Prefix, error) {
	out, err := n.output("-j", "-4", "route", "show", "table", "all")
	if err != nil {
		return netip.Prefix{}, err
	}
	var routes []struct {
		Dst string `json:"dst"`
	}
	if err := json.Unmarshal(nonEmptyJSON(out), &routes); err != nil {
		return netip.Prefix{}, fmt.Errorf("parse ip route output: %w", err)
	}
	var used []netip.Prefix
	for _, r := range routes {
		if p, err := netip.ParsePrefix(r.Dst); err == nil {
			used = append(used, p)
		} else if a, err := netip.ParseAddr(r.Dst); err == nil {
			used = append(used, netip.PrefixFrom(a, a.BitLen()))
		}
	}
	for range 100 {
		cand := netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(16 + rand.IntN(224)), 0, 0}), 24)
		free := true
		for _, u := range used {
			// A covering default-like route (10.0.0.0/8) is fine: the
			// bridge's /24 is more specific.
			if u.Bits() > 8 && u.Overlaps(cand) {
				free = false
				break
			}
		}
		if free {
			return cand, nil
		}
	}
	return netip.Prefix{}, errors.New("no free 10.X.0.0/24 subnet for the bridge")
}

// sweepStale deletes namespaces and bridges that harnesses which have
// died left behind. Namespaces are listed before bridges: a live harness
// creates its bridge before its namespaces and deletes it after them, so
// a namespace whose bridge is missing from the later list is stale.
// Errors are ignored: a sweep that fails leaves garbage, not a failure.
func (n *network) sweepStale() {
	var nss []struct {
		Name string `json:"name"`
	}
	if out, err := n.output("-j", "netns", "list"); err == nil {
		_ = json.Unmarshal(nonEmptyJSON(out), &nss)
	}
	var links []struct {
		Name  string `json:"ifname"`
		Alias string `json:"ifalias"`
	}
	if out, err := n.output("-j", "link", "show", "type", "bridge"); err == nil {
		_ = json.Unmarshal(nonEmptyJSON(out), &links)
	}
	live, dead := map[string]bool{}, map[string]bool{}
	for _, l := range links {
		tag, ok := strings.CutPrefix(l.Name, namePrefix)
		if !ok || len(tag) != tagLen {
			continue
		}
		live[tag] = true
		pid, ok := strings.CutPrefix(l.Alias, aliasMark)
		if !ok {
			continue // not ours, or a live harness between add and alias
		}
		if p, err := strconv.Atoi(pid); err == nil && errors.Is(syscall.Kill(p, 0), syscall.ESRCH) {
			dead[tag] = true
		}
	}
	for _, ns := range nss {
		rest, ok := strings.CutPrefix(ns.Name, nsPrefix+"-")
		if !ok {
			continue
		}
		tag, _, ok := strings.Cut(rest, "-b")
		if ok && len(tag) == tagLen && (dead[tag] || !live[tag]) {
			_ = n.run("netns", "del", ns.Name)
		}
	}
	for tag := range dead {
		_ = n.run("link", "del", "dev", namePrefix+tag)
	}
}

// nonEmptyJSON maps ip's empty output (no objects at all) to an empty
// JSON array.
func nonEmptyJSON(b []byte) []byte {
	if len(bytes.TrimSpace(b)) == 0 {
		return []byte("[]")
	}
	return b
}

// setFault changes broker id's fault state with change and applies it.
func (n *network) setFault(id int32, change func(cut, isolated *bool)) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.deleted {
		return errors.New("network already removed")
	}
	cut, wasIsolated := n.cut[id], n.isolated[id]
	isolated := wasIsolated
	change(&cut, &isolated)
	n.cut[id], n.isolated[id] = cut, isolated
	if err := n.applyRoutes(); err != nil {
		return err
	}
	if isolated != wasIsolated {
		state := "up"
		if isolated {
			state = "down"
		}
		if err := n.run("link", "set", "dev", n.hostVeth(id), state); err != nil {
			return err
		}
	}
	return nil
}

// applyRoutes brings the blackhole routes in line with the cuts: the
// path between brokers a and b is cut, in both directions, iff a or b is
// cut. Deriving routes from the set of cut brokers (rather than adding
// and removing per call) keeps healing one broker from reopening a path
// to another broker that is still cut.
func (n *network) applyRoutes() error {
	for _, a := range n.ids {
		for _, b := range n.ids {
			if a == b {
				continue
			}
			key := [2]int32{a, b}
			want := n.cut[a] || n.cut[b]
			if want == n.holes[key] {
				continue
			}
			dst := netip.PrefixFrom(n.addr(b), 32).String()
			var err error
			if want {
				err = n.run("-n", n.ns(a), "route", "replace", "blackhole", dst)
			} else {
				err = n.run("-n", n.ns(a), "route", "del", "blackhole", dst)
			}
			if err != nil {
				return err
			}
			n.holes[key] = want
		}
	}
	return nil
}

// teardown deletes the namespaces (which removes their veth pairs) and
// then the bridge. Safe to call more than once.
func (n *network) teardown() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.deleted {
		return nil
	}
	n.deleted = true
	var errs []error
	for _, id := range n.ids {
		if ns := n.ns(id); n.created[ns] {
			errs = append(errs, n.run("netns", "del", ns))
		}
	}
	// The bridge may not exist if creating it failed; only report a
	// failure to delete one that is there.
	if err := n.run("link", "del", "dev", n.bridge()); err != nil {
		if _, serr := n.output("link", "show", "dev", n.bridge()); serr == nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (n *network) run(args ...string) error {
	_, err := n.output(args...)
	return err
}

func (n *network) output(args ...string) ([]byte, error) {
	cmd := exec.Command(n.ip, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("ip %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}

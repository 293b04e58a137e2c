package clusterproc

import (
	"fmt"
	"net"
)

// freeLoopbackAddrs returns n distinct 127.0.0.1 addresses whose ports
// were free a moment ago. All n listeners are held open until every port
// is picked, so the kernel cannot hand out one port twice; they are then
// closed for the brokers to bind. Another process may take a port in
// between: startFirst retries on "address already in use".
func freeLoopbackAddrs(n int) ([]string, error) {
	addrs := make([]string, 0, n)
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			_ = l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("find a free port: %w", err)
		}
		ls = append(ls, l)
		addrs = append(addrs, l.Addr().String())
	}
	return addrs, nil
}

package broker

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"

	kgosasl "github.com/twmb/franz-go/pkg/sasl"

	"github.com/kafki/kafki/brokerd/auth"
	"github.com/kafki/kafki/brokerd/cluster"
	"github.com/kafki/kafki/brokerd/config"
	"github.com/kafki/kafki/brokerd/interbroker"
	"github.com/kafki/kafki/brokerd/sasl"
	"github.com/kafki/kafki/brokerd/server"
	"github.com/kafki/kafki/brokerd/tlsconf"
)

// openListeners loads the TLS material and binds every listener
// (b.lns; undo closes them), and returns the inter-broker listener and
// the security its clients use. b.adv is the first PLAINTEXT listener's
// advertised address.
func (b *Broker) openListeners(undo *cleanup) (*boundListener, *security, error) {
	sec, err := openSecurity(&b.cfg, b.log)
	if err != nil {
		return nil, nil, err
	}
	lns, err := bindListeners(&b.cfg, sec)
	if err != nil {
		return nil, nil, err
	}
	b.lns = lns
	// One fatal error per listener and the metrics server, never blocked.
	b.serveErr = make(chan error, len(lns)+2)
	undo.push(func() {
		for _, l := range lns {
			l.ln.Close()
		}
	})
	for _, l := range lns {
		if l.cfg.Protocol == config.ProtocolPlaintext {
			b.adv = l.adv
			break
		}
	}
	ib, err := interBroker(&b.cfg, lns)
	return ib, sec, err
}

// serveListeners serves every listener, one goroutine each (counted in
// b.wg by the caller).
func (b *Broker) serveListeners() {
	for _, l := range b.lns {
		go func() {
			defer b.wg.Done()
			if err := b.server.ServeListener(l.ln, l.srv); err != nil {
				b.serveErr <- fmt.Errorf("kafka listener %s: %w", l.cfg.Name, err)
			}
		}()
	}
}

// boundListener is one of the broker's listeners, bound.
type boundListener struct {
	cfg config.Listener
	ln  net.Listener
	srv server.Listener // what the protocol server serves it as
	adv string          // advertised host:port
}

// security is the broker's TLS material and policy, shared by its TLS
// listeners and its inter-broker client. Nil when nothing uses TLS.
type security struct {
	store      *tlsconf.Store
	principals *tlsconf.PrincipalMapper
}

// openSecurity loads the TLS material when a listener uses TLS.
func openSecurity(cfg *config.Config, log *slog.Logger) (*security, error) {
	if !cfg.TLSNeeded() {
		return nil, nil
	}
	st, err := tlsconf.Open(cfg.SSL.Files(), func(err error) {
		log.Warn("TLS files changed but do not load; still using the previous certificate", "err", err)
	})
	if err != nil {
		return nil, fmt.Errorf("TLS material (ssl.keystore.location / tls.cert, ssl.truststore.location / tls.ca): %w", err)
	}
	pm, err := tlsconf.ParsePrincipalRules(cfg.SSL.PrincipalMappingRules)
	if err != nil {
		return nil, fmt.Errorf("ssl.principal.mapping.rules: %w", err)
	}
	return &security{store: st, principals: pm}, nil
}

// bindListeners binds every configured listener, in order; on error the
// ones already bound are closed.
func bindListeners(cfg *config.Config, sec *security) (_ []*boundListener, err error) {
	ls, err := cfg.ListenerList()
	if err != nil {
		return nil, err
	}
	var out []*boundListener
	defer func() {
		if err != nil {
			for _, b := range out {
				b.ln.Close()
			}
		}
	}()
	for _, l := range ls {
		ln, err := net.Listen("tcp", l.Bind)
		if err != nil {
			return nil, fmt.Errorf("listener %s: listen on %s: %w", l.Name, l.Bind, err)
		}
		b := &boundListener{cfg: l, ln: ln}
		out = append(out, b)
		b.adv = advertisedAddr(l.Advertised, ln.Addr())
		host, port, err := net.SplitHostPort(b.adv)
		if err != nil {
			return nil, fmt.Errorf("listener %s: advertised address %q: %w", l.Name, b.adv, err)
		}
		p, err := strconv.ParseUint(port, 10, 16)
		if err != nil {
			return nil, fmt.Errorf("listener %s: advertised address %q: port: %w", l.Name, b.adv, err)
		}
		b.srv = server.Listener{Name: l.Name, Protocol: auth.SecurityProtocol(l.Protocol), Host: host, Port: int32(p)}
		if l.TLS() {
			auth := tlsconf.ClientAuthNone
			if l.Protocol == config.ProtocolSSL {
				// SASL_SSL authenticates with SASL: Kafka asks for no
				// certificate there unless told per listener.
				auth = cfg.SSL.ClientAuthMode()
			}
			tc, err := sec.store.ServerConfig(auth)
			if err != nil {
				return nil, fmt.Errorf("listener %s: %w", l.Name, err)
			}
			b.srv.TLS, b.srv.Principals = tc, sec.principals
		}
	}
	return out, nil
}

// endpoints are the listeners' advertised addresses, as registered.
func endpoints(ls []*boundListener) []cluster.Endpoint {
	out := make([]cluster.Endpoint, 0, len(ls))
	for _, b := range ls {
		out = append(out, cluster.Endpoint{Listener: b.cfg.Name, Protocol: b.cfg.Protocol, Host: b.srv.Host, Port: b.srv.Port})
	}
	return out
}

// interBroker returns the bound inter-broker listener.
func interBroker(cfg *config.Config, ls []*boundListener) (*boundListener, error) {
	ib, err := cfg.InterBrokerListener()
	if err != nil {
		return nil, err
	}
	for _, b := range ls {
		if b.cfg.Name == ib.Name {
			return b, nil
		}
	}
	return nil, errors.New("inter-broker listener not bound") // unreachable: config checked it
}

// interbrokerOptions are the settings of this broker's clients of its
// peers: TLS when the inter-broker listener is SSL or SASL_SSL, with
// this broker's certificate for peers that require one (mTLS).
func interbrokerOptions(cfg *config.Config, ib *boundListener, sec *security) (interbroker.Options, error) {
	o := interbroker.Options{NodeID: cfg.NodeID}
	if ib.cfg.TLS() {
		o.TLS = sec.store.ClientConfig()
	}
	if ib.cfg.Protocol == config.ProtocolSASLPlaintext || ib.cfg.Protocol == config.ProtocolSASLSSL {
		// Read here, before the node starts its fetchers; openSASL
		// reads the same file for the server side.
		s, err := sasl.ReadSecret(cfg.SASLInterBrokerSecretFile)
		if err != nil {
			return o, fmt.Errorf("sasl.inter.broker.secret.file (inter-broker listener %s is %s): %w", ib.cfg.Name, ib.cfg.Protocol, err)
		}
		m, err := s.KgoMechanism(cfg.SASLInterBrokerMechanism)
		if err != nil {
			return o, fmt.Errorf("sasl.mechanism.inter.broker.protocol: %w", err)
		}
		o.SASL = []kgosasl.Mechanism{m}
	}
	return o, nil
}

// ListenerAddr is the bound address of the listener named name, or ""
// when there is none.
func (b *Broker) ListenerAddr(name string) string {
	for _, l := range b.lns {
		if l.cfg.Name == name {
			return l.ln.Addr().String()
		}
	}
	return ""
}

// listenersSummary names each listener and its bound address, for the
// start-up log line: "PLAINTEXT=127.0.0.1:9092,SSL=127.0.0.1:9093".
func listenersSummary(ls []*boundListener) string {
	parts := make([]string, len(ls))
	for i, l := range ls {
		parts[i] = l.cfg.Name + "=" + l.ln.Addr().String()
	}
	return strings.Join(parts, ",")
}

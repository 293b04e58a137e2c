package config

// Listeners and TLS, under Kafka's names (issue 12).
//
// A listener is a name, a security protocol and a bound address, as in
// Kafka: listeners=PLAINTEXT://127.0.0.1:9092,SSL://0.0.0.0:9093 binds two;
// listener.security.protocol.map gives custom names their protocol
// (CLIENT:SASL_SSL,REPLICATION:SSL), a standard protocol name being its own
// protocol unless mapped; advertised.listeners says what clients of each
// listener are told to connect to; inter.broker.listener.name is the
// listener peers connect to. Without listeners, listen and
// advertised.listener are the one PLAINTEXT listener (make run's
// 127.0.0.1:9092).
//
// Invariants of ListenerList: names are unique and upper case (Kafka
// normalises them), the inter-broker listener is one of them, every
// advertised address has a host clients can reach; a port 0 binds a free
// port and is advertised as the bound one.

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/kafki/kafki/brokerd/tlsconf"
)

// Kafka's security protocols, as listener.security.protocol.map names
// them.
const (
	ProtocolPlaintext     = "PLAINTEXT"
	ProtocolSSL           = "SSL"
	ProtocolSASLPlaintext = "SASL_PLAINTEXT"
	ProtocolSASLSSL       = "SASL_SSL"
)

// SSLConfig is the TLS material and policy of the broker's SSL and
// SASL_SSL listeners, and of its inter-broker client when the
// inter-broker listener uses TLS. Kafka's names and Kafki's shorter tls.*
// ones are two ways to give the same files; only PEM is read.
type SSLConfig struct {
	KeystoreLocation   string // ssl.keystore.location: PEM certificate chain and private key in one file
	KeystoreType       string // ssl.keystore.type: PEM (the only type read)
	KeyPassword        string // ssl.key.password: refused (encrypted keys are not supported)
	TruststoreLocation string // ssl.truststore.location: PEM CA bundle
	TruststoreType     string // ssl.truststore.type: PEM
	Cert               string // tls.cert: PEM certificate chain (shorthand of the keystore)
	Key                string // tls.key: PEM private key, when not in tls.cert
	CA                 string // tls.ca: PEM CA bundle (shorthand of the truststore)
	// ClientAuth is ssl.client.auth (required, requested, none) on SSL
	// listeners; SASL_SSL listeners authenticate with SASL and never ask
	// for a certificate, as in Kafka without a listener prefix.
	ClientAuth            string
	PrincipalMappingRules string // ssl.principal.mapping.rules
}

// Files are the PEM files of the TLS material.
func (s *SSLConfig) Files() tlsconf.Files {
	f := tlsconf.Files{Cert: s.Cert, Key: s.Key, CA: s.CA}
	if s.KeystoreLocation != "" {
		f.Cert = s.KeystoreLocation
	}
	if s.TruststoreLocation != "" {
		f.CA = s.TruststoreLocation
	}
	return f
}

// Listener is one listener of the broker.
type Listener struct {
	Name     string // upper case: "PLAINTEXT", "CLIENT"
	Protocol string // one of the Protocol* constants
	Bind     string // host:port to bind; an empty host binds every interface
	// Advertised is the host:port clients of this listener are told to
	// connect to; empty: the bound address (an unspecified host becoming
	// localhost). A port 0 here means the bound port.
	Advertised string
}

// TLS reports whether the listener's connections are TLS.
func (l Listener) TLS() bool { return l.Protocol == ProtocolSSL || l.Protocol == ProtocolSASLSSL }

func (c *Config) bindListeners(fs *flag.FlagSet) {
	fs.StringVar(&c.Listeners, "listeners", c.Listeners, "Kafka listeners NAME://host:port,... (e.g. PLAINTEXT://127.0.0.1:9092,SSL://0.0.0.0:9093); empty: one PLAINTEXT listener on --listen")
	fs.StringVar(&c.AdvertisedListeners, "advertised.listeners", c.AdvertisedListeners, "what clients of each listener are told to connect to, NAME://host:port,... (default: the bound address)")
	fs.StringVar(&c.ListenerSecurityProtocolMap, "listener.security.protocol.map", c.ListenerSecurityProtocolMap, "security protocol of custom listener names, NAME:PROTOCOL,... (e.g. CLIENT:SASL_SSL,REPLICATION:SSL); PLAINTEXT, SSL, SASL_PLAINTEXT and SASL_SSL name their own")
	fs.StringVar(&c.InterBrokerListenerName, "inter.broker.listener.name", c.InterBrokerListenerName, "listener brokers connect to each other on (default: PLAINTEXT, or the only listener)")
	s := &c.SSL
	fs.StringVar(&s.KeystoreLocation, "ssl.keystore.location", s.KeystoreLocation, "PEM file with the broker's certificate chain and private key (ssl.keystore.type=PEM)")
	fs.StringVar(&s.KeystoreType, "ssl.keystore.type", s.KeystoreType, "keystore type; only PEM is read")
	fs.StringVar(&s.KeyPassword, "ssl.key.password", s.KeyPassword, "not supported: give the key unencrypted")
	fs.StringVar(&s.TruststoreLocation, "ssl.truststore.location", s.TruststoreLocation, "PEM CA bundle trusted for client certificates and peers")
	fs.StringVar(&s.TruststoreType, "ssl.truststore.type", s.TruststoreType, "truststore type; only PEM is read")
	fs.StringVar(&s.Cert, "tls.cert", s.Cert, "PEM certificate chain (shorthand of ssl.keystore.location; the key may be in it or in --tls.key)")
	fs.StringVar(&s.Key, "tls.key", s.Key, "PEM private key of --tls.cert")
	fs.StringVar(&s.CA, "tls.ca", s.CA, "PEM CA bundle (shorthand of ssl.truststore.location)")
	fs.StringVar(&s.ClientAuth, "ssl.client.auth", s.ClientAuth, "client certificates on SSL listeners: required (mTLS), requested or none")
	fs.StringVar(&s.PrincipalMappingRules, "ssl.principal.mapping.rules", s.PrincipalMappingRules, "map a client certificate's subject to a principal: RULE:pattern/replacement/[LU],...,DEFAULT")
}

// ListenerList returns the broker's listeners, in the order configured.
func (c *Config) ListenerList() ([]Listener, error) {
	if c.Listeners == "" {
		if c.AdvertisedListeners != "" {
			return nil, errors.New("advertised.listeners: needs listeners (or use advertised.listener with listen)")
		}
		return []Listener{{Name: ProtocolPlaintext, Protocol: ProtocolPlaintext, Bind: c.Listen, Advertised: c.AdvertisedAddr}}, nil
	}
	if c.Listen != Default().Listen {
		return nil, fmt.Errorf("listen %q and listeners %q: set one (listeners replaces listen)", c.Listen, c.Listeners)
	}
	if c.AdvertisedAddr != "" {
		return nil, fmt.Errorf("advertised.listener %q with listeners: use advertised.listeners", c.AdvertisedAddr)
	}
	protos, err := parseProtocolMap(c.ListenerSecurityProtocolMap)
	if err != nil {
		return nil, err
	}
	binds, err := parseListenerAddrs("listeners", c.Listeners, true)
	if err != nil {
		return nil, err
	}
	out := make([]Listener, 0, len(binds))
	seenBind := map[string]string{}
	for _, b := range binds {
		p, ok := protos[b.name]
		if !ok {
			return nil, fmt.Errorf("listeners: listener %s has no security protocol (name it PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL, or map it in listener.security.protocol.map)", b.name)
		}
		if _, port, _ := net.SplitHostPort(b.addr); port != "0" {
			if other, dup := seenBind[b.addr]; dup {
				return nil, fmt.Errorf("listeners: %s and %s both bind %s", other, b.name, b.addr)
			}
			seenBind[b.addr] = b.name
		}
		out = append(out, Listener{Name: b.name, Protocol: p, Bind: b.addr})
	}
	if c.AdvertisedListeners != "" {
		advs, err := parseListenerAddrs("advertised.listeners", c.AdvertisedListeners, false)
		if err != nil {
			return nil, err
		}
	adv:
		for _, a := range advs {
			for i := range out {
				if out[i].Name == a.name {
					out[i].Advertised = a.addr
					continue adv
				}
			}
			return nil, fmt.Errorf("advertised.listeners: %s is not a listener (listeners %q)", a.name, c.Listeners)
		}
	}
	return out, nil
}

type listenerAddr struct{ name, addr string }

// parseListenerAddrs parses NAME://host:port,...; bind says whether the
// addresses are bound (any host, port 0 allowed) or advertised (a host
// clients can reach).
func parseListenerAddrs(setting, v string, bind bool) ([]listenerAddr, error) {
	var out []listenerAddr
	seen := map[string]bool{}
	for _, item := range strings.Split(v, ",") {
		item = strings.TrimSpace(item)
		name, addr, ok := strings.Cut(item, "://")
		if !ok || name == "" {
			return nil, fmt.Errorf("%s %q: want NAME://host:port, ... (e.g. PLAINTEXT://127.0.0.1:9092)", setting, item)
		}
		name = strings.ToUpper(name)
		if seen[name] {
			return nil, fmt.Errorf("%s: listener %s given twice", setting, name)
		}
		seen[name] = true
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, fmt.Errorf("%s %q: want NAME://host:port (%v)", setting, item, err)
		}
		p, err := strconv.Atoi(port)
		if err != nil || p < 0 || p > 65535 {
			return nil, fmt.Errorf("%s %q: port must be a number in 0..65535", setting, item)
		}
		if !bind {
			if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
				return nil, fmt.Errorf("%s %q: needs a host clients can reach (not empty, 0.0.0.0 or ::)", setting, item)
			}
		}
		out = append(out, listenerAddr{name: name, addr: addr})
	}
	return out, nil
}

// parseProtocolMap parses listener.security.protocol.map over the
// standard names, which map to themselves.
func parseProtocolMap(v string) (map[string]string, error) {
	m := map[string]string{}
	for _, p := range []string{ProtocolPlaintext, ProtocolSSL, ProtocolSASLPlaintext, ProtocolSASLSSL} {
		m[p] = p
	}
	if strings.TrimSpace(v) == "" {
		return m, nil
	}
	for _, item := range strings.Split(v, ",") {
		item = strings.TrimSpace(item)
		name, proto, ok := strings.Cut(item, ":")
		name, proto = strings.ToUpper(strings.TrimSpace(name)), strings.ToUpper(strings.TrimSpace(proto))
		if !ok || name == "" {
			return nil, fmt.Errorf("listener.security.protocol.map %q: want NAME:PROTOCOL, ...", item)
		}
		switch proto {
		case ProtocolPlaintext, ProtocolSSL, ProtocolSASLPlaintext, ProtocolSASLSSL:
		default:
			return nil, fmt.Errorf("listener.security.protocol.map %q: protocol must be PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL", item)
		}
		m[name] = proto
	}
	return m, nil
}

// InterBrokerListener is the listener peers connect to: the one
// inter.broker.listener.name names, else PLAINTEXT, else the only one.
func (c *Config) InterBrokerListener() (Listener, error) {
	ls, err := c.ListenerList()
	if err != nil {
		return Listener{}, err
	}
	name := strings.ToUpper(c.InterBrokerListenerName)
	if name == "" {
		if len(ls) == 1 {
			return ls[0], nil
		}
		name = ProtocolPlaintext
	}
	for _, l := range ls {
		if l.Name == name {
			return l, nil
		}
	}
	if c.InterBrokerListenerName == "" {
		return Listener{}, errors.New("inter.broker.listener.name: needed with several listeners and none named PLAINTEXT")
	}
	return Listener{}, fmt.Errorf("inter.broker.listener.name %s: not a listener (listeners %q)", name, c.Listeners)
}

// TLSNeeded reports whether a listener uses TLS.
func (c *Config) TLSNeeded() bool {
	ls, _ := c.ListenerList()
	for _, l := range ls {
		if l.TLS() {
			return true
		}
	}
	return false
}

// validateListeners checks the listeners and the TLS settings (whose
// files are read when the broker starts).
func (c *Config) validateListeners() error {
	if _, err := c.InterBrokerListener(); err != nil {
		return err
	}
	s := &c.SSL
	if err := s.validateFiles(); err != nil {
		return err
	}
	auth, err := tlsconf.ParseClientAuth(s.clientAuth())
	if err != nil {
		return fmt.Errorf("ssl.client.auth %v", err)
	}
	if _, err := tlsconf.ParsePrincipalRules(s.PrincipalMappingRules); err != nil {
		return fmt.Errorf("ssl.principal.mapping.rules: %v", err)
	}
	if c.TLSNeeded() {
		f := s.Files()
		if f.Cert == "" {
			return errors.New("a TLS listener (SSL, SASL_SSL) needs ssl.keystore.location or tls.cert")
		}
		if auth != tlsconf.ClientAuthNone && f.CA == "" {
			return fmt.Errorf("ssl.client.auth=%s needs ssl.truststore.location or tls.ca", auth)
		}
	}
	return nil
}

// validateFiles checks how the TLS files are given.
func (s *SSLConfig) validateFiles() error {
	switch {
	case s.KeystoreType != "" && !strings.EqualFold(s.KeystoreType, "PEM"):
		return fmt.Errorf("ssl.keystore.type %s: only PEM is supported (convert with openssl)", s.KeystoreType)
	case s.TruststoreType != "" && !strings.EqualFold(s.TruststoreType, "PEM"):
		return fmt.Errorf("ssl.truststore.type %s: only PEM is supported (convert with openssl)", s.TruststoreType)
	case s.KeyPassword != "":
		return errors.New("ssl.key.password: encrypted private keys are not supported; give the key unencrypted, readable by the broker only")
	case s.KeystoreLocation != "" && s.Cert != "":
		return errors.New("ssl.keystore.location and tls.cert: set one")
	case s.KeystoreLocation != "" && s.Key != "":
		return errors.New("tls.key with ssl.keystore.location: the PEM keystore holds the key")
	case s.TruststoreLocation != "" && s.CA != "":
		return errors.New("ssl.truststore.location and tls.ca: set one")
	case s.Key != "" && s.Cert == "":
		return errors.New("tls.key: needs tls.cert")
	}
	return nil
}

// ClientAuthMode is ssl.client.auth, parsed (none when unset).
func (s *SSLConfig) ClientAuthMode() tlsconf.ClientAuth {
	a, _ := tlsconf.ParseClientAuth(s.clientAuth())
	return a
}

func (s *SSLConfig) clientAuth() string {
	if s.ClientAuth == "" {
		return string(tlsconf.ClientAuthNone)
	}
	return strings.ToLower(s.ClientAuth)
}

// listenersString renders the listeners as Kafka's listeners setting.
func (c *Config) listenersString(advertised bool) string {
	ls, err := c.ListenerList()
	if err != nil {
		return ""
	}
	var parts []string
	for _, l := range ls {
		a := l.Bind
		if advertised {
			if l.Advertised == "" {
				continue
			}
			a = l.Advertised
		}
		parts = append(parts, l.Name+"://"+a)
	}
	return strings.Join(parts, ",")
}

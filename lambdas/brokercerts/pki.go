// Package brokercerts is the CloudFormation custom resource behind the
// CDK stack's TLS material (lambdas/functions/broker-certs): on Create it
// generates a private CA and one broker certificate for every name the
// brokers are reached by, and keeps them in AWS Secrets Manager:
//
//	<prefix>/ca       {"certificate": CA PEM, "privateKey": CA key PEM}        the stack's deployer only
//	<prefix>/broker   {"certificate": broker PEM + CA PEM, "privateKey": PEM}  the brokers
//	<prefix>/root-ca  {"certificate": CA PEM}                                   clients, Lambda's SERVER_ROOT_CA_CERTIFICATE
//
// Update keeps the material while the names stay the same, and re-issues
// the broker certificate from the same CA when they change (clients keep
// trusting it); Delete removes the three secrets.
package brokercerts

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"slices"
	"time"
)

// Validity of what Issue creates.
const (
	CAValidity     = 10 * 365 * 24 * time.Hour
	BrokerValidity = 825 * 24 * time.Hour // the longest CA/Browser Forum bound, a habit clients check
)

// Authority is a CA: its certificate and key, in PEM.
type Authority struct {
	CertPEM string
	KeyPEM  string
}

// Leaf is a certificate signed by an Authority: the chain (leaf then CA)
// and the key, in PEM, as brokerd's tls.cert and tls.key read them.
type Leaf struct {
	ChainPEM string
	KeyPEM   string
}

// NewAuthority creates a self-signed CA named cn (ECDSA P-256).
func NewAuthority(cn string, now time.Time) (Authority, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return Authority{}, fmt.Errorf("CA key: %w", err)
	}
	serial, err := serialNumber()
	if err != nil {
		return Authority{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: cn, Organization: []string{"Kafki"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(CAValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return Authority{}, fmt.Errorf("CA certificate: %w", err)
	}
	keyPEM, err := encodeKey(key)
	if err != nil {
		return Authority{}, err
	}
	return Authority{CertPEM: encodeCert(der), KeyPEM: keyPEM}, nil
}

// Issue signs a server (and client) certificate for names: DNS names, or
// IP addresses, which go to the IP SANs. The first name is the subject's
// common name.
func (a Authority) Issue(names []string, now time.Time) (Leaf, error) {
	if len(names) == 0 {
		return Leaf{}, errors.New("issue: no names")
	}
	caCert, caKey, err := a.parse()
	if err != nil {
		return Leaf{}, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return Leaf{}, fmt.Errorf("broker key: %w", err)
	}
	serial, err := serialNumber()
	if err != nil {
		return Leaf{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: names[0], Organization: []string{"Kafki"}},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(BrokerValidity),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		// Brokers are servers to clients and clients of each other on the
		// inter-broker listener.
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	for _, n := range names {
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		return Leaf{}, fmt.Errorf("broker certificate: %w", err)
	}
	keyPEM, err := encodeKey(key)
	if err != nil {
		return Leaf{}, err
	}
	return Leaf{ChainPEM: encodeCert(der) + a.CertPEM, KeyPEM: keyPEM}, nil
}

func (a Authority) parse() (*x509.Certificate, *ecdsa.PrivateKey, error) {
	cb, _ := pem.Decode([]byte(a.CertPEM))
	if cb == nil || cb.Type != "CERTIFICATE" {
		return nil, nil, errors.New("CA: no PEM certificate")
	}
	cert, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		return nil, nil, fmt.Errorf("CA certificate: %w", err)
	}
	kb, _ := pem.Decode([]byte(a.KeyPEM))
	if kb == nil {
		return nil, nil, errors.New("CA: no PEM key")
	}
	k, err := x509.ParsePKCS8PrivateKey(kb.Bytes)
	if err != nil {
		return nil, nil, fmt.Errorf("CA key: %w", err)
	}
	key, ok := k.(*ecdsa.PrivateKey)
	if !ok {
		return nil, nil, fmt.Errorf("CA key: %T, want ECDSA", k)
	}
	return cert, key, nil
}

// LeafNames are the SANs of the first certificate of a chain (DNS names,
// then IP addresses), for comparing with the names asked for.
func LeafNames(chainPEM string) ([]string, error) {
	b, _ := pem.Decode([]byte(chainPEM))
	if b == nil {
		return nil, errors.New("no PEM certificate")
	}
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		return nil, fmt.Errorf("certificate: %w", err)
	}
	names := slices.Clone(c.DNSNames)
	for _, ip := range c.IPAddresses {
		names = append(names, ip.String())
	}
	return names, nil
}

func serialNumber() (*big.Int, error) {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("serial number: %w", err)
	}
	return n.Add(n, big.NewInt(1)), nil
}

func encodeCert(der []byte) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

func encodeKey(k *ecdsa.PrivateKey) (string, error) {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return "", fmt.Errorf("encode key: %w", err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})), nil
}

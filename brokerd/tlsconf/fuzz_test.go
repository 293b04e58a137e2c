package tlsconf

import (
	"crypto/x509"
	"strings"
	"testing"
)

// FuzzPrincipalRules: any ssl.principal.mapping.rules value either parses
// or is refused with a one-line error, and a parsed mapper maps any DN
// without panicking; DEFAULT as the last rule maps every DN.
func FuzzPrincipalRules(f *testing.F) {
	for _, s := range []string{
		"", "DEFAULT", "RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/L,DEFAULT",
		`RULE:^CN=((\\, *|\w)+)(,.*|$)/$1/,DEFAULT`, "RULE:a/$9$1x\\$/U", "RULE:(?P<u>.)/${u}/",
	} {
		f.Add(s, "CN=Duke,OU=ServiceUsers,O=Org,C=US")
	}
	f.Fuzz(func(t *testing.T, rules, dn string) {
		m, err := ParsePrincipalRules(rules)
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("multi-line error %q", err)
			}
			return
		}
		m.Map(dn)
		if m2, err := ParsePrincipalRules(rules + ",DEFAULT"); err == nil {
			if _, err := m2.Map(dn); err != nil {
				t.Fatalf("%q,DEFAULT did not map %q: %v", rules, dn, err)
			}
		}
	})
}

// FuzzSubjectDN: any subject encoding gives a DN or an error, never a
// panic (a verified certificate's subject is well-formed, but the code
// must not rely on it).
func FuzzSubjectDN(f *testing.F) {
	f.Add([]byte{0x30, 0x00})
	f.Add([]byte{0x30, 0x10, 0x31, 0x0e, 0x30, 0x0c, 0x06, 0x03, 0x55, 0x04, 0x03, 0x0c, 0x05, 'a', 'l', 'i', 'c', 'e'})
	f.Fuzz(func(t *testing.T, raw []byte) {
		SubjectDN(&x509.Certificate{RawSubject: raw})
	})
}

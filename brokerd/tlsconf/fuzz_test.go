package tlsconf

import (
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

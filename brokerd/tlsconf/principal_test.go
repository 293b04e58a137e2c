package tlsconf

import (
	"crypto/x509/pkix"
	"encoding/asn1"
	"strings"
	"testing"

	"github.com/kafki/kafki/brokerd/internal/testcerts"
)

func TestPrincipalMappingRules(t *testing.T) {
	const dn = "CN=Duke,OU=ServiceUsers,O=Org,C=US"
	for _, tc := range []struct {
		rules, dn, want string
		noMatch         bool
	}{
		{rules: "", dn: dn, want: dn},
		{rules: "DEFAULT", dn: dn, want: dn},
		{rules: "RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/", dn: dn, want: "Duke"},
		{rules: "RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/L", dn: dn, want: "duke"},
		{rules: "RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/U", dn: dn, want: "DUKE"},
		{rules: "RULE:^CN=(.*?),OU=(.*?),O=(.*?),L=(.*?),ST=(.*?),C=(.*?)$/$1@$2/L,DEFAULT", dn: "CN=Duke,OU=JavaSoft,O=Sun Microsystems,L=Santa Clara,ST=CA,C=US", want: "duke@javasoft"},
		// The first rule that applies wins; a rule that does not match
		// passes to the next.
		{rules: "RULE:^CN=(.*?),OU=Admins.*$/admin-$1/, RULE:^CN=(.*?),OU=ServiceUsers.*$/svc-$1/ ,DEFAULT", dn: dn, want: "svc-Duke"},
		{rules: "RULE:^CN=(.*?),OU=Admins.*$/$1/,DEFAULT", dn: dn, want: dn},
		{rules: "RULE:^CN=(.*?),OU=Admins.*$/$1/", dn: dn, noMatch: true},
		// Patterns may hold commas and escaped ones (Kafka's
		// testCommaWithWhitespace).
		{rules: `RULE:^CN=((\\, *|\w)+)(,.*|$)/$1/,DEFAULT`, dn: `CN=Tkac\, Adam,OU=ITZ,DC=geodis,DC=cz`, want: `Tkac\, Adam`},
		// An escaped slash belongs to the pattern; \$ is a literal.
		{rules: `RULE:^CN=([^,]*),OU=a\/b$/\$$1/`, dn: "CN=x,OU=a/b", want: "$x"},
		// Java's "$1x" is group 1 then "x"; "$9" beyond the groups is a
		// literal, as Kafka escapes it.
		{rules: `RULE:^CN=([^,]*),.*$/$1x$9/`, dn: dn, want: "Dukex$9"},
		{rules: `RULE:^CN=(?P<user>[^,]*),.*$/${user}/`, dn: dn, want: "Duke"},
	} {
		m, err := ParsePrincipalRules(tc.rules)
		if err != nil {
			t.Errorf("%q: %v", tc.rules, err)
			continue
		}
		got, err := m.Map(tc.dn)
		switch {
		case tc.noMatch && err == nil:
			t.Errorf("%q on %q: got %q, want no match", tc.rules, tc.dn, got)
		case !tc.noMatch && err != nil:
			t.Errorf("%q on %q: %v", tc.rules, tc.dn, err)
		case got != tc.want:
			t.Errorf("%q on %q: got %q, want %q", tc.rules, tc.dn, got, tc.want)
		}
	}
}

// Kafka's invalid rules are refused with one line naming the problem.
func TestPrincipalMappingRulesInvalid(t *testing.T) {
	for _, rules := range []string{
		"DEFAULT/L", "DEFAUL", "RULE:/", "RULE:^CN=(.*?),OU=ServiceUsers.*$",
		"RULE:^CN=(.*?),OU=ServiceUsers.*$/", "RULE:^CN=(.*?),OU=ServiceUsers.*$/L",
		"RULE:^CN=(.*?),OU=ServiceUsers.*$/U", "RULE:^CN=(.*?),OU=(.*?)$/$1@$2/LU",
		"RULE:^CN=(.*?,OU=x$/$1/", "RULE:^CN=(.*?)$/$/", "DEFAULT,junk",
	} {
		_, err := ParsePrincipalRules(rules)
		if err == nil {
			t.Errorf("%q: accepted", rules)
		} else if strings.Contains(err.Error(), "\n") {
			t.Errorf("%q: multi-line error %q", rules, err)
		}
	}
}

func TestSubjectDNIsRFC2253(t *testing.T) {
	dir := t.TempDir()
	ca := testcerts.NewCA(t, dir, "test")
	emailOID := asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 1}
	for _, tc := range []struct {
		subject pkix.Name
		want    string
	}{
		{pkix.Name{CommonName: "alice"}, "CN=alice"},
		{pkix.Name{CommonName: "kafka1", OrganizationalUnit: []string{"Eng"}, Organization: []string{"Acme"}, Locality: []string{"SF"}, Province: []string{"CA"}, Country: []string{"US"}},
			"CN=kafka1,OU=Eng,O=Acme,L=SF,ST=CA,C=US"},
		{pkix.Name{CommonName: "Smith, Bob", Organization: []string{"a+b"}}, `CN=Smith\, Bob,O=a\+b`},
		{pkix.Name{CommonName: " lead#", ExtraNames: []pkix.AttributeTypeAndValue{{Type: emailOID, Value: "a@b"}}},
			`1.2.840.113549.1.9.1=#0c03614062,CN=\ lead#`},
	} {
		is := ca.Issue(t, dir, "leaf", testcerts.Leaf{Subject: tc.subject})
		got, err := SubjectDN(is.Cert)
		if err != nil {
			t.Fatal(err)
		}
		if got != tc.want {
			t.Errorf("subject %v: got %q, want %q", tc.subject, got, tc.want)
		}
	}
}

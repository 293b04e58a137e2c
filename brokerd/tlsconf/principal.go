package tlsconf

import (
	"crypto/x509"
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"regexp/syntax"
	"strconv"
	"strings"
	"unicode/utf8"
)

// SubjectDN is a certificate's subject distinguished name in RFC 2253
// form, as Java's X500Principal.getName() writes it and so as Kafka's
// principal mapping rules see it: the relative distinguished names in
// reverse order of the encoding ("CN=alice,OU=eng,O=Acme,C=US"), the
// keywords CN, C, L, ST, O, OU, STREET, DC and UID, any other attribute
// as its dotted OID with the DER value in hex ("1.2.840.113549.1.9.1=#16…").
func SubjectDN(cert *x509.Certificate) (string, error) {
	var seq rdnSequence
	rest, err := asn1.Unmarshal(cert.RawSubject, &seq)
	if err != nil {
		return "", fmt.Errorf("certificate subject: %w", err)
	}
	if len(rest) > 0 {
		return "", errors.New("certificate subject: trailing data")
	}
	var b strings.Builder
	for i := len(seq) - 1; i >= 0; i-- {
		if i != len(seq)-1 {
			b.WriteByte(',')
		}
		for j, atv := range seq[i] {
			if j > 0 {
				b.WriteByte('+')
			}
			if err := writeATV(&b, atv); err != nil {
				return "", err
			}
		}
	}
	return b.String(), nil
}

// rfc2253Keywords are the attribute keywords Java's RFC 2253 form uses.
// rdnSequence is a Name with each value as encoded, so an attribute
// written in hex keeps the certificate's own bytes (pkix.RDNSequence
// decodes values and would lose their string types).
type rdnSequence []atvSET

// atvSET is a relative distinguished name (asn1 reads a type named
// ...SET as a SET).
type atvSET []rawATV

type rawATV struct {
	Type  asn1.ObjectIdentifier
	Value asn1.RawValue
}

var rfc2253Keywords = map[string]string{
	"2.5.4.3":                    "CN",
	"2.5.4.6":                    "C",
	"2.5.4.7":                    "L",
	"2.5.4.8":                    "ST",
	"2.5.4.10":                   "O",
	"2.5.4.11":                   "OU",
	"2.5.4.9":                    "STREET",
	"0.9.2342.19200300.100.1.25": "DC",
	"0.9.2342.19200300.100.1.1":  "UID",
}

func writeATV(b *strings.Builder, atv rawATV) error {
	oid := atv.Type.String()
	kw, known := rfc2253Keywords[oid]
	var s string
	_, err := asn1.Unmarshal(atv.Value.FullBytes, &s)
	if known && err == nil {
		b.WriteString(kw)
		b.WriteByte('=')
		b.WriteString(escapeValue(s))
		return nil
	}
	// RFC 2253 2.4: an attribute without a keyword is its OID and the BER
	// (here DER) encoding of its value, in hex.
	b.WriteString(oid)
	b.WriteString("=#")
	b.WriteString(hex.EncodeToString(atv.Value.FullBytes))
	return nil
}

// escapeValue escapes a string value as RFC 2253 2.4 says: the special
// characters, a leading '#' or space and a trailing space.
func escapeValue(s string) string {
	var b strings.Builder
	for i, r := range s {
		switch {
		case strings.ContainsRune(",+\"\\<>;", r),
			i == 0 && (r == '#' || r == ' '),
			i == len(s)-utf8.RuneLen(r) && r == ' ':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, "\\%02x", r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// PrincipalMapper maps a certificate's subject DN to a principal name
// with Kafka's ssl.principal.mapping.rules: the first rule that applies
// gives the name; DEFAULT applies to any DN and gives it unchanged; a DN
// no rule applies to has no principal (Kafka fails the authentication).
// Immutable; safe for concurrent use.
type PrincipalMapper struct {
	rules []rule
	text  string // the rules as given, for errors
}

// rule is one mapping rule. A DEFAULT rule has a nil pattern.
type rule struct {
	full        *regexp.Regexp // the pattern anchored at both ends: does the rule apply?
	pattern     *regexp.Regexp // the pattern as written: what is replaced
	replacement string         // in regexp.Expand's template syntax
	lower       bool           // /L
	upper       bool           // /U
}

// ParsePrincipalRules parses a value of ssl.principal.mapping.rules: a
// comma-separated list of DEFAULT and RULE:pattern/replacement/ or
// RULE:pattern/replacement/L (lower case) or .../U (upper case) items, as
// Kafka's SslPrincipalMapper reads it. A pattern or replacement may hold
// commas, and a '/' escaped with a backslash. The patterns are Go (RE2)
// regular expressions: Java's syntax but for backreferences and
// lookaround. The empty string means DEFAULT, Kafka's default.
func ParsePrincipalRules(s string) (*PrincipalMapper, error) {
	m := &PrincipalMapper{text: s}
	rest := strings.TrimSpace(s)
	if rest == "" {
		rest = "DEFAULT"
	}
	for rest != "" {
		var r rule
		var err error
		switch {
		case strings.HasPrefix(rest, "DEFAULT"):
			rest = rest[len("DEFAULT"):]
		case strings.HasPrefix(rest, "RULE:"):
			r, rest, err = parseRule(rest[len("RULE:"):])
			if err != nil {
				return nil, err
			}
		default:
			return nil, fmt.Errorf("invalid rule %q: want DEFAULT or RULE:pattern/replacement/[LU]", item(rest))
		}
		rest = strings.TrimLeft(rest, " \t")
		if rest != "" {
			if rest[0] != ',' {
				return nil, fmt.Errorf("invalid rule: unexpected %q after a rule (rules are separated by commas)", item(rest))
			}
			rest = strings.TrimLeft(rest[1:], " \t")
		}
		m.rules = append(m.rules, r)
	}
	return m, nil
}

// item is the start of s up to its first comma, for error messages.
func item(s string) string {
	if i := strings.IndexByte(s, ','); i >= 0 {
		return s[:i]
	}
	return s
}

// parseRule parses "pattern/replacement/[LU]..." and returns the rest.
func parseRule(s string) (rule, string, error) {
	pat, s, ok := untilSlash(s)
	if !ok {
		return rule{}, "", fmt.Errorf("invalid rule %q: want RULE:pattern/replacement/[LU]", "RULE:"+item(pat))
	}
	repl, s, ok := untilSlash(s)
	if !ok {
		return rule{}, "", fmt.Errorf("invalid rule %q: want RULE:pattern/replacement/[LU]", "RULE:"+pat+"/"+item(repl))
	}
	var r rule
	if s != "" && (s[0] == 'L' || s[0] == 'U') {
		r.lower, r.upper = s[0] == 'L', s[0] == 'U'
		s = s[1:]
	}
	var err error
	if r.pattern, err = regexp.Compile(pat); err != nil {
		var se *syntax.Error
		if errors.As(err, &se) {
			// syntax.Error prints the expression raw, newlines and all.
			return rule{}, "", fmt.Errorf("rule pattern %q: %s in %q", pat, se.Code, se.Expr)
		}
		return rule{}, "", fmt.Errorf("rule pattern %q: %v", pat, err)
	}
	// A pattern that compiles alone may not inside the anchors (a \Q
	// with no \E quotes the closing parenthesis): refused, never a panic
	// on a config value.
	if r.full, err = regexp.Compile(`^(?:` + pat + `)$`); err != nil {
		return rule{}, "", fmt.Errorf("rule pattern %q: cannot be matched whole: %v", pat, strings.ReplaceAll(err.Error(), "\n", " "))
	}
	if r.replacement, err = javaReplacement(repl, r.pattern); err != nil {
		return rule{}, "", fmt.Errorf("rule replacement %q: %v", repl, err)
	}
	return r, s, nil
}

// untilSlash splits s at its first '/' not escaped by a backslash; the
// escapes are kept (the regular expression reads "\/" as "/").
func untilSlash(s string) (before, after string, ok bool) {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '/':
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

// javaReplacement turns a java.util.regex replacement ("$1", "\$",
// "${name}") into regexp.Expand's template. As Kafka does, a "$n" beyond
// the pattern's groups is a literal; as Java does, "$12" is group 12 if
// there are that many and group 1 then "2" otherwise.
func javaReplacement(j string, re *regexp.Regexp) (string, error) {
	groups := re.NumSubexp()
	var b strings.Builder
	for i := 0; i < len(j); i++ {
		c := j[i]
		switch {
		case c == '\\':
			if i+1 == len(j) {
				return "", errors.New("trailing backslash")
			}
			i++
			if j[i] == '$' {
				b.WriteString("$$")
			} else {
				b.WriteByte(j[i])
			}
		case c == '$' && i+1 < len(j) && j[i+1] == '{':
			end := strings.IndexByte(j[i:], '}')
			if end < 0 {
				return "", errors.New("unclosed ${")
			}
			name := j[i+2 : i+end]
			if re.SubexpIndex(name) < 0 {
				return "", fmt.Errorf("no group named %q", name)
			}
			b.WriteString("${" + name + "}")
			i += end
		case c == '$' && i+1 < len(j) && j[i+1] >= '0' && j[i+1] <= '9':
			n := int(j[i+1] - '0')
			if n > groups {
				b.WriteString("$$")
				continue
			}
			k := i + 2
			for k < len(j) && j[k] >= '0' && j[k] <= '9' {
				next := n*10 + int(j[k]-'0')
				if next > groups {
					break
				}
				n, k = next, k+1
			}
			b.WriteString("${" + strconv.Itoa(n) + "}")
			i = k - 1
		case c == '$':
			return "", errors.New("'$' must be followed by a group number or {name} (write \\$ for a literal)")
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), nil
}

// Map returns the principal name of dn: the result of the first rule
// that applies. An error means no rule applies.
func (m *PrincipalMapper) Map(dn string) (string, error) {
	for _, r := range m.rules {
		if r.pattern == nil {
			return dn, nil
		}
		if !r.full.MatchString(dn) {
			continue
		}
		out := r.pattern.ReplaceAllString(dn, r.replacement)
		switch {
		case r.lower:
			out = strings.ToLower(out)
		case r.upper:
			out = strings.ToUpper(out)
		}
		return out, nil
	}
	return "", fmt.Errorf("no ssl.principal.mapping.rules rule applies to %q (rules %q)", dn, m.text)
}

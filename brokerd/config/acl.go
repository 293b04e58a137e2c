package config

import (
	"flag"
	"fmt"
	"strings"
)

// Authorization settings, under Kafka's names so that a Kafka operator's
// server.properties lines carry over.

// Authorizer choices of authorizer.class.name: the short name and the
// class Kafka 4.x configures (KRaft's StandardAuthorizer). Both select
// package acl.
const (
	AuthorizerACL           = "acl"
	AuthorizerStandardClass = "org.apache.kafka.metadata.authorizer.StandardAuthorizer"
)

// ACLEnabled reports whether requests are authorized by ACLs rather than
// all allowed.
func (c *Config) ACLEnabled() bool { return c.AuthorizerClassName != "" }

func (c *Config) bindACL(fs *flag.FlagSet) {
	fs.StringVar(&c.AuthorizerClassName, "authorizer.class.name", c.AuthorizerClassName,
		"authorize requests with Kafka ACLs: "+AuthorizerACL+" or "+AuthorizerStandardClass+" (empty: allow everything)")
	fs.StringVar(&c.SuperUsers, "super.users", c.SuperUsers, "principals allowed everything, separated by semicolons (User:admin;User:broker)")
	fs.BoolVar(&c.AllowEveryoneIfNoACLFound, "allow.everyone.if.no.acl.found", c.AllowEveryoneIfNoACLFound,
		"with ACLs on: allow an action on a resource no ACL names (Kafka's default: false, denied)")
}

func (c *Config) validateACL() error {
	switch c.AuthorizerClassName {
	case "", AuthorizerACL, AuthorizerStandardClass:
	default:
		return fmt.Errorf("authorizer.class.name %q: must be empty, %s or %s", c.AuthorizerClassName, AuthorizerACL, AuthorizerStandardClass)
	}
	for _, p := range strings.Split(c.SuperUsers, ";") {
		p = strings.TrimSpace(p)
		if typ, name, ok := strings.Cut(p, ":"); p != "" && (!ok || typ == "" || name == "") {
			return fmt.Errorf("super.users: %q is not a principal of the form Type:Name (User:admin)", p)
		}
	}
	// Without an authorizer super.users and allow.everyone.if.no.acl.found
	// mean nothing, and are accepted, as Kafka does.
	return nil
}

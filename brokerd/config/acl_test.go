package config

import (
	"io"
	"strings"
	"testing"
)

func TestACLSettings(t *testing.T) {
	c, err := Load([]string{"--authorizer.class.name=" + AuthorizerStandardClass, "--super.users=User:admin; User:broker", "--allow.everyone.if.no.acl.found=true"}, env(nil), io.Discard)
	if err != nil || !c.ACLEnabled() || c.SuperUsers != "User:admin; User:broker" || !c.AllowEveryoneIfNoACLFound {
		t.Fatalf("got %+v, %v", c, err)
	}
	if c, err := Load(nil, env(map[string]string{"KAFKI_AUTHORIZER_CLASS_NAME": "acl"}), io.Discard); err != nil || !c.ACLEnabled() {
		t.Fatalf("from the environment: %v", err)
	}
	if c, err := Load([]string{"--super.users=User:admin"}, env(nil), io.Discard); err != nil || c.ACLEnabled() {
		t.Fatalf("super.users without an authorizer (accepted, as Kafka): %v", err)
	}
	for _, args := range [][]string{
		{"--authorizer.class.name=kafka.security.authorizer.AclAuthorizer"},
		{"--authorizer.class.name=acl", "--super.users=admin"},
	} {
		_, err := Load(args, env(nil), io.Discard)
		if err == nil || !strings.Contains(err.Error(), strings.SplitN(strings.TrimPrefix(args[len(args)-1], "--"), "=", 2)[0]) {
			t.Errorf("%v: %v", args, err)
		}
	}
}

package cli_test

import (
	"strings"
	"testing"
)

// Flags before the command are a usage error whose one line says where the
// flags go, with the command line reordered; no broker is contacted.
func TestFlagsBeforeCommand(t *testing.T) {
	cases := []struct {
		args []string
		hint string
	}{
		{[]string{"--bootstrap-server", "h:1", "topics", "list"}, "'kafki topics list --bootstrap-server h:1'"},
		{[]string{"--bootstrap-server=h:1", "consume", "--topic", "t"}, "'kafki consume --bootstrap-server=h:1 --topic t'"},
		{[]string{"topics", "--bootstrap-server", "h:1", "list"}, "'kafki topics list --bootstrap-server h:1'"},
		{[]string{"groups", "--bootstrap-server", "h:1", "describe", "--group", "g"}, "'kafki groups describe --bootstrap-server h:1 --group g'"},
		{[]string{"cluster", "--timeout", "1s", "describe"}, "'kafki cluster describe --timeout 1s'"},
		{[]string{"--timeout", "1s"}, "e.g. 'kafki topics list --timeout 1s'"},
	}
	for _, tc := range cases {
		r := kafki(t, "", "", tc.args...)
		if r.code != 2 {
			t.Errorf("%v: exit %d, want 2 (usage)", tc.args, r.code)
		}
		if strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, "flags go after the command") || !strings.Contains(r.stderr, tc.hint) {
			t.Errorf("%v: stderr %q, want one line with %s", tc.args, r.stderr, tc.hint)
		}
	}
}

package stack

import (
	"fmt"
	"strings"
)

// UsersInit is the script that creates the consumers' SCRAM user and
// their ACLs once the cluster answers.
const UsersInit = BinDir + "/kafki-users-init"

// usersScript writes UsersInit and starts it in the background as a
// transient systemd unit (the first brokers of a new cluster wait for
// each other, and the boot script must not). Every broker runs it; both
// steps are idempotent. The password goes through a 0600 file, never a
// command line.
func usersScript(b BrokerBoot) string {
	sb := b.Secure
	grant := ""
	if len(sb.Topics) > 0 {
		grant = fmt.Sprintf(` &&
    %s/kafki-triggers grant --bootstrap-server 127.0.0.1:%d --security.protocol SASL_PLAINTEXT --sasl.mechanism SCRAM-SHA-512 \
      --sasl.secret.file %s --principal User:%s --topic %s --group %s`,
			BinDir, ClientPort, InterBrokerFile, ConsumerUser, strings.Join(sb.Topics, ","), strings.Join(sb.Groups, ","))
	}
	return fmt.Sprintf(`cat > %[1]s <<'EOF'
#!/bin/bash
# The consumers' SCRAM user and ACLs, once the cluster is up.
set -uo pipefail
PWFILE=$(mktemp /run/kafki-consumer.XXXXXX)
trap 'rm -f "$PWFILE"' EXIT
for i in $(seq 1 30); do
  aws secretsmanager get-secret-value --region %[2]s --secret-id %[3]q --query SecretString --output text | jq -er .password > "$PWFILE" && break
  sleep 5
done
for i in $(seq 1 90); do
  if %[4]s/kafki users create --bootstrap-server 127.0.0.1:%[5]d --sasl-mechanism SCRAM-SHA-512 --sasl-secret-file %[6]s \
      --user %[7]s --password-file "$PWFILE" --mechanism SCRAM-SHA-512%[8]s; then
    echo "consumer user %[7]s and its ACLs are in place"; exit 0
  fi
  sleep 10
done
echo "consumer user %[7]s: the cluster did not answer in 15 minutes" >&2; exit 1
EOF
chmod 0700 %[1]s
systemd-run --unit kafki-users-init --no-block --property=After=kafki.service %[1]s
`, UsersInit, b.Region, sb.Consumer, BinDir, ClientPort, InterBrokerFile, ConsumerUser, grant)
}

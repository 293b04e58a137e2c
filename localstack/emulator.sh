#!/usr/bin/env bash
# Kafki on a local AWS emulator, without an AWS account: start MiniStack
# (PyPI, no Docker) on loopback, deploy the CDK app from infra/ in its
# emulator mode with the CDK CLI, read the stack's outputs, tear down.
#
#   localstack/emulator.sh up        # MiniStack on 127.0.0.1:$KAFKI_EMULATOR_PORT (4566)
#   localstack/emulator.sh deploy    # cdk bootstrap + cdk deploy -c emulator=true
#   localstack/emulator.sh outputs   # the stack's outputs (JSON), as brokers are configured from them
#   localstack/emulator.sh brokers   # 3 brokers as host processes, configured only from those outputs (Ctrl-C stops)
#   localstack/emulator.sh destroy   # cdk destroy
#   localstack/emulator.sh down      # stop MiniStack
#
# An emulator already listening on the port (LocalStack or MiniStack from
# localstack/compose.yml) is used as it is: "up" and "down" then do nothing.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
port=${KAFKI_EMULATOR_PORT:-4566}
endpoint="http://127.0.0.1:${port}"
state="$root/build/localstack"
cdk="$root/infra/_cli/node_modules/.bin/cdk"
mkdir -p "$state"

# Fake credentials in the emulator's account; a CDK_HOME of its own, since
# the CLI caches the account per access key (moto's differs).
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
export AWS_ENDPOINT_URL="$endpoint" AWS_ENDPOINT_URL_S3="$endpoint"
export CDK_HOME="$state/cdk-home" CDK_DISABLE_CLI_TELEMETRY=1 JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20

healthy() { curl -fs -o /dev/null --max-time 2 "$endpoint/_localstack/health"; }

up() {
  if healthy; then echo "emulator already serving on $endpoint"; return; fi
  command -v ministack >/dev/null || { echo "ministack not installed: make lambdas-deps" >&2; exit 1; }
  # AWS_ENDPOINT_URL in its environment: the functions it runs call back
  # into it instead of AWS.
  GATEWAY_PORT=$port BIND_HOST=127.0.0.1 MINISTACK_HOST=127.0.0.1 \
    nohup ministack >"$state/ministack.log" 2>&1 &
  echo $! >"$state/ministack.pid"
  for _ in $(seq 100); do
    if healthy; then echo "MiniStack on $endpoint (log $state/ministack.log)"; return; fi
    kill -0 "$(cat "$state/ministack.pid")" 2>/dev/null || { cat "$state/ministack.log" >&2; exit 1; }
    sleep 0.1
  done
  echo "MiniStack did not answer on $endpoint within 10 s; log: $state/ministack.log" >&2
  exit 1
}

down() {
  if [[ -f "$state/ministack.pid" ]]; then
    kill "$(cat "$state/ministack.pid")" 2>/dev/null || true
    rm -f "$state/ministack.pid"
    echo "MiniStack stopped"
  fi
}

deploy() {
  healthy || { echo "no emulator on $endpoint: localstack/emulator.sh up" >&2; exit 1; }
  cd "$root"
  "$cdk" bootstrap -q aws://000000000000/us-east-1 -c emulator=true
  "$cdk" deploy -c emulator=true --require-approval never --outputs-file "$state/outputs.json" "$@"
}

outputs() { cat "$state/outputs.json"; }

# output NAME is one of the stack's outputs.
output() {
  python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["Kafki"][sys.argv[2]])' "$state/outputs.json" "$1"
}

# brokers runs the cluster as the EC2 brokers would run it: the table and
# the tier bucket are the stack's outputs, nothing else is set by hand.
brokers() {
  [[ -f "$state/outputs.json" ]] || { echo "no stack outputs: localstack/emulator.sh deploy" >&2; exit 1; }
  exec "$root/bin/kafki-dev-cluster" --brokerd "$root/bin/brokerd" --endpoint "$endpoint" \
    --table "$(output MetadataTable)" --tier-bucket "$(output TierBucket)" --dir "$state/cluster" "$@"
}

destroy() {
  cd "$root"
  "$cdk" destroy -c emulator=true --force "$@"
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  deploy) shift; deploy "$@" ;;
  outputs) outputs ;;
  brokers) shift; brokers "$@" ;;
  destroy) shift; destroy "$@" ;;
  *) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac

#!/usr/bin/env bash
# roll.sh replaces Kafki's brokers one at a time: for each broker it waits
# until the cluster is healthy (every broker registered, no partition
# under-replicated or offline, as `kafki cluster describe` reports over
# the Kafka protocol), stops brokerd with SIGTERM (controlled shutdown:
# leaderships handed over first), terminates the instance so its Auto
# Scaling group starts a fresh one with the same identity (node.id, AZ,
# network interface and DNS name), and waits until the new broker has
# caught up before it moves on. A launch template change (new brokerd,
# new instance type) reaches the brokers this way after `cdk deploy`.
#
# usage: infra/scripts/roll.sh [--stack Kafki] [--brokers 1,2,3]
#        [--bootstrap-server HOST:PORT] [--timeout 1800] [--dry-run]
#
# Without --bootstrap-server the health check runs `kafki` on another
# broker through SSM Run Command (the brokers sit in private subnets);
# with it, the local bin/kafki (or kafki on PATH) asks that address.
# Needs the AWS CLI with credentials for the stack's account and region.
set -euo pipefail

STACK=Kafki BROKERS="" BOOTSTRAP="" TIMEOUT=1800 DRY=""
while [ $# -gt 0 ]; do
  case "$1" in
    --stack) STACK=$2; shift 2 ;;
    --brokers) BROKERS=$2; shift 2 ;;
    --bootstrap-server) BOOTSTRAP=$2; shift 2 ;;
    --timeout) TIMEOUT=$2; shift 2 ;;
    --dry-run) DRY=1; shift ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "roll.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done

log() { echo "$(date -u +%H:%M:%S) $*"; }
output() { aws cloudformation describe-stacks --stack-name "$STACK" \
  --query "Stacks[0].Outputs[?OutputKey=='$1'].OutputValue" --output text; }

declare -A GROUP
ALL=()
for n in $(seq 1 30); do
  g=$(output "Broker${n}Group")
  [ -z "$g" ] || [ "$g" = None ] && break
  GROUP[$n]=$g; ALL+=("$n")
done
[ ${#ALL[@]} -gt 0 ] || { echo "roll.sh: stack $STACK has no Broker1Group output" >&2; exit 1; }
[ -n "$BROKERS" ] || BROKERS=$(IFS=,; echo "${ALL[*]}")
EXPECTED=${#ALL[@]}

instance_of() { aws autoscaling describe-auto-scaling-groups --auto-scaling-group-names "$1" \
  --query "AutoScalingGroups[0].Instances[?LifecycleState=='InService'].InstanceId | [0]" --output text; }

# run_on INSTANCE COMMAND: the command's stdout, through SSM Run Command.
run_on() {
  local id
  id=$(aws ssm send-command --instance-ids "$1" --document-name AWS-RunShellScript \
    --parameters "{\"commands\":[\"$2\"]}" --query Command.CommandId --output text)
  aws ssm wait command-executed --command-id "$id" --instance-id "$1" 2>/dev/null || true
  aws ssm get-command-invocation --command-id "$id" --instance-id "$1" --query StandardOutputContent --output text
}

# summary: "<brokers> brokers, <p> partitions, <u> under-replicated, <o> offline"
summary() { # $1: broker to avoid asking
  if [ -n "$BOOTSTRAP" ]; then
    local k=kafki; [ -x bin/kafki ] && k=bin/kafki
    "$k" cluster describe --include-internal --bootstrap-server "$BOOTSTRAP" | tail -1
    return
  fi
  local n inst
  for n in "${ALL[@]}"; do
    [ "$n" = "$1" ] && continue
    inst=$(instance_of "${GROUP[$n]}")
    [ "$inst" = None ] && continue
    # With -c security=sasl_ssl the loopback listener wants the brokers' own login.
    run_on "$inst" "[ -f /etc/kafki/interbroker.json ] && export KAFKI_SASL_MECHANISM=SCRAM-SHA-512 KAFKI_SASL_SECRET_FILE=/etc/kafki/interbroker.json; /opt/kafki/bin/kafki cluster describe --include-internal --bootstrap-server 127.0.0.1:9092 | tail -1" && return
  done
}

wait_healthy() { # $1: broker being replaced (not asked)
  local deadline=$((SECONDS + TIMEOUT)) s
  while :; do
    s=$(summary "$1" 2>/dev/null || true)
    if [[ "$s" =~ ^([0-9]+)\ brokers,\ ([0-9]+)\ partitions,\ 0\ under-replicated,\ 0\ offline ]] && [ "${BASH_REMATCH[1]}" -ge "$EXPECTED" ]; then
      log "healthy: $s"; return 0
    fi
    [ $SECONDS -lt $deadline ] || { log "not healthy after ${TIMEOUT}s: ${s:-no answer}"; return 1; }
    log "waiting: ${s:-no answer}"; sleep 15
  done
}

IFS=, read -ra TODO <<<"$BROKERS"
for n in "${TODO[@]}"; do
  g=${GROUP[$n]:?"broker $n is not in stack $STACK"}
  wait_healthy "$n"
  old=$(instance_of "$g")
  log "broker $n: replacing $old in $g"
  [ -n "$DRY" ] && continue
  # Controlled shutdown first; systemd waits TimeoutStopSec for it.
  run_on "$old" "systemctl stop kafki-triggers kafki || true" >/dev/null
  aws autoscaling terminate-instance-in-auto-scaling-group --instance-id "$old" \
    --no-should-decrement-desired-capacity >/dev/null
  deadline=$((SECONDS + TIMEOUT))
  until new=$(instance_of "$g"); [ "$new" != None ] && [ "$new" != "$old" ]; do
    [ $SECONDS -lt $deadline ] || { log "broker $n: no new instance after ${TIMEOUT}s"; exit 1; }
    sleep 10
  done
  log "broker $n: $new in service; waiting for its replicas to catch up"
  wait_healthy ""
done
log "rolled brokers $BROKERS"

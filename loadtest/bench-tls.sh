#!/bin/sh
# bench-tls.sh: produce and read-back throughput, and produce p99 latency,
# over PLAINTEXT, SSL (mutual TLS) and SASL_SSL (SCRAM-SHA-512) against
# one brokerd serving the three listeners, in the same run, rounds
# interleaved (plain, ssl, sasl_ssl, plain, ...) so that a noisy machine
# disturbs all alike. Each run is "loadtest produce --read-back". Prints
# each round and the medians: throughput, p99, and the broker's CPU time
# per 100k records produced and read back (from /proc), which other load
# on the machine disturbs far less than throughput.
#
#   loadtest/bench-tls.sh BIN_DIR [ROUNDS] [DURATION]
#
# Needs bin/brokerd, bin/kafki (to create the SCRAM user), bin/loadtest
# and openssl (test certificates and the password are made in a
# temporary directory, removed at the end).
set -eu
bin=${1:?usage: bench-tls.sh BIN_DIR [ROUNDS] [DURATION]}
rounds=${2:-4}
duration=${3:-8s}
work=$(mktemp -d)
pid=
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT INT TERM

cd "$work"
ossl() { openssl "$@" >/dev/null 2>&1; }
ossl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.pem -days 1 -subj /CN=bench-ca
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n' >ext.cnf
for who in broker client; do
	ossl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout $who.key -out $who.csr -subj /CN=$who
	ossl x509 -req -in $who.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out $who.crt -days 1 -extfile ext.cnf
done
cat broker.crt broker.key >broker.pem

# Free ports: bind port 0 and read the log line naming the bound ones.
"$bin/brokerd" --data.dir="$work/data" --metrics.listen= \
	--listeners=PLAINTEXT://127.0.0.1:0,SSL://127.0.0.1:0,SASL_SSL://127.0.0.1:0 \
	--ssl.keystore.location=broker.pem --ssl.keystore.type=PEM \
	--ssl.truststore.location=ca.pem --ssl.client.auth=required >broker.log 2>&1 &
pid=$!
i=0
until grep -q 'broker started' broker.log; do
	i=$((i + 1))
	[ $i -lt 100 ] || { cat broker.log; exit 1; }
	sleep 0.1
done
# listener NAME: the bound address of listener NAME, from the log line
# listeners="PLAINTEXT=127.0.0.1:p1,SSL=127.0.0.1:p2,SASL_SSL=127.0.0.1:p3".
listener() { sed -n "s/.*listeners=\"\([^\"]*,\)\{0,1\}$1=\([^,\"]*\).*/\2/p" broker.log | head -n 1; }
plain=$(listener PLAINTEXT)
ssl=$(listener SSL)
sasl=$(listener SASL_SSL)
[ -n "$plain" ] && [ -n "$ssl" ] && [ -n "$sasl" ] || { echo "listeners not found in the broker's log:"; cat broker.log; exit 1; }
# The SASL_SSL runs log in as a SCRAM user, created as an operator would.
openssl rand -hex 16 >bench.pw
"$bin/kafki" users create --bootstrap-server="$plain" --user=bench --password-file=bench.pw \
	--mechanism=SCRAM-SHA-512 >/dev/null

# cpu prints the broker's user+system CPU time so far, in clock ticks.
cpu() { awk '{ print $14 + $15 }' "/proc/$pid/stat"; }
hz=$(getconf CLK_TCK)

# run PROTOCOL ROUND prints "produce-rec/s records cpu-ticks produce-p99-ms
# read-back-rec/s" of one run.
run() {
	case $1 in
	SSL) set -- "$1" "$2" --bootstrap="$ssl" --security-protocol=SSL --tls-ca=ca.pem --tls-cert=client.crt --tls-key=client.key ;;
	SASL_SSL) set -- "$1" "$2" --bootstrap="$sasl" --security-protocol=SASL_SSL --tls-ca=ca.pem \
		--sasl-mechanism=SCRAM-SHA-512 --sasl-username=bench --sasl-password-file=bench.pw ;;
	*) set -- "$1" "$2" --bootstrap="$plain" ;;
	esac
	proto=$1 round=$2
	shift 2
	out="out-$proto-$round.txt"
	c0=$(cpu)
	"$bin/loadtest" produce "$@" --topic="bench-$proto-$round" --duration="$duration" --warmup=2s \
		--record-size=1024 --read-back --progress=0 --json= --svg= >"$out" 2>&1 ||
		{ cat "$out" >&2; exit 1; }
	c1=$(cpu)
	# The broker's records include the warm-up's: all it did.
	held=$(awk '/^broker holds/ { print $3; exit }' "$out")
	p=$(awk '$1 == "produce" && $2 ~ /^[0-9]+$/ { print $3, $8; exit }' "$out")
	rb=$(awk '$1 == "read" && $2 == "back" { print $4; exit }' "$out")
	echo "$p $held $((c1 - c0)) $rb" | awk '{ print $1, $3, $4, $2, $5 }'
}

median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
# perk prints a run's broker CPU milliseconds per 100k records.
perk() { awk -v hz="$hz" '{ printf "%.0f\n", $3 * 1000 / hz / $2 * 100000 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

echo "produce then read back, 1 KiB records, acks=all, 3 partitions, $duration per run; broker $plain (PLAINTEXT), $ssl (SSL, mTLS), $sasl (SASL_SSL, SCRAM-SHA-512)"
protos="PLAINTEXT SSL SASL_SSL"
r=1
while [ $r -le "$rounds" ]; do
	line="round $r:"
	for proto in $protos; do
		v=$(run $proto $r)
		echo "$v" >>"$proto.txt"
		line="$line $proto produce $(echo "$v" | cut -d' ' -f1) rec/s p99 $(echo "$v" | cut -d' ' -f4) ms, read back $(echo "$v" | cut -d' ' -f5) rec/s ($(echo "$v" | perk) CPU ms/100k);"
	done
	echo "$line"
	r=$((r + 1))
done
for proto in $protos; do
	eval "mp_$proto=\$(cut -d' ' -f1 $proto.txt | median)"
	eval "mr_$proto=\$(cut -d' ' -f5 $proto.txt | median)"
	eval "ml_$proto=\$(cut -d' ' -f4 $proto.txt | median)"
	eval "mc_$proto=\$(perk <$proto.txt | median)"
done
echo "medians of $rounds rounds:"
printf '%-10s %12s %10s %14s %16s\n' protocol "produce/s" "p99 ms" "read back/s" "CPU ms/100k"
for proto in $protos; do
	eval "printf '%-10s %12s %10s %14s %16s\\n' $proto \$mp_$proto \$ml_$proto \$mr_$proto \$mc_$proto"
done
echo "vs PLAINTEXT: produce SSL $(ratio "$mp_SSL" "$mp_PLAINTEXT"), SASL_SSL $(ratio "$mp_SASL_SSL" "$mp_PLAINTEXT"); read back SSL $(ratio "$mr_SSL" "$mr_PLAINTEXT"), SASL_SSL $(ratio "$mr_SASL_SSL" "$mr_PLAINTEXT"); CPU SSL $(ratio "$mc_SSL" "$mc_PLAINTEXT"), SASL_SSL $(ratio "$mc_SASL_SSL" "$mc_PLAINTEXT")"

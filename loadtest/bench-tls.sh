#!/bin/sh
# bench-tls.sh: produce throughput over PLAINTEXT and over SSL (mutual
# TLS) against one brokerd serving both listeners, in the same run,
# rounds interleaved (plain, ssl, plain, ssl, ...) so that a noisy machine
# disturbs both alike. Prints each round and the medians: throughput, and
# the broker's CPU time per 100k records (from /proc), which other load
# on the machine disturbs far less than throughput.
#
#   loadtest/bench-tls.sh BIN_DIR [ROUNDS] [DURATION]
#
# Needs bin/brokerd, bin/loadtest and openssl (test certificates are made
# in a temporary directory, removed at the end).
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
	--listeners=PLAINTEXT://127.0.0.1:0,SSL://127.0.0.1:0 \
	--ssl.keystore.location=broker.pem --ssl.keystore.type=PEM \
	--ssl.truststore.location=ca.pem --ssl.client.auth=required >broker.log 2>&1 &
pid=$!
i=0
until grep -q 'broker started' broker.log; do
	i=$((i + 1))
	[ $i -lt 100 ] || { cat broker.log; exit 1; }
	sleep 0.1
done
plain=$(sed -n 's/.*listeners="PLAINTEXT=\([^,]*\),SSL=\([^"]*\)".*/\1/p' broker.log)
ssl=$(sed -n 's/.*listeners="PLAINTEXT=\([^,]*\),SSL=\([^"]*\)".*/\2/p' broker.log)

# cpu prints the broker's user+system CPU time so far, in clock ticks.
cpu() { awk '{ print $14 + $15 }' "/proc/$pid/stat"; }
hz=$(getconf CLK_TCK)

run() { # run PROTOCOL ROUND: prints "records/s records cpu-ticks" of the run
	if [ "$1" = SSL ]; then
		set -- "$1" "$2" --bootstrap="$ssl" --security-protocol=SSL --tls-ca=ca.pem --tls-cert=client.crt --tls-key=client.key
	else
		set -- "$1" "$2" --bootstrap="$plain"
	fi
	proto=$1 round=$2
	shift 2
	c0=$(cpu)
	"$bin/loadtest" produce "$@" --topic="bench-$proto-$round" --duration="$duration" --warmup=2s \
		--record-size=1024 --progress=0 --json= --svg= >"out-$proto-$round.txt" 2>&1 ||
		{ cat "out-$proto-$round.txt" >&2; exit 1; }
	c1=$(cpu)
	# The broker's records include the warm-up's: all it did.
	held=$(awk '/^broker holds/ { print $3; exit }' "out-$proto-$round.txt")
	awk -v t=$((c1 - c0)) -v n="$held" '$1 == "produce" && $2 ~ /^[0-9]+$/ { print $3, n, t; exit }' "out-$proto-$round.txt"
}

median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

echo "produce, 1 KiB records, acks=all, 3 partitions, $duration per run; broker $plain (PLAINTEXT) and $ssl (SSL, mTLS)"
# perk prints a run's broker CPU milliseconds per 100k records.
perk() { awk -v hz="$hz" '{ printf "%.0f\n", $3 * 1000 / hz / $2 * 100000 }'; }
r=1
while [ $r -le "$rounds" ]; do
	p=$(run PLAINTEXT $r)
	s=$(run SSL $r)
	echo "$p" >>plain.txt
	echo "$s" >>ssl.txt
	echo "round $r: PLAINTEXT $(echo "$p" | cut -d' ' -f1) rec/s ($(echo "$p" | perk) broker CPU ms/100k records), SSL $(echo "$s" | cut -d' ' -f1) rec/s ($(echo "$s" | perk) ms/100k)"
	r=$((r + 1))
done
mp=$(cut -d' ' -f1 plain.txt | median)
ms=$(cut -d' ' -f1 ssl.txt | median)
cp=$(perk <plain.txt | median)
cs=$(perk <ssl.txt | median)
echo "median throughput: PLAINTEXT $mp rec/s, SSL $ms rec/s, SSL/PLAINTEXT $(awk -v a="$ms" -v b="$mp" 'BEGIN { printf "%.2f", a / b }')"
echo "median broker CPU per 100k records: PLAINTEXT $cp ms, SSL $cs ms, SSL/PLAINTEXT $(awk -v a="$cs" -v b="$cp" 'BEGIN { printf "%.2f", a / b }')"

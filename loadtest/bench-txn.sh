#!/bin/sh
# bench-txn.sh: the transaction benchmark of issue 17 against one brokerd,
# in the same run, rounds interleaved so that a noisy machine disturbs
# every mode alike. Each run is "loadtest produce --read-back" (1 KiB
# records, acks=all, 3 partitions, one producer, one consumer) in one of
# these modes:
#
#   idempotent   the idempotent producer (the baseline)
#   txn1         transactional, a commit after every record
#   txn100       transactional, a commit every 100 records
#   txn10000     transactional, a commit every 10,000 records
#   txn100-rc    txn100, read back read_committed (the others read back
#                read_uncommitted): the read_committed fetch cost
#
# A transactional record's latency runs to its transaction's commit (see
# loadtest/txn.go), an idempotent one's to its ack. Prints each round and
# the medians of produce rec/s, produce p99 and read-back rec/s.
#
#   loadtest/bench-txn.sh BIN_DIR [ROUNDS] [DURATION]
#
# Needs bin/brokerd and bin/loadtest; the broker's data goes to a
# temporary directory, removed at the end.
set -eu
bin=${1:?usage: bench-txn.sh BIN_DIR [ROUNDS] [DURATION]}
rounds=${2:-3}
duration=${3:-8s}
work=$(mktemp -d)
pid=
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT INT TERM

"$bin/brokerd" --listen=127.0.0.1:0 --data.dir="$work/data" --metrics.listen= >"$work/broker.log" 2>&1 &
pid=$!
i=0
until grep -q 'broker started' "$work/broker.log" 2>/dev/null; do
	i=$((i + 1))
	[ $i -lt 100 ] || { cat "$work/broker.log"; exit 1; }
	sleep 0.1
done
addr=$(sed -n 's/.*listen="\{0,1\}\(127\.0\.0\.1:[0-9]*\).*/\1/p' "$work/broker.log" | head -n 1)
[ -n "$addr" ] || { echo "listen address not found in the broker's log:"; cat "$work/broker.log"; exit 1; }

# run MODE ROUND prints "produce-rec/s produce-p99-ms read-back-rec/s".
run() {
	mode=$1 round=$2
	case $mode in
	idempotent) set -- ;;
	txn100-rc) set -- --transactional-id="bench-$mode-$round" --transaction-records=100 --isolation=read_committed ;;
	txn*) set -- --transactional-id="bench-$mode-$round" --transaction-records="${mode#txn}" ;;
	esac
	out="$work/out-$mode-$round.txt"
	"$bin/loadtest" produce --bootstrap="$addr" "$@" --topic="bench-$mode-$round" --delete-topic \
		--duration="$duration" --warmup=2s --record-size=1024 --read-back --progress=0 --json= --svg= >"$out" 2>&1 ||
		{ cat "$out" >&2; exit 1; }
	p=$(awk '$1 == "produce" && $2 ~ /^[0-9]+$/ { print $3, $8; exit }' "$out")
	rb=$(awk '$1 == "read" && $2 == "back" { print $4; exit }' "$out")
	echo "$p $rb"
}

median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

echo "produce then read back, 1 KiB records, acks=all, 3 partitions, 1 producer, $duration per run (2 s warm-up); broker $addr; load: $(cut -d' ' -f1-3 /proc/loadavg)"
modes="idempotent txn1 txn100 txn10000 txn100-rc"
r=1
while [ $r -le "$rounds" ]; do
	line="round $r:"
	for mode in $modes; do
		v=$(run $mode $r)
		echo "$v" >>"$work/$mode.txt"
		line="$line $mode $(echo "$v" | cut -d' ' -f1) rec/s p99 $(echo "$v" | cut -d' ' -f2) ms read back $(echo "$v" | cut -d' ' -f3) rec/s;"
	done
	echo "$line"
	r=$((r + 1))
done
echo "medians of $rounds rounds (load now: $(cut -d' ' -f1-3 /proc/loadavg)):"
printf '%-11s %12s %10s %14s\n' mode "produce/s" "p99 ms" "read back/s"
for mode in $modes; do
	m=$(echo "$mode" | tr -d -)
	eval "mp_$m=\$(cut -d' ' -f1 $work/$mode.txt | median)"
	eval "ml_$m=\$(cut -d' ' -f2 $work/$mode.txt | median)"
	eval "mr_$m=\$(cut -d' ' -f3 $work/$mode.txt | median)"
	eval "printf '%-11s %12s %10s %14s\\n' $mode \$mp_$m \$ml_$m \$mr_$m"
done
echo "produce vs idempotent: txn1 $(ratio "$mp_txn1" "$mp_idempotent"), txn100 $(ratio "$mp_txn100" "$mp_idempotent"), txn10000 $(ratio "$mp_txn10000" "$mp_idempotent"); read back read_committed vs read_uncommitted (txn100): $(ratio "$mr_txn100rc" "$mr_txn100")"

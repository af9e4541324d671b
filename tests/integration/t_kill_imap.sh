#!/usr/bin/env bash
# Issue 6: kill -9 of the daemon at many instants during prefetch and during
# the first listing of a big folder. After each kill: a remount works, the
# cache database passes its integrity check, and every cached body is
# byte-identical to the server's message.
. "$(dirname "$0")/lib.sh"
setup
FILL_CMD='"$PY" "$GEN" --maildir "$MAILDIR" --profile small20k --count 5000 > /dev/null'
dovecot_start --profile demo --seed 43
RUNS=${KILL_RUNS:-20}
CHECK="$TOP/tests/integration/cachecheck.py"
mkdir -p "$T/dump"
ic folders | while read -r f; do mkdir -p "$T/dump/$f"; ic dump "$f" "$T/dump/$f" > /dev/null; done
printf '%s\n' "$PASSWORD" > "$T/pw"; chmod 600 "$T/pw"
MNT="$T/mnt"; mkdir -p "$MNT"; MOUNTS=("$MNT")
URL="imaps://$USER_NAME@localhost:$IMAPS_PORT"

start() {   # start CACHE OPTIONS: mailfs in the foreground, in the background
	"$MAILFS" -f "$URL" "$MNT" -o "password_file=$T/pw,cache_dir=$1,cafile=$T/dovecot/ca.pem$2" \
		> "$T/run.log" 2>&1 &
	pid=$!
	wait_for "is_mounted '$MNT'" 15
}
killit() {
	kill -9 "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
	is_mounted "$MNT" && fusermount3 -uz "$MNT"
}
after_kill() {   # after_kill RUN WHAT CACHE
	local out
	out=$("$PY" "$CHECK" "$3" integrity && "$PY" "$CHECK" "$3" bodies && "$PY" "$CHECK" "$3" imap-compare "$T/dump")
	if [ $? -ne 0 ]; then fail "$2 run $1: $out"; return; fi
	say "$2 run $1: $(tail -1 <<<"$out")"
	start "$3" ""
	if ls "$MNT/INBOX" > /dev/null && test "$(ls "$MNT/Bulk" | wc -l)" -eq "$BULK"; then
		remount_ok=$((remount_ok + 1))
	else
		fail "$2 run $1: the remount does not list the server's Bulk"
	fi
	fusermount3 -u "$MNT"; wait "$pid"
}
BULK=$(ic count Bulk)

# During prefetch: how long a whole prefetch takes, then kills spread over
# that time, each on a fresh cache.
start "$T/cache-calib" ",prefetch"
s0=$(date +%s%N)
wait_for "grep -q 'prefetch: complete' '$MNT/.mailfs-status'" 120 || fail "prefetch did not complete"
PREFETCH_MS=$(( ($(date +%s%N) - s0) / 1000000 ))
killit
say "a whole prefetch takes about ${PREFETCH_MS} ms after the mount; kills are spread over it"
remount_ok=0 partial=0
for run in $(seq 1 "$RUNS"); do
	rm -rf "$T/cache-prefetch"
	start "$T/cache-prefetch" ",prefetch"
	sleep "$(awk -v r="$run" -v n="$RUNS" -v d="$PREFETCH_MS" \
		'BEGIN { srand(r); printf "%.3f", (r - 0.5 + rand() * 0.5) * d * 1.1 / n / 1000 }')"
	killit
	c=$(find "$T/cache-prefetch/bodies" -type f 2>/dev/null | wc -l)
	[ "$c" -gt 0 ] && [ "$c" -lt $((BULK + 100)) ] && partial=$((partial + 1))
	after_kill "$run" prefetch "$T/cache-prefetch"
done
check "prefetch: $RUNS kills, every remount lists the server's Bulk" test "$remount_ok" -eq "$RUNS"
check "kills landed in the middle of prefetching ($partial runs)" test "$partial" -ge $((RUNS / 2))

# During the first listing of Bulk (5,000 messages): how long one takes,
# then kills spread over that time, each on a fresh cache. A kill that
# leaves some but not all of Bulk's messages in the cache (they are stored
# in batches as they arrive) landed in the middle of the listing. Here a
# listing takes a tenth of a second, as long as a kill's timing may be off:
# through a proxy that slows the server to 1 MB/s it takes about a second.
proxy_start "$IMAPS_PORT"
proxy rate 1000000 > /dev/null
URL="imaps://$USER_NAME@localhost:$PROXY_PORT"
rm -rf "$T/cache-list"
start "$T/cache-list" ""
s0=$(date +%s%N)
ls -l "$MNT/Bulk" > /dev/null || fail "the first listing of Bulk"
LIST_MS=$(( ($(date +%s%N) - s0) / 1000000 ))
fusermount3 -u "$MNT"; wait "$pid"
say "a first listing of Bulk takes about ${LIST_MS} ms; kills are spread over it"
remount_ok=0 partial=0
for run in $(seq 1 "$RUNS"); do
	rm -rf "$T/cache-list"
	start "$T/cache-list" ""
	ls -l "$MNT/Bulk" > /dev/null 2>&1 &
	lister=$!
	sleep "$(awk -v r="$run" -v n="$RUNS" -v d="$LIST_MS" \
		'BEGIN { srand(r + 100); printf "%.3f", (0.2 + 0.7 * (r - 1 + rand()) / n) * d / 1000 }')"
	killit
	wait "$lister" 2>/dev/null
	rows=$("$PY" "$CHECK" "$T/cache-list" rows Bulk 2>/dev/null)
	[ "${rows:-0}" -gt 0 ] && [ "$rows" -lt "$BULK" ] && partial=$((partial + 1))
	after_kill "$run" "listing (${rows:-no} rows of $BULK)" "$T/cache-list"
done
check "listing: $RUNS kills, every remount lists the server's Bulk" test "$remount_ok" -eq "$RUNS"
check "kills landed in the middle of the listing ($partial runs)" test "$partial" -ge $((RUNS / 2))
finish

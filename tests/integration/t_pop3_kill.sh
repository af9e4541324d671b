#!/usr/bin/env bash
# Issue 4: kill -9 of the daemon at many different instants of a pop3_delete
# download. After each kill, every message is on the server, in the cache,
# or both, byte for byte; the cache database is intact and holds no partial
# body.
. "$(dirname "$0")/lib.sh"
setup
dovecot_start --profile demo --seed 19
RUNS=${POP3_KILL_RUNS:-24}
CHECK="$TOP/tests/integration/cachecheck.py"
INBOX_DIR="$MAILDIR"
mkdir -p "$T/orig" "$T/pristine"
ic dump INBOX "$T/orig" > /dev/null
N=$(ls "$T/orig"/*.eml | wc -l)
cp -p "$INBOX_DIR"/cur/* "$T/pristine/"
printf '%s\n' "$PASSWORD" > "$T/pw"; chmod 600 "$T/pw"

# Put the original INBOX back under fresh Maildir names (new UIDLs).
refill() {
	local run=$1 f base
	doveadm_ expunge -u "$USER_NAME" mailbox INBOX all
	for f in "$T/pristine"/*; do
		base=$(basename "$f"); base=${base%%:*}
		cp -p "$f" "$INBOX_DIR/cur/$base.r$run:2,"
	done
	chown -R dovecot: "$INBOX_DIR"
}

# How long a whole round takes here, to spread the kills over it.
refill 0
MNT="$T/mnt"; mkdir -p "$MNT"; MOUNTS=("$MNT")
start=$(date +%s.%N)
"$MAILFS" -f "pop3s://$USER_NAME@localhost:$POP3S_PORT" "$MNT" \
	-o "password_file=$T/pw,cache_dir=$T/cache-calib,cafile=$T/dovecot/ca.pem,poll=1,pop3_delete" \
	> "$T/mailfs-calib.log" 2>&1 &
pid=$!
wait_for "grep -q 'downloaded [0-9]* new' '$T/mailfs-calib.log'" 60 || fail "the calibration round did not finish"
ROUND=$(echo "$(date +%s.%N) - $start" | bc)
fusermount3 -u "$MNT"; wait "$pid"
say "a whole round (log in, $N RETR + DELE, QUIT) takes ${ROUND}s; kills are spread over it"

lost=0 deleted_runs=0
for run in $(seq 1 "$RUNS"); do
	refill "$run"
	MNT="$T/mnt"; mkdir -p "$MNT"; MOUNTS=("$MNT")
	cache="$T/cache-run$run"
	"$MAILFS" -f "pop3s://$USER_NAME@localhost:$POP3S_PORT" "$MNT" \
		-o "password_file=$T/pw,cache_dir=$cache,cafile=$T/dovecot/ca.pem,poll=1,pop3_delete" \
		> "$T/mailfs-run$run.log" 2>&1 &
	pid=$!
	# Instants spread over start-up, the download, the DELEs and the QUIT;
	# past the calibrated round too, as a run may take longer than it did
	# (under ThreadSanitizer a run took 1.15 rounds and no kill came after
	# the deletions).
	delay=$(awk -v r="$run" -v n="$RUNS" -v d="$ROUND" \
		'BEGIN { srand(r); printf "%.3f", 0.02 + (r - 1) * d * 1.5 / n + rand() * d / n }')
	sleep "$delay"
	kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	is_mounted "$MNT" && fusermount3 -uz "$MNT"
	is_mounted "$MNT" && { fail "run $run: the dead mount could not be unmounted"; break; }
	rm -rf "$T/after"; mkdir -p "$T/after"
	ic dump INBOX "$T/after" > /dev/null
	on_server=$(ls "$T/after" | grep -c '\.eml$')
	[ "$on_server" -lt "$N" ] && deleted_runs=$((deleted_runs + 1))
	if [ -f "$cache/mailfs.db" ]; then
		out=$("$PY" "$CHECK" "$cache" integrity && "$PY" "$CHECK" "$cache" bodies &&
		      "$PY" "$CHECK" "$cache" pop3-union "$T/orig" "$T/after")
		rc=$?
	else
		out="no cache yet"; rc=0
		[ "$on_server" -eq "$N" ] || rc=1
	fi
	say "run $run: killed after ${delay}s; $(tail -1 <<<"$out")"
	if [ $rc -ne 0 ]; then
		fail "run $run: $out"
		lost=1
	fi
	# The next mount of that cache works and shows what was stored.
	if [ $((run % 6)) -eq 0 ] && [ -f "$cache/mailfs.db" ]; then
		"$MAILFS" -f "pop3s://$USER_NAME@localhost:$POP3S_PORT" "$MNT" \
			-o "password_file=$T/pw,cache_dir=$cache,cafile=$T/dovecot/ca.pem,pop3_delete" \
			> "$T/mailfs-remount$run.log" 2>&1 &
		pid=$!
		if wait_for "test \$(ls '$MNT/INBOX' 2>/dev/null | wc -l) -eq $N" 30; then
			pass "run $run: a remount of that cache completes the download ($N messages)"
		else
			fail "run $run: the remount did not complete the download"
		fi
		fusermount3 -u "$MNT"; wait "$pid"
	fi
done
check "$RUNS kills, nothing lost" test "$lost" -eq 0
check "some kills came after deletions were committed ($deleted_runs runs)" test "$deleted_runs" -gt 0
finish

#!/usr/bin/env bash
# Issue 4, issue 17 item 18: "[IN-USE]" and "[LOGIN-DELAY]" from a POP3
# server mean "try again later" (RFC 2449 §8.1, RFC 3206): the account is
# right, the moment is not. A first mount (nothing cached) comes up empty
# with one warning line and fills at a later poll; in a poll round, a clear
# log line and the download resumes at a later poll. A scripted server gives
# those answers on demand.
. "$(dirname "$0")/lib.sh"
setup
command -v flock >/dev/null || skip "flock missing (util-linux)"
mkdir -p "$T/box"
"$PY" "$GEN" --maildir "$T/maildir" --profile demo --seed 29 --count 20 > /dev/null
cp "$T/maildir"/cur/* "$T/box/"
n=$(ls "$T/box" | wc -l)
printf '%s\n' "$PASSWORD" > "$T/pw"; chmod 600 "$T/pw"

# fake ARGS...: a scripted server on a port of its own; sets PORT, FLOG.
fake() {
	PORT=$(pick_port 28000); FLOG="$T/fake-$PORT.log"
	: > "$FLOG"
	"$PY" "$TOP/tests/integration/fakepop3.py" --port "$PORT" --dir "$T/box" --log "$FLOG" "$@" &
	PIDS+=($!)
	wait_for "(exec 3<>/dev/tcp/127.0.0.1/$PORT) 2>/dev/null" 5 || fail "the fake server does not listen"
}

for code in IN-USE LOGIN-DELAY; do
	# ---- a first mount, as a user runs it (daemon mode), while the server
	# says "not now" to every login.
	touch "$T/busy"
	fake --busy-while "$T/busy" --code "$code"
	mnt="$T/mnt$PORT"; cache="$T/first$PORT"; mkdir -p "$mnt"
	MOUNTS+=("$mnt")
	out=$(timeout 60 "$MAILFS" "pop3://$USER_NAME@127.0.0.1:$PORT" "$mnt" \
		-o "password_file=$T/pw,cache_dir=$cache,tls_insecure_plaintext,poll=2" 2>&1 </dev/null)
	rc=$?
	out=$(grep -v 'warning: tls_insecure_plaintext' <<<"$out")
	check "[$code] at a first mount: mailfs succeeds (status $rc)" test "$rc" -eq 0
	check "…with one line that says so ($out)" \
		test "$(grep -c "\[$code\].*mounting anyway" <<<"$out")" -eq 1 -a "$(wc -l <<<"$out")" -eq 1
	if ! is_mounted "$mnt"; then
		fail "[$code]: nothing is mounted"
		continue
	fi
	# The server refuses every login while $T/busy exists: INBOX is empty.
	check "[$code]: INBOX is there, empty" test -d "$mnt/INBOX" -a -z "$(ls -A "$mnt/INBOX")"
	check "[$code]: .mailfs-status says why" grep -q "last error: .*\[$code\]" "$mnt/.mailfs-status"
	rm -f "$T/busy"
	check "[$code]: the mailbox free, INBOX fills at a later poll" \
		wait_for "test \$(ls '$mnt/INBOX' | wc -l) -eq $n" 30
	check "[$code]: the messages read back" bash -c "cat '$mnt'/INBOX/* | grep -q ."
	fusermount3 -u "$mnt" || fail "[$code]: unmount"
	# The daemon lets go of its cache (the lock) when it ends.
	check "[$code]: the daemon ended" wait_for "flock -n '$cache/lock' true" 20

	# ---- mounted (login 1), the first rounds (logins 2 and 3) are told to
	# wait: the log says it tries again, and the download completes later.
	fake --busy 2,3 --code "$code"
	mnt="$T/mnt$PORT"
	mount_mailfs "$mnt" "pop3://$USER_NAME@127.0.0.1:$PORT" \
		-o "tls_insecure_plaintext,poll=1" || { fail "mount ($code)"; continue; }
	log="$T/mailfs-$((${#PIDS[@]} - 1)).log"
	check "$code in a poll round: the log says it will try again" \
		wait_for "grep -q '$code.*trying again' '$log'" 10
	check "$code: the download completes at a later round" \
		wait_for "test \$(ls '$mnt/INBOX' | wc -l) -eq $n" 15
	unmount_mailfs "$mnt"
done
finish

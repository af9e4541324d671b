#!/usr/bin/env bash
# Issue 4: "[IN-USE]" and "[LOGIN-DELAY]" from a POP3 server mean "try again
# later" (RFC 2449 §8.1, RFC 3206): a clear log line, no failure of the
# mount, and the download resumes at a later poll. A scripted server gives
# those answers on demand.
. "$(dirname "$0")/lib.sh"
setup
mkdir -p "$T/box"
"$PY" "$GEN" --maildir "$T/maildir" --profile demo --seed 29 --count 20 > /dev/null
cp "$T/maildir"/cur/* "$T/box/"
n=$(ls "$T/box" | wc -l)
printf '%s\n' "$PASSWORD" > "$T/pw"; chmod 600 "$T/pw"

for code in IN-USE LOGIN-DELAY; do
	port=$(pick_port 28000)
	: > "$T/$code.log"
	"$PY" "$TOP/tests/integration/fakepop3.py" --port "$port" --dir "$T/box" \
		--log "$T/$code.log" --busy 1,3,4 --code "$code" &
	PIDS+=($!)
	wait_for "(exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null" 5
	# Login 1: a first mount (nothing cached) is told to come back later: it
	# says so in one line and mounts nothing.
	mnt="$T/mnt$port"; mkdir -p "$mnt"
	out=$("$MAILFS" "pop3://$USER_NAME@127.0.0.1:$port" "$mnt" \
		-o "password_file=$T/pw,cache_dir=$T/first$port,tls_insecure_plaintext" 2>&1 </dev/null |
		grep -v 'warning: tls_insecure_plaintext')
	check "[$code] at a first mount: one line saying so ($out)" \
		test "$(grep -c "\[$code\]" <<<"$out")" -eq 1 -a "$(wc -l <<<"$out")" -eq 1
	check "…and nothing mounted" bash -c "! awk '\$2 == \"$mnt\"' /proc/mounts | grep -q ."
	# Login 2 mounts; logins 3 and 4 (the first rounds) are told to wait.
	mount_mailfs "$mnt" "pop3://$USER_NAME@127.0.0.1:$port" \
		-o "tls_insecure_plaintext,poll=1" || { fail "mount ($code)"; continue; }
	log="$T/mailfs-$((${#PIDS[@]} - 1)).log"
	check "$code in a poll round: the log says it will try again" \
		wait_for "grep -q '$code.*trying again' '$log'" 10
	check "$code: the download completes at a later round" \
		wait_for "test \$(ls '$mnt/INBOX' | wc -l) -eq $n" 15
	unmount_mailfs "$mnt"
done
finish

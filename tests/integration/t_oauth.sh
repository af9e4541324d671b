#!/usr/bin/env bash
# Issue 7: OAuth2 with oauth2_token_command, against a scripted server that
# checks the exact SASL exchange: XOAUTH2 (the providers' format) and
# OAUTHBEARER (RFC 7628, user name escaped per RFC 5801), and the error
# challenge answered as each mechanism wants (an empty line for XOAUTH2,
# "AQ==" for OAUTHBEARER).
. "$(dirname "$0")/lib.sh"
setup
FAKE="$TOP/tests/integration/fakeimap.py"

fake() {   # fake MECH:TOKEN USER: sets PORT, LOG
	PORT=$(pick_port 28000)
	LOG="$T/fake-$PORT.log"; : > "$LOG"
	"$PY" "$FAKE" --port "$PORT" --log "$LOG" --oauth "$1" --oauth-user "$2" &
	PIDS+=($!)
	wait_for "(exec 3<>/dev/tcp/127.0.0.1/$PORT) 2>/dev/null" 10
}
attempt() {   # attempt USER TOKEN: mailfs as a user runs it; output in OUT
	mkdir -p "$T/m"
	timeout 30 "$MAILFS" "imap://$1@127.0.0.1:$PORT" "$T/m" \
		-o "oauth2_token_command=echo $2,tls_insecure_plaintext,cache_dir=$T/c-$PORT" \
		> "$T/out" 2>&1 </dev/null
	RC=$?
	OUT=$(grep -v 'warning: tls_insecure_plaintext' "$T/out")
}

for mech in XOAUTH2 OAUTHBEARER; do
	fake "$mech:good-token-$mech" alice
	attempt alice "good-token-$mech"
	check "$mech: the right token mounts (status $RC)" test "$RC" -eq 0
	check "$mech: the server saw exactly the expected exchange" grep -q "oauth: accepted" "$LOG"
	is_mounted "$T/m" && fusermount3 -u "$T/m"
	sleep 0.5

	fake "$mech:good-token-$mech" alice
	attempt alice wrong-token
	check "$mech: a refused token fails with one line ($OUT)" \
		test "$RC" -eq 1 -a "$(wc -l <<<"$OUT")" -eq 1
	check "$mech: the line says the token was refused, with the server's reason" \
		grep -q 'token refused.*"status":"401"' <<<"$OUT"
	check "$mech: nothing is mounted" bash -c "! awk '\$2 == \"$T/m\"' /proc/mounts | grep -q ."
	if [ "$mech" = XOAUTH2 ]; then
		check "XOAUTH2: the error challenge was answered with an empty line" \
			grep -q "answered with b'\\\\r\\\\n'" "$LOG"
	else
		check "OAUTHBEARER: the error challenge was answered with AQ==" \
			grep -q "answered with b'AQ==\\\\r\\\\n'" "$LOG"
	fi
done

# RFC 5801: "," and "=" in the user name are escaped in the GS2 header.
fake "OAUTHBEARER:tok" "al=2Cice=3D"
attempt "al%2Cice%3D" tok
check "OAUTHBEARER: a user name with , and = is escaped" grep -q "oauth: accepted" "$LOG"
is_mounted "$T/m" && fusermount3 -u "$T/m"

# No OAuth2 mechanism offered: refused without sending the token.
PORT=$(pick_port 28000); LOG="$T/fake-plain.log"; : > "$LOG"
"$PY" "$FAKE" --port "$PORT" --log "$LOG" &
PIDS+=($!)
wait_for "(exec 3<>/dev/tcp/127.0.0.1/$PORT) 2>/dev/null" 10
attempt alice secret-token
check "no OAuth2 on the server: a clear refusal ($OUT)" grep -q "offers no OAuth2 login" <<<"$OUT"
check "…and the token never left" no_match -e 'secret-token' -e 'AUTHENTICATE' "$LOG"
finish

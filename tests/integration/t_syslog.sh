#!/usr/bin/env bash
# Issue 7: daemonized, mailfs logs to syslog (in the foreground, to stderr).
# With no syslog daemon here, the test listens on /dev/log itself.
. "$(dirname "$0")/lib.sh"
setup
[ "$(id -u)" -eq 0 ] || skip "needs root to listen on /dev/log"
[ -e /dev/log ] && skip "a syslog daemon owns /dev/log here; not taking it over"
dovecot_start --profile demo --seed 61 --count 20
"$PY" - "$T/syslog" <<'PY' &
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("/dev/log")
os.chmod("/dev/log", 0o666)
with open(sys.argv[1], "ab", buffering=0) as out:
    while True:
        out.write(s.recv(65536) + b"\n")
PY
PIDS+=($!)
trap 'rm -f /dev/log; cleanup' EXIT
wait_for "test -S /dev/log" 10
printf '%s\n' "$PASSWORD" > "$T/pw"; chmod 600 "$T/pw"
MNT="$T/mnt"; mkdir -p "$MNT"; MOUNTS+=("$MNT")
check "mailfs daemonizes after logging in" "$MAILFS" "imaps://$USER_NAME@localhost:$IMAPS_PORT" "$MNT" \
	-o "password_file=$T/pw,cafile=$T/dovecot/ca.pem,cache_dir=$T/c"
check "…and says it is mounted, in syslog" wait_for "grep -q 'mailfs\\[[0-9]*\\]: mounted imaps://' '$T/syslog'" 10
fusermount3 -u "$MNT"

# Issue 11 item 8: a server's words reach syslog with their terminal escapes
# made visible (a BYE with an OSC, BEL, CSI and a bidi override, from
# fakeimap.py; t_server_text.sh has the same on stderr).
PORT=$(pick_port 30000)
"$PY" "$TOP/tests/integration/fakeimap.py" --port "$PORT" --log "$T/fake.log" --case esc-bye &
PIDS+=($!)
wait_for "(exec 3<>/dev/tcp/127.0.0.1/$PORT) 2>/dev/null" 5 || fail "fakeimap does not listen"
MNT2="$T/mnt2"; mkdir -p "$MNT2"; MOUNTS+=("$MNT2")
check "mailfs daemonizes against the hostile server" "$MAILFS" "imap://$USER_NAME@127.0.0.1:$PORT" \
	"$MNT2" -o "password_file=$T/pw,cache_dir=$T/c2,tls_insecure_plaintext,timeout=5"
ls "$MNT2/Bad" >/dev/null 2>&1
check "…its BYE is in syslog, escaped" wait_for "grep -qF 'server closed the session: \\x1b]0;pwned\\x07\\x1b[2J\\u009b31m\\x9b7m \\u202ebye' '$T/syslog'" 10
check "…and syslog got no raw ESC, BEL or C1 byte" "$PY" -c '
import sys
data = open(sys.argv[1], "rb").read()
sys.exit(not data or any(b in data for b in (b"\x07", b"\x1b", b"\x9b")))' "$T/syslog"
fusermount3 -u "$MNT2"
rm -f /dev/log
finish

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
rm -f /dev/log
finish

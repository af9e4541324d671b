#!/usr/bin/env bash
# Issue 11 item 8: what a server says (a BYE greeting, a NO to the login or to
# a SELECT, a BYE in the middle of a session; [ALERT]s among them) reaches
# stderr, the -d trace and .mailfs-status with its terminal escapes made
# visible: an OSC that retitles the window, BEL, "clear screen", a C1 CSI
# (in UTF-8 and as a raw byte) and a bidi override, sent by fakeimap.py,
# must never come out as raw bytes, and the server's words must still be
# there, as escapes. (The syslog path is in t_syslog.sh.)
. "$(dirname "$0")/lib.sh"
setup
FAKE="$TOP/tests/integration/fakeimap.py"
printf '%s\n' "$PASSWORD" > "$T/pw"; chmod 600 "$T/pw"
OPTS="tls_insecure_plaintext,timeout=5"

# clean FILE: valid UTF-8 without a C0 control but LF, DEL, a C1 control or a
# bidi control / invisible format character (SPEC §5). Says what it found.
clean() {
	"$PY" - "$1" <<'PY'
import sys
data = open(sys.argv[1], "rb").read()
try:
    text = data.decode("utf-8")
except UnicodeDecodeError as e:
    sys.exit("invalid UTF-8 at byte %d: %r" % (e.start, data[max(0, e.start - 20):e.start + 5]))
bad = [c for c in text if (ord(c) < 0x20 and c != "\n") or 0x7f <= ord(c) <= 0x9f
       or 0x202a <= ord(c) <= 0x202e or 0x2066 <= ord(c) <= 0x2069]
if bad:
    sys.exit("raw %s in %r" % (", ".join("U+%04X" % ord(c) for c in bad[:5]), text[:300]))
PY
}

# The escapes of the hostile text: the server's words are shown, not dropped.
SHOWN='\\x1b\]0;pwned\\x07\\x1b\[2J\\u009b31m\\x9b7m \\u202e'

fake_start() {
	PORT=$(pick_port 30000); SRVLOG="$T/server-$1.log"
	: > "$SRVLOG"
	"$PY" "$FAKE" --port "$PORT" --log "$SRVLOG" --case "$1" &
	PIDS+=($!)
	wait_for "(exec 3<>/dev/tcp/127.0.0.1/$PORT) 2>/dev/null" 5 ||
		{ fail "$1: fakeimap does not listen"; return 1; }
}

# ---- before the mount: main.c's one line on stderr -------------------------
# case | what the line says around the escapes
for row in "esc-greeting|server refused the connection: .*gone" \
           "esc-login|refused the login of $USER_NAME: .*no"; do
	c=${row%%|*}; want=${row#*|}
	fake_start "$c" || continue
	mnt="$T/mnt-$c"; mkdir -p "$mnt"
	timeout 30 "$MAILFS" "imap://$USER_NAME@127.0.0.1:$PORT" "$mnt" \
		-o "password_file=$T/pw,cache_dir=$T/cache-$c,$OPTS" 2>"$T/err-$c" </dev/null; rc=$?
	grep -v 'warning: tls_insecure_plaintext' "$T/err-$c" > "$T/line-$c"
	check "$c: mailfs exits with status 1 (got $rc)" test "$rc" -eq 1
	check "$c: nothing is mounted" not is_mounted "$mnt"
	check "$c: one line ($(cat "$T/line-$c"))" test "$(wc -l < "$T/line-$c")" -eq 1
	check "$c: the line says what the server said" grep -qE "$want" "$T/line-$c"
	check "$c: …with the escapes shown" grep -qE "$SHOWN" "$T/line-$c"
	check "$c: stderr holds no raw control or bidi character" clean "$T/err-$c"
done

# ---- mounted, -d: the trace and .mailfs-status ----------------------------
fake_start esc-select && {
	mnt="$T/mnt-select"
	if mount_mailfs "$mnt" "imap://$USER_NAME@127.0.0.1:$PORT" -o "$OPTS" -d; then
		log="$T/mailfs-$((${#PIDS[@]} - 1)).log"
		check "esc-select: ls Bad is refused" fails_with "Permission denied" ls "$mnt/Bad"
		cp "$mnt/.mailfs-status" "$T/status-select"
		check "esc-select: .mailfs-status names the error" \
			grep -qE "last error: .*folder Bad: \[NOPERM\] $SHOWN" "$T/status-select"
		check "esc-select: .mailfs-status holds no raw control" clean "$T/status-select"
		check "esc-select: the -d trace shows the server's line, escaped" \
			grep -qE "S: m[0-9]+ NO \[NOPERM\] $SHOWN" "$log"
		check "esc-select: INBOX still lists" test "$(ls "$mnt/INBOX" | wc -l)" -eq 2
		unmount_mailfs "$mnt"
		check "esc-select: the log holds no raw control" clean "$log"
	else
		fail "esc-select: mount"
	fi
}

# ---- mounted: a BYE in the middle of a session, logged as a warning --------
fake_start esc-bye && {
	mnt="$T/mnt-bye"
	if mount_mailfs "$mnt" "imap://$USER_NAME@127.0.0.1:$PORT" -o "$OPTS"; then
		log="$T/mailfs-$((${#PIDS[@]} - 1)).log"
		ls "$mnt/Bad" >/dev/null 2>&1
		check "esc-bye: the warning quotes the BYE, escaped" \
			wait_for "grep -qE 'lost: server closed the session: $SHOWN' '$log'" 10
		cp "$mnt/.mailfs-status" "$T/status-bye"
		check "esc-bye: .mailfs-status quotes it too" \
			grep -qE "last error: .*server closed the session: $SHOWN" "$T/status-bye"
		check "esc-bye: .mailfs-status holds no raw control" clean "$T/status-bye"
		unmount_mailfs "$mnt"
		check "esc-bye: the log holds no raw control" clean "$log"
	else
		fail "esc-bye: mount"
	fi
}
finish

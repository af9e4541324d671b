#!/usr/bin/env bash
# Issue 15: max_connections. The mount never holds more connections than
# max_connections (default 4), the one watching for changes included, and
# says how many it holds; a server that refuses more (Dovecot's
# mail_max_userip_connections) makes it work with fewer, and no user's
# operation fails for it. The count the server saw comes from the server's
# own log (peakconn.py).
. "$(dirname "$0")/lib.sh"
setup
IMAP_MAX_USERIP=${IMAP_MAX_USERIP_TEST:-3}
dovecot_start --profile test --count 80
# The most connections over TLS (the mount's) the server held at once since
# line FROM of its log.
peak() {
	tail -n +"$1" "$T/dovecot/dovecot.log" > "$T/log.part"
	"$PY" "$TOP/tests/integration/peakconn.py" "$T/log.part" | cut -d' ' -f1
}
status() { cat "$1/.mailfs-status"; }
# remount MNT OPTIONS: the server started afresh (its log counted from
# line $from on), and MNT mounted with OPTIONS.
remount() {
	dovecot_stop
	dovecot_start
	from=$(wc -l < "$T/dovecot/dovecot.log")
	MNT=$1
	mount_mailfs "$MNT" "imaps://$USER_NAME@localhost:$IMAPS_PORT" -o "cafile=$T/dovecot/ca.pem,$2" ||
		{ fail "mount with $2"; finish; }
}
# Work that wants many connections at once: every folder listed, and every
# message read, eight readers in parallel.
busy() {
	local mnt=$1
	find "$mnt" -name '*.eml' -type f -print0 | xargs -0 -P 8 -n 4 cat > /dev/null
}

# ---- the server allows 3 (for the mount and nobody else): mailfs wants 4 ----
MNT="$T/mnt"
mount_mailfs "$MNT" "imaps://$USER_NAME@localhost:$IMAPS_PORT" -o "cafile=$T/dovecot/ca.pem" ||
	{ fail "mount"; finish; }
check "reading everything in parallel works although the server refuses a 4th connection" busy "$MNT"
check "the server refused a connection (its log says so)" \
	grep -q 'Maximum number of connections from user+IP exceeded' "$T/dovecot/dovecot.log"
check "the status file says how many are open, and the limit" \
	grep -qE '^protocol: IMAP, [1-3] connections? open \(max_connections=4\)' <(status "$MNT")
check "the log says the server took no more, once" \
	test "$(grep -c 'takes no more connections: working with' "$T/mailfs-0.log")" -eq 1
n=$(peak 1)
check "the server never saw more than 3 at once ($n)" test "$n" -le 3
unmount_mailfs "$MNT"

# ---- max_connections=2 on a server that allows them ---------------------------
IMAP_MAX_USERIP=100
remount "$T/mnt2" max_connections=2
check "with max_connections=2 parallel reading works" busy "$MNT"
check "the status file says so" \
	grep -qE '^protocol: IMAP, [12] connections? open \(max_connections=2\)' <(status "$MNT")
n=$(peak "$from")
check "the server never saw more than 2 at once ($n)" test "$n" -le 2
check "the mount equals the server" ic verify "$MNT"
unmount_mailfs "$MNT"

# ---- max_connections=1: nothing left to watch with; INBOX is polled ----------
remount "$T/mnt3" max_connections=1,poll=2
check "with max_connections=1 parallel reading works" busy "$MNT"
check "the status file says INBOX is polled, and why" \
	grep -qx 'INBOX: polled (max_connections=1 leaves none to watch with)' <(status "$MNT")
printf 'From: o@example.org\r\nSubject: one-conn\r\nMessage-ID: <one@x>\r\n\r\nhi\r\n' > "$T/one.eml"
ic append INBOX "$T/one.eml" > /dev/null
check "new mail in INBOX still appears (poll)" wait_for "ls '$MNT/INBOX' | grep -q one-conn" 6
n=$(peak "$from")
check "the server never saw more than 1 at once ($n)" test "$n" -le 1
check "max_connections=0 is refused" fails_with "max_connections" \
	"$MAILFS" "imaps://$USER_NAME@localhost:$IMAPS_PORT" "$T/none" -o max_connections=0
finish

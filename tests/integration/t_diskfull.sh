#!/usr/bin/env bash
# Issue 6, issue 17 item 20: the cache directory's disk is full. IMAP reads
# fall back to the network with a clear log line: a body that is not cached
# is read from the server piece by piece as it is read (any size: a 40 MiB
# one too, without holding it in memory), also when the disk fills in the
# middle of a download; POP3 with pop3_delete deletes nothing that is not
# stored: every message is on the server, in the cache, or both.
. "$(dirname "$0")/lib.sh"
setup
[ "$(id -u)" -eq 0 ] || skip "needs root to mount a small tmpfs as a full disk"
dovecot_start --profile demo --seed 47
small_fs() {   # small_fs DIR SIZE: a tiny filesystem to fill
	mkdir -p "$1"
	mount -t tmpfs -o "size=$2,mode=0700" tmpfs "$1" || skip "cannot mount a tmpfs here"
	TMPFS+=("$1")
}
TMPFS=()
trap 'for d in "${TMPFS[@]}"; do umount -l "$d" 2>/dev/null; done; cleanup' EXIT

# bigmsg FILE MIB SUBJECT: a message of about MIB MiB (base64 lines, CRLF).
bigmsg() {
	"$PY" - "$@" <<'EOF'
import base64, os, sys
path, mib, subject = sys.argv[1], int(sys.argv[2]), sys.argv[3].encode()
with open(path, "wb") as f:
    f.write(b"From: big@example.org\r\nSubject: %s\r\nMessage-ID: <%s@t>\r\n"
            b"Content-Type: application/octet-stream\r\n"
            b"Content-Transfer-Encoding: base64\r\n\r\n" % (subject, subject))
    for _ in range(mib * 1024 * 1024 // 78):
        f.write(base64.b64encode(os.urandom(57)) + b"\r\n")
EOF
}
bigmsg "$T/big.eml" 40 big-40MiB
bigmsg "$T/mid.eml" 2 mid-2MiB
{ ic create Big && ic append Big "$T/big.eml" --raw && ic append Big "$T/mid.eml" --raw; } \
	> /dev/null || fail "append the large messages"
hwm() { awk '/^VmHWM:/ { print $2 }' "/proc/$1/status"; }   # peak RSS, KiB
sanitized() { ldd "$MAILFS" 2>/dev/null | grep -qE 'lib(a|t)san'; }

# ---- IMAP
small_fs "$T/small" 3m
MNT="$T/mnt"
mount_mailfs "$MNT" "imaps://$USER_NAME@localhost:$IMAPS_PORT" \
	-o "cafile=$T/dovecot/ca.pem,cache_dir=$T/small/c" || { fail "mount"; finish; }
log="$T/mailfs-0.log"
big=$(ls "$MNT"/Big/*big-40MiB*.eml)
h0=$(hwm "$MAILFS_PID")
check "a 40 MiB message, larger than the cache disk, reads byte for byte" same_as_server "$big" Big
h1=$(hwm "$MAILFS_PID")
if sanitized; then
	say "(memory not measured: a sanitizer's allocator keeps freed memory)"
else
	check "…without holding it in memory (peak RSS grew by $(( (h1 - h0) / 1024 )) MiB)" \
		test $((h1 - h0)) -lt $((16 * 1024))
fi
check "…and the log says the cache directory is full" grep -q "cache directory .* is full" "$log"
check "with the cache disk full, every message still reads byte for byte" ic verify "$MNT"
check ".mailfs-status says so too" grep -q "cache directory full" "$MNT/.mailfs-status"
check "the disk has no room left for bodies" test "$(df --output=avail -k "$T/small" | tail -1)" -lt 1024
check "no partial body in the cache" "$PY" "$TOP/tests/integration/cachecheck.py" "$T/small/c" bodies
check "nothing of the large messages in the cache" test -z "$(find "$T/small/c" -size +1M)"
check "the log blames nothing else" no_match -e "cannot cache message bodies" -e "no longer on the server" "$log"
unmount_mailfs "$MNT"

# ---- IMAP: the disk fills while a body downloads (slowly, through the
# proxy): what arrived before serves the reader, the rest comes in pieces.
small_fs "$T/small3" 8m
proxy_start "$IMAPS_PORT" || { fail "the fault proxy"; finish; }
MNT="$T/mnt3"
mount_mailfs "$MNT" "imaps://$USER_NAME@localhost:$PROXY_PORT" \
	-o "cafile=$T/dovecot/ca.pem,cache_dir=$T/small3/c" || { fail "mount 3"; finish; }
log="$T/mailfs-$((${#PIDS[@]} - 1)).log"
mid=$(ls "$MNT"/Big/*mid-2MiB*.eml)
uid=$(getfattr --absolute-names --only-values -n user.mail.uid "$mid")
proxy rate 200000 > /dev/null
cat "$mid" > "$T/mid.out" &
catpid=$!
# The download of the whole body is under way once the reader has more
# than its first look at the start (a first read of 256 KiB at most is a
# peek of its own: fetch.c, PARTIAL_MAX); at 200 kB/s, most is still to come.
wait_for "test \$(stat -c %s '$T/mid.out') -gt 300000" 30 || fail "the download did not start"
dd if=/dev/zero of="$T/small3/filler" bs=64k 2>/dev/null
check "the disk filled during the download" test "$(df --output=avail -k "$T/small3" | tail -1)" -lt 64
wait "$catpid"
check "…the read still succeeds" test $? -eq 0
proxy pass > /dev/null
check "…byte for byte" cmp -s "$T/mid.out" <(ic fetch Big "$uid")
check "…and the log says the cache directory is full" grep -q "cache directory .* is full" "$log"
check "no partial body in the cache" "$PY" "$TOP/tests/integration/cachecheck.py" "$T/small3/c" bodies
unmount_mailfs "$MNT"

# ---- POP3, pop3_delete: only what is stored may go
small_fs "$T/small2" 4m
mkdir -p "$T/orig" "$T/after"
ic dump INBOX "$T/orig" > /dev/null
MNT="$T/pmnt"
mount_mailfs "$MNT" "pop3s://$USER_NAME@localhost:$POP3S_PORT" \
	-o "cafile=$T/dovecot/ca.pem,cache_dir=$T/small2/c,pop3_delete,poll=1" || { fail "pop3 mount"; finish; }
plog="$T/mailfs-$((${#PIDS[@]} - 1)).log"
N=$(ls "$T/orig" | grep -c '\.eml$')
# The first round stops when the disk is full, and its QUIT deletes what it
# stored; a second round stops the same way, deleting nothing more.
check "POP3: two rounds stopped" wait_for "test \$(grep -c 'POP3 round stopped' '$plog') -ge 2" 30
check "POP3: the log says why" grep -qi "POP3 round stopped.*no space left" "$plog"
ic dump INBOX "$T/after" > /dev/null
left=$(ls "$T/after" | grep -c '\.eml$')
check "POP3: what was stored left the server ($left of $N messages left)" test "$left" -lt "$N"
check "POP3: not everything fit, so mail is left on the server" test "$left" -gt 0
check "POP3: every message is on the server, in the cache, or both" \
	"$PY" "$TOP/tests/integration/cachecheck.py" "$T/small2/c" pop3-union "$T/orig" "$T/after"
check "POP3: what is listed reads back" bash -c "cat '$MNT'/INBOX/* > /dev/null"
unmount_mailfs "$MNT"
for d in "${TMPFS[@]}"; do umount "$d" || fail "cannot unmount $d"; done
TMPFS=()
finish

#!/usr/bin/env bash
# Issue 6: the cache directory's disk is full. IMAP reads fall back to the
# network (served from memory, not cached) with a clear log line; POP3 with
# pop3_delete deletes nothing that is not stored: every message is on the
# server, in the cache, or both.
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

# ---- IMAP
small_fs "$T/small" 3m
MNT="$T/mnt"
mount_mailfs "$MNT" "imaps://$USER_NAME@localhost:$IMAPS_PORT" \
	-o "cafile=$T/dovecot/ca.pem,cache_dir=$T/small/c" || { fail "mount"; finish; }
log="$T/mailfs-0.log"
check "with the cache disk full, every message still reads byte for byte" ic verify "$MNT"
check "the log says the cache directory is full" grep -q "cache directory .* is full" "$log"
check ".mailfs-status says so too" grep -q "cache directory full" "$MNT/.mailfs-status"
check "the disk is indeed full" test "$(df --output=avail -k "$T/small" | tail -1)" -lt 300
check "no partial body in the cache" "$PY" "$TOP/tests/integration/cachecheck.py" "$T/small/c" bodies
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

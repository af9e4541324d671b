#!/usr/bin/env bash
# Issue 7: mounting the way a Linux system does it: `mount -t fuse.mailfs`
# and an fstab line (noauto,user,_netdev) through mount.fuse3, with the
# generic mount options accepted; and an account name from the account file.
. "$(dirname "$0")/lib.sh"
setup
[ "$(id -u)" -eq 0 ] || skip "mount(8) with -t and -T needs root here"
command -v mount.fuse3 >/dev/null || skip "mount.fuse3 missing (package fuse3)"
dovecot_start --profile demo --seed 53 --count 20
printf '%s\n' "$PASSWORD" > "$T/pw"; chmod 600 "$T/pw"
URL="imaps://$USER_NAME@localhost:$IMAPS_PORT"
OPTS="password_file=$T/pw,cafile=$T/dovecot/ca.pem"
# mount(8) runs mount.fuse3 with a standard PATH, which runs "mailfs" from
# it: as after `make install`. For the test, a link in /usr/local/sbin to
# this build (only if no mailfs is installed there), removed at the end.
LINK=/usr/local/sbin/mailfs
if [ -e "$LINK" ] && [ "$(readlink -f "$LINK")" != "$(readlink -f "$MAILFS")" ]; then
	skip "a mailfs is installed in /usr/local/sbin; not replacing it for a test"
fi
mkdir -p /usr/local/sbin
ln -sf "$(readlink -f "$MAILFS")" "$LINK" || skip "cannot link $LINK"
trap 'rm -f "$LINK"; cleanup' EXIT
MNT="$T/mnt"; mkdir -p "$MNT"; MOUNTS+=("$MNT")

check "mount -t fuse.mailfs works, with generic options" \
	mount -t fuse.mailfs "$URL" "$MNT" -o "$OPTS,cache_dir=$T/c1,rw,nosuid,nodev,noexec,_netdev"
check "…the tree is there" test -d "$MNT/INBOX"
check "…/proc/mounts shows type fuse.mailfs" \
	bash -c "awk '\$2 == \"$MNT\" { print \$3 }' /proc/mounts | grep -qx fuse.mailfs"
check "…and the URL as the source" bash -c "awk '\$2 == \"$MNT\" { print \$1 }' /proc/mounts | grep -q localhost"
check "…nosuid and noexec took effect" bash -c "awk '\$2 == \"$MNT\" { print \$4 }' /proc/mounts | grep -q 'nosuid.*noexec\|noexec.*nosuid'"
check "fusermount3 -u unmounts it" fusermount3 -u "$MNT"
check "…and the daemon is gone" wait_for "! pgrep -f 'mailfs.*$T/c1' > /dev/null" 10

# Issue 17 item 21: -s, max_threads and clone_fd are honoured, not
# ignored. Seen from /proc: a thread that waits for the next FUSE request
# is in a system call whose first argument is a /dev/fuse descriptor.
fuse_fds() {        # fuse_fds PID: its descriptors open on /dev/fuse
	local f
	for f in /proc/"$1"/fd/*; do
		[ "$(readlink "$f")" = /dev/fuse ] && printf '%s\n' "${f##*/}"
	done
}
fuse_readers() {    # fuse_readers PID: its threads waiting on /dev/fuse
	local fds t nr a0
	fds=" $(fuse_fds "$1" | tr '\n' ' ') "
	for t in /proc/"$1"/task/*; do
		read -r nr a0 _ < "$t/syscall" 2>/dev/null || continue
		[ "$nr" = running ] || [ "$nr" = -1 ] && continue
		[[ $fds == *" $((a0)) "* ]] && printf '%s\n' "${t##*/}"
	done
}
activity() {        # activity MNT: requests for the daemon, a few at once
	ls -l "$1/INBOX" > /dev/null
	local f p pids=()
	for f in "$1"/INBOX/*.eml; do
		cat "$f" > /dev/null &
		pids+=($!)
		[ ${#pids[@]} -ge 6 ] && break
	done
	for p in "${pids[@]}"; do wait "$p"; done
}
if ! read -r _ < "/proc/$$/task/$$/syscall" 2>/dev/null; then
	say "SKIP: $TEST_NAME: /proc/PID/task/TID/syscall cannot be read here: -s, max_threads and clone_fd are not checked"
else
	mount_mailfs "$MNT" "$URL" -o "cafile=$T/dovecot/ca.pem" || fail "mount (default loop)"
	activity "$MNT"
	check "control: threads wait on /dev/fuse (the probe sees them)" \
		wait_for "[ -n \"\$(fuse_readers $MAILFS_PID)\" ]" 10
	check "control: by default the main thread does not serve requests" \
		not wait_for "fuse_readers $MAILFS_PID | grep -qx $MAILFS_PID" 2
	check "control: by default one /dev/fuse descriptor" test "$(fuse_fds "$MAILFS_PID" | wc -l)" -eq 1
	unmount_mailfs "$MNT"

	mount_mailfs "$MNT" "$URL" -o "cafile=$T/dovecot/ca.pem" -s || fail "mount -s"
	activity "$MNT"
	check "-s: the main thread alone serves requests" \
		wait_for "[ \"\$(fuse_readers $MAILFS_PID | paste -sd' ')\" = $MAILFS_PID ]" 10
	check "…and the mount works (a message reads whole)" \
		same_as_server "$(ls "$MNT"/INBOX/*.eml | head -1)" INBOX
	unmount_mailfs "$MNT"

	# Through mount(8) and mount.fuse3, as an fstab line would give them.
	check "mount -t fuse.mailfs -o max_threads=1,clone_fd" \
		mount -t fuse.mailfs "$URL" "$MNT" -o "$OPTS,cache_dir=$T/c5,max_threads=1,clone_fd"
	pid=$(pgrep -f "mailfs.*$T/c5" | head -1)
	activity "$MNT"
	most=0; least=99
	for i in $(seq 1 20); do
		n=$(fuse_readers "$pid" | wc -l)
		[ "$n" -gt "$most" ] && most=$n
		[ "$n" -lt "$least" ] && least=$n
		sleep 0.1
	done
	check "max_threads=1: never more than one thread waits for requests (seen: $least to $most)" \
		test "$most" -eq 1
	check "clone_fd: the one thread has a /dev/fuse descriptor of its own (2 in all)" \
		test "$(fuse_fds "$pid" | wc -l)" -eq 2
	check "…and the mount works (a message reads whole)" \
		same_as_server "$(ls "$MNT"/INBOX/*.eml | tail -1)" INBOX
	fusermount3 -u "$MNT"
	wait_for "! kill -0 $pid 2>/dev/null" 10
fi

printf '%s %s fuse.mailfs noauto,user,_netdev,%s,cache_dir=%s 0 0\n' \
	"$URL" "$MNT" "$OPTS" "$T/c2" > "$T/fstab"
check "an fstab line (noauto,user,_netdev) mounts with mount MOUNTPOINT" mount -T "$T/fstab" "$MNT"
check "…the tree is there" test -d "$MNT/INBOX"
check "umount unmounts it" umount "$MNT"

# An account name instead of a URL, from the account file.
mkdir -p "$T/xdg/mailfs"
cat > "$T/xdg/mailfs/config" <<CFG
[test]
url = $URL
password_file = $T/pw
cafile = $T/dovecot/ca.pem
cache_dir = $T/c3
poll = 5m
prefetch
CFG
export XDG_CONFIG_HOME="$T/xdg"
check "mount -t fuse.mailfs with an account name" mount -t fuse.mailfs test "$MNT"
check "…the tree is there" test -d "$MNT/INBOX"
check "…with the account's options (.mailfs-status names the cache)" grep -q "$T/c3" "$MNT/.mailfs-status"
check "…and its prefetch (.mailfs-status has a prefetch line)" grep -q "^prefetch: " "$MNT/.mailfs-status"
fusermount3 -u "$MNT"
# Issue 17 item 19: the command line wins over the account file, also to
# turn one of its flags off (and to put the cache elsewhere).
check "mount -t fuse.mailfs with an account name and -o noprefetch" \
	mount -t fuse.mailfs test "$MNT" -o "noprefetch,cache_dir=$T/c3b"
check "…the command line's cache_dir" grep -q "^cache: $T/c3b" "$MNT/.mailfs-status"
check "…and no prefetch" no_match "^prefetch: " "$MNT/.mailfs-status"
fusermount3 -u "$MNT"
cat >> "$T/xdg/mailfs/config" <<CFG
[leaky]
url = $URL
password = leaked
CFG
chmod 644 "$T/xdg/mailfs/config"
out=$("$MAILFS" leaky "$MNT" 2>&1)
check "an account file with a password that others can read is refused ($out)" \
	grep -q "others can read it.*chmod 600" <<<"$out"
# SPEC §5: whatever it holds (here a password_command, which mailfs runs),
# the account file is refused when others may change it or it is someone
# else's; the one line names the file and the fix, and nothing is run.
cat > "$T/xdg/mailfs/config" <<CFG
[cmd]
url = $URL
password_command = touch $T/ran; cat $T/pw
cafile = $T/dovecot/ca.pem
cache_dir = $T/c4
CFG
chmod 664 "$T/xdg/mailfs/config"
out=$("$MAILFS" cmd "$MNT" 2>&1); rc=$?
check "a group-writable account file is refused ($out)" test "$rc" -eq 1 -a "$(wc -l <<<"$out")" -eq 1
check "…with the file and the chmod that fixes it" \
	grep -qF "account file $T/xdg/mailfs/config can be changed by others (mode 664); run: chmod go-w $T/xdg/mailfs/config" <<<"$out"
chmod 600 "$T/xdg/mailfs/config"
chown nobody "$T/xdg/mailfs/config"     # (this test runs as root)
out=$("$MAILFS" cmd "$MNT" 2>&1); rc=$?
check "a private account file of another user is refused ($out)" \
	test "$rc" -eq 1 -a "$(wc -l <<<"$out")" -eq 1
check "…with the file, its owner and the chown that fixes it" \
	grep -qF "account file $T/xdg/mailfs/config belongs to nobody, not to root who runs mailfs; if it is yours, run as root: chown root $T/xdg/mailfs/config" <<<"$out"
chown root "$T/xdg/mailfs/config"
check "…its password_command never ran" not test -e "$T/ran"
check "…and nothing was mounted" not is_mounted "$MNT"
# The same file, the user's own and private, mounts: the refusals above were
# for the owner and the mode alone.
check "the same account file, private and the user's own, mounts" "$MAILFS" cmd "$MNT"
check "…and its password_command ran" test -e "$T/ran"
fusermount3 -u "$MNT"
rm -f "$LINK"
finish

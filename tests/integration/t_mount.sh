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
poll = 5
CFG
export XDG_CONFIG_HOME="$T/xdg"
check "mount -t fuse.mailfs with an account name" mount -t fuse.mailfs test "$MNT"
check "…the tree is there" test -d "$MNT/INBOX"
check "…with the account's options (.mailfs-status names the cache)" grep -q "$T/c3" "$MNT/.mailfs-status"
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

#!/usr/bin/env bash
# Issue 5: cache_size bounds the body cache; the least recently read bodies
# go first, and an evicted message still reads (downloaded again).
. "$(dirname "$0")/lib.sh"
setup
dovecot_start --profile demo --seed 37
MNT="$T/mnt"
mount_mailfs "$MNT" "imaps://$USER_NAME@localhost:$IMAPS_PORT" -o "cafile=$T/dovecot/ca.pem,cache_size=4M,poll=1" \
	|| { fail "mount"; finish; }
cat "$MNT"/INBOX/* "$MNT"/Archive/*.eml > /dev/null
bodies() { du -sb "$MAILFS_CACHE/bodies" | cut -f1; }
check "the cache was over the limit after reading everything ($(bodies) bytes)" test "$(bodies)" -gt $((4 << 20))
check "within a poll interval it is back under 4 MB" wait_for "test \$(bodies) -le $((4 << 20))" 10
first=$(ls "$MNT"/INBOX/* | head -1)
check "an evicted message still reads, byte for byte" \
	cmp -s <(cat "$first") <(ic fetch INBOX "$(getfattr --absolute-names --only-values -n user.mail.uid "$first")")
check ".mailfs-status shows the cache size" grep -q "MB of message bodies" "$MNT/.mailfs-status"
finish

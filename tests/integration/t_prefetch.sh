#!/usr/bin/env bash
# Issue 5: prefetch downloads every body in the background (an offline copy),
# and cache_size bounds the body cache by evicting the least recently read.
. "$(dirname "$0")/lib.sh"
setup
dovecot_start --profile demo --seed 31
MNT="$T/mnt"
mkdir -p "$T/orig"
dumped=0
for f in INBOX Archive Sent; do
	mkdir -p "$T/orig/$f"
	ic dump "$f" "$T/orig/$f" > /dev/null || fail "dump of $f"
	n=$(ls "$T/orig/$f" | grep -c '\.eml$')
	check "the server's $f is dumped ($n messages)" test "$n" -gt 0 -a "$n" -eq "$(ic count "$f")"
	dumped=$((dumped + n))
done

mount_mailfs "$MNT" "imaps://$USER_NAME@localhost:$IMAPS_PORT" -o "cafile=$T/dovecot/ca.pem,prefetch,poll=2" \
	|| { fail "mount"; finish; }
check "prefetch completes" wait_for "grep -q 'prefetch: complete' '$MNT/.mailfs-status'" 60
check "in the foreground, progress goes to stderr" grep -q "prefetch complete: .* MB" "$T/mailfs-0.log"
n=$(find "$MAILFS_CACHE/bodies" -type f | wc -l)
total=$(ic folders | while read -r f; do ic count "$f"; done | paste -sd+ | bc)
check "every body is in the cache ($n of $total)" test "$n" -eq "$total"
dovecot_stop
same=0
for f in INBOX Archive Sent; do
	for u in $(ls "$T/orig/$f" | sed -n 's/\.eml$//p'); do
		if cmp -s "$T/orig/$f/$u.eml" "$MNT/$f/$(printf %010d "$u")"*; then
			same=$((same + 1))
		else
			say "differs: $f/$u"
		fi
	done
done
check "with the server stopped, every message reads back byte for byte ($same of $dumped)" \
	test "$same" -eq "$dumped"
unmount_mailfs "$MNT"
finish

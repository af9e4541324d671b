#!/usr/bin/env bash
# Issue 5: cache_size bounds the body cache; the least recently read bodies
# go first, and an evicted message still reads (downloaded again).
. "$(dirname "$0")/lib.sh"
setup
dovecot_start --profile demo --seed 37
MNT="$T/mnt"
mount_mailfs "$MNT" "imaps://$USER_NAME@localhost:$IMAPS_PORT" -o "cafile=$T/dovecot/ca.pem,cache_size=4M,poll=1" \
	|| { fail "mount"; finish; }
LOG="$T/mailfs-0.log"
bodies() { du -sb "$MAILFS_CACHE/bodies" | cut -f1; }
# The UIDs of FOLDER whose bodies are cached, sorted as comm(1) wants them.
cached() {
	local out
	out=$("$PY" "$TOP/tests/integration/cachecheck.py" "$MAILFS_CACHE" cached "$1") || return 1
	LC_ALL=C sort <<<"$out"
}
nmsgs() { ls -d "$MNT/$1"/*.eml | wc -l; }
uid_of() { local n; n=$(basename "$1"); echo $((10#${n:0:10})); }
read_all() {    # read_all FOLDER: every message, one after the other
	local f
	for f in "$MNT/$1"/*.eml; do cat "$f" > /dev/null || fail "reading $f"; done
}

# Sent (1.6 MB), read three hours ago: its bodies' access times say so
# (eviction goes by them). Its first message is read again now.
read_all Sent
cached Sent > "$T/sent-cached"
check "Sent is in the cache ($(wc -l < "$T/sent-cached") bodies)" \
	test "$(wc -l < "$T/sent-cached")" -eq "$(nmsgs Sent)"
touch -a -d '3 hours ago' "$MAILFS_CACHE"/bodies/*/*
# (Read with O_DIRECT: a read the kernel answers from its page cache never
# reaches mailfs, so it cannot count.)
first=$(ls -d "$MNT"/Sent/*.eml | head -1)
check "a message read three hours ago is read again" \
	dd if="$first" of=/dev/null iflag=direct bs=64k status=none
f=$(ls -d "$MAILFS_CACHE"/bodies/*/"$(uid_of "$first")" | head -1)
check "…and its body's access time is now" test $(( $(date +%s) - $(stat -c %X "$f") )) -lt 600
# Then Archive, Junk and Drafts (3.1 MB): over 4 MB in all.
for folder in Archive Junk Drafts; do read_all "$folder"; done
check "the cache went over the limit: the log says so" \
	wait_for "grep -q 'cache over its 4 MB limit' '$LOG'" 10
check "within a poll interval it is back under 4 MB" wait_for "test \$(bodies) -le $((4 << 20))" 10

# What went: bodies of Sent read three hours ago, and only those.
cached Sent > "$T/sent-kept"
evicted=$(comm -23 "$T/sent-cached" "$T/sent-kept" | sort -n)
check "bodies of Sent read long ago were evicted ($(echo $evicted | wc -w))" test -n "$evicted"
check "…but not the one read again just now" has_line "$(uid_of "$first")" cat "$T/sent-kept"
for folder in Archive Junk Drafts; do
	check "…nor any of $folder, read since" \
		test "$(cached "$folder" | wc -l)" -eq "$(nmsgs "$folder")"
done
gone=$(ls -d "$MNT"/Sent/"$(printf %010d "$(head -1 <<<"$evicted")")"* | head -1)
check "an evicted message is read again (O_DIRECT)" \
	dd if="$gone" of=/dev/null iflag=direct bs=64k status=none
check "…downloaded again into the cache" has_line "$(uid_of "$gone")" cached Sent
check "…byte for byte" same_as_server "$gone" Sent
check ".mailfs-status shows the cache size" grep -q "MB of message bodies" "$MNT/.mailfs-status"
finish

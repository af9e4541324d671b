#!/usr/bin/env bash
# Issue 17 item 17: a mount that came up offline (the server refused, the
# tree from a warm cache) starts IDLE on INBOX once the network is back, so
# new mail shows within seconds, not at the next poll. poll is far longer
# than the test: only IDLE can explain a new message in time.
. "$(dirname "$0")/lib.sh"
setup
dovecot_start --profile demo --seed 53 --count 8
MNT="$T/mnt"
CACHE="$T/cache"
STATUS="$MNT/.mailfs-status"
proxy_start "$IMAPS_PORT" || { fail "the fault proxy does not start"; finish; }
URL="imaps://$USER_NAME@localhost:$PROXY_PORT"
OPTS="cafile=$T/dovecot/ca.pem,cache_dir=$CACHE,timeout=3,poll=600"

# A warm cache: the tree and INBOX's listing.
mount_mailfs "$MNT" "$URL" -o "$OPTS" || { fail "warm mount"; finish; }
before=$(ls "$MNT/INBOX" | wc -l)
check "warm mount: INBOX lists ($before messages)" test "$before" -gt 0
check "warm mount: INBOX is watched with IDLE (Dovecot offers it)" \
	wait_for "grep -qx 'INBOX: watched with IDLE' '$STATUS'" 20
unmount_mailfs "$MNT"

# Offline start: the proxy closes every connection at once.
proxy refuse > /dev/null
mount_mailfs "$MNT" "$URL" -o "$OPTS" || { fail "offline mount"; finish; }
log="$T/mailfs-$((${#PIDS[@]} - 1)).log"
check "the mount came up from the cache" grep -q "comes up from the cache" "$log"
check "offline: INBOX lists from the cache" test "$(ls "$MNT/INBOX" | wc -l)" -eq "$before"
check "offline: the status file does not claim IDLE" no_match -x "INBOX: watched with IDLE" "$STATUS"
refused=$(proxy count)

# The network comes back. Nothing the test does connects: the driver must
# find out by itself.
proxy pass > /dev/null
check "network back: INBOX is watched with IDLE" \
	wait_for "grep -qx 'INBOX: watched with IDLE' '$STATUS'" 90
check "…over a connection through the proxy (accepted: $refused, then $(proxy count))" \
	test "$(proxy count)" -gt "$refused"
grep '^INBOX:' "$STATUS"

printf 'From: b@example.org\r\nSubject: idle-after-offline\r\nMessage-ID: <idle-offline@t>\r\n\r\nhi\r\n' \
	> "$T/new.eml"
start=$(date +%s)
ic append INBOX "$T/new.eml" > /dev/null || fail "append with the independent client"
# Well under poll (600 s); generous for a slow machine.
if wait_for "ls '$MNT/INBOX' | grep -q idle-after-offline" 20; then
	pass "new mail in INBOX appears within $(( $(date +%s) - start )) s (poll is 600 s)"
else
	fail "new mail in INBOX did not appear within 20 s (poll is 600 s)"
	grep '^INBOX:' "$STATUS"
fi
check "INBOX now lists one more message" test "$(ls "$MNT/INBOX" | wc -l)" -eq $((before + 1))
unmount_mailfs "$MNT"
finish

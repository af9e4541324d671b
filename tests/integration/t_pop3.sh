#!/usr/bin/env bash
# Issue 4: POP3 mode. One INBOX, downloaded into the cache: byte for byte
# what the server holds, never downloaded twice, new mail within the poll
# interval, rm local and permanent, nothing else writable, and readable with
# the server gone. With pop3_delete the server ends empty and every message
# is in the cache.
. "$(dirname "$0")/lib.sh"
setup
dovecot_start --profile demo --seed 13

POLL=2
MNT="$T/mnt"
mkdir -p "$T/orig"
ic dump INBOX "$T/orig" > /dev/null
N=$(ls "$T/orig"/*.eml | wc -l)
# The server's UIDLs, with an independent client (Python's poplib).
pop_uidls() {
	"$PY" - "$POP3S_PORT" "$USER_NAME" "$PASSWORD" "$T/dovecot/ca.pem" <<'PY'
import poplib, ssl, sys
ctx = ssl.create_default_context(cafile=sys.argv[4])
p = poplib.POP3_SSL("localhost", int(sys.argv[1]), context=ctx)
p.user(sys.argv[2]); p.pass_(sys.argv[3])
for line in p.uidl()[1]:
    print(line.decode().split(" ", 1)[1])
p.quit()
PY
}
# Do the mount's files hold exactly the original messages?
same_messages() {   # same_messages DIR_A DIR_B: equal multisets of contents
	diff <(cat_hashes "$1") <(cat_hashes "$2") > /dev/null
}
cat_hashes() { (cd "$1" && find . -maxdepth 1 -type f -name '*.eml' -exec sha256sum -z {} + | tr '\0' '\n' | cut -c1-64 | sort); }

mount_mailfs "$MNT" "pop3s://$USER_NAME@localhost:$POP3S_PORT" -o "cafile=$T/dovecot/ca.pem,poll=$POLL" \
	|| { fail "mount"; finish; }
check "the root holds exactly INBOX/" test "$(ls "$MNT")" = "INBOX"
check "all $N messages are downloaded" wait_for "test \$(ls '$MNT/INBOX' | wc -l) -eq $N" 30
check "every file is byte for byte a message of the server" same_messages "$MNT/INBOX" "$T/orig"
check "names are <uid> <subject>.eml" bash -c "ls '$MNT/INBOX' | grep -qE '^[0-9]{10} .*\\.eml$'"
f=$(ls -d "$MNT"/INBOX/* | head -1)
check "sizes are exact" bash -c "test \$(stat -c %s '$f') -eq \$(wc -c < '$f')"
pop_uidls | sort > "$T/server-uidls"
for g in "$MNT"/INBOX/*; do getfattr --absolute-names --only-values -n user.pop3.uidl "$g"; echo; done \
	| grep -v '^$' | sort > "$T/mount-uidls"
check "user.pop3.uidl of every file is the server's UIDL" cmp -s "$T/server-uidls" "$T/mount-uidls"
d=$(grep -m1 '^Date:' "$f" | cut -d' ' -f2- | tr -d '\r')
check "mtime comes from the Date header" test "$(stat -c %Y "$f")" -eq "$(date -d "$d" +%s)"

# Later polls download nothing twice.
sleep $((POLL * 2 + 1))
check "after more polls: still $N files" test "$(ls "$MNT/INBOX" | wc -l)" -eq "$N"
check "…and the log reports one download round only" \
	test "$(grep -c 'downloaded [0-9]* new message' "$T/mailfs-0.log")" -eq 1

# New mail appears within the poll interval.
printf 'From: x@example.org\r\nSubject: pop3-new\r\nMessage-ID: <pop3-new@t>\r\n\r\nnew\r\n' > "$T/new.eml"
ic append INBOX "$T/new.eml" > /dev/null
check "new mail appears" wait_for "ls '$MNT/INBOX' | grep -q pop3-new" $((POLL * 3 + 2))

# rm is local and permanent.
before=$(ic count INBOX)
victim=$(ls "$MNT/INBOX" | sed -n 3p)
victim_sum=$(sha256sum < "$MNT/INBOX/$victim" | cut -c1-64)
check "rm of a message works" rm "$MNT/INBOX/$victim"
check "…it is still on the server" test "$(ic count INBOX)" -eq "$before"
sleep $((POLL * 2 + 1))
check "…and never comes back" test ! -e "$MNT/INBOX/$victim"
check "…not even under another name" test "$(ls "$MNT/INBOX" | wc -l)" -eq "$N"

# Nothing else writes.
check "cp into INBOX is refused" fails_with "Operation not permitted" cp "$T/new.eml" "$MNT/INBOX/"
check "mkdir is refused" fails_with "Operation not permitted" mkdir "$MNT/Other"
g=$(ls -d "$MNT"/INBOX/* | head -1)
check "mv is refused" fails_with "Operation not permitted" mv "$g" "$MNT/INBOX/x.eml"
check "flags are not writable" fails_with "Operation not permitted" setfattr -n user.mail.flags -v '\Seen' "$g"
check "writing into a message is refused" fails_with "Operation not permitted" \
	dd if=/dev/zero of="$g" bs=1 count=1 conv=notrunc status=none
# What the mount must show from now on: the server's messages but the one
# removed locally.
mkdir -p "$T/now"
ic dump INBOX "$T/now" > /dev/null
cat_hashes "$T/now" | awk -v v="$victim_sum" '$0 == v && !gone { gone = 1; next } 1' > "$T/expected"
check "the server has the messages the mount shows ($N)" test "$(wc -l < "$T/expected")" -eq "$N"
cache=$MAILFS_CACHE
unmount_mailfs "$MNT"

# The server gone: the mount comes up from the cache, with a warning.
cp -r "$MNT" /dev/null 2>/dev/null
dovecot_stop
mount_mailfs "$MNT" "pop3s://$USER_NAME@localhost:$POP3S_PORT" \
	-o "cafile=$T/dovecot/ca.pem,cache_dir=$cache,timeout=3" || fail "mount with the server down"
check "server down: the mount still comes up" mountpoint -q "$MNT"
check "…with a warning in the log" grep -q "comes up from the cache" "$T/mailfs-1.log"
check "…and every message is readable, byte for byte" cmp -s <(cat_hashes "$MNT/INBOX") "$T/expected"
unmount_mailfs "$MNT"
finish

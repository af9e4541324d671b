#!/usr/bin/env bash
# Issue 16: the first listing of a big folder is streamed. Through a proxy
# slowed to 400 KB/s, Bulk (5,000 messages) takes seconds to list: a reader
# gets its first entries well before the listing ends, and two readers at
# once each list every message exactly once, the server's UIDs and no
# other. A connection cut half-way through a first listing ends it with an
# I/O error (or a whole listing over a new connection), never a hang nor a
# partial listing; the next one is whole.
. "$(dirname "$0")/lib.sh"
setup
FILL_CMD='"$PY" "$GEN" --maildir "$MAILDIR" --profile small20k --count 5000 > /dev/null'
dovecot_start
ic uids Bulk | sort -n > "$T/server"
BULK=$(wc -l < "$T/server")
proxy_start "$IMAPS_PORT"
URL="imaps://$USER_NAME@localhost:$PROXY_PORT"
MNT="$T/mnt"

# A reader: seconds to its first entry, seconds to the end; then the UIDs
# of the names it read, one a line, in the order read.
reader() {
	"$PY" -c 'import os, sys, time
t = time.time(); first = None; uids = []
for e in os.scandir(sys.argv[1]):
    if first is None:
        first = time.time() - t
    uids.append(int(e.name.split(" ")[0]))
print("%.3f %.3f" % (first or 0, time.time() - t))
for u in uids:
    print(u)' "$1"
}
# exact FILE: the UIDs FILE lists after its first line are the server's,
# each once.
exact() {
	tail -n +2 "$1" | sort -n > "$1.sorted"
	if ! cmp -s "$1.sorted" "$T/server"; then
		say "($1: $(tail -n +2 "$1" | wc -l) entries, $(sort -n "$1.sorted" | uniq -d | wc -l) twice," \
			"$(comm -13 "$1.sorted" "$T/server" | wc -l) missing, $(comm -23 "$1.sorted" "$T/server" | wc -l) not on the server)"
		return 1
	fi
}

proxy rate 400000 > /dev/null
mount_mailfs "$MNT" "$URL" -o "cafile=$T/dovecot/ca.pem" || { fail "mount"; finish; }
reader "$MNT/Bulk" > "$T/a" &
a=$!
sleep 0.3
reader "$MNT/Bulk" > "$T/b" &
b=$!
wait "$a" "$b"
read -r first total < "$T/a"
say "first listing of $BULK messages: first entry after $first s, all after $total s"
check "a first listing streams: the first entry comes before 70% of the listing" \
	awk -v f="$first" -v t="$total" 'BEGIN { exit !(t > 1 && f < 0.7 * t) }'
check "…it lists every message of the server once" exact "$T/a"
check "…and so does a second reader, started meanwhile" exact "$T/b"
proxy pass > /dev/null
reader "$MNT/Bulk" > "$T/c"
check "a warm listing is the same" exact "$T/c"
unmount_mailfs "$MNT" || fail "unmount"

# A cut half-way: a fresh cache, the server slowed, the connections closed
# after about half of the listing went through.
proxy rate 400000 > /dev/null
mount_mailfs "$MNT" "$URL" -o "cafile=$T/dovecot/ca.pem" || { fail "mount"; finish; }
cuts=$(proxy cuts)
proxy cut 500000 rst > /dev/null
if timeout 60 ls "$MNT/Bulk" > "$T/cut.out" 2> "$T/cut.err"; then
	check "a listing cut half-way comes back whole over a new connection" \
		test "$(wc -l < "$T/cut.out")" -eq "$BULK"
else
	check "a listing cut half-way fails with an I/O error, not a hang" \
		grep -q "Input/output error" "$T/cut.err"
fi
check "…the proxy did cut" test "$(proxy cuts)" -gt "$cuts"
proxy pass > /dev/null
reader "$MNT/Bulk" > "$T/d"
check "the next listing is whole" exact "$T/d"
unmount_mailfs "$MNT" || fail "unmount"
finish

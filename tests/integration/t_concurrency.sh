#!/usr/bin/env bash
# Issue 3: programs acting on the same folder at once, while another client
# changes it and IDLE runs, all get consistent results; the mount ends equal
# to the server.
. "$(dirname "$0")/lib.sh"
setup
dovecot_start --profile small20k --count 400

MNT="$T/mnt"
mount_mailfs "$MNT" "imaps://$USER_NAME@localhost:$IMAPS_PORT" -o "cafile=$T/dovecot/ca.pem,poll=1" \
	|| { fail "mount"; finish; }
ls "$MNT/Bulk" > "$T/before"
total=$(wc -l < "$T/before")
check "400 messages listed" test "$total" -eq 400

# Two rm's on alternating messages, cp's from two programs, readers, and
# another client appending, all at once.
awk 'NR % 4 == 1' "$T/before" > "$T/rm1"
awk 'NR % 4 == 3' "$T/before" > "$T/rm2"
(while read -r n; do rm "$MNT/Bulk/$n" || echo "rm1 $n" >> "$T/errors"; done < "$T/rm1") &
p1=$!
(while read -r n; do rm "$MNT/Bulk/$n" || echo "rm2 $n" >> "$T/errors"; done < "$T/rm2") &
p2=$!
mkdir -p "$T/in"
for i in $(seq 1 30); do
	printf 'Subject: conc-%s\r\nMessage-ID: <conc-%s@t>\r\n\r\nx\r\n' "$i" "$i" > "$T/in/c$i.eml"
done
(for i in $(seq 1 15); do cp "$T/in/c$i.eml" "$MNT/Bulk/" || echo "cp $i" >> "$T/errors"; done) &
p3=$!
(for i in $(seq 16 30); do cp "$T/in/c$i.eml" "$MNT/Bulk/" || echo "cp $i" >> "$T/errors"; done) &
p4=$!
# (ls -l stats what it listed: a file removed in between is "No such file",
# as on any filesystem; any other error counts.)
(for i in $(seq 1 20); do
	ls -l "$MNT/Bulk" > /dev/null 2> "$T/ls.err" ||
		grep -v "No such file or directory" "$T/ls.err" >> "$T/errors"
done) &
p5=$!
# (grep reads every message and counts a word none has; a message removed
# in between is "No such file" too; any other error counts, and so does a
# match.)
(grep -rc --binary-files=text zzz-none "$MNT/Bulk" > "$T/grep.out" 2> "$T/grep.err"
	grep -v "No such file or directory" "$T/grep.err" >> "$T/errors"
	grep -v ':0$' "$T/grep.out" | sed 's/^/grep found the word: /' >> "$T/errors") &
p6=$!
(for i in $(seq 1 10); do
	printf 'Subject: other-%s\r\nMessage-ID: <other-%s@t>\r\n\r\ny\r\n' "$i" "$i" > "$T/o$i.eml"
	ic append Bulk "$T/o$i.eml" > /dev/null || echo "append $i" >> "$T/errors"
done) &
p7=$!
wait $p1 $p2 $p3 $p4 $p5 $p6 $p7
check "no program saw an error" test ! -s "$T/errors"
[ -s "$T/errors" ] && head "$T/errors"
# 200 of the 400 were never removed: the reader read at least those.
check "the reader read the messages ($(wc -l < "$T/grep.out") files)" test "$(wc -l < "$T/grep.out")" -ge 200
expected=$((400 - $(wc -l < "$T/rm1") - $(wc -l < "$T/rm2") + 30 + 10))
check "the server has exactly the messages expected ($expected)" test "$(ic count Bulk)" -eq "$expected"
for i in 1 15 16 30; do
	check "conc-$i is on the server once" test "$(ic has-message-id Bulk "<conc-$i@t>" | wc -l)" -eq 1
done
check "the mount catches up with the other client" \
	wait_for "test \$(ls '$MNT/Bulk' | wc -l) -eq $expected" 10
check "the mount equals the server" ic verify "$MNT" --folder Bulk
finish

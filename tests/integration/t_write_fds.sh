#!/usr/bin/env bash
# Issue 11: the write path under attack and under unusual use.
#  - the server holds the bytes of the last close() of a file written
#    through several descriptors (SPEC §2), with one copy, never a partial
#    one, while cp, rsync and a file manager still make one APPEND each;
#  - user.mail.flags of a file being written is checked where it enters:
#    an xattr cannot smuggle a command into the APPEND (SPEC §5);
#  - rm and mv of a file whose APPEND is failing do not crash the daemon;
#  - mknod of a regular file is answered as a mknod.
# The server side is checked with imapcheck.py (Python's imaplib).
. "$(dirname "$0")/lib.sh"
setup
dovecot_start --profile demo --seed 17

# Through the fault proxy, so that an APPEND can be made to fail slowly.
proxy_start "$IMAPS_PORT"
MNT="$T/mnt"
mount_mailfs "$MNT" "imaps://$USER_NAME@localhost:$PROXY_PORT" \
	-o "cafile=$T/dovecot/ca.pem,poll=2,timeout=4" || { fail "mount"; finish; }
ls "$MNT/Drafts" "$MNT/INBOX" > /dev/null

# count_id FOLDER ID: how many messages of FOLDER have Message-ID <ID@t>.
count_id() { ic has-message-id "$1" "<$2@t>" | wc -l; }
# server_bytes FOLDER ID: the message with that Message-ID, as stored.
server_bytes() { ic fetch "$1" "$(ic has-message-id "$1" "<$2@t>" | head -1)"; }
crlf() { sed 's/$/\r/'; }
alive() { kill -0 "$MAILFS_PID" 2>/dev/null && ls "$MNT/INBOX" > /dev/null; }

# --- several descriptors: the last close() wins -------------------------------
# Bash saves and restores stdout around `echo ... >&3`: every echo closes a
# duplicate of the file, so every echo is a FLUSH with new bytes.
next=$(ic uidnext Drafts)
exec 3>"$MNT/Drafts/multi.eml"
echo "Subject: three lines" >&3
echo "Message-ID: <multi@t>" >&3
echo "" >&3
echo "line one" >&3
echo "line two" >&3
echo "line three" >&3
check "exec 3>f; echo >&3 ...; exec 3>&-: the last close succeeds" exec 3>&-
check "…one copy on the server" test "$(count_id Drafts multi)" -eq 1
printf 'Subject: three lines\nMessage-ID: <multi@t>\n\nline one\nline two\nline three\n' | crlf \
	> "$T/multi.want"
server_bytes Drafts multi > "$T/multi.got"
check "…holding every line written (not the first flush's part)" cmp -s "$T/multi.want" "$T/multi.got"
check "…and nothing else new in Drafts" \
	test "$(ic count Drafts)" -eq "$(ls "$MNT/Drafts" | wc -l)"
check "…the mount shows it once" test "$(ls "$MNT/Drafts" | grep -c 'three lines')" -eq 1
say "(that took $(( $(ic uidnext Drafts) - next )) APPENDs)"

# A child that inherits the descriptor and exits closes it: a FLUSH too.
(
	exec 4>"$MNT/Drafts/child.eml"
	sh -c 'printf "Subject: from a child\nMessage-ID: <child@t>\n\n" >&4'
	sh -c 'printf "written by the second child\n" >&4'
	printf 'and by the parent\n' >&4
	exec 4>&-
)
check "inherited descriptors: one copy on the server" test "$(count_id Drafts child)" -eq 1
printf 'Subject: from a child\nMessage-ID: <child@t>\n\nwritten by the second child\nand by the parent\n' \
	| crlf > "$T/child.want"
server_bytes Drafts child > "$T/child.got"
check "…with the bytes of the last close()" cmp -s "$T/child.want" "$T/child.got"

# Flushes that bring nothing new append nothing.
next=$(ic uidnext Drafts)
"$PY" - "$MNT/Drafts/dups.eml" <<'EOF'
import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
os.write(fd, b"Subject: dups\nMessage-ID: <dups@t>\n\nbody\n")
for _ in range(5):
    os.close(os.dup(fd))
os.close(fd)
EOF
check "five closes of the same bytes: one APPEND" test "$(ic uidnext Drafts)" -eq $((next + 1))
check "…one copy" test "$(count_id Drafts dups)" -eq 1

# cp, rsync and a file manager's copy: one APPEND each, as before.
mk() { printf 'Subject: %s\nMessage-ID: <%s@t>\n\nbody of %s\n' "$2" "$2" "$2" > "$1"; }
mk "$T/one-cp.eml" one-cp
next=$(ic uidnext Drafts)
check "cp: succeeds" cp "$T/one-cp.eml" "$MNT/Drafts/"
check "cp: exactly one APPEND" test "$(ic uidnext Drafts)" -eq $((next + 1))
mk "$T/one-cpp.eml" one-cpp
next=$(ic uidnext Drafts)
check "cp -p: succeeds" cp -p "$T/one-cpp.eml" "$MNT/Drafts/"
check "cp -p: exactly one APPEND" test "$(ic uidnext Drafts)" -eq $((next + 1))
mkdir -p "$T/rs"; mk "$T/rs/one-rsync.eml" one-rsync
next=$(ic uidnext Drafts)
check "rsync -a: succeeds" rsync -a "$T/rs/" "$MNT/Drafts/"
check "rsync -a: exactly one APPEND" test "$(ic uidnext Drafts)" -eq $((next + 1))
if command -v gio >/dev/null; then
	mk "$T/one-gio.eml" one-gio
	next=$(ic uidnext Drafts)
	check "gio copy: succeeds" gio copy "$T/one-gio.eml" "$MNT/Drafts/"
	check "gio copy: exactly one APPEND" test "$(ic uidnext Drafts)" -eq $((next + 1))
else
	say "SKIP: gio not installed: the file manager copy is not counted"
fi
for id in one-cp one-cpp one-rsync; do
	check "$id is on the server once" test "$(count_id Drafts "$id")" -eq 1
done

# Writing again after close (cat >> f while the name still resolves) stores
# the whole file again, and the earlier copy goes.
exec 5>"$MNT/Drafts/again.eml"
printf 'Subject: again\nMessage-ID: <again@t>\n\nfirst\n' >&5
exec 5>&-
check "written once: on the server" test "$(count_id Drafts again)" -eq 1
exec 5>>"$MNT/Drafts/again.eml"
check "appending to it again succeeds" bash -c "printf 'second\n' >&5"
exec 5>&-
check "…still one copy" test "$(count_id Drafts again)" -eq 1
printf 'Subject: again\nMessage-ID: <again@t>\n\nfirst\nsecond\n' | crlf > "$T/again.want"
server_bytes Drafts again > "$T/again.got"
check "…with both writes" cmp -s "$T/again.want" "$T/again.got"

# Writing in place after a close: the message stored at that close keeps
# its bytes (its cached body must not change under it).
out=$("$PY" - "$MNT/Drafts" <<'EOF'
import os, sys
d = sys.argv[1]
fd = os.open(d + "/cow.eml", os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
os.write(fd, b"Subject: cow\r\nMessage-ID: <cow@t>\r\n\r\nAAAA\r\n")
os.close(os.dup(fd))                        # stored: its body is cached
stored = [n for n in os.listdir(d) if n.endswith(" cow.eml")]
os.pwrite(fd, b"BBBB", 37)                  # same size, new bytes
# Read first now (the kernel has no pages of it): from the cached body.
after = open(os.path.join(d, stored[0]), "rb").read()
os.close(fd)
print("same" if after.endswith(b"\r\n\r\nAAAA\r\n") else "changed: %r" % after)
EOF
)
check "writing in place after a close leaves the stored message as it was ($out)" test "$out" = same
cow=$(ic has-message-id Drafts '<cow@t>')
check "…and the last close stores the new bytes, once ($cow)" test "$(wc -w <<<"$cow")" -eq 1
check "…the new bytes" grep -q BBBB <(ic fetch Drafts "${cow:-0}")

# A message moved in by one connection and removed through another right
# after: that session's view predates the message, and a STORE or EXPUNGE of
# it matched nothing while the server said OK (rm "succeeded", the message
# stayed). Ten rounds; each must leave nothing behind.
left=0
for i in 1 2 3 4 5 6 7 8 9 10; do
	mk "$T/loop$i.eml" "loop-$i"
	cp "$T/loop$i.eml" "$MNT/Drafts/" &&
	mv "$(ls -d "$MNT"/Drafts/*" loop-$i.eml" | head -1)" "$MNT/Archive/" &&
	rm "$(ls -d "$MNT"/Archive/*" loop-$i.eml" | head -1)" || say "(round $i failed)"
	[ "$(count_id Archive "loop-$i")" -eq 0 ] || left=$((left + 1))
done
check "cp, mv, rm in a row: nothing left on the server ($left of 10 left)" test "$left" -eq 0

# --- injection through user.mail.flags of a file being written ----------------
ic create Victim > /dev/null
check "the folder Victim exists on the server" has_line Victim ic folders
evil=$'\\Seen)\r\nX1 DELETE Victim\r\nX2 NOOP ('
out=$("$PY" - "$MNT/Drafts/evil.eml" "$evil" <<'EOF'
import errno, os, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
os.write(fd, b"Subject: evil\nMessage-ID: <evil@t>\n\nbody\n")
try:
    os.setxattr(sys.argv[1], "user.mail.flags", sys.argv[2].encode())
    print("accepted")
except OSError as e:
    print(errno.errorcode.get(e.errno, str(e.errno)))
try:
    os.close(fd)
except OSError:
    pass
EOF
)
check "a flag list with CR LF on a file being written: EINVAL ($out)" test "$out" = EINVAL
check "…the folder Victim still exists on the server" has_line Victim ic folders
check "…the message itself was stored" test "$(count_id Drafts evil)" -eq 1
"$PY" - "$MNT/Drafts/flagged.eml" <<'EOF'
import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
os.write(fd, b"Subject: flagged\nMessage-ID: <flagged@t>\n\nbody\n")
os.setxattr(sys.argv[1], "user.mail.flags", b"\\Flagged $Label1\n")
os.close(fd)
EOF
check "valid flags set before close reach the server" \
	test "$(ic flags Drafts "$(ic has-message-id Drafts '<flagged@t>')" | words)" = '$Label1 \Flagged'
for bad in '(x' 'a]' '\' 'caf'$'\xc3\xa9' 'a%b' 'x{3}'; do
	check "flag list '$bad' on a file being written: EINVAL" \
		fails_with "Invalid argument" bash -c "exec 6>'$MNT/Drafts/bad.eml'; setfattr -n user.mail.flags -v '$bad' '$MNT/Drafts/bad.eml'"
done

# --- mknod of a regular file --------------------------------------------------------
out=$("$PY" - "$MNT/Drafts/mknod.eml" <<'EOF'
import os, stat, sys
try:
    os.mknod(sys.argv[1], stat.S_IFREG | 0o600)
except OSError as e:
    print("mknod: %s" % e.strerror); sys.exit(0)
with open(sys.argv[1], "wb") as f:
    f.write(b"Subject: by mknod\nMessage-ID: <mknod@t>\n\nbody\n")
print("ok")
EOF
)
check "mknod of a regular file, then write and close, works ($out)" test "$out" = ok
check "…the message is on the server once" test "$(count_id Drafts mknod)" -eq 1
check "mknod of a FIFO is refused" fails_with "Operation not permitted" mkfifo "$MNT/Drafts/fifo"

# --- rm / mv of a file whose APPEND is failing ---------------------------------------
# The proxy stalls: the APPEND runs into the timeout (4 s) and fails while rm
# (or mv) of the file's name runs.
for op in rm mv; do
	proxy stall > /dev/null
	"$PY" - "$MNT/INBOX/race-$op.eml" "$op" > "$T/race-$op.out" <<'EOF' &
import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
os.write(fd, b"Subject: race %s\nMessage-ID: <race-%s@t>\n\nbody\n" % ((sys.argv[2].encode(),) * 2))
try:
    os.close(fd)
    print("close: ok")
except OSError as e:
    print("close: " + e.strerror); sys.exit(1)
EOF
	writer=$!
	sleep 1
	if [ "$op" = rm ]; then
		rm -f "$MNT/INBOX/race-$op.eml" 2>/dev/null &
	else
		mv "$MNT/INBOX/race-$op.eml" "$MNT/INBOX/race-$op-renamed.eml" 2>/dev/null &
	fi
	other=$!
	wait "$writer"; wrc=$?
	# Drop what the stalled proxy holds, so that the failed APPEND cannot
	# reach the server late.
	proxy dropall > /dev/null
	proxy pass > /dev/null
	wait "$other"
	check "$op during a failing APPEND: close() reported the failure" test "$wrc" -ne 0
	check "$op during a failing APPEND: the daemon is alive and the mount works" alive
	check "…the message is not on the server" test "$(count_id INBOX "race-$op")" -eq 0
done

check "the folder made by another client shows within a few polls" wait_for "test -d '$MNT/Victim'" 10
check "the whole mount equals the server" ic verify "$MNT"
finish

#!/usr/bin/env bash
# Issue 2: reading. An IMAP mount of a generated mailbox matches the server,
# byte for byte, checked with an independent client.
. "$(dirname "$0")/lib.sh"
setup
dovecot_start --profile demo --seed 7

MNT="$T/mnt"
URL="imaps://$USER_NAME@localhost:$IMAPS_PORT"
mount_mailfs "$MNT" "$URL" -o "cafile=$T/dovecot/ca.pem,poll=2" || { fail "mount"; finish; }

# The tree, every byte, sizes, mtimes and xattrs against the server.
check "mount equals the server (tree, bytes, sizes, dates, xattrs)" \
	ic verify "$MNT"

# Non-ASCII and mUTF-7 folder names are decoded.
check "mUTF-7 names decoded" test -d "$MNT/Données" -a -d "$MNT/日本語" -a -d "$MNT/a&b"
check "nested folders" test -d "$MNT/Work/Projects/Alpha"

# grep -rl finds exactly the messages the server says contain the word.
ic grep zanzibar | while IFS=$'\t' read -r folder uid; do
	printf '%s/%010d\n' "$folder" "$uid"
done | sort > "$T/server-grep"
(cd "$MNT" && grep -rl zanzibar . | sed 's|^\./||; s|^\(.*/[0-9]\{10\}\).*|\1|' | sort) > "$T/mount-grep"
check "grep -rl zanzibar finds the server's set ($(wc -l < "$T/server-grep") messages)" \
	cmp -s "$T/server-grep" "$T/mount-grep"
[ -s "$T/server-grep" ] || fail "the corpus has no zanzibar messages: test is meaningless"

# Names: sorted by UID, .eml, no leading dot, at most 255 bytes.
check "file names are well-formed" bash -c '
	cd "$1" && find . -type f -name "*" ! -name ".mailfs-status" | while read -r f; do
		b=$(basename "$f")
		case "$b" in [0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]*.eml) ;; *) echo "bad $b"; exit 1;; esac
		[ ${#b} -le 255 ] || { echo "long $b"; exit 1; }
	done' _ "$MNT"

# Reading never sets \Seen (BODY.PEEK).
flag_lines() {  # flag_lines FOLDER UID: one flag a line; fails when the query fails
	local out
	out=$(ic flags "$1" "$2") || return 1
	tr ' ' '\n' <<<"$out"
}
unseen=$(for u in $(ic uids INBOX); do f=$(ic flags INBOX "$u"); case " $f " in *'\Seen'*) ;; *) echo "$u"; break;; esac; done)
if [ -n "$unseen" ]; then
	check "an unseen message reads as on the server" \
		same_as_server "$(ls -d "$MNT"/INBOX/$(printf %010d "$unseen")*)" INBOX
	check "reading does not set \\Seen" lacks_line '\Seen' flag_lines INBOX "$unseen"
else
	fail "no unseen message in INBOX to test \\Seen with"
fi

# xattrs: the three names, ENOTSUP for other namespaces.
f=$(ls "$MNT"/INBOX/* | head -1)
check "listxattr shows the user.mail names" bash -c \
	'getfattr --absolute-names -d "$1" | grep -q user.mail.message_id' _ "$f"
check "security.* is not supported" bash -c \
	'! getfattr --absolute-names -n security.selinux "$1" 2>&1 | grep -qv "Operation not supported"' _ "$f"

# The status file.
check ".mailfs-status says online" grep -q "connection: online" "$MNT/.mailfs-status"
check ".mailfs-status lists INBOX" grep -q "INBOX" "$MNT/.mailfs-status"

# A 25 MB message, appended by another client, streams through intact while
# another folder is listed.
"$PY" - "$T/big.eml" <<'PY'
import base64, os, sys
with open(sys.argv[1], "wb") as f:
    f.write(b"From: a@example.org\r\nTo: b@example.org\r\nSubject: big one\r\n"
            b"MIME-Version: 1.0\r\nContent-Type: application/octet-stream\r\n"
            b"Content-Transfer-Encoding: base64\r\n\r\n")
    data = base64.encodebytes(os.urandom(19 * 1024 * 1024)).replace(b"\n", b"\r\n")
    f.write(data)
PY
ic append Archive "$T/big.eml" --raw >/dev/null || fail "append of the big message"
wait_for "ls '$MNT/Archive' | grep -q 'big one'" 90 || fail "the big message did not appear"
big=$(ls "$MNT"/Archive/*big\ one.eml 2>/dev/null | head -1)
if [ -n "$big" ]; then
	# A peek at its start (a file manager sniffing the type, `head`)
	# fetches only that; reading it through downloads it whole.
	bsize=$(stat -c %s "$big")
	check "a peek at a large message reads the right bytes" \
		cmp -s <(head -c 300 "$big") <(head -c 300 "$T/big.eml")
	# A download of the whole would be in the cache by now, or still be
	# written: open in the cache's tmp/ ("tmp/#<n> (deleted)").
	check "…without downloading the whole message" \
		test -z "$(find "$MAILFS_CACHE/bodies" -type f -size "${bsize}c")"
	ls -l "/proc/$MAILFS_PID/fd" > "$T/fds" || fail "cannot list the descriptors of mailfs"
	check "…nor downloading it (no body being written in the cache)" \
		no_match -F "$MAILFS_CACHE/tmp/" "$T/fds"
	cat "$big" > "$T/big.out" &
	catpid=$!
	ls -l "$MNT/Sent" > /dev/null || fail "ls of another folder during the download"
	wait $catpid || fail "cat of the big message"
	check "the 25 MB message reads back byte for byte" cmp -s "$T/big.eml" "$T/big.out"
	check "its size is exact" test "$(stat -c %s "$big")" -eq "$(stat -c %s "$T/big.eml")"
	check "read through, it is cached whole" \
		test -n "$(find "$MAILFS_CACHE/bodies" -type f -size "${bsize}c")"
fi

# A warm remount serves the same tree.
unmount_mailfs "$MNT" || fail "unmount"
mount_mailfs "$MNT" "$URL" -o "cafile=$T/dovecot/ca.pem,cache_dir=$T/cache-0" || fail "remount"
check "warm remount equals the server" ic verify "$MNT"
unmount_mailfs "$MNT" || fail "unmount"

# A cache made by an older mailfs holds a name with a bidi control (U+202E,
# from a subject): it is made again when the cache is opened (issue 11).
planted=$("$PY" - "$T/cache-0/mailfs.db" <<'EOF'
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
folder, uid, name = c.execute(
    "SELECT folder, uid, name FROM message WHERE name LIKE '% % %' LIMIT 1").fetchone()
i = name.index(" ", 11)
c.execute("UPDATE message SET name = ? WHERE folder = ? AND uid = ?",
          (name[:i] + "\u202e" + name[i:], folder, uid))
c.execute("DELETE FROM meta WHERE key = 'names'")
c.commit()
print(name)
EOF
)
mount_mailfs "$MNT" "$URL" -o "cafile=$T/dovecot/ca.pem,cache_dir=$T/cache-0" || fail "remount"
check "an old cache's name with U+202E is made again (${planted})" \
	test "$(ls -R "$MNT" | grep -c $'\u202e')" -eq 0
check "…and the tree equals the server" ic verify "$MNT"
unmount_mailfs "$MNT" || fail "unmount"

# STARTTLS on imap://, certificate checked by host name.
mount_mailfs "$MNT" "imap://$USER_NAME@localhost:$IMAP_PORT" -o "cafile=$T/dovecot/ca.pem" \
	|| fail "mount with STARTTLS"
check "STARTTLS mount lists INBOX" test -n "$(ls "$MNT/INBOX")"
unmount_mailfs "$MNT"

finish

#!/usr/bin/env bash
# Issue 14, SPEC §9: search directories. .mailfs/search/QUERY/F lists what
# the server's own UID SEARCH finds in F (asked by an independent client),
# on part of the SpamAssassin corpus; hostile queries give EINVAL and send
# nothing; listing transfers no bodies (fault proxy's counters); the files
# are the messages of F (same inodes; rm through a search expunges). On a
# POP3 mount of the same INBOX the queries are evaluated over the cache.
. "$(dirname "$0")/lib.sh"
setup
dovecot_start @corpus --limit 400

# A few messages made unread, so that UNSEEN finds something (the corpus
# is stored read).
for u in 3 7 11 200; do
	ic store INBOX "$u" --remove '\Seen' > /dev/null || fail "store -Seen $u"
done
ic create Victim > /dev/null || fail "create Victim"

proxy_start "$IMAP_PORT" || { fail "proxy"; finish; }
MNT="$T/mnt"
mount_mailfs "$MNT" "imap://$USER_NAME@127.0.0.1:$PROXY_PORT" -o tls_insecure_plaintext -d \
	|| { fail "mount"; finish; }
LOG=$(ls -t "$T"/mailfs-*.log | head -1)
S="$MNT/.mailfs/search"
FOLDERS=(INBOX Ham/2 Ham/Hard Spam)

# UIDs of the messages listed in directory $1, ascending.
# (A message without a subject is named "0000000010.eml".)
listed_uids() { ls "$1" | grep -E '^[0-9]{10}( .*)?\.eml$' | cut -c1-10 | sed 's/^0*//' | sort -n; }

# ---- the layout ------------------------------------------------------------------
check ".mailfs lists search beside text and parts" \
	test "$(ls "$MNT/.mailfs" | paste -sd' ')" = "parts search text"
check ".mailfs/search itself lists nothing" test -z "$(ls -A "$S")"
check "a query's directory mirrors the folders" \
	test "$(ls "$S/ALL" | paste -sd' ')" = "$(ls "$MNT" | paste -sd' ')"
for f in "${FOLDERS[@]}"; do ls "$MNT/$f" > /dev/null; done   # first syncs (metadata)

# ---- the same answers as the server ------------------------------------------------
# QUERY|KEYS FOR THE INDEPENDENT CLIENT (the same text unless given)|LITERAL
queries=(
	"FROM yahoo"
	"SUBJECT razor"
	"TEXT viagra"
	"BODY Linux"
	"SINCE 1-Sep-2002"
	"BEFORE 1-Aug-2002"
	"LARGER 10000"
	"SMALLER 1500"
	"UNSEEN"
	"OR SUBJECT razor FROM yahoo"
	"NOT TEXT Linux"
	"(FROM yahoo LARGER 5000)|FROM yahoo LARGER 5000"
	"HEADER X-Mailer Outlook"
	"SENTSINCE 1-Oct-2002 SENTBEFORE 1-Jan-2003"
	"UID 1:50"
	'TEXT "free money"'
	"text für|TEXT|für"
)
total=0
for q in "${queries[@]}"; do
	IFS='|' read -r name keys lit <<< "$q"
	keys=${keys:-$name}
	hits=0; diffs=""
	for f in "${FOLDERS[@]}"; do
		if [ -n "$lit" ]; then
			ic search "$f" "$keys" --literal "$lit" > "$T/server" || fail "ic search $f $keys"
		else
			ic search "$f" "$keys" > "$T/server" || fail "ic search $f $keys"
		fi
		listed_uids "$S/$name/$f" > "$T/mount"
		hits=$((hits + $(wc -l < "$T/server")))
		cmp -s "$T/server" "$T/mount" ||
			diffs="$diffs $f(server $(wc -l < "$T/server"), mount $(wc -l < "$T/mount"))"
	done
	total=$((total + hits))
	check "'$name': each folder lists what the server's UID SEARCH finds ($hits messages)${diffs:+; differs in$diffs}" \
		test -z "$diffs"
done
check "the queries found something to compare ($total matches in all)" test "$total" -gt 1000
n_unseen=$(listed_uids "$S/UNSEEN/INBOX" | paste -sd' ')
check "UNSEEN finds exactly the 4 messages made unread [$n_unseen]" test "$n_unseen" = "3 7 11 200"

# find and grep -r over a whole query directory search every folder.
nfind=$(find "$S/SUBJECT razor" -name '*.eml' | wc -l)
nsum=0
for f in "${FOLDERS[@]}"; do nsum=$((nsum + $(ic search "$f" "SUBJECT razor" | wc -l))); done
check "find over a query searches every folder ($nfind files, the server: $nsum)" \
	test "$nfind" -eq "$nsum" -a "$nsum" -gt 0

# ---- the files are the messages of their folder --------------------------------------
Q="LARGER 10000"
one=$(ls "$S/$Q/Spam" | grep '\.eml$' | head -1)
check "there is a message to look at ($one)" test -n "$one"
check "a message in a search is the one in its folder (same inode)" \
	test "$(stat -c %i "$S/$Q/Spam/$one")" = "$(stat -c %i "$MNT/Spam/$one")"
check "…with the same bytes" cmp -s "$S/$Q/Spam/$one" "$MNT/Spam/$one"
check "…and its flags" test "$(getfattr --absolute-names --only-values -n user.mail.flags "$S/$Q/Spam/$one")" = \
	"$(getfattr --absolute-names --only-values -n user.mail.flags "$MNT/Spam/$one")"
uid=$(echo "$one" | cut -c1-10 | sed 's/^0*//')
check "rm through a search directory works" rm "$S/$Q/Spam/$one"
check "…and expunged the message on the server" not grep -qx "$uid" <(ic uids Spam)
check "…and it is gone from its folder" test ! -e "$MNT/Spam/$one"
check "…and from the search" not grep -qx "$uid" <(listed_uids "$S/$Q/Spam")
two=$(ls "$S/$Q/Spam" | grep '\.eml$' | head -1)
uid2=$(echo "$two" | cut -c1-10 | sed 's/^0*//')
check "mv out of a search directory moves the message" mv "$S/$Q/Spam/$two" "$MNT/Victim/"
check "…on the server" grep -qx 1 <(ic count Victim)
check "…and it left Spam" not grep -qx "$uid2" <(ic uids Spam)

# A message that arrives shows up in the next listing after poll seconds
# or a change of the folder (this mount's own APPEND changes it at once).
cat > "$T/new.eml" <<'EOF'
From: Zebedee <zebedee@example.org>
To: test@example.org
Subject: zebedeeword arrives
Date: Tue, 1 Oct 2024 10:00:00 +0000
Message-ID: <zebedee@example.org>

Hello.
EOF
check "no message from zebedee yet" test -z "$(ls "$S/FROM zebedee/INBOX")"
cp "$T/new.eml" "$MNT/INBOX/" || fail "cp into INBOX"
check "a message copied in is found by the next listing" \
	wait_for "ls '$S/FROM zebedee/INBOX' | grep -q zebedeeword" 5

# ---- bytes on the wire ----------------------------------------------------------------
b0=$(proxy bytes)
for f in "${FOLDERS[@]}"; do ls "$S/TEXT money/$f" > /dev/null; done
b1=$(proxy bytes)
check "a search in every folder transfers no bodies ($((b1 - b0)) bytes on the wire)" \
	test $((b1 - b0)) -lt 20000

# ---- a connection cut during a search -------------------------------------------------
# The proxy resets the connection as soon as mailfs sends UID SEARCH: the
# listing fails with an I/O error (never a partial or empty list taken for
# the answer), the mount stays up, and the next listing, on a new
# connection, is the server's answer.
cuts=$(proxy cuts)
proxy cut 0 rst on "UID SEARCH" > /dev/null
out=$(ls "$S/LARGER 9000/Spam" 2>&1)
check "a search whose connection is cut fails with an I/O error" \
	grep -q 'Input/output error' <<< "$out"
check "…the proxy did cut" test "$(proxy cuts)" -gt "$cuts"
proxy pass > /dev/null
ic search Spam "LARGER 9000" > "$T/server"
listed_uids "$S/LARGER 9000/Spam" > "$T/mount"
check "…and the next listing is the server's answer ($(wc -l < "$T/server") messages)" \
	test -s "$T/server" -a "$(cat "$T/server")" = "$(cat "$T/mount")"

# ---- hostile names ------------------------------------------------------------------
bad_query() {   # bad_query NAME WHY
	local out
	out=$(ls "$S/$1/INBOX" 2>&1)
	check "$2: EINVAL" grep -q 'Invalid argument' <<< "$out"
}
sent_before=$(grep -c 'UID SEARCH' "$LOG")
check "the -d trace shows the searches sent so far ($sent_before)" test "$sent_before" -gt 0
bad_query "(FROM a" "unbalanced parenthesis"
bad_query "FROM a)" "a closing parenthesis too many"
bad_query "FRUM a" "an unknown key"
bad_query "$(printf 'ALL\r\nX1 DELETE Victim\r\nX2 NOOP')" "CR LF and a second command"
bad_query "$(printf 'TEXT a\tb')" "a control character"
bad_query "TEXT {100}" "a literal whose size lies"
bad_query "$(printf 'TEXT \xff\xfe')" "invalid UTF-8"
bad_query "SINCE 30-Feb-2024" "a date that does not exist"
bad_query "LARGER 99999999999999999999" "a number too large"
bad_query "1:5" "a sequence set"
check "nothing was sent for them" test "$(grep -c 'UID SEARCH' "$LOG")" -eq "$sent_before"
check "the folder Victim is still on the server" grep -qx Victim <(ic folders)
check "X-GM-RAW is refused by a server without X-GM-EXT-1" \
	fails_with 'Invalid argument' ls "$S/X-GM-RAW \"has:attachment\"/INBOX"
# A query is made by naming it: its directory is always there already.
check "mkdir of a query in .mailfs/search: it exists" fails_with 'File exists' mkdir "$S/FROM me"
check "mkdir -p of one succeeds" mkdir -p "$S/FROM me"
check "mkdir inside a search: read-only" fails_with 'Read-only file system' mkdir "$S/ALL/INBOX/x"
check "nothing can be created in a search" fails_with "Read-only file system" cp "$T/new.eml" "$S/ALL/INBOX/"
unmount_mailfs "$MNT"

# ---- POP3: the same queries over the cache --------------------------------------------
# The server's INBOX by Message-ID, to compare what a POP3 mount lists
# (its names are its own) with what the server's UID SEARCH finds.
ic dump INBOX "$T/inbox" > /dev/null || fail "dump INBOX"
msgid() { "$PY" -c 'import email, sys
for p in sys.stdin.read().splitlines():
    m = email.message_from_binary_file(open(p, "rb"))
    print((m.get("Message-ID") or "none").strip())'; }
PMNT="$T/pmnt"
mount_mailfs "$PMNT" "pop3s://$USER_NAME@localhost:$POP3S_PORT" -o "cafile=$T/dovecot/ca.pem" \
	|| { fail "POP3 mount"; finish; }
NI=$(ls "$T/inbox"/*.eml | wc -l)
check "the POP3 mount downloaded INBOX ($NI messages)" \
	wait_for "test \$(ls '$PMNT/INBOX' | wc -l) -eq $NI" 60
PS="$PMNT/.mailfs/search"
# Header keys, sizes and the Date header: the same messages exactly.
# SINCE/BEFORE are left out: over POP3 there is no INTERNALDATE (the
# mount takes the Date header), so they legitimately differ.
for q in "FROM yahoo" "SUBJECT razor" "OR SUBJECT razor FROM yahoo" "NOT FROM yahoo" \
         "HEADER X-Mailer Outlook" "SENTSINCE 1-Oct-2002 SENTBEFORE 1-Jan-2003" ALL \
         "LARGER 5000" "SMALLER 3000"; do
	ic search INBOX "$q" | sed "s|.*|$T/inbox/&.eml|" > "$T/files"
	msgid < "$T/files" | sort > "$T/server"
	(cd "$PS/$q/INBOX" && ls | sed "s|^|$PS/$q/INBOX/|") > "$T/files"
	msgid < "$T/files" | sort > "$T/mount"
	check "POP3 '$q': the messages the server finds ($(wc -l < "$T/server")), by Message-ID" \
		cmp -s "$T/server" "$T/mount"
done
# Words in the text: the mount searches the decoded text (HTML as its
# visible text), Dovecot its own decoding of the parts (HTML with its
# tags): they may legitimately differ on a message with HTML. Every
# difference must be such a message.
for w in Linux money razor; do
	ic search INBOX "BODY $w" | sed "s|.*|$T/inbox/&.eml|" > "$T/files"
	msgid < "$T/files" | sort > "$T/server"
	(cd "$PS/BODY $w/INBOX" && ls | sed "s|^|$PS/BODY $w/INBOX/|") > "$T/files"
	msgid < "$T/files" | sort > "$T/mount"
	comm -3 "$T/server" "$T/mount" | tr -d '\t' > "$T/diff"
	unexplained=0
	while read -r id; do
		f=$(grep -lF -- "$id" "$T"/inbox/*.eml | head -1)
		grep -qi 'content-type: *text/html' "$f" || unexplained=$((unexplained + 1))
	done < "$T/diff"
	check "POP3 'BODY $w': $(wc -l < "$T/mount") found, the server $(wc -l < "$T/server"); $(wc -l < "$T/diff") differ, each with HTML ($unexplained without)" \
		test "$unexplained" -eq 0 -a -s "$T/server"
done
check "POP3: a flag key is refused (no server to ask)" fails_with 'Invalid argument' ls "$PS/UNSEEN/INBOX"
finish

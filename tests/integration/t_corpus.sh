#!/usr/bin/env bash
# Issue 2: real-world mail. The SpamAssassin public corpus (about 6,000
# messages with every oddity real mail has) mounted read-only: the tree
# matches LIST, every file equals BODY[] of its UID, sizes and dates are
# exact, and grep -rl finds exactly the messages that contain a word; and
# (issue 13) the text view of each message holds the words of its text.
. "$(dirname "$0")/lib.sh"
setup
dovecot_start @corpus

MNT="$T/mnt"
mount_mailfs "$MNT" "imaps://$USER_NAME@localhost:$IMAPS_PORT" -o "cafile=$T/dovecot/ca.pem" \
	|| { fail "mount"; finish; }

check "corpus mount equals the server, message by message" ic verify "$MNT"

for word in Linux viagra Razor; do
	ic grep "$word" | while IFS=$'\t' read -r folder uid; do
		printf '%s/%010d\n' "$folder" "$uid"
	done | sort > "$T/server-$word"
	(cd "$MNT" && grep -rl --binary-files=text -F "$word" . | grep -v '^\./\.mailfs-status$' |
		sed 's|^\./||; s|^\(.*/[0-9]\{10\}\).*|\1|' | sort) > "$T/mount-$word"
	check "grep -rl $word: $(wc -l < "$T/server-$word") messages, same as the server" \
		cmp -s "$T/server-$word" "$T/mount-$word"
done

# Issue 13: every message has its text, and no word of a text/plain part is
# missing from it (Python's email package reads the .eml independently).
"$PY" "$TOP/tests/integration/views_mail.py" corpus "$MNT" > "$T/corpus-text" 2>&1
ok=$?
check "every .eml has its .txt with every word of its text/plain parts: $(tail -1 "$T/corpus-text")" \
	test "$ok" -eq 0
[ "$ok" -eq 0 ] || head -20 "$T/corpus-text"
finish

#!/usr/bin/env bash
# Issue 3: changes another client makes on the server (new mail, expunge,
# flags, folders created and deleted, a folder recreated with a new
# UIDVALIDITY) appear in the mount without a remount, within the poll
# interval; INBOX through IDLE.
#
# LEGACY=1 (t_changes_legacy.sh): the same against a server that offers none
# of UIDPLUS, MOVE, CONDSTORE, QRESYNC, and the rows of SPEC §2 that depend
# on them.
. "$(dirname "$0")/lib.sh"
setup
if [ -n "${LEGACY:-}" ]; then
	IMAP_CAPABILITY="IMAP4rev1 SASL-IR LITERAL+ IDLE NAMESPACE UNSELECT CHILDREN ENABLE"
	TEST_NAME=t_changes_legacy
fi
dovecot_start --profile demo --seed 5

POLL=2
MNT="$T/mnt"
# (LEGACY: with -d, whose trace shows which commands were sent.)
mount_mailfs "$MNT" "imaps://$USER_NAME@localhost:$IMAPS_PORT" -o "cafile=$T/dovecot/ca.pem,poll=$POLL" \
	${LEGACY:+-d} || { fail "mount"; finish; }
LOG="$T/mailfs-0.log"
WAIT=$((POLL * 3 + 2))
mk() {
	printf 'From: other@example.org\r\nSubject: %s\r\nMessage-ID: <%s@other>\r\n\r\nhello\r\n' "$1" "$1" > "$T/$1.eml"
}

# Look at folders first, so the kernel caches their listings.
ls "$MNT/INBOX" "$MNT/Archive" "$MNT/Sent" > /dev/null

mk new-inbox; ic append INBOX "$T/new-inbox.eml" > /dev/null
check "new mail in INBOX appears" wait_for "ls '$MNT/INBOX' | grep -q new-inbox" $WAIT
mk new-archive; ic append Archive "$T/new-archive.eml" > /dev/null
check "new mail in Archive appears" wait_for "ls '$MNT/Archive' | grep -q new-archive" $WAIT

uid=$(ic uids INBOX | head -1); f=$(ls -d "$MNT"/INBOX/"$(printf %010d "$uid")"*)
ic expunge INBOX "$uid"
check "a message expunged elsewhere disappears from INBOX" wait_for "! ls '$MNT/INBOX' | grep -q '^$(printf %010d "$uid")'" $WAIT
check "…and its file is gone" wait_for "! test -e '$f'" $WAIT
uid=$(ic uids Sent | head -1)
ic expunge Sent "$uid"
check "a message expunged elsewhere disappears from Sent" wait_for "! ls '$MNT/Sent' | grep -q '^$(printf %010d "$uid")'" $WAIT

uid=$(ic uids Archive | head -1); f=$(ls -d "$MNT"/Archive/"$(printf %010d "$uid")"*)
ic store Archive "$uid" '\Answered' 'Label7' > /dev/null
check "flags changed elsewhere show in getfattr" wait_for \
	"test \"\$(getfattr --absolute-names --only-values -n user.mail.flags '$f' | words)\" = 'Label7 \\Answered'" $WAIT

ic create "Brand new" > /dev/null
check "a folder created elsewhere appears" wait_for "test -d '$MNT/Brand new'" $WAIT
ic delete "Brand new" > /dev/null
check "a folder deleted elsewhere disappears" wait_for "! test -d '$MNT/Brand new'" $WAIT

# A folder deleted and recreated with other content: new UIDVALIDITY. The
# mount must never serve the old messages under the new folder, and must
# delete nothing on the server because of it.
ls -l "$MNT/Drafts" > /dev/null
cat "$MNT"/Drafts/* > /dev/null        # bodies in the cache
ic delete Drafts > /dev/null; ic create Drafts > /dev/null
mk recreated-1; mk recreated-2
ic append Drafts "$T/recreated-1.eml" > /dev/null; ic append Drafts "$T/recreated-2.eml" > /dev/null
check "a recreated folder shows only its new messages" wait_for \
	"test \"\$(ls '$MNT/Drafts' | wc -l)\" -eq 2 && ls '$MNT/Drafts' | grep -q recreated-1" $WAIT
check "recreated folder: every byte is the new server's" ic verify "$MNT" --folder Drafts
check "the server still has both new messages" test "$(ic count Drafts)" -eq 2

if [ -n "${LEGACY:-}" ]; then
	# Without UIDPLUS, rm must not take another client's \Deleted message.
	uids=($(ic uids INBOX)); victim=${uids[1]}; bystander=${uids[2]}
	ic mark-deleted INBOX "$bystander"
	f=$(ls -d "$MNT"/INBOX/"$(printf %010d "$victim")"*)
	check "no UIDPLUS, another message \\Deleted: rm is refused" fails_with "Operation not permitted" rm "$f"
	check "…both messages are still on the server" bash -c "test \$($PY $IMAPCHECK --host 127.0.0.1 --port $IMAP_PORT --user $USER_NAME --password '$PASSWORD' count INBOX) -eq ${#uids[@]}"
	ic store INBOX "$bystander" --remove '\Deleted' > /dev/null
	check "no UIDPLUS, nothing else \\Deleted: rm works" rm "$f"
	check "…exactly that message is gone" lacks_line "$victim" ic uids INBOX
	check "…the other one stayed" has_line "$bystander" ic uids INBOX
	# Without MOVE: COPY, then the exact delete.
	uid=${uids[3]}; f=$(ls -d "$MNT"/INBOX/"$(printf %010d "$uid")"*)
	mid=$(getfattr --absolute-names --only-values -n user.mail.message_id "$f")
	check "no MOVE: mv to another folder works" mv "$f" "$MNT/Sent/"
	check "…the message is in Sent once" test "$(ic has-message-id Sent "$mid" | wc -l)" -eq 1
	check "…and no longer in INBOX" lacks_line "$uid" ic uids INBOX
	# Dovecot accepts MOVE and UID EXPUNGE even when it does not advertise
	# them: only the trace tells that mailfs did not send them. (It shows
	# a command as "C: <tag> ", then "C: <the rest>".)
	cmd='C: (m[0-9]+ )?'
	check "the -d trace shows the commands sent (UID COPY, EXPUNGE)" \
		bash -c "grep -qE '${cmd}UID COPY ' '$LOG' && grep -qE '${cmd}EXPUNGE' '$LOG'"
	check "no MOVE was sent to a server without MOVE" no_match -E "${cmd}(UID )?MOVE " "$LOG"
	check "no UID EXPUNGE was sent to a server without UIDPLUS" no_match -E "${cmd}UID EXPUNGE" "$LOG"
fi

# Changes made elsewhere (the flag removed above, for one) reach the mount
# within the poll interval: give it that long before the final comparison.
end=$((SECONDS + WAIT))
until ic verify "$MNT" > /dev/null 2>&1 || [ $SECONDS -ge $end ]; do sleep 1; done
check "in the end the mount equals the server" ic verify "$MNT"
finish

#!/usr/bin/env bash
# Issue 15: live in every folder. Three servers, one after the other:
#  1. with NOTIFY (RFC 5465; Dovecot offers it with its mailbox list index):
#     changes another client makes in folders other than INBOX show up with
#     `poll` at an hour, so only NOTIFY can have brought them;
#  2. without NOTIFY and without LIST-STATUS: a poll round sends LIST and one
#     STATUS per folder looked at, all before reading any reply (one round
#     trip, seen in the -d trace), and SELECTs nothing when nothing changed;
#  3. without NOTIFY, with LIST-STATUS (RFC 5819): the LIST alone asks.
. "$(dirname "$0")/lib.sh"
setup
dovecot_start --profile demo --seed 5
mk() {
	printf 'From: other@example.org\r\nSubject: %s\r\nMessage-ID: <%s@other>\r\n\r\nhello\r\n' \
		"$1" "$1" > "$T/$1.eml"
}
status() { cat "$MNT/.mailfs-status"; }
# The -d trace from line FROM on.
trace_from() { tail -n +"$1" "$LOG"; }

# ---- 1. NOTIFY ----------------------------------------------------------------
MNT="$T/mnt"
mount_mailfs "$MNT" "imaps://$USER_NAME@localhost:$IMAPS_PORT" -o "cafile=$T/dovecot/ca.pem,poll=1h" ||
	{ fail "mount"; finish; }
ls "$MNT/Archive" "$MNT/Sent" > /dev/null
check "the status file says every folder is watched with NOTIFY" wait_for \
	"status | grep -qx 'changes: every folder watched with NOTIFY and IDLE'" 10
mk live-1; ic append Archive "$T/live-1.eml" > /dev/null
check "new mail in Archive appears without a poll" wait_for "ls '$MNT/Archive' | grep -q live-1" 5
uid=$(ic uids Archive | head -1); f=$(ls -d "$MNT"/Archive/"$(printf %010d "$uid")"*)
ic store Archive "$uid" '\Flagged' > /dev/null
check "a flag changed elsewhere in Archive shows" wait_for \
	"getfattr --absolute-names --only-values -n user.mail.flags '$f' | grep -q Flagged" 5
uid=$(ic uids Sent | head -1)
ic expunge Sent "$uid"
check "a message expunged elsewhere leaves Sent" wait_for \
	"! ls '$MNT/Sent' | grep -q '^$(printf %010d "$uid")'" 5
ic create "Made elsewhere" > /dev/null
check "a folder created elsewhere appears" wait_for "test -d '$MNT/Made elsewhere'" 5
# (A folder deleted elsewhere is not checked here: Dovecot 2.3.19 holds
# that notification back until its next one, so it is the poll round that
# removes it, as t_changes checks.)
check "…and nothing of it was polled: no poll round ran" \
	quiet grep -x 'poll: every 3600 s; last round: none yet' <(status)
check "the mount equals the server" ic verify "$MNT"
unmount_mailfs "$MNT"
dovecot_stop

# ---- 2. no NOTIFY, no LIST-STATUS: LIST and STATUS pipelined ------------------
IMAP_CAPABILITY="IMAP4rev1 SASL-IR LITERAL+ ENABLE IDLE UNSELECT CHILDREN NAMESPACE UIDPLUS"
IMAP_CAPABILITY+=" LIST-EXTENDED CONDSTORE QRESYNC ESEARCH MOVE"
dovecot_start
MNT="$T/mnt2"
mount_mailfs "$MNT" "imaps://$USER_NAME@localhost:$IMAPS_PORT" -o "cafile=$T/dovecot/ca.pem,poll=2" -d ||
	{ fail "mount"; finish; }
LOG="$T/mailfs-1.log"
ls "$MNT/Archive" "$MNT/Sent" "$MNT/Drafts" > /dev/null
check "the status file says INBOX is watched, the rest polled" not grep -q NOTIFY <(status)
# Two rounds with nothing changed: the second is measured.
wait_for "status | grep -q 'last round: 3 folders asked'" 8
from=$(wc -l < "$LOG")
wait_for "test \$(trace_from $from | grep -c 'C: m[0-9]* LIST ') -ge 2" 8
round=$(trace_from "$from" | awk '/C: m[0-9]+ LIST /{n++} n==1')
check "a poll round asks STATUS of the three folders looked at" \
	test "$(grep -c 'C: m[0-9]* STATUS "\(Archive\|Sent\|Drafts\)" (MESSAGES UIDNEXT UIDVALIDITY HIGHESTMODSEQ)' <<<"$round")" -eq 3
check "…all sent before the first reply is read (one round trip)" \
	test "$(awk '/ S: /{exit} /C: m[0-9]+ STATUS/{n++} END{print n+0}' <<<"$round")" -eq 3
check "…and nothing is selected when nothing changed" not grep -q 'SELECT' <<<"$round"
check "the status file counts one round trip and no sync" quiet grep -E \
	'^poll: every 2 s; last round: 3 folders asked in 1 round trip, 0 synced' <(status)
mk poll-1; ic append Drafts "$T/poll-1.eml" > /dev/null
check "new mail in Drafts appears within the poll interval" \
	wait_for "ls '$MNT/Drafts' | grep -q poll-1" 4
check "the mount equals the server" ic verify "$MNT"
unmount_mailfs "$MNT"
dovecot_stop

# ---- 3. LIST-STATUS -----------------------------------------------------------
IMAP_CAPABILITY+=" LIST-STATUS"
dovecot_start
MNT="$T/mnt3"
mount_mailfs "$MNT" "imaps://$USER_NAME@localhost:$IMAPS_PORT" -o "cafile=$T/dovecot/ca.pem,poll=2" -d ||
	{ fail "mount"; finish; }
LOG="$T/mailfs-2.log"
ls "$MNT/Archive" "$MNT/Sent" > /dev/null
from=$(wc -l < "$LOG")
check "a poll round is one LIST ... RETURN (STATUS ...)" wait_for \
	"trace_from $from | grep -q 'C: m[0-9]* LIST \"\" \"\\*\" RETURN (STATUS (MESSAGES UIDNEXT UIDVALIDITY HIGHESTMODSEQ))'" 8
check "…with no STATUS command" not grep -q 'C: m[0-9]* STATUS' <(trace_from "$from")
wait_for "status | grep -q 'last round: 2 folders asked in 1 round trip, 0 synced'" 8
check "the status file counts one round trip and no sync" quiet grep -E \
	'last round: 2 folders asked in 1 round trip, 0 synced' <(status)
mk poll-2; ic append Sent "$T/poll-2.eml" > /dev/null
check "new mail in Sent appears within the poll interval" wait_for "ls '$MNT/Sent' | grep -q poll-2" 4
finish

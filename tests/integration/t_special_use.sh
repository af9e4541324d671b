#!/usr/bin/env bash
# Issue 15: SPECIAL-USE (RFC 6154). A folder's role, as the server lists it,
# is the directory's user.mail.special_use and shows in .mailfs-status;
# trash=\Trash picks the folder with that role whatever its (localized)
# name. The private Dovecot gives the roles to French-named folders.
. "$(dirname "$0")/lib.sh"
setup
DOVECOT_EXTRA='namespace inbox {
  mailbox Corbeille {
    special_use = \Trash
    auto = create
  }
  mailbox "Envoyés" {
    special_use = \Sent
    auto = create
  }
  mailbox Indésirables {
    special_use = \Junk
    auto = create
  }
}'
dovecot_start --profile test --count 5

MNT="$T/mnt"
# (libfuse takes a backslash in an -o value as an escape: the shell's
# "\\\\Trash" is -o's \\Trash is the value \Trash.)
mount_mailfs "$MNT" "imaps://$USER_NAME@localhost:$IMAPS_PORT" \
	-o "cafile=$T/dovecot/ca.pem,trash=\\\\Trash" || { fail "mount"; finish; }

role() { getfattr --absolute-names --only-values -n user.mail.special_use "$1" 2>/dev/null; }
check "Corbeille is the trash: user.mail.special_use = \\Trash" test "$(role "$MNT/Corbeille")" = '\Trash'
check "Envoyés is \\Sent" test "$(role "$MNT/Envoyés")" = '\Sent'
check "Indésirables is \\Junk" test "$(role "$MNT/Indésirables")" = '\Junk'
check "INBOX has no role" fails_with 'No such attribute' \
	getfattr --absolute-names -n user.mail.special_use "$MNT/INBOX"
check "listxattr of Corbeille names it" \
	grep -q '^user.mail.special_use' <(getfattr --absolute-names -d "$MNT/Corbeille")
check "listxattr of INBOX names nothing" test -z "$(getfattr --absolute-names -d "$MNT/INBOX")"
check ".mailfs-status says Corbeille's role" \
	grep -q '^  Corbeille .*special use: \\Trash' "$MNT/.mailfs-status"

# trash=\Trash: rm moves to Corbeille, whatever the folder is called.
n_in=$(ic count INBOX); n_tr=$(ic count Corbeille)
f=$(ls "$MNT/INBOX" | head -1)
check "rm of an INBOX message works" rm "$MNT/INBOX/$f"
check "…and moved it to Corbeille on the server ($n_tr → $((n_tr + 1)))" \
	test "$(ic count Corbeille)" -eq $((n_tr + 1))
check "…and out of INBOX ($n_in → $((n_in - 1)))" test "$(ic count INBOX)" -eq $((n_in - 1))
t=$(ls "$MNT/Corbeille" | head -1)
check "rm inside the trash deletes for good" rm "$MNT/Corbeille/$t"
check "…on the server" test "$(ic count Corbeille)" -eq "$n_tr"
unmount_mailfs "$MNT"

# A role name that is none is refused at start, with one line.
# (timeout: a mount that wrongly comes up in the foreground must not hang the test)
out=$(timeout 20 "$MAILFS" -f "imaps://$USER_NAME@localhost:$IMAPS_PORT" "$MNT" \
	-o "cafile=$T/dovecot/ca.pem,password_file=$T/pw,cache_dir=$T/c2,trash=\\\\Bin" 2>&1)
rc=$?
check "trash=\\Bin is refused (exit $rc)" test "$rc" -ne 0
check "…saying why: $out" grep -q 'trash=\\Bin: not a special use' <<< "$out"
check "…and nothing is mounted" not is_mounted "$MNT"
finish

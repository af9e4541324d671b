#!/usr/bin/env bash
# Issue 3: every row of SPEC §2 "Operations (IMAP)" through the mount with
# ordinary commands, checked on the server with an independent client.
. "$(dirname "$0")/lib.sh"
setup
dovecot_start --profile demo --seed 11

MNT="$T/mnt"
mount_mailfs "$MNT" "imaps://$USER_NAME@localhost:$IMAPS_PORT" -o "cafile=$T/dovecot/ca.pem,poll=2" \
	|| { fail "mount"; finish; }

msgfile() { ls -d "$MNT/$1/$(printf %010d "$2")"* 2>/dev/null | head -1; }
msgid_of() { getfattr --absolute-names --only-values -n user.mail.message_id "$1" 2>/dev/null; }
errno_of() { "$@" 2>&1 >/dev/null | sed 's/.*: //' | tail -1; }

# --- rm: exactly that message, by UID EXPUNGE -------------------------------
uids=($(ic uids INBOX))
victim=${uids[2]}; bystander=${uids[3]}
ic mark-deleted INBOX "$bystander"   # another client marked it \Deleted
before=$(ic count INBOX)
f=$(msgfile INBOX "$victim")
check "rm of a message succeeds" rm "$f"
check "rm: the message is gone from the server" lacks_line "$victim" ic uids INBOX
check "rm: the server lost exactly one message" test "$(ic count INBOX)" -eq $((before - 1))
check "rm: another client's \\Deleted message is still there" has_line "$bystander" ic uids INBOX
check "rm: the file is gone from the listing" test -z "$(msgfile INBOX "$victim")"
ic store INBOX "$bystander" --remove '\Deleted' >/dev/null

# --- mv to another folder: MOVE ------------------------------------------------
uid=${uids[5]}
f=$(msgfile INBOX "$uid"); mid=$(msgid_of "$f")
check "the message to move has a Message-ID" test -n "$mid"
abefore=$(ic count Archive)
check "mv INBOX/x Archive/ succeeds" mv "$f" "$MNT/Archive/"
check "mv: gone from INBOX on the server" lacks_line "$uid" ic uids INBOX
check "mv: in Archive on the server, once" test "$(ic has-message-id Archive "$mid" | wc -l)" -eq 1
check "mv: Archive has one more message" test "$(ic count Archive)" -eq $((abefore + 1))
n=$(ls "$MNT/Archive" | grep -cF -- "$(basename "$f" | cut -c12-)")
check "mv: one file in ls Archive for it ($n)" test "$n" -eq 1
check "mv: the mount equals the server (Archive, INBOX)" ic verify "$MNT" --folder Archive --folder INBOX

# --- rename inside a directory: EPERM ------------------------------------------
f=$(msgfile INBOX "${uids[6]}")
check "mv inside a folder is refused" test "$(errno_of mv "$f" "$MNT/INBOX/renamed.eml")" = "Operation not permitted"
check "…and the message kept its name" test -e "$f"

# --- writing to a message: EPERM ---------------------------------------------------
check "writing to a message is refused" fails_with "Operation not permitted" \
	dd if=/dev/zero of="$f" bs=1 count=1 conv=notrunc oflag=append status=none
check "truncating a message is refused" fails_with "Operation not permitted" truncate -s 0 "$f"
check "chmod of a message is refused" fails_with "Operation not permitted" chmod 644 "$f"
check "chown of a message is refused" fails_with "Operation not permitted" chown 1:1 "$f"
check "touch (utimensat) of a message is accepted" touch "$f"
check "ln is refused" fails_with "Operation not permitted" ln "$f" "$MNT/INBOX/hard"
check "ln -s is refused" fails_with "Operation not permitted" ln -s x "$MNT/INBOX/sym"
check "mkfifo is refused" fails_with "Operation not permitted" mkfifo "$MNT/INBOX/fifo"

# --- cp in: APPEND -----------------------------------------------------------------
mk() {  # mk FILE SUBJECT: a small message with a unique Message-ID
	printf 'From: t@example.org\nTo: alice@example.org\nSubject: %s\nMessage-ID: <%s@t>\nDate: Mon, 1 Jan 2024 10:00:00 +0000\n\nbody of %s\n' \
		"$2" "$2" "$2" > "$1"
}
mk "$T/cp1.eml" cp-plain
sbefore=$(ic count Sent)
check "cp msg.eml MOUNT/Sent/ succeeds" cp "$T/cp1.eml" "$MNT/Sent/"
check "cp: one message on the server" test "$(ic has-message-id Sent '<cp-plain@t>' | wc -l)" -eq 1
check "cp: Sent has one more message" test "$(ic count Sent)" -eq $((sbefore + 1))
check "cp: ls shows it under its derived name, once" test "$(ls "$MNT/Sent" | grep -c 'cp-plain')" -eq 1
check "cp: the created name still resolves" test -e "$MNT/Sent/cp1.eml"
check "cp: the created name is not listed" lacks_line cp1.eml ls "$MNT/Sent"
uid=$(ic has-message-id Sent '<cp-plain@t>')
ic fetch Sent "$uid" > "$T/cp1.server"
check "cp: bare LFs became CRLF on the server" cmp -s "$T/cp1.server" <(sed 's/$/\r/' "$T/cp1.eml")

mk "$T/cp2.eml" cp-p; touch -d '2021-05-06 07:08:09 UTC' "$T/cp2.eml"
check "cp -p succeeds" cp -p "$T/cp2.eml" "$MNT/Sent/"
uid=$(ic has-message-id Sent '<cp-p@t>')
check "cp -p: one message" test "$(echo "$uid" | wc -w)" -eq 1
mkdir -p "$T/dump"; ic dump Sent "$T/dump" >/dev/null
check "cp -p: INTERNALDATE is the file's mtime" \
	grep -q '"internaldate": 1620284889' "$T/dump/$uid.meta"

mkdir -p "$T/rs"
for i in 1 2 3; do mk "$T/rs/r$i.eml" "rsync-$i"; done
check "rsync -a dir/ MOUNT/Drafts/ succeeds without errors" rsync -a "$T/rs/" "$MNT/Drafts/"
for i in 1 2 3; do
	check "rsync: rsync-$i is on the server once" test "$(ic has-message-id Drafts "<rsync-$i@t>" | wc -l)" -eq 1
done
check "rsync: ls shows three new files, no temporary names" \
	test "$(ls -a "$MNT/Drafts" | grep -c -e rsync- -e '^\.r')" -eq 3

if command -v gio >/dev/null; then
	mk "$T/gio.eml" gio-copy
	check "gio copy (a file manager's copy) succeeds" gio copy "$T/gio.eml" "$MNT/Drafts/"
	check "gio copy: one message" test "$(ic has-message-id Drafts '<gio-copy@t>' | wc -l)" -eq 1
	f=$(ls -d "$MNT"/Drafts/*gio-copy* | head -1)
	check "gio move (drag and drop between folders) succeeds" gio move "$f" "$MNT/Archive/"
	check "gio move: in Archive on the server" test -n "$(ic has-message-id Archive '<gio-copy@t>')"
	check "gio move: gone from Drafts" test -z "$(ic has-message-id Drafts '<gio-copy@t>')"
	check "gio remove (delete in a file manager) succeeds" gio remove "$(ls -d "$MNT"/Archive/*gio-copy* | head -1)"
	check "gio remove: gone on the server" test -z "$(ic has-message-id Archive '<gio-copy@t>')"
else
	say "SKIP: gio not installed: file manager copy/move not tested"
fi

# An empty file is not a message.
dbefore=$(ic count Drafts)
check "touch of a new file in a folder is accepted" touch "$MNT/Drafts/empty.eml"
check "…and appends nothing ($dbefore messages in Drafts)" test "$(ic count Drafts)" -eq "$dbefore"

# Copying a message out and back in: a second copy.
uid=$(ic uids Archive | head -1); f=$(msgfile Archive "$uid"); mid=$(msgid_of "$f")
jbefore=$(ic count Junk)
check "cp within the mount (to another folder) succeeds" cp "$f" "$MNT/Junk/"
check "…Junk has one more message on the server" test "$(ic count Junk)" -eq $((jbefore + 1))
check "…the original stays in Archive" has_line "$uid" ic uids Archive
juid=$(ic has-message-id Junk "$mid")
check "…once, found by its Message-ID ($mid)" test -n "$mid" -a "$(echo "$juid" | wc -w)" -eq 1
ic fetch Archive "$uid" > "$T/orig.eml"; ic fetch Junk "${juid:-0}" > "$T/copy.eml"
check "…byte for byte" bash -c 'test -s "$1" && cmp -s "$1" "$2"' _ "$T/orig.eml" "$T/copy.eml"

# --- flags: setxattr ----------------------------------------------------------------
uid=$(ic uids INBOX | sed -n 8p); f=$(msgfile INBOX "$uid")
check "setfattr user.mail.flags succeeds" setfattr -n user.mail.flags -v '\Flagged $Important' "$f"
check "flags on the server" test "$(ic flags INBOX "$uid" | words)" = '$Important \Flagged'
check "getfattr shows them" test "$(getfattr --absolute-names --only-values -n user.mail.flags "$f" | words)" = '$Important \Flagged'
check "invalid flags are refused" fails_with "Invalid argument" setfattr -n user.mail.flags -v '(bad' "$f"
check "other user.* attributes are refused" fails_with "Operation not permitted" setfattr -n user.other -v x "$f"

# --- folders ------------------------------------------------------------------------------
check "mkdir creates a folder" mkdir "$MNT/Projects"
check "mkdir: on the server" has_line Projects ic folders
check "mkdir of a nested, non-ASCII folder" mkdir "$MNT/Projects/Été 2025"
check "mkdir: nested on the server" has_line "Projects/Été 2025" ic folders
check "mkdir of an existing folder: EEXIST" test "$(errno_of mkdir "$MNT/Projects")" = "File exists"
mk "$T/inproj.eml" in-projects
cp "$T/inproj.eml" "$MNT/Projects/Été 2025/"
check "rmdir of a non-empty folder: ENOTEMPTY" \
	test "$(errno_of rmdir "$MNT/Projects/Été 2025")" = "Directory not empty"
check "…and its message is still on the server" test "$(ic count 'Projects/Été 2025')" -eq 1
check "rmdir of a folder with subfolders: ENOTEMPTY" test "$(errno_of rmdir "$MNT/Projects")" = "Directory not empty"
rm "$MNT/Projects/Été 2025"/*
check "rmdir of an empty folder" rmdir "$MNT/Projects/Été 2025"
check "rmdir: gone on the server" lacks_line "Projects/Été 2025" ic folders --all
check "rmdir INBOX: EPERM" test "$(errno_of rmdir "$MNT/INBOX")" = "Operation not permitted"
check "mv of a folder renames it" mv "$MNT/Projects" "$MNT/Projekte"
check "rename: the new name on the server" has_line Projekte ic folders
check "rename: the old name is gone" lacks_line Projects ic folders
check "mv of INBOX: EPERM" test "$(errno_of mv "$MNT/INBOX" "$MNT/Inbox2")" = "Operation not permitted"
check "chmod of a directory is accepted" chmod 755 "$MNT/Projekte"
check "files at the top are refused" fails_with "Operation not permitted" cp "$T/cp1.eml" "$MNT/"

# --- errors from the server reach close() -----------------------------------------------------
# (quota and size limits: see t_write_errors.sh)

check "the whole mount equals the server" ic verify "$MNT"
finish

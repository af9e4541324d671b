#!/usr/bin/env bash
# Issue 7: a file manager. Midnight Commander in tmux: enter INBOX, view a
# message (F3), move one to another folder (F6), delete one (F8); the server
# side is checked with an independent client.
. "$(dirname "$0")/lib.sh"
setup
command -v mc >/dev/null || skip "mc not installed (package mc)"
command -v tmux >/dev/null || skip "tmux not installed"
dovecot_start --profile demo --seed 59
MNT="$T/mnt"
mount_mailfs "$MNT" "imaps://$USER_NAME@localhost:$IMAPS_PORT" -o "cafile=$T/dovecot/ca.pem" \
	|| { fail "mount"; finish; }
mkdir -p "$T/mchome"
TM=(tmux -L "mailfs-$$")
screen() { "${TM[@]}" capture-pane -p -t mc; }
keys() { "${TM[@]}" send-keys -t mc "$@"; }
shows() { wait_for "screen | grep -qF -- \"$1\"" 10; }
no_error() { local s; s=$(screen) || return 2; ! grep -qiE 'cannot|error' <<<"$s"; }
trap '"${TM[@]}" kill-server 2>/dev/null; cleanup' EXIT

uids=($(ic uids INBOX))
first=$(ic fetch INBOX "${uids[0]}" | grep -m1 -i '^Message-ID:' | tr -d '\r' | cut -d' ' -f2)
subject=$(ic fetch INBOX "${uids[0]}" | grep -m1 '^Subject:' | tr -d '\r' | cut -d' ' -f2-)
abefore=$(ic count Archive)

"${TM[@]}" new-session -d -s mc -x 200 -y 50 \
	"env HOME=$T/mchome TERM=xterm LANG=C.UTF-8 mc --nosubshell -b '$MNT' '$MNT/Archive'"
check "mc starts on the mount" shows "/INBOX"
# The folders in the left panel: .., Archive, Données, Drafts, INBOX.
keys Down Down Down Down Enter
check "Enter goes into INBOX" shows "$MNT/INBOX"
keys Down
keys F3
check "…its header in the viewer" shows "Subject: $subject"
keys q
check "…and q leaves the viewer" shows "8Delete"

keys F6
check "F6 asks where to move it" shows "Move file"
keys Enter
check "F6 moves it: the message is in Archive on the server" \
	wait_for "test -n \"\$(ic has-message-id Archive '$first')\"" 10
check "…and no longer in INBOX" test -z "$(ic has-message-id INBOX "$first")"
check "…once" test "$(ic count Archive)" -eq $((abefore + 1))
check "…and mc reported no error" no_error

victim=${uids[1]}
keys F8
check "F8 asks to delete" shows "Delete file"
keys Enter
check "F8 deletes it on the server" wait_for "! ic uids INBOX | grep -qx $victim" 10
check "…only it" test "$(ic count INBOX)" -eq $(( ${#uids[@]} - 2 ))
check "…and mc reported no error" no_error
keys F10
sleep 0.5
"${TM[@]}" kill-server 2>/dev/null
check "the mount equals the server" ic verify "$MNT" --folder INBOX --folder Archive
finish

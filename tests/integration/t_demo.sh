#!/usr/bin/env bash
# Issue 2: `make demo` mounts a demo account on a private Dovecot and says
# what to try; `make demo-stop` undoes all of it. Runs contrib/demo.sh (what
# the make targets call) with its mount point and state inside this test's
# directory, so that a demo the user has running is left alone.
. "$(dirname "$0")/lib.sh"
setup
export MAILFS_DEMO_MNT="$T/demo" TMPDIR="$T"
DEMO="$TOP/contrib/demo.sh"
trap '"$DEMO" stop > /dev/null 2>&1; cleanup' EXIT
state="$T/mailfs-demo-$(id -u)"

check "the demo starts" bash -c "'$DEMO' start > '$T/out' 2>&1"
check "…and says where it is mounted" grep -q "mailfs has mounted a demo IMAP account on $T/demo" "$T/out"
check "…and what to try" grep -q "grep -rl zanzibar" "$T/out"
check "the mount is there" is_mounted "$T/demo"
check "…with INBOX" test -d "$T/demo/INBOX"
check "…nested folders" bash -c "find '$T/demo' -mindepth 2 -type d | grep -q ."
check "…a folder with a non-ASCII name" bash -c "ls '$T/demo' | LC_ALL=C grep -q '[^ -~]'"
check "…a few hundred messages" test "$(find "$T/demo" -name '*.eml' | wc -l)" -ge 200
port=$(sed -n 's/.*imapcheck.py --port \([0-9]*\).*/\1/p' "$T/out")
n_mount=$(grep -rl zanzibar "$T/demo" | wc -l)
n_server=$("$PY" "$IMAPCHECK" --host 127.0.0.1 --port "$port" --user "$USER_NAME" \
	--password "$PASSWORD" grep zanzibar | wc -l)
check "grep -rl zanzibar finds what the server holds ($n_mount on the mount, $n_server on the server)" \
	test "$n_mount" -eq "$n_server" -a "$n_mount" -gt 0
# Issue 13: the demo's "Café crème" is quoted-printable; the .eml tree hides
# the word, the text view shows it, as Python's email package reads it.
n_eml=$(grep -rlF crème "$T/demo" | wc -l)
n_text=$(grep -rlF crème "$T/demo/.mailfs/text" | wc -l)
n_python=$(find "$T/demo" -name '*.eml' -print0 |
	xargs -0 "$PY" "$TOP/tests/integration/views_mail.py" expect crème | wc -l)
check "grep -rl crème: $n_eml in the .eml files, $n_text in .mailfs/text, as many as Python's email reads ($n_python)" \
	test "$n_text" -eq "$n_python" -a "$n_text" -gt "$n_eml"
check "a second start says it is already mounted" bash -c "'$DEMO' start | grep -q 'already mounted'"
master=$(cat "$state/dovecot/run/master.pid" 2>/dev/null)
check "the demo's Dovecot runs (PID ${master:-?})" test -n "$master" -a -d "/proc/${master:-0}"
check "the demo stops" quiet "$DEMO" stop
check "…unmounted" not is_mounted "$T/demo"
# Gone, or a zombie (Dovecot daemonizes; a container's PID 1 may not reap).
gone() { local st; st=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null); [ -z "$st" ] || [ "$st" = Z ]; }
check "…its Dovecot gone (PID ${master:-?})" gone "${master:-0}"
check "…its state removed" test ! -e "$state"
finish

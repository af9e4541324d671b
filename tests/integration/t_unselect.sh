#!/usr/bin/env bash
# Issue 15: leaving a folder without expunging, on a server without UNSELECT
# that refuses to RENAME or DELETE a folder open on any connection
# (fakeimap.py --case busy-open, which also notes a CLOSE of a read-write
# selection: that would expunge). mv and rmdir of a folder that mailfs has
# open must work, by EXAMINE + CLOSE on the connection that has it open,
# never by a CLOSE of a read-write selection.
. "$(dirname "$0")/lib.sh"
setup
PORT=$(pick_port 30000); SRVLOG="$T/server.log"
: > "$SRVLOG"
"$PY" "$TOP/tests/integration/fakeimap.py" --port "$PORT" --log "$SRVLOG" --case busy-open &
PIDS+=($!)
check "fakeimap listens" wait_for "(exec 3<>/dev/tcp/127.0.0.1/$PORT) 2>/dev/null" 5

MNT="$T/mnt"
mount_mailfs "$MNT" "imap://$USER_NAME@127.0.0.1:$PORT" -o tls_insecure_plaintext \
	|| { fail "mount"; finish; }
check "Good lists its 2 messages (it is now open on a connection)" \
	test "$(ls "$MNT/Good" | wc -l)" -eq 2
check "mv of the open folder Good works" mv "$MNT/Good" "$MNT/Renamed"
check "…the server renamed it (RENAME in its log)" grep -q 'RENAME "\?Good"\? "\?Renamed"\?' "$SRVLOG"
check "…after mailfs left it with EXAMINE and CLOSE" grep -q 'EXAMINE "\?Good"\?' "$SRVLOG"
check "…and the mount shows Renamed with its messages" test "$(ls "$MNT/Renamed" | wc -l)" -eq 2
check "Empty lists nothing (and is open now)" test -z "$(ls "$MNT/Empty")"
check "rmdir of the open folder Empty works" rmdir "$MNT/Empty"
check "…the server deleted it" grep -q 'DELETE "\?Empty"\?' "$SRVLOG"
check "no CLOSE of a read-write selection was ever sent (it would expunge)" \
	not grep -q 'CLOSE of a read-write selection' "$SRVLOG"
unmount_mailfs "$MNT"
finish

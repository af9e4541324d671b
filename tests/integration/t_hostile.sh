#!/usr/bin/env bash
# Issue "Reliability and security": the bad replies a server can send (SPEC
# §5). Each is a protocol error on that connection with a clear log line;
# none crashes mailfs or corrupts its cache. A scripted server (fakeimap.py)
# answers one command with the hostile data:
#   - in the greeting or the LIST reply: mailfs refuses to mount, with one
#     line naming the problem, exit status 1;
#   - in folder Bad's FETCH replies: the mount works, `ls Bad` fails with an
#     I/O error (or, with a warm cache, keeps showing the cached listing),
#     the other folders keep working over a new connection;
#   - in Bad's message bodies: the listing works, reading fails with an I/O
#     error, and no partial body is left in the cache;
#   - odd folder names: that folder is left out with a warning (or shown as
#     the README says), the rest is mounted.
. "$(dirname "$0")/lib.sh"
setup
FAKE="$TOP/tests/integration/fakeimap.py"
CHECK="$TOP/tests/integration/cachecheck.py"
printf '%s\n' "$PASSWORD" > "$T/pw"; chmod 600 "$T/pw"
OPTS="tls_insecure_plaintext,timeout=5"

# Start fakeimap with case $1 on a port of its own; sets PORT and SRVLOG.
fake_start() {
	PORT=$(pick_port 30000); SRVLOG="$T/server-${1:-good}.log"
	: > "$SRVLOG"
	"$PY" "$FAKE" --port "$PORT" --log "$SRVLOG" ${1:+--case "$1"} &
	PIDS+=($!)
	wait_for "(exec 3<>/dev/tcp/127.0.0.1/$PORT) 2>/dev/null" 5 ||
		{ fail "$1: fakeimap does not listen"; return 1; }
}

# Body files published in cache $1, and temporary ones left in it.
nbodies() { find "$1/bodies" -type f 2>/dev/null | wc -l; }
ntmp() { find "$1/tmp" -type f 2>/dev/null | wc -l; }

# The cache is whole: the database passes its own check and every body file
# is complete (cachecheck.py).
cache_ok() {
	local what=$1 cache=$2
	check "$what: cache database passes integrity_check" \
		bash -c "'$PY' '$CHECK' '$cache' integrity >/dev/null"
	check "$what: no partial or orphan body in the cache" \
		bash -c "'$PY' '$CHECK' '$cache' bodies >/dev/null"
}

# A mount that went through: mailfs still runs, Good still lists and reads
# over a new connection, and the unmount ends it with status 0.
# What a crash leaves in a log: a sanitizer report, a failed assertion, a
# fatal signal.
CRASH='Sanitizer|runtime error:|Assertion .* failed|Segmentation fault|SIGSEGV|SIGABRT'

still_fine() {
	local what=$1 mnt=$2 logins_before=$3 rc
	check "$what: mailfs is still running" kill -0 "$MAILFS_PID"
	check "$what: Good still lists" has_line "0000000002 Good message 2.eml" ls "$mnt/Good"
	check "$what: Good's messages still read" grep -q "Body of message 2" \
		"$mnt/Good/0000000002 Good message 2.eml"
	if [ -n "$logins_before" ]; then
		check "$what: mailfs logged in again after the protocol error" \
			test "$(grep -c AUTHENTICATE "$SRVLOG")" -gt "$logins_before"
	fi
	unmount_mailfs "$mnt"; rc=$?
	check "$what: mailfs exits with status 0 at unmount (got $rc)" test "$rc" -eq 0
	cache_ok "$what" "$MAILFS_CACHE"
	check "$what: the log has no crash report" no_match -E \
		"$CRASH" "$T/mailfs-$((${#PIDS[@]} - 1)).log"
}

# ---- start-up: one line, status 1, nothing mounted ------------------------
# case | what the line must say
STARTUP=(
	"greet-nul|does not answer like an IMAP server: malformed response from server: NUL"
	"greet-long|does not answer like an IMAP server: malformed response from server: response line too long"
	"list-parens|cannot list the folders of 127.0.0.1: protocol error: .*nested too deeply"
	"list-literal-max|cannot list the folders of 127.0.0.1: protocol error: .*literal too large"
)
for row in "${STARTUP[@]}"; do
	c=${row%%|*}; want=${row#*|}
	fake_start "$c" || continue
	mnt="$T/mnt-$c"; mkdir -p "$mnt"
	out=$(timeout 30 "$MAILFS" "imap://$USER_NAME@127.0.0.1:$PORT" "$mnt" \
		-o "password_file=$T/pw,cache_dir=$T/cache-$c,$OPTS" 2>&1 </dev/null); rc=$?
	out=$(grep -v 'warning: tls_insecure_plaintext' <<<"$out")
	check "$c: mailfs exits with status 1 (got $rc)" test "$rc" -eq 1
	check "$c: nothing is mounted" not is_mounted "$mnt"
	check "$c: one line ($out)" test "$(wc -l <<<"$out")" -eq 1
	check "$c: the line names the problem" grep -qE "$want" <<<"$out"
	check "$c: no sanitizer report or abort" no_match -E "$CRASH" <<<"$out"
	cache_ok "$c" "$T/cache-$c"
done

# ---- hostile FETCH data in folder Bad: `ls Bad` fails, the rest works -----
# case | the log line
FETCH=(
	"literal-max|protocol error from 127.0.0.1.*literal too large"
	"nul|protocol error from 127.0.0.1.*NUL"
	"bare-lf|protocol error from 127.0.0.1.*bare LF"
	"bare-cr|protocol error from 127.0.0.1.*bare CR"
	"long-line|protocol error from 127.0.0.1.*response line too long"
	"parens|protocol error from 127.0.0.1.*nested too deeply"
	"exists-down|protocol error from 127.0.0.1.*EXISTS 1 after 3 without an expunge"
	"expunge-0|protocol error from 127.0.0.1.*expunged message 0 of 3"
	"expunge-beyond|protocol error from 127.0.0.1.*expunged message 99 of 3"
	"uid-0|protocol error from 127.0.0.1.*FETCH with invalid UID"
	"uid-dup|protocol error from 127.0.0.1.*UID 2 out of order"
	"unknown-tag|protocol error from 127.0.0.1.*unknown tag zz99"
	"reused-tag|protocol error from 127.0.0.1.*unknown tag m[0-9]+"
	"unexpected-plus|protocol error from 127.0.0.1.*unexpected continuation request"
)
for row in "${FETCH[@]}"; do
	c=${row%%|*}; want=${row#*|}
	fake_start "$c" || continue
	mnt="$T/mnt-$c"
	mount_mailfs "$mnt" "imap://$USER_NAME@127.0.0.1:$PORT" -o "$OPTS" ||
		{ fail "$c: mount"; continue; }
	log="$T/mailfs-$((${#PIDS[@]} - 1)).log"
	wait_for "grep -q IDLE '$SRVLOG'" 5    # the INBOX watcher has logged in
	check "$c: Good lists before" has_line "0000000001 Good message 1.eml" ls "$mnt/Good"
	check "$c: ls Bad fails with an I/O error" fails_with "Input/output error" ls "$mnt/Bad"
	# Again, so that the spare connection opened at start is spent too and
	# what follows needs a new login.
	check "$c: …and again, over another connection" fails_with "Input/output error" ls "$mnt/Bad"
	logins=$(grep -c AUTHENTICATE "$SRVLOG")
	check "$c: the log says what was wrong" grep -qE "$want" "$log"
	still_fine "$c" "$mnt" "$logins"
done

# ---- with a warm cache: the cached listing stays, the sync fails cleanly --
for c in exists-down uid-dup expunge-beyond nul; do
	fake_start "" || continue
	mnt="$T/mnt-warm-$c"; cache="$T/cache-warm-$c"
	mount_mailfs "$mnt" "imap://$USER_NAME@127.0.0.1:$PORT" -o "$OPTS,cache_dir=$cache" ||
		{ fail "warm $c: first mount"; continue; }
	ls "$mnt/Bad" >/dev/null && cat "$mnt/Bad/0000000001 Bad message 1.eml" >/dev/null
	unmount_mailfs "$mnt"
	fake_start "$c" || continue
	mount_mailfs "$mnt" "imap://$USER_NAME@127.0.0.1:$PORT" -o "$OPTS,cache_dir=$cache" ||
		{ fail "warm $c: mount"; continue; }
	log="$T/mailfs-$((${#PIDS[@]} - 1)).log"; MAILFS_CACHE=$cache
	check "warm $c: ls Bad shows the cached listing" \
		test "$(ls "$mnt/Bad" 2>/dev/null | wc -l)" -eq 3
	check "warm $c: the background sync fails with a protocol error" \
		wait_for "grep -q 'protocol error from 127.0.0.1' '$log'" 10
	check "warm $c: the listing is still the cached one" \
		test "$(ls "$mnt/Bad" 2>/dev/null | wc -l)" -eq 3
	check "warm $c: a cached body still reads" grep -q "Body of message 1" \
		"$mnt/Bad/0000000001 Bad message 1.eml"
	still_fine "warm $c" "$mnt" ""
done

# ---- hostile bodies: the listing works, reading fails, nothing cached -----
BODY=(
	"short-literal|connection to 127.0.0.1 lost: .*closed the connection"
	"body-literal-max|protocol error from 127.0.0.1.*literal too large"
)
for row in "${BODY[@]}"; do
	c=${row%%|*}; want=${row#*|}
	fake_start "$c" || continue
	mnt="$T/mnt-$c"
	mount_mailfs "$mnt" "imap://$USER_NAME@127.0.0.1:$PORT" -o "$OPTS" ||
		{ fail "$c: mount"; continue; }
	log="$T/mailfs-$((${#PIDS[@]} - 1)).log"
	wait_for "grep -q IDLE '$SRVLOG'" 5
	check "$c: Bad lists" has_line "0000000001 Bad message 1.eml" ls "$mnt/Bad"
	check "$c: reading a message of Bad fails with an I/O error" \
		fails_with "Input/output error" cat "$mnt/Bad/0000000001 Bad message 1.eml"
	logins=$(grep -c AUTHENTICATE "$SRVLOG")
	check "$c: the log says what was wrong" grep -qE "$want" "$log"
	check "$c: no body was cached, no temporary file left" \
		test "$(nbodies "$MAILFS_CACHE")" -eq 0 -a "$(ntmp "$MAILFS_CACHE")" -eq 0
	check "$c: reading fails again, the same way" \
		fails_with "Input/output error" cat "$mnt/Bad/0000000001 Bad message 1.eml"
	still_fine "$c" "$mnt" "$logins"
done

# ---- folder names --------------------------------------------------------
# case | the warning (empty: none) | directory that must be there | must not
NAMES=(
	'list-dotdot|folder "\.\." is not shown: its name cannot be a directory name||..'
	'list-slash||Fun∕Games|Fun'
	'list-mutf7|folder "&Jjo" is not shown: its name is not valid modified UTF-7||'
)
for row in "${NAMES[@]}"; do
	IFS='|' read -r c want there notthere <<<"$row"
	fake_start "$c" || continue
	mnt="$T/mnt-$c"
	mount_mailfs "$mnt" "imap://$USER_NAME@127.0.0.1:$PORT" -o "$OPTS" ||
		{ fail "$c: mount"; continue; }
	log="$T/mailfs-$((${#PIDS[@]} - 1)).log"
	top=$(ls -a "$mnt" | grep -vxE '\.|\.\.|\.mailfs-status' | paste -sd' ')
	if [ -n "$there" ]; then
		check "$c: the mount shows $there ($top)" has_line "$there" ls "$mnt"
		check "$c: $there lists its message" \
			has_line "0000000001 Fun∕Games message 1.eml" ls "$mnt/$there"
	else
		check "$c: the other folders are shown ($top)" test "$top" = "Bad Good INBOX"
	fi
	[ -n "$notthere" ] && [ "$notthere" != ".." ] &&
		check "$c: no $notthere directory" not test -e "$mnt/$notthere"
	if [ -n "$want" ]; then
		check "$c: the log warns" grep -qE "$want" "$log"
	fi
	if [ "$c" = list-mutf7 ]; then
		check "$c: each bad name is warned about" test "$(grep -c 'not valid modified UTF-7' "$log")" -ge 3
	fi
	check "$c: .. still means the parent" test "$(stat -c %i "$mnt/..")" = "$(stat -c %i "$T")"
	check "$c: Bad still lists" has_line "0000000003 Bad message 3.eml" ls "$mnt/Bad"
	still_fine "$c" "$mnt" ""
done

# ---- folder lists too long or too deep: bounded, and no hang --------------
# 300,000 folders (a careless client does O(n^2) work at every poll), and
# one name of almost 512 KiB with 250,000 levels. The mount comes up as fast as ever,
# says what it left out, and keeps answering while it polls (poll=1).
for c in list-many list-deep; do
	fake_start "$c" || continue
	mnt="$T/mnt-$c"
	mount_mailfs "$mnt" "imap://$USER_NAME@127.0.0.1:$PORT" -o "$OPTS,poll=1" ||
		{ fail "$c: mount"; continue; }
	log="$T/mailfs-$((${#PIDS[@]} - 1)).log"
	if [ "$c" = list-many ]; then
		check "$c: the log says how many folders are shown" \
			grep -q "lists 300003 folders; only the first 100000 are shown" "$log"
		n=$(ls "$mnt" | wc -l)
		check "$c: the first 100000 folders are shown ($n)" test "$n" -eq 100000
		check "$c: one of them lists" test -d "$mnt/F099996"
		n=$(timeout 60 cat "$mnt/.mailfs-status" | sed -n '/^folders:/,/^last error:/p' |
			grep -c '^  ')
		check "$c: .mailfs-status has one line for each of them ($n)" test "$n" -eq 100000
	else
		check "$c: the log says the deep folder is left out" \
			grep -q 'is not shown: it is nested too deeply (more than 64 levels)' "$log"
		top=$(ls "$mnt" | paste -sd' ')
		check "$c: the other folders are shown ($top)" test "$top" = "Bad Good INBOX"
	fi
	sleep 2    # two polls of the same list
	check "$c: after two polls, Bad still lists within 5 s" \
		timeout 5 grep -q "" <(ls "$mnt/Bad")
	check "$c: the warning is said once, not at every poll" \
		test "$(grep -c -e 'only the first' -e 'nested too deeply' "$log")" -eq 1
	still_fine "$c" "$mnt" ""
done

# ---- the views: a BODYSTRUCTURE the server gets wrong -----------------------
c=bad-structure
if fake_start "$c"; then
	mnt="$T/mnt-$c"
	if mount_mailfs "$mnt" "imap://$USER_NAME@127.0.0.1:$PORT" -o "$OPTS"; then
		log="$T/mailfs-$((${#PIDS[@]} - 1)).log"
		ls "$mnt/Good" > /dev/null
		sleep 1     # the spare and IDLE connections are made by then
		logins=$(grep -c AUTHENTICATE "$SRVLOG")
		check "$c: the text is made from the whole message" grep -q "Body of message 2" \
			"$mnt/.mailfs/text/Good/0000000002 Good message 2.txt"
		check "$c: …with its header lines" grep -qx "Subject: Good message 2" \
			"$mnt/.mailfs/text/Good/0000000002 Good message 2.txt"
		check "$c: its one part lists" test -f "$mnt/.mailfs/parts/Good/0000000001 Good message 1/1 text.txt"
		check "$c: the log says why" grep -q "description of message 2 cannot be read" "$log"
		check "$c: no session was dropped for it" \
			test "$(grep -c AUTHENTICATE "$SRVLOG")" -eq "$logins"
		still_fine "$c" "$mnt" ""
	else
		fail "$c: mount"
	fi
fi

# ---- POP3: a RETR without the final dot ----------------------------------
for c in retr-nodot retr-nodot-hang; do
	box="$T/box-$c"; mkdir -p "$box"
	for i in 1 2 3; do
		printf 'From: a@example.org\r\nSubject: pop %s\r\n\r\nline 1\r\n.dot line\r\n' \
			"$i" > "$box/msg$i"
	done
	second=$(ls "$box" | sort | sed -n 2p)
	port=$(pick_port 30000)
	"$PY" "$TOP/tests/integration/fakepop3.py" --port "$port" --dir "$box" \
		--log "$T/pop-$c.log" --case "$c" &
	PIDS+=($!)
	wait_for "(exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null" 5
	mnt="$T/mnt-$c"
	mount_mailfs "$mnt" "pop3://$USER_NAME@127.0.0.1:$port" \
		-o "tls_insecure_plaintext,pop3_delete,timeout=2,poll=1" || { fail "$c: mount"; continue; }
	log="$T/mailfs-$((${#PIDS[@]} - 1)).log"
	check "$c: the round stops with a clear line" \
		wait_for "grep -qE 'POP3 round stopped.*: .*(closed|no answer).*during RETR' '$log'" 15
	check "$c: a second round fails the same way" \
		wait_for "test \$(grep -c 'POP3 round stopped' '$log') -ge 2" 15
	check "$c: mailfs is still running" kill -0 "$MAILFS_PID"
	# Message 1 came before the bad one and is stored; message 2 is not.
	check "$c: only the message before the bad one is listed" \
		test "$(ls "$mnt/INBOX" | wc -l)" -eq 1
	check "$c: the truncated message stays on the server" test -f "$box/$second"
	check "$c: every message is still on the server (no QUIT, no deletion)" \
		test "$(ls "$box" | wc -l)" -eq 3
	unmount_mailfs "$mnt"; rc=$?
	check "$c: mailfs exits with status 0 (got $rc)" test "$rc" -eq 0
	cache_ok "$c" "$MAILFS_CACHE"
	check "$c: only the first message is in the cache, no temporary file" \
		test "$(nbodies "$MAILFS_CACHE")" -eq 1 -a "$(ntmp "$MAILFS_CACHE")" -eq 0
done
# ---- a refused UID EXPUNGE (SPEC §2: exactly that message, or nothing) ------
# rm fails, and the \Deleted flag set before the UID EXPUNGE is taken off
# again: another client's EXPUNGE must not remove the message later.
if fake_start expunge-no; then
	mnt="$T/mnt-expunge-no"
	if mount_mailfs "$mnt" "imap://$USER_NAME@127.0.0.1:$PORT" -o "$OPTS"; then
		f="$mnt/Good/0000000002 Good message 2.eml"
		check "expunge-no: rm fails (NOPERM: EACCES) when the server refuses UID EXPUNGE" \
			fails_with "Permission denied" rm "$f"
		check "expunge-no: …after +FLAGS.SILENT (\\Deleted) and UID EXPUNGE 2" \
			grep -qE 'UID EXPUNGE 2' "$SRVLOG"
		check "expunge-no: …the flag is taken off again" \
			grep -qF 'UID STORE 2 -FLAGS.SILENT (\Deleted)' "$SRVLOG"
		check "expunge-no: the file is still there" test -e "$f"
		still_fine "expunge-no" "$mnt" ""
	else
		fail "expunge-no: mount"
	fi
fi
finish

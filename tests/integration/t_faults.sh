#!/usr/bin/env bash
# Issue 6: the network breaks between mailfs and the server (a fault-
# injecting proxy): a cut in the middle of a body, a stall, a drip, refused
# and dropped connections. A read fails with EIO within `timeout` or succeeds
# whole after a reconnect, never returns or caches a partial body; no process
# stays blocked on the mount; when the network comes back the mount works
# without a remount; cached folders stay readable meanwhile.
. "$(dirname "$0")/lib.sh"
setup
dovecot_start --profile demo --seed 41
TIMEOUT=3

# Time a command; prints seconds (integer, rounded up) to fd 3.
timed() { local s e; s=$(date +%s%N); "$@"; local rc=$?; e=$(date +%s%N); echo $(( (e - s + 999999999) / 1000000000 )) >&3; return $rc; }
# No process in uninterruptible sleep (D) holding something under DIR.
nobody_stuck() {
	local p
	for p in /proc/[0-9]*; do
		[ "$(awk '{print $3}' "$p/stat" 2>/dev/null)" = D ] || continue
		if ls -l "$p/cwd" "$p/fd" 2>/dev/null | grep -q "$1"; then
			say "(process $(basename "$p") is stuck in D state on $1)"; return 1
		fi
	done
	return 0
}
biggest() {   # the largest message file of a folder
	ls -S "$MNT/$1"/*.eml | head -1
}

# ------------------------------------------------------------------ IMAP
proxy_start "$IMAPS_PORT"
MNT="$T/mnt"
mount_mailfs "$MNT" "imaps://$USER_NAME@localhost:$PROXY_PORT" \
	-o "cafile=$T/dovecot/ca.pem,timeout=$TIMEOUT,poll=2" || { fail "mount"; finish; }
ls -l "$MNT/INBOX" "$MNT/Archive" "$MNT/Sent" "$MNT/Drafts" > /dev/null
CACHE=$MAILFS_CACHE
cached=$(ls "$MNT"/INBOX/*.eml | tail -1)
cat "$cached" > /dev/null          # this one is in the cache from now on

# A cut (FIN, then RST) in the middle of a body, each of a message not read
# before: once a third of its size went through (the other connections are
# idle meanwhile), the proxy closes every connection. The read fails with an
# I/O error, or comes back whole over a new connection; nothing partial is
# cached.
round=0
for how in fin rst; do
	round=$((round + 1))
	f=$(ls -S "$MNT"/INBOX/*.eml | grep -vxF "$cached" | sed -n "${round}p")
	uid=$(getfattr --absolute-names --only-values -n user.mail.uid "$f")
	size=$(stat -c %s "$f")
	ic fetch INBOX "$uid" > "$T/server-$how"
	check "cut ($how): the server has the message ($size bytes)" \
		test "$(stat -c %s "$T/server-$how")" -eq "$size"
	cuts=$(proxy cuts); conns=$(proxy count)
	proxy cut $((size / 3)) "$how" > /dev/null
	if cat "$f" > "$T/out-$how" 2> "$T/err-$how"; then
		check "cut ($how) in a body: the read succeeded after a reconnect" \
			test "$(proxy count)" -gt "$conns"
		check "…whole" cmp -s "$T/out-$how" "$T/server-$how"
	else
		check "cut ($how) in a body: the read fails with an I/O error" \
			grep -q "Input/output error" "$T/err-$how"
		check "…having returned no more than the cut let through" \
			test "$(stat -c %s "$T/out-$how")" -lt "$size"
	fi
	check "cut ($how): the proxy did cut" test "$(proxy cuts)" -eq $((cuts + 1))
	check "cut ($how): no partial body in the cache" "$PY" "$TOP/tests/integration/cachecheck.py" "$CACHE" bodies
	proxy pass > /dev/null
	check "cut ($how): the network back, the message reads whole without a remount" \
		same_as_server "$f" INBOX
done

# A stall: the read gives up within the timeout; nothing hangs.
f=$(biggest Sent)
proxy stall > /dev/null
{ timed cat "$f" > /dev/null 2> "$T/err-stall"; } 3> "$T/secs"
rc=$?
secs=$(cat "$T/secs")
check "stall: the read fails (status $rc)" test $rc -ne 0
check "stall: with an I/O error" grep -q "Input/output error" "$T/err-stall"
check "stall: within the timeout (${secs}s, timeout ${TIMEOUT}s)" test "$secs" -le $((TIMEOUT * 2 + 2))
check "stall: no process stuck on the mount" nobody_stuck "$MNT"
check "stall: cached listings still work" quiet ls -l "$MNT/INBOX"
check "stall: a cached body still reads" quiet cat "$cached"
proxy pass > /dev/null
proxy dropall > /dev/null
check "stall over: the message reads without a remount" \
	wait_for "cmp -s '$f' <(ic fetch Sent \$(getfattr --absolute-names --only-values -n user.mail.uid '$f'))" 20

# A drip (one byte at a time): slow, but whole.
f=$(ls "$MNT"/Archive/*.eml | head -1)
proxy drip 1 > /dev/null
check "drip: a small message reads whole" \
	cmp -s <(cat "$f") <(ic fetch Archive "$(getfattr --absolute-names --only-values -n user.mail.uid "$f")")
proxy pass > /dev/null

# The server away (connections dropped and refused): cached folders and
# bodies work; an uncached body fails within the timeout.
# Refuse first, then drop: the other order lets a reconnect slip in between.
proxy refuse > /dev/null
proxy dropall > /dev/null
check "server away: cached folders list" quiet ls -l "$MNT/INBOX" "$MNT/Archive"
check "server away: cached bodies read" quiet cat "$cached"
uncached=$(ls "$MNT"/Drafts/*.eml | head -1)     # no Drafts body was ever read
{ timed cat "$uncached" > /dev/null 2> "$T/err-away"; } 3> "$T/secs"
rc=$?
check "server away: an uncached body fails with an I/O error (status $rc)" \
	grep -q "Input/output error" "$T/err-away"
check "server away: within the timeout ($(cat "$T/secs")s)" test "$(cat "$T/secs")" -le $((TIMEOUT * 2 + 2))
check ".mailfs-status says what went wrong" grep -q "last error: .*[a-z]" "$MNT/.mailfs-status"
proxy pass > /dev/null
check "server back: the uncached body reads without a remount" wait_for "cat '$uncached' > /dev/null" 20
printf 'Subject: after-outage\r\nMessage-ID: <after@t>\r\n\r\nback\r\n' > "$T/after.eml"
ic append INBOX "$T/after.eml" > /dev/null
check "server back: new mail in INBOX appears" wait_for "ls '$MNT/INBOX' | grep -q after-outage" 30
check "the cache is intact" "$PY" "$TOP/tests/integration/cachecheck.py" "$CACHE" integrity

# The server closes the idle connections (its autologout, a restart): the
# next read goes through on a new connection instead of failing once.
f=$(ls "$MNT"/Drafts/*.eml | tail -1)   # not read before
uid=$(getfattr --absolute-names --only-values -n user.mail.uid "$f")
check "doveadm kick closes mailfs's connections" quiet doveadm_ kick "$USER_NAME"
sleep 0.5
check "after the server closed them, the next read works at once" \
	cmp -s "$f" <(ic fetch Drafts "$uid")
unmount_mailfs "$MNT"

# ------------------------------------------------------------ IMAP APPEND
# The connection breaks while `cp` copies a message in. In plain text, so
# that the proxy can cut exactly the connection that sent the APPEND.
proxy_start "$IMAP_PORT"
MNT="$T/amnt"
mount_mailfs "$MNT" "imap://$USER_NAME@localhost:$PROXY_PORT" \
	-o "tls_insecure_plaintext,timeout=$TIMEOUT,poll=3600" || { fail "mount"; finish; }
ls "$MNT/Archive" > /dev/null
mkmsg() {   # mkmsg NAME [Message-ID]: a 200 KB message with a unique word
	{ printf 'From: a@example.org\r\nSubject: %s\r\n' "$1"
	  [ -n "${2:-}" ] && printf 'Message-ID: <%s>\r\n' "$2"
	  printf '\r\nword-%s\r\n' "$1"
	  head -c 150000 /dev/urandom | base64 -w 76 | sed 's/$/\r/'; } > "$T/$1.eml"
}
on_server() { ic grep "word-$1" | grep -c "^Archive" || true; }
unsent() { ls "$MNT_CACHE/unsent/" 2>/dev/null | grep -c "$1" || true; }
MNT_CACHE=$MAILFS_CACHE

# (a) The server stored the message and the cut takes its OK with it: mailfs
# finds the message by Message-ID and size over a new connection, and cp
# succeeds (else the user would copy it a second time).
mkmsg cut-after-ok cut-after-ok@test
proxy cut 0 rst on APPEND > /dev/null
check "APPEND cut after the server stored it: cp succeeds" cp "$T/cut-after-ok.eml" "$MNT/Archive/"
check "…the server has it once" test "$(on_server cut-after-ok)" -eq 1
check "…nothing left in unsent/" test "$(unsent cut-after-ok)" -eq 0
check "…the log says what happened" grep -q "the server has the message" "$T/mailfs-$((${#PIDS[@]} - 1)).log"
check "…it reads back from the mount, byte for byte" \
	wait_for "cmp -s '$T/cut-after-ok.eml' \"\$(ls -d '$MNT'/Archive/*cut-after-ok*.eml 2>/dev/null | head -1)\"" 10

# (b) The same without a Message-ID: mailfs cannot tell, so close() fails,
# and the bytes are kept in unsent/ (the README tells the user to look in
# the folder before copying it again).
mkmsg cut-no-id
proxy cut 0 rst on APPEND > /dev/null
check "APPEND cut, no Message-ID: cp fails" fails_with "Input/output error" cp "$T/cut-no-id.eml" "$MNT/Archive/"
check "…the server has it once" test "$(on_server cut-no-id)" -eq 1
check "…and its bytes are kept in unsent/" test "$(unsent cut-no-id)" -eq 1

# (c) A cut in the middle of the message (the proxy holds it, then drops the
# connection): the server has nothing, cp fails, the bytes are in unsent/.
mkmsg cut-mid cut-mid@test
proxy stall > /dev/null
cp "$T/cut-mid.eml" "$MNT/Archive/" 2> "$T/err-cut-mid" & cp_pid=$!
sleep 1
proxy dropall > /dev/null; proxy pass > /dev/null
wait $cp_pid; rc=$?
check "APPEND cut mid-message: cp fails (status $rc)" test "$rc" -ne 0
check "…with an I/O error" grep -q "Input/output error" "$T/err-cut-mid"
check "…the server has nothing" test "$(on_server cut-mid)" -eq 0
check "…its bytes are kept in unsent/" test "$(unsent cut-mid)" -eq 1
check "…and the next copy works" cp "$T/cut-mid.eml" "$MNT/Archive/"
check "…giving exactly one on the server" test "$(on_server cut-mid)" -eq 1
unmount_mailfs "$MNT"

# ------------------------------------------------------------------ POP3
proxy_start "$POP3S_PORT"
mkdir -p "$T/orig" "$T/after"
ic dump INBOX "$T/orig" > /dev/null
MNT="$T/pmnt"
proxy cut 300000 rst > /dev/null     # somewhere in the first large RETR
mount_mailfs "$MNT" "pop3s://$USER_NAME@localhost:$PROXY_PORT" \
	-o "cafile=$T/dovecot/ca.pem,timeout=$TIMEOUT,poll=2,pop3_delete" || { fail "pop3 mount"; finish; }
PCACHE=$MAILFS_CACHE
n=$(ls "$T/orig" | grep -c '\.eml$')
check "POP3: after a cut mid-RETR the next rounds complete the download" \
	wait_for "test \$(ls '$MNT/INBOX' | wc -l) -eq $n" 60
check "POP3: the server is emptied only of what is stored" wait_for "test \$(ic count INBOX) -eq 0" 20
ic dump INBOX "$T/after" > /dev/null
check "POP3: nothing lost, no partial body" \
	"$PY" "$TOP/tests/integration/cachecheck.py" "$PCACHE" pop3-union "$T/orig" "$T/after"
check "POP3: the log tells about the broken round" grep -q "POP3 round stopped\|closed the connection\|lost" "$T/mailfs-$((${#PIDS[@]} - 1)).log"

# A stall in a POP3 round: the round gives up within the timeout, the mount
# keeps answering from its cache meanwhile, and once the network moves again
# the new mail arrives without a remount.
printf 'From: a@example.org\r\nSubject: after-stall\r\nMessage-ID: <after-stall@test>\r\n\r\nhello\r\n' \
	> "$T/after-stall.eml"
before=$(grep 'last error' "$MNT/.mailfs-status")
proxy stall > /dev/null
ic append INBOX "$T/after-stall.eml" > /dev/null
start=$(date +%s)
check "POP3 stall: the round gives up with a timeout" \
	wait_for "grep 'last error: .*no answer' '$MNT/.mailfs-status' | grep -qvxF '$before'" \
	$((TIMEOUT * 2 + 10))
secs=$(( $(date +%s) - start ))
check "POP3 stall: within poll + timeout (${secs}s; poll 2s, timeout ${TIMEOUT}s)" \
	test "$secs" -le $((2 + TIMEOUT * 2 + 2))
check "POP3 stall: the cached INBOX lists meanwhile" quiet timeout 2 ls -l "$MNT/INBOX"
check "POP3 stall: cached messages read meanwhile" \
	quiet timeout 2 cat "$(ls -d "$MNT"/INBOX/*.eml | head -1)"
check "POP3 stall: no process stuck on the mount" nobody_stuck "$MNT"
proxy pass > /dev/null
check "POP3 stall over: the new message arrives without a remount" \
	wait_for "ls '$MNT/INBOX' | grep -q after-stall" 30
check "POP3 stall over: and leaves the server (pop3_delete)" wait_for "test \$(ic count INBOX) -eq 0" 20
unmount_mailfs "$MNT"
finish

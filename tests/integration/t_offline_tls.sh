#!/usr/bin/env bash
# Issue 11 item 3: offline start when the server is going down. The port
# still accepts TCP connections but the TLS handshake never completes: the
# connection is closed at once (FIN), reset (RST), or closed after the
# ClientHello. That is the network: a mount with a cache comes up from it
# and the cached files read back whole, for imaps:// and pop3s://. A
# certificate that fails verification stays fatal, cache or not.
. "$(dirname "$0")/lib.sh"
setup
dovecot_start --profile demo --seed 23 --count 6
D="$T/dovecot"
MNT="$T/mnt"
DROP="$TOP/tests/integration/droplistener.py"

# A self-signed certificate for the right name: only "nobody vouches for
# it" is wrong.
openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj /CN=localhost \
	-addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
	-keyout "$T/self.key" -out "$T/self.pem" >/dev/null 2>&1 || fail "self-signed certificate"

# listener MODE: droplistener.py on a port of its own; sets PORT, LLOG, LPID.
listener() {
	PORT=$(pick_port 32000); LLOG="$T/listener-$1-$PORT.log"
	: > "$LLOG"
	"$PY" "$DROP" --port "$PORT" --log "$LLOG" --mode "$1" --cert "$T/self.pem" --key "$T/self.key" &
	LPID=$!
	PIDS+=("$LPID")
	wait_for "(exec 3<>/dev/tcp/127.0.0.1/$PORT) 2>/dev/null" 5 || fail "$1: no listener"
	# that probe was a connection too
	wait_for "test -s '$LLOG'" 5
	: > "$LLOG"
}
stop_listener() { kill "$LPID" 2>/dev/null; wait "$LPID" 2>/dev/null; }

# warm SCHEME PORT CACHE: mount against Dovecot with cache_dir CACHE, read a
# few messages into the cache (their copies in $T/want-SCHEME), unmount.
warm() {
	local scheme=$1 port=$2 cache=$3 f names
	rm -rf "$T/want-$scheme"; mkdir -p "$T/want-$scheme"
	mount_mailfs "$MNT" "$scheme://$USER_NAME@localhost:$port" \
		-o "cafile=$D/ca.pem,cache_dir=$cache" || { fail "$scheme: warm mount"; return 1; }
	wait_for "test \$(ls '$MNT/INBOX' | wc -l) -ge 3" 30 || fail "$scheme: INBOX listed"
	mapfile -t names < <(ls "$MNT/INBOX" | head -3)
	for f in "${names[@]}"; do
		cp "$MNT/INBOX/$f" "$T/want-$scheme/" || fail "$scheme: read $f"
	done
	check "$scheme: three messages read into the cache" \
		test "$(ls "$T/want-$scheme" | wc -l)" -eq 3
	unmount_mailfs "$MNT"
}

# offline SCHEME MODE CACHE: with a listener of MODE, the mount comes up from
# CACHE, says why, and serves the cached messages byte for byte.
offline() {
	local scheme=$1 mode=$2 cache=$3 log f ok=1
	listener "$mode"
	if ! mount_mailfs "$MNT" "$scheme://$USER_NAME@localhost:$PORT" \
		-o "cafile=$D/ca.pem,cache_dir=$cache,timeout=3"; then
		fail "$scheme, $mode: the mount comes up"
		sed -n '1,10p' "$T/mailfs-$((${#PIDS[@]} - 1)).log"
		stop_listener
		return
	fi
	log="$T/mailfs-$((${#PIDS[@]} - 1)).log"
	check "$scheme, $mode: the mount comes up from the cache" grep -q "comes up from the cache" "$log"
	check "$scheme, $mode: the client did reach the listener" grep -q accepted "$LLOG"
	case $mode in
	hello) check "$scheme, $mode: …and started a TLS handshake" grep -q "first byte 22" "$LLOG";;
	esac
	# (A reset may also come before connect() has returned: test_conn.)
	check "$scheme, $mode: the log says the handshake was cut, not that TLS failed" \
		grep -qE "(closed|dropped) the connection (during|as soon as it was made, before) the TLS handshake" "$log"
	check "$scheme, $mode: no 'TLS handshake failed'" no_match "TLS handshake failed" "$log"
	for f in "$T/want-$scheme"/*; do
		cmp -s "$f" "$MNT/INBOX/$(basename "$f")" || ok=0
	done
	check "$scheme, $mode: the cached messages read back byte for byte" test "$ok" -eq 1
	unmount_mailfs "$MNT"
	stop_listener
}

# refused_cert SCHEME CACHE: a server whose certificate nobody vouches for
# is refused even with a warm cache: status 1, nothing mounted.
refused_cert() {
	local scheme=$1 cache=$2 out rc
	listener tls
	out=$(timeout 60 "$MAILFS" "$scheme://$USER_NAME@localhost:$PORT" "$MNT" \
		-o "password_file=$T/pw,cafile=$D/ca.pem,cache_dir=$cache,timeout=3" 2>&1 </dev/null)
	rc=$?
	if is_mounted "$MNT"; then
		fail "$scheme, certificate: something is mounted"; fusermount3 -u "$MNT"
	fi
	check "$scheme, certificate not trusted, cache warm: mailfs exits with status 1 (got $rc)" \
		test "$rc" -eq 1
	check "$scheme, certificate: the reason is the certificate ($out)" \
		grep -q "certificate rejected" <<<"$out"
	check "$scheme, certificate: no offline start" no_match -F "comes up from the cache" <<<"$out"
	check "$scheme, certificate: the client did reach the listener" grep -q accepted "$LLOG"
	stop_listener
}

for scheme in imaps pop3s; do
	if [ "$scheme" = imaps ]; then port=$IMAPS_PORT; else port=$POP3S_PORT; fi
	cache="$T/cache-$scheme"
	warm "$scheme" "$port" "$cache" || continue
	for mode in close reset hello; do
		offline "$scheme" "$mode" "$cache"
	done
	refused_cert "$scheme" "$cache"
done
finish

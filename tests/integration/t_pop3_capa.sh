#!/usr/bin/env bash
# Issue 17 item 18: .mailfs-status of a POP3 mount shows the server's CAPA
# list as the server sent it (README, mailfs(1)), with control characters
# made visible: compared with what an independent client reads from
# Dovecot, and with a scripted server that puts an ESC and a BEL in it.
. "$(dirname "$0")/lib.sh"
setup
dovecot_start --profile demo --seed 31 --count 5
MNT="$T/mnt"

# The CAPA lines Dovecot sends over TLS before login (where mailfs asks),
# read with Python's ssl, joined as the status file joins them.
"$PY" - "$POP3S_PORT" "$T/dovecot/ca.pem" > "$T/capa.want" <<'EOF' || fail "CAPA with the independent client"
import socket, ssl, sys
ctx = ssl.create_default_context(cafile=sys.argv[2])
with socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=30) as raw:
    with ctx.wrap_socket(raw, server_hostname="localhost") as s:
        f = s.makefile("rb")
        assert f.readline().startswith(b"+OK")
        s.sendall(b"CAPA\r\n")
        assert f.readline().startswith(b"+OK")
        lines = []
        while True:
            line = f.readline().rstrip(b"\r\n")
            if line == b".":
                break
            if line:
                lines.append(line.decode())
        s.sendall(b"QUIT\r\n")
print("capabilities: " + ", ".join(lines))
EOF
check "Dovecot's CAPA lists UIDL ($(cat "$T/capa.want"))" grep -q "UIDL" "$T/capa.want"

mount_mailfs "$MNT" "pop3s://$USER_NAME@localhost:$POP3S_PORT" -o "cafile=$T/dovecot/ca.pem" ||
	{ fail "pop3s mount"; finish; }
ls "$MNT/INBOX" > /dev/null
grep '^capabilities:' "$MNT/.mailfs-status"
check "Dovecot: the status file shows the CAPA list as the server sent it" \
	has_line "$(cat "$T/capa.want")" cat "$MNT/.mailfs-status"
unmount_mailfs "$MNT"

# A scripted server whose CAPA carries an ESC sequence and a BEL.
mkdir -p "$T/box"
"$PY" "$GEN" --maildir "$T/maildir" --profile demo --seed 31 --count 3 > /dev/null
cp "$T/maildir"/cur/* "$T/box/"
printf '%s\n' "$PASSWORD" > "$T/pw"; chmod 600 "$T/pw"
PORT=$(pick_port 28000)
"$PY" "$TOP/tests/integration/fakepop3.py" --port "$PORT" --dir "$T/box" --log "$T/fake.log" \
	--capa-extra "$(printf 'IMPLEMENTATION fake\033[31mred\007' | od -An -tx1 | tr -d ' \n')" &
PIDS+=($!)
wait_for "(exec 3<>/dev/tcp/127.0.0.1/$PORT) 2>/dev/null" 5 || fail "the fake server does not listen"
mount_mailfs "$MNT" "pop3://$USER_NAME@127.0.0.1:$PORT" -o "tls_insecure_plaintext" ||
	{ fail "mount of the scripted server"; finish; }
ls "$MNT/INBOX" > /dev/null
check "scripted server: the CAPA list, controls shown as escapes" \
	has_line 'capabilities: USER, UIDL, RESP-CODES, TOP, IMPLEMENTATION fake\x1b[31mred\x07' \
	cat "$MNT/.mailfs-status"
check "…and no raw ESC or BEL in the status file" no_match -P '[\x07\x1b]' "$MNT/.mailfs-status"
unmount_mailfs "$MNT"
finish

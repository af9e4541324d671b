#!/usr/bin/env bash
# make demo / make demo-stop: a private Dovecot on 127.0.0.1 with a generated
# mailbox (folders, nested folders, a few hundred messages, attachments,
# non-ASCII subjects and folder names), mounted with mailfs on ./demo.
set -u
TOP=$(cd "$(dirname "$0")/.." && pwd)
MNT="${MAILFS_DEMO_MNT:-$TOP/demo}"   # the test moves it out of the way
T="${TMPDIR:-/tmp}/mailfs-demo-$(id -u)"
AS_ROOT=""
[ "$(id -u)" -eq 0 ] || AS_ROOT=sudo
export AS_ROOT

stop() {
	if mountpoint -q "$MNT" 2>/dev/null; then
		fusermount3 -u "$MNT" && echo "unmounted $MNT"
	fi
	if [ -f "$T/dovecot/run/master.pid" ]; then
		$AS_ROOT kill "$(cat "$T/dovecot/run/master.pid")" 2>/dev/null
		for _ in $(seq 1 50); do
			[ -f "$T/dovecot/run/master.pid" ] || break
			sleep 0.1
		done
		echo "stopped the demo Dovecot"
	fi
	[ -d "$T" ] && $AS_ROOT rm -rf "$T"
	rmdir "$MNT" 2>/dev/null
	return 0
}

start() {
	if mountpoint -q "$MNT" 2>/dev/null; then
		echo "the demo is already mounted on $MNT (make demo-stop to undo it)"
		exit 0
	fi
	stop >/dev/null
	local state=$T
	# shellcheck source=../tests/integration/lib.sh
	. "$TOP/tests/integration/lib.sh"
	T=$state
	mkdir -p "$T" && chmod 755 "$T"
	echo "starting a private Dovecot on 127.0.0.1 with a generated mailbox..."
	dovecot_start --profile demo --seed 1
	printf '%s\n' "$PASSWORD" > "$T/pw"
	chmod 600 "$T/pw"
	mkdir -p "$MNT"
	if ! "$TOP/mailfs" "imaps://$USER_NAME@localhost:$IMAPS_PORT" "$MNT" \
		-o "cafile=$T/dovecot/ca.pem,password_file=$T/pw,cache_dir=$T/cache,poll=10"; then
		echo "mailfs could not mount the demo account"; stop; exit 1
	fi
	cat <<EOT

mailfs has mounted a demo IMAP account on $MNT
(server: Dovecot on 127.0.0.1:$IMAPS_PORT over TLS, user $USER_NAME)

Try:
  ls $MNT                              one directory per folder
  ls -l $MNT/INBOX | head              one .eml file per message, dated by arrival
  grep -rl zanzibar $MNT | head        search all mail with grep
  cat "\$(ls -d $MNT/INBOX/* | head -1)"
  getfattr -d "\$(ls -d $MNT/INBOX/* | head -1)"   flags, UID, Message-ID
  cat $MNT/.mailfs-status              connection, folders, last sync
  xdg-open $MNT/INBOX                  browse it in a file manager

The server side, with an independent client:
  python3 $TOP/tests/integration/imapcheck.py --port $IMAP_PORT --user $USER_NAME \\
          --password '$PASSWORD' folders

make demo-stop unmounts it and stops the server.
EOT
}

case "${1:-}" in
start) start;;
stop) stop;;
*) echo "usage: $0 start|stop"; exit 2;;
esac

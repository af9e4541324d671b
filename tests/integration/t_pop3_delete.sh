#!/usr/bin/env bash
# Issue 4: pop3_delete, over POP3 with STLS. After the download the server is
# empty and every message is in the cache, byte for byte.
. "$(dirname "$0")/lib.sh"
setup
dovecot_start --profile demo --seed 17
mkdir -p "$T/orig" "$T/after"
ic dump INBOX "$T/orig" > /dev/null
N=$(ls "$T/orig"/*.eml | wc -l)
MNT="$T/mnt"
mount_mailfs "$MNT" "pop3://$USER_NAME@localhost:$POP3_PORT" \
	-o "cafile=$T/dovecot/ca.pem,poll=2,pop3_delete" || { fail "mount"; finish; }
check "all $N messages are in the mount" wait_for "test \$(ls '$MNT/INBOX' | wc -l) -eq $N" 30
check "the server is empty" wait_for "test \$(ic count INBOX) -eq 0" 10
cat_hashes() { (cd "$1" && find . -maxdepth 1 -type f -name '*.eml' -exec sha256sum -z {} + | tr '\0' '\n' | cut -c1-64 | sort); }
check "every message is in the cache, byte for byte" diff <(cat_hashes "$MNT/INBOX") <(cat_hashes "$T/orig")
cache=$MAILFS_CACHE
unmount_mailfs "$MNT"
check "cache database integrity" "$PY" "$TOP/tests/integration/cachecheck.py" "$cache" integrity
check "no partial body in the cache" "$PY" "$TOP/tests/integration/cachecheck.py" "$cache" bodies
check "nothing lost" "$PY" "$TOP/tests/integration/cachecheck.py" "$cache" pop3-union "$T/orig" "$T/after"
finish

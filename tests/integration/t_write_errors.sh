#!/usr/bin/env bash
# Issue 3: errors of APPEND reach close() with the right errno, and no byte
# the user wrote is lost: it is kept under CACHE_DIR/unsent/.
. "$(dirname "$0")/lib.sh"
setup
DOVECOT_EXTRA='mail_plugins = quota
plugin {
  quota = maildir:User quota
  quota_rule = *:storage=1M
  quota_max_mail_size = 300k
}'
dovecot_start --profile small20k --count 20

MNT="$T/mnt"
mount_mailfs "$MNT" "imaps://$USER_NAME@localhost:$IMAPS_PORT" -o "cafile=$T/dovecot/ca.pem" \
	|| { fail "mount"; finish; }
blob() {  # blob FILE SUBJECT KBYTES
	"$PY" -c 'import sys
sys.stdout.buffer.write(b"Subject: %s\r\nMessage-ID: <%s@t>\r\n\r\n" % (sys.argv[1].encode(), sys.argv[1].encode()))
sys.stdout.buffer.write((b"y" * 76 + b"\r\n") * (int(sys.argv[2]) * 1024 // 78))' "$2" "$3" > "$1"
}

before=$(ic count Bulk)
blob "$T/huge.eml" too-big 400
check "a message over the server's size limit: close() fails with EFBIG" \
	fails_with "File too large" cp "$T/huge.eml" "$MNT/Bulk/"
check "…nothing was added on the server" test "$(ic count Bulk)" -eq "$before"
saved=$(ls "$MAILFS_CACHE"/unsent/ 2>/dev/null | grep huge.eml | head -1)
check "…its bytes are kept in the cache's unsent/ directory" \
	cmp -s "$T/huge.eml" "$MAILFS_CACHE/unsent/$saved"
check "…and the log says where" grep -q "kept in $MAILFS_CACHE/unsent/" "$T/mailfs-0.log"

# Written through two descriptors: the error of the APPEND at the second
# close() comes back from that close() (SPEC §2).
blob "$T/grown.eml" grown 400
out=$("$PY" - "$MNT/Bulk/grown.eml" "$T/grown.eml" <<'EOF'
import os, sys
data = open(sys.argv[2], "rb").read()
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
os.write(fd, data[:2000])
os.close(os.dup(fd))           # a small message: stored (raises if not)
os.write(fd, data[2000:])
try:
    os.close(fd)               # now over the size limit
    print("ok")
except OSError as e:
    print(e.strerror)
EOF
)
check "two descriptors: the failing APPEND of the last close() is its error ($out)" \
	test "$out" = "File too large"
check "…its bytes are kept" bash -c "ls '$MAILFS_CACHE/unsent/' | grep -q grown.eml"

before=$(ic count Bulk)
n=0 got=""
for i in 1 2 3 4 5 6 7 8; do
	blob "$T/m$i.eml" "fill-$i" 250
	if ! err=$(cp "$T/m$i.eml" "$MNT/Bulk/" 2>&1); then got=$err; n=$i; break; fi
done
check "over quota: close() fails with EDQUOT ($got)" grep -q "Disk quota exceeded" <<<"$got"
check "…the refused message is not on the server" test -z "$(ic has-message-id Bulk "<fill-$n@t>")"
check "…the accepted ones are, once each" test "$(ic count Bulk)" -eq $((before + n - 1))
check "…its bytes are kept" bash -c "ls '$MAILFS_CACHE/unsent/' | grep -q m$n.eml"

check "the mount equals the server" ic verify "$MNT"

# A folder deleted by another client before the mount noticed: TRYCREATE.
ic create Gone > /dev/null
cache=$MAILFS_CACHE
unmount_mailfs "$MNT"
mount_mailfs "$MNT" "imaps://$USER_NAME@localhost:$IMAPS_PORT" -o "cafile=$T/dovecot/ca.pem,cache_dir=$cache" || fail "remount"
MAILFS_CACHE=$cache
check "the new folder is there" test -d "$MNT/Gone"
ic delete Gone > /dev/null
blob "$T/late.eml" late 1
check "APPEND to a folder deleted meanwhile: close() fails with ENOENT" \
	fails_with "No such file or directory" cp "$T/late.eml" "$MNT/Gone/"
check "…its bytes are kept" bash -c "ls '$MAILFS_CACHE/unsent/' | grep -q late.eml"

finish

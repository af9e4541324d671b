#!/usr/bin/env bash
# Issue 13, views: fs/engine/render.c beside a real Dovecot. The tricky
# messages of tests/unit/render_fixtures.h are APPENDed to a private Dovecot;
# for each, structcheck.py compares Dovecot's BODYSTRUCTURE with
# render_structure() of the same bytes, Dovecot's BODY[n] and BODY[n.HEADER]
# with what render_message_source() cuts out, and the text view built from
# Dovecot's structure and the sections render_text_needs() lists (fetched
# from Dovecot, nothing else) with the one built from the whole message:
# the two must be the same, byte for byte, as must the part names. No FUSE
# mount here: this checks the pure module against the server.
. "$(dirname "$0")/lib.sh"

command -v dovecot >/dev/null || skip "dovecot missing (install dovecot-imapd dovecot-pop3d)"
SC=${STRUCTCHECK:-$TOP/build/structcheck}
# Built (or brought up to date) here: a stale one would test old code.
[ -n "${STRUCTCHECK:-}" ] || make -C "$TOP" --no-print-directory structcheck >/dev/null ||
	{ say "FAIL: structcheck cannot be built"; exit 1; }
T=$(mktemp -d /tmp/mailfs-test.XXXXXX)
chmod 755 "$T"
trap cleanup EXIT
trap 'exit 130' INT TERM

dovecot_start
mkdir -p "$T/fixtures" "$T/work"
check "the fixtures are written" "$SC" fixtures "$T/fixtures"
"$PY" "$TOP/tests/integration/structcheck.py" --port "$IMAP_PORT" --user "$USER_NAME" \
	--password "$PASSWORD" --bin "$SC" --work "$T/work" "$T"/fixtures/*.eml > "$T/out" 2>&1
rc=$?
cat "$T/out"
[ $rc -eq 0 ] || fail "structcheck.py found differences (exit $rc)"
# Every fixture went through all four checks (a crash of structcheck.py
# would leave some unchecked without a FAIL line).
n=$(ls "$T"/fixtures/*.eml | wc -l)
check "all $n fixtures checked" test "$(grep -c '^checked: ' "$T/out")" -eq "$n"
finish

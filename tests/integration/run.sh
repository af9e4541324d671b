#!/usr/bin/env bash
# Run every integration test (tests/integration/t_*.sh), or those named.
# Exit 77 from a test means SKIP, said out loud; any other non-zero is a
# failure. A skip proves nothing, so skips are counted (a test that exits
# 77, each "SKIP:" line a test prints for a part it could not run, and
# /dev/fuse out of reach) and fail the run, unless ALLOW_SKIP=1 says the
# person running it accepts them.
cd "$(dirname "$0")" || exit 1
tests=("$@")
[ ${#tests[@]} -gt 0 ] || tests=(t_*.sh)
pass=0 fail=0 skip=0 failed=() skipped=()
peak=0 peak_test="" peak_line=""   # the most connections Dovecot saw (lib.sh)
if [ "$(id -u)" -ne 0 ] && [ ! -w /dev/fuse ]; then
	echo "SKIP: integration tests need /dev/fuse access"
	skip=$((skip + 1)); skipped+=("/dev/fuse: no access")
fi
out=$(mktemp /tmp/mailfs-run.XXXXXX) || exit 1
trap 'rm -f "$out"' EXIT
for t in "${tests[@]}"; do
	start=$(date +%s)
	echo "== $t"
	# Into a file, shown as it grows: a daemon a test leaves behind may hold
	# the output open, which a pipe's reader would wait for.
	bash "./$t" > "$out" 2>&1 &
	tpid=$!
	tail -n +1 -s 0.2 -f --pid="$tpid" "$out"
	wait "$tpid"
	rc=$?
	secs=$(( $(date +%s) - start ))
	case $rc in
	0) pass=$((pass + 1)); echo "== $t: PASS (${secs}s)";;
	77) echo "== $t: SKIP (${secs}s)";;
	*) fail=$((fail + 1)); failed+=("$t"); echo "== $t: FAIL (${secs}s)";;
	esac
	while IFS= read -r line; do
		line=${line#SKIP: }
		skip=$((skip + 1)); skipped+=("$t: ${line#"${t%.sh}: "}")
	done < <(grep '^SKIP: ' "$out")
	while read -r _ _ tn _ _ n _; do
		[ "${n:-0}" -gt "${peak:-0}" ] 2>/dev/null && { peak=$n; peak_test=${tn%:}; peak_line=1; }
	done < <(grep '^server connections: ' "$out")
	if [ $rc -eq 77 ] && ! grep -q '^SKIP: ' "$out"; then
		skip=$((skip + 1)); skipped+=("$t: (exit 77)")
	fi
done
echo "integration: $pass passed, $fail failed, $skip skipped"
[ -n "$peak_line" ] && echo "largest number of connections the server saw at once:" \
	"$peak (TLS, from the mounts; $peak_test), from Dovecot's log (peakconn.py)"
for s in "${skipped[@]}"; do echo "  skipped: $s"; done
[ $fail -eq 0 ] || { echo "failed: ${failed[*]}"; exit 1; }
if [ $skip -gt 0 ] && [ "${ALLOW_SKIP:-}" != 1 ]; then
	echo "integration: what was skipped was not tested: install what is missing" \
	     "(make deps) and run again, or accept the skips with ALLOW_SKIP=1"
	exit 1
fi
exit 0

#!/usr/bin/env bash
# Run every integration test (tests/integration/t_*.sh), or those named.
# Exit 77 from a test means SKIP, said out loud; any other non-zero is a
# failure.
cd "$(dirname "$0")" || exit 1
if [ "$(id -u)" -ne 0 ] && [ ! -w /dev/fuse ]; then
	echo "SKIP: integration tests need /dev/fuse access"
fi
tests=("$@")
[ ${#tests[@]} -gt 0 ] || tests=(t_*.sh)
pass=0 fail=0 skip=0 failed=()
for t in "${tests[@]}"; do
	start=$(date +%s)
	echo "== $t"
	bash "./$t"
	rc=$?
	secs=$(( $(date +%s) - start ))
	case $rc in
	0) pass=$((pass + 1)); echo "== $t: PASS (${secs}s)";;
	77) skip=$((skip + 1)); echo "== $t: SKIP (${secs}s)";;
	*) fail=$((fail + 1)); failed+=("$t"); echo "== $t: FAIL (${secs}s)";;
	esac
done
echo "integration: $pass passed, $fail failed, $skip skipped"
[ $fail -eq 0 ] || { echo "failed: ${failed[*]}"; exit 1; }

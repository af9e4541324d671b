# common.sh - what the benchmark scripts share (sourced after lib.sh):
# timing, progress notes, and giving up when a measurement would mean
# nothing. BENCH_T0 is set by the sourcing script.

elapsed_since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.6f", b - a }'; }
note() { printf '[%7.1fs] %s\n' "$(elapsed_since "$BENCH_T0")" "$*" >&2; }
# Something broke: the numbers would mean nothing. The EXIT trap (lib.sh's
# cleanup) unmounts and stops everything, and keeps $T, as FAILS > 0.
broken() {
	say "BENCH BROKEN: $*"
	FAILS=$((FAILS + 1))
	local l
	for l in "$T"/mailfs-*.log; do
		[ -s "$l" ] && { say "--- $l (last lines)"; tail -n 15 "$l"; }
	done
	exit 1
}
# tm VAR CMD...: run CMD, put its wall time in seconds in VAR; CMD's status.
tm() {
	local __var=$1 __t0 __rc; shift
	__t0=$EPOCHREALTIME
	"$@"
	__rc=$?
	printf -v "$__var" '%s' "$(elapsed_since "$__t0")"
	return $__rc
}

# The lines both tables begin with: the machine and the mailfs measured.
bench_machine() {
	local rev
	rev=$(git -C "$TOP" rev-parse --short HEAD 2>/dev/null || echo "?")
	git -C "$TOP" diff --quiet HEAD -- fs net cache 2>/dev/null || rev="$rev+uncommitted"
	say "kernel:  $(uname -srm)"
	say "CPUs:    $(nproc) x $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
	say "memory:  $(awk '/^MemTotal/ { printf "%.1f GB", $2 / 1048576 }' /proc/meminfo)"
	say "mailfs:  $("$MAILFS" --version 2>&1 | head -n 1) ($rev)"
}

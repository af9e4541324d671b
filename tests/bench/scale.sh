#!/usr/bin/env bash
# make bench SCALE=N[,N...]: the scale targets of SPEC §7 (issue 16), each
# measured in the same run as its reference, on a private Dovecot on loopback.
#
#   tests/bench/scale.sh 200000,1000000
#
# Not part of the default `make bench`: on 2 CPUs, 200,000 messages take
# under 2 minutes and 1,000,000 about 8.5, most of it writing the messages
# and deleting them again. For each N, in the order given:
#
#   - a folder "ScaleN" of N small messages (gen_mailbox.py small20k: 1-4 KB,
#     plain text) is written straight into the private Dovecot's Maildir (an
#     IMAP APPEND of a million messages would take hours), without a
#     dovecot-uidlist: Dovecot assigns the UIDs at the first SELECT, which
#     takes about a second for 200,000 files, far less than writing them.
#     Dovecot runs with `service imap { vsz_limit = 4G }`: with its default
#     of 256 MB it drops the connection on a Maildir folder of a million.
#   - one untimed raw FETCH of the metadata builds Dovecot's index and cache,
#     so that every timed run below meets the same server state;
#   - the reference: one raw `UID FETCH 1:*` (rawfetch.py, over IMAPS, after
#     ENABLE QRESYNC as mailfs does) of exactly the items mailfs asks for a
#     new message (META_ITEMS in fs/engine/drivers/imapd_sync.c); it also
#     gives the server's UIDs;
#   - mount 1, on an empty cache: first `ls -l`, then a second (warm) one,
#     then two `ls -l` at once; against native `ls -l` (and two at once) of
#     the Maildir folder's cur/ (page cache warm for both sides). mailfs lets
#     the kernel keep a listing (cache_readdir), so the warm listings of
#     mount 1 are answered by the kernel, not the daemon;
#   - mount 2, a remount on that cache: first `ls`, against native `ls`;
#   - mount 3, another remount on that cache: two `ls -l` at once as its
#     first listings, so that both reach the daemon together; against two
#     native `ls -l` at once;
#   - the daemon's peak RSS (VmHWM in /proc/PID/status) of each mount, read
#     before its unmount (and, for mount 1, after the first `ls -l` too);
#   - every listing is checked: as many entries as N, and the UIDs in the
#     names ("<10-digit UID> <subject>.eml", fs/engine/layout.c) are exactly
#     the server's (from the raw FETCH). A listing that is short, long or
#     wrong makes the run BROKEN, as does a failed mount or command.
#
# One run of each measurement per size (no median: at 1,000,000 a run of
# everything takes minutes); the table says so. Prints the environment and
# one table (the sizes one after the other, so that growth shows); writes
# tests/bench/out/scale.txt and scale.csv, and the mailfs logs into
# tests/bench/out/scale-logs/. Exits 0 whether or not the targets are met,
# non-zero when something broke.

set -u
export LC_ALL=C
BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$BENCH_DIR/../.." && pwd)

usage() { echo "usage: $0 N[,N...]   (e.g. 200000,1000000)" >&2; exit 2; }
[ $# = 1 ] || usage
IFS=, read -r -a SIZES <<< "$1"
[ ${#SIZES[@]} -gt 0 ] || usage
for n in "${SIZES[@]}"; do
	case $n in ''|*[!0-9]*|0*) echo "scale: '$n' is not a positive number of messages" >&2; usage;; esac
done

. "$TOP/tests/integration/lib.sh"
TEST_NAME=bench-scale
OUT="$BENCH_DIR/out"
LOGS="$OUT/scale-logs"
TXT="$OUT/scale.txt"
CSV="$OUT/scale.csv"
rm -rf "$LOGS"
mkdir -p "$LOGS"
BENCH_T0=$EPOCHREALTIME

. "$BENCH_DIR/common.sh"

setup
DOVECOT_EXTRA='service imap {
  vsz_limit = 4G
}'
note "starting Dovecot (an empty account; each size adds its folder)"
dovecot_start
URL="imaps://$USER_NAME@localhost:$IMAPS_PORT"
CA="$T/dovecot/ca.pem"
MNT="$T/mnt"
printf '%s\n' "$PASSWORD" > "$T/pw"; chmod 600 "$T/pw"

# What mailfs asks for every new message (imapd_sync.c, META_ITEMS).
META_ITEMS='(UID FLAGS RFC822.SIZE INTERNALDATE BODY.PEEK[HEADER.FIELDS (SUBJECT MESSAGE-ID)])'
rawfetch() {
	"$PY" "$BENCH_DIR/rawfetch.py" --host 127.0.0.1 --port "$IMAPS_PORT" --user "$USER_NAME" \
		--password-file "$T/pw" --cafile "$CA" --enable QRESYNC --items "$META_ITEMS" "$@"
}

hwm() {     # hwm: the daemon's VmHWM in kB (it must still run)
	local k
	k=$(awk '/^VmHWM:/ { print $2 }' "/proc/$MAILFS_PID/status" 2>/dev/null)
	[ -n "$k" ] || broken "mailfs (pid $MAILFS_PID) is gone"
	echo "$k"
}
scale_mount() {     # scale_mount CACHE_DIR
	mount_mailfs "$MNT" "$URL" -o "cafile=$CA,cache_dir=$1" || broken "mailfs did not mount"
}
scale_umount() {
	unmount_mailfs "$MNT" || broken "unmount failed"
}

# UIDs of a listing, one a line, in UID order. ls -l: the name is from the
# 9th field on, and its first word is the zero-padded UID ("0000000042" or
# "0000000042.eml"); plain ls: one name a line.
uids_ls_l() { awk '!/^total / { u = $9; sub(/[^0-9].*/, "", u); print u + 0 }' "$1" | sort -n; }
uids_ls()   { awk '{ u = $0; sub(/[^0-9].*/, "", u); print u + 0 }' "$1" | sort -n; }
entries()   { grep -vc '^total ' "$1"; }
# check_listing WHAT FILE KIND N: FILE (output of ls -l or ls, KIND l or 1)
# lists exactly the server's N messages.
check_listing() {
	local what=$1 file=$2 kind=$3 n=$4 got
	got=$(entries "$file")
	[ "$got" = "$n" ] || broken "$what: $got entries, the server has $n messages"
	if [ "$kind" = l ]; then uids_ls_l "$file"; else uids_ls "$file"; fi > "$T/uids.mount"
	cmp -s "$T/uids.mount" "$T/uids.server" ||
		broken "$what: the UIDs in the names are not the server's" \
		       "($(diff "$T/uids.mount" "$T/uids.server" | grep -c '^[<>]') lines differ)"
}
# both CMD1 CMD2 OUT1 OUT2: run two listings at once (each > its OUT).
both() {
	local p1 p2 rc=0
	"$1" > "$3" & p1=$!
	"$2" > "$4" & p2=$!
	wait "$p1" || rc=1
	wait "$p2" || rc=1
	return $rc
}

# Rows: "N<tab>label<tab>unit<tab>mailfs<tab>reference<tab>target<tab>kind";
# kind says how the target is judged (the table's awk).
ROWS=()
SIZE_INFO=()        # "N|seconds to write|bytes|seconds of the first FETCH|cache kB"
SIZE_SECS=()        # "N|seconds for this size"
mb() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
rowadd() { ROWS+=("$1"$'\t'"$2"$'\t'"$3"$'\t'"$4"$'\t'"$5"$'\t'"$6"$'\t'"$7"); }

for N in "${SIZES[@]}"; do
	t_size0=$EPOCHREALTIME
	F="Scale$N"
	FD="$MAILDIR/$F"

	# --- the folder ---------------------------------------------------------
	note "$N: writing $N messages into the Maildir folder $F"
	stage="$T/stage-$N"
	tm t_seed "$PY" "$GEN" --maildir "$stage" --profile small20k --count "$N" >/dev/null ||
		broken "gen_mailbox.py could not write $N messages"
	mv "$stage/Bulk" "$FD" && rm -rf "$stage" && ${AS_ROOT:-} chown -R dovecot: "$FD" ||
		broken "cannot move the folder into the Maildir"
	bytes=$(find "$FD/cur" -type f -printf '%s\n' | awk '{ s += $1 } END { printf "%.0f", s }')
	note "$N: written in $(printf '%.1f' "$t_seed") s ($bytes bytes); the server's first access"
	tm t_index rawfetch --uids "$T/uids.first" "$F" > "$T/raw.txt" ||
		broken "the first raw FETCH of $F failed"
	read -r _ _ _ n < "$T/raw.txt"
	[ "$n" = "$N" ] || broken "the first raw FETCH of $F returned $n messages, not $N"

	# --- references -----------------------------------------------------------
	note "$N: raw UID FETCH of the metadata mailfs asks for"
	rawfetch --uids "$T/uids.raw" "$F" > "$T/raw.txt" || broken "the raw FETCH of $F failed"
	read -r _ t_raw raw_bytes n < "$T/raw.txt"
	[ "$n" = "$N" ] || broken "the raw FETCH of $F returned $n messages, not $N"
	sort -n "$T/uids.raw" > "$T/uids.server"
	[ "$(wc -l < "$T/uids.server")" = "$N" ] || broken "the raw FETCH gave $(wc -l < "$T/uids.server") UIDs"
	cmp -s "$T/uids.server" <(sort -n "$T/uids.first") || broken "the server's UIDs changed between two FETCHes"
	note "$N:   $t_raw s, $raw_bytes bytes"

	native_l() { ls -l "$FD/cur"; }
	native_1() { ls "$FD/cur"; }
	native_l > "$T/native.out" || broken "ls -l of the Maildir failed"   # the page cache, warm
	native_l > "$T/native.out" || broken "ls -l of the Maildir failed"
	tm t_native_l native_l > "$T/native.out" || broken "ls -l of the Maildir failed"
	[ "$(entries "$T/native.out")" = "$N" ] || broken "the Maildir's cur/ holds $(entries "$T/native.out") files"
	tm t_native_2 both native_l native_l "$T/native1.out" "$T/native2.out" ||
		broken "two ls -l of the Maildir failed"
	tm t_native_1 native_1 > "$T/native.out" || broken "ls of the Maildir failed"
	note "$N:   native ls -l $t_native_l s, two at once $t_native_2 s, ls $t_native_1 s"

	# --- the first mount, on an empty cache -------------------------------------
	cache="$T/cache-scale-$N"
	rm -rf "$cache"
	sync
	scale_mount "$cache"
	mnt_l() { ls -l "$MNT/$F"; }
	mnt_1() { ls "$MNT/$F"; }
	note "$N: mount 1 (empty cache): first ls -l"
	tm t_first mnt_l > "$T/ls1.out" || broken "the first ls -l of $F failed"
	hwm_first=$(hwm)
	note "$N:   $t_first s; VmHWM $hwm_first kB"
	check_listing "first ls -l of $F" "$T/ls1.out" l "$N"
	tm t_warm mnt_l > "$T/ls2.out" || broken "the second ls -l of $F failed"
	check_listing "warm ls -l of $F" "$T/ls2.out" l "$N"
	note "$N:   warm ls -l $t_warm s"
	tm t_two both mnt_l mnt_l "$T/ls3.out" "$T/ls4.out" || broken "two ls -l of $F at once failed"
	check_listing "warm ls -l of $F (one of two at once)" "$T/ls3.out" l "$N"
	check_listing "warm ls -l of $F (the other of two at once)" "$T/ls4.out" l "$N"
	hwm_mount1=$(hwm)
	note "$N:   two warm ls -l at once $t_two s; VmHWM $hwm_mount1 kB"
	scale_umount
	cache_kb=$(du -sk "$cache" | awk '{ print $1 }')

	# --- the remount, on that cache --------------------------------------------
	scale_mount "$cache"
	note "$N: mount 2, a remount (cache kept, $cache_kb kB): first ls"
	tm t_re mnt_1 > "$T/ls5.out" || broken "ls of $F after the remount failed"
	check_listing "ls of $F after the remount" "$T/ls5.out" 1 "$N"
	hwm_mount2=$(hwm)
	note "$N:   $t_re s; VmHWM $hwm_mount2 kB"
	scale_umount

	# --- mount 3: two first listings at once, both served by the daemon ---------
	scale_mount "$cache"
	note "$N: mount 3, a remount (cache kept): two ls -l at once"
	tm t_two3 both mnt_l mnt_l "$T/ls6.out" "$T/ls7.out" || broken "two ls -l of $F at once failed"
	check_listing "ls -l of $F on mount 3 (one of two at once)" "$T/ls6.out" l "$N"
	check_listing "ls -l of $F on mount 3 (the other of two at once)" "$T/ls7.out" l "$N"
	hwm_mount3=$(hwm)
	note "$N:   $t_two3 s; VmHWM $hwm_mount3 kB"
	scale_umount
	cp "$T"/mailfs-*.log "$LOGS/" 2>/dev/null

	# --- this size's rows; its folder and cache go ------------------------------
	rowadd "$N" "first ls -l $F, empty cache | raw UID FETCH" s "$t_first" "$t_raw" "<= 2x" x2
	rowadd "$N" "ls -l $F, warm | native ls -l of cur/" s "$t_warm" "$t_native_l" "<= 1.0x" x1
	rowadd "$N" "two ls -l at once, warm (kernel cache) | two native" s "$t_two" "$t_native_2" "-" info
	rowadd "$N" "remount, first ls | native ls" s "$t_re" "$t_native_1" "-" info
	rowadd "$N" "remount, two first ls -l at once | two native" s \
		"$t_two3" "$t_native_2" "-" info
	rowadd "$N" "peak RSS (VmHWM), mount 1 after its first ls -l" MB "$(mb "$hwm_first")" - "<= 64 MB" mb64
	rowadd "$N" "peak RSS, mount 1 (first, warm, two warm at once)" MB "$(mb "$hwm_mount1")" - \
		"<= 64 MB" mb64
	rowadd "$N" "peak RSS, mount 2 (remount, first ls)" MB "$(mb "$hwm_mount2")" - "<= 64 MB" mb64
	rowadd "$N" "peak RSS, mount 3 (remount, two ls -l at once)" MB "$(mb "$hwm_mount3")" - \
		"<= 64 MB" mb64
	SIZE_INFO+=("$N|$t_seed|$bytes|$t_index|$cache_kb")
	rm -rf "$cache" "$FD"
	SIZE_SECS+=("$N|$(elapsed_since "$t_size0")")
	note "$N: done in $(printf '%.0f' "$(elapsed_since "$t_size0")") s"
done

# --- the table ---------------------------------------------------------------------
{
	say "== mailfs benchmark, scale (SPEC §7, issue 16): make bench SCALE=$1"
	bench_machine
	say "server:  Dovecot $(dovecot --version | awk '{ print $1 }') on 127.0.0.1, IMAPS (TLS)," \
		"service imap { vsz_limit = 4G }"
	say "runs:    ONE run per row (no median); mailfs and reference in the same run"
	say "raw:     rawfetch.py, ENABLE QRESYNC, UID FETCH 1:* $META_ITEMS"
	for s in "${SIZE_INFO[@]}"; do
		IFS='|' read -r n ts by ti ck <<< "$s"
		printf 'Scale%s: %s messages, %s bytes, written in %.1f s; the server'"'"'s first FETCH' \
			"$n" "$n" "$by" "$ts"
		printf ' (index built) %.1f s; mailfs cache %.1f MB\n' "$ti" "$(awk -v k="$ck" 'BEGIN { print k / 1024 }')"
	done
	say ""
	say "== results: one run each; ratio = mailfs / reference"
	printf '%-8s %-52s %10s %10s %6s  %-9s %s\n' N row mailfs reference ratio target met
	printf 'N,row,mailfs,reference,ratio,target,met\n' > "$CSV"
	prev=""
	for r in "${ROWS[@]}"; do
		IFS=$'\t' read -r n label unit m ref target kind <<< "$r"
		[ -n "$prev" ] && [ "$prev" != "$n" ] && say ""
		prev=$n
		awk -v n="$n" -v label="$label" -v unit="$unit" -v m="$m" -v r="$ref" \
			-v target="$target" -v kind="$kind" -v csv="$CSV" 'BEGIN {
			ratio = (r == "-" || r + 0 == 0) ? "-" : sprintf("%.2f", m / r)
			if (kind == "x2")        met = (m <= 2 * r) ? "yes" : "NO"
			else if (kind == "x1")   met = (m <= r) ? "yes" : "NO"
			else if (kind == "mb64") met = (m <= 64) ? "yes" : "NO"
			else                     met = "-"
			fmt = (unit == "s") ? "%.3f" : "%.1f"
			ms = sprintf(fmt, m); rs = (r == "-") ? "-" : sprintf(fmt, r)
			printf "%-8s %-52s %10s %10s %6s  %-9s %s\n", n, label, ms " " unit, \
				(rs == "-" ? "-" : rs " " unit), ratio == "-" ? "-" : ratio "x", target, met
			printf "%s,\"%s [%s]\",%s,%s,%s,%s,%s\n", n, label, unit, ms, rs, ratio, target, met >> csv
		}'
	done
	say ""
	for s in "${SIZE_SECS[@]}"; do
		IFS='|' read -r n secs <<< "$s"
		printf 'Scale%s took %.0f s (writing the folder included)\n' "$n" "$secs"
	done
	say "total: $(printf '%.0f' "$(elapsed_since "$BENCH_T0")") s; CSV: $CSV; mailfs logs: $LOGS"
} | tee "$TXT"

cleanup
trap - EXIT
exit 0

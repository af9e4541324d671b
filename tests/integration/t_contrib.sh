#!/usr/bin/env bash
# "Fit the user's system": the man page (contrib/mailfs.1), the systemd user
# unit (contrib/mailfs@.service), the bash completion
# (contrib/mailfs.bash-completion) and `make install`, which installs them.
# Only the last part, which runs the unit's commands for real, needs FUSE and
# Dovecot; a check whose tool is missing says SKIP and the rest still runs.
. "$(dirname "$0")/lib.sh"

[ -x "$MAILFS" ] || { say "FAIL: $MAILFS not built"; exit 1; }
T=$(mktemp -d /tmp/mailfs-test.XXXXXX)
trap cleanup EXIT
trap 'exit 130' INT TERM

MANPAGE="$TOP/contrib/mailfs.1"
UNIT="$TOP/contrib/mailfs@.service"
COMPL="$TOP/contrib/mailfs.bash-completion"
skip_check() { say "SKIP: $TEST_NAME: $*"; }

# ---- what the man page has to cover ------------------------------------------

# Every option that `mailfs --help` lists: the -o names of its "mailfs
# options" section, and the dashed options of its "general options".
HELP=$("$MAILFS" --help)
MAIL_OPTS=$(sed -n '/^mailfs options/,/^$/s/^    \([a-z0-9_]\{1,\}\).*/\1/p' <<<"$HELP")
GEN_OPTS=$(sed -n '/^general options/,/^$/p' <<<"$HELP" | grep -oE '(^| )--?[a-zA-Z]+' | tr -d ' ')
# Every key of the account file (fs/config.c: its string and flag tables,
# and the two numbers).
CONFIG_KEYS=$(grep -oE '\{ "[a-z0-9_]+", offsetof' "$TOP/fs/config.c" | cut -d'"' -f2;
              grep -oE 'strcmp\(key, "[a-z0-9_]+"\)' "$TOP/fs/config.c" | cut -d'"' -f2)
check "mailfs --help lists options ($(wc -w <<<"$MAIL_OPTS") -o, $(wc -w <<<"$GEN_OPTS") general)" \
	test "$(wc -w <<<"$MAIL_OPTS")" -ge 12 -a "$(wc -w <<<"$GEN_OPTS")" -ge 6
check "fs/config.c has account keys ($(wc -w <<<"$CONFIG_KEYS"))" \
	test "$(wc -w <<<"$CONFIG_KEYS")" -ge 15

# ---- (a) the man page --------------------------------------------------------

renders_clean() {   # renders_clean CMD...: status 0 and nothing on stderr
	local err
	err=$("$@" 2>&1 >/dev/null) || { say "(failed: $err)"; return 1; }
	[ -z "$err" ] || { say "(warnings: $err)"; return 1; }
}

if command -v groff >/dev/null; then
	check "groff -man -ww renders the man page without a warning (UTF-8)" \
		renders_clean groff -man -Tutf8 -ww -z "$MANPAGE"
	check "…and in a C locale (ASCII)" \
		renders_clean env LC_ALL=C groff -man -Tascii -ww -z "$MANPAGE"
	# Plain text, no hyphenation at line ends: what a reader searches.
	TEXT=$(LC_ALL=C groff -man -Tascii -P-cbou "$MANPAGE" 2>/dev/null)
	# Each option has its own entry (a tagged paragraph) under OPTIONS.
	OPTIONS_TEXT=$(sed -n '/^OPTIONS/,/^[A-Z]/p' <<<"$TEXT")
	missing=""
	for o in $MAIL_OPTS; do
		grep -qE -- "^ {7}$o(=[A-Z]+)?\$" <<<"$OPTIONS_TEXT" || missing="$missing $o"
	done
	for o in $GEN_OPTS; do
		grep -qE -- "^ {7}(-[a-zA-Z], )?$o( |,|\$)" <<<"$OPTIONS_TEXT" || missing="$missing $o"
	done
	check "the man page describes every option of mailfs --help${missing:+ (missing:$missing)}" \
		test -z "$missing"
	ACCOUNT_TEXT=$(sed -n '/^ACCOUNT FILE/,/^[A-Z]/p' <<<"$TEXT")
	missing=""
	for k in $CONFIG_KEYS; do
		if grep -qxF "$k" <<<"$MAIL_OPTS"; then
			grep -qE "(^|[^a-z0-9_])$k([^a-z0-9_]|$)" <<<"$TEXT" || missing="$missing $k"
		else
			# url, mountpoint, password: only in the account file.
			grep -qE "(^|[^a-z0-9_])$k=" <<<"$ACCOUNT_TEXT" || missing="$missing $k"
		fi
	done
	check "the man page names every key of the account file${missing:+ (missing:$missing)}" \
		test -z "$missing"
	missing=""
	for s in NAME SYNOPSIS DESCRIPTION OPTIONS "THE TREE" "FILE OPERATIONS" POP3 \
	         "THE CACHE" "ACCOUNT FILE" "MOUNTING WITH MOUNT(8) AND FSTAB" SYSTEMD \
	         ENVIRONMENT FILES "EXIT STATUS" SECURITY EXAMPLES "SEE ALSO"; do
		grep -qxF "$s" <<<"$TEXT" || missing="$missing [$s]"
	done
	check "the man page has every section${missing:+ (missing:$missing)}" test -z "$missing"
	for w in user.mail.flags user.mail.uid user.mail.message_id user.pop3.uidl \
	         .mailfs-status fusermount3 mount.fuse3 mbsync "fuse.mailfs noauto,user,_netdev" \
	         "systemctl --user enable --now mailfs@work" XDG_CONFIG_HOME "chmod 600"; do
		check "the man page mentions $w" grep -qF -- "$w" <<<"$TEXT"
	done
	version=$("$MAILFS" --version | awk '{ print $2 }')
	check "the man page is of this version ($version)" \
		grep -qE "^\.TH MAILFS 1 \"[0-9-]+\" \"mailfs $version\"" "$MANPAGE"
else
	skip_check "groff is not installed (contrib/install-deps.sh installs groff-base)"
fi
if command -v man >/dev/null; then
	check "man -l contrib/mailfs.1 shows the page without a warning" \
		renders_clean env MANWIDTH=80 MANPAGER=cat PAGER=cat man -l "$MANPAGE"
	check "…and it is the mailfs page" \
		bash -c 'MANPAGER=cat man -l "$1" 2>/dev/null | grep -q "mailfs - mount an IMAP or POP3"' \
		_ "$MANPAGE"
else
	skip_check "man is not installed (contrib/install-deps.sh installs man-db)"
fi
if command -v mandoc >/dev/null; then
	check "mandoc -Tlint finds nothing to say" \
		bash -c 'out=$(mandoc -Tlint -Wwarning "$1" 2>&1); [ -z "$out" ] || { echo "$out"; exit 1; }' \
		_ "$MANPAGE"
else
	skip_check "mandoc is not installed: no mandoc -Tlint (optional)"
fi

# ---- (e) plain `make` installs what building needs (README: make && sudo
# make install on a fresh machine). On this machine everything is there, so
# the script runs against fake dpkg-query and apt-get that say libfuse3-dev
# is missing and record what they were asked.
FAKE="$T/fakebin"; mkdir -p "$FAKE"
cat > "$FAKE/dpkg-query" <<'EOF'
#!/bin/sh
for a; do last=$a; done
[ "$last" = libfuse3-dev ] && { printf 'not-installed'; exit 0; }
printf installed
EOF
cat > "$FAKE/apt-get" <<EOF
#!/bin/sh
echo "\$*" >> "$T/apt.log"
EOF
chmod +x "$FAKE/dpkg-query" "$FAKE/apt-get"
: > "$T/apt.log"
if [ "$(id -u)" -eq 0 ]; then
	check "install-deps.sh --build installs what is missing" \
		env PATH="$FAKE:$PATH" sh "$TOP/contrib/install-deps.sh" --build
	check "…after apt-get update" grep -q "^update" "$T/apt.log"
	check "…only libfuse3-dev" grep -qE "^install .* libfuse3-dev\$" "$T/apt.log"
else
	say "SKIP: not root: install-deps.sh would go through sudo"
fi
check "plain make runs it before compiling" \
	bash -c 'make -C "$1" -n -B mailfs | head -3 | grep -q "install-deps.sh --build"' _ "$TOP"

# ---- (d) make install (first: (b) verifies the installed unit) ----------------

INST="$T/inst"
if make -C "$TOP" --no-print-directory install DESTDIR="$INST" PREFIX=/usr \
		>"$T/install.log" 2>&1; then
	pass "make install DESTDIR=… PREFIX=/usr"
else
	fail "make install DESTDIR=… PREFIX=/usr"
	cat "$T/install.log"
fi
check "installs bin/mailfs (executable)" test -x "$INST/usr/bin/mailfs"
check "…which runs" bash -c '"$1" --version | grep -q "^mailfs "' _ "$INST/usr/bin/mailfs"
check "installs the man page" cmp -s "$MANPAGE" "$INST/usr/share/man/man1/mailfs.1"
check "installs the completion" \
	cmp -s "$COMPL" "$INST/usr/share/bash-completion/completions/mailfs"
IUNIT="$INST/usr/lib/systemd/user/mailfs@.service"
check "installs the user unit" test -f "$IUNIT"
check "…with ExecStart on the installed mailfs (/usr/bin/mailfs)" \
	grep -qE '^ExecStart=/usr/bin/mailfs -f ' "$IUNIT"
check "…and otherwise as in contrib/" \
	bash -c 'diff <(grep -v "^ExecStart=" "$1") <(grep -v "^ExecStart=" "$2")' _ "$UNIT" "$IUNIT"
for f in share/man/man1/mailfs.1 share/bash-completion/completions/mailfs \
         lib/systemd/user/mailfs@.service; do
	check "$f has mode 0644" test "$(stat -c %a "$INST/usr/$f" 2>/dev/null)" = 644
done
if command -v man >/dev/null; then
	check "man finds the installed page under its MANPATH" \
		bash -c 'MANPATH="$1" man -w mailfs >/dev/null' _ "$INST/usr/share/man"
fi

# ---- (b) the systemd user unit -------------------------------------------------

prefix=$(sed -n 's/^PREFIX *?= *//p' "$TOP/Makefile")
check "the unit runs mailfs where make install puts it by default ($prefix/bin)" \
	grep -qE "^ExecStart=$prefix/bin/mailfs -f \"?%i\"? \"?%h/Mail/%i\"?\$" "$UNIT"
for line in '^\[Unit\]$' '^\[Service\]$' '^\[Install\]$' '^Description=.' \
            '^After=network-online\.target$' '^Type=simple$' \
            '^ExecStartPre=/usr/bin/mkdir -p "?%h/Mail/%i"?$' \
            '^ExecStop=/usr/bin/fusermount3 -u "?%h/Mail/%i"?$' \
            '^Restart=on-failure$' '^RestartSec=[0-9]+' '^WantedBy=default\.target$' \
            '^# .*systemctl --user enable --now mailfs@'; do
	check "the unit has $line" grep -qE "$line" "$UNIT"
done
if command -v systemd-analyze >/dev/null; then
	# The unit as installed, pointed at the mailfs just built (verify wants
	# every command to exist), with an instance, a runtime directory (a user
	# manager needs one) and the installed man page (Documentation=).
	mkdir -p "$T/unit" "$T/run" "$T/home"
	chmod 700 "$T/run"
	sed "s|^ExecStart=/usr/bin/mailfs |ExecStart=$(readlink -f "$MAILFS") |" "$IUNIT" \
		> "$T/unit/mailfs@.service"
	check "systemd-analyze verify --user: no complaint" \
		renders_clean env XDG_RUNTIME_DIR="$T/run" HOME="$T/home" \
		MANPATH="$INST/usr/share/man" systemd-analyze verify --user "$T/unit/mailfs@work.service"
	# …and it does complain about a broken unit (the check can fail).
	sed 's/^ExecStart=.*/ExecStart=\/nonexistent\/mailfs -f %i/' "$T/unit/mailfs@.service" \
		> "$T/unit/broken@.service"
	check "…which does complain about a broken unit" bash -c '! env "$@" >/dev/null 2>&1' _ \
		XDG_RUNTIME_DIR="$T/run" HOME="$T/home" MANPATH="$INST/usr/share/man" \
		systemd-analyze verify --user "$T/unit/broken@work.service"
else
	skip_check "systemd-analyze is not installed (package systemd): unit only checked by its lines"
fi

# ---- (c) bash completion ---------------------------------------------------------

mkdir -p "$T/xdg/mailfs" "$T/home/.config/mailfs" "$T/mnt" "$T/mnt2"
printf '# accounts\n[work]\nurl = imaps://a@example.org\n\n[ home ]\nurl = pop3s://b@example.org\n' \
	> "$T/xdg/mailfs/config"
printf '[personal]\nurl = imaps://c@example.org\n' > "$T/home/.config/mailfs/config"
: > "$T/ca.pem"
: > "$T/pw"

# comp "LINE": the words that completing at the end of LINE offers, one per
# line, as the user would see them. COMP_WORDS is split the way readline
# does (blanks separate words; a run of other COMP_WORDBREAKS characters is
# a word of its own), and the reply is put back into the whole word (the
# reply replaces only what follows the last COMP_WORDBREAKS character).
comp() {
	env XDG_CONFIG_HOME="$T/xdg" HOME="$T/home" bash --norc --noprofile -c '
		source "$1" || exit 1
		line=$2
		COMP_LINE=$line
		COMP_POINT=${#line}
		COMP_WORDS=() w="" kind=0     # kind: 0 none, 1 word, 2 break chars
		for ((i = 0; i < ${#line}; i++)); do
			c=${line:i:1}
			if [[ $c == [[:space:]] ]]; then
				((kind)) && COMP_WORDS+=("$w")
				w="" kind=0
			elif [[ $COMP_WORDBREAKS == *"$c"* ]]; then
				((kind == 1)) && { COMP_WORDS+=("$w"); w=""; }
				w+=$c kind=2
			else
				((kind == 2)) && { COMP_WORDS+=("$w"); w=""; }
				w+=$c kind=1
			fi
		done
		COMP_WORDS+=("$w")
		COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
		cur=$w
		[[ $kind == 2 ]] && cur=""
		head=${line:0:${#line}-${#cur}}
		head=${head##*[[:space:]]}
		_mailfs
		for r in "${COMPREPLY[@]}"; do printf "%s%s\n" "$head" "$r"; done
	' _ "$COMPL" "$1" | LC_ALL=C sort
}
# offers "LINE" WORD...: completing LINE offers exactly these words.
offers() {
	local line=$1 got want; shift
	got=$(comp "$line" | paste -sd' ')
	want=$(printf '%s\n' "$@" | LC_ALL=C sort | paste -sd' ')
	[ "$got" = "$want" ] || { say "(\"$line\" offers \"$got\", expected \"$want\")"; return 1; }
}

check "the completion loads and registers _mailfs for mailfs" \
	bash --norc --noprofile -c 'source "$1" && complete -p mailfs | grep -q -- "-F _mailfs"' _ "$COMPL"
check "mailfs -o pass → password_command= password_file=" \
	offers "mailfs -o pass" password_command= password_file=
check "mailfs -o poll=5,pre → poll=5,prefetch (the last item of the list)" \
	offers "mailfs -o poll=5,pre" poll=5,prefetch
check "mailfs -opoll=5,ti → -opoll=5,timeout= (attached -o)" \
	offers "mailfs -opoll=5,ti" -opoll=5,timeout=
check "mailfs -o poll=5,password_file=…/p → the file" \
	offers "mailfs -o poll=5,password_file=$T/p" "poll=5,password_file=$T/pw"
check "mailfs -o cafile=…/ca → the file" offers "mailfs -o cafile=$T/ca" "cafile=$T/ca.pem"
check "mailfs -o trash=… → nothing (a folder name)" offers "mailfs -o trash=T"
check "mailfs wo → work (account file under XDG_CONFIG_HOME)" offers "mailfs wo" work
check "mailfs h → home (\"[ home ]\")" offers "mailfs h" home
check "mailfs per → personal (~/.config/mailfs/config without XDG_CONFIG_HOME)" \
	bash -c 'out=$(env -u XDG_CONFIG_HOME HOME="$2" bash --norc --noprofile -c "
		source \"\$1\"; COMP_LINE=\"mailfs per\"; COMP_POINT=10
		COMP_WORDS=(mailfs per); COMP_CWORD=1; _mailfs; echo \"\${COMPREPLY[*]}\"" _ "$1");
		[ "$out" = personal ]' _ "$COMPL" "$T/home"
check "mailfs imaps → imaps://" offers "mailfs imaps" imaps://
check "mailfs imaps: → imaps://" offers "mailfs imaps:" imaps://
check "mailfs pop → pop3:// pop3s://" offers "mailfs pop" pop3:// pop3s://
check "mailfs (first word) → accounts and URL schemes" \
	offers "mailfs " home imap:// imaps:// pop3:// pop3s:// work
check "mailfs -f -o poll=5 wo → work (options before the account)" \
	offers "mailfs -f -o poll=5 wo" work
check "mailfs work …/mn → directories (the mount point)" \
	offers "mailfs work $T/mn" "$T/mnt" "$T/mnt2"
check "mailfs imaps://a@b …/mn → directories" \
	offers "mailfs imaps://a@b.org $T/mn" "$T/mnt" "$T/mnt2"
check "mailfs --v → --version" offers "mailfs --v" --version
check "mailfs - → the dashed options" offers "mailfs -" -o -f -d -h -V --help --version
# As bash fills in COMP_WORDS/COMP_CWORD alone (no COMP_LINE).
check "COMP_WORDS=(mailfs -o pass) → password_command= password_file=" \
	bash -c 'out=$(bash --norc --noprofile -c "source \"\$1\"; COMP_WORDS=(mailfs -o pass)
		COMP_CWORD=2; _mailfs; echo \"\${COMPREPLY[*]}\"" _ "$1");
		[ "$out" = "password_command= password_file=" ]' _ "$COMPL"
# Every option of mailfs --help is offered, with "=" exactly when it takes a value.
ALL=$(comp "mailfs -o ")
missing=""
for o in $MAIL_OPTS; do
	if grep -qE "^    $o=" <<<"$HELP"; then want="$o="; else want=$o; fi
	grep -qxF -- "$want" <<<"$ALL" || missing="$missing $want"
done
check "mailfs -o offers every -o option of mailfs --help${missing:+ (missing:$missing)}" \
	test -z "$missing"

# ---- (e) the unit's commands, run the way systemd runs them ----------------------
# No user manager here (systemd is not PID 1): each Exec line of the unit is
# run with %h, %i and $$ expanded as systemd expands them, against a private
# Dovecot, to see that it mounts, recovers from a killed mailfs, and unmounts
# cleanly (mailfs exits 0).

# unit_cmd KEY [N]: the Nth KEY= line of the unit as a shell command, run
# with the mailfs just built.
unit_cmd() {
	grep "^$1=" "$UNIT" | sed -n "${2:-1}p" | sed -e "s/^$1=-\{0,1\}//" \
		-e "s|%h|$UHOME|g" -e 's/%i/work/g' -e 's/\$\$/$/g' \
		-e "s|^/usr/local/bin/mailfs |$MAILFS |"
}
# unit_run KEY [N]: run it as the unit's user would (HOME, no XDG overrides).
unit_run() {
	env -u XDG_CONFIG_HOME -u XDG_CACHE_HOME HOME="$UHOME" MAINPID="${MAINPID:-}" \
		sh -c "exec $(unit_cmd "$@")"
}
unit_start() {   # ExecStart in the background; MAINPID is mailfs itself
	local cmd
	cmd=$(unit_cmd ExecStart)
	env -u XDG_CONFIG_HOME -u XDG_CACHE_HOME HOME="$UHOME" sh -c "exec $cmd" \
		>>"$T/mailfs-unit.log" 2>&1 &
	MAINPID=$!
	PIDS+=("$MAINPID")
	wait_for "mountpoint -q '$MNT'" 15
}
unit_restart() { unit_run ExecStartPre 2 && unit_start; }
unit_stop_wait() {   # the second ExecStop, given 30 s
	local w i
	unit_run ExecStop 2 &
	w=$!
	for i in $(seq 1 300); do
		kill -0 "$w" 2>/dev/null || { wait "$w"; return; }
		sleep 0.1
	done
	kill "$w"
	return 1
}
stale() { grep -qF " $MNT " /proc/mounts && ! ls "$MNT" >/dev/null 2>&1; }

if [ ! -e /dev/fuse ] || ! command -v fusermount3 >/dev/null || ! command -v dovecot >/dev/null; then
	skip_check "no /dev/fuse, fusermount3 or dovecot: the unit's commands were not run"
else
	chmod 755 "$T"    # Dovecot's auth process reads its passwd file here
	dovecot_start --profile test --count 20
	UHOME="$T/uhome"
	MNT="$UHOME/Mail/work"
	MOUNTS+=("$MNT")
	mkdir -p "$UHOME/.config/mailfs"
	printf '%s\n' "$PASSWORD" > "$T/upw"
	chmod 600 "$T/upw"
	printf '[work]\nurl = imaps://%s@127.0.0.1:%s\npassword_file = %s\ncafile = %s\n' \
		"$USER_NAME" "$IMAPS_PORT" "$T/upw" "$T/dovecot/ca.pem" > "$UHOME/.config/mailfs/config"

	unit_run ExecStartPre 1 >/dev/null 2>&1   # "-": may fail (nothing mounted yet)
	check "ExecStartPre creates ~/Mail/work" unit_run ExecStartPre 2
	check "ExecStart mounts the account on ~/Mail/work" unit_start
	check "…and INBOX is there" test -d "$MNT/INBOX"
	unit_run ExecStartPre 1 >/dev/null 2>&1
	check "ExecStartPre leaves a working mount alone" mountpoint -q "$MNT"

	kill -9 "$MAINPID"
	wait "$MAINPID" 2>/dev/null
	check "a killed mailfs leaves a dead mount" stale
	unit_run ExecStartPre 1 >/dev/null 2>&1
	check "ExecStartPre clears the dead mount (Restart= can mount again)" \
		bash -c '! grep -qF " $1 " /proc/mounts' _ "$MNT"
	check "…and the restarted ExecStart mounts again" unit_restart

	check "ExecStop unmounts" unit_run ExecStop 1
	check "…the second ExecStop returns once mailfs has exited" unit_stop_wait
	check "…so that mailfs was not signalled" bash -c '! kill -0 "$1" 2>/dev/null' _ "$MAINPID"
	if kill -0 "$MAINPID" 2>/dev/null; then    # never wait forever
		fusermount3 -uz "$MNT" 2>/dev/null
		kill "$MAINPID"
	fi
	wait "$MAINPID"
	rc=$?
	check "mailfs exited with status 0 (status $rc)" test "$rc" -eq 0
	check "nothing is left mounted" bash -c '! grep -qF " $1 " /proc/mounts' _ "$MNT"
fi

finish

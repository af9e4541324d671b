#!/usr/bin/env bash
# Issue 11 item 11: once mailfs holds the secret it is not dumpable
# (PR_SET_DUMPABLE 0, SPEC §5). prctl(PR_GET_DUMPABLE) only answers the
# process itself, so the test checks what the flag does: the kernel hands a
# non-dumpable process's /proc/PID files to root, and another process of the
# same user can no longer read them (ptrace access, which /proc/PID/mem and
# core dumps hang on too). mailfs runs as nobody against a server that
# accepts and says nothing, so it is caught holding the password; a `sleep`
# of the same user is the control that shows the reader could read.
#
# And the terminal prompt, which now reads with read(2) into a buffer it
# wipes: it still asks on the terminal, without echo, with a user name whose
# escape sequences are shown, not sent (SPEC §5), and the typed password is
# the one that logs in.
. "$(dirname "$0")/lib.sh"
setup
FAKE="$TOP/tests/integration/fakeimap.py"

# ---- not dumpable ----------------------------------------------------------
if [ "$(id -u)" -ne 0 ]; then
	say "SKIP: $TEST_NAME: not dumpable: needs root to run processes as nobody"
elif ! command -v setpriv >/dev/null; then
	say "SKIP: $TEST_NAME: not dumpable: setpriv (util-linux) missing"
else
	NOBODY=(setpriv --reuid=65534 --regid=65534 --clear-groups)
	# A copy in $T, which nobody may enter: the checkout may be where
	# nobody cannot (under /root).
	cp "$(readlink -f "$MAILFS")" "$T/mailfs-nobody" && chmod 755 "$T/mailfs-nobody"
	check "nobody can run a copy of mailfs" "${NOBODY[@]}" test -x "$T/mailfs-nobody"
	silent=$(pick_port 28000)
	"$PY" -c '
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(5)
conns = []
while True:
    c, _ = s.accept(); conns.append(c)
    open(sys.argv[2], "a").write("accepted\n")
' "$silent" "$T/accepted" &
	PIDS+=($!)
	wait_for "(exec 3<>/dev/tcp/127.0.0.1/$silent) 2>/dev/null" 5
	rm -f "$T/accepted"     # the probe above
	nb="$T/nobody"; mkdir -p "$nb/mnt"
	printf '%s\n' "$PASSWORD" > "$nb/pw"; chmod 600 "$nb/pw"
	chown -R 65534:65534 "$nb"
	"${NOBODY[@]}" "$T/mailfs-nobody" -f "imap://$USER_NAME@127.0.0.1:$silent" "$nb/mnt" \
		-o "password_file=$nb/pw,cache_dir=$nb/cache,tls_insecure_plaintext,timeout=60" \
		>"$T/mailfs-nobody.log" 2>&1 &
	pid=$!      # setpriv execs: this is mailfs
	PIDS+=("$pid")
	"${NOBODY[@]}" sleep 60 &
	control=$!
	PIDS+=("$control")
	check "mailfs (as nobody) read its password and connects" wait_for "test -s '$T/accepted'" 15
	check "…it is still waiting for the greeting" kill -0 "$pid"
	check "control: nobody reads the environment of its own dumpable sleep" \
		quiet "${NOBODY[@]}" cat "/proc/$control/environ"
	check "control: /proc/PID of that sleep belongs to nobody" \
		test "$(stat -c %u "/proc/$control/environ")" = 65534
	check "another process of nobody cannot read mailfs's environment" \
		fails_with "Permission denied" "${NOBODY[@]}" cat "/proc/$pid/environ"
	check "…nor its memory" \
		fails_with "Permission denied" "${NOBODY[@]}" "$PY" -c \
		'import sys; open("/proc/%s/mem" % sys.argv[1], "rb")' "$pid"
	check "…because the kernel gave mailfs's /proc files to root (not dumpable)" \
		test "$(stat -c %u "/proc/$pid/environ")" = 0
	check "mailfs was alive throughout (the refusals were not for a missing process)" \
		kill -0 "$pid"
	kill "$pid" "$control" 2>/dev/null
	wait "$pid" "$control" 2>/dev/null
fi

# ---- the terminal prompt ---------------------------------------------------
PORT=$(pick_port 30000); SRVLOG="$T/server.log"; : > "$SRVLOG"
"$PY" "$FAKE" --port "$PORT" --log "$SRVLOG" &
PIDS+=($!)
wait_for "(exec 3<>/dev/tcp/127.0.0.1/$PORT) 2>/dev/null" 5 || fail "fakeimap does not listen"
MNT="$T/mnt"; mkdir -p "$MNT"; MOUNTS+=("$MNT")
# On a pseudo-terminal: answer the prompt, wait for the mount, list INBOX,
# unmount, and keep everything the terminal showed.
"$PY" - "$MAILFS" "imap://alice%1b%5b2J@127.0.0.1:$PORT" "$MNT" \
	"cache_dir=$T/cache-tty,tls_insecure_plaintext" "$PASSWORD" "$T/tty.out" "$T/ls.out" <<'PY'
import os, pty, select, subprocess, sys, time
mailfs, url, mnt, opts, password, out, ls = sys.argv[1:8]
pid, fd = pty.fork()
if pid == 0:
    os.execv(mailfs, [mailfs, "-f", url, mnt, "-o", opts])
seen = b""
def pump(until, secs):
    global seen
    end = time.time() + secs
    while time.time() < end and not until():
        r, _, _ = select.select([fd], [], [], 0.1)
        if r:
            try:
                seen += os.read(fd, 4096)
            except OSError:
                return
pump(lambda: seen.rstrip().endswith(b":"), 15)
os.write(fd, password.encode() + b"\n")
pump(lambda: os.path.ismount(mnt), 15)
if os.path.ismount(mnt):
    open(ls, "w").write("\n".join(sorted(os.listdir(os.path.join(mnt, "INBOX")))) + "\n")
    subprocess.call(["fusermount3", "-u", mnt])
pump(lambda: os.waitpid(pid, os.WNOHANG) != (0, 0), 15)
open(out, "wb").write(seen)
PY
check "the prompt asks on the terminal, with the user name's ESC shown as \\x1b" \
	grep -qaF 'Password for alice\x1b[2J@127.0.0.1: ' "$T/tty.out"
check "…no raw ESC reached the terminal" no_match -qaF $'\x1b' "$T/tty.out"
check "…the typed password was not echoed" no_match -qaF "$PASSWORD" "$T/tty.out"
check "the typed password logged in (AUTHENTICATE PLAIN with it)" grep -qF \
	"AUTHENTICATE PLAIN $(printf '\0alice\033[2J\0%s' "$PASSWORD" | base64 -w0)" "$SRVLOG"
check "…and the mount worked" grep -q "INBOX message 1" "$T/ls.out"
finish

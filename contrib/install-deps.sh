#!/bin/sh
# Install the Debian packages mailfs needs to build, test and run its demo,
# but only those that are missing. Runs apt-get as root, or through sudo.
# A fresh machine may have no package lists at all: `apt-get update` first.
set -eu

# The last line is for tests only, which skip what they cannot run (and a
# skip fails `make check`): strace (t_errors watches mailfs's connect()
# calls), mandoc (t_contrib lints the man page), systemd (t_contrib checks
# the user unit with systemd-analyze verify).
# With --build, only what building and running mailfs needs (plain `make`,
# and so `make && sudo make install` on a fresh machine).
BUILD_PKGS="build-essential pkg-config libfuse3-dev fuse3 libssl-dev libsqlite3-dev
            libgmime-3.0-dev libxml2-dev ca-certificates"
if [ "${1:-}" = --build ]; then
	shift
	PKGS="$BUILD_PKGS $*"
else
	PKGS="$BUILD_PKGS
	      libcmocka-dev dovecot-imapd dovecot-pop3d openssl attr python3 rsync
	      libglib2.0-bin mc tmux clang libclang-rt-14-dev groff-base man-db
	      strace mandoc systemd $*"
fi

missing=""
for p in $PKGS; do
	st=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
	[ "$st" = installed ] || missing="$missing $p"
done
[ -n "$missing" ] || exit 0

if [ "$(id -u)" -eq 0 ]; then
	as_root=""
elif command -v sudo >/dev/null 2>&1; then
	as_root="sudo"
else
	echo "mailfs: missing packages:$missing" >&2
	echo "mailfs: run as root: apt-get update && apt-get install -y$missing" >&2
	exit 1
fi

echo "mailfs: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
$as_root apt-get update -qq
# The Debian dovecot packages try to start the system-wide service; it is not
# needed (tests start their own private server) and may be refused in
# containers, which is harmless.
$as_root apt-get install -y -qq --no-install-recommends $missing >/dev/null
echo "mailfs: packages installed"

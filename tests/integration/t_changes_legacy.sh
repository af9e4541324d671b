#!/usr/bin/env bash
# t_changes.sh against a server without UIDPLUS, MOVE, CONDSTORE and QRESYNC.
LEGACY=1 exec bash "$(dirname "$0")/t_changes.sh"

#!/usr/bin/env bash
# Debian packages the test suite needs beyond Python: a PostgreSQL server (the gradebook
# on a server, tests/test_scale.py) and Chromium (tests/test_browser.py). Idempotent;
# installs only what is missing. Installing needs root: as another user it only says what
# is missing and how to install it, and those tests skip saying the same (`make test` runs
# this script; `make demo` needs neither package).
set -euo pipefail
# GRU_PG_BIN and GRU_CHROMIUM point the tests elsewhere (see there); this script looks where
# the tests will
need=()
if [ -n "${GRU_PG_BIN+set}" ]; then
    [ -x "$GRU_PG_BIN/postgres" ] || need+=(postgresql)
else
    ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || need+=(postgresql)
fi
[ -x "${GRU_CHROMIUM:-/usr/bin/chromium}" ] || need+=(chromium)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
    echo "note: ${need[*]} missing: the tests that need them will skip." >&2
    echo "To install, run as root:" >&2
    echo "    sudo bash scripts/system-deps.sh" >&2
    echo "  (or: sudo apt-get install -y --no-install-recommends ${need[*]})" >&2
    exit 0
fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null

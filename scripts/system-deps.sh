#!/usr/bin/env bash
# Debian packages the test suite needs beyond Python: a PostgreSQL server (the gradebook
# on a server) and Chromium (browser tests). Idempotent; installs only what is missing.
set -euo pipefail
need=()
ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || need+=(postgresql)
[ -x /usr/bin/chromium ] || need+=(chromium)   # the path tests/test_browser.py launches
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
    echo "note: run as root (or install by hand) to enable the tests that need: ${need[*]}" >&2
    exit 0
fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null

#!/usr/bin/env bash
# Run a command as an unprivileged user, on that user's own copy of this checkout.
#
#   bash scripts/as-user.sh [--fresh] [--dir DIR] USER -- COMMAND [ARG...]
#
# e.g. (as root)  bash scripts/as-user.sh gru-ci -- make test PYTEST_ARGS="tests/test_scale.py"
#
# Run as root. It
# * creates USER (a system user with a home folder) if there is none;
# * copies the files of this work tree that git tracks or would track (tracked, and untracked
#   but not ignored: so not .venv/, demo/, caches), and .git, into DIR (relative to USER's
#   home; default ~USER/<this folder's name>), owned by USER. DIR/.venv is kept from the last
#   run when requirements.txt has not changed since, everything else in DIR is replaced;
#   --fresh empties DIR first;
# * seeds USER's pip cache from root's when USER has none, so its venv needs no new downloads;
# * runs COMMAND in DIR as USER (its own groups, no capabilities) with a clean environment:
#   HOME, USER, LOGNAME, SHELL, a plain PATH (so `python3` is the system's, not root's),
#   LANG, and CI, TERM, LC_ALL, XDG_CONFIG_DIRS when set, and pip's settings: every PIP_*
#   variable but PIP_CACHE_DIR, and root's own pip configuration file (PIP_CONFIG_FILE, or
#   ~/.config/pip/pip.conf) copied where USER can read it, so that USER's pip finds the same
#   local wheels and indexes as root's.
# Exits with COMMAND's status.
set -euo pipefail

usage() { echo "usage: $0 [--fresh] [--dir DIR] USER -- COMMAND [ARG...]" >&2; exit 2; }
fresh=0 dir=
while [ $# -gt 0 ]; do
    case $1 in
        --fresh) fresh=1; shift ;;
        --dir) [ $# -ge 2 ] || usage; dir=$2; shift 2 ;;
        --dir=*) dir=${1#--dir=}; shift ;;
        -h|--help) usage ;;
        *) break ;;
    esac
done
[ $# -ge 3 ] && [ "$2" = -- ] || usage
user=$1
shift 2

if [ "$(id -u)" != 0 ]; then
    echo "$0: must run as root (it creates the user and switches to it)" >&2
    exit 2
fi
src=$(cd "$(dirname "$0")/.." && pwd)

if ! id -u "$user" >/dev/null 2>&1; then
    useradd --system --create-home --shell /bin/bash "$user"
    echo "as-user: created user $user" >&2
fi
uid=$(id -u "$user")
gid=$(id -g "$user")
[ "$uid" != 0 ] || { echo "$0: $user is root" >&2; exit 2; }
home=$(getent passwd "$user" | cut -d: -f6)
if [ ! -d "$home" ]; then
    mkdir -p "$home"
    chown "$uid:$gid" "$home"
    chmod 0750 "$home"
fi
[ -n "$dir" ] || dir=$(basename "$src")
case $dir in /*) ;; *) dir=$home/$dir ;; esac
cd /   # root's working folder may be one that USER cannot enter

# as USER, with USER's groups only, a clean environment, and nothing inherited from root
# but what is listed here
path=${AS_USER_PATH:-/usr/local/bin:/usr/bin:/bin}
envs=(HOME="$home" USER="$user" LOGNAME="$user" SHELL=/bin/bash PATH="$path"
      LANG="${LANG:-C.UTF-8}")
for var in CI TERM LC_ALL XDG_CONFIG_DIRS; do
    [ -z "${!var:-}" ] || envs+=("$var=${!var}")
done
for var in $(compgen -e); do
    case $var in PIP_CACHE_DIR|PIP_CONFIG_FILE) ;; PIP_*) envs+=("$var=${!var}") ;; esac
done
as_user() {
    setpriv --reuid="$uid" --regid="$gid" --init-groups --inh-caps=-all \
        env -i "${envs[@]}" "$@"
}

# the copy: a folder of USER's own; refuse to empty one that is not
if [ -e "$dir" ] && [ "$(stat -c %u "$dir")" != "$uid" ]; then
    echo "$0: $dir exists and is not owned by $user" >&2
    exit 2
fi
as_user mkdir -p "$dir"
# the venv is kept only if it was made for the same requirements.txt (make installs it again
# when requirements.txt is newer, but a copy keeps the checkout's timestamps)
stamp=$dir/.venv/.as-user-requirements.txt
if [ "$fresh" = 1 ] || ! cmp -s "$src/requirements.txt" "$stamp"; then
    as_user find "$dir" -mindepth 1 -maxdepth 1 -exec rm -rf {} +
else
    as_user find "$dir" -mindepth 1 -maxdepth 1 ! -name .venv -exec rm -rf {} +
fi
git -c safe.directory="$src" -C "$src" ls-files -z --cached --others --exclude-standard \
    | while IFS= read -r -d '' f; do
          if [ -e "$src/$f" ] || [ -L "$src/$f" ]; then printf '%s\0' "$f"; fi
      done \
    | tar -C "$src" --null --no-recursion -T - -cf - \
    | (cd "$dir" && as_user tar -xf - --no-same-owner)
# and the repository itself, so that the copy is a checkout (git works there, and .git is among
# what the hostile tests try to read)
if [ -d "$src/.git" ]; then
    tar -C "$src" -cf - .git | (cd "$dir" && as_user tar -xf - --no-same-owner)
fi

if [ -e "$src/requirements.txt" ]; then
    as_user mkdir -p "$dir/.venv"
    as_user cp "$dir/requirements.txt" "$stamp"
fi

# pip: root's configuration file where USER can read it, and root's cache to start from
conf=${PIP_CONFIG_FILE:-${XDG_CONFIG_HOME:-$HOME/.config}/pip/pip.conf}
[ -r "$conf" ] || conf=$HOME/.pip/pip.conf
if [ -r "$conf" ]; then
    as_user mkdir -p "$home/.config/as-user"
    as_user tee "$home/.config/as-user/pip.conf" < "$conf" >/dev/null
    envs+=(PIP_CONFIG_FILE="$home/.config/as-user/pip.conf")
fi
root_cache=${PIP_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/pip}
user_cache=$home/.cache/pip
if [ -z "${PIP_NO_CACHE_DIR:-}" ] && [ -d "$root_cache" ] && [ ! -e "$user_cache" ]; then
    as_user mkdir -p "$home/.cache"
    tar -C "$root_cache" -cf - . \
        | as_user sh -c 'mkdir -p "$1" && tar -C "$1" -xf - --no-same-owner' sh "$user_cache"
    echo "as-user: seeded $user_cache from $root_cache" >&2
fi

echo "as-user: running as $user in $dir: $*" >&2
cd "$dir"
as_user "$@"

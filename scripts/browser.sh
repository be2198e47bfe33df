#!/usr/bin/env bash
# Install the system Chromium that the dashboard's browser tests (tests/server/dashboard) drive, when it is
# missing. Quiet and idempotent: nothing is printed or done when a browser is already there.
# Where it cannot be installed, CI (CI=true) fails here; elsewhere the tests skip and say why.
set -u

have_browser() {
  [ -n "${AION_CHROMIUM:-}" ] && [ -x "${AION_CHROMIUM}" ] && return 0
  command -v chromium >/dev/null 2>&1
}

give_up() {
  echo "warning: $1; the browser tests will be skipped (set AION_CHROMIUM to a Chromium binary)" >&2
  [ "${CI:-}" = "true" ] && exit 1
  exit 0
}

have_browser && exit 0
command -v apt-get >/dev/null 2>&1 || give_up "chromium is missing and there is no apt-get"
if [ "$(id -u)" -eq 0 ]; then
  as_root=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  as_root=(sudo -n)
else
  give_up "chromium is missing and installing it needs root"
fi

echo "installing chromium (apt) for the browser tests"
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update -qq >/dev/null 2>&1 || give_up "apt-get update failed"
# With its recommended packages: they bring the fonts the pages are drawn with.
"${as_root[@]}" apt-get install -y -qq chromium >/dev/null 2>&1 || give_up "apt-get install chromium failed"
have_browser || give_up "chromium is still not on the PATH after installing it"

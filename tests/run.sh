#!/usr/bin/env bash
# The whole test suite, on a fresh machine as on a developer's: first make
# sure the programs the end-to-end tests drive are there (installing the
# missing ones from Debian's packages), then `cargo test --workspace`.
#
#   bash tests/run.sh            # everything
#   bash tests/run.sh -p hallq-daemon journal   # extra arguments go to cargo test
#
# It never skips a test because a program is missing: without root or
# without apt it names the packages to install and exits 2.
set -euo pipefail
cd "$(dirname "$0")/.."

# What the tests need beyond cargo: Debian package, what shows it is there
# (a command on PATH or a file), and why.
needs=(
  "chromium|chromium|the web screens are tested in headless Chromium (tests/tests/board.rs)"
  "chromium-driver|chromedriver|WebDriver, how those tests drive Chromium"
  "fonts-noto-cjk|/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc|Chinese text in the screenshots"
  "etcd-server|etcd|cluster tests run a 3-member etcd (tests/tests/cluster.rs)"
  "etcd-client|etcdctl|cluster tests fill, inspect and repair etcd with etcdctl"
  "systemd|systemd-analyze|systemd-analyze verify checks systemd/hallqd.service"
  "util-linux|prlimit|the full-disk test caps file size with prlimit"
  "tmux|tmux|terminal programs are tested in tmux"
  "espeak-ng|espeak-ng|the board speaks calls offline with espeak-ng's Mandarin voice; the test records and measures it (tests/tests/board_halls.rs)"
)

present() {
  case "$1" in
    /*) [ -e "$1" ] ;;
    *) command -v "$1" >/dev/null 2>&1 ;;
  esac
}

missing=()
for row in "${needs[@]}"; do
  IFS='|' read -r package probe why <<<"$row"
  if ! present "$probe"; then
    missing+=("$package")
    echo "tests/run.sh: missing $package ($probe): $why"
  fi
done

if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "tests/run.sh: cannot install them here (needs root and apt-get)." >&2
    echo "Install them, then run this again:" >&2
    echo "  sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
    exit 2
  fi
  echo "tests/run.sh: installing ${missing[*]} (apt-get)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q "${missing[@]}"
  for row in "${needs[@]}"; do
    IFS='|' read -r package probe _ <<<"$row"
    if ! present "$probe"; then
      echo "tests/run.sh: $package is installed but $probe is still missing" >&2
      exit 2
    fi
  done
fi

echo "tests/run.sh: cargo test --workspace --locked --no-fail-fast $*"
# --no-fail-fast: every test binary runs, so one failure does not hide others.
exec cargo test --workspace --locked --no-fail-fast "$@"

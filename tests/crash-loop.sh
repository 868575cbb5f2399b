#!/usr/bin/env bash
# The long crash loop (issue 10): kill hallqd with SIGKILL under concurrent
# load again and again, comparing after each restart with everything the
# clients saw acknowledged. CYCLES defaults to 100.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build -p hallq-daemon --bin hallqd
HALLQ_CRASH_CYCLES="${CYCLES:-100}" cargo test -p hallq-tests --test crash repeated_kills_lose_nothing -- --nocapture

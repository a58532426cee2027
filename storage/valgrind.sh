#!/usr/bin/env bash
# The unit tests of the storage code that holds raw pointers (the list's packs
# keep big elements as raw `Arc<[u8]>` parts) run under valgrind: any leak,
# double free or invalid read fails. ~30 s. Needs `valgrind` (apt-get install valgrind).
set -euo pipefail
cd "$(dirname "$0")/.."
export PROPTEST_CASES=${PROPTEST_CASES:-64}
cargo test -p ferrous-storage --lib \
  --config "target.'cfg(all())'.runner='valgrind -q --leak-check=full --show-leak-kinds=definite --errors-for-leak-kinds=definite --error-exitcode=9'" \
  -- list::tests --test-threads=1

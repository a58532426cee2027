#!/usr/bin/env bash
# Runs the loom models of the commit protocol (loom-tests/tests/protocol.rs)
# in release mode, then rebuilds with each deliberately broken variant of the
# protocol and runs the model that must reject it: that run must fail, with
# the failure the model is written to detect (checked by message, so a build
# error or an unrelated crash does not count). Prints interleavings and run
# time per model; with LOOM_REPORT=<file> they are also appended to that file.
#
# Builds into target/loom so the loom cfgs never touch the normal build cache.
set -euo pipefail
cd "$(dirname "$0")/.."
export RUSTFLAGS="--cfg ferrous_loom --cfg crossbeam_loom"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target/loom}"
# The release profile links the server with fat LTO and one codegen unit;
# the models (nine builds, one per variant) need optimised code, not that.
export CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16
test_args=(-- --nocapture --test-threads 1)

# LOOM_VARIANTS_ONLY=1 skips the sound run (when working on the variants).
if [ -z "${LOOM_VARIANTS_ONLY:-}" ]; then
  echo "== loom: sound protocol, all models"
  cargo test -p loom-tests --release --test protocol "${test_args[@]}"
fi

# feature, model that must fail with it, what the failure must say. Each bug
# needs one preemption at most, so the variants run with a bound of 1.
variants=(
  "broken-release-before-swap|model_1_|lost update"
  "broken-publish-early|model_2_|torn read"
  "broken-abort-publishes|model_3_|saw an aborted write|abort replaced the root"
  "broken-kill-reset-late|model_4_|exceeded maximum number of branches|deadlock"
  "broken-busy-blocks|model_5_|exceeded maximum number of branches|deadlock"
  "broken-free-now|model_6_|use after free"
  "broken-leak-retired|model_6_|leaked"
  "broken-snapshot-unpinned|model_7_|use after free"
)
for v in "${variants[@]}"; do
  feature=${v%%|*}
  rest=${v#*|}
  model=${rest%%|*}
  expect=${rest#*|}
  echo "== loom: variant $feature must be rejected by $model"
  cargo test -p loom-tests --release --features "$feature" --test protocol --no-run
  start=$(date +%s)
  if out=$(LOOM_REPORT= LOOM_MAX_PREEMPTIONS=1 cargo test -p loom-tests --release --features "$feature" \
      --test protocol -- --nocapture "$model" 2>&1); then
    echo "$out" | tail -20
    echo "loom: variant $feature was NOT rejected by $model" >&2
    exit 1
  fi
  if ! why=$(echo "$out" | grep -E -m1 "$expect"); then
    echo "$out" | tail -40
    echo "loom: variant $feature failed, but not with /$expect/" >&2
    exit 1
  fi
  echo "rejected in $(( $(date +%s) - start )) s: $why"
done
echo "== loom: all models pass and every broken variant is rejected"

#!/usr/bin/env bash
# The test suite's time on a fresh clone, before and after: BASE_REV against HEAD, side by
# side in one run (issue 14: "test time on a fresh clone is not worse than before").
#
#   bash .ci/bench-test-time.sh [BASE_REV [HEAD_REV]]
#
# BASE_REV defaults to daf59c9, the last commit before issue 14's work (its first commit,
# 1140265 "tests: one harness", is daf59c9's child); HEAD_REV to HEAD. Committed revisions
# only: the working tree's changes are not measured.
#
# Both revisions are cloned into a temporary directory (git clone --no-local: no shared
# objects, no target/), each with its own empty CARGO_TARGET_DIR, so both builds are cold.
# Crates come from ~/.cargo's registry (`cargo fetch` first, untimed; the timed steps run
# with CARGO_NET_OFFLINE=true). Timed:
#   build  `cargo test --workspace --no-run` (cold: an empty target directory)
#   run    `cargo test --workspace --no-fail-fast`, outside CI: CI and XTASK_TESTS unset,
#          and DOCKER_HOST set to a socket that does not exist, so no engine answers (the
#          base's engine tests skip themselves, returning early as they did then without an
#          engine; HEAD's are ignored; neither touches an engine this machine may run).
#          The base also ran its tool tests (caddy, compose, ...) wherever the tools are
#          installed; HEAD runs them only with XTASK_TESTS=tools. So HEAD runs twice per
#          round: as is (`HEAD`) and with XTASK_TESTS=tools (`HEAD+tools`, in a copy of HEAD's
#          target directory made after its cold build, its test binaries rebuilt for the cfg
#          untimed): on a machine with the tools installed, that one does the base's work.
#          REPEAT=N rounds (default 3), each running base, HEAD, HEAD+tools in turn, so a
#          change in the machine's load hits all three; medians are reported.
# "fresh clone" = the cold build + the first run (the base built the xtask binary for its
# tests with a nested `cargo build` during its first run; HEAD builds it in the cold build).
# Prints the figures, HEAD/base ratios, the tests counted (passed/ignored/failed from
# libtest's summaries), the slowest test binaries, and the load average at each step (other
# work on the machine makes the figures noisy: compare ratios, rerun when the load moved).
# JOBS=N passes --jobs N to cargo. KEEP=1 keeps the temporary directory (clones, logs).
set -euo pipefail

base_rev=${1:-daf59c9}
head_rev=${2:-HEAD}
repeat=${REPEAT:-3}
repo=$(git rev-parse --show-toplevel)
base_sha=$(git -C "$repo" rev-parse --verify "$base_rev^{commit}")
head_sha=$(git -C "$repo" rev-parse --verify "$head_rev^{commit}")
tmp=$(mktemp -d "${TMPDIR:-/tmp}/xtask-bench-test-time.XXXXXX")
cleanup() { if [ "${KEEP:-0}" = 1 ]; then echo "kept $tmp"; else rm -rf "$tmp"; fi; }
trap cleanup EXIT
jobs=()
if [ -n "${JOBS:-}" ]; then jobs=(--jobs "$JOBS"); fi

load() { cut -d' ' -f1-3 /proc/loadavg; }
now() { date +%s.%N; }
log() { printf '%s  [load %s]\n' "$*" "$(load)" >&2; }
since() { echo "$(now) - $1" | bc; }

# the runs happen outside CI whatever this shell's environment says, with no engine
unset CI XTASK_TESTS GITHUB_ACTIONS CARGO_TARGET_DIR CARGO_BUILD_TARGET_DIR DOCKER_CONTEXT
export DOCKER_HOST="unix://$tmp/no-engine.sock"

for side in base head; do
  sha=$([ "$side" = base ] && echo "$base_sha" || echo "$head_sha")
  git clone --quiet --no-local --no-checkout "$repo" "$tmp/$side"
  git -C "$tmp/$side" checkout --quiet --detach "$sha"
  mkdir "$tmp/$side-target"
  log "$side: $(git -C "$tmp/$side" log -1 --format='%h %s' | cut -c1-90)"
  (cd "$tmp/$side" && cargo fetch --quiet)
done

# variant (base, head, tools) LOG ARGS...: cargo test --workspace ARGS in the variant's clone
# with its own target directory and environment; output to LOG
cargo_test() {
  local variant=$1 out=$2 clone=$1 env=()
  shift 2
  if [ "$variant" = tools ]; then clone=head env=(XTASK_TESTS=tools); fi
  (cd "$tmp/$clone" &&
    env "${env[@]}" CARGO_TARGET_DIR="$tmp/$variant-target" CARGO_NET_OFFLINE=true \
      cargo test --workspace "${jobs[@]}" "$@") >"$out" 2>&1
}

declare -A build_s runs rcs loads
for side in base head; do
  log "$side: cargo test --workspace --no-run (cold)"
  t0=$(now)
  if ! cargo_test "$side" "$tmp/$side-build.log" --no-run; then
    tail -30 "$tmp/$side-build.log" >&2
    echo "the $side build failed" >&2
    exit 2
  fi
  build_s[$side]=$(since "$t0")
  loads[build_$side]=$(load)
done
log "HEAD+tools: a copy of HEAD's target directory, test binaries rebuilt with XTASK_TESTS=tools (untimed)"
cp -a "$tmp/head-target" "$tmp/tools-target"
cargo_test tools "$tmp/tools-build.log" --no-run

for i in $(seq 1 "$repeat"); do
  for v in base head tools; do
    log "$v: cargo test --workspace (round $i of $repeat)"
    t0=$(now)
    rc=0
    cargo_test "$v" "$tmp/$v-test-$i.log" --no-fail-fast || rc=$?
    runs[$v]+="$(since "$t0") "
    rcs[$v]+="$rc "
    loads[test_$v]+="$(load | cut -d' ' -f1) "
  done
done

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
first() { echo "$1" | cut -d' ' -f1; }
# passed ignored failed, summed over libtest's "test result:" lines of a log
counts() {
  grep -h '^test result:' "$1" | sed -E 's/.* ([0-9]+) passed; ([0-9]+) failed; ([0-9]+) ignored.*/\1 \3 \2/' |
    awk '{p+=$1; i+=$2; f+=$3} END {printf "%d passed, %d ignored, %d failed", p, i, f}'
}
# the slowest test binaries of a log: "name seconds"
slowest() {
  awk '/^ *Running /{n=$2; if (n=="unittests") n=$3} /^ *Doc-tests /{n="doc-tests " $2} /^test result:/{for(i=1;i<=NF;i++) if($i=="in"){s=$(i+1); sub("s$","",s); printf "%s %.1fs\n", n, s}}' "$1" |
    sort -k2 -g -r | head -5 | tr '\n' ',' | sed 's/,$//; s/,/, /g'
}
ratio() { echo "scale=2; $1 / $2" | bc | sed 's/^\./0./'; }
row() { printf '%-48s %9.1fs %9.1fs %9.1fs %8sx %8sx\n' "$1" "$2" "$3" "$4" "$(ratio "$3" "$2")" "$(ratio "$4" "$2")"; }

bb=${build_s[base]} hb=${build_s[head]}
b1=$(first "${runs[base]}") h1=$(first "${runs[head]}") t1=$(first "${runs[tools]}")
bm=$(echo "${runs[base]}" | median) hm=$(echo "${runs[head]}" | median) tm=$(echo "${runs[tools]}" | median)
echo
echo "test time on a fresh clone: base ${base_sha:0:7} vs HEAD ${head_sha:0:7} ($(nproc) cores, ${repeat} rounds)"
printf '%-48s %10s %10s %10s %9s %9s\n' "" "base" "HEAD" "HEAD+tools" "HEAD/base" "+tools/b"
row "build: cargo test --workspace --no-run (cold)" "$bb" "$hb" "$hb"
row "first run: cargo test --workspace" "$b1" "$h1" "$t1"
row "fresh clone: cold build + first run" "$(echo "$bb + $b1" | bc)" "$(echo "$hb + $h1" | bc)" "$(echo "$hb + $t1" | bc)"
row "warm run: cargo test --workspace (median)" "$bm" "$hm" "$tm"
echo "(HEAD+tools: HEAD with XTASK_TESTS=tools, its build taken as HEAD's: only the cfg differs)"
echo
echo "runs (s):     base ${runs[base]}| HEAD ${runs[head]}| HEAD+tools ${runs[tools]}"
echo "exit codes:   base ${rcs[base]}| HEAD ${rcs[head]}| HEAD+tools ${rcs[tools]}"
echo "tests:        base       $(counts "$tmp/base-test-1.log")"
echo "              HEAD       $(counts "$tmp/head-test-1.log")"
echo "              HEAD+tools $(counts "$tmp/tools-test-1.log")"
for v in base head tools; do
  echo "slowest test binaries, $v (round 1): $(slowest "$tmp/$v-test-1.log")"
done
echo "load average: at the end of the cold builds: base ${loads[build_base]} / HEAD ${loads[build_head]} (1/5/15 min)"
echo "              at the end of each run (1 min): base ${loads[test_base]}/ HEAD ${loads[test_head]}/ HEAD+tools ${loads[test_tools]}"
echo "ignored at HEAD, by reason (cargo test prints it beside each):"
grep -ho '\.\.\. ignored.*' "$tmp/head-test-1.log" | sort | uniq -c | sed 's/\.\.\. ignored, //'
echo "ignored at HEAD with XTASK_TESTS=tools:"
grep -ho '\.\.\. ignored.*' "$tmp/tools-test-1.log" | sort | uniq -c | sed 's/\.\.\. ignored, //'
for v in base head tools; do
  if grep -q '^test result: FAILED' "$tmp/$v-test-1.log"; then
    echo "note: a test failed in $v (round 1):"
    grep -h -A6 '^failures:$' "$tmp/$v-test-1.log" | head -20
  fi
done

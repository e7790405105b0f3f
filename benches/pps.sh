#!/usr/bin/env bash
# PPS benchmark. Generates its own data, runs `strata dev` (release build,
# embedded SQLite + file store, in-process queue, embedded workers) and
# prints each figure next to a baseline measured in the same run:
#
#   (a) throughput of 2,000 trivial datums vs `xargs -P 2` running one
#       shell + cp per file;
#   (b) the cost of a skipped datum: a spec update that changes only the
#       description, over 20,000 datums (baseline: the first job, which
#       runs them all);
#   (c) an incremental job (1 % of the 20,000 files changed in one commit)
#       vs the same datums run alone in a fresh pipeline;
#   (d) job start (output commit to RUNNING) for a 1-file commit on a
#       200,000-file repo of 1,000 directory datums (baseline: the first job).
#
# Job times are the jobs' own, from `strata job wait -o json`:
# finished_at − created_at (created = the output commit, which is made with
# the input commit); `duration_secs` (started → finished) is shown as well.
#
#   benches/pps.sh                                            # full run
#   TINY=500 SKIP_FILES=2000 BIG_FILES=20000 benches/pps.sh   # quick run
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/strata/target}"

TINY=${TINY:-2000}
SKIP_FILES=${SKIP_FILES:-20000}
BIG_FILES=${BIG_FILES:-200000}
BIG_DIRS=${BIG_DIRS:-1000}
WORKERS=${WORKERS:-2}

cargo build --release --locked --bin strata -q
BIN="$CARGO_TARGET_DIR/release/strata"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/strata-pps-bench.XXXXXX")
export STRATA_CONFIG="$WORK/cli.toml"
SERVER_PID=
cleanup() {
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT

now() { date +%s.%N; }
py() { python3 -c "$1"; }
fail() { echo "FAILED: $*" >&2; exit 1; }

start_server() {
  "$BIN" dev --listen 127.0.0.1:0 --data-dir "$WORK/data" --log-level warn > "$WORK/dev.out" 2> "$WORK/dev.err" &
  SERVER_PID=$!
  for _ in $(seq 1 200); do
    grep -q "running at" "$WORK/dev.out" 2>/dev/null && return 0
    sleep 0.05
  done
  echo "strata dev did not start:"; cat "$WORK/dev.err"; exit 1
}
peak_rss_mib() { awk '/VmHWM/ { printf "%.0f", $2 / 1024 }' "/proc/$SERVER_PID/status"; }

# spec NAME REPO GLOB CMD_JSON [DESCRIPTION] -> path of the spec file
spec() {
  cat > "$WORK/$1.json" <<EOF
{"pipeline": {"name": "$1"}, "description": "${5:-bench}",
 "input": {"pfs": {"repo": "$2", "glob": "$3"}},
 "transform": {"cmd": $4},
 "parallelism_spec": {"constant": $WORKERS}}
EOF
  echo "$WORK/$1.json"
}

# put_commit REPO@BRANCH:/PATH LOCAL [-r] -> the commit id (= the job id of
# every pipeline reading the repo)
put_commit() {
  local target=$1 local_path=$2; shift 2
  "$BIN" -o json put file "$target" -f "$local_path" "$@" > "$WORK/put.json" || fail "put file $target"
  py "import json; print(json.load(open('$WORK/put.json'))['commit'])"
}

# latest_job PIPELINE -> id of its newest job, or nothing
latest_job() {
  "$BIN" -o json job inspect "$1@latest" 2>/dev/null \
    | python3 -c "import json, sys; print(json.load(sys.stdin)['id'])" 2>/dev/null || true
}

# new_job PIPELINE PREVIOUS_ID -> id of the pipeline's newest job once it is
# not PREVIOUS_ID (a pipeline create or update starts the job asynchronously)
new_job() {
  local id
  for _ in $(seq 1 1200); do
    id=$(latest_job "$1")
    [ -n "$id" ] && [ "$id" != "$2" ] && { echo "$id"; return; }
    sleep 0.05
  done
  fail "no new job of pipeline $1 after 60 s (newest: ${id:-none})"
}

# wait_job PIPELINE JOB_ID: waits, fails loudly unless SUCCESS, and sets
# JOB_ID JOB_STATE TOTAL PROCESSED SKIPPED FAILED JOB_SECS START_SECS RUN_SECS
wait_job() {
  if ! "$BIN" -o json job wait "$1@$2" --timeout 3600 > "$WORK/job.json" 2> "$WORK/wait.err"; then
    echo "strata job wait $1@$2 failed:" >&2
    cat "$WORK/job.json" "$WORK/wait.err" >&2
    echo "server log tail:" >&2; tail -20 "$WORK/dev.err" >&2
    exit 1
  fi
  eval "$(python3 - "$WORK/job.json" <<'PY'
import json, sys
from datetime import datetime
j = json.load(open(sys.argv[1]))
t = lambda k: datetime.fromisoformat(j[k]).timestamp()
d = j["datums"]
print(f"JOB_ID={j['id']} JOB_STATE={j['state']}")
print(f"TOTAL={d['total']} PROCESSED={d['processed']} SKIPPED={d['skipped']} FAILED={d['failed']}")
print(f"JOB_SECS={t('finished_at') - t('created_at'):.6f}")
print(f"START_SECS={t('started_at') - t('created_at'):.6f}")
print(f"RUN_SECS={j.get('duration_secs') or 0:.6f}")
s = j.get("stats", {})
print(f"DATUM_TIME='download {s.get('download_secs', 0):.2f} s, process {s.get('process_secs', 0):.2f} s, upload {s.get('upload_secs', 0):.2f} s'")
PY
)"
}
# planned PIPELINE JOB_ID -> the master's planning line from the job's log
planned() { "$BIN" logs --pipeline "$1" --job "$2" | grep -o '[0-9]* datums: .*planned in [0-9]* ms' || echo "no 'planned in' line in the job log"; }
counts() { echo "total $TOTAL: $PROCESSED processed, $SKIPPED skipped, $FAILED failed"; }
expect_counts() { # TOTAL PROCESSED SKIPPED
  [ "$TOTAL" = "$1" ] && [ "$PROCESSED" = "$2" ] && [ "$SKIPPED" = "$3" ] && [ "$FAILED" = 0 ] \
    || fail "job $JOB_ID: expected total $1, processed $2, skipped $3; got $(counts)"
}
verdict() { py "print('ok' if $1 else 'MISSED')"; }

CHANGED=$(( SKIP_FILES / 100 > 0 ? SKIP_FILES / 100 : 1 ))
echo "== generating data in $WORK"
python3 - "$WORK" "$TINY" "$SKIP_FILES" "$CHANGED" "$BIG_FILES" "$BIG_DIRS" <<'PY'
import os, sys
work = sys.argv[1]
tiny, many, changed, big, dirs = map(int, sys.argv[2:])
def write(path, text):
    with open(path, "w") as f:
        f.write(text)
def mkdir(path):
    os.makedirs(path, exist_ok=True)
    return path
d = mkdir(f"{work}/tiny")
for i in range(tiny):
    write(f"{d}/t{i:05}", f"tiny file {i:05} ".ljust(99, ".") + "\n")  # 100 bytes
d = mkdir(f"{work}/many")
c = mkdir(f"{work}/changed")
step = many // changed
for i in range(many):
    write(f"{d}/m{i:06}", f"file {i}\n")
    if i % step == 0 and i // step < changed:
        write(f"{c}/m{i:06}", f"file {i}, changed\n")
per_dir = big // dirs
dw, fw = max(3, len(str(dirs - 1))), max(3, len(str(per_dir - 1)))
for n in range(dirs):
    d = mkdir(f"{work}/big/d{n:0{dw}}")
    for f in range(per_dir):
        write(f"{d}/f{f:0{fw}}", f"{n}/{f}\n")
write(f"{work}/new-file", "one more file\n")
print(f"/d{7 % dirs:0{dw}}/new", file=open(f"{work}/new-path", "w"))
PY
[ "$(ls "$WORK/changed" | wc -l)" = "$CHANGED" ] || fail "generated $(ls "$WORK/changed" | wc -l) changed files, not $CHANGED"
NEW_PATH=$(cat "$WORK/new-path")
BIG_FILES=$(( BIG_FILES / BIG_DIRS * BIG_DIRS ))
sync
start_server

echo
echo "== (a) $TINY trivial datums (one ~100-byte file each, sh -c cp to \$PFS/out), $WORKERS workers"
mkdir -p "$WORK/xargs-out"
t0=$(now)
ls "$WORK/tiny" | xargs -P "$WORKERS" -I{} sh -c "cp '$WORK/tiny/{}' '$WORK/xargs-out/'"
t1=$(now)
[ "$(ls "$WORK/xargs-out" | wc -l)" = "$TINY" ] || fail "xargs copied $(ls "$WORK/xargs-out" | wc -l) files"
A_XARGS=$(py "print($TINY / ($t1 - $t0))")
printf 'xargs -P %s (sh + cp per file):   %8.0f files/s (%.2f s)\n' "$WORKERS" "$A_XARGS" "$(py "print($t1 - $t0)")"
"$BIN" repo create tiny -q >/dev/null
put_commit tiny@master:/ "$WORK/tiny" -r >/dev/null
t0=$(now)
"$BIN" pipeline create -f "$(spec copy tiny '/*' '["sh", "-c", "cp $PFS/tiny/* $PFS/out/"]')" >/dev/null
wait_job copy "$(new_job copy '')"
t1=$(now)
expect_counts "$TINY" "$TINY" 0
OUT_FILES=$("$BIN" -o json list file copy@master:/ | py "import json, sys; print(len(json.load(sys.stdin)))")
[ "$OUT_FILES" = "$TINY" ] || fail "output repo copy holds $OUT_FILES files, not $TINY"
A_RATE=$(py "print($TINY / $JOB_SECS)")
A_RATIO=$(py "print(f'{$A_RATE / $A_XARGS:.2f}')")
printf 'strata job:                      %8.0f datums/s (job %.2f s created→finished, %.2f s started→finished; pipeline create → wait returned %.2f s)\n' \
  "$A_RATE" "$JOB_SECS" "$RUN_SECS" "$(py "print($t1 - $t0)")"
echo "datum time (summed over datums): $DATUM_TIME"
echo "(a) strata/xargs:                $A_RATIO (goal >= 0.5) $(verdict "$A_RATIO >= 0.5")"

echo "server peak RSS so far:          $(peak_rss_mib) MiB"
echo
echo "== (b) skipping $SKIP_FILES unchanged datums (cmd [\"true\"])"
"$BIN" repo create many -q >/dev/null
put_commit many@master:/ "$WORK/many" -r >/dev/null
"$BIN" pipeline create -f "$(spec touch many '/*' '["true"]')" >/dev/null
wait_job touch "$(new_job touch '')"
expect_counts "$SKIP_FILES" "$SKIP_FILES" 0
B_FIRST=$JOB_SECS
B_FIRST_US=$(py "print(f'{$B_FIRST * 1e6 / $SKIP_FILES:.0f}')")
printf 'first job (runs every datum):    %.2f s = %s µs/datum, %.0f datums/s (%s)\n' \
  "$B_FIRST" "$B_FIRST_US" "$(py "print($SKIP_FILES / $B_FIRST)")" "$(counts)"
PREV=$JOB_ID
"$BIN" pipeline update -f "$(spec touch many '/*' '["true"]' 'bench, new description')" >/dev/null
wait_job touch "$(new_job touch "$PREV")"
expect_counts "$SKIP_FILES" 0 "$SKIP_FILES"
B_JOB=$JOB_SECS
B_US=$(py "print(f'{$B_JOB * 1e6 / $SKIP_FILES:.1f}')")
printf 'all-skipped job (spec update):   %.3f s (start %.3f s; %s)\n' "$B_JOB" "$START_SECS" "$(counts)"
echo "master log:                      $(planned touch "$JOB_ID")"
echo "(b) per skipped datum:           $B_US µs = $(py "print(f'{$B_US / $B_FIRST_US:.4f}')")× a processed one (goal <= 20 µs) $(verdict "$B_US <= 20")"

echo "server peak RSS so far:          $(peak_rss_mib) MiB"
echo
echo "== (c) $CHANGED of $SKIP_FILES files changed in one commit"
C_COMMIT=$(put_commit many@master:/ "$WORK/changed" -r)
wait_job touch "$C_COMMIT"
expect_counts "$SKIP_FILES" "$CHANGED" $(( SKIP_FILES - CHANGED ))
C_JOB=$JOB_SECS
printf 'incremental job:                 %.2f s (start %.3f s; %s)\n' "$C_JOB" "$START_SECS" "$(counts)"
echo "master log:                      $(planned touch "$JOB_ID")"
"$BIN" repo create alone -q >/dev/null
put_commit alone@master:/ "$WORK/changed" -r >/dev/null
"$BIN" pipeline create -f "$(spec solo alone '/*' '["true"]')" >/dev/null
wait_job solo "$(new_job solo '')"
expect_counts "$CHANGED" "$CHANGED" 0
C_ALONE=$JOB_SECS
C_LIMIT=$(py "print(f'{2 * $C_ALONE + 1:.2f}')")
C_RATIO=$(py "print(f'{$C_JOB / $C_ALONE:.2f}')")
printf 'the same datums alone:           %.2f s (start %.3f s; %s)\n' "$C_ALONE" "$START_SECS" "$(counts)"
printf '(c) incremental/alone:           %s (%.2f s vs limit 2 × alone + 1 s = %s s) %s\n' \
  "$C_RATIO" "$C_JOB" "$C_LIMIT" "$(verdict "$C_JOB <= $C_LIMIT")"

echo "server peak RSS so far:          $(peak_rss_mib) MiB"
echo
echo "== (d) job start for a 1-file commit on a $BIG_FILES-file repo ($BIG_DIRS directory datums)"
"$BIN" repo create big -q >/dev/null
t0=$(now)
put_commit big@master:/ "$WORK/big" -r >/dev/null
t1=$(now)
printf 'put of %s files:             %.1f s (server peak RSS so far %s MiB)\n' "$BIG_FILES" "$(py "print($t1 - $t0)")" "$(peak_rss_mib)"
"$BIN" pipeline create -f "$(spec dirs big '/*' '["true"]')" >/dev/null
wait_job dirs "$(new_job dirs '')"
expect_counts "$BIG_DIRS" "$BIG_DIRS" 0
D_FIRST_START=$START_SECS
printf 'first job:                       %.2f s, start %.3f s (%s)\n' "$JOB_SECS" "$START_SECS" "$(counts)"
D_COMMIT=$(put_commit "big@master:$NEW_PATH" "$WORK/new-file")
wait_job dirs "$D_COMMIT"
expect_counts "$BIG_DIRS" 1 $(( BIG_DIRS - 1 ))
D_START=$START_SECS
PLANNED=$(planned dirs "$JOB_ID")
printf 'job after 1 new file (%s):  start %.3f s, whole job %.3f s (%s)\n' "$NEW_PATH" "$D_START" "$JOB_SECS" "$(counts)"
echo "master log:                      $PLANNED"
D_RATIO=$(py "print(f'{$D_START / $D_FIRST_START:.2f}')")
printf '(d) job start:                   %.3f s = %s× the first job'"'"'s start (goal <= 1 s) %s\n' \
  "$D_START" "$D_RATIO" "$(verdict "$D_START <= 1")"
RSS=$(peak_rss_mib)
echo "server peak RSS so far:          $RSS MiB"

echo
echo "== summary ($(nproc) cores, $WORKERS workers per pipeline)"
python3 - <<PY
rows = [
    ("(a) $TINY trivial datums", "$(printf '%.0f' "$A_RATE") datums/s", "xargs -P $WORKERS: $(printf '%.0f' "$A_XARGS") files/s",
     "$A_RATIO×", ">= 0.5×", "$(verdict "$A_RATIO >= 0.5")"),
    ("(b) skip, $SKIP_FILES datums", "$B_US µs/datum ($(printf '%.3f' "$B_JOB") s)", "first job: $B_FIRST_US µs/datum ($(printf '%.1f' "$B_FIRST") s)",
     "$(py "print(f'{$B_US / $B_FIRST_US:.4f}')")×", "<= 20 µs", "$(verdict "$B_US <= 20")"),
    ("(c) $CHANGED of $SKIP_FILES changed", "$(printf '%.2f' "$C_JOB") s", "alone: $(printf '%.2f' "$C_ALONE") s (limit $C_LIMIT s)",
     "$C_RATIO×", "<= 2× alone + 1 s", "$(verdict "$C_JOB <= $C_LIMIT")"),
    ("(d) job start, 1 file in $BIG_FILES", "$(printf '%.3f' "$D_START") s", "first job: $(printf '%.3f' "$D_FIRST_START") s",
     "$D_RATIO×", "<= 1 s", "$(verdict "$D_START <= 1")"),
]
head = ("figure", "strata", "baseline (same run)", "ratio", "goal", "")
widths = [max(len(r[i]) for r in rows + [head]) for i in range(len(head))]
for r in [head] + rows:
    print("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
PY
echo "(d) $PLANNED; server peak RSS $RSS MiB"

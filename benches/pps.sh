#!/usr/bin/env bash
# PPS benchmark. Runs `strata dev` (release build, embedded SQLite, file
# store, in-process queue, embedded workers) and prints each figure next to
# a baseline measured in the same run on the same machine:
#
#   (a) 2,000 trivial datums vs `xargs -P 2` running one shell per file;
#   (b) the cost of a skipped datum, over 20,000 datums;
#   (c) an incremental job (1% of 20,000 files changed) vs the same datums
#       run alone in a fresh pipeline;
#   (d) job start (commit to RUNNING) for a 1-file commit on a 200,000-file repo.
#
#   benches/pps.sh                                   # full run
#   TINY=500 SKIP_FILES=2000 BIG_FILES=20000 benches/pps.sh   # quick run
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/strata/target}"

TINY=${TINY:-2000}
SKIP_FILES=${SKIP_FILES:-20000}
BIG_FILES=${BIG_FILES:-200000}
BIG_DIRS=${BIG_DIRS:-1000}

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

start_server() {
  "$BIN" dev --listen 127.0.0.1:0 --data-dir "$WORK/data" --log-level warn > "$WORK/dev.out" 2> "$WORK/dev.err" &
  SERVER_PID=$!
  for _ in $(seq 1 200); do
    grep -q "running at" "$WORK/dev.out" 2>/dev/null && return 0
    sleep 0.05
  done
  echo "strata dev did not start:"; cat "$WORK/dev.err"; exit 1
}

# A pipeline spec: NAME REPO GLOB CMD [DESCRIPTION]
spec() {
  cat > "$WORK/$1.json" <<EOF
{"pipeline": {"name": "$1"}, "description": "${5:-bench}",
 "input": {"pfs": {"repo": "$2", "glob": "$3"}},
 "transform": {"cmd": ["sh", "-c", "$4"]},
 "parallelism_spec": {"constant": 2}}
EOF
  echo "$WORK/$1.json"
}

# Waits for the newest job of a pipeline; prints its JSON to $WORK/job.json
# and fails unless it succeeded.
wait_job() {
  "$BIN" job wait -p "$1" --timeout 3600 -o json > "$WORK/job.json" || { cat "$WORK/job.json"; exit 1; }
}
job_field() { py "import json; j = json.load(open('$WORK/job.json')); print($1)"; }
# Seconds from the job's commit to its end, and from its commit to RUNNING.
job_secs() { job_field "__import__('datetime').datetime.fromisoformat(j['finished_at']).timestamp() - __import__('datetime').datetime.fromisoformat(j['created_at']).timestamp()"; }
start_secs() { job_field "__import__('datetime').datetime.fromisoformat(j['started_at']).timestamp() - __import__('datetime').datetime.fromisoformat(j['created_at']).timestamp()"; }
counts() { job_field "'total={total} processed={processed} skipped={skipped} failed={failed}'.format(**j['datums'])"; }

echo "== generating data in $WORK"
python3 - "$WORK" "$TINY" "$SKIP_FILES" "$BIG_FILES" "$BIG_DIRS" <<'PY'
import os, sys
work, tiny, skip, big, dirs = sys.argv[1], *map(int, sys.argv[2:])
def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)
for i in range(tiny):
    write(f"{work}/tiny/t{i:05}", f"tiny file {i}\n" * 8)
for i in range(skip):
    write(f"{work}/many/m{i:06}", f"file {i}\n")
changed = max(1, skip // 100)
for i in range(0, skip, skip // changed):
    write(f"{work}/changed/m{i:06}", f"file {i}, changed\n")
per_dir = big // dirs
for d in range(dirs):
    for f in range(per_dir):
        write(f"{work}/big/d{d:04}/f{f:04}", f"{d}/{f}\n")
write(f"{work}/one/d0007/new", "one more file\n")
PY
CHANGED=$(ls "$WORK/changed" | wc -l)
start_server

echo
echo "== (a) $TINY trivial datums (one file each, cp to /pfs/out), 2 workers"
mkdir -p "$WORK/xargs-out"
t0=$(now)
ls "$WORK/tiny" | xargs -P 2 -I{} sh -c "cp '$WORK/tiny/{}' '$WORK/xargs-out/'"
t1=$(now)
XARGS=$(py "print($TINY / ($t1 - $t0))")
"$BIN" repo create tiny -q >/dev/null
"$BIN" put file tiny@master:/ -f "$WORK/tiny" -r -q >/dev/null
t0=$(now)
"$BIN" pipeline create -f "$(spec copy tiny '/*' 'cp $PFS/tiny/* $PFS/out/')" >/dev/null
wait_job copy
t1=$(now)
A_JOB=$(job_secs)
A_RATE=$(py "print($TINY / $A_JOB)")
A_RATIO=$(py "print(f'{$A_RATE / $XARGS:.2f}')")
printf 'xargs -P 2 (sh + cp per file):  %8.0f files/s\n' "$XARGS"
printf 'strata job:                     %8.0f datums/s (job %.2f s; create-to-done %.2f s; %s)\n' \
  "$A_RATE" "$A_JOB" "$(py "print($t1 - $t0)")" "$(counts)"
echo "ratio strata/xargs:             $A_RATIO (goal >= 0.5)"

echo
echo "== (b) skipping $SKIP_FILES unchanged datums"
"$BIN" repo create many -q >/dev/null
"$BIN" put file many@master:/ -f "$WORK/many" -r -q >/dev/null
"$BIN" pipeline create -f "$(spec touch many '/*' 'true')" >/dev/null
wait_job touch
FIRST=$(job_secs)
echo "first job (runs every datum):   $(printf '%.2f' "$FIRST") s ($(counts))"
"$BIN" pipeline update -f "$(spec touch many '/*' 'true' 'bench, new description')" >/dev/null
wait_job touch
[ "$(job_field "j['datums']['skipped']")" = "$SKIP_FILES" ] || { echo "expected every datum skipped: $(counts)"; exit 1; }
B_JOB=$(job_secs)
B_US=$(py "print(f'{$B_JOB * 1e6 / $SKIP_FILES:.1f}')")
echo "all-skipped job:                $(printf '%.3f' "$B_JOB") s ($(counts))"
echo "per skipped datum:              $B_US µs (goal <= 20)"

echo
echo "== (c) $CHANGED of $SKIP_FILES files changed"
"$BIN" put file many@master:/ -f "$WORK/changed" -r -q >/dev/null
wait_job touch
C_JOB=$(job_secs)
echo "incremental job:                $(printf '%.2f' "$C_JOB") s ($(counts))"
"$BIN" repo create alone -q >/dev/null
"$BIN" put file alone@master:/ -f "$WORK/changed" -r -q >/dev/null
"$BIN" pipeline create -f "$(spec solo alone '/*' 'true')" >/dev/null
wait_job solo
C_ALONE=$(job_secs)
C_LIMIT=$(py "print(f'{2 * $C_ALONE + 1:.2f}')")
echo "the same datums alone:          $(printf '%.2f' "$C_ALONE") s ($(counts))"
echo "incremental vs limit:           $(printf '%.2f' "$C_JOB") s vs 2 × alone + 1 s = $C_LIMIT s"

echo
echo "== (d) job start for a 1-file commit on a $BIG_FILES-file repo ($BIG_DIRS datums, one per directory)"
"$BIN" repo create big -q >/dev/null
t0=$(now)
"$BIN" put file big@master:/ -f "$WORK/big" -r -q >/dev/null
t1=$(now)
echo "put $BIG_FILES files:            $(printf '%.1f' "$(py "print($t1 - $t0)")") s"
"$BIN" pipeline create -f "$(spec dirs big '/*' 'true')" >/dev/null
wait_job dirs
echo "first job:                      $(printf '%.2f' "$(job_secs)") s, start $(printf '%.3f' "$(start_secs)") s ($(counts))"
"$BIN" put file big@master:/ -f "$WORK/one" -r -q >/dev/null
wait_job dirs
D_START=$(start_secs)
JOB_ID=$(job_field "j['id']")
PLANNED=$("$BIN" logs --pipeline dirs --job "$JOB_ID" | grep -o 'planned in [0-9]* ms' || true)
echo "1-file commit: job start        $(printf '%.3f' "$D_START") s ($PLANNED; $(counts)) (goal <= 1 s)"
echo "1-file commit: whole job        $(printf '%.3f' "$(job_secs)") s"

echo
echo "== summary"
printf '(a) trivial datums / xargs -P 2:    %s (goal >= 0.5)\n' "$A_RATIO"
printf '(b) skip cost per datum:            %s µs (goal <= 20)\n' "$B_US"
printf '(c) 1%% incremental vs limit:        %.2f s vs %s s\n' "$C_JOB" "$C_LIMIT"
printf '(d) job start, 1 file in %s:   %.3f s (goal <= 1)\n' "$BIG_FILES" "$D_START"

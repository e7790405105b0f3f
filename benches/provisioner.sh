#!/usr/bin/env bash
# Provisioner benchmark against `strata dev` (release build, SQLite, local
# backend):
#  1. READY latency of new workspaces: COUNT creations one after another;
#     latency = the Ready condition's transition time minus the row's
#     creation time, both stamped by the server, so client polling does not
#     count. Prints the median and p95.
#  2. Autoscaler reaction: a pipeline with autoscaling sits at zero
#     workers; a commit of 8 files queues 8 datums; reaction = from the
#     commit's upload returning to `workspace inspect` showing desired > 0
#     (an upper bound: it includes job creation and the CLI's polling).
#     ROUNDS rounds, each after the pipeline is back at zero. Prints the
#     median and the worst, next to KEDA's default 30 s polling interval.
#  3. Wake latency of a sleeping workspace: a second `strata dev` puts idle
#     workspaces to sleep after 3 s; ROUNDS times, once the workspace is
#     SLEEPING and its server gone, the wall time of `strata get file` (the
#     request that wakes it), next to the same command on the awake
#     workspace. Prints p50/p95 of both against the 2 s goal.
#  4. Kubernetes backend (services/provisioner/benches/kubernetes.rs):
#     time and API requests to reconcile COUNT new workspaces and then the
#     same workspaces again with nothing to change, against kube-fake and
#     PostgreSQL.
#
#   benches/provisioner.sh            # COUNT=50 ROUNDS=5
#   COUNT=5 ROUNDS=2 benches/provisioner.sh   # quick run
#
# A wait that runs out fails the benchmark: a timeout is never a figure.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/strata/target}"
# HOME moves to a scratch directory below; cargo and rustup stay where they are.
export CARGO_HOME="${CARGO_HOME:-$HOME/.cargo}" RUSTUP_HOME="${RUSTUP_HOME:-$HOME/.rustup}"
COUNT=${COUNT:-50}
ROUNDS=${ROUNDS:-5}

scripts/services.sh >/dev/null
cargo build --release --locked --bin strata -q
BIN="$CARGO_TARGET_DIR/release/strata"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/strata-provisioner-bench.XXXXXX")
export STRATA_CONFIG="$WORK/cli.toml" HOME="$WORK"
SERVER_PID=
cleanup() {
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT

# Starts `strata dev` on the data directory $1 with the environment "$@"
# after it; the operator lets `local` hold the bench's workspaces (free allows 3).
start_dev() {
  local data=$1; shift
  env STRATA_ORG_PLANS=local=enterprise STRATA_SCALE_DOWN_COOLDOWN_SECS=1 STRATA_SANDBOX=scratch "$@" \
    "$BIN" dev --listen 127.0.0.1:0 --data-dir "$data" --log-level warn > "$WORK/dev.out" 2> "$WORK/dev.err" &
  SERVER_PID=$!
  for _ in $(seq 1 200); do grep -q "running at" "$WORK/dev.out" 2>/dev/null && break; sleep 0.05; done
  grep -q "running at" "$WORK/dev.out" || { echo "strata dev did not start:"; cat "$WORK/dev.err"; exit 1; }
}
start_dev "$WORK/data"

# Seconds between two RFC 3339 times.
seconds() { python3 -c 'import sys,datetime as d; p=lambda s: d.datetime.fromisoformat(s.replace("Z","+00:00")); print((p(sys.argv[2])-p(sys.argv[1])).total_seconds())' "$1" "$2"; }
fail() { echo "FAILED: $*" >&2; exit 1; }
stats() { sort -n | awk '{ v[NR] = $1 } END { m = v[int((NR + 1) / 2)]; p = v[int(NR * 0.95 + 0.999)]; printf "median %.0f ms, p95 %.0f ms, max %.0f ms (n=%d)\n", m * 1000, p * 1000, v[NR] * 1000, NR }'; }

echo "== READY latency, $COUNT workspaces created one after another"
: > "$WORK/ready.txt"
for i in $(seq -w 1 "$COUNT"); do
  ws=$("$BIN" -o json workspace create "bench-$i" --org local --wait)
  [ "$(jq -r .state <<<"$ws")" = READY ] || fail "bench-$i did not become READY: $ws"
  created=$("$BIN" -o json workspace list --org local | jq -r --arg s "bench-$i" '.[] | select(.slug == $s) | .createdAt')
  ready=$(jq -r '.conditions[] | select(.type == "Ready") | .lastTransitionTime' <<<"$ws")
  [ -n "$created" ] && [ -n "$ready" ] || fail "bench-$i: no creation or Ready time (created '$created', ready '$ready')"
  seconds "$created" "$ready" >> "$WORK/ready.txt"
done
stats < "$WORK/ready.txt"
# Free the machine for the second part.
for i in $(seq -w 1 "$COUNT"); do "$BIN" workspace delete "bench-$i" --org local --confirm "bench-$i" >/dev/null; done

echo "== Autoscaler reaction to a queue jump (0 -> 8 datums), $ROUNDS rounds"
"$BIN" -o json workspace create scale --org local --wait >/dev/null
"$BIN" workspace use local/scale >/dev/null
"$BIN" repo create numbers >/dev/null
cat > "$WORK/spec.json" <<'JSON'
{"pipeline": {"name": "count"}, "input": {"pfs": {"repo": "numbers", "glob": "/*"}},
 "transform": {"cmd": ["sh", "-c", "cp $PFS/numbers/* $PFS/out/"]},
 "parallelism_spec": {"constant": 4}, "autoscaling": true}
JSON
"$BIN" pipeline create -f "$WORK/spec.json" >/dev/null
workers() { "$BIN" -o json workspace inspect scale --org local | jq -c '.workers[] | select(.pipeline == "count")'; }
: > "$WORK/react.txt"
for round in $(seq 1 "$ROUNDS"); do
  # Each round starts from zero workers, or it measures nothing.
  idle=
  for _ in $(seq 1 300); do c=$(workers | jq .current); [ "${c:-0}" = 0 ] && { idle=yes; break; }; sleep 0.1; done
  [ -n "$idle" ] || fail "round $round: the workers did not go back to zero within 30 s (current $c)"
  mkdir -p "$WORK/in-$round"
  for n in $(seq 1 8); do echo "$round-$n" > "$WORK/in-$round/$round-$n.txt"; done
  "$BIN" put file numbers@master:/ -f "$WORK/in-$round" -r >/dev/null
  started=$(date +%s.%N)
  reacted=
  for _ in $(seq 1 200); do
    d=$(workers | jq .desired); [ "${d:-0}" -gt 0 ] && { reacted=yes; break; }
    sleep 0.02
  done
  [ -n "$reacted" ] || fail "round $round: the autoscaler did not ask for workers after 200 looks (desired ${d:-none})"
  awk -v from="$started" -v to="$(date +%s.%N)" 'BEGIN { print to - from }' >> "$WORK/react.txt"
done
stats < "$WORK/react.txt"
echo "(KEDA's default polling interval: 30000 ms)"

echo "== Wake latency of a sleeping workspace, $ROUNDS rounds (idle_sleep_after = 3)"
kill "$SERVER_PID" && wait "$SERVER_PID" 2>/dev/null || true
start_dev "$WORK/data-sleep" STRATA_IDLE_SLEEP_AFTER=3
endpoint=$("$BIN" -o json workspace create napper --org local --wait | jq -r .endpoint)
"$BIN" workspace use local/napper >/dev/null
"$BIN" repo create notes >/dev/null
echo "kept while asleep" > "$WORK/note.txt"
"$BIN" put file notes@master:/note.txt -f "$WORK/note.txt" >/dev/null
# Wall time of one `get file`, checking what it answers.
timed_get() {
  local from answer
  from=$(date +%s.%N)
  answer=$("$BIN" get file notes@master:/note.txt) || fail "get file failed"
  [ "$answer" = "kept while asleep" ] || fail "get file answered '$answer'"
  awk -v from="$from" -v to="$(date +%s.%N)" 'BEGIN { print to - from }'
}
: > "$WORK/wake.txt"; : > "$WORK/awake.txt"
for round in $(seq 1 "$ROUNDS"); do
  asleep=
  for _ in $(seq 1 600); do
    [ "$("$BIN" -o json workspace inspect napper --org local | jq -r .state)" = SLEEPING ] && { asleep=yes; break; }
    sleep 0.1
  done
  [ -n "$asleep" ] || fail "round $round: the workspace did not fall asleep within 60 s"
  # Its server gone: nothing listens at the address it had.
  for _ in $(seq 1 200); do curl -s -o /dev/null "$endpoint/healthz" || break; sleep 0.05; done
  curl -s -o /dev/null "$endpoint/healthz" && fail "round $round: the sleeping workspace's server still answers"
  timed_get >> "$WORK/wake.txt"
  [ "$("$BIN" -o json workspace inspect napper --org local | jq -r .state)" = READY ] || fail "round $round: not READY after the wake"
  endpoint=$("$BIN" -o json workspace inspect napper --org local | jq -r .endpoint)
  timed_get >> "$WORK/awake.txt"
done
printf "first request to a sleeping workspace: "; stats < "$WORK/wake.txt"
printf "same request, workspace awake:          "; stats < "$WORK/awake.txt"
p95=$(sort -n "$WORK/wake.txt" | awk '{ v[NR] = $1 } END { print v[int(NR * 0.95 + 0.999)] }')
awk -v p="$p95" 'BEGIN { exit !(p <= 2.0) }' && echo "(goal: wake to first answer <= 2000 ms: met)" || echo "(goal: wake to first answer <= 2000 ms: NOT met)"

echo "== Kubernetes backend: reconcile cost, $COUNT workspaces (kube-fake + PostgreSQL)"
COUNT="$COUNT" cargo bench --locked -q -p strata-provisioner --bench kubernetes

#!/usr/bin/env bash
# GraphQL benchmark: `viewer { id }`, a 20-item workspaces page, and a
# workspace's data (repos with branches, pipelines with their last job, as
# the console's workspace page asks) with an API token, against `strata dev` (release build) on PostgreSQL, driven by
# wrk over loopback on the same machine. Prints requests/s and latency
# percentiles, and the SQL statements each request costs (from
# strata_db_queries_total). Fails instead if any answer is not 2xx, or a
# sampled body (every SAMPLE_EVERY-th) has no `data` or has `errors`.
#
#   benches/graphql.sh                       # 10 s per query, 32 connections
#   STRATA_BIN=/path/to/strata benches/graphql.sh   # another build, to compare
#   DURATION=30s CONNECTIONS=64 benches/graphql.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/strata/target}"
DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-32}
THREADS=${THREADS:-2}
# Every SAMPLE_EVERY-th answer of each wrk thread has its body checked.
SAMPLE_EVERY=${SAMPLE_EVERY:-20}
POSTGRES_ADMIN=${STRATA_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}

scripts/services.sh
command -v wrk >/dev/null || { echo "installing wrk" >&2; apt-get install -y -qq wrk >/dev/null; }
# STRATA_BIN runs another build of strata (e.g. an earlier release, to
# compare); by default the current source is built.
if [ -n "${STRATA_BIN:-}" ]; then
  BIN=$STRATA_BIN
else
  cargo build --release --locked --bin strata -q
  BIN="$CARGO_TARGET_DIR/release/strata"
fi
WORK=$(mktemp -d "${TMPDIR:-/tmp}/strata-graphql-bench.XXXXXX")
DB="strata_bench_$(date +%s)_$$"
export STRATA_CONFIG="$WORK/cli.toml"
SERVER_PID=
cleanup() {
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
  psql -q "$POSTGRES_ADMIN" -c "DROP DATABASE IF EXISTS \"$DB\" WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

psql -q "$POSTGRES_ADMIN" -c "CREATE DATABASE \"$DB\"" >/dev/null
DB_URL="${POSTGRES_ADMIN%/*}/$DB"
# No request limit: the benchmark is one token asking as fast as it can.
# The bench reads /metrics with its own token; the operator lets `bench` hold 20 workspaces.
METRICS_TOKEN="bench-$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
STRATA_METRICS_TOKEN="$METRICS_TOKEN" STRATA_ORG_PLANS=bench=team \
STRATA_RATE_LIMIT_PER_MINUTE=0 STRATA_WORKERS=0 STRATA_PROVISIONER=off "$BIN" dev --listen 127.0.0.1:0 --data-dir "$WORK/data" \
  --database-url "$DB_URL" --log-level warn > "$WORK/dev.out" 2> "$WORK/dev.err" &
SERVER_PID=$!
for _ in $(seq 1 200); do grep -q "running at" "$WORK/dev.out" 2>/dev/null && break; sleep 0.05; done
URL=$(sed -n 's/^Strata is running at //p' "$WORK/dev.out" | head -1)
[ -n "$URL" ] || { echo "strata dev did not start:"; cat "$WORK/dev.err"; exit 1; }

# The embedded workspace local/default (the CLI's context until `org create`
# below), as a console user sees it: 10 repos with two branches each and 3
# pipelines, read with a reader token of `local`.
for i in $(seq -w 1 10); do
  "$BIN" repo create "data-$i" >/dev/null
  echo "row $i" | "$BIN" put file "data-$i@master:/rows.txt" -f - >/dev/null
  "$BIN" branch create "data-$i@staging" --head master >/dev/null
done
for i in 1 2 3; do
  printf '{"pipeline": {"name": "p%s"}, "input": {"pfs": {"repo": "data-0%s", "glob": "/*"}}, "transform": {"cmd": ["cp", "-r", "/pfs/data-0%s", "/pfs/out/"]}}' \
    "$i" "$i" "$i" > "$WORK/p$i.json"
  "$BIN" pipeline create -f "$WORK/p$i.json" >/dev/null
done
"$BIN" org create bench >/dev/null
for i in $(seq -w 1 20); do "$BIN" workspace create "ws-$i" --org bench >/dev/null; done
TOKEN=$("$BIN" -o json token create bench --role reader --org bench | jq -r .token)

LOCAL_TOKEN=$("$BIN" -o json token create bench-local --role reader --org local | jq -r .token)

queries() { curl -s -H "Authorization: Bearer $METRICS_TOKEN" "$URL/metrics" | awk '/^strata_db_queries_total/ { n += $2 } END { printf "%d", n }'; }

run() { # NAME QUERY [TOKEN]
  local name=$1 query=$2 token=${3:-$TOKEN} body
  body=$(jq -cn --arg q "$query" '{query: $q}')
  # One request first: it must succeed, and it shows the SQL statements.
  local before after answer
  before=$(queries)
  answer=$(curl -s "$URL/graphql" -H "Authorization: Bearer $token" -H 'Content-Type: application/json' -d "$body")
  after=$(queries)
  jq -e '.data != null and (.errors | length) == 0' <<<"$answer" >/dev/null 2>&1 || { echo "$name failed: $answer"; exit 1; }
  # GraphQL errors come with HTTP 200, which wrk counts as a success: the
  # script checks every status and every SAMPLE_EVERY-th body itself.
  cat > "$WORK/post.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $token"
wrk.body = [[$body]]
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) seen = 0; sampled = 0; bad_status = 0; bad_body = 0; first_bad = "" end
function response(status, headers, body)
  seen = seen + 1
  if status < 200 or status > 299 then
    bad_status = bad_status + 1
    if first_bad == "" then first_bad = status .. " " .. string.sub(body, 1, 300) end
  elseif seen % $SAMPLE_EVERY == 1 then
    sampled = sampled + 1
    if not string.find(body, '"data":{', 1, true) or string.find(body, '"errors"', 1, true) then
      bad_body = bad_body + 1
      if first_bad == "" then first_bad = string.sub(body, 1, 300) end
    end
  end
end
done = function(summary, latency, requests)
  local sampled, bad_status, bad_body, first_bad = 0, 0, 0, ""
  for _, thread in ipairs(threads) do
    sampled = sampled + thread:get("sampled")
    bad_status = bad_status + thread:get("bad_status")
    bad_body = bad_body + thread:get("bad_body")
    if first_bad == "" then first_bad = thread:get("first_bad") end
  end
  local transport = summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout
  io.write(string.format("RESULT %d %d %.0f %.3f %.3f %.3f\n", summary.requests, transport,
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000))
  io.write(string.format("CHECKED %d %d %d\n", sampled, bad_status, bad_body))
  if first_bad ~= "" then io.write("FIRST_BAD " .. string.gsub(first_bad, "\n", " ") .. "\n") end
end
LUA
  local report line checked
  report=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" -s "$WORK/post.lua" "$URL/graphql")
  line=$(grep '^RESULT' <<<"$report") || { echo "$name: wrk printed no result:"; echo "$report"; exit 1; }
  checked=$(grep '^CHECKED' <<<"$report") || { echo "$name: wrk printed no checks:"; echo "$report"; exit 1; }
  read -r _ total transport rps p50 p99 max <<<"$line"
  read -r _ sampled bad_status bad_body <<<"$checked"
  if [ "$total" -eq 0 ] || [ "$transport" -ne 0 ] || [ "$bad_status" -ne 0 ] || [ "$bad_body" -ne 0 ] || [ "$sampled" -eq 0 ]; then
    echo "$name FAILED: $total requests, $transport transport errors, $bad_status non-2xx answers," \
      "$bad_body of $sampled sampled bodies without data or with errors"
    grep '^FIRST_BAD' <<<"$report" || true
    exit 1
  fi
  printf '%-34s %8s req/s  p50 %6s ms  p99 %6s ms  max %7s ms  (%s requests, all 2xx, %s bodies checked, %s SQL statements each)\n' \
    "$name" "$rps" "$p50" "$p99" "$max" "$total" "$sampled" "$((after - before))"
}

echo "== GraphQL on PostgreSQL, $CONNECTIONS connections, $THREADS wrk threads, $DURATION each ($(nproc) cores shared with wrk)"
run 'viewer { id }' '{ viewer { id } }'
run 'workspaces page (20)' '{ organization(slug: "bench") { workspaces(first: 20) { totalCount edges { node { slug state viewerRole } } } } }'
run 'workspaces page (20) with members' '{ organization(slug: "bench") { workspaces(first: 20) { edges { node { slug members { email role } } } } } }'
WORKSPACE_QUERY='{ organization(slug: "local") { workspace(slug: "default") { repos { name branches { name head } } pipelines { name state lastJobState } } } }'
run 'workspace: repos with branches, pipelines with last job' "$WORKSPACE_QUERY" "$LOCAL_TOKEN"
# Every build compared must give the same answer: the 10 repos with their
# two branches each, and the 3 pipelines.
shape=$(curl -s "$URL/graphql" -H "Authorization: Bearer $LOCAL_TOKEN" -H 'Content-Type: application/json' \
  -d "$(jq -cn --arg q "$WORKSPACE_QUERY" '{query: $q}')" |
  jq -c '.data.organization.workspace | [([.repos[] | select(.branches | length == 2)] | length), (.pipelines | length)]')
[ "$shape" = '[10,3]' ] || { echo "workspace query answered $shape, expected [10,3] (repos with 2 branches, pipelines)"; exit 1; }
echo "server peak RSS: $(awk '/VmHWM/ { printf "%.0f MiB", $2 / 1024 }' "/proc/$SERVER_PID/status")"

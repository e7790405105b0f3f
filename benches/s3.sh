#!/usr/bin/env bash
# PFS throughput on S3 next to the local file store. Runs `strata dev`
# (release build, SQLite) twice, once on the local directory store and once
# on `s3://` against a real S3 server on loopback (`s3s-fs`, installed by
# scripts/s3.sh), and times what a user runs: `strata put file` and
# `strata get file` of one BIG_MIB file of random bytes (nothing
# deduplicates or compresses), ROUNDS times each, a new path per round.
# `cp` of the same file is printed as the machine's disk limit; s3s-fs keeps
# its objects on the same disk, so S3 pays HTTP and SigV4 on top.
#
#   benches/s3.sh                   # BIG_MIB=512 ROUNDS=3
#   BIG_MIB=64 ROUNDS=2 benches/s3.sh
#
# Every get is compared byte for byte with what was put; a difference, a
# server that does not start or a failed command fails the benchmark.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/strata/target}"
BIG_MIB=${BIG_MIB:-512}
ROUNDS=${ROUNDS:-3}

eval "$(scripts/s3.sh)"
cargo build --release --locked --bin strata -q
BIN="$CARGO_TARGET_DIR/release/strata"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/strata-s3-bench.XXXXXX")
export STRATA_CONFIG="$WORK/cli.toml"
SERVER_PID= S3_PID=
cleanup() {
  for pid in $SERVER_PID $S3_PID; do kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT
fail() { echo "FAILED: $*" >&2; exit 1; }
now() { date +%s.%N; }
# MB/s of $BIG_BYTES between two times.
rate() { python3 -c "print(f'{$BIG_BYTES / 1e6 / ($2 - $1):.0f}')"; }
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

start_dev() {
  "$BIN" dev --listen 127.0.0.1:0 --data-dir "$WORK/data-$1" --log-level warn "${@:2}" \
    > "$WORK/dev.out" 2> "$WORK/dev.err" &
  SERVER_PID=$!
  for _ in $(seq 1 200); do grep -q "running at" "$WORK/dev.out" 2>/dev/null && return 0; sleep 0.05; done
  echo "strata dev did not start:"; cat "$WORK/dev.err"; exit 1
}
stop_dev() { kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=; }

# Puts and gets the file ROUNDS times on the running server; prints the
# median put and get MB/s.
measure() {
  "$BIN" repo create "bench-$1" -q >/dev/null
  : > "$WORK/put.txt"; : > "$WORK/get.txt"
  for round in $(seq 1 "$ROUNDS"); do
    t0=$(now); "$BIN" put file "bench-$1@master:/big-$round.bin" -f "$WORK/big.bin" -q >/dev/null; t1=$(now)
    rate "$t0" "$t1" >> "$WORK/put.txt"
    t0=$(now); "$BIN" get file "bench-$1@master:/big-$round.bin" > "$WORK/back.bin"; t1=$(now)
    rate "$t0" "$t1" >> "$WORK/get.txt"
    cmp -s "$WORK/big.bin" "$WORK/back.bin" || fail "$1, round $round: get file returned different bytes"
    rm -f "$WORK/back.bin"
  done
  echo "$(median < "$WORK/put.txt") $(median < "$WORK/get.txt")"
}

head -c $((BIG_MIB << 20)) /dev/urandom > "$WORK/big.bin"
BIG_BYTES=$(stat -c %s "$WORK/big.bin")
sync
t0=$(now); cp "$WORK/big.bin" "$WORK/copy.bin"; sync; t1=$(now); rm -f "$WORK/copy.bin"
CP=$(rate "$t0" "$t1")

start_dev local
read -r LOCAL_PUT LOCAL_GET < <(measure local)
stop_dev

ACCESS=strata-bench SECRET=strata-bench-secret
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
mkdir -p "$WORK/s3/strata"
"$STRATA_TEST_S3S_FS" --host 127.0.0.1 --port "$PORT" --access-key "$ACCESS" --secret-key "$SECRET" "$WORK/s3" \
  > /dev/null 2> "$WORK/s3.err" &
S3_PID=$!
for _ in $(seq 1 200); do (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break; sleep 0.05; done
(exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null || { echo "s3s-fs did not start:"; cat "$WORK/s3.err"; exit 1; }
export AWS_ENDPOINT="http://127.0.0.1:$PORT" AWS_ALLOW_HTTP=true AWS_REGION=us-east-1 \
  AWS_ACCESS_KEY_ID="$ACCESS" AWS_SECRET_ACCESS_KEY="$SECRET"
start_dev s3 --object-store-url s3://strata/pfs
read -r S3_PUT S3_GET < <(measure s3)
stop_dev
[ -n "$(find "$WORK/s3/strata" -type f | head -1)" ] || fail "nothing reached the S3 server"

echo "== one $BIG_MIB MiB file, median of $ROUNDS rounds (MB/s)"
printf "%-28s %6s %6s\n" "" put get
printf "%-28s %6s %6s\n" "local file store" "$LOCAL_PUT" "$LOCAL_GET"
printf "%-28s %6s %6s\n" "S3 (s3s-fs on loopback)" "$S3_PUT" "$S3_GET"
printf "%-28s %6s\n" "cp + sync (disk limit)" "$CP"
python3 -c "print(f'S3 / local: put x{$S3_PUT / $LOCAL_PUT:.2f}, get x{$S3_GET / $LOCAL_GET:.2f}')"

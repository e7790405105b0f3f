#!/usr/bin/env bash
# PFS benchmark. Generates its own data, runs `strata dev` (release build,
# embedded SQLite + file store) and prints each figure next to what this
# machine does with the same bytes (sha256sum, b3sum-equivalent, cp).
#
#   benches/pfs.sh            # full run (needs ~4 GiB of free disk)
#   SMALL_FILES=2000 BIG_MIB=128 MANY_FILES=20000 benches/pfs.sh   # quick run
#
# Every answer is checked (bytes read back, entries listed and matched); a
# wrong one fails the benchmark instead of printing a figure.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/strata/target}"

SMALL_FILES=${SMALL_FILES:-20000}
BIG_MIB=${BIG_MIB:-1024}
MANY_FILES=${MANY_FILES:-200000}

cargo build --release --locked --bin strata -q
BIN="$CARGO_TARGET_DIR/release/strata"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/strata-bench.XXXXXX")
export STRATA_CONFIG="$WORK/cli.toml"
SERVER_PID=
cleanup() {
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT

now() { date +%s.%N; }
elapsed() { python3 -c "print(f'{$2 - $1:.3f}')"; }
per_sec() { python3 -c "print(f'{$1 / ($3 - $2):,.0f}')"; }
mb_per_sec() { python3 -c "print(f'{$1 / 1e6 / ($3 - $2):,.0f}')"; }
ratio() { python3 -c "print(f'{$1 / $2:.2f}')"; }
fail() { echo "FAILED: $*" >&2; exit 1; }
# Entries of a JSON list of files (stdin) whose path matches the regex $1.
count_paths() { python3 -c "import json,re,sys; print(sum(1 for e in json.load(sys.stdin) if re.fullmatch(sys.argv[1], e['path'])))" "$1"; }

start_server() {
  "$BIN" dev --listen 127.0.0.1:0 --data-dir "$WORK/data" --log-level warn > "$WORK/dev.out" 2> "$WORK/dev.err" &
  SERVER_PID=$!
  for _ in $(seq 1 100); do
    grep -q "running at" "$WORK/dev.out" 2>/dev/null && return 0
    sleep 0.05
  done
  echo "strata dev did not start:"; cat "$WORK/dev.err"; exit 1
}
stop_server() { kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=; }
peak_rss_mib() { awk '/VmHWM/ { printf "%.0f", $2 / 1024 }' "/proc/$SERVER_PID/status"; }
chunk_bytes() { "$BIN" -o json gc --grace-secs 999999 >/dev/null; du -sb "$WORK/data/objects/workspaces/default/chunks" | cut -f1; }

echo "== generating data in $WORK"
python3 - "$WORK" "$SMALL_FILES" "$BIG_MIB" <<'PY'
import os, sys
work, small, big_mib = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rng = os.urandom
for i in range(small):
    d = os.path.join(work, "small", f"d{i % 100:02}", f"e{i % 10}")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, f"f{i:06}.bin"), "wb") as f:
        f.write(rng(4096))
with open(os.path.join(work, "big.bin"), "wb") as f:
    for _ in range(big_mib):
        f.write(rng(1 << 20))
PY
BIG_BYTES=$(stat -c %s "$WORK/big.bin")
sync

start_server
"$BIN" repo create bench -q >/dev/null

echo
echo "== (a) recursive put of $SMALL_FILES files of 4 KiB"
t0=$(now); cp -r "$WORK/small" "$WORK/small-copy"; t1=$(now); rm -rf "$WORK/small-copy"
echo "cp -r:                      $(per_sec "$SMALL_FILES" "$t0" "$t1") files/s"
t0=$(now); "$BIN" put file bench@master:/small -f "$WORK/small" -r -q >/dev/null; t1=$(now)
echo "strata put file -r:         $(per_sec "$SMALL_FILES" "$t0" "$t1") files/s ($(elapsed "$t0" "$t1") s)"

echo
echo "== (b) put of one $BIG_MIB MiB file"
t0=$(now); sha256sum "$WORK/big.bin" >/dev/null; t1=$(now); SHA=$(mb_per_sec "$BIG_BYTES" "$t0" "$t1")
t0=$(now); cp "$WORK/big.bin" "$WORK/big-copy.bin"; t1=$(now); CP=$(mb_per_sec "$BIG_BYTES" "$t0" "$t1")
t0=$(now); cp "$WORK/big.bin" "$WORK/big-copy2.bin"; sync "$WORK/big-copy2.bin"; t1=$(now); CPSYNC=$(mb_per_sec "$BIG_BYTES" "$t0" "$t1")
rm -f "$WORK/big-copy.bin" "$WORK/big-copy2.bin"
echo "sha256sum:                  $SHA MB/s"
echo "cp (page cache):            $CP MB/s"
echo "cp + sync:                  $CPSYNC MB/s"
t0=$(now); "$BIN" put file bench@master:/big.bin -f "$WORK/big.bin" -q >/dev/null; t1=$(now); PUT=$(mb_per_sec "$BIG_BYTES" "$t0" "$t1")
echo "strata put file:            $PUT MB/s  (x$(ratio "${PUT//,/}" "${SHA//,/}") sha256sum, x$(ratio "${PUT//,/}" "${CP//,/}") cp)"

echo
echo "== (c) get both back"
t0=$(now); "$BIN" get file bench@master:/big.bin --out "$WORK/big-back.bin" -q; t1=$(now); GET=$(mb_per_sec "$BIG_BYTES" "$t0" "$t1")
cmp -s "$WORK/big.bin" "$WORK/big-back.bin" || fail "get file: the $BIG_MIB MiB file came back with different bytes"
rm -f "$WORK/big-back.bin"
echo "strata get file:            $GET MB/s (identical; x$(ratio "${GET//,/}" "${PUT//,/}") put)"
t0=$(now); "$BIN" get file bench@master:/small -r --out "$WORK/small-back" -q; t1=$(now)
diff -r -q "$WORK/small" "$WORK/small-back" >/dev/null || fail "get file -r: the small files came back different"
rm -rf "$WORK/small-back"
echo "strata get file -r:         $(per_sec "$SMALL_FILES" "$t0" "$t1") files/s (identical)"

echo
echo "== (d) dedup"
before=$(chunk_bytes)
"$BIN" put file bench@master:/big-again.bin -f "$WORK/big.bin" -q >/dev/null
"$BIN" put file bench@master:/small-again -f "$WORK/small" -r -q >/dev/null
after=$(chunk_bytes)
echo "re-put identical data:      $((after - before)) new bytes stored"
python3 - "$WORK/big.bin" <<'PY'
import sys
path = sys.argv[1]
size = __import__("os").path.getsize(path)
edit = size // 100
with open(path, "r+b") as f:
    f.seek(size // 2)
    data = bytearray(f.read(edit))
    for i in range(len(data)):
        data[i] ^= 0x5a
    f.seek(size // 2)
    f.write(data)
PY
before=$(chunk_bytes)
"$BIN" put file bench@master:/big-edited.bin -f "$WORK/big.bin" -q >/dev/null
after=$(chunk_bytes)
echo "1 % in-place edit:          $((after - before)) new bytes = $(python3 -c "print(f'{100 * ($after - $before) / $BIG_BYTES:.2f}')") % of the file"

echo
echo "== (e) list and glob over a $MANY_FILES-file commit"
rm -rf "$WORK/small" "$WORK/big.bin"
python3 - "$WORK" "$MANY_FILES" <<'PY'
import os, sys
work, count = sys.argv[1], int(sys.argv[2])
for i in range(count):
    d = os.path.join(work, "many", f"p{i % 200:03}")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, f"f{i:07}.txt"), "w") as f:
        f.write(f"{i}\n")
PY
"$BIN" repo create wide -q >/dev/null
t0=$(now); "$BIN" put file wide@master:/ -f "$WORK/many" -r -q >/dev/null; t1=$(now)
echo "put of $MANY_FILES files:     $(per_sec "$MANY_FILES" "$t0" "$t1") files/s"
stop_server; start_server
# What each answer must hold: the directories p000..p199 (fewer when
# there are fewer files), and file i in p<i % 200>.
DIRS=$(( MANY_FILES < 200 ? MANY_FILES : 200 ))
IN_P1=$(python3 -c "print(sum(1 for i in range($MANY_FILES) if 100 <= i % 200 <= 199))")
t0=$(now); "$BIN" -o json list file wide@master:/ > "$WORK/listed.json"; t1=$(now)
n=$(count_paths '/p[0-9]{3}/?' < "$WORK/listed.json")
[ "$n" = "$DIRS" ] || fail "list file / found $n of the $DIRS directories"
echo "list file / ($n dirs):       $(elapsed "$t0" "$t1") s"
t0=$(now); "$BIN" -o json glob file 'wide@master:/p1*/*' > "$WORK/globbed.json"; t1=$(now)
n=$(count_paths '/p1[0-9]{2}/f[0-9]{7}\.txt' < "$WORK/globbed.json")
[ "$n" = "$IN_P1" ] || fail "glob /p1*/* matched $n of the $IN_P1 files"
echo "glob /p1*/* ($n matches):  $(elapsed "$t0" "$t1") s"
t0=$(now); "$BIN" -o json glob file 'wide@master:/**' > "$WORK/globbed.json"; t1=$(now)
n=$(count_paths '/p[0-9]{3}/f[0-9]{7}\.txt' < "$WORK/globbed.json")
[ "$n" = "$MANY_FILES" ] || fail "glob /** matched $n of the $MANY_FILES files"
echo "glob /** ($n matches):     $(elapsed "$t0" "$t1") s"
echo "server peak RSS:            $(peak_rss_mib) MiB"

#!/usr/bin/env bash
# The word-count example end to end, against a running `strata dev`:
# two chained pipelines, then an incremental update of one document.
set -euo pipefail
cd "$(dirname "$0")"
strata=${STRATA:-strata}

$strata repo create documents
$strata put file documents@master:/ -f data -r
$strata pipeline create -f count.yaml
$strata pipeline create -f top.json
$strata job wait -p top
$strata get file top@master:/top10.txt

echo "--- change one document: only its datum runs again"
echo 'The fox and the dog became friends.' | $strata put file documents@master:/fox.txt -f -
$strata job wait -p count
$strata job inspect count@latest -o json | grep -E '"(total|processed|skipped)"'
$strata job wait -p top
$strata get file top@master:/top10.txt

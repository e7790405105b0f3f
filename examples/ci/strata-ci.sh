#!/usr/bin/env bash
# A CI job that drives a Strata workspace with nothing but curl, jq and an
# API token: create a repo (if missing), upload a file, create or update a
# pipeline, and wait for the job the upload started.
#
#   STRATA_ENDPOINT  e.g. https://strata.example.com (or http://127.0.0.1:8080)
#   STRATA_TOKEN     an API token (`strata token create ci --role writer`)
#   STRATA_ORG       the organisation's slug
#   STRATA_WORKSPACE the workspace's slug
#
#   examples/ci/strata-ci.sh REPO LOCAL_FILE PIPELINE_SPEC
set -euo pipefail
: "${STRATA_ENDPOINT:?set STRATA_ENDPOINT}" "${STRATA_TOKEN:?set STRATA_TOKEN}"
: "${STRATA_ORG:?set STRATA_ORG}" "${STRATA_WORKSPACE:?set STRATA_WORKSPACE}"
repo=$1 file=$2 spec=$3

# gql QUERY VARIABLES_JSON -> the response's data; fails on top-level errors.
gql() {
  local body response
  body=$(jq -n --arg q "$1" --argjson v "$2" '{query: $q, variables: $v}')
  response=$(curl -fsS "$STRATA_ENDPOINT/graphql" \
    -H "Authorization: Bearer $STRATA_TOKEN" -H 'Content-Type: application/json' -d "$body")
  if [ "$(jq '.errors | length' <<<"$response")" != "0" ]; then
    echo "GraphQL error: $(jq -c .errors <<<"$response")" >&2
    return 1
  fi
  jq -c .data <<<"$response"
}

# user_errors DATA FIELD -> fails (printing them) unless FIELD.userErrors is empty,
# except for the codes given after FIELD.
user_errors() {
  local data=$1 field=$2; shift 2
  local allowed
  allowed=$(printf '%s\n' "$@" | jq -R . | jq -s .)
  local errors
  errors=$(jq -c --arg f "$field" --argjson ok "$allowed" '.[$f].userErrors | map(select(.code as $c | $ok | index($c) | not))' <<<"$data")
  if [ "$errors" != "[]" ]; then
    echo "$field refused: $errors" >&2
    return 1
  fi
}

target=$(jq -n --arg o "$STRATA_ORG" --arg w "$STRATA_WORKSPACE" '{organization: $o, workspace: $w}')

data=$(gql 'mutation($i: CreateRepoInput!) { createRepo(input: $i) { repo { name } userErrors { field message code } } }' \
  "$(jq -n --argjson t "$target" --arg n "$repo" '{i: {target: $t, name: $n}}')")
user_errors "$data" createRepo ALREADY_EXISTS
echo "repo $repo is there"

# Bytes go over HTTP, not GraphQL: one PUT makes and finishes a commit. The
# hub's gateway checks the token's role and streams it to the workspace.
put=$(curl -fsS -X PUT "$STRATA_ENDPOINT/v1/orgs/$STRATA_ORG/workspaces/$STRATA_WORKSPACE/repos/$repo/refs/master/files/$(basename "$file")" \
  -H "Authorization: Bearer $STRATA_TOKEN" --data-binary "@$file")
commit=$(jq -r .commit <<<"$put")
echo "uploaded $(basename "$file") in commit $commit"

spec_text=$(cat "$spec")
data=$(gql 'mutation($i: CreatePipelineInput!) { createPipeline(input: $i) { pipelines { name } userErrors { field message code } } }' \
  "$(jq -n --argjson t "$target" --arg s "$spec_text" '{i: {target: $t, spec: $s}}')")
if ! user_errors "$data" createPipeline 2>/dev/null; then
  data=$(gql 'mutation($i: UpdatePipelineInput!) { updatePipeline(input: $i) { pipelines { name } userErrors { field message code } } }' \
    "$(jq -n --argjson t "$target" --arg s "$spec_text" '{i: {target: $t, spec: $s}}')")
  user_errors "$data" updatePipeline
fi
pipeline=$(jq -r '(.createPipeline // .updatePipeline).pipelines[0].name' <<<"$data")
echo "pipeline $pipeline is there"

# Wait for the newest job that read the uploaded commit (`repo@commit` among
# its inputs): the upload's own job, or the new pipeline's first one.
wanted="$repo@$commit"
for _ in $(seq 1 600); do
  data=$(gql 'query($o: String!, $w: String!, $p: String!) { workspace(organization: $o, slug: $w) { pipeline(name: $p) { jobs(first: 10) { id state inputs datums { total processed skipped failed } } } } }' \
    "$(jq -n --arg o "$STRATA_ORG" --arg w "$STRATA_WORKSPACE" --arg p "$pipeline" '{o: $o, w: $w, p: $p}')")
  job=$(jq -c --arg in "$wanted" '[.workspace.pipeline.jobs[] | select(.inputs | index($in))][0] // {}' <<<"$data")
  state=$(jq -r '.state // "PENDING"' <<<"$job")
  case $state in
    SUCCESS) echo "job $(jq -r .id <<<"$job"): SUCCESS $(jq -c .datums <<<"$job")"; exit 0 ;;
    FAILURE|KILLED|UNRUNNABLE) echo "job $(jq -r .id <<<"$job"): $state" >&2; exit 1 ;;
  esac
  sleep 0.5
done
echo "no job for $wanted finished in 5 minutes" >&2
exit 1

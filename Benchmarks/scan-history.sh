#!/usr/bin/env bash
# Benchmark: `tokenproxy scan --history` over a generated repository of 10,000 commits must finish in under 60 s
# and find the token planted deep in that history (commit 150 adds it, commit 151 deletes it).
#
#   Benchmarks/scan-history.sh                     # uses .build/release/tokenproxy, else .build/debug/tokenproxy
#   TOKENPROXY=/path/to/tokenproxy COMMITS=20000 LIMIT_SECONDS=60 Benchmarks/scan-history.sh
#
# The repository is written with one `git fast-import` stream (seconds, not 10,000 `git commit` calls). The planted
# value is a random canary given to the scan as a configured credential through the environment; it is never printed.
set -euo pipefail
cd "$(dirname "$0")/.."

commits=${COMMITS:-10000}
limit=${LIMIT_SECONDS:-60}
plant_at=150
binary=${TOKENPROXY:-}
if [ -z "$binary" ]; then
    for candidate in .build/release/tokenproxy .build/debug/tokenproxy; do
        [ -x "$candidate" ] && { binary=$PWD/$candidate; break; }
    done
fi
[ -n "$binary" ] && [ -x "$binary" ] || { echo "scan-history: build tokenproxy first (swift build)" >&2; exit 2; }

work=$(mktemp -d "${TMPDIR:-/tmp}/tokenproxy-scan-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
export HOME=$work GIT_CONFIG_NOSYSTEM=1
canary="tpcanary-$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')"
export TP_BENCH_CANARY=$canary

cat > "$work/tokenproxy.yaml" <<'YAML'
credentials:
  deploy:
    source: env:TP_BENCH_CANARY
rules:
  - host: api.example.com
    credential: deploy
    inject: { header: Authorization, value: "Bearer {{secret}}" }
YAML

git init -q -b main "$work/repo"
awk -v commits="$commits" -v plant="$plant_at" -v canary="$canary" 'BEGIN {
    for (n = 1; n <= commits; n++) {
        message = "commit " n "\n"
        printf "commit refs/heads/main\nmark :%d\ncommitter Bench <bench@example.com> %d +0000\n", n, 1700000000 + n
        printf "data %d\n%s", length(message), message
        if (n > 1) printf "from :%d\n", n - 1
        content = "entry " n "\nvalue = " (n * 7919 % 100003) "\n"
        printf "M 100644 inline src/file%d.txt\ndata %d\n%s", n % 64, length(content), content
        if (n == plant) {
            secret = "# deploy settings\nDEPLOY_TOKEN=" canary "\n"
            printf "M 100644 inline config/secret.env\ndata %d\n%s", length(secret), secret
        } else if (n == plant + 1) {
            printf "D config/secret.env\n"
        }
        printf "\n"
    }
}' | git -C "$work/repo" fast-import --quiet
introducing=$(git -C "$work/repo" rev-list --reverse main | sed -n "${plant_at}p")

start=$(date +%s.%N)
set +e
(cd "$work/repo" && "$binary" scan --history --config "$work/tokenproxy.yaml") > "$work/out" 2> "$work/err"
status=$?
set -e
elapsed=$(awk -v start="$start" -v end="$(date +%s.%N)" 'BEGIN { printf "%.2f", end - start }')

if grep -qF "$canary" "$work/out" "$work/err"; then echo "scan-history: FAIL: the value appeared in the output" >&2; exit 1; fi
expected="${introducing:0:12}:config/secret.env:2: configured-token credential deploy"
if [ "$status" -ne 1 ] || ! grep -qF "$expected" "$work/out"; then
    echo "scan-history: FAIL: exit $status, expected a finding '$expected'; got:" >&2
    cat "$work/out" "$work/err" >&2
    exit 1
fi
echo "scan-history: $commits commits scanned in ${elapsed}s (limit ${limit}s); $(tail -1 "$work/err")"
if ! awk -v elapsed="$elapsed" -v limit="$limit" 'BEGIN { exit !(elapsed < limit) }'; then
    echo "scan-history: FAIL: slower than ${limit}s" >&2
    exit 1
fi
echo "scan-history: PASS"

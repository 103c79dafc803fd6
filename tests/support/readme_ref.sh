#!/usr/bin/env bash
# The README's configuration reference is `sqlflume help config`'s output, byte for byte:
#   tests/support/readme_ref.sh check BUILD_DIR   exit 1 with a diff when they differ
#   tests/support/readme_ref.sh update BUILD_DIR  rewrite the README's reference from the binary
# The reference runs from the first "### source" heading to the line before "## Benchmark".
set -eu
cd "$(dirname "$0")/../.."
mode=$1
bin=$2/sqlflume
start=$(grep -n '^### source `type = ' README.md | head -1 | cut -d: -f1)
end=$(grep -n '^## Benchmark' README.md | head -1 | cut -d: -f1)
if [ "$mode" = update ]; then
    { head -n $((start - 1)) README.md; "$bin" help config; tail -n +"$end" README.md; } >README.md.new
    mv README.md.new README.md
    exit 0
fi
if ! diff -u <(sed -n "${start},$((end - 1))p" README.md) <("$bin" help config); then
    echo "FAIL: README.md's configuration reference differs from '$bin help config'" \
        "(run: bash tests/support/readme_ref.sh update $2)"
    exit 1
fi
echo "ok   README.md's configuration reference matches help config"

#!/usr/bin/env bash
# A/B benchmark of two builds of sqlflume on the same machine: bench/run.sh run alternately with
# the old build's binary and this tree's, ROUNDS times each (old, new, old, new, ...), one round of
# bench/run.sh per invocation, then the median over the invocations of each build of the ratio
# "sqlflume wall time / the pipe's wall time" (the "vs (b)" column) for every database and run kind.
# The old build is made from git revision OLD_REV in a temporary worktree.
#   bash bench/ab.sh OLD_REV [ROWS] [ROUNDS]     (defaults: 1000000 rows, 3 rounds)
# Ports: those of bench/run.sh (SF_BENCH_MY_PORT, SF_BENCH_PG_PORT).
set -eu
cd "$(dirname "$0")/.."
ROOT=$(pwd)
OLD_REV=$1
ROWS=${2:-1000000}
ROUNDS=${3:-3}
bash tests/support/deps.sh
OLD=$(mktemp -d /tmp/sqlflume-ab.XXXXXX)
trap 'git -C "$ROOT" worktree remove --force "$OLD/src" >/dev/null 2>&1; rm -rf "$OLD"' EXIT
git -C "$ROOT" worktree add --detach "$OLD/src" "$OLD_REV" >/dev/null 2>&1
cmake -S "$OLD/src" -B "$OLD/build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$OLD/build" -j"$(nproc)" --target sqlflume >/dev/null
cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build-bench -j"$(nproc)" >/dev/null
NEW_DESC=$(git describe --always --dirty)
OLD_DESC=$(git -C "$OLD/src" describe --always)

for i in $(seq 1 "$ROUNDS"); do
    for which in old new; do
        if [ $which = old ]; then bin=$OLD/build/sqlflume; else bin=$ROOT/build-bench/sqlflume; fi
        echo "== round $i, $which build"
        SF_BENCH_BIN=$bin SF_BENCH_REPEAT=1 SF_BENCH_CHANNEL_ALONE=0 bash bench/run.sh "$ROWS" >"$OLD/$which-$i.out" 2>&1 ||
            { cat "$OLD/$which-$i.out"; exit 1; }
        grep '^| [pm]' "$OLD/$which-$i.out" | sed "s/^/$which $i /" | tee -a "$OLD/all"
    done
done

# median of the "vs (b)" ratios per build, database and run
printf '\n%s rows, %s invocations of bench/run.sh per build, alternated; old = %s, new = %s\n\n' "$ROWS" "$ROUNDS" "$OLD_DESC" "$NEW_DESC"
printf '| database | run | old: median vs (b) | new: median vs (b) | new / old |\n|---|---|---|---|---|\n'
awk -F'|' '
    { split($1, h, " "); which = h[1]; db = $2; run = $3; r = $(NF - 1); gsub(/[ x]/, "", r); gsub(/^ +| +$/, "", db); gsub(/^ +| +$/, "", run)
      if (run ~ /^\(b\)|^\(c\)/) next
      k = db "|" run; if (!(k in seen)) { seen[k] = 1; order[++n] = k }
      v[which, k, ++c[which, k]] = r }
    function median(w, k,   m, i, j, t, a) { m = c[w, k]; for (i = 1; i <= m; i++) a[i] = v[w, k, i]
      for (i = 1; i <= m; i++) for (j = i + 1; j <= m; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
      return m % 2 ? a[(m + 1) / 2] : (a[m / 2] + a[m / 2 + 1]) / 2 }
    END { for (i = 1; i <= n; i++) { k = order[i]; split(k, p, "|"); o = median("old", k); w = median("new", k)
          printf "| %s | %s | %.2fx | %.2fx | %.2f |\n", p[1], p[2], o, w, w / o } }' "$OLD/all"
echo
echo "target (issue 11): new / old <= 1.10 in every row"

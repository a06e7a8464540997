#!/usr/bin/env bash
# Time a fresh end-to-end run of a recipe and print its report summary.
# Usage: benchmarks/run_recipe.sh recipes/quickstart.yaml [extra tflite-edge run args]
set -euo pipefail
cd "$(dirname "$0")/.."
recipe=$1; shift
out=$(mktemp -d)/run
start=$(date +%s.%N)
rc=0
.venv/bin/tflite-edge run "$recipe" --out "$out" "$@" || rc=$?
end=$(date +%s.%N)
echo "recipe: $recipe  exit: $rc  wall_seconds: $(python3 -c "print(round($end - $start, 1))")  cores: $(nproc)"
.venv/bin/python - "$out/report.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
print(f"keras accuracy: {r['keras']['accuracy']:.4f}  params: {r['keras']['params']}")
for a in r["artifacts"]:
    h = a["benchmark"].get("host", {})
    print(f"{a['name']:<40} size {a['size_bytes']:>9} gzip {a['gzip_bytes']:>9} acc {a['accuracy']:.4f} "
          f"drop {r['keras']['accuracy'] - a['accuracy']:+.4f} agree {a['agreement_with_keras']:.4f} "
          f"p50 {h.get('latency_ms_p50', float('nan')):.3f} ms")
print("stages: " + ", ".join(f"{s['name']} {s['seconds']:.0f}s" for s in r["stages"]))
print("gates passed:", r["passed"])
PY

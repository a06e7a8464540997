#!/usr/bin/env bash
# End-to-end figures of the quick detection recipe: wall time, COCO mAP of Keras and every artifact
# (float32 / int8, four-output and raw), the ops in each artifact, host latency.
# Usage: benchmarks/detection_shapes.sh [recipe] [extra tflite-edge run args]
set -uo pipefail
cd "$(dirname "$0")/.."
recipe=${1:-recipes/shapes_ssdlite.yaml}; shift || true
out=$(mktemp -d)/run
start=$(date +%s.%N)
rc=0
cpu=$(mktemp)
# CPU seconds beside wall time: on a shared machine the wall time says more about the neighbours
/usr/bin/time -f "%U %S" -o "$cpu" .venv/bin/tflite-edge run "$recipe" --out "$out" "$@" || rc=$?
end=$(date +%s.%N)
echo "recipe: $recipe  exit: $rc  wall_seconds: $(python3 -c "print(round($end - $start, 1))")  cpu_seconds: $(awk '{print $1 + $2}' "$cpu")  cores: $(nproc)  loadavg: $(cut -d' ' -f1-3 /proc/loadavg)"
.venv/bin/python - "$out/report.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
k = r["keras"]
print(f"keras mAP {k['map']:.4f}  mAP@.5 {k['map50']:.4f}  params {k['params']}  test images {k['test_samples']}")
for a in r["artifacts"]:
    h = a["benchmark"].get("host", {})
    print(f"{a['name']:<36} size {a['size_bytes']:>9} mAP {a['map']:.4f} mAP@.5 {a['map50']:.4f} "
          f"(drop {k['map50'] - a['map50']:+.4f}) p50 {h.get('latency_ms_p50', float('nan')):.3f} ms  "
          f"ops {','.join(a['ops'])}")
man = json.load(open(sys.argv[1].replace("report.json", "manifest.json")))
base = man["stages"]["optimize"]["outputs"].get("baseline")
if base:  # the trained float model before compression, and each step after it
    print(f"before optimize: keras mAP {base['map']:.4f} mAP@.5 {base['map50']:.4f}; " + ", ".join(
        f"after {s['name']}: mAP {s['map']:.4f} mAP@.5 {s['map50']:.4f}" for s in r["optimize"]))
print("stages: " + ", ".join(f"{s['name']} {s['seconds']:.0f}s" for s in r["stages"]))
print("gates passed:", r["passed"])
PY

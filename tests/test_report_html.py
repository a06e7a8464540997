"""report.html: contents, the Pareto front, run comparison, and a headless-Chromium screenshot."""
import copy
import json
import re
import subprocess
from pathlib import Path

import pytest

from tflite_edge.report_html import compare_runs, pareto_front, pareto_points, render_html

CHROMIUM = Path("/usr/bin/chromium")


def _artifact(name, fmt, size, acc, p50, extra_target=None):
    bench = {"host": {"threads": 1, "delegate": "xnnpack", "latency_ms_p50": p50, "latency_ms_p90": p50 * 1.2,
                      "init_ms": 3.0, "peak_memory_mb": 120.0, "target": "host"}}
    if extra_target:
        bench[extra_target] = {"error": "adb: no device attached"}
    return {"name": name, "path": f"artifacts/{name}.tflite", "format": fmt, "size_bytes": size,
            "gzip_bytes": size // 2, "accuracy": acc, "agreement_with_keras": 0.99, "benchmark": bench}


REPORT = {
    "name": "demo", "task": "classification",
    "keras": {"accuracy": 0.95, "test_samples": 500, "params": 12345},
    "stages": [{"name": "build", "seconds": 1.5}, {"name": "train", "seconds": 40.0},
               {"name": "convert", "seconds": 9.0}],
    "gates": [{"name": "min_keras_accuracy", "value": 0.95, "threshold": 0.9, "passed": True},
              {"name": "max_accuracy_drop[int8]", "value": 0.04, "threshold": 0.03, "passed": False}],
    "passed": False,
    "artifacts": [_artifact("demo_float32", "float32", 400_000, 0.95, 2.0),
                  _artifact("demo_dynamic", "dynamic", 110_000, 0.94, 1.9),
                  _artifact("demo_int8", "int8", 105_000, 0.91, 0.9, extra_target="android:emulator-5554")],
    "environment": {"python": "3.11", "tensorflow": "2.21"},
}


def test_page_has_plot_tables_gates_and_timings():
    html = render_html([("demo", REPORT)])
    assert html.startswith("<!DOCTYPE html>") and "<svg" in html and "</svg>" in html
    for text in ("demo_float32", "demo_int8", "android:emulator-5554", "adb: no device attached",
                 "400,000", "95.00%", "min_keras_accuracy", "FAIL", "Stage timings", "train", "50.5"):
        assert text in html, text
    # Self-contained and inert: nothing fetched, nothing run.
    assert "<script" not in html.lower() and "@import" not in html
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//)|url\(\s*["']?(https?:|//)""", html)


def test_names_are_escaped():
    rep = copy.deepcopy(REPORT)
    rep["artifacts"][0]["name"] = "<script>alert(1)</script>"
    html = render_html([("x<y", rep)])
    assert "<script>alert" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_pareto_front_keeps_only_undominated_points():
    points = pareto_points([("demo", REPORT)])
    assert len(points) == 3  # the android error row has no latency and is not plotted
    front = [p["artifact"] for p in pareto_front(points)]
    # Each slower artifact is also more accurate here, so all three are on the front.
    assert front == ["demo_int8", "demo_dynamic", "demo_float32"]
    slow_and_worse = dict(points[0], artifact="bad", latency_ms=5.0, quality=0.5)
    assert "bad" not in [p["artifact"] for p in pareto_front(points + [slow_and_worse])]


def test_a_report_without_latencies_still_renders():
    rep = copy.deepcopy(REPORT)
    for a in rep["artifacts"]:
        a["benchmark"] = {}
    html = render_html([("demo", rep)])
    assert "nothing to plot" in html and "<svg" not in html and "demo_int8" in html


def test_compare_runs_side_by_side(tmp_path):
    for name, acc in (("run_a", 0.95), ("run_b", 0.97)):
        (tmp_path / name).mkdir()
        rep = copy.deepcopy(REPORT)
        rep["keras"]["accuracy"] = acc
        (tmp_path / name / "report.json").write_text(json.dumps(rep))
    out = compare_runs([tmp_path / "run_a", tmp_path / "run_b"], tmp_path / "compare.html")
    html = out.read_text()
    assert "2 runs compared" in html and "run_a" in html and "run_b" in html and "97.00%" in html
    assert html.count("<h2>run_") == 2


def test_cli_report_compares_and_refuses_non_runs(tmp_path, capsys):
    from tflite_edge.cli import main

    run = tmp_path / "r"
    run.mkdir()
    (run / "report.json").write_text(json.dumps(REPORT))
    assert main(["report", str(run)]) == 0 and (run / "report.html").is_file()
    assert main(["report", str(run), str(run), "--out", str(tmp_path / "c.html")]) == 0
    assert "r (2)" in (tmp_path / "c.html").read_text()
    assert main(["report", str(tmp_path / "missing")]) == 2
    (run / "report.json").write_text("{not json")
    assert main(["report", str(run)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and all(l.startswith("error:") for l in err)


def test_run_writes_report_html(tiny_run):
    _, run_dir, report = tiny_run
    html = (run_dir / "report.html").read_text()
    assert "<svg" in html and all(a["name"] in html for a in report["artifacts"])
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["stages"]["report"]["outputs"]["report_html"] == "report.html"


@pytest.mark.skipif(not CHROMIUM.exists(), reason="no headless browser: /usr/bin/chromium is not installed "
                    "(Debian: apt-get install chromium)")
def test_screenshot_in_headless_chromium(tmp_path):
    from matplotlib import image

    page = tmp_path / "report.html"
    page.write_text(render_html([("demo", REPORT), ("again", REPORT)]))
    shot = tmp_path / "shot.png"
    cmd = [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
           "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
           f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1280,1600", f"--screenshot={shot}",
           page.as_uri()]
    subprocess.run(cmd, capture_output=True, timeout=120)
    assert shot.is_file() and shot.read_bytes()[:4] == b"\x89PNG"
    pixels = image.imread(str(shot))[..., :3]
    assert pixels.shape[:2] == (1600, 1280)
    ink = (pixels.min(axis=2) < 0.9).mean()  # share of pixels that are not (near) white
    colour = (pixels.max(axis=2) - pixels.min(axis=2) > 0.2).mean()  # the plot's coloured markers
    assert 0.01 < ink < 0.9 and colour > 0.002, (ink, colour)


def test_detection_reports_plot_map():
    rep = copy.deepcopy(REPORT)
    rep["task"], rep["keras"] = "detection", {"map": 0.41, "map50": 0.7, "test_samples": 300, "params": 9}
    for a in rep["artifacts"]:
        a["map"], a["map50"], a["accuracy"], a["agreement_with_keras"] = a.pop("accuracy") / 2, 0.7, None, None
    points = pareto_points([("det", rep)])
    assert len(points) == 3 and {p["quality_key"] for p in points} == {"map"}
    html = render_html([("det", rep)])
    assert "map (%)" in html and "Keras model: map 41.00%" in html


def test_the_quality_axis_is_the_tasks_score():
    rep = copy.deepcopy(REPORT)
    rep["task"] = "detection"  # a detection report plots mAP, never an accuracy key it happens to carry
    assert pareto_points([("det", rep)]) == []
    for a in rep["artifacts"]:
        a["map50"] = a["accuracy"] / 2
    assert {p["quality_key"] for p in pareto_points([("det", rep)])} == {"map50"}
    rep["task"] = "segmentation"  # a task this version does not know: any task's score key
    assert {p["quality_key"] for p in pareto_points([("seg", rep)])} == {"accuracy"}

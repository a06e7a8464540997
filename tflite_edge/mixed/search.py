"""Mixed precision chosen on the target: every candidate a real artifact, timed and scored.

The objective is the latency the benchmark target measures (the same engine as the benchmark
stage), under `max_accuracy_drop` against the float model on the validation split (never the test
split). FLOPs and op counts predict neither: on a 2-core x86 host a small model's int8 graph can be
slower than its float graph (partitions, QUANTIZE/DEQUANTIZE, ops XNNPACK does not take in int8).

The search, in the order it spends its candidates:
1. the uniform plans (all float32, all int8, all int16x8): the baselines every mixed plan must
   beat, timed and scored like the rest;
2. per-unit sensitivity: each unit alone in int8, the rest float: its accuracy drop and output
   error on the validation split (HAWQ's question, answered by measurement);
3. a measured greedy descent from the fastest uniform plan that meets the bound (else from the
   most accurate one): one unit's precision changed per candidate, accepted when the target says
   it is faster by more than `min_gain` and the validation drop stays within the bound. Units are
   tried least sensitive first when moving to a lower precision, most sensitive first when a plan
   over the bound must move up.

Every candidate is written (artifacts/mixed/), converted by `engine.MixedQuantizer`, scored and
timed; the chosen plan is the fastest candidate within the bound (the Pareto front of accuracy
against latency is kept for the report).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional

import numpy as np

from .engine import PRECISIONS, MixedQuantizer, PrecisionError, Unit, op_units, plan_summary

SLOW_PRECISION = 4.0  # uniform plan this many times the fastest: its precision only wins accuracy back
LOWER = {"float32": ("int16x8", "int8"), "int16x8": ("int8",), "int8": ()}
HIGHER = {"int8": ("int16x8", "float32"), "int16x8": ("float32",), "float32": ()}


@dataclass
class Candidate:
    id: int
    label: str
    plan: Dict[str, str]
    path: Optional[str] = None
    val_accuracy: Optional[float] = None
    drop: Optional[float] = None
    drop_bound: Optional[float] = None   # upper confidence bound on the drop (margin.py)
    output_error: Optional[float] = None
    latency_ms: Optional[float] = None
    size_bytes: Optional[int] = None
    error: Optional[str] = None
    pareto: bool = False
    float_ops: tuple = ()          # op types kept float inside quantized units

    def record(self, units: List[Unit]) -> dict:
        return {"id": self.id, "label": self.label, "path": self.path,
                "ops_by_precision": plan_summary(self.plan, units, self.float_ops),
                "precisions": dict(self.plan), "float_op_types": list(self.float_ops), "val_accuracy": self.val_accuracy, "accuracy_drop": self.drop,
                "accuracy_drop_bound": self.drop_bound,
                "output_error": self.output_error, "latency_ms": self.latency_ms, "size_bytes": self.size_bytes,
                "error": self.error, "pareto": self.pareto}


@dataclass
class SearchResult:
    units: List[Unit]
    candidates: List[Candidate]
    sensitivity: List[dict]
    chosen: Optional[Candidate]
    met: bool
    float_accuracy: float
    wall_s: float
    notes: List[str] = field(default_factory=list)


def pareto_ids(candidates: List[Candidate]) -> set:
    """Candidates no other beats on both validation accuracy (higher) and latency (lower)."""
    ok = [c for c in candidates if c.error is None and c.latency_ms is not None and c.val_accuracy is not None]
    front = set()
    for c in ok:
        if not any(o is not c and o.val_accuracy >= c.val_accuracy and o.latency_ms <= c.latency_ms and
                   (o.val_accuracy > c.val_accuracy or o.latency_ms < c.latency_ms) for o in ok):
            front.add(c.id)
    return front


class MixedSearch:
    """One search: `quantizer` makes a plan's bytes, `predict(path) -> probabilities` scores it on
    the validation images, `time_ms(path)` times it on the target."""

    def __init__(self, quantizer: MixedQuantizer, val_y: np.ndarray, predict: Callable[[str], np.ndarray],
                 time_ms: Callable[[str], Optional[float]], out_dir: Path, max_accuracy_drop: float,
                 precisions=PRECISIONS, max_candidates: int = 40, min_gain: float = 0.02,
                 log: Callable[[str], None] = print, profile: Optional[Callable[[str], Optional[dict]]] = None,
                 granularity: str = "block", confidence: Optional[float] = None):
        self.q, self.val_y, self.predict, self.time_ms = quantizer, np.asarray(val_y), predict, time_ms
        self.out_dir, self.bound, self.precisions = Path(out_dir), max_accuracy_drop, tuple(precisions)
        self.max_candidates, self.min_gain, self.log = max_candidates, min_gain, log
        self.units = quantizer.units
        self.candidates: List[Candidate] = []
        self._by_plan: Dict[tuple, Candidate] = {}
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.ref_probs = None
        self.float_accuracy = None
        self.profile, self.granularity, self.confidence = profile, granularity, confidence
        self.ref_correct = None
        self.slow: set = set()
        self.notes: List[str] = []

    def _key(self, plan, float_ops=()):
        return tuple(plan.get(u.name, "float32") for u in self.units) + (tuple(sorted(float_ops)),)

    def _score(self, path: str):
        probs = np.asarray(self.predict(path), np.float32)
        acc = float(np.mean(np.argmax(probs, -1) == self.val_y))
        err = float(np.mean(np.abs(probs - self.ref_probs))) if self.ref_probs is not None else 0.0
        return probs, acc, err

    def evaluate(self, plan: Dict[str, str], label: str, timed: bool = True, float_ops=()) -> Candidate:
        plan = {u.name: plan.get(u.name, "float32") for u in self.units}  # units not named stay float
        float_ops = tuple(sorted(float_ops))
        key = self._key(plan, float_ops)
        if key in self._by_plan and (not timed or self._by_plan[key].latency_ms is not None):
            return self._by_plan[key]
        from .. import atomic

        c = self._by_plan.get(key) or Candidate(len(self.candidates), label, dict(plan), float_ops=float_ops)
        if c not in self.candidates:
            self.candidates.append(c)
            self._by_plan[key] = c
        if c.path is None and c.error is None:
            try:
                data = self.q.quantize(plan, frozenset(float_ops))
            except PrecisionError as e:
                c.error = str(e)
                self.log(f"  mixed: candidate {c.id} ({label}) skipped: {e}")
                return c
            path = self.out_dir / f"candidate_{c.id:03d}.tflite"
            atomic.write_bytes(path, data)
            c.path, c.size_bytes = str(path), len(data)
            probs, c.val_accuracy, c.output_error = self._score(c.path)
            correct = np.argmax(probs, -1) == self.val_y
            if self.ref_probs is None:  # the first candidate is the float model
                self.ref_probs, self.float_accuracy, c.output_error = probs, c.val_accuracy, 0.0
                self.ref_correct = correct
            c.drop = self.float_accuracy - c.val_accuracy
            if self.confidence is not None:
                from ..margin import accuracy_drop_upper_bound

                c.drop_bound = accuracy_drop_upper_bound(self.ref_correct, correct, self.confidence)
        if timed and c.latency_ms is None and c.error is None:
            c.latency_ms = self.time_ms(c.path)
        return c

    def fallback_ops(self, c: Candidate) -> Dict[int, str]:
        """{op index: op type} of `c`'s ops that ran outside the delegate (its per-op profile on the
        target), or {} where the target cannot profile."""
        if self.profile is None or c is None or c.path is None:
            return {}
        try:
            prof = self.profile(c.path)
        except Exception as e:  # a target that cannot profile: the search goes on without the hint
            self.notes.append(f"no per-op profile of candidate {c.id}: {e}")
            self.profile = None
            return {}
        cpu = {}
        for r in (prof or {}).get("run_order", []):
            if r["where"] == "cpu" and r["name"].startswith("[Builtin]:"):
                cpu[int(r["name"].split(":")[1])] = r["node_type"]
        return cpu

    def seed_without_fallbacks(self, int8: Optional[Candidate]) -> Optional[Candidate]:
        """All int8, but the op types the delegate did not take in int8 (the profile of all-int8 on
        the target says which) left float: one candidate that keeps the graph in the delegate."""
        if int8 is None or int8.error is not None or "float32" not in self.precisions:
            return None
        cpu = self.fallback_ops(int8)
        float_ops = sorted({t for t in cpu.values() if t not in ("QUANTIZE", "DEQUANTIZE")})
        if not float_ops:
            return None
        c = self.evaluate(dict(int8.plan), f"all int8, {'+'.join(float_ops)} float (outside the delegate in int8)",
                          float_ops=float_ops)
        self.log(f"  mixed: {c.label}: val {c.val_accuracy if c.val_accuracy is not None else float('nan'):.4f}, "
                 f"{c.latency_ms if c.latency_ms is not None else float('nan'):.4f} ms")
        return c

    def fallback_units(self, c: Candidate) -> List[str]:
        """Units with ops that ran outside the delegate in `c`'s per-op profile on the target."""
        cpu = self.fallback_ops(c)
        names = {u.name for u in self.units}
        units = []
        for index, _, _, unit in (op_units(open(c.path, "rb").read(), self.granularity) if cpu else []):
            if index in cpu and unit not in units and unit in names:
                units.append(unit)
        return units

    def allowed(self, c: Candidate) -> bool:
        """Only precisions the recipe allows (the all-float32 reference is always scored)."""
        return c.error is None and all(p in self.precisions for p in c.plan.values())

    def judged_drop(self, c: Candidate) -> Optional[float]:
        """What the bound is held against: the drop's upper confidence bound (with a confidence), else
        the drop seen on the validation images. The all-float32 reference is the float model itself."""
        if c.drop is None:
            return None
        if self.confidence is None or all(p == "float32" for p in c.plan.values()):
            return c.drop
        return c.drop_bound

    def feasible(self, c: Candidate) -> bool:
        judged = self.judged_drop(c) if self.allowed(c) else None
        return judged is not None and judged <= self.bound + 1e-12

    def budget_left(self) -> bool:
        return sum(1 for c in self.candidates if c.latency_ms is not None) < self.max_candidates

    def run(self) -> SearchResult:
        t0 = time.perf_counter()
        names = [u.name for u in self.units]
        uniform = {p: self.evaluate({n: p for n in names}, f"all {p}") for p in
                   ["float32"] + [p for p in self.precisions if p != "float32"]}
        for p, c in uniform.items():
            self.log(f"  mixed: all {p}: val {c.val_accuracy if c.val_accuracy is not None else float('nan'):.4f}, "
                     f"{c.latency_ms if c.latency_ms is not None else float('nan'):.4f} ms")
        fastest = min((c.latency_ms for c in uniform.values() if c.latency_ms), default=None)
        for p, c in uniform.items():  # a precision without fast kernels here is kept for accuracy only
            # (int16x8 on XNNPACK-less kernels: 60-100x); a 2x slower uniform int8 can still win
            # per block, so it stays in the speed moves
            if p != "float32" and c.latency_ms and fastest and c.latency_ms > SLOW_PRECISION * fastest:
                self.slow.add(p)
                self.notes.append(f"all {p} is {c.latency_ms / fastest:.1f}x the fastest uniform plan on this "
                                  f"target: {p} is tried only to win back accuracy")
        seed = self.seed_without_fallbacks(uniform.get("int8"))
        sensitivity = []
        if "int8" in self.precisions and len(self.units) > 1:
            for u in self.units:
                c = self.evaluate({u.name: "int8"}, f"{u.name} int8 alone", timed=False)
                sensitivity.append({"unit": u.name, "ops": len(u.ops), "op_types": sorted(set(u.op_types)),
                                    "accuracy_drop": c.drop, "output_error": c.output_error, "error": c.error})
        order = {s["unit"]: (s["output_error"] if s["output_error"] is not None else 1.0, s["accuracy_drop"] or 0.0)
                 for s in sensitivity}
        starts = list(uniform.values()) + ([seed] if seed is not None else [])
        feasible = [c for c in starts if self.feasible(c) and c.latency_ms is not None]
        current = (min(feasible, key=lambda c: c.latency_ms) if feasible
                   else max((c for c in uniform.values() if self.allowed(c)), key=lambda c: c.val_accuracy))
        improved = True
        while improved and self.budget_left():
            improved = False
            if not self.feasible(current):  # repair: raise the most sensitive int8 unit first
                moves = [(u, p) for u in sorted(self.units, key=lambda u: order.get(u.name, (0, 0)), reverse=True)
                         for p in HIGHER[current.plan.get(u.name, "float32")] if p in self.precisions]
            else:  # speed: first float for units whose ops fell out of the delegate (the profile
                # says where the time goes), then lower the least sensitive units, then raise others
                usable = [p for p in self.precisions if p not in self.slow]
                fell_out = set(self.fallback_units(current))
                out = [(u, "float32") for u in self.units if u.name in fell_out
                       and current.plan.get(u.name, "float32") != "float32" and "float32" in usable]
                lower = [(u, p) for u in sorted(self.units, key=lambda u: order.get(u.name, (0, 0)))
                         for p in LOWER[current.plan.get(u.name, "float32")] if p in usable]
                higher = [(u, p) for u in self.units for p in HIGHER[current.plan.get(u.name, "float32")]
                          if p in usable and (u, p) not in out]
                moves = out + lower + higher
            for unit, precision in moves:
                if not self.budget_left():
                    break
                plan = dict(current.plan, **{unit.name: precision})
                c = self.evaluate(plan, f"{unit.name} -> {precision}", float_ops=current.float_ops)
                if c.error is not None or c.latency_ms is None:
                    continue
                if not self.feasible(current):
                    better = self.judged_drop(c) < self.judged_drop(current) - 1e-12
                else:
                    better = self.feasible(c) and c.latency_ms < current.latency_ms * (1 - self.min_gain)
                if better:
                    self.log(f"  mixed: {c.label}: val {c.val_accuracy:.4f} (drop {c.drop:+.4f}), "
                             f"{c.latency_ms:.4f} ms: kept")
                    current, improved = c, True
                    break
        front = pareto_ids(self.candidates)
        for c in self.candidates:
            c.pareto = c.id in front
        timed = [c for c in self.candidates if c.latency_ms is not None and self.allowed(c)]
        ok = [c for c in timed if self.feasible(c)]
        chosen = min(ok, key=lambda c: c.latency_ms) if ok else (
            min(timed, key=lambda c: self.judged_drop(c)) if timed else None)
        return SearchResult(self.units, self.candidates, sensitivity, chosen, bool(ok),
                            self.float_accuracy or 0.0, time.perf_counter() - t0, self.notes)

"""Run a TFLite cascade as an app would: `cascade.json` beside one .tflite model per segment.

Each segment's `serving_default` signature takes "image" (segment 0) or "features" and returns
"probs" (the exit's or the final head's softmax) and, but for the last, "features" for the next
segment. Integer inputs and outputs (int8_io, uint8_io, edgetpu) are (de)quantized here with the
tensor's own parameters, so the float feature map passes between segments of any format.

>>> cascade = Cascade.open(Path("runs/fmnist/artifacts/fmnist_int8_cascade/cascade.json"))  # doctest: +SKIP
>>> probs, exit_index = cascade.predict(image[None])                                       # doctest: +SKIP
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, List, Optional

import numpy as np

from ....errors import UserInputError
from ....runtime import dequantize, make_interpreter, quantize_input

CASCADE_FILE = "cascade.json"
SCORES, FEATURES = "probs", "features"


@dataclass
class Segment:
    path: Path
    runner: object
    input_name: str
    input_detail: dict
    output_details: dict
    static_batch: bool

    @classmethod
    def open(cls, path: Path, threads: int = 2) -> "Segment":
        try:
            interp, _ = make_interpreter(str(path), threads)
            runner = interp.get_signature_runner()
        except (RuntimeError, ValueError) as e:
            first = (str(e).strip().splitlines() or ["unreadable"])[0][:160]
            raise UserInputError(f"{path}: not a runnable cascade segment ({first}); rerun the convert stage") from None
        inputs = runner.get_input_details()
        if len(inputs) != 1:
            raise UserInputError(f"{path}: a cascade segment has one input, this one {len(inputs)}")
        (name, detail), = inputs.items()
        outputs = runner.get_output_details()
        if SCORES not in outputs:
            raise UserInputError(f"{path}: no '{SCORES}' output in its signature (has {sorted(outputs)}); "
                                 "not a tflite-edge cascade segment")
        return cls(path, runner, name, detail, outputs, int(detail["shape"][0]) == 1 and
                   int(detail["shape_signature"][0]) == 1)

    def __call__(self, x: np.ndarray) -> dict:
        """{"probs": float scores, "features": float feature map (not on the last segment)}."""
        chunks = [x] if not self.static_batch else [row[None] for row in x]
        outs: dict = {}
        for chunk in chunks:
            got = self.runner(**{self.input_name: quantize_input(chunk.astype(np.float32), self.input_detail)})
            for k, v in got.items():
                outs.setdefault(k, []).append(dequantize(v, self.output_details[k]))
        return {k: np.concatenate(v) for k, v in outs.items()}


@dataclass
class Cascade:
    """The segments of one format with their thresholds (None while convert is still choosing)."""

    spec: dict
    segments: List[Segment]

    @classmethod
    def open(cls, path: Path, threads: int = 2) -> "Cascade":
        path = Path(path)
        if path.is_dir():
            path = path / CASCADE_FILE
        try:
            spec = json.loads(path.read_text())
            entries = spec["segments"]
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise UserInputError(f"{path}: not a readable cascade description ({type(e).__name__}: {e}); "
                                 "give the cascade.json a run wrote under artifacts/") from None
        return cls(spec, [Segment.open(path.parent / s["path"], threads) for s in entries])

    @property
    def thresholds(self) -> List[Optional[float]]:
        return [s.get("threshold") for s in self.spec["segments"][:-1]]

    def all_scores(self, batches: Iterable[np.ndarray]) -> List[np.ndarray]:
        """Every exit's and the final head's scores for every image (each segment runs on all)."""
        per_segment: List[list] = [[] for _ in self.segments]
        for batch in batches:
            x = batch
            for k, seg in enumerate(self.segments):
                out = seg(x)
                per_segment[k].append(out[SCORES])
                x = out.get(FEATURES)
        return [np.concatenate(s) for s in per_segment]

    def predict(self, image: np.ndarray, thresholds: Optional[List[float]] = None):
        """(scores, exit index) of one preprocessed image (1, H, W, C): the segments run in turn
        and stop at the first exit whose top score reaches its threshold."""
        thresholds = thresholds if thresholds is not None else self.thresholds
        if any(t is None for t in thresholds):
            raise UserInputError("the cascade has no thresholds yet (its convert stage did not finish); "
                                 "rerun the run from convert")
        x = image
        for k, seg in enumerate(self.segments):
            out = seg(x)
            if k == len(self.segments) - 1 or float(out[SCORES].max()) >= thresholds[k]:
                return out[SCORES][0], k
            x = out[FEATURES]
        raise AssertionError("unreachable: the last segment always answers")

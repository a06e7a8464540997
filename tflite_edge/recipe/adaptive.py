"""`adaptive:` early exits (classification): side heads at named feature maps, trained with the
final head, exported as a cascade of TFLite segments that stops at the first confident exit."""
from __future__ import annotations

from typing import List, Literal, Optional, Union

from pydantic import Field, field_validator, model_validator

from .base import Spec


def _confidence(v, auto_allowed: bool):
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0.0 < float(v) < 1.0:
        raise ValueError(f"{v!r} is not a confidence in (0, 1); give the top softmax score to exit at, e.g. 0.9"
                         + (" or auto" if auto_allowed else ""))
    return float(v)


class ExitSpec(Spec):
    after: str = Field(description="a backbone feature map (stride_4, stride_8, stride_16 ...) or a layer "
                       "name: the exit reads its output, and the cascade cuts the model there")
    head_channels: int = Field(128, ge=8, le=2048, description="1x1 conv before pooling (0 cost to the "
                               "main path; a richer exit exits more inputs)")
    loss_weight: float = Field(0.5, gt=0.0, le=10.0, description="weight of this exit's loss beside the "
                               "final head's 1.0")
    threshold: Optional[float] = Field(None, description="this exit's confidence; null: "
                                       "adaptive.threshold")

    @field_validator("threshold", mode="before")
    @classmethod
    def _threshold(cls, v):
        return v if v is None else _confidence(v, False)


class AdaptiveSpec(Spec):
    exits: List[ExitSpec] = Field(min_length=1, max_length=6)
    threshold: Union[Literal["auto"], float] = Field(
        "auto", description="exit when the top softmax score reaches it; auto: the lowest "
        "one (same for every exit) whose validation accuracy stays within max_accuracy_drop of the final head")
    max_accuracy_drop: float = Field(0.005, ge=0.0, lt=1.0, description="auto: the cascade's allowed "
                                     "validation accuracy loss against the final head of the same artifact")
    drop_confidence: Optional[float] = Field(
        0.95, ge=0.5, lt=1.0, description="auto: the confidence that the accuracy drop on unseen images stays "
        "within max_accuracy_drop (a one-sided bound from the validation split, so a margin below the limit); "
        "null: the validation drop itself, no margin")
    temperature: float = Field(2.0, gt=0.0, description="with a teacher: exits learn the final head's soft "
                               "targets at this temperature")

    @field_validator("threshold", mode="before")
    @classmethod
    def _threshold(cls, v):
        return v if v == "auto" else _confidence(v, True)

    @model_validator(mode="after")
    def _distinct(self):
        names = [e.after for e in self.exits]
        dup = next((n for i, n in enumerate(names) if n in names[:i]), None)
        if dup:
            raise ValueError(f"two exits after '{dup}'; give each exit its own place")
        return self

    def fixed_thresholds(self) -> List[Optional[float]]:
        """Per exit: its own threshold, else the recipe's; None where `auto` chooses it."""
        shared = None if self.threshold == "auto" else self.threshold
        return [e.threshold if e.threshold is not None else shared for e in self.exits]

    @property
    def needs_validation(self) -> bool:
        """Whether any threshold is left to `auto` (chosen on the validation split)."""
        return any(t is None for t in self.fixed_thresholds())

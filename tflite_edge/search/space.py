"""What the search builds: the mobilenet_v2 search space as a keras-tuner HyperModel.

Importing it starts TensorFlow (keras-tuner imports it).
"""
from __future__ import annotations

from ..compat import keras
from ..recipe import ModelSpec

keras()  # TF_USE_LEGACY_KERAS must be set before keras_tuner imports tensorflow
import keras_tuner as kt  # noqa: E402

STAGE_COUNT = 7  # mobilenet_v2's stages; kernel_sizes and expansions have one entry each


def spec_from_values(base: ModelSpec, values: dict) -> ModelSpec:
    """`base` with the searched knobs in `values` (keras-tuner hyperparameter values) applied."""
    update = {k: values[k] for k in ("width", "depth_multiplier", "input_size") if k in values}
    if "width" in update:
        update["width"] = float(update["width"])
    if "depth_multiplier" in update:
        update["depth_multiplier"] = float(update["depth_multiplier"])
    if any(k.startswith("kernel_size_s") for k in values):
        kernels = base.kernel_sizes or [3] * STAGE_COUNT
        update["kernel_sizes"] = [int(values.get(f"kernel_size_s{i}", kernels[i])) for i in range(STAGE_COUNT)]
    if any(k.startswith("expansion_s") for k in values):
        expansions = base.expansions or [1] + [6] * (STAGE_COUNT - 1)
        update["expansions"] = [int(values.get(f"expansion_s{i}", expansions[i])) for i in range(STAGE_COUNT)]
    return ModelSpec.model_validate({**base.model_dump(), **update})


class MobileNetV2Space(kt.HyperModel):
    """The searchable backbone: recipe `search.space` over `model:` (a mobilenet_v2)."""

    def __init__(self, recipe, dataset=None):
        super().__init__(name="mobilenet_v2_space")
        self.recipe, self.dataset = recipe, dataset
        self.base, self.space = recipe.model, recipe.search.space

    def declare_hyperparameters(self, hp):
        s = self.space

        def knob(name, values, cast):
            values = list(dict.fromkeys(cast(v) for v in values))  # keras-tuner wants one type
            if len(values) == 1:
                hp.Fixed(name, values[0])
            else:
                hp.Choice(name, values, ordered=True)

        if s.widths:
            knob("width", s.widths, float)
        if s.input_sizes:
            knob("input_size", s.input_sizes, int)
        if s.depth_multipliers:
            knob("depth_multiplier", s.depth_multipliers, float)
        for i in range(STAGE_COUNT):
            if s.kernel_sizes:
                knob(f"kernel_size_s{i}", s.kernel_sizes, int)
            # The first stage works at the highest resolution; MobileNetV2 and MnasNet keep it
            # unexpanded, and expanding it costs latency for little accuracy.
            if s.expansions and i > 0:
                knob(f"expansion_s{i}", s.expansions, int)

    def spec(self, hp) -> ModelSpec:
        return spec_from_values(self.base, hp.values)

    def build(self, hp):
        from ..tasks.classification.build import input_spec_for
        from ..models import build_classifier

        spec = self.spec(hp)
        input_spec = input_spec_for(self.recipe.model_copy(update={"model": spec}), self.dataset)
        return build_classifier(spec, input_spec, self.dataset.num_classes)

"""Classification `build`: the dataset decides classes and native size, the recipe the backbone."""
from __future__ import annotations

from ... import atomic, compat
from ...errors import UserInputError
from ...models import build_classifier
from ...models.classifier import InputSpec


def input_spec_for(recipe, dataset) -> InputSpec:
    size = recipe.model.input_size or dataset.image_size
    if size is None:
        raise UserInputError(f"model.input_size: required for dataset '{recipe.data.dataset}' (its images "
                             "vary in size); set e.g. model.input_size: 224")
    return InputSpec(height=size, width=size, channels=recipe.model.channels or dataset.channels)


def recipe_for_build(ctx):
    """The recipe, with `model` replaced by the `search` stage's best trial when there is one."""
    if getattr(ctx.recipe, "search", None) is None:
        return ctx.recipe
    from ...recipe import ModelSpec

    return ctx.recipe.model_copy(update={"model": ModelSpec.model_validate(ctx.outputs("search")["model"])})


def build(ctx) -> dict:
    dataset = ctx.dataset  # first: a bad data path fails before TensorFlow starts
    recipe = recipe_for_build(ctx)
    spec = input_spec_for(recipe, dataset)
    compat.keras().utils.set_random_seed(ctx.recipe.seed)
    model = build_classifier(recipe.model, spec, dataset.num_classes)
    if any(getattr(step, "prune_channels", None) for step in ctx.recipe.optimize):
        from ...channel_prune import check_recipe

        check_recipe(ctx.recipe, model)  # a bad layer name or ratio fails now, not after training
    atomic.write_text(ctx.path("input_spec.json"), spec.to_json())
    atomic.write_text(ctx.path("labels.txt"), "\n".join(dataset.class_names) + "\n")
    rel = ctx.save_model(model, "checkpoints/built.keras")
    return {"model": rel, "params": int(model.count_params()), "num_classes": dataset.num_classes,
            "input_shape": list(spec.shape)}

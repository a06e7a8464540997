"""Classification `build`: the dataset decides classes and native size, the recipe the backbone."""
from __future__ import annotations

from ... import atomic, compat
from ...errors import UserInputError
from ...models.classifier import InputSpec, classifier_and_features


def normalisation(model_spec) -> dict:
    """mean/std of the recipe, else the backbone's own (a keras application's), else 127.5/127.5."""
    from ...models import MODELS

    own = MODELS.meta(model_spec.name).get("preprocessing", {}) if model_spec.name else {}
    mean = model_spec.mean if model_spec.mean is not None else own.get("mean", 127.5)
    std = model_spec.std if model_spec.std is not None else own.get("std", 127.5)
    return {"mean": float(mean), "std": float(std)}


def input_spec_for(recipe, dataset) -> InputSpec:
    size = recipe.model.input_size or dataset.image_size
    if size is None:
        raise UserInputError(f"model.input_size: required for dataset '{recipe.data.dataset}' (its images "
                             "vary in size); set e.g. model.input_size: 224")
    return InputSpec(height=size, width=size, channels=recipe.model.channels or dataset.channels,
                     **normalisation(recipe.model))


def check_classifier(model, where: str, num_classes: int) -> InputSpec:
    """A loaded model must be one image in, one class axis out; returns its input shape as a spec."""
    inputs, outputs = model.inputs, model.outputs
    if len(inputs) != 1 or len(outputs) != 1:
        raise UserInputError(f"{where}: the model has {len(inputs)} input(s) and {len(outputs)} output(s); a "
                             "classifier has one image input and one output of class scores")
    shape, out = tuple(inputs[0].shape), tuple(outputs[0].shape)
    if len(shape) != 4 or None in shape[1:] or shape[3] not in (1, 3):
        raise UserInputError(f"{where}: the model takes input {shape}; a classifier here takes (None, H, W, 1 or "
                             "3) with H and W fixed (re-save it with a fixed input size)")
    if len(out) != 2:
        raise UserInputError(f"{where}: the model outputs shape {out}, not (None, classes); give a classifier "
                             "(no class axis: a feature extractor or a detector?)")
    if out[1] != num_classes:
        raise UserInputError(f"{where}: the model has {out[1]} classes, the dataset {num_classes}; give the model "
                             "trained on these classes, or data with its classes")
    return InputSpec(height=shape[1], width=shape[2], channels=shape[3])


def build_from_path(ctx) -> dict:
    """`model.path`: the user's trained classifier is the run's model; its test accuracy is kept
    for the report, which compares every artifact with it."""
    from ...model_io import load_keras_model
    from .evaluate import test_accuracy

    r, dataset = ctx.recipe, ctx.dataset
    try:
        model = load_keras_model(r.model.path, trust_lambda=r.model.trust_lambda)
    except UserInputError as e:
        msg = str(e).replace("--trust-lambda", "model.trust_lambda: true")
        raise UserInputError(f"model.path: {msg}") from None
    shape = check_classifier(model, f"model.path: {r.model.path}", dataset.num_classes)
    spec = InputSpec(height=shape.height, width=shape.width, channels=shape.channels, **normalisation(r.model))
    user_model = model
    if r.adaptive is not None:  # exits on the user's model, at its layers
        from .adaptive.exits import attach_exits

        model = attach_exits(model, r.adaptive, dataset.num_classes)
    outputs = save_built(ctx, model, spec)
    source = {"path": str(r.model.path), "accuracy": test_accuracy(ctx, user_model),
              "params": int(user_model.count_params())}
    ctx.log(f"  model.path {r.model.path}: input {spec.shape}, {dataset.num_classes} classes, test accuracy "
            f"{source['accuracy']:.4f}")
    return {**outputs, "source_model": source}


def save_built(ctx, model, spec: InputSpec) -> dict:
    """What every classification build ends with: recipe checks that need the model, then
    input_spec.json, labels.txt and checkpoints/built.keras; returns the stage's outputs."""
    if any(getattr(step, "prune_channels", None) for step in ctx.recipe.optimize):
        from ...channel_prune import check_recipe

        check_recipe(ctx.recipe, model)  # a bad layer name or ratio fails now, not after training
    names = ctx.dataset.class_names
    atomic.write_text(ctx.path("input_spec.json"), spec.to_json())
    atomic.write_text(ctx.path("labels.txt"), "\n".join(names) + "\n")
    rel = ctx.save_model(model, "checkpoints/built.keras")
    return {"model": rel, "params": int(model.count_params()), "num_classes": len(names),
            "input_shape": list(spec.shape)}


def recipe_for_build(ctx):
    """The recipe, with `model` replaced by the `search` stage's best trial when there is one."""
    if getattr(ctx.recipe, "search", None) is None:
        return ctx.recipe
    from ...recipe import ModelSpec

    return ctx.recipe.model_copy(update={"model": ModelSpec.model_validate(ctx.outputs("search")["model"])})


def build(ctx) -> dict:
    if ctx.recipe.model.path is not None:
        return build_from_path(ctx)
    dataset = ctx.dataset  # first: a bad data path fails before TensorFlow starts
    recipe = recipe_for_build(ctx)
    spec = input_spec_for(recipe, dataset)
    compat.keras().utils.set_random_seed(ctx.recipe.seed)
    model = build_model(recipe.model, spec, dataset.num_classes, recipe.adaptive)
    return save_built(ctx, model, spec)


def build_model(model_spec, spec: InputSpec, num_classes: int, adaptive=None):
    """The recipe's classifier; with `adaptive` (its early exits) the model also outputs each
    exit's scores, first, the exits hung on the backbone's named feature maps."""
    model, features = classifier_and_features(model_spec, spec, num_classes)
    if adaptive is not None:
        from .adaptive.exits import attach_exits

        model = attach_exits(model, adaptive, num_classes, features)
    return model

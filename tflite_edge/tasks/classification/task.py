"""The classification task: each hook forwards to the module of this package that holds it
(build, data, distill, evaluate, export, report), imported only when the stage runs."""
from __future__ import annotations

from ..base import FitData, Task


class ClassificationTask(Task):
    name = "classification"
    quality_keys = ("accuracy",)

    def build(self, ctx) -> dict:
        from .build import build
        return build(ctx)

    def fit_data(self, ctx, recipe) -> FitData:
        from .data import fit_data
        return fit_data(ctx, recipe)

    def compile(self, ctx, model, recipe, optimizer) -> None:
        from .data import compile_classifier
        compile_classifier(model, recipe, optimizer)

    def early_stopping_monitor(self, recipe) -> str:
        return recipe.train.early_stopping.monitor

    def uses_distiller(self, recipe, teacher=None) -> bool:
        # early exits train jointly with the final head: the distiller's loss, teachers or none
        return recipe.adaptive is not None or super().uses_distiller(recipe, teacher)

    def is_side_head_layer(self, layer) -> bool:
        from .adaptive.exits import is_exit_layer
        return is_exit_layer(layer)

    def distiller(self, ctx, model, recipe, teacher=None):
        from .distill import make_distiller
        return make_distiller(ctx, model, recipe, teacher)

    def load_teacher(self, ctx, index, source, num_classes):
        from .adaptive.exits import final_head
        from ...distill import load_path_teacher
        from .distill import check_teacher
        # an early-exit model (another recipe's adaptive run) teaches with its final head
        return final_head(load_path_teacher(ctx, index, source, num_classes,
                                            check=lambda m, *a: check_teacher(final_head(m), *a)))

    def train_teacher(self, ctx, index, source, num_classes):
        from .distill import train_teacher
        return train_teacher(ctx, index, source, num_classes)

    def check_teachers(self, ctx, loaded: dict) -> None:
        from .distill import check_hints
        check_hints(ctx, loaded)

    def distillation_summary(self, ctx) -> dict:
        from .distill import summary
        return summary(ctx)

    def measure(self, ctx, model, name: str) -> dict:
        from .evaluate import measure
        return measure(ctx, model, name)

    def score_text(self, m: dict) -> str:
        return f"accuracy {m['accuracy']:.4f}"

    def artifact_score_text(self, artifact: dict) -> str:
        return f"acc {100 * artifact['accuracy']:.2f}%"

    distils_from_given_model = True

    def test_accuracy(self, ctx, model):
        from .evaluate import test_accuracy
        return test_accuracy(ctx, model)

    def calibration_images(self, ctx):
        from .data import calibration_images
        return calibration_images(ctx)

    def export(self, ctx, model) -> list:
        from .export import export
        return export(ctx, model)

    def export_segments(self, ctx, model) -> list:
        from .export import export_segments
        return export_segments(ctx, model)

    def evaluate(self, ctx) -> dict:
        from .evaluate import evaluate
        return evaluate(ctx)

    def build_report(self, ctx) -> dict:
        from .report import build_report
        return build_report(ctx)

    def render_markdown(self, report: dict) -> str:
        from .report import render_markdown
        return render_markdown(report)

    def html_sections(self, report: dict) -> str:
        if not report.get("adaptive"):
            return ""
        from .adaptive.report import html_section
        return html_section(report["adaptive"])

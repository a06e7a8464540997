"""`cluster`: weight clustering with tfmot (each kernel's values shared among `clusters`
centroids); after `prune` it preserves the zeros. DepthwiseConv2D is not clustered (tfmot)."""
from __future__ import annotations

from .. import compat
from ..errors import UserInputError
from ..fit import fit_model
from ..weights import is_depthwise
from .common import check_patterns, selected
from .registry import TECHNIQUES

_INIT = {"kmeans_plus_plus": "KMEANS_PLUS_PLUS", "linear": "LINEAR", "density_based": "DENSITY_BASED",
         "random": "RANDOM"}


@TECHNIQUES.register("cluster")
def cluster(ctx, model, spec, where, index, history):
    keras, tfmot = compat.keras(), compat.tfmot()
    ck = tfmot.clustering.keras
    params = {"number_of_clusters": spec.clusters,
              "cluster_centroids_init": getattr(ck.CentroidInitialization, _INIT[spec.init])}
    preserve = "prune" in history
    if preserve:
        params["preserve_sparsity"] = True
    check_patterns(where, spec.layers, model)
    L = keras.layers
    chosen = []

    def wrap(layer):
        # tfmot does not cluster DepthwiseConv2D; those stay as they are.
        if isinstance(layer, (L.Conv1D, L.Conv2D, L.Dense)) and not is_depthwise(layer) \
                and selected(layer, spec.layers, None):
            chosen.append(layer.name)
            return ck.cluster_weights(layer, **params)
        return layer

    wrapped = keras.models.clone_model(model, clone_function=wrap)
    if not chosen:
        raise UserInputError(f"{where}.layers: no clusterable layer (Conv2D/Dense) matches {spec.layers}")
    fit_model(ctx, wrapped, spec.epochs, spec.learning_rate or ctx.recipe.train.learning_rate,
              f"optimize_{index}_cluster")
    return ck.strip_clustering(wrapped), {"preserve_sparsity": preserve, "clustered_layers": len(chosen)}

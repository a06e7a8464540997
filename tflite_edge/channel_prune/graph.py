"""Channel spaces and groups of a functional model: which channels must be pruned together."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Optional

import numpy as np

from .. import compat
from ..errors import UserInputError

PRODUCERS = ("Conv2D", "Dense")
# Keep the channel axis and its meaning: the output lies in the input's space.
PASSTHROUGH = ("ReLU", "Activation", "Rescaling", "Dropout", "SpatialDropout2D", "GaussianNoise",
               "GaussianDropout", "Softmax", "ZeroPadding2D", "Cropping2D", "MaxPooling2D",
               "AveragePooling2D", "GlobalAveragePooling2D", "GlobalMaxPooling2D", "UpSampling2D",
               "LeakyReLU", "ELU", "ActivityRegularization")
MERGES = ("Add", "Multiply", "Subtract", "Maximum", "Minimum", "Average")
# Their output reinterprets the channel axis: the input keeps every channel.
FREEZERS = ("Reshape", "Flatten", "Permute")
SUPPORTED = ("InputLayer", *PRODUCERS, "DepthwiseConv2D", "BatchNormalization", *PASSTHROUGH, *MERGES,
             "Concatenate", *FREEZERS)


@dataclass
class ChannelGraph:
    """Channel spaces of a functional model; `desc[layer]` lists the spaces along its output channels."""

    config: dict
    order: List[str]
    cls: Dict[str, str]
    inbound: Dict[str, List[str]]
    desc: Dict[str, List[int]] = field(default_factory=dict)
    size: List[int] = field(default_factory=list)
    parent: List[int] = field(default_factory=list)
    frozen: Dict[int, str] = field(default_factory=dict)  # space -> why it cannot be pruned
    producer_of: Dict[int, str] = field(default_factory=dict)  # space -> the layer that makes it

    def new_space(self, size: int, producer: Optional[str] = None, frozen: Optional[str] = None) -> int:
        self.size.append(int(size))
        self.parent.append(len(self.parent))
        s = len(self.size) - 1
        if producer:
            self.producer_of[s] = producer
        if frozen:
            self.frozen[s] = frozen
        return s

    def root(self, s: int) -> int:
        while self.parent[s] != s:
            self.parent[s] = self.parent[self.parent[s]]
            s = self.parent[s]
        return s

    def union(self, a: int, b: int) -> None:
        ra, rb = self.root(a), self.root(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)

    def freeze(self, spaces, why: str) -> None:
        for s in spaces:
            self.frozen.setdefault(s, why)

    def channels(self, layer: str) -> int:
        return sum(self.size[s] for s in self.desc[layer])

    def groups(self) -> Dict[int, dict]:
        """root -> {producers (in graph order), size, frozen reason or None}."""
        out: Dict[int, dict] = {}
        for s in range(len(self.size)):
            g = out.setdefault(self.root(s), {"producers": [], "size": self.size[self.root(s)], "frozen": None})
            if s in self.frozen and g["frozen"] is None:
                g["frozen"] = self.frozen[s]
        for s, layer in self.producer_of.items():
            out[self.root(s)]["producers"].append(layer)
        pos = {n: i for i, n in enumerate(self.order)}
        for g in out.values():
            g["producers"].sort(key=pos.get)
        return out

    def prunable(self) -> Dict[int, dict]:
        return {r: g for r, g in self.groups().items() if g["frozen"] is None and g["producers"]}


def functional(model):
    keras = compat.keras()
    if isinstance(model, keras.Sequential):
        # Sequential has no inbound_nodes in its config; a functional view of the same layers does.
        model = keras.Model(model.inputs, model.outputs, name=model.name)
    return model


def unsupported_layer(name: str, what: str) -> UserInputError:
    return UserInputError(f"prune_channels: layer '{name}' ({what}) cannot be followed by the channel pruner; "
                          f"supported layers: {', '.join(SUPPORTED)}. Remove prune_channels from optimize, "
                          "or build the model from supported layers")


def _check_layer(layer, cls: str) -> None:
    cfg = layer.get_config()
    if cls == "Conv2D" and (cfg.get("groups", 1) != 1 or cfg.get("data_format") == "channels_first"):
        raise unsupported_layer(layer.name, "Conv2D with groups > 1 or channels_first")
    if cls == "DepthwiseConv2D" and cfg.get("data_format") == "channels_first":
        raise unsupported_layer(layer.name, "DepthwiseConv2D channels_first")
    if cls == "BatchNormalization":
        axis = cfg.get("axis")
        axis = axis[0] if isinstance(axis, (list, tuple)) and len(axis) == 1 else axis
        if axis not in (-1, len(layer.input_shape) - 1):
            raise unsupported_layer(layer.name, f"BatchNormalization over axis {axis}, not the channels")
    if cls == "Rescaling" and (np.ndim(cfg.get("scale")) or np.ndim(cfg.get("offset"))):
        raise unsupported_layer(layer.name, "Rescaling with a per-channel scale")
    if cls in ("Softmax",) and cfg.get("axis") not in (-1, len(layer.output_shape) - 1, [-1]):
        raise unsupported_layer(layer.name, "Softmax over an axis other than the channels")


def analyse(model) -> ChannelGraph:
    """Channel spaces and groups of `model`; UserInputError naming the first layer it cannot follow."""
    model = functional(model)
    config = model.get_config()
    entries = {e["name"]: e for e in config["layers"]}
    inbound: Dict[str, List[str]] = {}
    for e in config["layers"]:
        nodes = e.get("inbound_nodes") or []
        if len(nodes) > 1:
            raise unsupported_layer(e["name"], f"{e['class_name']} called {len(nodes)} times (a shared layer)")
        if e["class_name"] not in SUPPORTED:
            raise unsupported_layer(e["name"], e["class_name"])
        inbound[e["name"]] = [src[0] for src in (nodes[0] if nodes else [])]
    order, seen = [], set()
    while len(order) < len(entries):  # topological order (get_config is already ordered; be sure)
        progressed = False
        for name in entries:
            if name not in seen and all(s in seen for s in inbound[name]):
                order.append(name)
                seen.add(name)
                progressed = True
        if not progressed:
            raise UserInputError("prune_channels: the model graph has a cycle or a missing layer; "
                                 "rebuild it as a plain functional model")
    g = ChannelGraph(config, order, {n: entries[n]["class_name"] for n in entries}, inbound)
    for name in order:
        cls, layer = g.cls[name], model.get_layer(name)
        if isinstance(layer.output_shape, list) and cls != "InputLayer":
            raise unsupported_layer(name, f"{cls} with several outputs")
        _check_layer(layer, cls)
        ins = [g.desc[s] for s in inbound[name]]
        out_ch = last_dim(layer.output_shape)
        if cls == "InputLayer":
            g.desc[name] = [g.new_space(out_ch, frozen=f"model input '{name}'")]
        elif cls in PRODUCERS:
            g.desc[name] = [g.new_space(out_ch, producer=name)]
        elif cls == "DepthwiseConv2D" and layer.get_config().get("depth_multiplier", 1) != 1:
            # each input channel makes several outputs: keep it whole rather than track the fan-out
            g.freeze(ins[0], f"input of depth_multiplier > 1 layer '{name}'")
            g.desc[name] = [g.new_space(out_ch, producer=None, frozen=f"output of '{name}' (depth_multiplier > 1)")]
        elif cls in ("DepthwiseConv2D", "BatchNormalization") or cls in PASSTHROUGH:
            g.desc[name] = list(ins[0])
        elif cls in MERGES:
            g.desc[name] = _merge(g, name, ins, out_ch)
        elif cls == "Concatenate":
            axis = layer.get_config().get("axis", -1)
            if axis in (-1, len(layer.output_shape) - 1):
                g.desc[name] = [s for d in ins for s in d]
            else:  # stacking along another axis: channel i of every input is channel i of the output
                g.desc[name] = _merge(g, name, ins, out_ch)
        else:  # FREEZERS
            for d in ins:
                g.freeze(d, f"input of {cls} '{name}'")
            g.desc[name] = [g.new_space(out_ch, frozen=f"output of {cls} '{name}'")]
        if g.channels(name) != out_ch:
            raise unsupported_layer(name, f"{cls} changes the channel count in a way the pruner does not model")
    for out_name, _, _ in config["output_layers"]:
        g.freeze(g.desc[out_name], f"model output '{out_name}'")
    return g


def last_dim(shape) -> int:
    shape = shape[0] if isinstance(shape, list) else shape
    return int(shape[-1])


def _merge(g: ChannelGraph, name: str, ins, out_ch: int) -> List[int]:
    full = [d for d in ins if sum(g.size[s] for s in d) == out_ch]
    for d in ins:
        if sum(g.size[s] for s in d) != out_ch:  # broadcast (e.g. a 1-channel gate): leave it whole
            g.freeze(d, f"broadcast input of '{name}'")
    first = full[0]
    for d in full[1:]:
        if [g.size[s] for s in d] == [g.size[s] for s in first]:
            for a, b in zip(first, d):
                g.union(a, b)
        else:  # differently concatenated inputs: aligning them is possible but not worth the code
            g.freeze(first + d, f"inputs of '{name}' are concatenated differently")
    return list(first)

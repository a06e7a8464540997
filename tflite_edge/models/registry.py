"""The model registry itself (its package imports the builders, which register here)."""
from ..registry import Registry

MODELS = Registry("model")

"""The detector registry itself (its package imports the detectors, which register here)."""
from ...registry import Registry

DETECTORS = Registry("detector")

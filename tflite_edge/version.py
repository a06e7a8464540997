"""The package's version, read from its installed metadata (setup.cfg's `version`, the one place)."""
from __future__ import annotations


def package_version() -> str:
    """`tflite_edge.__version__`; '0+unknown' when the package runs from a tree it was not installed from."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("tflite-edge")
    except PackageNotFoundError:
        return "0+unknown"

"""argparse types the subcommands share: each error names what it expected and what it got."""
from __future__ import annotations

import argparse


def int_list(text: str):
    try:
        values = [int(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, e.g. 1,2 (got {text!r})")
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected integers >= 1 (got {text!r})")
    return values


def count(text: str) -> int:
    values = int_list(text)
    if len(values) != 1:
        raise argparse.ArgumentTypeError(f"expected one integer >= 1 (got {text!r})")
    return values[0]


def seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, e.g. 0.5 (got {text!r})")
    if not 0.0 <= value <= 600.0:
        raise argparse.ArgumentTypeError(f"expected 0 to 600 seconds (got {text!r})")
    return value


def floats(text: str):
    try:
        values = [float(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, e.g. 127.5 or 123.7,116.3,103.5 "
                                         f"(got {text!r})")
    if not values or not all(abs(v) < float("inf") for v in values):  # nan fails this too
        raise argparse.ArgumentTypeError(f"expected finite numbers (got {text!r})")
    return values


def fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a number from 0 to 1 (got {text!r})")
    return value

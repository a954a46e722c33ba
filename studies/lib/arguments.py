"""argparse helpers shared by the benchmark scripts."""
from __future__ import annotations

import argparse


def int_list(text: str) -> list[int]:
    """``"10,25,50"`` -> [10, 25, 50] (an argparse ``type``)."""
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None
    if not values:
        raise argparse.ArgumentTypeError("empty list")
    return values

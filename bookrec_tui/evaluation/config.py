"""What one `bookrec-tui evaluate` run does: the protocols to run and where their data is.

Kept apart from the protocols so the command line can build its parser from it without
importing the training code."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

#: Every protocol, in the order a full run takes them (but the lists protocol's held-out
#: readers, ranked right after the cold-start protocol, while its models are at hand).
PROTOCOLS = ("tutorial", "cold-start", "real-readers", "onboarding", "lists")
#: Earlier names still accepted: the tutorial protocol was called "seed".
PROTOCOL_ALIASES = {"seed": "tutorial"}
#: Protocols that read real Goodreads library exports.
ON_EXPORTS = ("real-readers", "onboarding")
#: Seeded reveal orders per real reader. At 5 the orders were most of the noise in a paired
#: difference of two models; at 30 still as much as the readers; at 100 about half of it
#: (docs/benchmarks.md, "How sure the real-reader protocol is").
REAL_READER_ORDERS = 100


def protocol_name(name: str) -> str:
    """A protocol's name, from it or an earlier alias."""
    return PROTOCOL_ALIASES.get(name, name)


@dataclass(frozen=True)
class EvaluationConfig:
    """The options of one evaluation run (`bookrec-tui evaluate` builds one from its flags)."""

    out: Path  # the JSON report
    only: str | None = None  # one protocol (PROTOCOLS), else all of them
    users: int = 2000  # held-out goodbooks readers
    skip_tutorial_protocol: bool = False
    exports: Path | None = None  # Goodreads exports; None: goodreads-exports beside the data
    min_rated: int = 20  # a real reader needs this many rated books in the catalogue
    orders: int = REAL_READER_ORDERS  # seeded reveal orders per real reader
    epochs: int | None = None  # our model's epochs; None: the tuned value
    data_dir: str | os.PathLike[str] | None = None  # None: $BOOKREC_DATA_DIR or the fetched copy
    model_dir: str | os.PathLike[str] | None = None  # None: the shipped model
    model: str = "embeddings"  # which of our models the held-out protocols train: links, embeddings

    def __post_init__(self) -> None:
        if self.only is not None:
            object.__setattr__(self, "only", protocol_name(self.only))
            if self.only not in PROTOCOLS:
                raise ValueError(f"unknown protocol {self.only!r}: one of {', '.join(PROTOCOLS)}")

    def protocols(self) -> list[str]:
        """The protocols to run, in order (before dropping those that lack exports)."""
        chosen = [self.only] if self.only else list(PROTOCOLS)
        if self.skip_tutorial_protocol and "tutorial" in chosen:
            chosen.remove("tutorial")
        return chosen

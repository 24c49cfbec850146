"""bookrec-tui: a book recommender for the terminal.

The public API is :class:`Recommender`; importing this package stays light (numpy only)
and never imports TensorFlow.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

__version__ = "0.1.0"
__all__ = ["Recommender", "Recommendation", "__version__"]

if TYPE_CHECKING:
    from bookrec_tui.core.recommender import Recommendation, Recommender


def __getattr__(name: str):
    if name in ("Recommender", "Recommendation"):
        from bookrec_tui.core import recommender

        return getattr(recommender, name)
    raise AttributeError(name)

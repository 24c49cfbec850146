"""Where bookrec-tui reads and writes things.

Data directory resolution order (the first that is set wins):
1. an explicit ``data_dir`` argument (the ``--data-dir`` flag),
2. the ``BOOKREC_DATA_DIR`` environment variable,
3. the per-user data directory (``bookrec-tui data fetch`` downloads there).
"""

from __future__ import annotations

import os
from pathlib import Path

from platformdirs import user_cache_dir, user_data_dir

APP_NAME = "bookrec-tui"
DATA_ENV = "BOOKREC_DATA_DIR"
HOME_ENV = "BOOKREC_HOME"  # overrides every per-user directory at once (tests, portable installs)


def user_home() -> Path:
    """Root for profiles and downloaded data; ``$BOOKREC_HOME`` overrides it."""
    override = os.environ.get(HOME_ENV)
    return Path(override) if override else Path(user_data_dir(APP_NAME, appauthor=False))


def cache_dir() -> Path:
    """Parsed-data caches, safe to delete at any time."""
    override = os.environ.get(HOME_ENV)
    if override:
        return Path(override) / "cache"
    return Path(user_cache_dir(APP_NAME, appauthor=False))


def default_download_dir() -> Path:
    return user_home() / "goodbooks-10k"


def resolve_data_dir(data_dir: str | os.PathLike[str] | None = None) -> Path:
    """The data directory to read goodbooks-10k from (see the module docstring)."""
    if data_dir:
        return Path(data_dir).expanduser()
    env = os.environ.get(DATA_ENV)
    if env:
        return Path(env).expanduser()
    return default_download_dir()


def profiles_dir() -> Path:
    return user_home() / "profiles"


def shipped_model_dir() -> Path:
    """The folder of the model packaged with bookrec-tui (its bundle, catalogue, maps).

    Installed, it is the package ``bookrec_tui.shipped_model``; in a source checkout that is
    imported directly (not installed) it is the repository's ``models/`` folder.
    """
    from importlib import resources

    try:
        return Path(str(resources.files("bookrec_tui.shipped_model")))
    except ModuleNotFoundError:
        return Path(__file__).resolve().parent.parent / "models"

"""The mixstack home: where the store, the calibration and tuned models live."""

from __future__ import annotations

import os
from pathlib import Path

from platformdirs import user_data_dir

__all__ = ["HOME_ENV", "default_home"]

HOME_ENV = "MIXSTACK_HOME"


def default_home(configured: Path | None = None) -> Path:
    """`$MIXSTACK_HOME`, else the config's `home:`, else the user data dir."""
    env = os.environ.get(HOME_ENV)
    if env:
        return Path(env)
    if configured is not None:
        return configured.expanduser()
    return Path(user_data_dir("mixstack"))

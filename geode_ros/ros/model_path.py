"""Where the ``model`` parameter points: a directory, a shipped model's name, or none.

The package installs its shipped model(s) to ``share/geode_ros/models/<name>`` (colcon
and the venv set-up alike); a source checkout has them in ``models/<name>``. So the
default ``model: geode-tiny`` works from any of the three without a path.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

from geode_ros.errors import GeodeError

PACKAGE = 'geode_ros'
BASELINE_NAMES = ('', 'none', 'baseline')
SHIPPED_MODEL = 'geode-tiny'  # the default of the node, the launch and every console script
# transformers imports torchao whenever it is installed; torchao then logs its missing
# optional CUDA kernels and torch's _pytree deprecations at WARNING on every start, long
# before (and whether or not) quantisation is asked for.
IMPORT_NOISE_LOGGERS = ('torchao', 'torch.utils._pytree')


def _share_models() -> Path | None:
    """``share/geode_ros/models`` of the installed package, when the ament index knows it."""
    try:
        from ament_index_python.packages import (
            PackageNotFoundError,
            get_package_share_directory,
        )
    except ImportError:
        return None
    try:
        return Path(get_package_share_directory(PACKAGE)) / 'models'
    except (PackageNotFoundError, ValueError, LookupError, OSError):  # OSError: no index
        return None


def _source_models() -> Path:
    """``models/`` beside the ``geode_ros`` folder of a source checkout."""
    return Path(__file__).resolve().parents[2] / 'models'


def model_search_dirs() -> list[Path]:
    """Folders searched for a model given by name, in order."""
    return [d for d in (_share_models(), _source_models()) if d is not None]


def resolve_model(value: str) -> Path | None:
    """The model directory for a ``model`` parameter value; None for the geometric baseline.

    ``value`` is a directory path, or the name of a shipped model (``geode-tiny``), or
    one of ``''``, ``none``, ``baseline``. GeodeError names every place looked in.
    """
    value = value.strip()
    if value.lower() in BASELINE_NAMES:
        return None
    path = Path(value).expanduser()
    if path.is_dir():
        return path
    tried = [path]
    if len(path.parts) == 1:
        for folder in model_search_dirs():
            candidate = folder / value
            if candidate.is_dir():
                return candidate
            tried.append(candidate)
    raise GeodeError(f'model {value!r} not found (looked in: {", ".join(map(str, tried))}); '
                     f'give a model directory, a shipped model name such as {SHIPPED_MODEL}, '
                     'or none for the geometric baseline; train one with geode-train '
                     '(make model reproduces the shipped one)')


def load_model(cfg: Any) -> Any:
    """``GeodeModel.from_pretrained`` for ``cfg.model``; None for the geometric baseline.

    The model is imported lazily (torch is heavy).
    """
    path = resolve_model(cfg.model)
    if path is None:
        return None
    for name in IMPORT_NOISE_LOGGERS:  # warnings nobody can act on (see the constant)
        logging.getLogger(name).setLevel(logging.ERROR)
    from geode_ros.model.geode import GeodeModel

    kwargs: dict[str, Any] = {}
    if cfg.device != 'auto':
        kwargs['device'] = cfg.device
    else:
        import torch

        kwargs['device'] = 'cuda' if torch.cuda.is_available() else 'cpu'
    if cfg.dtype != 'auto':
        kwargs['dtype'] = cfg.dtype
    if cfg.quantization != 'none':
        kwargs['quantization'] = cfg.quantization
    return GeodeModel.from_pretrained(path, **kwargs)


def free_accelerator_memory() -> None:
    """Return cached CUDA memory to the driver (only when torch is already loaded)."""
    torch = sys.modules.get('torch')
    if torch is not None and torch.cuda.is_available():
        torch.cuda.empty_cache()

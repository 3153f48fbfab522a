"""GEODE checkpoints: one directory with config, weights, tokenizer files and a manifest.

Layout: ``config.json`` (GeodeConfig + the VLM's HF config + its class),
``model.safetensors`` (every weight: VLM, DRM, DRH), the tokenizer and image-processor
files, and ``manifest.json`` with the sha256 and size of each file. Loading verifies
the manifest first, so a truncated or edited file fails with a GeodeError naming it.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import torch

from geode_ros.config import check_choice, from_dict, to_dict
from geode_ros.errors import GeodeError
from geode_ros.model.config import GeodeConfig

DTYPES = {'float32': torch.float32, 'float16': torch.float16, 'bfloat16': torch.bfloat16}
FORMAT = 'geode'
FORMAT_VERSION = 1
WEIGHTS = 'model.safetensors'


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open('rb') as f:
        for chunk in iter(lambda: f.read(1 << 20), b''):
            h.update(chunk)
    return h.hexdigest()


def save_pretrained(model, out_dir: str | Path) -> Path:
    """Write ``model`` to ``out_dir`` (LoRA adapters are merged first)."""
    from safetensors.torch import save_model

    from geode_ros.model.stages import merge_lora

    if getattr(model, 'quantization', None):
        raise GeodeError('save the float model; quantise after loading '
                         '(GeodeModel.from_pretrained(..., quantization=...))')
    merge_lora(model)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    meta = {
        'format': FORMAT, 'format_version': FORMAT_VERSION,
        'architecture': type(model.vlm).__name__,
        'geode': to_dict(model.config),
        'vlm_config': model.vlm.config.to_dict(),
    }
    (out / 'config.json').write_text(json.dumps(meta, indent=2, default=str) + '\n')
    save_model(model, str(out / WEIGHTS), metadata={'format': 'pt'})
    model.tokenizer.save_pretrained(out)
    model.image_processor.save_pretrained(out)
    files = sorted(p for p in out.iterdir() if p.is_file() and p.name != 'manifest.json')
    manifest = {'files': {p.name: {'sha256': _sha256(p), 'bytes': p.stat().st_size}
                          for p in files}}
    (out / 'manifest.json').write_text(json.dumps(manifest, indent=2) + '\n')
    return out


def verify_checkpoint(path: str | Path) -> dict:
    """Check every file against manifest.json; return the parsed config.json."""
    root = Path(path)
    if not root.is_dir():
        raise GeodeError(f'checkpoint directory not found: {root}')
    man_path = root / 'manifest.json'
    if not man_path.is_file():
        raise GeodeError(f'{man_path} is missing: not a GEODE checkpoint (save_pretrained)')
    try:
        manifest = json.loads(man_path.read_text())['files']
    except (ValueError, KeyError) as exc:
        raise GeodeError(f'{man_path} is corrupt: {exc}') from exc
    for name, entry in manifest.items():
        f = root / name
        if not f.is_file():
            raise GeodeError(f'checkpoint file {f} is missing')
        if f.stat().st_size != entry['bytes']:
            raise GeodeError(f'checkpoint file {f} has {f.stat().st_size} bytes, manifest says '
                             f'{entry["bytes"]} (truncated or replaced)')
        if _sha256(f) != entry['sha256']:
            raise GeodeError(f'checkpoint file {f} fails its sha256 check (modified or corrupt)')
    meta = json.loads((root / 'config.json').read_text())
    if meta.get('format') != FORMAT or meta.get('format_version') != FORMAT_VERSION:
        raise GeodeError(f'{root / "config.json"} is not a GEODE v{FORMAT_VERSION} config')
    return meta


def load_weights(model, path: str | Path) -> None:
    """Load a checkpoint's weights into an existing model of the same architecture."""
    from safetensors.torch import load_model

    meta = verify_checkpoint(path)
    have = type(model.vlm).__name__
    if meta['architecture'] != have:
        raise GeodeError(f'checkpoint {path} holds a {meta["architecture"]} model; cannot load '
                         f'it into a {have} model')
    try:
        load_model(model, str(Path(path) / WEIGHTS), strict=True, device=str(model.device))
    except RuntimeError as exc:
        raise GeodeError(f'weights in {Path(path) / WEIGHTS} do not fit this model '
                         f'(different size or config): {str(exc)[:500]}') from exc


def read_checkpoint(path: str | Path, device: str | None = None, dtype: str | None = None
                    ) -> tuple[GeodeConfig, torch.nn.Module, Any, Any]:
    """A verified checkpoint's parts: its config (``device`` / ``dtype`` applied), the VLM
    built from its config (weights not loaded yet), tokenizer and image processor.
    ``GeodeModel.from_pretrained`` assembles them and loads the weights."""
    from transformers import (
        AutoConfig,
        AutoImageProcessor,
        AutoModelForImageTextToText,
        AutoTokenizer,
    )

    meta = verify_checkpoint(path)
    cfg = from_dict(GeodeConfig, meta['geode'], where=f'{path}/config.json')
    cfg.device = device or cfg.device
    cfg.dtype = dtype or cfg.dtype
    check_choice('dtype', cfg.dtype, tuple(DTYPES))
    cfg.lora.enabled = False  # adapters were merged at save time
    vcfg = dict(meta['vlm_config'])
    vlm_config = AutoConfig.for_model(vcfg.pop('model_type'), **vcfg)
    vlm = AutoModelForImageTextToText.from_config(vlm_config)
    if type(vlm).__name__ != meta['architecture']:
        raise GeodeError(f'{path}: config builds {type(vlm).__name__}, expected '
                         f'{meta["architecture"]}')
    return cfg, vlm, AutoTokenizer.from_pretrained(path), AutoImageProcessor.from_pretrained(path)


def state_dict_bytes(model: torch.nn.Module) -> int:
    """Total bytes of a module's parameters and buffers."""
    return sum(t.numel() * t.element_size() for t in model.state_dict().values())

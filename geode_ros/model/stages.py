"""Which parameters train in each stage (and LoRA injection / merging via peft).

Stage 1: only the DRM (the VLM, vision tower and DRH frozen). Stage 2: the DRM and the
vision tower frozen; the LLM trains in full, or through LoRA adapters when
``config.lora.enabled`` (then only the embedding / LM-head rows of the new tokens
<spatio>, <reg>, <box> train, through a gradient mask); the DRH trains (not in the
'digits' ablation, where it is unused). Without the DRM (``use_drm=False``) there is
no stage 1. ``train_drm=True`` also trains the DRM in stage 2 (the trainer's
``stage2_trains_drm``, the shipped recipe; see README, Training).
"""

from __future__ import annotations

import torch
from torch import nn

from geode_ros.errors import GeodeError
from geode_ros.model.prompt import GEODE_TOKENS
from geode_ros.model.protocol import GeodeLike


def set_stage(model: GeodeLike, stage: int, train_drm: bool = False) -> None:
    """Freeze / unfreeze parameters for ``stage`` (see the module docstring)."""
    if stage not in (1, 2):
        raise GeodeError(f'stage must be 1 or 2, got {stage}')
    if stage == 1 and not model.config.use_drm:
        raise GeodeError('stage 1 trains only the DRM, which this model does not use '
                         '(use_drm=False): train stage 2 directly (--skip-stage1)')
    model.requires_grad_(False)
    _clear_row_masks(model)
    if stage == 1:
        model.drm.requires_grad_(True)
        return
    model.drh.requires_grad_(model.config.numeric_output == 'drh')
    model.drm.requires_grad_(train_drm and model.config.use_drm)
    ad = model.adapter
    if not model.config.lora.enabled:
        ad.language_model.requires_grad_(True)
        ad.lm_head.requires_grad_(True)
        return
    inject_lora(model)
    for name, p in ad.language_model.named_parameters():
        if 'lora_' in name:
            p.requires_grad_(True)
    rows = torch.tensor([model.token_ids[t] for t in GEODE_TOKENS])
    for w in {ad.embed_tokens.weight, ad.lm_head.weight}:  # a set: tied weights once
        w.requires_grad_(True)
        keep = torch.zeros(w.shape[0], 1, dtype=w.dtype, device=w.device)
        keep[rows] = 1
        model._row_hooks.append(w.register_hook(lambda g, k=keep: g * k))


def _clear_row_masks(model: GeodeLike) -> None:
    for h in getattr(model, '_row_hooks', []):
        h.remove()
    model._row_hooks = []


def inject_lora(model: GeodeLike) -> None:
    """Add LoRA adapters to the LLM's linears in place (once)."""
    if model.lora_active:
        return
    from peft import LoraConfig, inject_adapter_in_model

    c = model.config.lora
    cfg = LoraConfig(r=c.rank, lora_alpha=c.alpha, lora_dropout=c.dropout,
                     target_modules=list(c.targets))
    inject_adapter_in_model(cfg, model.adapter.language_model)
    model.lora_active = True


def merge_lora(model: GeodeLike) -> None:
    """Fold LoRA adapters into the base weights and remove them (before saving)."""
    if not model.lora_active:
        return
    from peft.tuners.lora import LoraLayer

    lm = model.adapter.language_model
    for name, mod in list(lm.named_modules()):
        if isinstance(mod, LoraLayer):
            mod.merge()
            parent_name, _, child = name.rpartition('.')
            parent = lm.get_submodule(parent_name) if parent_name else lm
            base = mod.get_base_layer()
            assert isinstance(base, nn.Module)
            setattr(parent, child, base)
    model.lora_active = False

"""Per-architecture adapters: the few places where Qwen2-VL, Qwen2.5-VL and InternVL differ.

An adapter knows where a VLM keeps its language model, LM head, token embeddings and
vision modules, how to run its image processor + vision tower on keyframes (giving
LLM-space image tokens on a row-major grid), how its chat template marks an image and
how that mark expands to N image tokens, and how positions are numbered (M-RoPE for
Qwen, 1D for InternVL).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from geode_ros.errors import GeodeError


@dataclass
class ImageTokens:
    """One encoded image: LLM-space tokens on a ``grid`` (rows, cols), row-major."""

    tokens: torch.Tensor  # [T, D_lm]
    grid: tuple[int, int]
    grid_thw: torch.Tensor | None = None  # Qwen: [3] patch grid (t, h, w) for M-RoPE


class VLMAdapter:
    """Common part; subclasses fill in the architecture specifics."""

    arch = ''
    template_image = ''  # what the chat template emits for an image entry

    def __init__(self, vlm: nn.Module, tokenizer, image_processor) -> None:
        self.vlm = vlm
        self.tokenizer = tokenizer
        self.image_processor = image_processor

    @property
    def language_model(self) -> nn.Module:
        return self.vlm.model.language_model

    @property
    def lm_head(self) -> nn.Module:
        return self.vlm.lm_head

    @property
    def embed_tokens(self) -> nn.Embedding:
        return self.vlm.get_input_embeddings()

    @property
    def hidden_size(self) -> int:
        return self.vlm.config.get_text_config().hidden_size

    @property
    def image_token_id(self) -> int:
        return int(self.vlm.config.image_token_id)

    def vision_modules(self) -> list[nn.Module]:
        raise NotImplementedError

    def expand_image(self, n_tokens: int) -> str:
        raise NotImplementedError

    def encode_images(self, images: list[np.ndarray]) -> list[ImageTokens]:
        raise NotImplementedError

    def position_ids(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                     grid_thw: torch.Tensor | None) -> torch.Tensor:
        """Positions [P, B, T] (P = 3 for M-RoPE, 1 otherwise)."""
        pos = (attention_mask.long().cumsum(-1) - 1).clamp_min(0)
        return pos.unsqueeze(0)

    def lm_positions(self, pos: torch.Tensor) -> torch.Tensor:
        """What the language model's ``position_ids`` argument takes."""
        return pos[0] if pos.shape[0] == 1 else pos


class QwenVLAdapter(VLMAdapter):
    """Qwen2-VL and Qwen2.5-VL: dynamic-resolution ViT with 2x2 patch merging, M-RoPE."""

    arch = 'qwen2_vl'
    template_image = '<|image_pad|>'

    def vision_modules(self) -> list[nn.Module]:
        return [self.vlm.model.visual]

    def expand_image(self, n_tokens: int) -> str:
        return '<|image_pad|>' * n_tokens

    @torch.no_grad()
    def encode_images(self, images: list[np.ndarray]) -> list[ImageTokens]:
        inputs = self.image_processor(images=images, return_tensors='pt')
        visual = self.vlm.model.visual
        pixels = inputs['pixel_values'].to(visual.device)
        thw = inputs['image_grid_thw'].to(visual.device)
        feats = self.vlm.model.get_image_features(pixels, thw).pooler_output  # tuple of [T, D]
        m = visual.spatial_merge_size
        return [ImageTokens(f, (int(g[1]) // m, int(g[2]) // m), g.cpu())
                for f, g in zip(feats, thw)]

    def position_ids(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                     grid_thw: torch.Tensor | None) -> torch.Tensor:
        mm = (input_ids == self.image_token_id).int()
        pos, _ = self.vlm.model.get_rope_index(
            input_ids, mm_token_type_ids=mm, image_grid_thw=grid_thw,
            attention_mask=attention_mask)
        return pos  # [3, B, T]


class Qwen25VLAdapter(QwenVLAdapter):
    arch = 'qwen2_5_vl'


class InternVLAdapter(VLMAdapter):
    """InternVL (HF format): fixed-size ViT tiles, pixel shuffle 0.5, MLP projector, 1D RoPE."""

    arch = 'internvl'
    template_image = '<IMG_CONTEXT>'

    def vision_modules(self) -> list[nn.Module]:
        return [self.vlm.model.vision_tower, self.vlm.model.multi_modal_projector]

    def expand_image(self, n_tokens: int) -> str:
        return '<img>' + '<IMG_CONTEXT>' * n_tokens + '</img>'

    @torch.no_grad()
    def encode_images(self, images: list[np.ndarray]) -> list[ImageTokens]:
        # one tile per keyframe: the whole image resized to the ViT's input size
        inputs = self.image_processor(images=images, crop_to_patches=False, return_tensors='pt')
        pixels = inputs['pixel_values'].to(self.vlm.device)
        feats = self.vlm.model.get_image_features(pixel_values=pixels).pooler_output  # [N, T, D]
        side = int(round(feats.shape[1] ** 0.5))
        return [ImageTokens(f, (side, side)) for f in feats]


_ADAPTERS = {
    'Qwen2VLForConditionalGeneration': QwenVLAdapter,
    'Qwen2_5_VLForConditionalGeneration': Qwen25VLAdapter,
    'InternVLForConditionalGeneration': InternVLAdapter,
}


def make_adapter(vlm: nn.Module, tokenizer, image_processor) -> VLMAdapter:
    """The adapter for ``vlm``'s class; GeodeError for an unsupported architecture."""
    name = type(vlm).__name__
    if name not in _ADAPTERS:
        raise GeodeError(f'unsupported VLM architecture {name}; supported: {sorted(_ADAPTERS)}')
    return _ADAPTERS[name](vlm, tokenizer, image_processor)

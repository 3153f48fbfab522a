"""What GeodeModel's helpers use of it, as a Protocol.

``batch.py``, ``decode.py``, ``stages.py`` and ``quantize.py`` take the model as an
argument, and ``geode.py`` imports them; typing their argument with ``GeodeModel``
would import ``geode.py`` back. They take a ``GeodeLike`` instead: the attributes and
methods they use, nothing more.
"""

from __future__ import annotations

from typing import Any, Protocol

import torch
from torch import nn

from geode_ros.model.config import GeodeConfig
from geode_ros.scene.types import RGBDFrame


class GeodeLike(Protocol):
    """The GEODE model as its helpers see it (see ``geode.GeodeModel``)."""

    config: GeodeConfig
    tokenizer: Any  # a Hugging Face tokenizer with the GEODE tokens added
    adapter: Any  # adapters.LLMAdapter: embeddings, language model, lm head
    drm: nn.Module
    drh: nn.Module
    token_ids: dict[str, int]  # <spatio>, <reg>, <box> ids
    stop_ids: set[int]
    end_of_turn: str
    lora_active: bool
    quantization: str | None
    _row_hooks: list

    @property
    def device(self) -> torch.device: ...

    @property
    def num_spatio(self) -> int: ...

    # batch: a batch.GeodeBatch (batch.py imports this module, so it is not named here)
    def encode_keyframe(self, frame: RGBDFrame) -> Any: ...

    def understand(self, question: str) -> Any: ...  # a geode_ros.query Program

    def spatio_embeddings(self, batch: Any) -> torch.Tensor | None: ...

    def embed_inputs(self, batch: Any, spatio: torch.Tensor | None = None) -> torch.Tensor: ...

    def requires_grad_(self, requires_grad: bool = True) -> nn.Module: ...

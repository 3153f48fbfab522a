"""Point encoders: FPS + kNN grouping + PointNet + transformer, with Fourier 3D encoding.

``PointEncoder`` is the small interface the DRM needs (points in, tokens with 3D
centres out); encoders are registered by name so a Sonata/PTv3 wrapper can be added
with ``@register_point_encoder('sonata')`` without touching the DRM.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn

from geode_ros.errors import GeodeError
from geode_ros.model.config import DRMConfig

_REGISTRY: dict[str, Callable[[DRMConfig], PointEncoder]] = {}


def register_point_encoder(name: str):
    """Class decorator: make an encoder constructible by ``build_point_encoder(cfg)``."""

    def wrap(cls):
        _REGISTRY[name] = cls
        return cls

    return wrap


def build_point_encoder(cfg: DRMConfig) -> PointEncoder:
    if cfg.point_encoder not in _REGISTRY:
        raise GeodeError(
            f'unknown point encoder {cfg.point_encoder!r}; registered: {sorted(_REGISTRY)}'
        )
    return _REGISTRY[cfg.point_encoder](cfg)


class FourierPE(nn.Module):
    """Sinusoidal encoding of 3D positions (metres) projected to ``width``."""

    def __init__(self, width: int, frequencies: int = 8, max_wavelength: float = 16.0) -> None:
        super().__init__()
        # wavelengths from max_wavelength down by factors of 2
        freqs = 2 * math.pi / (max_wavelength / 2.0 ** torch.arange(frequencies))
        self.register_buffer('freqs', freqs.float(), persistent=False)
        self.proj = nn.Linear(3 * 2 * frequencies + 3, width)

    def forward(self, xyz: torch.Tensor) -> torch.Tensor:
        ang = xyz.unsqueeze(-1) * self.freqs.to(xyz.dtype)  # [..., 3, F]
        feats = torch.cat([ang.sin(), ang.cos()], dim=-1).flatten(-2)  # [..., 6F]
        return self.proj(torch.cat([feats, xyz], dim=-1))  # [..., W]


def farthest_point_sample(xyz: torch.Tensor, mask: torch.Tensor, m: int) -> torch.Tensor:
    """Indices [B, m] of ``m`` farthest points per cloud (deterministic start: point 0).

    Invalid points (``mask`` False) are never picked unless a cloud has fewer than
    ``m`` valid points, in which case picks repeat.
    """
    b, n, _ = xyz.shape
    idx = torch.zeros(b, m, dtype=torch.long, device=xyz.device)
    dist = torch.full((b, n), float('inf'), device=xyz.device, dtype=xyz.dtype)
    dist = dist.masked_fill(~mask, -1.0)
    cur = torch.argmax(mask.to(torch.int8), dim=1)  # first valid point
    rows = torch.arange(b, device=xyz.device)
    for i in range(m):
        idx[:, i] = cur
        d = ((xyz - xyz[rows, cur].unsqueeze(1)) ** 2).sum(-1)  # [B, N]
        dist = torch.where(mask, torch.minimum(dist, d), dist)
        cur = torch.argmax(dist, dim=1)
    return idx


def knn_group(xyz: torch.Tensor, mask: torch.Tensor, centres: torch.Tensor, k: int
              ) -> torch.Tensor:
    """Indices [B, G, k] of the k nearest valid points to each centre."""
    d = torch.cdist(centres, xyz)  # [B, G, N]
    d = d.masked_fill(~mask.unsqueeze(1), float('inf'))
    return d.topk(min(k, xyz.shape[1]), dim=-1, largest=False).indices


def gather(x: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """x [B, N, C], idx [B, ...] -> [B, ..., C]."""
    b = x.shape[0]
    flat = idx.reshape(b, -1)
    out = torch.gather(x, 1, flat.unsqueeze(-1).expand(-1, -1, x.shape[-1]))
    return out.reshape(*idx.shape, x.shape[-1])


class PointEncoder(nn.Module):
    """Interface: ``forward(xyz [B,N,3], rgb [B,N,3] in 0..1, mask [B,N])`` ->
    ``(tokens [B,G,W], centres [B,G,3], token_mask [B,G])``."""

    width: int

    def forward(self, xyz: torch.Tensor, rgb: torch.Tensor, mask: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        raise NotImplementedError


@register_point_encoder('pointnet_tf')
class PointNetTransformer(PointEncoder):
    """Point-MAE-style tokeniser: FPS centres, kNN groups, mini-PointNet, transformer."""

    def __init__(self, cfg: DRMConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.width = cfg.width
        w = cfg.width
        self.mlp1 = nn.Sequential(nn.Linear(6, 64), nn.LayerNorm(64), nn.GELU(),
                                  nn.Linear(64, 128))
        self.mlp2 = nn.Sequential(nn.Linear(256, w), nn.LayerNorm(w), nn.GELU(), nn.Linear(w, w))
        self.pe = FourierPE(w, cfg.pe_frequencies, cfg.pe_max_wavelength)
        layer = nn.TransformerEncoderLayer(w, cfg.heads, 2 * w, cfg.dropout, batch_first=True,
                                           norm_first=True, activation='gelu')
        self.blocks = nn.TransformerEncoder(layer, cfg.point_layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(w)

    def forward(self, xyz: torch.Tensor, rgb: torch.Tensor, mask: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        g = min(self.cfg.num_groups, xyz.shape[1])
        with torch.no_grad():
            cidx = farthest_point_sample(xyz, mask, g)  # [B, G]
            centres = gather(xyz, cidx)  # [B, G, 3]
            nidx = knn_group(xyz, mask, centres, self.cfg.k_neighbors)  # [B, G, k]
        local = gather(xyz, nidx) - centres.unsqueeze(2)  # [B, G, k, 3]
        feats = torch.cat([local, gather(rgb, nidx) - 0.5], dim=-1)  # [B, G, k, 6]
        h = self.mlp1(feats)  # [B, G, k, 128]
        h = torch.cat([h, h.max(dim=2, keepdim=True).values.expand_as(h)], dim=-1)  # [B,G,k,256]
        tokens = self.mlp2(h).max(dim=2).values  # [B, G, W]
        tokens = tokens + self.pe(centres)
        token_mask = gather(mask.unsqueeze(-1).float(), cidx).squeeze(-1) > 0  # [B, G]
        token_mask[:, 0] = True  # an empty cloud still yields one (zero-content) token
        tokens = self.blocks(tokens, src_key_padding_mask=~token_mask)
        return self.norm(tokens), centres, token_mask

"""DRM, the Decoupled Rationale Module: 3D points + 2D patch features -> K <spatio> embeddings.

Point tokens (from a ``PointEncoder``) attend to keyframe patch tokens placed in 3D
(patch centres back-projected with depth, intrinsics and pose); K learnable rationale
queries then read the fused tokens (Perceiver / Q-Former style) and are projected to
the LLM hidden size. All positions are in the fixed frame, relative to the scene centre.

With ``question_conditioned`` the queries share their self-attention with the question's
token embeddings (as InstructBLIP's Q-Former does with the instruction): eight tokens
cannot summarise every pairwise distance of a room, but they can carry the two objects
a question names. The rationale the DRM is trained to support (stage 1) is itself
question-specific.

With ``scene_extent_token`` one more context token encodes the cloud's extent along each
axis (robust percentiles of the sampled points). Local tokens with positions carry it
only implicitly; reading a maximum out of them is what attention, a weighted average,
is worst at, and room size is exactly that quantity.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from geode_ros.errors import GeodeError
from geode_ros.model.config import DRMConfig, ObjectConfig
from geode_ros.model.objects import ObjectEncoder
from geode_ros.model.point_encoder import FourierPE, build_point_encoder


def patch_centres_3d(depth: np.ndarray | torch.Tensor, fx: float, fy: float, cx: float, cy: float,
                     T_world_cam: np.ndarray | torch.Tensor, grid_hw: tuple[int, int]
                     ) -> tuple[torch.Tensor, torch.Tensor]:
    """3D world positions of the centres of a ``grid_hw`` patch grid laid over the image.

    Each cell's depth is the mean of its valid pixels (depth > 0 and finite), so a
    patch straddling a hole still gets a position. Returns ``xyz [gh*gw, 3]`` (row-major,
    the order of the vision tokens) and ``valid [gh*gw]`` (False where a cell had no depth).
    """
    d = torch.as_tensor(np.asarray(depth, dtype=np.float32) if isinstance(depth, np.ndarray)
                        else depth).float()
    h, w = d.shape
    gh, gw = grid_hw
    ok = torch.isfinite(d) & (d > 0)
    d = torch.where(ok, d, torch.zeros_like(d))
    pool = nn.functional.adaptive_avg_pool2d
    sum_d = pool(d[None, None], (gh, gw))[0, 0]  # [gh, gw]
    frac = pool(ok.float()[None, None], (gh, gw))[0, 0]
    z = torch.where(frac > 0, sum_d / frac.clamp_min(1e-6), torch.zeros_like(sum_d))
    v = (torch.arange(gh, dtype=torch.float32) + 0.5) * (h / gh)
    u = (torch.arange(gw, dtype=torch.float32) + 0.5) * (w / gw)
    vv, uu = torch.meshgrid(v, u, indexing='ij')  # [gh, gw]
    cam = torch.stack([(uu - cx) / fx * z, (vv - cy) / fy * z, z], dim=-1).reshape(-1, 3)
    T = torch.as_tensor(np.asarray(T_world_cam, dtype=np.float32)
                        if isinstance(T_world_cam, np.ndarray) else T_world_cam).float()
    world = cam @ T[:3, :3].T + T[:3, 3]  # [P, 3]
    return world, (frac > 0).reshape(-1)


def cloud_extent(xyz: torch.Tensor, mask: torch.Tensor, percentile: float = 1.0
                 ) -> torch.Tensor:
    """Per-axis extent [B, 3] of each cloud: the (100 - p)th minus the p-th percentile of
    its valid points (0 for an empty cloud)."""
    x = xyz.float().masked_fill(~mask.bool().unsqueeze(-1), float('nan'))
    q = torch.tensor([percentile / 100, 1 - percentile / 100], device=x.device)
    lo, hi = torch.nanquantile(x, q, dim=1)  # each [B, 3]
    return torch.nan_to_num(hi - lo, nan=0.0)


class DecoupledRationaleModule(nn.Module):
    """Fuse point tokens with 3D-placed patch tokens; read K rationale tokens for the LLM."""

    def __init__(self, cfg: DRMConfig, vision_dim: int, lm_dim: int, lm_embed_std: float = 0.02,
                 objects: ObjectConfig | None = None) -> None:
        super().__init__()
        self.cfg = cfg
        w = cfg.width
        self.points = build_point_encoder(cfg)
        # object tokens (model/objects.py): built here so they train and freeze with the DRM
        self.objects = (ObjectEncoder(objects, cfg, vision_dim)
                        if objects is not None and objects.enabled else None)
        self.patch_in = nn.Sequential(nn.LayerNorm(vision_dim), nn.Linear(vision_dim, w))
        self.patch_pe = FourierPE(w, cfg.pe_frequencies, cfg.pe_max_wavelength)
        self.null_memory = nn.Parameter(torch.zeros(1, 1, w))  # attended when nothing else is
        self.extent_pe = (FourierPE(w, cfg.pe_frequencies, cfg.pe_max_wavelength)
                          if cfg.scene_extent_token else None)

        def decoder(n: int) -> nn.TransformerDecoder:
            layer = nn.TransformerDecoderLayer(w, cfg.heads, 2 * w, cfg.dropout, batch_first=True,
                                               norm_first=True, activation='gelu')
            return nn.TransformerDecoder(layer, n)

        self.fusion = decoder(cfg.fusion_layers)  # point tokens <- patch tokens
        self.queries = nn.Parameter(torch.randn(1, cfg.num_rationale_queries, w) * 0.02)
        self.question_in = (nn.Sequential(nn.LayerNorm(lm_dim), nn.Linear(lm_dim, w))
                            if cfg.question_conditioned else None)
        self.readout = decoder(cfg.readout_layers)  # queries <- fused tokens
        self.out = nn.Sequential(nn.LayerNorm(w), nn.Linear(w, lm_dim))
        nn.init.normal_(self.out[1].weight, std=lm_embed_std / (w ** 0.5) * 2)
        nn.init.zeros_(self.out[1].bias)

    def forward(self, points: torch.Tensor, point_mask: torch.Tensor, patch_feats: torch.Tensor,
                patch_xyz: torch.Tensor, patch_mask: torch.Tensor, scene_center: torch.Tensor,
                question: torch.Tensor | None = None, question_mask: torch.Tensor | None = None,
                object_tokens: torch.Tensor | None = None,
                object_mask: torch.Tensor | None = None) -> torch.Tensor:
        """K rationale embeddings.

        Args:
            points: [B, N, 6] xyz (m, fixed frame) + rgb in 0..1.
            point_mask: [B, N] valid points.
            patch_feats: [B, P, D_v] keyframe vision tokens (P may be 0).
            patch_xyz: [B, P, 3] their 3D centres (fixed frame).
            patch_mask: [B, P] valid patch tokens.
            scene_center: [B, 3] subtracted from all positions.
            question: [B, L, D_lm] the question's token embeddings (used when
                ``question_conditioned``; required then).
            question_mask: [B, L] valid question tokens.
            object_tokens: [B, M, W] object tokens (``self.objects``), read with the rest.
            object_mask: [B, M] valid object tokens.

        Returns:
            [B, K, D_lm] embeddings for the K <spatio> slots.
        """
        c = scene_center.unsqueeze(1)  # [B, 1, 3]
        xyz = points[..., :3] - c
        tokens, _, tok_mask = self.points(xyz, points[..., 3:6], point_mask)  # [B, G, W]
        b = tokens.shape[0]
        mem = self.patch_in(patch_feats) + self.patch_pe(patch_xyz - c)  # [B, P, W]
        null = self.null_memory.expand(b, -1, -1)
        mem = torch.cat([null, mem], dim=1)  # [B, 1+P, W]
        mem_mask = torch.cat([torch.ones_like(patch_mask[:, :1]), patch_mask], dim=1)
        fused = self.fusion(tokens, mem, tgt_key_padding_mask=~tok_mask,
                            memory_key_padding_mask=~mem_mask)  # [B, G, W]
        ctx = torch.cat([fused, mem], dim=1)  # [B, G+1+P, W]
        ctx_mask = torch.cat([tok_mask, mem_mask], dim=1)
        if object_tokens is not None:
            ctx = torch.cat([ctx, object_tokens.to(ctx.dtype)], dim=1)  # [B, G+1+P+M, W]
            ctx_mask = torch.cat([ctx_mask, object_mask], dim=1)
        if self.extent_pe is not None:
            ext = cloud_extent(points[..., :3], point_mask, self.cfg.extent_percentile)
            ctx = torch.cat([ctx, self.extent_pe(ext.to(ctx.dtype)).unsqueeze(1)], dim=1)
            ctx_mask = torch.cat([ctx_mask, torch.ones_like(ctx_mask[:, :1])], dim=1)
        q = self.queries.expand(b, -1, -1)
        k = q.shape[1]
        q_mask = torch.ones(b, k, dtype=torch.bool, device=q.device)
        if self.question_in is not None:
            if question is None or question_mask is None:
                raise GeodeError('this DRM is question-conditioned: pass question embeddings')
            q = torch.cat([q, self.question_in(question.to(q.dtype))], dim=1)  # [B, K+L, W]
            q_mask = torch.cat([q_mask, question_mask.bool()], dim=1)
        q = self.readout(q, ctx, tgt_key_padding_mask=~q_mask,
                         memory_key_padding_mask=~ctx_mask)  # [B, K(+L), W]
        return self.out(q[:, :k])  # [B, K, D_lm]

"""DRH, the Direct Regression Head ("embedding as value").

The LLM's last hidden state at a ``<reg>`` token goes through an MLP to one scalar in
a normalised space, ``(log(x) - mean_t) / std_t`` for question type t (lengths, areas
and counts are all positive), trained with the paper's L2 loss. Beside that scalar the
MLP gives a histogram over the same space (cross-entropy on a Gaussian-smoothed target),
because VSI-Bench scores by relative accuracy, which saturates and is asymmetric: the
log-space mean that L2 learns is a poor answer when the model is unsure (closest-point
distances have a long tail towards 0, so their log-mean sits far below the typical
distance). With ``value_decode='mra'`` the answer is the value with the highest expected
MRA under the histogram; a confident histogram gives its peak. At a ``<box>`` token another MLP
gives (cx, cy, cz, log w, log l, log h, sin yaw, cos yaw), the centre relative to the
scene centre and scaled, the log sizes standardised. ``encode_*`` / ``decode_*`` map
between metric values and that space; the statistics are buffers (saved with the model,
refit from data with ``fit_value_stats``).
"""

from __future__ import annotations

import math
import re

import torch
from torch import nn

from geode_ros.config import check_choices
from geode_ros.data.metrics import MRA_THRESHOLDS
from geode_ros.errors import GeodeError
from geode_ros.model.config import DRHConfig

_MIN_VALUE = 1e-3  # values are clamped here before the log


def _mlp(d_in: int, hidden: int, d_out: int) -> nn.Sequential:
    return nn.Sequential(nn.LayerNorm(d_in), nn.Linear(d_in, hidden), nn.GELU(),
                         nn.Linear(hidden, hidden), nn.GELU(), nn.Linear(hidden, d_out))


class DirectRegressionHead(nn.Module):
    """MLPs from LLM hidden states to normalised scalars (per type) and 3D boxes."""

    def __init__(self, cfg: DRHConfig, lm_dim: int) -> None:
        super().__init__()
        if not (len(cfg.value_types) == len(cfg.value_log_mean) == len(cfg.value_log_std)):
            raise GeodeError('drh.value_types, value_log_mean and value_log_std differ in length')
        self.cfg = cfg
        check_choices(cfg, 'drh.')
        if cfg.value_bins < 0 or (cfg.value_decode == 'mra' and cfg.value_bins < 2):
            raise GeodeError(f'drh.value_decode=mra needs drh.value_bins >= 2, '
                             f'got {cfg.value_bins}')
        self.value_types = tuple(cfg.value_types)
        self.bins = cfg.value_bins
        # per type: the regressed scalar, then the histogram logits
        self.reg = _mlp(lm_dim, cfg.hidden, len(cfg.value_types) * (1 + self.bins))
        # the bin grid and the MRA decode's candidates (4 per bin) are fixed: built once
        r, n = cfg.value_bin_range, max(self.bins, 1)
        self.bin_width = 2 * r / n
        edges = torch.linspace(-r, r, n + 1)
        centres = (edges[1:] + edges[:-1]) / 2
        self.register_buffer('bin_edges', edges, persistent=False)
        self.register_buffer('bin_centres', centres, persistent=False)
        self.register_buffer('mra_candidates', torch.linspace(
            float(centres[0]), float(centres[-1]), max(4 * n - 3, 1)), persistent=False)
        self.register_buffer('mra_tolerances', torch.as_tensor(
            1.0 - MRA_THRESHOLDS, dtype=torch.float32) + 1e-9, persistent=False)
        self.box = _mlp(lm_dim, cfg.hidden, 8)
        self.register_buffer('log_mean', torch.tensor(cfg.value_log_mean, dtype=torch.float32))
        self.register_buffer('log_std', torch.tensor(cfg.value_log_std, dtype=torch.float32))

    def type_index(self, qtype: str) -> int:
        if qtype not in self.value_types:
            raise GeodeError(f'question type {qtype!r} has no <reg> value; '
                             f'regressed types: {list(self.value_types)}')
        return self.value_types.index(qtype)

    # --- scalars -------------------------------------------------------------------------
    def encode_value(self, value: torch.Tensor, type_idx: torch.Tensor) -> torch.Tensor:
        """Metric value(s) -> normalised target(s)."""
        v = torch.log(value.float().clamp_min(_MIN_VALUE))
        return (v - self.log_mean[type_idx]) / self.log_std[type_idx]

    def decode_value(self, z: torch.Tensor, type_idx: torch.Tensor) -> torch.Tensor:
        """Normalised prediction(s) -> metric value(s)."""
        return torch.exp(z.float() * self.log_std[type_idx] + self.log_mean[type_idx])

    def value_outputs(self, hidden: torch.Tensor, type_idx: torch.Tensor
                      ) -> tuple[torch.Tensor, torch.Tensor]:
        """hidden [M, D], type_idx [M] -> (regressed scalar [M], histogram logits [M, bins])."""
        out = self.reg(hidden.float()).view(hidden.shape[0], len(self.value_types),
                                            1 + self.bins)
        out = out[torch.arange(hidden.shape[0], device=out.device), type_idx]  # [M, 1+bins]
        return out[:, 0], out[:, 1:]

    def predict_value(self, hidden: torch.Tensor, type_idx: torch.Tensor) -> torch.Tensor:
        """hidden [M, D], type_idx [M] -> normalised answers [M] (see ``value_decode``)."""
        z, logits = self.value_outputs(hidden, type_idx)
        if self.cfg.value_decode == 'mean' or len(z) == 0:
            return z
        return self._mra_decode(logits.softmax(-1), self.log_std[type_idx])

    def _mra_decode(self, probs: torch.Tensor, log_std: torch.Tensor) -> torch.Tensor:
        """The candidate z with the highest expected MRA against the histogram [M, bins].

        MRA depends only on the ratio prediction / truth = exp((z_pred - z_true) * std).
        """
        cand = self.mra_candidates  # [C]
        dz = cand[None, :, None] - self.bin_centres[None, None, :]  # [1, C, J]
        rel = (torch.exp(dz * log_std[:, None, None]) - 1).abs()  # [M, C, J]
        mra = (rel[..., None] <= self.mra_tolerances).to(probs.dtype).mean(-1)  # [M, C, J]
        expected = (mra * probs[:, None, :]).sum(-1)  # [M, C]
        mean = (probs * self.bin_centres).sum(-1, keepdim=True)  # ties: nearest the mean
        return cand[(expected - 1e-6 * (cand - mean).abs()).argmax(dim=1)]

    @torch.no_grad()
    def fit_value_stats(self, qtype: str, values: torch.Tensor) -> None:
        """Set a type's log-space mean/std from training values."""
        i = self.type_index(qtype)
        v = torch.log(torch.as_tensor(values, dtype=torch.float32).clamp_min(_MIN_VALUE))
        self.log_mean[i] = v.mean()
        self.log_std[i] = v.std().clamp_min(0.05) if v.numel() > 1 else 1.0

    # --- boxes ---------------------------------------------------------------------------
    def encode_box(self, box: torch.Tensor, scene_center: torch.Tensor) -> torch.Tensor:
        """[M, 7] (cx, cy, cz, sx, sy, sz, yaw) metric -> [M, 8] normalised."""
        c = (box[:, :3] - scene_center) / self.cfg.box_center_scale
        s = (torch.log(box[:, 3:6].clamp_min(_MIN_VALUE)) - self.cfg.box_log_size_mean)
        s = s / self.cfg.box_log_size_std
        yaw = box[:, 6]
        return torch.cat([c, s, yaw.sin()[:, None], yaw.cos()[:, None]], dim=1)

    def decode_box(self, z: torch.Tensor, scene_center: torch.Tensor) -> torch.Tensor:
        """[M, 8] normalised -> [M, 7] (cx, cy, cz, sx, sy, sz, yaw) metric."""
        z = z.float()
        c = z[:, :3] * self.cfg.box_center_scale + scene_center
        s = torch.exp(z[:, 3:6] * self.cfg.box_log_size_std + self.cfg.box_log_size_mean)
        yaw = torch.atan2(z[:, 6], z[:, 7])
        return torch.cat([c, s, yaw[:, None]], dim=1)

    def predict_box(self, hidden: torch.Tensor) -> torch.Tensor:
        """hidden [M, D] -> normalised boxes [M, 8]."""
        return self.box(hidden.float())

    # --- losses --------------------------------------------------------------------------
    def value_loss(self, pred: torch.Tensor, logits: torch.Tensor, target: torch.Tensor
                   ) -> torch.Tensor:
        """L2 on normalised scalars + ``value_hist_weight`` * histogram cross-entropy."""
        loss = ((pred - target) ** 2).mean()
        if self.bins and self.cfg.value_hist_weight > 0:
            soft = self.histogram_target(target)
            ce = -(soft * logits.float().log_softmax(-1)).sum(-1).mean()
            loss = loss + self.cfg.value_hist_weight * ce
        return loss

    def histogram_target(self, target: torch.Tensor) -> torch.Tensor:
        """Soft labels [M, bins]: a Gaussian (sd 0.75 bin) around each target, integrated
        over the bins (targets outside the range land in the edge bins)."""
        r = self.cfg.value_bin_range
        t = target.float().clamp(-r + self.bin_width / 2, r - self.bin_width / 2)[:, None]
        cdf = torch.special.ndtr((self.bin_edges[None, :] - t) / (0.75 * self.bin_width))
        mass = cdf[:, 1:] - cdf[:, :-1]
        return mass / mass.sum(-1, keepdim=True).clamp_min(1e-12)

    def box_loss(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """L2 on normalised boxes + ``box_iou_weight`` * (1 - axis-aligned IoU)."""
        loss = ((pred - target) ** 2).mean()
        if self.cfg.box_iou_weight > 0:
            zero = torch.zeros(pred.shape[0], 3, device=pred.device)
            iou = aligned_iou(self.decode_box(pred, zero), self.decode_box(target, zero))
            loss = loss + self.cfg.box_iou_weight * (1.0 - iou).mean()
        return loss


def aligned_iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """IoU of boxes [M, 7] ignoring yaw (differentiable; the IoU-ish term)."""
    lo = torch.maximum(a[:, :3] - a[:, 3:6] / 2, b[:, :3] - b[:, 3:6] / 2)
    hi = torch.minimum(a[:, :3] + a[:, 3:6] / 2, b[:, :3] + b[:, 3:6] / 2)
    inter = (hi - lo).clamp_min(0).prod(dim=1)
    union = a[:, 3:6].prod(dim=1) + b[:, 3:6].prod(dim=1) - inter
    return inter / union.clamp_min(1e-9)


def render_value(qtype: str, value: float) -> str:
    """How a regressed value reads in the answer text (VSI-Bench units)."""
    if not math.isfinite(value):
        return 'nan'
    if qtype == 'object_count':
        return str(max(0, round(value)))
    if qtype == 'object_size_estimation':
        return str(round(value))  # centimetres
    if qtype == 'room_size_estimation':
        return f'{value:.1f}'  # square metres
    return f'{value:.2f}'  # metres


def render_box(box: list[float] | torch.Tensor) -> str:
    """A box [7] as text: centre, size (m) and yaw (deg)."""
    b = [float(v) for v in box]
    return (f'center ({b[0]:.2f}, {b[1]:.2f}, {b[2]:.2f}) m, size ({b[3]:.2f}, {b[4]:.2f}, '
            f'{b[5]:.2f}) m, yaw {math.degrees(b[6]):.0f} deg')


_NUM = r'[-+]?\d+(?:\.\d+)?'
_BOX_TEXT = re.compile(
    rf'center\s*\(\s*({_NUM})\s*,\s*({_NUM})\s*,\s*({_NUM})\s*\)\s*m?\s*,?\s*'
    rf'size\s*\(\s*({_NUM})\s*,\s*({_NUM})\s*,\s*({_NUM})\s*\)\s*m?\s*,?\s*yaw\s*({_NUM})',
    re.IGNORECASE)


def parse_value(text: str) -> float | None:
    """Inverse of ``render_value``: the first number in ``text``; None if there is none."""
    m = re.search(_NUM, text)
    return float(m.group(0)) if m else None


def parse_box(text: str) -> list[float] | None:
    """Inverse of ``render_box``: [cx, cy, cz, sx, sy, sz, yaw (rad)]; None if unparseable."""
    m = _BOX_TEXT.search(text)
    if not m:
        return None
    v = [float(g) for g in m.groups()]
    return v[:6] + [math.radians(v[6])]

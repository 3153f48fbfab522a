"""Object tokens: the DRM's encoding, classification and boxing of cloud proposals.

Each class-agnostic proposal (``geode_ros.scene.proposals``) becomes one token from
its box (centre relative to the scene centre, log size, yaw), colour statistics, a
mini-PointNet over its sampled member points and the mean of the keyframe patch
tokens whose 3D centres fall inside it. A small transformer lets objects see each
other (a mug on a table); two heads then give each token

- class logits over the model's vocabulary + 'background', and
- the box of the *whole* object it belongs to, as a change of the proposal's box
  (a lamp's shade proposal regresses the lamp down to the floor).

Supervision (synthetic scenes know every object): a proposal belongs to the ground-truth
object that contains most of its member points, or to the background. Proposals are
fixed point sets, not free queries, so this assignment is exact and needs no matching.
At inference, same-class predictions whose boxes overlap are merged (fragments of one
object, as non-maximum suppression does for a detector); what survives is the model's
list of detections, which grounding and the object-based answers select from.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from geode_ros.model.config import DRMConfig, ObjectConfig
from geode_ros.model.point_encoder import FourierPE
from geode_ros.scene import boxgeom
from geode_ros.scene.proposals import Proposals
from geode_ros.scene.types import Box3D

GEOMETRY_FEATURES = 17  # centre 3, log size 3, sin/cos yaw 2, colour mean 3, std 3, log n, z lo/hi
POINT_FEATURES = 9  # normalised offset 3, metric offset 3, colour 3
YAW_RANGE = math.pi / 4  # the box head turns a proposal by at most +-45 degrees
MIN_SIZE_M = 0.02
CONTAINMENT_TOL_M = 0.05  # member points this close outside a GT box still count as inside
MIN_MEMBER_SHARE = 0.5  # a proposal belongs to the object holding this share of its points


@dataclass
class Detection:
    """One merged, classified object: what grounding and object answers select from."""

    label: str
    score: float
    box: np.ndarray  # [7] cx, cy, cz, sx, sy, sz, yaw
    first_seen: float  # index of the first keyframe that shows it (inf when unknown)
    last_seen: float = -math.inf  # index of the last keyframe that shows it (-inf: unknown)

    def as_box3d(self) -> Box3D:
        return Box3D(self.label, self.box[:3].copy(), self.box[3:6].copy(), float(self.box[6]),
                     score=float(self.score))


def canonical_yaw(box: np.ndarray, ref_yaw: float) -> np.ndarray:
    """The same box with its yaw within 45 degrees of ``ref_yaw`` (a box turned by 90
    degrees with its x and y sizes swapped is the same box)."""
    b = np.array(box, dtype=np.float64)
    d = (b[6] - ref_yaw + math.pi / 4) % (math.pi / 2) - math.pi / 4
    quarter_turns = int(round((b[6] - ref_yaw - d) / (math.pi / 2)))
    if quarter_turns % 2:
        b[3], b[4] = b[4], b[3]
    b[6] = ref_yaw + d
    return b


def proposal_geometry(p: Proposals, scene_center: np.ndarray) -> np.ndarray:
    """[M, GEOMETRY_FEATURES] per-proposal geometry and colour features."""
    b = p.boxes
    zlo = b[:, 2] - b[:, 5] / 2 - p.floor_z
    zhi = b[:, 2] + b[:, 5] / 2 - p.floor_z
    return np.concatenate([
        b[:, :3] - scene_center, np.log(np.maximum(b[:, 3:6], MIN_SIZE_M)),
        np.sin(b[:, 6:7]), np.cos(b[:, 6:7]), p.color_mean - 0.5, p.color_std,
        np.log1p(p.num_points)[:, None] / 5.0, zlo[:, None], zhi[:, None]], 1).astype(np.float32)


def proposal_points(p: Proposals) -> np.ndarray:
    """[M, P, POINT_FEATURES] member points relative to their proposal's box."""
    c = p.boxes[:, None, :3]
    half = np.maximum(p.boxes[:, None, 3:6], MIN_SIZE_M) / 2
    rel = p.points - c
    return np.concatenate([rel / half, rel, p.point_colors - 0.5], -1).astype(np.float32)


def assign_targets(p: Proposals, objects: list[Box3D], classes: tuple[str, ...]
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Per proposal: class index (``len(classes)`` = background) and the canonical box of
    the GT object holding most of its sampled points ([M, 7], NaN for background)."""
    m = len(p)
    cls = np.full(m, len(classes), np.int64)
    box = np.full((m, 7), np.nan, np.float32)
    if m == 0 or not objects:
        return cls, box
    share = np.stack([[boxgeom.points_in_box(pts, o, CONTAINMENT_TOL_M).mean()
                       for o in objects] for pts in p.points])  # [M, O]
    best = share.argmax(1)
    for i in range(m):
        o = objects[best[i]]
        if share[i, best[i]] >= MIN_MEMBER_SHARE and o.label in classes:
            cls[i] = classes.index(o.label)
            box[i] = canonical_yaw(np.r_[o.center, o.size, o.yaw], float(p.boxes[i, 6]))
    return cls, box


class ObjectEncoder(nn.Module):
    """Proposals -> object tokens [B, M, W], class logits [B, M, C+1], box deltas [B, M, 7]."""

    def __init__(self, cfg: ObjectConfig, drm: DRMConfig, vision_dim: int) -> None:
        super().__init__()
        self.cfg = cfg
        w = drm.width
        self.num_classes = len(cfg.classes)
        self.geometry = nn.Sequential(nn.Linear(GEOMETRY_FEATURES, w), nn.GELU(), nn.Linear(w, w))
        self.pe = FourierPE(w, drm.pe_frequencies, drm.pe_max_wavelength)
        self.point_mlp = nn.Sequential(nn.Linear(POINT_FEATURES, 64), nn.GELU(),
                                       nn.Linear(64, w))
        self.patch_in = nn.Sequential(nn.LayerNorm(vision_dim), nn.Linear(vision_dim, w))
        layer = nn.TransformerEncoderLayer(w, drm.heads, 2 * w, drm.dropout, batch_first=True,
                                           norm_first=True, activation='gelu')
        self.blocks = nn.TransformerEncoder(layer, cfg.layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(w)
        self.cls_head = nn.Linear(w, self.num_classes + 1)
        self.box_head = nn.Sequential(nn.Linear(w, w), nn.GELU(), nn.Linear(w, 7))
        nn.init.zeros_(self.box_head[2].weight)
        nn.init.zeros_(self.box_head[2].bias)

    def forward(self, geometry: torch.Tensor, points: torch.Tensor, boxes: torch.Tensor,
                mask: torch.Tensor, scene_center: torch.Tensor, patch_feats: torch.Tensor,
                patch_xyz: torch.Tensor, patch_mask: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Args: geometry [B,M,17], points [B,M,P,9], boxes [B,M,7] (proposal boxes),
        mask [B,M], scene_center [B,3], patch_* as the DRM's. Returns tokens, logits, deltas."""
        dt = self.cls_head.weight.dtype
        h = self.geometry(geometry.to(dt)) + self.pe((boxes[..., :3] - scene_center[:, None])
                                                     .to(dt))
        h = h + self.point_mlp(points.to(dt)).max(dim=2).values
        inside = _patches_inside(boxes, patch_xyz, patch_mask)  # [B, M, P]
        n_in = inside.sum(-1, keepdim=True).clamp_min(1).to(dt)
        pooled = torch.einsum('bmp,bpd->bmd', inside.to(dt), self.patch_in(patch_feats.to(dt)))
        h = h + pooled / n_in
        mask = mask.clone()
        mask[:, 0] = True  # a scene without proposals still yields one (padding) token
        h = self.norm(self.blocks(h, src_key_padding_mask=~mask))
        return h, self.cls_head(h), self.box_head(h)


def _patches_inside(boxes: torch.Tensor, xyz: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """[B, M, P] True where patch centre p lies inside box m (grown by one 10 cm margin)."""
    rel = xyz[:, None] - boxes[:, :, None, :3]  # [B, M, P, 3]
    c, s = torch.cos(boxes[..., 6])[..., None], torch.sin(boxes[..., 6])[..., None]
    u = c * rel[..., 0] + s * rel[..., 1]
    v = -s * rel[..., 0] + c * rel[..., 1]
    half = boxes[..., None, 3:6] / 2 + 0.1
    ok = (u.abs() <= half[..., 0]) & (v.abs() <= half[..., 1])
    return ok & (rel[..., 2].abs() <= half[..., 2]) & valid[:, None]


def decode_boxes(proposal_boxes: torch.Tensor, deltas: torch.Tensor) -> torch.Tensor:
    """Whole-object boxes [..., 7] from the proposals' boxes and the head's deltas."""
    size = proposal_boxes[..., 3:6].clamp_min(MIN_SIZE_M)
    scale = size.max(-1, keepdim=True).values.clamp_min(0.2)
    centre = proposal_boxes[..., :3] + deltas[..., :3] * scale
    new_size = size * torch.exp(deltas[..., 3:6].clamp(-3, 3))
    yaw = proposal_boxes[..., 6:7] + torch.tanh(deltas[..., 6:7]) * YAW_RANGE
    return torch.cat([centre, new_size, yaw], -1)


def object_loss(cfg: ObjectConfig, logits: torch.Tensor, deltas: torch.Tensor,
                proposal_boxes: torch.Tensor, mask: torch.Tensor, target_cls: torch.Tensor,
                target_box: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Class cross-entropy over valid proposals; L1 on the encoded box of object ones."""
    sel = mask & (target_cls >= 0)
    if not sel.any():
        zero = logits.sum() * 0
        return zero, zero
    ce = nn.functional.cross_entropy(logits[sel].float(), target_cls[sel])
    pos = sel & (target_cls < logits.shape[-1] - 1)
    if not pos.any():
        return ce, logits.sum() * 0
    pb, tb, d = proposal_boxes[pos].float(), target_box[pos].float(), deltas[pos].float()
    size = pb[:, 3:6].clamp_min(MIN_SIZE_M)
    scale = size.max(-1, keepdim=True).values.clamp_min(0.2)
    t_centre = (tb[:, :3] - pb[:, :3]) / scale
    t_size = torch.log(tb[:, 3:6].clamp_min(MIN_SIZE_M) / size)
    pred_yaw = torch.tanh(d[:, 6]) * YAW_RANGE
    box = (nn.functional.smooth_l1_loss(d[:, :3], t_centre, beta=0.1)
           + nn.functional.smooth_l1_loss(d[:, 3:6], t_size, beta=0.1)
           + nn.functional.smooth_l1_loss(pred_yaw, tb[:, 6] - pb[:, 6], beta=0.1))
    return ce, box


def tempered(probs: np.ndarray, temperature: float) -> np.ndarray:
    """Softmax probabilities [..., C] re-tempered: softmax(logits / T) from softmax(logits)."""
    logp = np.log(np.clip(probs, 1e-30, None)) / max(float(temperature), 1e-6)
    logp -= logp.max(-1, keepdims=True)
    p = np.exp(logp)
    return p / p.sum(-1, keepdims=True)


def calibrated(p: np.ndarray, calibration: tuple[float, ...]) -> np.ndarray:
    """sigmoid(a logit(p) + b): a detection's probability of being right (Platt scaling)."""
    a, b = (float(v) for v in calibration)
    if a == 1.0 and b == 0.0:
        return p
    q = np.clip(p, 1e-9, 1 - 1e-9)
    return 1.0 / (1.0 + np.exp(-(a * np.log(q / (1 - q)) + b)))


def merge_detections(classes: tuple[str, ...], probs: np.ndarray, boxes: np.ndarray,
                     first_seen: np.ndarray, cfg: ObjectConfig,
                     last_seen: np.ndarray | None = None) -> list[Detection]:
    """Class-wise merging of proposal predictions into detections.

    Proposals are taken by descending class probability; one whose predicted box overlaps
    (IoU > ``merge_iou``) or nearly touches (gap < ``merge_gap_m``) an accepted detection of
    the same class joins it (a fragment of that object), else it starts a new detection
    when its probability reaches ``score_threshold``. A detection's box and score are
    those of its most confident member; it is first (last) seen when any member is.
    ``probs`` are softmax probabilities; the calibration ``temperature`` is applied here
    (softmax(l / T) is softmax(l) ** (1 / T), renormalised), and a detection's score is its
    class probability through ``score_calibration`` (monotone: the order is unchanged).
    """
    if last_seen is None:
        last_seen = np.full(len(probs), -np.inf)
    bg = len(classes)
    if len(probs) and cfg.temperature != 1.0:
        probs = tempered(probs, cfg.temperature)
    label = probs[:, :bg].argmax(1) if len(probs) else np.zeros(0, np.int64)
    raw = probs[np.arange(len(probs)), label] if len(probs) else np.zeros(0)
    score = calibrated(raw, cfg.score_calibration)
    out: list[Detection] = []
    for i in np.argsort(-raw, kind='stable'):
        if score[i] < cfg.score_threshold or probs[i, bg] > raw[i]:
            continue
        name = classes[label[i]]
        b = Box3D(name, boxes[i, :3], boxes[i, 3:6], float(boxes[i, 6]))
        reach = np.linalg.norm(boxes[i, 3:6]) / 2 + cfg.merge_gap_m
        host = next((d for d in out if d.label == name
                     # boxes whose circumscribed spheres are apart can neither overlap nor touch
                     and np.linalg.norm(d.box[:3] - boxes[i, :3])
                     <= reach + np.linalg.norm(d.box[3:6]) / 2
                     and (boxgeom.box_iou_3d(d.as_box3d(), b) > cfg.merge_iou
                          or boxgeom.box_distance(d.as_box3d(), b)[0] < cfg.merge_gap_m)),
                    None)
        if host is None:
            out.append(Detection(name, float(score[i]), boxes[i].astype(np.float64),
                                 float(first_seen[i]), float(last_seen[i])))
        else:
            host.first_seen = min(host.first_seen, float(first_seen[i]))
            host.last_seen = max(host.last_seen, float(last_seen[i]))
    return out

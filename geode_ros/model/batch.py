"""Training / inference samples and their collation into one padded ``GeodeBatch``.

A ``GeodeSample`` is what the trainer (or ``GeodeModel.answer``) supplies per question;
``prepare_batch(model, samples, stage, train)`` encodes keyframes that carry no cached
features, renders prompts with K ``<spatio>`` slots (none when ``use_drm`` is off),
appends targets (stage 1: the rationale; stage 2: ``<reg>`` / ``<box>`` or, in digits
mode, the spelled value / box; the choice text), samples the cloud to a
fixed size and pads everything (right-padded for training, left-padded for decoding).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np
import torch

from geode_ros.errors import GeodeError
from geode_ros.model.config import BOX_TYPES, CHOICE_TYPES, NUMERIC_TYPES, ObjectConfig
from geode_ros.model.prompt import PROGRAM, answer_target, build_prompt, program_system
from geode_ros.model.protocol import GeodeLike
from geode_ros.query.vsi_templates import split_options
from geode_ros.scene.proposals import Proposals
from geode_ros.scene.types import Box3D, RGBDFrame


@dataclass
class KeyframeFeatures:
    """Cached vision encoding of one keyframe (what ``encode_keyframe`` returns)."""

    tokens: torch.Tensor  # [T, D_lm] LLM-space image tokens
    xyz: torch.Tensor  # [T, 3] patch centres in the fixed frame
    valid: torch.Tensor  # [T] bool: the patch had depth
    grid: tuple[int, int]
    grid_thw: torch.Tensor | None = None  # Qwen M-RoPE grid


@dataclass
class GeodeSample:
    """One question about one scene (the trainer's unit)."""

    question: str
    points: np.ndarray  # [N, 3] float, fixed frame (m)
    colors: np.ndarray  # [N, 3] uint8
    keyframes: list[RGBDFrame | KeyframeFeatures] = field(default_factory=list)
    qtype: str | None = None  # classified from the question when None
    answer: str | None = None  # multiple-choice answer text
    value: float | None = None  # numeric target (metric)
    box: Box3D | None = None  # grounding target
    rationale: str | None = None  # stage-1 target
    proposals: Proposals | None = None  # object proposals of the cloud (computed when None)
    object_targets: tuple[np.ndarray, np.ndarray] | None = None  # assign_targets(...) output
    program: Any = None  # the question's geode_ros.query Program (understood when None)
    keyframe_stamps: list[float] = field(default_factory=list)  # of every scene keyframe
    sensor_pose: np.ndarray | None = None  # [4, 4] the robot's newest sensor pose
    sensor_forward_axis: int = 2  # the axis that sensor looks along


@dataclass
class GeodeBatch:
    """Padded tensors for ``GeodeModel.forward`` / ``generate``; ``.to(device)`` moves them."""

    input_ids: torch.Tensor  # [B, T]
    attention_mask: torch.Tensor  # [B, T]
    position_ids: torch.Tensor  # [P, B, T]
    points: torch.Tensor  # [B, N, 6] xyz + rgb 0..1
    point_mask: torch.Tensor  # [B, N]
    patch_feats: torch.Tensor  # [B, P, D_lm]
    patch_xyz: torch.Tensor  # [B, P, 3]
    patch_mask: torch.Tensor  # [B, P]
    scene_center: torch.Tensor  # [B, 3]
    value_type: torch.Tensor  # [B] DRH type index (0 where unused)
    value_target: torch.Tensor  # [B] metric value, NaN where none
    box_target: torch.Tensor  # [B, 7] metric box, NaN where none
    question_ids: torch.Tensor  # [B, L] the question alone (the DRM reads it), right-padded
    question_mask: torch.Tensor  # [B, L]
    qtypes: list[str]
    options: list[list[tuple[str, str]]]  # per row: (letter, text) of a choice question's options
    labels: torch.Tensor | None = None  # [B, T], -100 = no loss
    image_embeds: torch.Tensor | None = None  # [N_img_tokens, D_lm] in prompt order
    objects: ObjectInputs | None = None  # proposals as tensors (when objects are enabled)
    questions: list[str] = field(default_factory=list)  # each row's question text
    samples: list[GeodeSample] = field(default_factory=list)  # what the rows were made from

    def to(self, device: torch.device | str) -> GeodeBatch:
        kw = {f.name: getattr(self, f.name) for f in fields(self)}
        return GeodeBatch(**{k: v.to(device) if isinstance(v, (torch.Tensor, ObjectInputs))
                             else v for k, v in kw.items()})


@dataclass
class ObjectInputs:
    """The proposals of every row, padded to M (see ``model/objects.py``)."""

    geometry: torch.Tensor  # [B, M, 17]
    points: torch.Tensor  # [B, M, P, 9]
    boxes: torch.Tensor  # [B, M, 7] proposal boxes
    mask: torch.Tensor  # [B, M]
    first_seen: torch.Tensor  # [B, M] first keyframe index (inf: unknown)
    last_seen: torch.Tensor  # [B, M] last keyframe index (-inf: unknown)
    room_area: torch.Tensor  # [B] footprint rectangle area (m^2), NaN without a cloud
    target_cls: torch.Tensor | None = None  # [B, M] class index, -1 = no target
    target_box: torch.Tensor | None = None  # [B, M, 7]

    def to(self, device) -> ObjectInputs:
        kw = {f.name: getattr(self, f.name) for f in fields(self)}
        return ObjectInputs(**{k: v.to(device) if isinstance(v, torch.Tensor) else v
                               for k, v in kw.items()})


def object_inputs(samples: list[GeodeSample], centres: torch.Tensor,
                  cfg: ObjectConfig) -> ObjectInputs:
    """Proposals (computed here when a sample has none) as padded tensors."""
    from geode_ros.model.objects import proposal_geometry, proposal_points
    from geode_ros.scene.proposals import propose_objects

    props = [s.proposals if s.proposals is not None else
             propose_objects(s.points, s.colors, cfg.proposals) for s in samples]
    b, k = len(samples), cfg.proposals.max_points_per_proposal
    m = max(1, max(len(p) for p in props))
    geo = torch.zeros(b, m, 17)
    pts = torch.zeros(b, m, k, 9)
    boxes = torch.zeros(b, m, 7)
    boxes[..., 3:6] = 1.0
    mask = torch.zeros(b, m, dtype=torch.bool)
    seen = torch.full((b, m), float('inf'))
    last = torch.full((b, m), float('-inf'))
    area = torch.full((b,), float('nan'))
    have_targets = any(s.object_targets is not None for s in samples)
    t_cls = torch.full((b, m), -1, dtype=torch.long)
    t_box = torch.full((b, m, 7), float('nan'))
    for i, (s, p) in enumerate(zip(samples, props)):
        n = len(p)
        if len(s.points):
            area[i] = p.room_area
        if n == 0:
            continue
        geo[i, :n] = torch.from_numpy(proposal_geometry(p, centres[i].numpy()))
        pts[i, :n] = torch.from_numpy(proposal_points(p))
        boxes[i, :n] = torch.from_numpy(p.boxes)
        mask[i, :n] = True
        if p.first_seen is not None:
            seen[i, :n] = torch.from_numpy(np.asarray(p.first_seen, np.float32))
        if p.last_seen is not None:
            last[i, :n] = torch.from_numpy(np.asarray(p.last_seen, np.float32))
        if s.object_targets is not None:
            t_cls[i, :n] = torch.from_numpy(s.object_targets[0])
            t_box[i, :n] = torch.from_numpy(s.object_targets[1])
    return ObjectInputs(geo, pts, boxes, mask, seen, last, area,
                        t_cls if have_targets else None, t_box if have_targets else None)


def evenly_spaced(n_have: int, n_want: int) -> list[int]:
    """Indices of ``n_want`` evenly spaced items out of ``n_have`` (always the last one)."""
    if n_want <= 0 or n_have == 0:
        return []
    if n_have <= n_want:
        return list(range(n_have))
    return sorted({int(round(x)) for x in np.linspace(0, n_have - 1, n_want)})


def _sample_points(points: np.ndarray, colors: np.ndarray, n: int, rng: np.random.Generator
                   ) -> tuple[np.ndarray, np.ndarray]:
    pts = np.asarray(points, dtype=np.float32).reshape(-1, 3)
    col = np.asarray(colors).reshape(-1, 3)
    if len(col) != len(pts):
        raise GeodeError(f'points ({len(pts)}) and colors ({len(col)}) differ in length')
    ok = np.isfinite(pts).all(axis=1)
    pts, col = pts[ok], col[ok]
    if len(pts) > n:
        idx = rng.choice(len(pts), n, replace=False)
        pts, col = pts[idx], col[idx]
    rgb = col.astype(np.float32) / (255.0 if col.dtype == np.uint8 else 1.0)
    out = np.zeros((n, 6), dtype=np.float32)
    out[:len(pts), :3], out[:len(pts), 3:] = pts, rgb
    mask = np.zeros(n, dtype=bool)
    mask[:len(pts)] = True
    return out, mask


def prepare_batch(model: GeodeLike, samples: list[GeodeSample], stage: int = 2,
                  train: bool = True, seed: int | None = None) -> GeodeBatch:
    """Collate ``samples`` for ``model`` (see the module docstring)."""
    cfg, tok, ad = model.config, model.tokenizer, model.adapter
    if not samples:
        raise GeodeError('prepare_batch needs at least one sample')
    rng = np.random.default_rng(seed)
    k = model.num_spatio
    eot = model.end_of_turn
    rows, labels, pts, pmask, feats, qtypes, images, grids = [], [], [], [], [], [], [], []
    vtype, vtarget, btarget, questions, options = [], [], [], [], []
    for s in samples:
        if s.qtype is None and s.program is None:
            s.program = model.understand(s.question)
        qtype = s.qtype or s.program.qtype
        qtypes.append(qtype)
        options.append(split_options(s.question) if qtype in CHOICE_TYPES else [])
        kfs = [kf if isinstance(kf, KeyframeFeatures) else model.encode_keyframe(kf)
               for kf in s.keyframes]
        drm_kfs = [kfs[i] for i in evenly_spaced(len(kfs), cfg.max_keyframes)]
        n_img = 0 if stage == 1 or qtype == PROGRAM else cfg.prompt_images
        shown = [kfs[i] for i in evenly_spaced(len(kfs), n_img)]
        if qtype == PROGRAM:  # text only: no images, no <spatio> slots
            pc = cfg.programs
            system = program_system(pc.instruction, cfg.objects.classes, pc.grammar_in_prompt)
            prompt = build_prompt(tok, ad.template_image, ad.expand_image, s.question, [], 0,
                                  system)
        else:
            prompt = build_prompt(tok, ad.template_image, ad.expand_image, s.question,
                                  [kf.tokens.shape[0] for kf in shown], k, cfg.system_prompt)
        ids = tok(prompt, add_special_tokens=False)['input_ids']
        questions.append(tok(s.question.strip(), add_special_tokens=False)['input_ids'] or
                         [tok.pad_token_id])
        lab = [-100] * len(ids)
        if train:
            box = [*s.box.center, *s.box.size, s.box.yaw] if s.box is not None else None
            target = s.rationale if stage == 1 and qtype != PROGRAM else answer_target(
                qtype, s.answer, s.value, box, cfg.numeric_output, s.question, cfg.choice_answer)
            if not target:
                raise GeodeError(f'stage-{stage} sample has no target: {s.question!r}')
            tgt = tok(target + eot, add_special_tokens=False)['input_ids']
            ids, lab = ids + tgt, lab + tgt
        rows.append(ids)
        labels.append(lab)
        images += [kf.tokens for kf in shown]
        grids += [kf.grid_thw for kf in shown if kf.grid_thw is not None]
        p, m = _sample_points(s.points, s.colors, cfg.drm.num_points, rng)
        pts.append(p)
        pmask.append(m)
        feats.append(drm_kfs)
        vtype.append(model.drh.type_index(qtype) if qtype in NUMERIC_TYPES else 0)
        vtarget.append(float(s.value) if s.value is not None and qtype in NUMERIC_TYPES
                       else float('nan'))
        box = s.box if qtype in BOX_TYPES else None
        btarget.append([*box.center, *box.size, box.yaw] if box is not None else [np.nan] * 7)

    b, t = len(rows), max(len(r) for r in rows)
    input_ids = torch.full((b, t), tok.pad_token_id, dtype=torch.long)
    attn = torch.zeros((b, t), dtype=torch.long)
    lab_t = torch.full((b, t), -100, dtype=torch.long)
    for i, (r, lab) in enumerate(zip(rows, labels)):
        sl = slice(0, len(r)) if train else slice(t - len(r), t)  # right pad / left pad
        input_ids[i, sl], attn[i, sl], lab_t[i, sl] = torch.tensor(r), 1, torch.tensor(lab)
    grid_thw = torch.stack(grids) if grids else None
    lq = max(len(q) for q in questions)
    question_ids = torch.full((b, lq), tok.pad_token_id, dtype=torch.long)
    question_mask = torch.zeros((b, lq), dtype=torch.bool)
    for i, q in enumerate(questions):
        question_ids[i, :len(q)], question_mask[i, :len(q)] = torch.tensor(q), True
    points = torch.from_numpy(np.stack(pts))
    point_mask = torch.from_numpy(np.stack(pmask))
    patch_feats, patch_xyz, patch_mask = _collate_patches(feats, ad.hidden_size,
                                                          cfg.drm.max_patches)
    centre = _scene_centres(points, point_mask, patch_xyz, patch_mask)
    objects = object_inputs(samples, centre, cfg.objects) if cfg.objects.enabled else None
    return GeodeBatch(
        input_ids=input_ids, attention_mask=attn,
        position_ids=ad.position_ids(input_ids, attn, grid_thw),
        points=points, point_mask=point_mask, patch_feats=patch_feats, patch_xyz=patch_xyz,
        patch_mask=patch_mask, scene_center=centre,
        value_type=torch.tensor(vtype, dtype=torch.long),
        value_target=torch.tensor(vtarget, dtype=torch.float32),
        box_target=torch.tensor(np.asarray(btarget, dtype=np.float32)),
        question_ids=question_ids, question_mask=question_mask, qtypes=qtypes, options=options,
        labels=lab_t if train else None,
        image_embeds=torch.cat([im.float().cpu() for im in images]) if images else None,
        objects=objects, questions=[s.question for s in samples], samples=list(samples),
    )


def _collate_patches(per_sample: list[list[KeyframeFeatures]], dim: int, cap: int
                     ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    toks, xyzs = [], []
    for kfs in per_sample:
        if kfs:
            tk = torch.cat([kf.tokens.float().cpu() for kf in kfs])
            xy = torch.cat([kf.xyz.float().cpu() for kf in kfs])
            va = torch.cat([kf.valid.cpu() for kf in kfs])
            keep = torch.nonzero(va).squeeze(1)
            if len(keep) > cap:  # evenly thin out to the cap
                keep = keep[torch.linspace(0, len(keep) - 1, cap).long()]
            tk, xy = tk[keep], xy[keep]
        else:
            tk, xy = torch.zeros(0, dim), torch.zeros(0, 3)
        toks.append(tk)
        xyzs.append(xy)
    p = max(1, max(len(x) for x in toks))
    b = len(toks)
    feats, xyz = torch.zeros(b, p, dim), torch.zeros(b, p, 3)
    mask = torch.zeros(b, p, dtype=torch.bool)
    for i, (tk, xy) in enumerate(zip(toks, xyzs)):
        feats[i, :len(tk)], xyz[i, :len(tk)], mask[i, :len(tk)] = tk, xy, True
    return feats, xyz, mask


def _scene_centres(points: torch.Tensor, pmask: torch.Tensor, pxyz: torch.Tensor,
                   patch_mask: torch.Tensor) -> torch.Tensor:
    """Mean of valid points (else of valid patch centres, else the origin): [B, 3]."""
    n = pmask.sum(1, keepdim=True).float()
    c_pts = (points[..., :3] * pmask[..., None]).sum(1) / n.clamp_min(1)
    m = patch_mask.sum(1, keepdim=True).float()
    c_patch = (pxyz * patch_mask[..., None]).sum(1) / m.clamp_min(1)
    return torch.where(n > 0, c_pts, c_patch)

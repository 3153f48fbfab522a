"""GeodeModel: a Hugging Face VLM + DRM + DRH, trainable in two stages, and a SceneReasoner.

Trainer API (geode_ros/train uses exactly this):

    model = GeodeModel.from_vlm('path/or/name', GeodeConfig(...))   # or .from_pretrained(dir)
    model.set_stage(1)            # only the DRM trains (rationale reconstruction)
    batch = prepare_batch(model, samples, stage=1, train=True).to(model.device)
    out = model(batch)            # GeodeOutput: loss, ce_loss, value_loss, box_loss, ...
    out.loss.backward()
    model.set_stage(2)            # DRM frozen; LLM (full or LoRA) + DRH + new token rows train
    params = model.trainable_parameters()
    save_pretrained(model, dir)   # geode_ros.model.checkpoint (merges LoRA first)

``samples`` are ``GeodeSample``s (question, cloud, keyframes as RGBDFrames or cached
``KeyframeFeatures``, and the targets: answer / value / box / rationale). Inference:
``model.generate(batch)`` (greedy, KV cache, <reg>/<box> rendered by the DRH; listed
multiple-choice options scored by likelihood) or, for a scene memory,
``encode_keyframe(frame)`` + ``answer(question, snapshot)``.

Ablation switches (``GeodeConfig``): ``use_drm=False`` (no <spatio> slots, the DRM is
kept but never run, no stage 1) and ``numeric_output='digits'`` (numbers and boxes
spelled as text and parsed back; the DRH is kept but unused).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from geode_ros.config import check_choices
from geode_ros.errors import GeodeError
from geode_ros.model.adapters import make_adapter
from geode_ros.model.answering import SceneAnswering
from geode_ros.model.batch import GeodeBatch, KeyframeFeatures
from geode_ros.model.checkpoint import DTYPES, load_weights, read_checkpoint
from geode_ros.model.config import (
    DIGITS_MIN_NEW_TOKENS,
    GeodeConfig,
)
from geode_ros.model.decode import Generation, greedy_generate
from geode_ros.model.drh import DirectRegressionHead
from geode_ros.model.drm import DecoupledRationaleModule, patch_centres_3d
from geode_ros.model.objects import Detection
from geode_ros.model.prompt import BOX, REG, SPATIO, add_geode_tokens, end_of_turn_token
from geode_ros.model.quantize import quantize_llm
from geode_ros.scene.types import RGBDFrame


@dataclass
class SceneEncoding:
    """What the DRM makes of a batch's scene (see ``GeodeModel.encode_scene``)."""

    spatio: torch.Tensor | None = None  # [B, K, D_lm]
    object_tokens: torch.Tensor | None = None  # [B, M, W]
    object_logits: torch.Tensor | None = None  # [B, M, C+1]
    object_deltas: torch.Tensor | None = None  # [B, M, 7]


@dataclass
class GeodeOutput:
    """What ``GeodeModel.forward`` returns."""

    loss: torch.Tensor
    ce_loss: torch.Tensor
    value_loss: torch.Tensor
    box_loss: torch.Tensor
    value_pred: torch.Tensor  # [M] normalised (the L2-regressed scalar), at <reg> with a target
    box_pred: torch.Tensor  # [M, 8] normalised, at <box> tokens with a target
    logits: torch.Tensor | None = None  # [B, T, V] when return_logits
    extras: dict = field(default_factory=dict)


def load_vlm_parts(path: str, dtype: torch.dtype):
    """VLM, tokenizer and image processor from a name or directory (local files only)."""
    from transformers import AutoImageProcessor, AutoModelForImageTextToText, AutoTokenizer

    try:
        vlm = AutoModelForImageTextToText.from_pretrained(path, dtype=dtype)
        tok = AutoTokenizer.from_pretrained(path)
        ip = AutoImageProcessor.from_pretrained(path)
    except (OSError, ValueError) as exc:
        raise GeodeError(f'cannot load the VLM {path!r}: {exc}') from exc
    return vlm, tok, ip


class GeodeModel(SceneAnswering, nn.Module):
    """DRM + VLM + DRH (see the module docstring for the API)."""

    def __init__(self, config: GeodeConfig, vlm: nn.Module, tokenizer, image_processor) -> None:
        super().__init__()
        self.config = config
        self.vlm = vlm
        self.tokenizer = tokenizer
        self.image_processor = image_processor
        self.token_ids = add_geode_tokens(tokenizer, vlm)
        self.adapter = make_adapter(vlm, tokenizer, image_processor)
        self.end_of_turn = end_of_turn_token(tokenizer)
        self.stop_ids = {tokenizer.convert_tokens_to_ids(self.end_of_turn)}
        if tokenizer.eos_token_id is not None:
            self.stop_ids.add(int(tokenizer.eos_token_id))
        d = self.adapter.hidden_size
        emb_std = float(self.adapter.embed_tokens.weight.detach().float().std())
        check_choices(config)  # numeric_output, choice_answer, ... (config.py)
        # built even when use_drm is off, so every checkpoint has one layout
        self.drm = DecoupledRationaleModule(config.drm, d, d, emb_std, config.objects)
        self.drh = DirectRegressionHead(config.drh, d)
        self.lora_active = False
        self._row_hooks: list = []
        from geode_ros.query.config import QueryConfig

        # how programs run (a runtime setting: the node maps its query.* parameters here)
        self.query_config = QueryConfig()

    @classmethod
    def from_vlm(cls, path_or_name: str, config: GeodeConfig | None = None) -> GeodeModel:
        """A fresh GEODE model (new DRM/DRH) around a pretrained VLM."""
        config = config or GeodeConfig()
        config.vlm = str(path_or_name)
        dtype = DTYPES[config.dtype]
        vlm, tok, ip = load_vlm_parts(str(path_or_name), dtype)
        model = cls(config, vlm, tok, ip)
        model.drm.to(dtype)
        model.drh.float()
        return model.to(config.device).eval()

    @classmethod
    def from_pretrained(cls, path, device: str | None = None, dtype: str | None = None,
                        quantization: str | None = None) -> GeodeModel:
        """A checkpoint directory (``save_pretrained``), verified, in eval mode; the LLM's
        linears quantised when asked (or when the checkpoint's config says so)."""
        cfg, vlm, tok, ip = read_checkpoint(path, device, dtype)
        model = cls(cfg, vlm, tok, ip)
        load_weights(model, path)
        model.to(device=cfg.device)
        model.vlm.to(DTYPES[cfg.dtype])
        model.drm.to(DTYPES[cfg.dtype])
        model.eval()
        mode = quantization if quantization is not None else cfg.quantization.mode
        if mode:
            quantize_llm(model, mode, cfg.quantization.backend, cfg.quantization.group_size)
        return model

    @property
    def device(self) -> torch.device:
        return self.adapter.embed_tokens.weight.device

    @property
    def num_spatio(self) -> int:
        """<spatio> slots per prompt: K, or 0 when the DRM is switched off."""
        return self.config.drm.num_rationale_queries if self.config.use_drm else 0

    # --- embeddings and the teacher-forced forward --------------------------------------
    def encode_scene(self, batch: GeodeBatch) -> SceneEncoding:
        """The DRM's object tokens (with class logits and box deltas) and its K <spatio>
        embeddings; fields are None where the DRM or its object tokens are switched off."""
        if not self.config.use_drm:
            return SceneEncoding()
        dt = next(self.drm.parameters()).dtype
        obj = batch.objects
        tokens = logits = deltas = None
        if self.drm.objects is not None and obj is not None:
            tokens, logits, deltas = self.drm.objects(
                obj.geometry, obj.points, obj.boxes, obj.mask, batch.scene_center,
                batch.patch_feats, batch.patch_xyz, batch.patch_mask)
        # The question as the LLM's own (input) token embeddings; no gradient into the LLM.
        question = self.adapter.embed_tokens(batch.question_ids).detach().to(dt)
        spatio = self.drm(batch.points.to(dt), batch.point_mask, batch.patch_feats.to(dt),
                          batch.patch_xyz.to(dt), batch.patch_mask, batch.scene_center.to(dt),
                          question, batch.question_mask, tokens,
                          obj.mask if tokens is not None else None)
        return SceneEncoding(spatio, tokens, logits, deltas)

    def spatio_embeddings(self, batch: GeodeBatch) -> torch.Tensor | None:
        """DRM output [B, K, D_lm]; None when the DRM is switched off (``use_drm``)."""
        return self.encode_scene(batch).spatio

    def embed_inputs(self, batch: GeodeBatch, spatio: torch.Tensor | None = None
                     ) -> torch.Tensor:
        """Token embeddings with image tokens and the K <spatio> slots filled: [B, T, D]."""
        ids = batch.input_ids
        emb = self.adapter.embed_tokens(ids)  # [B, T, D]
        if batch.image_embeds is not None:
            mask = (ids == self.adapter.image_token_id).unsqueeze(-1)
            emb = emb.masked_scatter(mask, batch.image_embeds.to(emb.dtype))
        smask = ids == self.token_ids[SPATIO]  # [B, T]
        k = self.num_spatio
        per_row = smask.sum(1)  # k, or 0 in a text-only (program-writing) prompt
        if not bool(((per_row == k) | (per_row == 0)).all()):
            raise GeodeError(f'every prompt needs exactly {k} {SPATIO} tokens '
                             f'(use_drm={self.config.use_drm})')
        if k == 0 or not bool(smask.any()):
            return emb
        if spatio is None:
            spatio = self.spatio_embeddings(batch)  # [B, K, D]
        return emb.masked_scatter(smask.unsqueeze(-1), spatio[per_row > 0].to(emb.dtype))

    def forward(self, batch: GeodeBatch, return_logits: bool = False,
                spatio: torch.Tensor | None = None) -> GeodeOutput:
        """Teacher-forced losses: CE on labelled tokens + DRH L2 at <reg>/<box> tokens.

        ``spatio`` [B, K, D] replaces the DRM output (language-model pretraining uses zeros).
        """
        if batch.labels is None:
            raise GeodeError('forward needs a batch prepared with train=True')
        enc = SceneEncoding(spatio) if spatio is not None else self.encode_scene(batch)
        emb = self.embed_inputs(batch, enc.spatio)
        out = self.adapter.language_model(
            inputs_embeds=emb, attention_mask=batch.attention_mask,
            position_ids=self.adapter.lm_positions(batch.position_ids), use_cache=False)
        hidden = out.last_hidden_state  # [B, T, D]
        lab = batch.labels[:, 1:]  # next-token targets
        sel = lab != -100
        logits_sel = self.adapter.lm_head(hidden[:, :-1][sel])  # [M, V]
        ce = nn.functional.cross_entropy(logits_sel.float(), lab[sel]) if sel.any() \
            else hidden.sum() * 0
        zero = hidden.sum() * 0
        v_loss, b_loss = zero, zero
        ids = batch.input_ids
        rmask = (ids == self.token_ids[REG]) & batch.labels.ne(-100)
        rb = rmask.nonzero()[:, 0]
        keep = torch.isfinite(batch.value_target[rb])
        v_pred, v_logits = self.drh.value_outputs(hidden[rmask][keep],
                                                  batch.value_type[rb][keep])
        if keep.any():
            tgt = self.drh.encode_value(batch.value_target[rb][keep], batch.value_type[rb][keep])
            v_loss = self.drh.value_loss(v_pred, v_logits, tgt)
        bmask = (ids == self.token_ids[BOX]) & batch.labels.ne(-100)
        bb = bmask.nonzero()[:, 0]
        keep_b = torch.isfinite(batch.box_target[bb]).all(1)
        b_pred = self.drh.predict_box(hidden[bmask][keep_b])
        if keep_b.any():
            tgt = self.drh.encode_box(batch.box_target[bb][keep_b], batch.scene_center[bb][keep_b])
            b_loss = self.drh.box_loss(b_pred, tgt)
        c = self.config.drh
        loss = ce + c.reg_loss_weight * v_loss + c.box_loss_weight * b_loss
        extras = {}
        if enc.object_logits is not None and batch.objects.target_cls is not None:
            oc = self.config.objects
            o_ce, o_box = self.object_losses(batch, enc)
            loss = loss + oc.loss_weight * (oc.class_loss_weight * o_ce
                                            + oc.box_loss_weight * o_box)
            extras = {'object_ce': o_ce.detach(), 'object_box': o_box.detach()}
        logits = self.adapter.lm_head(hidden) if return_logits else None
        return GeodeOutput(loss, ce, v_loss, b_loss, v_pred, b_pred, logits, extras)

    def object_losses(self, batch: GeodeBatch, enc: SceneEncoding
                      ) -> tuple[torch.Tensor, torch.Tensor]:
        """Class CE and box L1 of the object tokens against the batch's targets."""
        from geode_ros.model.objects import object_loss

        o = batch.objects
        return object_loss(self.config.objects, enc.object_logits, enc.object_deltas, o.boxes,
                           o.mask, o.target_cls, o.target_box)

    @torch.no_grad()
    def detect(self, batch: GeodeBatch, enc: SceneEncoding | None = None
               ) -> list[list[Detection]]:
        """Per row, the merged detections of the DRM's object head (empty without it)."""
        from geode_ros.model.objects import decode_boxes, merge_detections

        enc = enc if enc is not None else self.encode_scene(batch)
        b = batch.input_ids.shape[0]
        if enc.object_logits is None:
            return [[] for _ in range(b)]
        o = batch.objects
        probs = enc.object_logits.float().softmax(-1).cpu().numpy()
        boxes = decode_boxes(o.boxes.float(), enc.object_deltas.float()).cpu().numpy()
        mask, seen = o.mask.cpu().numpy(), o.first_seen.cpu().numpy()
        last = o.last_seen.cpu().numpy()
        classes = self.config.objects.classes
        return [merge_detections(classes, probs[i][mask[i]], boxes[i][mask[i]],
                                 seen[i][mask[i]], self.config.objects, last[i][mask[i]])
                for i in range(b)]

    # --- training stages ----------------------------------------------------------------
    def set_stage(self, stage: int, train_drm: bool = False) -> None:
        """1: only the DRM trains. 2: LLM (full or LoRA), DRH, new token rows; the DRM
        frozen unless ``train_drm``."""
        from geode_ros.model.stages import set_stage
        set_stage(self, stage, train_drm)

    def trainable_parameters(self) -> list[nn.Parameter]:
        return [p for p in self.parameters() if p.requires_grad]

    # --- inference ----------------------------------------------------------------------
    @torch.no_grad()
    def generate(self, batch: GeodeBatch, max_new_tokens: int | None = None) -> list[Generation]:
        """Greedy decoding with KV cache; <reg>/<box> decoded by the DRH and rendered (in
        digits mode the values are parsed from the text; the default budget is then at
        least ``DIGITS_MIN_NEW_TOKENS``). With object tokens, each row is also answered
        from the detections (``_answer_from_objects``); both readings stay in ``extras``."""
        if not max_new_tokens:
            max_new_tokens = self.config.max_new_tokens
            if self.config.numeric_output == 'digits':
                max_new_tokens = max(max_new_tokens, DIGITS_MIN_NEW_TOKENS)
        t0 = time.perf_counter()
        enc = self.encode_scene(batch)
        t_drm = time.perf_counter() - t0
        gens = greedy_generate(self, batch, max_new_tokens, spatio=enc.spatio)
        for g in gens:
            g.timings['drm'] = t_drm
        if enc.object_logits is not None:
            t0 = time.perf_counter()
            self._answer_from_objects(batch, enc, gens)
            for g in gens:
                g.timings['objects'] = time.perf_counter() - t0
        return gens

    def _answer_from_objects(self, batch: GeodeBatch, enc: SceneEncoding,
                             gens: list[Generation]) -> None:
        """Each row answered by its program over the memory of its detections (the answer
        the model gives); the LLM's own reading stays in ``extras['llm']`` and answers
        only as an estimate where an object is missing (``answering.can_estimate``)."""
        from geode_ros.model.answering import can_estimate, estimated, memory_of
        from geode_ros.query.execute import execute
        from geode_ros.query.program import QueryError
        from geode_ros.query.render import render

        dets = self.detect(batch, enc)
        areas = batch.objects.room_area.cpu().numpy()
        for i, g in enumerate(gens):
            s = batch.samples[i] if batch.samples else None
            g.extras['llm'] = (g.text, list(g.values), list(g.boxes))
            g.extras['detections'] = dets[i]
            try:
                program = (s.program if s is not None and s.program is not None
                           else self.understand(batch.questions[i]))
                memory = memory_of(dets[i], self.config.objects.classes, float(areas[i]),
                                   s.keyframe_stamps if s else [],
                                   s.sensor_pose if s else None,
                                   s.sensor_forward_axis if s else 2,
                                   confident_score=self.confident_score)
                result = execute(program, memory, self.query_config)
            except QueryError as exc:
                g.extras['error'] = exc
                g.text, g.values, g.boxes = str(exc), [], []
                continue
            if self.config.objects.estimate_missing and can_estimate(program, result):
                result = estimated(program, result, g.text, list(g.values))
            g.extras['result'] = result
            g.text, g.values = render(result), list(result.values)
            g.boxes = [[*o.box[:7]] for o in result.used]

    @torch.no_grad()
    def encode_keyframe(self, frame: RGBDFrame) -> KeyframeFeatures:
        """Vision tokens of one keyframe + their 3D patch centres (cache this)."""
        rgb = np.asarray(frame.rgb)
        if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
            raise GeodeError(f'keyframe rgb must be HxWx3 uint8, got {rgb.shape} {rgb.dtype}')
        if np.asarray(frame.depth).shape != rgb.shape[:2]:
            raise GeodeError(f'depth {np.asarray(frame.depth).shape} does not match rgb '
                             f'{rgb.shape[:2]}')
        im = self.adapter.encode_images([rgb])[0]
        k = frame.intrinsics
        xyz, valid = patch_centres_3d(frame.depth, k.fx, k.fy, k.cx, k.cy, frame.T_world_cam,
                                      im.grid)
        return KeyframeFeatures(im.tokens, xyz.to(im.tokens.device), valid.to(im.tokens.device),
                                im.grid, im.grid_thw)

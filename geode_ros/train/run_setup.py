"""Where a training run starts: its QA records and its initial model (a tiny VLM built and
pretrained here, a real VLM, or a GEODE checkpoint for stage 2)."""

from __future__ import annotations

import logging
from pathlib import Path

import torch

from geode_ros.config import check_choices
from geode_ros.data.qa import ROBOT_TYPES, QARecord, load_qa
from geode_ros.errors import GeodeError
from geode_ros.model.geode import GeodeModel
from geode_ros.train.config import TrainConfig
from geode_ros.train.programs import PhrasingTemplates
from geode_ros.train.scenes import scene_classes

log = logging.getLogger(__name__)


def _qa_path(root: str) -> Path:
    path = Path(root)
    return path / 'qa.jsonl' if path.is_dir() else path


def data_root(path: str) -> Path:
    """The folder QA ``scene`` paths are relative to (a dataset dir or its qa.jsonl's)."""
    p = Path(path)
    return p if p.is_dir() else p.parent


def load_records(root: str, stage: int, types: tuple[str, ...] = (),
                 llm_targets: bool = True) -> list[QARecord]:
    """QA records usable for ``stage`` (stage 1 needs a rationale). With ``llm_targets``
    only those the LLM can be trained on: the robot's own kinds are answered from the
    object memory alone (they teach program writing, see ``train/programs.py``)."""
    if not root:
        raise GeodeError('no training data: pass --data DIR (made by geode-synth)')
    records = load_qa(_qa_path(root))
    if llm_targets:
        records = [r for r in records if r.type not in ROBOT_TYPES]
    if types:
        records = [r for r in records if r.type in types]
    if stage == 1:
        records = [r for r in records if r.rationale]
    if not records:
        raise GeodeError(f'{root}: no usable QA records for stage {stage}')
    return records


def build_initial_model(cfg: TrainConfig, records: list[QARecord], progress: bool = True
                        ) -> GeodeModel:
    """Stage 1 starts from a VLM (a tiny one built on our QA text when ``init`` is empty);
    stage 2 from a GEODE checkpoint (normally stage 1's ``model/``), or with ``skip_stage1``
    from a VLM as stage 1 does (fresh DRM) or a GEODE dir with an untrained DRM."""
    if cfg.stage == 2 and not cfg.skip_stage1:
        if not cfg.init:
            raise GeodeError('stage 2 needs --init DIR: the stage-1 model directory')
        return load_stage2_init(cfg, cfg.init)
    if cfg.stage == 2 and cfg.init and (Path(cfg.init) / 'manifest.json').is_file():
        return load_stage2_init(cfg, cfg.init)  # e.g. a stage-1 run's init/ (shared VLM)
    oc = cfg.model.objects
    if oc.enabled and not oc.classes:
        oc.classes = scene_classes(data_root(cfg.data))
        log.info('object vocabulary from %s: %s', cfg.data, ', '.join(oc.classes))
    vlm = cfg.init
    if not vlm:
        from geode_ros.model.tiny import build_tiny_vlm
        from geode_ros.train.programs import program_corpus

        corpus = [t for r in records for t in
                  (r.question, r.answer, r.rationale, r.program, *(r.options or []))]
        corpus += program_corpus(oc.classes, len(records))
        t = cfg.tiny_vlm
        vlm = str(build_tiny_vlm(t.arch, Path(cfg.out) / 'vlm', t.hidden, t.layers,
                                 t.vision_depth, t.image_size, corpus=corpus, seed=cfg.seed))
    torch.manual_seed(cfg.seed)
    model = GeodeModel.from_vlm(vlm, cfg.model)
    if not cfg.init:
        from geode_ros.train.pretrain import pretrain_language_model

        losses = pretrain_language_model(
            model, records, cfg.tiny_vlm.pretrain_steps, cfg.batch_size,
            cfg.tiny_vlm.pretrain_lr, cfg.seed, progress,
            load_records(cfg.data, 2, cfg.types, llm_targets=False),
            PhrasingTemplates(cfg.program_phrasings, oc.classes))
        if losses:
            log.info('stage 0 language pretraining: loss %.3f -> %.3f', losses[0], losses[-1])
    return model


def load_stage2_init(cfg: TrainConfig, path: str | Path) -> GeodeModel:
    """A GEODE checkpoint for stage 2, with the run's stage-2 switches applied: LoRA,
    ``numeric_output`` and the DRH loss weights from ``cfg.model``; ``use_drm`` only
    switched off, never on (a model trained without the DRM has none to switch back on)."""
    model = GeodeModel.from_pretrained(path, device=cfg.model.device)
    mc, want = model.config, check_choices(cfg.model, 'model.')
    if mc.numeric_output != want.numeric_output:
        log.info('numeric_output: %s (checkpoint) -> %s', mc.numeric_output, want.numeric_output)
    if mc.use_drm and not want.use_drm:
        log.info('use_drm: the checkpoint DRM is switched off for this run')
    elif want.use_drm and not mc.use_drm:
        log.warning('%s was trained without the DRM (use_drm=False); it stays off', path)
    mc.lora, mc.numeric_output = want.lora, want.numeric_output
    if cfg.refit_objects:  # the detector retrains on this run's proposals
        mc.objects.proposals = want.objects.proposals
    mc.use_drm = mc.use_drm and want.use_drm
    for name in ('reg_loss_weight', 'box_loss_weight', 'box_iou_weight', 'value_hist_weight',
                 'value_decode'):  # this run's losses and decoding
        setattr(mc.drh, name, getattr(want.drh, name))
    return model


def check_config(cfg: TrainConfig) -> None:
    """Reject stage / switch combinations that cannot train (before any model is built)."""
    if cfg.stage == 1 and cfg.skip_stage1:
        raise GeodeError('skip_stage1 is a stage-2 option (train stage 2 without stage 1)')
    if cfg.stage == 1 and not cfg.model.use_drm:
        raise GeodeError('stage 1 trains only the DRM, and model.use_drm is false: train '
                         'stage 2 directly (--stage 2 --skip-stage1)')

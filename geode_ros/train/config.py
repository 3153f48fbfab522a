"""Training configuration: one dataclass tree that YAML files and CLI flags map onto."""

from __future__ import annotations

from dataclasses import dataclass, field

from geode_ros.model.config import GeodeConfig
from geode_ros.scene.config import SceneConfig


@dataclass
class TinyVLMConfig:
    """A tiny random VLM of a real architecture, built offline when ``init`` is empty."""

    arch: str = field(default='qwen2_vl', metadata={'help': 'qwen2_vl, qwen2_5_vl or internvl'})
    hidden: int = field(default=256, metadata={'help': 'LLM hidden size'})
    layers: int = field(default=4, metadata={'help': 'LLM layers'})
    vision_depth: int = field(default=4, metadata={'help': 'vision transformer depth'})
    image_size: int = field(default=112, metadata={'help': 'image side (multiple of 28)'})
    pretrain_steps: int = field(default=600, metadata={
        'help': 'stage-0 language pretraining steps on the QA text (stands in for the '
                'pretraining a real VLM had)'})
    pretrain_lr: float = field(default=2e-3, metadata={'help': 'stage-0 peak learning rate'})


@dataclass
class TrainConfig:
    """Everything ``geode-train`` needs; defaults train the shipped tiny model on CPU."""

    data: str = field(default='', metadata={'help': 'geode-synth output dir (qa.jsonl + scenes/)'})
    eval_data: str = field(default='', metadata={'help': 'held-out dir for periodic eval'})
    out: str = field(default='out/train', metadata={'help': 'run directory'})
    stage: int = field(default=1, metadata={'help': '1: DRM only; 2: LLM + DRH'})
    init: str = field(default='', metadata={
        'help': 'stage 1: a VLM dir/name (empty = build tiny_vlm); stage 2: a GEODE dir'})
    skip_stage1: bool = field(default=False, metadata={
        'help': 'stage 2 without stage 1 (ablation): init is a VLM as in stage 1 (empty = '
                'tiny_vlm), or a GEODE dir with an untrained DRM; the DRM starts fresh'})
    stage2_trains_drm: bool = field(default=False, metadata={
        'help': 'stage 2 also trains the DRM (the paper freezes it); see README, Training'})
    object_steps: int = field(default=0, metadata={
        'help': 'stage 1: steps of object supervision alone before the rationale steps'})
    object_nocolor_share: float = field(default=0.0, metadata={
        'help': "share of the object steps' scenes fed as point clouds without colour (a "
                'depth-only sensor), so the detector also learns what geometry alone says'})
    refit_objects: bool = field(default=False, metadata={
        'help': "stage 2: first run the object steps on this run's data with this run's "
                "proposal settings (retrain an existing model's detector for new sensing or "
                'new data; with --steps 0 nothing else trains)'})
    object_lr: float = field(default=3e-3, metadata={'help': 'peak LR of the object steps'})
    object_scenes_per_step: int = field(default=16, metadata={
        'help': 'scenes per object step (every proposal of each is supervised)'})
    calibrate: bool = field(default=True, metadata={
        'help': "at the end of the run, fit the object head's temperature, score_threshold "
                'and confident_score on eval_data (validation scenes; train/calibrate.py)'})
    calibration_precision: float = field(default=0.0, metadata={
        'help': 'score_threshold = the lowest score whose validation detections reach this '
                'precision; 0 = the score of best F1 (answers need recall too)'})
    confident_precision: float = field(default=0.85, metadata={
        'help': 'confident_score = the lowest score whose validation detections reach this '
                'precision'})
    steps: int = field(default=300, metadata={'help': 'optimizer steps'})
    batch_size: int = field(default=8, metadata={'help': 'samples per micro-batch'})
    grad_accum: int = field(default=1, metadata={'help': 'micro-batches per optimizer step'})
    lr: float = field(default=1e-3, metadata={'help': 'peak learning rate'})
    weight_decay: float = field(default=0.01, metadata={'help': 'AdamW weight decay'})
    warmup_steps: int = field(default=20, metadata={'help': 'linear warm-up steps'})
    grad_clip: float = field(default=1.0, metadata={'help': 'max gradient norm'})
    mixed_precision: str = field(default='auto', metadata={
        'help': 'auto (bf16 autocast on CUDA), bf16, fp16 or none'})
    eval_every: int = field(default=100, metadata={'help': 'steps between evals (0 = off)'})
    eval_samples: int = field(default=64, metadata={'help': 'held-out questions per eval'})
    checkpoint_every: int = field(default=100, metadata={'help': 'steps between checkpoints'})
    log_every: int = field(default=10, metadata={'help': 'steps between JSONL log lines'})
    seed: int = field(default=0, metadata={'help': 'data order and init seed'})
    types: tuple[str, ...] = field(default=(), metadata={
        'help': 'question types to train on (empty = all)'})
    type_balance: float = field(default=0.0, metadata={
        'help': 'how evenly question types are drawn: 0 = their natural frequencies, '
                '1 = every type equally often (rare types repeat within an epoch)'})
    program_phrasings: tuple[str, ...] = field(default=(), metadata={
        'help': 'phrasing-set files (test/query/phrasings format) whose templates also teach '
                'program writing; never the held-out half the parser is reported on'})
    tiny_vlm: TinyVLMConfig = field(default_factory=TinyVLMConfig)
    model: GeodeConfig = field(default_factory=GeodeConfig)
    scene: SceneConfig = field(default_factory=SceneConfig)

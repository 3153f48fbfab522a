"""The smallest training setup that still exercises every code path (shared by tests)."""

from __future__ import annotations

from pathlib import Path

from geode_ros.model.config import DRHConfig, DRMConfig, GeodeConfig
from geode_ros.scene.config import SceneConfig
from geode_ros.train.config import TinyVLMConfig, TrainConfig


def tiny_train_config(data: Path | str, out: Path | str, stage: int, steps: int,
                      init: str = '', eval_data: Path | str = '', batch_size: int = 4,
                      checkpoint_every: int = 0) -> TrainConfig:
    """A TrainConfig with a tiny VLM, DRM and DRH; seconds per step on a CPU."""
    return TrainConfig(
        data=str(data), eval_data=str(eval_data), out=str(out), stage=stage, init=init,
        steps=steps, batch_size=batch_size, lr=3e-3, warmup_steps=1, eval_every=0,
        checkpoint_every=checkpoint_every, log_every=1, seed=0,
        tiny_vlm=TinyVLMConfig(hidden=64, layers=2, vision_depth=1, image_size=56,
                               pretrain_steps=2),
        model=GeodeConfig(
            drm=DRMConfig(num_points=128, num_groups=16, k_neighbors=8, width=32, heads=2,
                          point_layers=1, fusion_layers=1, readout_layers=1, dropout=0.0),
            drh=DRHConfig(hidden=32), max_new_tokens=4, prompt_images=1, max_keyframes=2),
        scene=SceneConfig(max_keyframes=4, voxel_size_m=0.1),
    )

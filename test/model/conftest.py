"""Shared fixtures: tiny random VLMs of three real architectures, built once per session."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from geode_ros.model.config import DRHConfig, DRMConfig, GeodeConfig
from geode_ros.model.tiny import ARCHITECTURES, build_tiny_vlm
from geode_ros.scene.types import Box3D, CameraIntrinsics, Keyframe, RGBDFrame, SceneSnapshot


@pytest.fixture(scope='session')
def tiny_dirs(tmp_path_factory) -> dict[str, str]:
    root = tmp_path_factory.mktemp('tiny_vlms')
    return {a: str(build_tiny_vlm(a, root / a, hidden=128, layers=2, vision_depth=2))
            for a in ARCHITECTURES}


def small_config() -> GeodeConfig:
    return GeodeConfig(
        drm=DRMConfig(num_points=256, num_groups=32, k_neighbors=8, width=64, heads=4,
                      point_layers=1, fusion_layers=1, readout_layers=1, dropout=0.0),
        drh=DRHConfig(hidden=64),
        max_new_tokens=6, prompt_images=1, max_keyframes=2,
    )


@pytest.fixture(name='small_config', scope='session')
def small_config_fixture():
    return small_config


@pytest.fixture
def make_model(tiny_dirs):
    from geode_ros.model.geode import GeodeModel

    def make(arch: str, **overrides) -> GeodeModel:
        torch.manual_seed(0)
        cfg = small_config()
        for k, v in overrides.items():
            setattr(cfg, k, v)
        return GeodeModel.from_vlm(tiny_dirs[arch], cfg)

    return make


def make_frame(rng: np.random.Generator, h: int = 60, w: int = 80) -> RGBDFrame:
    k = CameraIntrinsics(fx=70.0, fy=70.0, cx=w / 2, cy=h / 2, width=w, height=h)
    pose = np.eye(4)
    pose[:3, 3] = rng.normal(size=3)
    rgb = (rng.random((h, w, 3)) * 255).astype(np.uint8)
    depth = rng.uniform(0.5, 3.0, (h, w)).astype(np.float32)
    return RGBDFrame(rgb, depth, k, pose, stamp=1.0)


def make_cloud(rng: np.random.Generator, n: int = 400) -> tuple[np.ndarray, np.ndarray]:
    return (rng.normal(size=(n, 3)).astype(np.float32),
            rng.integers(0, 255, (n, 3)).astype(np.uint8))


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


@pytest.fixture
def samples(rng: np.random.Generator):
    """A count, a grounding and a multiple-choice sample."""
    from geode_ros.model.batch import GeodeSample

    pts, col = make_cloud(rng)
    return [
        GeodeSample('How many chair(s) are in this room?', pts, col, [make_frame(rng)],
                    value=4.0, rationale='I see 4 chairs.'),
        GeodeSample('Where is the mug? Answer with a 3D box.', pts, col, [make_frame(rng)],
                    box=Box3D('mug', np.array([0.5, -0.2, 0.8]), np.array([0.1, 0.1, 0.12]),
                              0.4), rationale='The mug is on the table.'),
        GeodeSample('If I am standing by the sofa and facing the tv, is the lamp to my left, '
                    'right, or back?', pts, col, [], answer='left',
                    rationale='The lamp is left of the tv.'),
    ]


@pytest.fixture
def snapshot(rng: np.random.Generator) -> SceneSnapshot:
    pts, col = make_cloud(rng)
    kfs = [Keyframe(make_frame(rng), i) for i in range(2)]
    return SceneSnapshot(pts, col, kfs, 'map', 12.5)

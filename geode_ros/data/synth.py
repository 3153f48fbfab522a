"""Synthetic spatial-QA data: procedural rooms rendered as RGB-D walks, plus QA.

Output layout::

    OUT/qa.jsonl                          all QA records (scene = 'scenes/NNNNNN')
    OUT/scenes/NNNNNN/intrinsics.json     frames folder (DESIGN section 5)
    OUT/scenes/NNNNNN/frame-000000.color.png | .depth.png | .pose.txt | .instance.png
    OUT/scenes/NNNNNN/scene.json          room size, GT boxes, per-frame visibility

Scene ``i`` uses seed ``cfg.seed + i`` only, so any scene regenerates identically
on its own and the output does not depend on the number of workers.
``.instance.png`` (uint16, object id + 1, 0 = room structure or nothing) is an
extra beside the standard frames-folder files.
"""

from __future__ import annotations

import json
import logging
import multiprocessing as mp
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from tqdm import tqdm

from geode_ros.data.frames import write_frames_folder
from geode_ros.data.qa import QARecord, save_qa
from geode_ros.data.sensing import SENSING_MODES
from geode_ros.errors import GeodeError
from geode_ros.scene.types import CameraIntrinsics, RGBDFrame

log = logging.getLogger(__name__)

MIN_VISIBLE_PIXELS = 8  # an object counts as seen in a frame from this many pixels
FPS = 2.0  # nominal frame rate of the synthetic walk (stamps, intrinsics.json fps)
SYNTH_SENSING = (*SENSING_MODES, 'mixed')
MIXED_CLEAN_SHARE = 0.25  # 'mixed': this share of scenes clean, the rest realistic
MIXED_STRENGTH = (0.5, 1.5)  # 'mixed': realistic scenes at this range x sensing_strength
# seeded streams [seed, LOOK_STREAM + k] of appearance and sensor noise (k = 0..4), apart
# from the layout's, the questions' and every other stream of a scene
LOOK_STREAM = 21


@dataclass
class SynthConfig:
    """Settings of ``geode-synth``."""

    scenes: int = field(default=8, metadata={'help': 'number of scenes to generate'})
    out: Path = field(default=Path('synth_data'), metadata={'help': 'output directory'})
    seed: int = field(default=0, metadata={'help': 'base seed; scene i uses seed + i'})
    workers: int = field(default=2, metadata={'help': 'parallel worker processes (1 = inline)'})
    questions_per_scene: int = field(default=40, metadata={
        'help': "QA records per scene in VSI-Bench's wording"})
    everyday_per_scene: int = field(default=30, metadata={
        'help': "QA records per scene in people's wording, with the robot's query kinds "
                '(counts of absent classes, exists, list, from the robot, near, last seen)'})
    width: int = field(default=160, metadata={'help': 'image width in pixels'})
    height: int = field(default=120, metadata={'help': 'image height in pixels'})
    frames: int = field(default=32, metadata={'help': 'frames per scene trajectory'})
    hfov_deg: float = field(default=75.0, metadata={'help': 'horizontal field of view, degrees'})
    depth_scale: float = field(default=0.001, metadata={'help': 'metres per depth-PNG unit'})
    sensing: str = field(default='clean', metadata={
        'help': 'how the camera sees the room: clean (flat class colours, exact depth), '
                'realistic (textured multi-colour materials, lights and shadows, a '
                'Kinect-like RGB-D sensor with z^2 depth noise, holes, motion blur and pose '
                'drift), mixed (for training: a quarter of the scenes clean, the rest '
                'realistic at 0.5-1.5 x the strength) or heldout (a different, '
                'RealSense-like stereo sensor and texture family: for evaluation only). '
                'Geometry, ground truth and QA are the same in every mode (docs/sensing.md)'})
    sensing_strength: float = field(default=1.0, metadata={
        'help': 'scale of every sensor perturbation (noise, holes, blur, drift): 0 = ideal '
                'sensor, 1 = nominal, 2 = poor; ignored when sensing is clean'})

    def validate(self) -> None:
        if (self.scenes < 0 or self.frames < 1 or self.questions_per_scene < 0
                or self.everyday_per_scene < 0):
            raise GeodeError('scenes and questions per scene must be >= 0, frames >= 1')
        if self.width < 8 or self.height < 8:
            raise GeodeError(f'image size {self.width}x{self.height} is too small (min 8x8)')
        if not 10.0 <= self.hfov_deg <= 150.0:
            raise GeodeError(f'hfov_deg must be within 10..150, got {self.hfov_deg}')
        if self.depth_scale <= 0:
            raise GeodeError('depth_scale must be positive')
        if self.sensing not in SYNTH_SENSING:
            raise GeodeError(f'sensing must be one of {", ".join(SYNTH_SENSING)}, '
                             f'got {self.sensing!r}')
        if not 0.0 <= self.sensing_strength <= 5.0:
            raise GeodeError(f'sensing_strength must be within 0..5, got {self.sensing_strength}')

    def intrinsics(self) -> CameraIntrinsics:
        fx = self.width / 2.0 / np.tan(np.deg2rad(self.hfov_deg) / 2.0)
        return CameraIntrinsics(fx, fx, self.width / 2.0, self.height / 2.0, self.width,
                                self.height)


def scene_name(index: int) -> str:
    return f'scenes/{index:06d}'


def _write_frames(out_dir: Path, K: CameraIntrinsics, frames: list[tuple], scale: float) -> None:
    """Frames folder (via ``frames.write_frames_folder``) plus the instance-id PNGs."""
    rgbd = [RGBDFrame(rgb, depth, K, T, stamp=i / FPS)
            for i, (rgb, depth, _, T) in enumerate(frames)]
    write_frames_folder(rgbd, out_dir, depth_scale=scale, fps=FPS)
    for i, (_, _, inst, _) in enumerate(frames):
        ids = (inst + 1).clip(0, 65535).astype(np.uint16)
        cv2.imwrite(str(out_dir / f'frame-{i:06d}.instance.png'), ids)


def scene_sensing(cfg: SynthConfig, seed: int) -> tuple[str, float]:
    """(mode, strength) of one scene: the configured ones, or for 'mixed' a per-scene draw
    from its own seeded stream (clean, or realistic at a random strength)."""
    if cfg.sensing != 'mixed':
        return cfg.sensing, cfg.sensing_strength
    r = np.random.default_rng([seed, LOOK_STREAM + 4])
    if r.random() < MIXED_CLEAN_SHARE:
        return 'clean', 0.0
    return 'realistic', float(cfg.sensing_strength * r.uniform(*MIXED_STRENGTH))


def _camera(mode: str, strength: float, cfg: SynthConfig, room, seed: int) -> Callable:
    """The view function of a scene: it maps a true camera pose to
    (rgb, depth, instance ids, reported pose). Clean mode renders flat colours with exact
    depth and pose; the other modes dress the room (``materials``) and pass every view
    through their sensor model (``sensing``). Appearance and sensor noise draw from their
    own seeded streams, so the layout, the camera path and the ground truth do not depend
    on the mode."""
    from geode_ros.data.render import build_room_mesh, render, render_lit, sample_lights

    K = cfg.intrinsics()
    if mode == 'clean':
        mesh = build_room_mesh(room)

        def view(T):
            rgb, depth, inst = render(mesh, K, T)
            return rgb, depth, inst, T
        return view
    from geode_ros.data.materials import clutter, dress, extra_parts
    from geode_ros.data.sensing import make_sensor

    heldout = mode == 'heldout'
    look_rng = np.random.default_rng([seed, LOOK_STREAM + (2 if heldout else 0)])
    mesh = build_room_mesh(room, extra_parts(clutter(room, look_rng)))
    look = dress(room, mesh.part_owner, look_rng, 'heldout' if heldout else 'train')
    lights = sample_lights(look_rng, room.size)
    sensor = make_sensor(mode, K, strength,
                         np.random.default_rng([seed, LOOK_STREAM + (3 if heldout else 1)]))

    def view(T):
        lit = render_lit(mesh, look, lights, K, T)
        rgb, depth, pose = sensor.capture(lit, T)
        return rgb, depth, lit['instance'], pose
    return view


def render_scene(index: int, cfg: SynthConfig) -> tuple[dict[str, Any], list[tuple]]:
    """Lay out and render scene ``index``: (scene.json dict, [(rgb, depth, inst, T)]);
    T is the pose the camera reports (exact in clean mode)."""
    from geode_ros.data.render import trajectory
    from geode_ros.data.scene_layout import generate_layout

    seed = cfg.seed + index
    rng = np.random.default_rng(seed)
    room = generate_layout(rng)
    mode, strength = scene_sensing(cfg, seed)
    view = _camera(mode, strength, cfg, room, seed)
    frames, visibility, first_seen, T = [], [], {}, np.eye(4)
    for i, T in enumerate(trajectory(rng, room.size, cfg.frames)):
        rgb, depth, inst, pose = view(T)
        ids, counts = np.unique(inst[inst >= 0], return_counts=True)
        pixels = {int(k): int(c) for k, c in zip(ids, counts) if c >= MIN_VISIBLE_PIXELS}
        visibility.append({'frame': i, 'pixels': {str(k): c for k, c in pixels.items()}})
        for k in pixels:
            first_seen.setdefault(k, i)
        frames.append((rgb, depth, inst, pose))
    W, L, H = (float(v) for v in room.size)
    meta = {
        'scene': scene_name(index),
        'seed': seed,
        'room': {'size': [W, L, H], 'area': W * L},
        'objects': [{'id': o.id, 'label': o.label, 'support': o.support,
                     'first_seen': first_seen.get(o.id), 'box': o.box().to_dict()}
                    for o in room.objects],
        'num_frames': len(frames),
        'fps': FPS,
        'robot_pose': T.tolist(),  # the camera at the last frame: the robot (true pose)
        'visibility': visibility,
    }
    if mode != 'clean':
        meta['sensing'] = {'mode': mode, 'strength': strength}
    return meta, frames


def generate_scene(index: int, cfg: SynthConfig) -> list[dict[str, Any]]:
    """Render scene ``index`` to ``cfg.out/scenes/NNNNNN`` and return its QA records as dicts."""
    from geode_ros.data.qa_everyday import generate_everyday
    from geode_ros.data.qa_gen import generate_qa

    meta, frames = render_scene(index, cfg)
    out_dir = Path(cfg.out) / meta['scene']
    _write_frames(out_dir, cfg.intrinsics(), frames, cfg.depth_scale)
    (out_dir / 'scene.json').write_text(json.dumps(meta) + '\n')
    rng = np.random.default_rng([cfg.seed + index, 7])
    records = generate_qa(meta, rng, cfg.questions_per_scene)
    rng = np.random.default_rng([cfg.seed + index, 11])
    records += generate_everyday(meta, rng, cfg.everyday_per_scene)
    return [r.to_dict() for r in records]


def _worker_init() -> None:
    cv2.setNumThreads(1)


def generate_dataset(cfg: SynthConfig, progress: bool = True) -> Path:
    """Generate ``cfg.scenes`` scenes (in parallel when ``cfg.workers > 1``); returns qa.jsonl."""
    cfg.validate()
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    bar = tqdm(total=cfg.scenes, desc='scenes', unit='scene', disable=not progress)
    results: list[list[dict[str, Any]]] = []
    if cfg.workers <= 1 or cfg.scenes <= 1:
        for i in range(cfg.scenes):
            results.append(generate_scene(i, cfg))
            bar.update()
    else:
        # spawn, not fork: Open3D's thread pools do not survive a fork safely.
        ctx = mp.get_context('spawn')
        with ProcessPoolExecutor(cfg.workers, mp_context=ctx, initializer=_worker_init) as ex:
            for recs in ex.map(generate_scene, range(cfg.scenes), [cfg] * cfg.scenes):
                results.append(recs)
                bar.update()
    bar.close()
    records = [QARecord.from_dict(d) for recs in results for d in recs]
    path = save_qa(records, out / 'qa.jsonl')
    log.info('wrote %d scenes and %d QA records to %s', cfg.scenes, len(records), out)
    return path

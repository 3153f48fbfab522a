"""SceneConfig: the one source of defaults for scene memory (node, CLI, YAML map onto it)."""

from __future__ import annotations

from dataclasses import dataclass, field

from geode_ros.errors import GeodeError


@dataclass
class SceneConfig:
    """Keyframe selection, fusion and memory caps of ``SpatialQueryEngine``."""

    fixed_frame: str = field(default='map', metadata={
        'help': 'frame the fused cloud, boxes and answers are expressed in'})
    keyframe_translation_m: float = field(default=0.25, metadata={
        'help': 'camera motion (m) since the last keyframe that makes a new keyframe'})
    keyframe_rotation_deg: float = field(default=15.0, metadata={
        'help': 'camera rotation (deg) since the last keyframe that makes a new keyframe'})
    max_keyframes: int = field(default=32, metadata={
        'help': 'keyframe ring size; the oldest keyframe is dropped beyond it'})
    voxel_size_m: float = field(default=0.05, metadata={
        'help': 'edge of the voxels the fused cloud is averaged into'})
    max_points: int = field(default=300_000, metadata={
        'help': 'cap on fused-cloud voxels; the least recently seen are dropped beyond it'})
    min_depth_m: float = field(default=0.1, metadata={
        'help': 'depths below this are dropped as invalid'})
    max_depth_m: float = field(default=8.0, metadata={
        'help': 'depths beyond this are dropped (noisy far range)'})
    depth_stride: int = field(default=2, metadata={
        'help': 'use every n-th pixel in u and v when back-projecting'})
    depth_scale_16u: float = field(default=0.001, metadata={
        'help': 'metres per unit of uint16 depth images (0.001 = millimetres)'})
    fuse_all_frames: bool = field(default=True, metadata={
        'help': 'fuse every frame into the cloud (the node, geode-replay and training alike); '
                'false: keyframes only (less CPU, a sparser cloud)'})
    max_translation_m: float = field(default=1000.0, metadata={
        'help': 'input bound: poses farther than this (m) from the origin are rejected'})
    quaternion_norm_tol: float = field(default=0.01, metadata={
        'help': 'input bound: quaternions whose norm is off 1 by more are rejected'})
    max_future_s: float = field(default=300.0, metadata={
        'help': 'input bound: stamps later than now + this (s) are rejected'})
    max_range_m: float = field(default=1000.0, metadata={
        'help': 'input bound: clouds with a point farther than this (m) are rejected; '
                'depth beyond it is invalid'})

    def validate(self) -> SceneConfig:
        """Raise GeodeError naming the first bad setting; return self for chaining."""
        positive = ('keyframe_translation_m', 'keyframe_rotation_deg', 'voxel_size_m',
                    'max_depth_m', 'depth_scale_16u', 'max_translation_m',
                    'quaternion_norm_tol', 'max_future_s', 'max_range_m')
        for name in positive:
            if not getattr(self, name) > 0:
                raise GeodeError(f'scene.{name} must be > 0, got {getattr(self, name)}')
        for name in ('max_keyframes', 'max_points', 'depth_stride'):
            if int(getattr(self, name)) < 1:
                raise GeodeError(f'scene.{name} must be >= 1, got {getattr(self, name)}')
        if not 0 <= self.min_depth_m < self.max_depth_m:
            raise GeodeError(f'scene.min_depth_m ({self.min_depth_m}) must be in '
                             f'[0, max_depth_m={self.max_depth_m})')
        if not self.fixed_frame:
            raise GeodeError('scene.fixed_frame must not be empty')
        return self

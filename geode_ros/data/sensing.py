"""Sensor models: what a real RGB-D camera delivers from a rendered view.

``render.render_lit`` gives exact depth and linear radiance; a sensor turns them into the
uint8 colour image, the depth image (0 = no measurement) and the camera pose a tracker
would report. Two independent models exist, and they are kept apart on purpose:

- ``realistic`` (``KinectSensor``), used for training data: a structured-light camera.
  Axial depth noise growing with z^2 (Nguyen et al. 2012: 1.2 mm + 1.9 mm (z - 0.4)^2),
  disparity quantisation (steps of z^2 / 348 m: 3 mm at 1 m, 5 cm at 4 m), lateral
  jitter at edges, the projector's shadow beside foreground objects, holes at depth
  edges, on grazing and dark surfaces and beyond 4-5.5 m, a one-pixel depth/colour
  misregistration; colour with auto-exposure lag, white-balance error, vignetting, shot
  and read noise, a Bayer mosaic, motion blur along the camera's rotation; pose drift as
  a random walk with per-frame jitter.
- ``heldout`` (``StereoSensor``), used only to evaluate: an active-stereo camera of a
  different family. Noise proportional to z^2 and spatially correlated, flying pixels
  between foreground and background instead of edge holes, an invalid band on the left,
  blob-shaped holes, edge smoothing, no disparity steps; colour through a different ISP
  (gamma 2.4 with an S-curve, saturation boost, blotchy chroma noise, sharpening, JPEG at
  quality 50-85, exposure flicker); pose drift as a steady heading and translation bias.

``strength`` scales every perturbation (noise amplitudes, hole rates, blur length, drift;
0 = an ideal sensor on the realistic scene, 1 = nominal, 2 = a poor one). The ground
truth is never touched: the renderer's exact depth decides what is visible, and the
boxes are the layout's.
"""

from __future__ import annotations

import cv2
import numpy as np
from scipy.spatial.transform import Rotation

from geode_ros.scene.types import CameraIntrinsics

SENSING_MODES = ('clean', 'realistic', 'heldout')
LUMA = np.array([0.3, 0.59, 0.11])


def _line_kernel(length: float, angle: float) -> np.ndarray:
    """A normalised motion-blur kernel: a line of ``length`` pixels at ``angle`` radians."""
    n = int(np.ceil(length)) | 1
    k = np.zeros((n, n), np.float32)
    c, d = n // 2, (length - 1) / 2
    p0 = (int(round(c - d * np.cos(angle))), int(round(c - d * np.sin(angle))))
    p1 = (int(round(c + d * np.cos(angle))), int(round(c + d * np.sin(angle))))
    cv2.line(k, p0, p1, 1.0, 1)
    return k / max(k.sum(), 1e-6)


def _smooth_noise(rng: np.random.Generator, shape: tuple[int, int], sigma: float) -> np.ndarray:
    """Zero-mean, unit-variance, spatially correlated noise (blurred white noise)."""
    n = cv2.GaussianBlur(rng.normal(size=shape).astype(np.float32), (0, 0), sigma)
    return n / max(float(n.std()), 1e-6)


def _shadow(depth: np.ndarray, fx: float, baseline: float, side: int) -> np.ndarray:
    """Pixels hidden from a second viewpoint ``baseline`` m to one side (projector or second
    camera): a nearer surface up to the disparity difference away covers them."""
    disp = np.where(depth > 0, fx * baseline / np.maximum(depth, 1e-3), 0.0)
    out = np.zeros(depth.shape, bool)
    for s in range(1, int(np.ceil(disp.max())) + 1 if disp.size else 1):
        near = np.roll(disp, side * s, axis=1)
        if side > 0:
            near[:, :s] = 0
        else:
            near[:, -s:] = 0
        out |= (near - disp >= s) & (depth > 0)
    return out


def _edges(depth: np.ndarray, rel: float) -> np.ndarray:
    """Depth discontinuities: a 4-neighbour differs by more than ``rel`` x depth."""
    d = depth.astype(np.float32)
    dil = cv2.dilate(d, np.ones((3, 3), np.uint8))
    ero = cv2.erode(np.where(d > 0, d, 1e3).astype(np.float32), np.ones((3, 3), np.uint8))
    return (d > 0) & ((dil - ero) > rel * np.maximum(d, 1e-3))


def _rotation_rate(T_prev: np.ndarray | None, T: np.ndarray) -> np.ndarray:
    """Rotation vector (camera frame, radians) from the previous pose to this one."""
    if T_prev is None:
        return np.zeros(3)
    return Rotation.from_matrix(T_prev[:3, :3].T @ T[:3, :3]).as_rotvec()


class Sensor:
    """Stateful per-scene sensor: exposure memory and pose drift persist across frames."""

    def __init__(self, K: CameraIntrinsics, strength: float, rng: np.random.Generator) -> None:
        if not 0 <= strength <= 5:
            raise ValueError(f'sensing strength must be within 0..5, got {strength}')
        self.K, self.s, self.rng = K, float(strength), rng
        self.gain: float | None = None
        self.T_prev: np.ndarray | None = None
        self.drift_R = np.eye(3)
        self.drift_t = np.zeros(3)

    def capture(self, lit: dict[str, np.ndarray], T_world_cam: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(rgb uint8 [H, W, 3], depth float32 m with 0 = hole, reported camera pose)."""
        rgb = self.colour(lit['radiance'], self._rotation_blur(T_world_cam))
        depth = self.depth(lit['depth'], lit['cos_view'], lit['albedo'])
        pose = self.pose(T_world_cam)
        self.T_prev = T_world_cam
        return rgb, depth.astype(np.float32), pose

    def _rotation_blur(self, T: np.ndarray) -> tuple[float, float]:
        """(blur length px, direction) from the rotation since the last frame."""
        w = _rotation_rate(self.T_prev, T)
        flow = np.array([w[1], -w[0]]) * self.K.fx  # image motion over one frame interval
        exposure = 0.08 * self.s * self.rng.uniform(0.5, 1.5)  # share of the interval
        return float(np.linalg.norm(flow) * exposure), float(np.arctan2(flow[1], flow[0]))

    def _expose(self, radiance: np.ndarray, lag: float, error: float) -> np.ndarray:
        mean = float((radiance @ LUMA).mean()) + 1e-4
        want = 0.2 / mean * float(np.exp(self.rng.normal(0, error * self.s)))
        self.gain = want if self.gain is None else lag * self.gain + (1 - lag) * want
        return radiance * self.gain

    def pose(self, T: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def colour(self, radiance: np.ndarray, blur: tuple[float, float]) -> np.ndarray:
        raise NotImplementedError

    def depth(self, depth: np.ndarray, cos_view: np.ndarray, albedo: np.ndarray) -> np.ndarray:
        raise NotImplementedError


class KinectSensor(Sensor):
    """Structured light (Kinect v1 class): the ``realistic`` training sensor."""

    DISPARITY_C = 348.0  # fx_ir (580 px) x baseline (7.5 cm) x 8 sub-pixel steps

    def __init__(self, K: CameraIntrinsics, strength: float, rng: np.random.Generator) -> None:
        super().__init__(K, strength, rng)
        s = self.s
        self.wb = np.exp(rng.normal(0, 0.05 * s, 3))
        self.vignette = rng.uniform(0.1, 0.35) * min(s, 1.5)
        self.shift = rng.integers(-1, 2, 2) if rng.random() < 0.5 * min(s, 1) else (0, 0)
        self.far = rng.uniform(4.5, 5.5)

    def colour(self, radiance: np.ndarray, blur: tuple[float, float]) -> np.ndarray:
        s, rng = self.s, self.rng
        h, w, _ = radiance.shape
        img = self._expose(radiance, lag=0.5, error=0.12) * self.wb
        yy, xx = np.mgrid[0:h, 0:w]
        r2 = ((xx - w / 2) ** 2 + (yy - h / 2) ** 2) / ((w / 2) ** 2 + (h / 2) ** 2)
        img = img * (1 - self.vignette * r2)[..., None]
        if blur[0] > 1.5:
            img = cv2.filter2D(img.astype(np.float32), -1, _line_kernel(blur[0], blur[1]))
        lin = np.clip(img, 0, 1)
        sigma = np.sqrt(0.0015 * s * lin + (0.008 * s) ** 2)
        lin = np.clip(lin + rng.normal(size=lin.shape) * sigma, 0, 1)
        out = (lin ** (1 / 2.2) * 255 + 0.5).astype(np.uint8)
        if s > 0:  # a Bayer sensor: keep one channel per pixel, then demosaic
            bayer = np.zeros((h, w), np.uint8)
            bayer[0::2, 0::2] = out[0::2, 0::2, 2]
            bayer[0::2, 1::2] = out[0::2, 1::2, 1]
            bayer[1::2, 0::2] = out[1::2, 0::2, 1]
            bayer[1::2, 1::2] = out[1::2, 1::2, 0]
            out = cv2.cvtColor(bayer, cv2.COLOR_BayerRG2RGB)
        return out

    def depth(self, depth: np.ndarray, cos_view: np.ndarray, albedo: np.ndarray) -> np.ndarray:
        s, rng, K = self.s, self.rng, self.K
        h, w = depth.shape
        valid = depth > 0
        hole = _shadow(depth, K.fx, 0.075, +1)
        hole |= _edges(depth, 0.06) & (rng.random(depth.shape) < 0.4 * min(s, 2))
        vv, uu = np.mgrid[0:h, 0:w]
        jit = rng.normal(0, 0.5 * s, (2, h, w))
        vj = np.clip(np.rint(vv + jit[0]), 0, h - 1).astype(int)
        uj = np.clip(np.rint(uu + jit[1]), 0, w - 1).astype(int)
        z = depth[vj, uj].astype(np.float64)
        z = z + rng.normal(size=z.shape) * (0.0012 + 0.0019 * (z - 0.4) ** 2) * s
        if s > 0:
            z = self.DISPARITY_C / np.maximum(np.rint(self.DISPARITY_C / np.maximum(z, 0.1)), 1)
        p_far = np.clip((z - self.far) / 1.0, 0, 1)
        p_graze = 0.9 * np.clip((0.2 - cos_view) / 0.2, 0, 1) * min(s, 1)
        p_dark = np.where(albedo < 0.06, 0.5 * min(s, 2), 0.0)
        p_speckle = 0.015 * s
        p = np.clip(p_far + p_graze + p_dark + p_speckle, 0, 1)
        hole |= rng.random(depth.shape) < p
        hole |= (z < 0.45) | ~valid | (depth[vj, uj] <= 0)
        out = np.where(hole, 0.0, z)
        if any(self.shift):  # depth and colour one pixel apart (extrinsics error)
            dv, du = (int(x) for x in self.shift)
            out = np.roll(out, (dv, du), axis=(0, 1))
            out[:max(dv, 0)], out[h + min(dv, 0):] = 0.0, 0.0  # no wrap-around
            out[:, :max(du, 0)], out[:, w + min(du, 0):] = 0.0, 0.0
        return out

    def pose(self, T: np.ndarray) -> np.ndarray:
        s, rng = self.s, self.rng
        self.drift_t = self.drift_t + rng.normal(0, 0.002 * s, 3)
        step = Rotation.from_rotvec(rng.normal(0, np.deg2rad(0.05) * s, 3)).as_matrix()
        self.drift_R = step @ self.drift_R
        jitter_R = Rotation.from_rotvec(rng.normal(0, np.deg2rad(0.05) * s, 3)).as_matrix()
        out = np.array(T, dtype=np.float64)
        out[:3, :3] = jitter_R @ self.drift_R @ T[:3, :3]
        out[:3, 3] = T[:3, 3] + self.drift_t + rng.normal(0, 0.002 * s, 3)
        return out


class StereoSensor(Sensor):
    """Active stereo (RealSense D400 class): the ``heldout`` evaluation-only sensor."""

    def __init__(self, K: CameraIntrinsics, strength: float, rng: np.random.Generator) -> None:
        super().__init__(K, strength, rng)
        s = self.s
        self.wb = np.exp(rng.normal(0, 0.08 * s, 3) + np.array([-0.03, 0, 0.04]) * s)
        self.quality = int(np.clip(85 - 30 * s * rng.uniform(0.7, 1.2), 30, 95))
        self.band = int(round(rng.uniform(3, 8) * min(s, 1.5)))
        self.yaw_rate = rng.normal(0, np.deg2rad(0.015)) * s
        self.t_rate = rng.normal(0, 0.0005, 3) * s * np.array([1, 1, 0.3])
        self.frame = 0

    def colour(self, radiance: np.ndarray, blur: tuple[float, float]) -> np.ndarray:
        s, rng = self.s, self.rng
        h, w, _ = radiance.shape
        flicker = float(np.exp(rng.normal(0, 0.15 * s)))
        img = np.clip(self._expose(radiance, lag=0.0, error=0.05) * self.wb * flicker, 0, 1)
        if blur[0] > 1.5:  # a softer, Gaussian-like smear than the training sensor's line
            k = cv2.GaussianBlur(_line_kernel(blur[0] * 0.8, blur[1]), (3, 3), 0)
            img = cv2.filter2D(img.astype(np.float32), -1, k / k.sum())
        x = np.clip(img, 0, 1) ** (1 / 2.4)
        x = x + 0.25 * s * (x - 0.5) * (1 - np.abs(2 * x - 1))  # S-curve contrast
        grey = (x @ LUMA)[..., None]
        x = grey + (x - grey) * (1 + 0.3 * s)
        small = (max(1, w // 4), max(1, h // 4))
        chroma = cv2.resize(rng.normal(0, 0.03 * s, (small[1], small[0], 3)).astype(np.float32),
                            (w, h), interpolation=cv2.INTER_LINEAR)
        x = x + chroma + rng.normal(0, 0.01 * s, x.shape)
        x = x + 0.5 * s * (x - cv2.GaussianBlur(x.astype(np.float32), (0, 0), 1.0))
        out = np.clip(x * 255 + 0.5, 0, 255).astype(np.uint8)
        if s > 0:
            ok, buf = cv2.imencode('.jpg', out[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY,
                                                            self.quality])
            out = cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1].copy()
        return out

    def depth(self, depth: np.ndarray, cos_view: np.ndarray, albedo: np.ndarray) -> np.ndarray:
        s, rng, K = self.s, self.rng, self.K
        valid = depth > 0
        z = depth.astype(np.float64)
        edge = _edges(depth, 0.05)
        lo = cv2.erode(np.where(valid, depth, 1e3).astype(np.float32), np.ones((3, 3)))
        hi = cv2.dilate(depth.astype(np.float32), np.ones((3, 3)))
        fly = edge & (rng.random(z.shape) < 0.6 * min(s, 1.5))
        z = np.where(fly, lo + rng.random(z.shape) * (hi - lo), z)
        if s > 0:
            z = cv2.medianBlur(z.astype(np.float32), 3).astype(np.float64)
        corr = _smooth_noise(rng, z.shape, 3.0)
        z = z + (0.002 * corr + 0.0012 * rng.normal(size=z.shape)) * z ** 2 * s
        hole = _shadow(depth, K.fx, 0.05, -1) | ~valid
        blobs = _smooth_noise(rng, z.shape, 2.0)
        hole |= blobs > np.quantile(blobs, 1 - min(0.03 * s, 0.5))
        hole |= rng.random(z.shape) < np.clip((z - 6.0) / 3.0, 0, 1) + 0.3 * np.clip(
            (0.12 - cos_view) / 0.12, 0, 1) * min(s, 1)
        hole |= z < 0.3
        if self.band:
            hole[:, :self.band] = True
        return np.where(hole, 0.0, z)

    def pose(self, T: np.ndarray) -> np.ndarray:
        self.frame += 1
        R = Rotation.from_rotvec([0, 0, self.yaw_rate * self.frame]).as_matrix()
        out = np.array(T, dtype=np.float64)
        out[:3, :3] = R @ T[:3, :3]
        out[:3, 3] = T[:3, 3] + self.t_rate * self.frame
        return out


def make_sensor(mode: str, K: CameraIntrinsics, strength: float, rng: np.random.Generator
                ) -> Sensor:
    """The sensor of a ``SENSING_MODES`` mode other than 'clean'."""
    if mode == 'realistic':
        return KinectSensor(K, strength, rng)
    if mode == 'heldout':
        return StereoSensor(K, strength, rng)
    raise ValueError(f'sensing mode must be one of {SENSING_MODES[1:]}, got {mode!r}')

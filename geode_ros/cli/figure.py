"""The demo figure (OpenCV only): a top-down view of the fused cloud and a camera view.

Both panels draw true boxes in green and predicted boxes in red; images are BGR uint8.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from geode_ros.scene.types import Box3D, RGBDFrame

GT_BGR, PRED_BGR = (60, 200, 60), (40, 40, 230)
FOOTPRINT = (0, 2, 6, 4)  # Box3D.corners() indices of the bottom face, in polygon order
EDGES = tuple((i, i ^ b) for i in range(8) for b in (1, 2, 4) if i < i ^ b)
FONT = cv2.FONT_HERSHEY_SIMPLEX


def _label(img: np.ndarray, text: str, org: tuple[int, int], color: tuple[int, int, int],
           scale: float = 0.4) -> None:
    """Text with a dark outline so it reads on any background."""
    cv2.putText(img, text, org, FONT, scale, (20, 20, 20), 3, cv2.LINE_AA)
    cv2.putText(img, text, org, FONT, scale, color, 1, cv2.LINE_AA)


def topdown_view(points: np.ndarray, colors: np.ndarray, gt: Sequence[Box3D],
                 pred: Sequence[Box3D], size: int = 480, max_height_m: float = 2.0
                 ) -> np.ndarray:
    """Orthographic view from above (x right, y up); points above ``max_height_m`` over
    the floor (the ceiling) are hidden, higher points are drawn over lower ones."""
    img = np.full((size, size, 3), 32, np.uint8)
    pts = np.asarray(points, np.float64).reshape(-1, 3)
    cols = np.asarray(colors, np.uint8).reshape(-1, 3)
    if len(pts):
        keep = pts[:, 2] <= np.percentile(pts[:, 2], 1.0) + max_height_m
        pts, cols = pts[keep], cols[keep]
    corners = [b.corners()[:, :2] for b in (*gt, *pred)]
    xy = np.concatenate([pts[:, :2], *corners]) if len(pts) or corners else np.zeros((1, 2))
    lo, hi = xy.min(axis=0), xy.max(axis=0)
    margin = 24
    scale = (size - 2 * margin) / max(float((hi - lo).max()), 1e-3)  # px per metre

    def to_px(p: np.ndarray) -> np.ndarray:
        u = margin + (p[..., 0] - lo[0]) * scale
        v = size - margin - (p[..., 1] - lo[1]) * scale
        return np.stack([u, v], axis=-1)

    if len(pts):
        order = np.argsort(pts[:, 2])
        uv = np.round(to_px(pts[order, :2])).astype(np.int64)
        bgr = cols[order][:, ::-1]
        r = max(1, int(round(0.025 * scale)))  # half a 5 cm voxel
        for du in range(-r, r + 1):
            for dv in range(-r, r + 1):
                u = np.clip(uv[:, 0] + du, 0, size - 1)
                v = np.clip(uv[:, 1] + dv, 0, size - 1)
                img[v, u] = bgr
    for boxes, color in ((gt, GT_BGR), (pred, PRED_BGR)):
        for b in boxes:
            poly = np.round(to_px(b.corners()[list(FOOTPRINT), :2])).astype(np.int32)
            cv2.polylines(img, [poly], True, color, 2, cv2.LINE_AA)
            u, v = poly.min(axis=0)
            _label(img, b.label, (int(u), int(max(12, v - 4))), color)
    bar = int(round(scale))  # 1 m scale bar
    cv2.line(img, (margin, size - 10), (margin + bar, size - 10), (230, 230, 230), 2)
    _label(img, '1 m', (margin + bar + 6, size - 6), (230, 230, 230))
    return img


def _project(frame: RGBDFrame, xyz: np.ndarray) -> np.ndarray:
    """World points [N, 3] -> camera coordinates [N, 3]."""
    T = np.linalg.inv(np.asarray(frame.T_world_cam, np.float64))
    return xyz @ T[:3, :3].T + T[:3, 3]


def visible_count(frame: RGBDFrame, boxes: Sequence[Box3D]) -> int:
    """How many box centres lie in front of the camera and inside the image."""
    if not boxes:
        return 0
    c = _project(frame, np.array([np.asarray(b.center, np.float64) for b in boxes]))
    k = frame.intrinsics
    z = np.maximum(c[:, 2], 1e-6)
    u, v = k.fx * c[:, 0] / z + k.cx, k.fy * c[:, 1] / z + k.cy
    return int(np.sum((c[:, 2] > 0.1) & (u >= 0) & (u < k.width) & (v >= 0) & (v < k.height)))


def camera_view(frame: RGBDFrame, gt: Sequence[Box3D], pred: Sequence[Box3D],
                scale: int = 3, near: float = 0.05) -> np.ndarray:
    """The keyframe image (upscaled) with the 3D boxes' edges projected onto it."""
    k = frame.intrinsics
    img = cv2.resize(np.ascontiguousarray(frame.rgb[..., ::-1]),
                     (k.width * scale, k.height * scale), interpolation=cv2.INTER_NEAREST)
    for boxes, color in ((gt, GT_BGR), (pred, PRED_BGR)):
        for b in boxes:
            cam = _project(frame, b.corners())
            drawn = []
            for i, j in EDGES:
                p, q = cam[i], cam[j]
                if p[2] < near and q[2] < near:
                    continue
                if p[2] < near or q[2] < near:  # clip the edge at the near plane
                    a, c = (p, q) if p[2] < near else (q, p)
                    p, q = a + (c - a) * (near - a[2]) / (c[2] - a[2]), c
                uv = [(scale * (k.fx * s[0] / s[2] + k.cx), scale * (k.fy * s[1] / s[2] + k.cy))
                      for s in (p, q)]
                pu, pv = (int(np.clip(x, -1e5, 1e5)) for x in uv[0])
                qu, qv = (int(np.clip(x, -1e5, 1e5)) for x in uv[1])
                cv2.line(img, (pu, pv), (qu, qv), color, 2, cv2.LINE_AA)
                drawn.append(uv)
            if drawn:
                pts = np.array([p for e in drawn for p in e])
                inside = pts[(pts[:, 0] >= 0) & (pts[:, 0] < img.shape[1])
                             & (pts[:, 1] >= 12) & (pts[:, 1] < img.shape[0])]
                if len(inside):
                    u, v = inside[np.argmin(inside[:, 1])]
                    _label(img, b.label, (int(u), int(max(12, v - 4))), color, 0.5)
    return img


def demo_figure(points: np.ndarray, colors: np.ndarray, keyframes: Sequence[RGBDFrame],
                gt_all: Sequence[Box3D], gt_focus: Sequence[Box3D], pred: Sequence[Box3D],
                title: str) -> np.ndarray:
    """Top-down panel (all true boxes + predictions) beside the camera view of the keyframe
    that sees most of the focus boxes (the asked-about true boxes + predictions)."""
    top = topdown_view(points, colors, gt_all, pred)
    panels = [top]
    if keyframes:
        focus = [*gt_focus, *pred] or list(gt_all)
        scores = [visible_count(f, focus) for f in keyframes]
        frame = keyframes[int(np.argmax(scores))]
        cam = camera_view(frame, gt_focus or gt_all, pred)
        cam = cv2.resize(cam, (int(cam.shape[1] * top.shape[0] / cam.shape[0]), top.shape[0]))
        panels.append(cam)
    body = cv2.hconcat(panels)
    head = np.full((34, body.shape[1], 3), 16, np.uint8)
    _label(head, title, (8, 22), (235, 235, 235), 0.55)
    _label(head, 'green: ground truth   red: predicted', (body.shape[1] - 300, 22),
           (235, 235, 235), 0.45)
    return cv2.vconcat([head, body])

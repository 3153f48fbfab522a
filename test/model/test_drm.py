"""Point encoder, patch back-projection and the DRM."""

from __future__ import annotations

import numpy as np
import torch

from geode_ros.model.config import DRMConfig
from geode_ros.model.drm import DecoupledRationaleModule, patch_centres_3d
from geode_ros.model.point_encoder import farthest_point_sample, knn_group


def test_patch_centres_back_projection():
    depth = np.full((40, 40), 2.0, dtype=np.float32)
    depth[:20, :20] = 0.0  # the top-left cell has no depth
    pose = np.eye(4)
    pose[:3, 3] = [1.0, 2.0, 3.0]
    xyz, valid = patch_centres_3d(depth, 20.0, 20.0, 20.0, 20.0, pose, (2, 2))
    assert valid.tolist() == [False, True, True, True]
    # cell (0, 1): centre pixel (30, 10) -> ((30-20)/20*2, (10-20)/20*2, 2) + t
    assert torch.allclose(xyz[1], torch.tensor([2.0, 1.0, 5.0]))
    assert torch.allclose(xyz[3], torch.tensor([2.0, 3.0, 5.0]))


def test_fps_and_knn():
    xyz = torch.tensor([[[0.0, 0, 0], [0.1, 0, 0], [5, 0, 0], [0, 5, 0], [9, 9, 9]]])
    mask = torch.tensor([[True, True, True, True, False]])
    idx = farthest_point_sample(xyz, mask, 3)
    assert sorted(idx[0].tolist()) == [0, 2, 3]  # spread out, never the masked point
    nn = knn_group(xyz, mask, xyz[:, :1], 2)
    assert sorted(nn[0, 0].tolist()) == [0, 1]


def test_drm_shapes_and_empty_inputs():
    cfg = DRMConfig(num_points=64, num_groups=16, k_neighbors=4, width=32, heads=4,
                    point_layers=1, fusion_layers=1, readout_layers=1, num_rationale_queries=5)
    drm = DecoupledRationaleModule(cfg, vision_dim=24, lm_dim=48)
    b = 2
    points = torch.rand(b, 64, 6)
    pmask = torch.ones(b, 64, dtype=torch.bool)
    pmask[1] = False  # an empty cloud
    feats, pxyz = torch.randn(b, 7, 24), torch.randn(b, 7, 3)
    patch_mask = torch.ones(b, 7, dtype=torch.bool)
    patch_mask[0] = False  # no keyframes
    question, qmask = torch.randn(b, 6, 48), torch.ones(b, 6, dtype=torch.bool)
    out = drm(points, pmask, feats, pxyz, patch_mask, torch.zeros(b, 3), question, qmask)
    assert out.shape == (b, 5, 48)
    assert torch.isfinite(out).all()


def _tiny_drm(**kw) -> DecoupledRationaleModule:
    cfg = DRMConfig(num_points=32, num_groups=8, k_neighbors=4, width=32, heads=4,
                    point_layers=1, fusion_layers=1, readout_layers=1, num_rationale_queries=3,
                    dropout=0.0, **kw)
    return DecoupledRationaleModule(cfg, vision_dim=24, lm_dim=48).eval()


def test_question_conditioned_readout_depends_on_question_not_padding():
    torch.manual_seed(0)
    drm = _tiny_drm()
    scene = (torch.rand(1, 32, 6), torch.ones(1, 32, dtype=torch.bool), torch.randn(1, 4, 24),
             torch.randn(1, 4, 3), torch.ones(1, 4, dtype=torch.bool), torch.zeros(1, 3))
    q1, q2 = torch.randn(1, 5, 48), torch.randn(1, 5, 48)
    m5 = torch.ones(1, 5, dtype=torch.bool)
    with torch.no_grad():
        a, b = drm(*scene, q1, m5), drm(*scene, q2, m5)
        padded = torch.cat([q1, torch.randn(1, 3, 48)], dim=1)  # 3 padding tokens of junk
        c = drm(*scene, padded, torch.cat([m5, torch.zeros(1, 3, dtype=torch.bool)], dim=1))
    assert not torch.allclose(a, b, atol=1e-4)  # another question, other rationale tokens
    assert torch.allclose(a, c, atol=1e-5)  # padding is ignored


def test_unconditioned_drm_needs_no_question_and_conditioned_one_says_so():
    import pytest

    from geode_ros.errors import GeodeError

    scene = (torch.rand(1, 32, 6), torch.ones(1, 32, dtype=torch.bool), torch.randn(1, 4, 24),
             torch.randn(1, 4, 3), torch.ones(1, 4, dtype=torch.bool), torch.zeros(1, 3))
    plain = _tiny_drm(question_conditioned=False)
    assert plain.question_in is None and plain(*scene).shape == (1, 3, 48)
    with pytest.raises(GeodeError, match='question-conditioned'):
        _tiny_drm()(*scene)


def test_cloud_extent_is_the_percentile_range_of_valid_points():
    from geode_ros.model.drm import cloud_extent

    rng = np.random.default_rng(0)
    xyz = torch.from_numpy(rng.uniform(-1, 1, (2, 200, 3)).astype(np.float32))
    xyz = xyz * torch.tensor([3.0, 2.0, 1.0])
    mask = torch.ones(2, 200, dtype=torch.bool)
    mask[0, 150:] = False
    xyz[0, 150:] = 1e3  # junk behind the mask
    mask[1] = False  # an empty cloud
    ext = cloud_extent(xyz, mask, 2.0)
    valid = xyz[0, :150].numpy()
    ref = np.percentile(valid, 98, axis=0) - np.percentile(valid, 2, axis=0)
    assert np.allclose(ext[0].numpy(), ref, rtol=1e-4)
    torch.testing.assert_close(ext[1], torch.zeros(3))


def test_scene_extent_token_feeds_the_rationale_tokens():
    torch.manual_seed(0)
    scene = (torch.rand(1, 32, 6), torch.ones(1, 32, dtype=torch.bool), torch.randn(1, 4, 24),
             torch.randn(1, 4, 3), torch.ones(1, 4, dtype=torch.bool), torch.zeros(1, 3))
    question = (torch.randn(1, 5, 48), torch.ones(1, 5, dtype=torch.bool))
    drm = _tiny_drm()
    drm(*scene, *question).square().sum().backward()
    assert drm.extent_pe.proj.weight.grad.abs().sum() > 0
    plain = _tiny_drm(scene_extent_token=False)
    assert plain.extent_pe is None and plain(*scene, *question).shape == (1, 3, 48)

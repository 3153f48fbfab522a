"""Answer targets, special tokens, DRH encode/decode, quantised linears."""

from __future__ import annotations

import math

import pytest
import torch

from geode_ros.errors import GeodeError
from geode_ros.model.config import DRHConfig
from geode_ros.model.drh import DirectRegressionHead, aligned_iou, render_value
from geode_ros.model.prompt import BOX, PROGRAM, REG, answer_target, choice_text
from geode_ros.query.vsi_templates import split_options


def test_options_are_read_from_the_question_lines():
    q = 'Which of these objects (sofa, trash can) is closest to the bed?\nA. sofa\nB. trash can'
    assert split_options(q) == [('A', 'sofa'), ('B', 'trash can')]
    assert split_options('How many chair(s) are in this room?') == []
    assert split_options('Which one?\nB. sofa\nC. lamp') == []  # letters must run A, B, ...
    assert choice_text(q, 'B') == choice_text(q, 'b.') == 'trash can'
    assert choice_text(q, 'lamp') == 'lamp'  # not a listed letter: the answer as given
    assert answer_target('object_rel_distance', 'B', question=q,
                         choice_answer='option_text') == 'trash can'
    assert answer_target('object_rel_distance', 'B', question=q, choice_answer='letter') == 'B'


def test_answer_targets():
    assert answer_target(PROGRAM, ' count(chair) ') == 'count(chair)'
    assert answer_target('object_abs_distance') == REG
    assert answer_target('grounding_3d') == BOX
    assert answer_target('object_rel_direction', ' left ') == 'left'
    with pytest.raises(GeodeError):
        answer_target('object_rel_direction', None)


def test_drh_value_round_trip():
    drh = DirectRegressionHead(DRHConfig(hidden=32), 16)
    values = torch.tensor([1.0, 2.5, 35.0, 180.0, 0.4, 12.0])
    types = torch.tensor([0, 1, 2, 2, 1, 3])
    z = drh.encode_value(values, types)
    assert z.abs().max() < 4  # normalised
    assert torch.allclose(drh.decode_value(z, types), values, rtol=1e-5)
    drh.fit_value_stats('object_abs_distance', torch.tensor([1.0, 2.0, 4.0]))
    assert math.isclose(float(drh.log_mean[1]), math.log(2.0), rel_tol=1e-5)
    z = drh.encode_value(values, types)
    assert torch.allclose(drh.decode_value(z, types), values, rtol=1e-5)


def test_drh_histogram_target_is_a_smoothed_peak_at_the_value():
    drh = DirectRegressionHead(DRHConfig(hidden=32, value_bins=16, value_bin_range=4.0), 8)
    soft = drh.histogram_target(torch.tensor([0.0, 1.3, -9.0]))
    assert torch.allclose(soft.sum(-1), torch.ones(3))
    centres = drh.bin_centres
    assert float(centres[soft[1].argmax()]) == pytest.approx(1.25)  # the bin holding 1.3
    assert int(soft[2].argmax()) == 0  # out of range: the edge bin
    assert float(soft[0, 7]) == pytest.approx(float(soft[0, 8]), abs=1e-6)  # 0 sits on a bin edge


def test_drh_mra_decode_maximises_expected_mra_of_the_histogram():
    """The decoded value beats every other candidate on the histogram's expected MRA,
    computed here with the metric itself (a two-peaked, skewed distribution)."""
    import numpy as np

    from geode_ros.data.metrics import mean_relative_accuracy

    drh = DirectRegressionHead(DRHConfig(hidden=32, value_bins=32), 8)
    t = torch.tensor([1])  # object_abs_distance
    logits = torch.full((1, 32), -20.0)
    logits[0, 4], logits[0, 20] = 0.0, math.log(1.5)  # 40% near 0, 60% typical distances
    probs = logits.softmax(-1)
    z = drh._mra_decode(probs, drh.log_std[t])
    truths = drh.decode_value(drh.bin_centres, t.expand(32)).numpy()

    def expected(z_pred: float) -> float:
        v = float(drh.decode_value(torch.tensor([z_pred]), t))
        return float(np.dot(probs[0].numpy(), [mean_relative_accuracy(v, g) for g in truths]))

    grid = np.linspace(-4, 4, 161)
    assert expected(float(z)) >= max(expected(g) for g in grid) - 1e-6
    assert expected(float(z)) > expected(float((probs[0] * drh.bin_centres).sum()))  # > mean
    one_peak = torch.full((1, 32), -30.0)
    one_peak[0, 11] = 0.0  # a confident histogram decodes to its peak
    assert float(drh._mra_decode(one_peak.softmax(-1), drh.log_std[t])) == pytest.approx(
        float(drh.bin_centres[11]))


def test_drh_value_config_is_checked():
    with pytest.raises(GeodeError, match='value_decode'):
        DirectRegressionHead(DRHConfig(value_decode='median'), 8)
    with pytest.raises(GeodeError, match='value_bins'):
        DirectRegressionHead(DRHConfig(value_bins=0), 8)
    plain = DirectRegressionHead(DRHConfig(hidden=16, value_bins=0, value_decode='mean'), 8)
    h, t = torch.randn(3, 8), torch.tensor([0, 1, 2])
    z, logits = plain.value_outputs(h, t)
    assert logits.shape == (3, 0) and torch.allclose(plain.predict_value(h, t), z, atol=1e-6)
    assert float(plain.value_loss(z, logits, z.detach())) == pytest.approx(0.0)


def test_drh_box_round_trip_and_loss():
    drh = DirectRegressionHead(DRHConfig(hidden=32), 16)
    boxes = torch.tensor([[1.0, -2.0, 0.5, 0.4, 0.8, 1.2, 0.3],
                          [3.0, 0.0, 1.0, 2.0, 0.1, 0.5, -2.5]])
    centre = torch.tensor([[0.5, 0.5, 0.5], [1.0, 1.0, 1.0]])
    z = drh.encode_box(boxes, centre)
    assert z.shape == (2, 8)
    assert torch.allclose(drh.decode_box(z, centre), boxes, atol=1e-5)
    assert float(drh.box_loss(z, z)) == pytest.approx(0.0, abs=1e-6)
    assert torch.allclose(aligned_iou(boxes, boxes), torch.ones(2))
    pred = drh.predict_box(torch.randn(2, 16, requires_grad=True))
    drh.box_loss(pred, z).backward()


def test_render_value():
    assert render_value('object_count', 3.4) == '3'
    assert render_value('object_abs_distance', 1.503) == '1.50'
    assert render_value('object_size_estimation', 81.6) == '82'
    assert render_value('room_size_estimation', 20.04) == '20.0'


@pytest.mark.parametrize('bits,tol', [(8, 0.01), (4, 0.15)])
def test_quantized_linear_error(bits, tol):
    from geode_ros.model.quantize import QuantizedLinear, tensor_bytes

    torch.manual_seed(0)
    lin = torch.nn.Linear(256, 96)
    q = QuantizedLinear.from_linear(lin, bits, group_size=32)
    x = torch.randn(10, 256)
    ref, out = lin(x), q(x)
    rel = ((out - ref).norm(dim=1) / ref.norm(dim=1)).max()
    assert rel < tol
    qbytes = tensor_bytes(q.qweight) + tensor_bytes(q.scale)
    bf16 = lin.weight.numel() * 2
    assert qbytes / bf16 <= (0.55 if bits == 8 else 0.35)

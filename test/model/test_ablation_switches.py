"""Ablation switches: no DRM (no <spatio> slots) and digit-token decoding instead of the DRH."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from geode_ros.errors import GeodeError
from geode_ros.model.batch import prepare_batch
from geode_ros.model.checkpoint import save_pretrained
from geode_ros.model.config import ObjectConfig
from geode_ros.model.drh import parse_box, parse_value, render_box, render_value
from geode_ros.model.prompt import BOX, REG, SPATIO, answer_target


def test_render_parse_round_trip():
    box = [0.5, -0.2, 0.8, 0.1, 0.25, 1.2, math.radians(-30)]
    assert parse_box(render_box(box)) == pytest.approx(box, abs=1e-6)
    assert parse_box('somewhere near the door') is None
    assert parse_value(render_value('object_abs_distance', 1.5)) == 1.5
    assert parse_value(render_value('object_count', 4.2)) == 4.0
    assert parse_value('nan') is None
    assert answer_target('object_abs_distance', value=1.5, numeric_output='digits') == '1.50'
    assert answer_target('grounding_3d', box=box, numeric_output='digits') == render_box(box)
    assert answer_target('object_count', value=3.0) == REG
    assert answer_target('grounding_3d', box=box) == BOX
    with pytest.raises(GeodeError, match='needs a box'):
        answer_target('grounding_3d', numeric_output='digits')


def test_without_drm_prompt_has_no_spatio_and_model_runs(make_model, samples):
    m = make_model('qwen2_vl', use_drm=False)
    assert m.num_spatio == 0
    b1 = prepare_batch(m, samples, stage=2, seed=0)
    assert not bool((b1.input_ids == m.token_ids[SPATIO]).any())
    with pytest.raises(GeodeError, match='use_drm'):
        m.set_stage(1)
    m.set_stage(2)
    assert not any(p.requires_grad for p in m.drm.parameters())
    s2 = dataclasses.replace(samples[0], points=samples[0].points * 2.0 + 1.0)
    out = m(b1, return_logits=True)
    out.loss.backward()
    assert out.value_loss > 0 and out.box_loss > 0
    with torch.no_grad():  # the point cloud no longer reaches the LLM at all
        l1 = m(prepare_batch(m, [samples[0]], seed=0), return_logits=True).logits
        l2 = m(prepare_batch(m, [s2], seed=0), return_logits=True).logits
    torch.testing.assert_close(l1, l2)  # equal up to float32 rounding
    m.eval()
    gens = m.generate(prepare_batch(m, samples, train=False, seed=0), max_new_tokens=3)
    assert len(gens) == 3 and gens[0].timings['drm'] >= 0


def test_digits_trains_on_spelled_targets_and_generate_parses_them(make_model, samples):
    # object tokens off: this is about the LLM's own digits, and it keeps the overfit fast
    m = make_model('qwen2_vl', numeric_output='digits', objects=ObjectConfig(enabled=False))
    dist = dataclasses.replace(
        samples[0], question='What is the direct distance between the sofa and the lamp '
        '(in meters)?', qtype='object_abs_distance', value=1.5)
    train = [dist, samples[1], samples[2]]
    batch = prepare_batch(m, train, stage=2, seed=0)
    ids = batch.input_ids
    assert not bool(((ids == m.token_ids[REG]) | (ids == m.token_ids[BOX])).any())
    target = m.tokenizer.decode(ids[0][batch.labels[0] != -100], skip_special_tokens=True)
    assert target.strip() == '1.50'
    box_text = render_box([*samples[1].box.center, *samples[1].box.size, samples[1].box.yaw])
    assert m.tokenizer.decode(ids[1][batch.labels[1] != -100],
                              skip_special_tokens=True).strip() == box_text
    m.set_stage(2)
    assert not any(p.requires_grad for p in m.drh.parameters())  # the DRH is unused
    opt = torch.optim.Adam(m.trainable_parameters(), lr=5e-3)
    for _ in range(300):  # until the three targets are memorised
        opt.zero_grad()
        out = m(batch)
        out.loss.backward()
        opt.step()
        if out.ce_loss < 0.002:
            break
    assert float(out.value_loss.detach()) == 0.0 and float(out.box_loss.detach()) == 0.0
    m.eval()
    gens = m.generate(prepare_batch(m, train, train=False, seed=0))
    assert gens[0].text == '1.50' and gens[0].values == [1.5]
    assert gens[1].text == box_text
    assert gens[1].boxes[0] == pytest.approx([0.5, -0.2, 0.8, 0.1, 0.1, 0.12, 0.4], abs=0.01)
    assert gens[2].text == 'left' and not gens[2].values and not gens[2].boxes


def test_checkpoint_round_trip_keeps_switches(make_model, samples, tmp_path):
    from geode_ros.model.geode import GeodeModel

    m = make_model('qwen2_vl', use_drm=False, numeric_output='digits')
    save_pretrained(m, tmp_path / 'ck')
    m2 = GeodeModel.from_pretrained(tmp_path / 'ck')
    assert m2.config.use_drm is False and m2.config.numeric_output == 'digits'
    b = prepare_batch(m2, samples, stage=2, seed=0)
    assert not bool((b.input_ids == m2.token_ids[SPATIO]).any())
    with torch.no_grad():
        assert torch.allclose(m(b).loss, m2(b).loss, atol=1e-5)
    with pytest.raises(GeodeError, match='numeric_output'):
        make_model('qwen2_vl', numeric_output='words')

"""GeodeModel on three real architectures: injection, KV cache, stages, DRH decoding."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from geode_ros.errors import GeodeError
from geode_ros.model.batch import prepare_batch
from geode_ros.model.config import ObjectConfig
from geode_ros.model.decode import prefill, step
from geode_ros.model.drh import render_value
from geode_ros.model.prompt import BOX, GEODE_TOKENS, REG, SPATIO
from geode_ros.model.tiny import ARCHITECTURES


@pytest.mark.parametrize('arch', ARCHITECTURES)
def test_special_tokens(make_model, arch):
    m = make_model(arch)
    for t in GEODE_TOKENS:
        ids = m.tokenizer(t, add_special_tokens=False)['input_ids']
        assert ids == [m.token_ids[t]]
    assert m.adapter.embed_tokens.num_embeddings >= len(m.tokenizer)
    assert m.adapter.lm_head.out_features >= len(m.tokenizer)


@pytest.mark.parametrize('arch', ARCHITECTURES)
def test_point_cloud_reaches_llm_only_through_spatio_slots(make_model, samples, arch):
    m = make_model(arch)
    s1 = samples[0]
    s2 = dataclasses.replace(s1, points=s1.points * 2.0 + 1.0)
    b1 = prepare_batch(m, [s1], seed=0)
    b2 = prepare_batch(m, [s2], seed=0)
    assert torch.equal(b1.input_ids, b2.input_ids)
    with torch.no_grad():
        e1, e2 = m.embed_inputs(b1), m.embed_inputs(b2)
        spatio = b1.input_ids == m.token_ids[SPATIO]
        assert int(spatio.sum()) == m.config.drm.num_rationale_queries
        changed = (e1 - e2).abs().amax(-1) > 1e-5  # [B, T], above float32 rounding
        assert torch.equal(changed, spatio)  # nothing else in the prompt changed
        text = ~spatio & (b1.input_ids != m.adapter.image_token_id)
        assert torch.equal(e1[text], m.adapter.embed_tokens(b1.input_ids)[text])
        l1 = m(b1, return_logits=True).logits
        l2 = m(b2, return_logits=True).logits
    first = int(spatio[0].nonzero()[0])
    # causal: before the slots, the same up to float32 rounding
    torch.testing.assert_close(l1[:, :first], l2[:, :first])
    assert (l1[:, first:] - l2[:, first:]).abs().max() > 1e-4  # after: the cloud matters


@pytest.mark.parametrize('arch', ARCHITECTURES)
def test_kv_cache_matches_full_forward(make_model, samples, arch):
    m = make_model(arch)
    s = samples[1]
    full = prepare_batch(m, [s], train=True, seed=0)
    prompt = prepare_batch(m, [s], train=False, seed=0)
    n = prompt.input_ids.shape[1]
    with torch.no_grad():
        ref = m(full, return_logits=True).logits[0]  # [T, V]
        state = prefill(m, prompt)
        logits = [m.adapter.lm_head(state.hidden)[0]]
        for tok in full.input_ids[0, n:]:
            state = step(m, state, tok.view(1))
            logits.append(m.adapter.lm_head(state.hidden)[0])
    assert torch.allclose(torch.stack(logits), ref[n - 1:], atol=1e-4)


def _grads(m) -> dict[str, torch.Tensor]:
    return {n: p.grad for n, p in m.named_parameters()
            if p.grad is not None and p.grad.abs().sum() > 0}


@pytest.mark.parametrize('arch', ARCHITECTURES)
def test_stage_gradients(make_model, samples, arch):
    m = make_model(arch)
    m.set_stage(1)
    m(prepare_batch(m, samples, stage=1, seed=0)).loss.backward()
    g = _grads(m)
    assert g and all(n.startswith('drm.') for n in g)
    assert {n for n, p in m.named_parameters() if p.requires_grad} == \
        {n for n, _ in m.drm.named_parameters(prefix='drm')}
    m.zero_grad(set_to_none=True)
    m.set_stage(2)
    out = m(prepare_batch(m, samples, stage=2, seed=0))
    assert out.value_loss > 0 and out.box_loss > 0
    out.loss.backward()
    g = _grads(m)
    assert not any(n.startswith('drm.') for n in g)
    assert any(n.startswith('drh.reg') for n in g) and any(n.startswith('drh.box') for n in g)
    assert any('language_model.layers' in n for n in g)
    vision = {id(p) for mod in m.adapter.vision_modules() for p in mod.parameters()}
    assert not any(id(p) in vision for n, p in m.named_parameters() if n in g)


def test_stage2_lora_trains_adapters_and_new_token_rows(make_model, samples):
    from geode_ros.model.config import LoraConfig

    m = make_model('qwen2_vl', lora=LoraConfig(enabled=True, rank=4, alpha=8, dropout=0.0))
    m.set_stage(2)
    m(prepare_batch(m, samples, stage=2, seed=0)).loss.backward()
    g = _grads(m)
    base = [n for n in g if n.startswith('vlm.') and 'lora_' not in n]
    assert any('lora_' in n for n in g)
    assert all(n.endswith(('embed_tokens.weight', 'lm_head.weight')) for n in base)
    rows = torch.tensor([m.token_ids[t] for t in GEODE_TOKENS])
    grad = m.adapter.lm_head.weight.grad
    others = torch.ones(grad.shape[0], dtype=torch.bool)
    others[rows] = False
    assert grad[rows].abs().sum() > 0 and grad[others].abs().sum() == 0


@pytest.mark.parametrize('arch', ARCHITECTURES)
def test_generation_renders_drh_values(make_model, samples, arch):
    """Overfit three samples; decoding must emit <reg>/<box> and render DRH outputs (the
    LLM's own reading: object tokens off, so grounding is not answered from detections)."""
    m = make_model(arch, objects=ObjectConfig(enabled=False))
    m.drh.cfg.box_iou_weight = 0.0  # pure L2: a clear convergence criterion
    m.set_stage(2)
    batch = prepare_batch(m, samples, stage=2, seed=0)
    # the value loss cannot fall below the histogram term's floor, the smoothed target's entropy
    q = m.drh.histogram_target(m.drh.encode_value(batch.value_target[:1], batch.value_type[:1]))
    floor = m.drh.cfg.value_hist_weight * float(-(q * q.clamp_min(1e-12).log()).sum())
    opt = torch.optim.Adam(m.trainable_parameters(), lr=5e-3)
    for _ in range(250):  # until memorised (usually 30-70 steps; lr 5e-3 wobbles)
        opt.zero_grad()
        out = m(batch)
        out.loss.backward()
        opt.step()
        if out.ce_loss < 0.05 and out.value_loss < floor + 0.01 and out.box_loss < 0.005:
            break
    m.eval()
    gens = m.generate(prepare_batch(m, samples, train=False, seed=0), max_new_tokens=4)
    assert m.token_ids[REG] in gens[0].token_ids and len(gens[0].values) == 1
    assert gens[0].text == render_value('object_count', gens[0].values[0])
    assert gens[0].values[0] == pytest.approx(4.0, rel=0.25)
    assert m.token_ids[BOX] in gens[1].token_ids and len(gens[1].boxes) == 1
    assert gens[1].text.startswith('center (')
    assert gens[1].boxes[0][:3] == pytest.approx([0.5, -0.2, 0.8], abs=0.5)
    assert gens[2].text == 'left' and not gens[2].values
    assert set(gens[0].timings) == {'drm', 'prefill', 'decode'}


@pytest.mark.parametrize('arch', ARCHITECTURES)
def test_answer_on_snapshot(make_model, snapshot, arch):
    from geode_ros.scene.types import SceneReasoner

    m = make_model(arch)
    assert isinstance(m, SceneReasoner)
    snap = snapshot
    snap.keyframes[0].features = m.encode_keyframe(snap.keyframes[0].frame)  # engine cache
    a = m.answer('Where is the mug? Answer with a 3D box.', snap)
    assert a.question_type == 'grounding_3d' and a.program['program'] == 'where(mug)'
    assert a.frame_id == 'map' and a.stamp == 12.5
    assert set(a.timings) >= {'parse', 'memory', 'execute'}
    # the untrained model detects nothing: not found, no box, and the LLM is not run
    assert a.boxes == [] and a.status == 'not_found' and a.text == 'No mug found in this scene.'
    assert 'decode' not in a.timings
    count = m.answer('How many mugs are there?', snap)  # never guessed: 0, as where says
    assert count.values == [0.0] and count.status == 'ok' and 'decode' not in count.timings
    # a benchmark distance over a missing object: the LLM + DRH estimate it, and say so
    d = m.answer('How far is the sofa from the tv?', snap)
    assert d.status == 'estimated' and len(d.values) == 1 and d.units == ['m']
    assert d.text.endswith(' m (estimated: no sofa and no tv found in this scene)')
    assert {'prefill', 'decode'} <= set(d.timings)
    with pytest.raises(GeodeError, match='cannot parse'):
        m.answer('Sing a song.', snap)
    empty = dataclasses.replace(snap, points=snap.points[:0], colors=snap.colors[:0],
                                keyframes=[])
    with pytest.raises(GeodeError, match='empty'):
        m.answer('How many chair(s) are in this room?', empty)


@pytest.mark.parametrize('arch', ARCHITECTURES)
def test_choices_are_answered_by_option_likelihood(make_model, samples, arch):
    """The decode's option scores equal the teacher-forced log-likelihood of each option
    as the training target, also for a row left-padded beside longer prompts."""
    from geode_ros.model.batch import GeodeSample

    m = make_model(arch)
    opts = ['sofa', 'trash can', 'lamp']
    q = ('Measuring from the closest point of each object, which of these objects (sofa, '
         'trash can, lamp) is the closest to the bed?\nA. sofa\nB. trash can\nC. lamp')
    choice = GeodeSample(q, samples[0].points, samples[0].colors, list(samples[0].keyframes))
    gens = m.generate(prepare_batch(m, [*samples, choice], train=False, seed=0))
    ref = []
    for letter in 'ABC':
        b = prepare_batch(m, [*samples, dataclasses.replace(choice, answer=letter)], seed=0)
        with torch.no_grad():
            logits = m(b, return_logits=True).logits[-1, :-1].float()
        lab = b.labels[-1, 1:]
        sel = lab != -100
        ref.append(float(logits[sel].log_softmax(-1).gather(1, lab[sel, None]).sum()))
    assert gens[-1].option_logprobs == pytest.approx(ref, abs=2e-3)
    # the decode picks the best of its own scores (ref may tie within float rounding)
    best = max(range(3), key=gens[-1].option_logprobs.__getitem__)
    assert gens[-1].extras['llm'][0] == f"{'ABC'[best]}. {opts[best]}"
    # nothing is detected by the untrained model, so that reading is the (marked) answer
    assert gens[-1].text == f"{'ABC'[best]}. {opts[best]} (estimated: no bed found in this " \
        'scene)'
    assert 'option_scoring' in gens[-1].timings
    assert gens[0].option_logprobs == []  # other rows decode as before
    m.config.choice_answer = 'letter'  # the letter protocol decodes greedily
    gen = m.generate(prepare_batch(m, [choice], train=False, seed=0))[0]
    assert gen.option_logprobs == [] and 'option_scoring' not in gen.timings

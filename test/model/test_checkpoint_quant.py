"""Checkpoint round trip, tamper / wrong-architecture errors, LLM quantisation."""

from __future__ import annotations

import json

import pytest
import torch

from geode_ros.errors import GeodeError
from geode_ros.model.batch import prepare_batch
from geode_ros.model.checkpoint import load_weights, save_pretrained
from geode_ros.model.config import LoraConfig
from geode_ros.model.geode import GeodeModel
from geode_ros.model.quantize import QuantizedLinear, llm_linear_bytes, quantize_llm


@pytest.fixture(scope='module')
def saved(tiny_dirs, small_config, tmp_path_factory):
    """A stage-2 LoRA-tuned qwen2_vl model (merged on save) and its checkpoint dir."""
    cfg = small_config()
    cfg.lora = LoraConfig(enabled=True, rank=4, alpha=8, dropout=0.0)
    torch.manual_seed(0)
    m = GeodeModel.from_vlm(tiny_dirs['qwen2_vl'], cfg)
    m.set_stage(2)
    for _, mod in m.named_modules():  # make the adapters non-trivial
        if hasattr(mod, 'lora_B'):
            for p in mod.lora_B.parameters():
                p.data.normal_(0, 0.05)
    out = tmp_path_factory.mktemp('ckpt') / 'geode'
    save_pretrained(m, out)
    return m, out


def _logits(m, samples):
    with torch.no_grad():
        return m(prepare_batch(m, samples, seed=0), return_logits=True).logits


def test_round_trip(saved, samples):
    m, path = saved
    assert not m.lora_active  # merged at save
    names = {p.name for p in path.iterdir()}
    assert {'config.json', 'model.safetensors', 'manifest.json', 'tokenizer.json'} <= names
    m2 = GeodeModel.from_pretrained(path)
    sd1, sd2 = m.state_dict(), m2.state_dict()
    assert sd1.keys() == sd2.keys() and all(torch.equal(sd1[k], sd2[k]) for k in sd1)
    assert m2.token_ids == m.token_ids
    # Same weights, recomputed: equal up to float32 rounding (kernels differ by CPU/threads).
    torch.testing.assert_close(_logits(m, samples), _logits(m2, samples))
    m3 = GeodeModel.from_pretrained(path, dtype='bfloat16')
    assert m3.adapter.embed_tokens.weight.dtype == torch.bfloat16
    assert torch.isfinite(_logits(m3, samples).float()).all()


@pytest.mark.parametrize('how', ['truncate', 'flip'])
def test_tampered_checkpoint_fails(saved, tmp_path, how):
    import shutil

    _, path = saved
    bad = tmp_path / 'bad'
    shutil.copytree(path, bad)
    f = bad / 'model.safetensors'
    data = bytearray(f.read_bytes())
    if how == 'truncate':
        data = data[: len(data) // 2]
    else:
        data[-100] ^= 0xFF
    f.write_bytes(bytes(data))
    with pytest.raises(GeodeError, match='model.safetensors'):
        GeodeModel.from_pretrained(bad)
    (bad / 'manifest.json').unlink()
    with pytest.raises(GeodeError, match='manifest.json'):
        GeodeModel.from_pretrained(bad)


def test_wrong_architecture_fails(saved, make_model):
    _, path = saved
    other = make_model('internvl')
    with pytest.raises(GeodeError, match='Qwen2VLForConditionalGeneration.*InternVL'):
        load_weights(other, path)
    meta = json.loads((path / 'config.json').read_text())
    assert meta['architecture'] == 'Qwen2VLForConditionalGeneration'


@pytest.mark.parametrize('mode,ratio,tol', [('int8', 0.55, 0.05), ('int4', 0.35, 0.5)])
def test_quantize_llm(saved, samples, mode, ratio, tol):
    _, path = saved
    ref_model = GeodeModel.from_pretrained(path)
    fp32_bytes = llm_linear_bytes(ref_model)
    q = GeodeModel.from_pretrained(path, quantization=mode)
    assert q.quantization == f'{mode}:portable'
    assert llm_linear_bytes(q) / (fp32_bytes / 2) <= ratio  # vs bf16
    layers = q.adapter.language_model.layers
    assert any(isinstance(x, QuantizedLinear) for x in layers.modules())
    assert not any(isinstance(x, torch.nn.Linear) for x in layers.modules())
    for part in [q.drm, q.drh, *q.adapter.vision_modules(), q.adapter.lm_head]:
        assert not any(isinstance(x, QuantizedLinear) for x in part.modules())
    ref, out = _logits(ref_model, samples), _logits(q, samples)
    rel = ((out - ref).norm(dim=-1) / ref.norm(dim=-1)).max()
    assert rel < tol
    with pytest.raises(GeodeError, match='already quantised'):
        quantize_llm(q, 'int8')

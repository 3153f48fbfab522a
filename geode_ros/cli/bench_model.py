"""``geode-bench model``: DRH vs digit decoding, quantised memory/error, latency breakdown.

Runs on one tiny-but-not-trivial random Qwen2-VL (LLM hidden 512 x 8 layers by default),
built offline, so the figures measure the code paths, not answer quality.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument('--json', dest='json_out', default=None, help='write results here')
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu',
                        help='cpu or cuda')
    parser.add_argument('--arch', default='qwen2_vl', help='qwen2_vl, qwen2_5_vl or internvl')
    parser.add_argument('--hidden', type=int, default=512, help='LLM hidden size')
    parser.add_argument('--layers', type=int, default=8, help='LLM layers')
    parser.add_argument('--repeats', type=int, default=20, help='timing repeats')


def _scene(rng: np.random.Generator, n_frames: int = 2):
    from geode_ros.scene.types import CameraIntrinsics, Keyframe, RGBDFrame, SceneSnapshot

    k = CameraIntrinsics(fx=300.0, fy=300.0, cx=160.0, cy=120.0, width=320, height=240)
    kfs = []
    for i in range(n_frames):
        pose = np.eye(4)
        pose[:3, 3] = [0.3 * i, 0.0, 0.0]
        rgb = (rng.random((240, 320, 3)) * 255).astype(np.uint8)
        depth = rng.uniform(0.5, 4.0, (240, 320)).astype(np.float32)
        kfs.append(Keyframe(RGBDFrame(rgb, depth, k, pose), i))
    pts = rng.uniform(-3, 3, (20000, 3)).astype(np.float32)
    return SceneSnapshot(pts, rng.integers(0, 255, (20000, 3)).astype(np.uint8), kfs, 'map', 0.0)


def _timed(fn, device: torch.device, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        if device.type == 'cuda':
            torch.cuda.synchronize(device)
        t0 = time.perf_counter()
        fn()
        if device.type == 'cuda':
            torch.cuda.synchronize(device)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


@torch.no_grad()
def _drh_vs_digits(model, batch, repeats: int) -> dict:
    """Decode cost of a numeric answer: <reg> + DRH vs spelling '1.503' token by token."""
    from geode_ros.model.decode import prefill, step
    from geode_ros.model.prompt import REG

    dev = model.device
    spatio = model.spatio_embeddings(batch)
    reg = torch.tensor([model.token_ids[REG]], device=dev)
    digits = model.tokenizer('1.503', add_special_tokens=False)['input_ids']
    digit_ids = [torch.tensor([d], device=dev) for d in digits]
    states = {}

    def fresh():
        states['s'] = prefill(model, batch, spatio)

    def drh_path():
        s = states['s']
        model.adapter.lm_head(s.hidden).argmax(-1)  # emits <reg>
        s = step(model, s, reg)
        model.drh.decode_value(model.drh.predict_value(s.hidden, batch.value_type),
                               batch.value_type)
        model.adapter.lm_head(s.hidden).argmax(-1)  # emits end of turn

    def digit_path():
        s = states['s']
        model.adapter.lm_head(s.hidden).argmax(-1)
        for d in digit_ids:
            s = step(model, s, d)
            model.adapter.lm_head(s.hidden).argmax(-1)

    t_drh = _paired(fresh, drh_path, dev, repeats)
    t_dig = _paired(fresh, digit_path, dev, repeats)
    return {'drh_decode_steps': 1, 'digit_decode_steps': len(digits),
            'drh_numeric_latency_s': t_drh, 'digit_numeric_latency_s': t_dig,
            'drh_vs_digits_latency_ratio': t_drh / t_dig}


def _paired(setup, fn, device, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        setup()
        times.append(_timed(fn, device, 1))
    return statistics.median(times)


@torch.no_grad()
def _quantisation(path: Path, device: str, dtype: str, batch_cpu) -> dict:
    from geode_ros.model.geode import GeodeModel
    from geode_ros.model.quantize import llm_linear_bytes

    ref = GeodeModel.from_pretrained(path, device=device, dtype=dtype)
    numel = sum(m.weight.numel() for m in ref.adapter.language_model.layers.modules()
                if isinstance(m, torch.nn.Linear))
    batch = batch_cpu.to(device)
    ref_logits = ref(batch, return_logits=True).logits.float()
    out = {'fp32_llm_linear_bytes': numel * 4, 'bf16_llm_linear_bytes': numel * 2}
    for mode in ('int8', 'int4'):
        q = GeodeModel.from_pretrained(path, device=device, dtype=dtype, quantization=mode)
        logits = q(batch, return_logits=True).logits.float()
        rel = ((logits - ref_logits).norm(dim=-1) / ref_logits.norm(dim=-1)).max()
        nbytes = llm_linear_bytes(q)
        out.update({f'{mode}_llm_linear_bytes': nbytes,
                    f'{mode}_vs_bf16_memory_ratio': nbytes / (numel * 2),
                    f'{mode}_vs_fp32_memory_ratio': nbytes / (numel * 4),
                    f'{mode}_max_rel_error': float(rel), f'{mode}_backend': q.quantization})
        del q
    return out


def run(args: argparse.Namespace) -> dict:
    """Run the benchmark; print a summary; return (and optionally write) the figures."""
    from geode_ros.model.batch import GeodeSample, prepare_batch
    from geode_ros.model.checkpoint import save_pretrained
    from geode_ros.model.config import GeodeConfig
    from geode_ros.model.geode import GeodeModel
    from geode_ros.model.tiny import build_tiny_vlm

    device = torch.device(args.device)
    dtype = 'bfloat16' if device.type == 'cuda' else 'float32'
    rng = np.random.default_rng(0)
    torch.manual_seed(0)
    res: dict = {'device': torch.cuda.get_device_name(device) if device.type == 'cuda'
                 else 'cpu', 'arch': args.arch, 'llm_hidden': args.hidden,
                 'llm_layers': args.layers, 'dtype': dtype}
    with tempfile.TemporaryDirectory() as tmp:
        vlm_dir = build_tiny_vlm(args.arch, Path(tmp) / 'vlm', hidden=args.hidden,
                                 layers=args.layers, vision_depth=4, image_size=224)
        model = GeodeModel.from_vlm(vlm_dir, GeodeConfig(dtype=dtype, device=args.device))
        scene = _scene(rng)
        # (c) end-to-end query, vision features not cached (as at keyframe insertion)
        q = 'How many chair(s) are in this room?'
        model.answer(q, scene)  # warm-up
        runs = [model.answer(q, scene).timings for _ in range(3)]
        res['latency_s'] = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
        sample = GeodeSample(q, scene.points, scene.colors,
                             [model.encode_keyframe(k.frame) for k in scene.keyframes])
        batch = prepare_batch(model, [sample], train=False, seed=0).to(device)
        res.update(_drh_vs_digits(model, batch, args.repeats))  # (a)
        ckpt = save_pretrained(model, Path(tmp) / 'geode')
        del model
        res.update(_quantisation(ckpt, args.device, dtype,  # (b)
                                 prepare_batch_cpu(ckpt, sample, dtype)))
    _print(res)
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(res, indent=2) + '\n')
    return res


def prepare_batch_cpu(ckpt: Path, sample, dtype: str):
    """A training-style batch (prompt + target) built with the checkpoint's tokenizer."""
    from geode_ros.model.batch import prepare_batch
    from geode_ros.model.geode import GeodeModel

    m = GeodeModel.from_pretrained(ckpt, device='cpu', dtype='float32')
    sample.value = 1.503
    return prepare_batch(m, [sample], train=True, seed=0)


def _print(res: dict) -> None:
    lat = res['latency_s']
    print(f"GEODE model bench on {res['device']} ({res['arch']}, LLM {res['llm_hidden']} x "
          f"{res['llm_layers']}, {res['dtype']})")
    print(f"(a) numeric answer decode: <reg>+DRH {res['drh_numeric_latency_s'] * 1e3:.2f} ms "
          f"({res['drh_decode_steps']} step) vs digits {res['digit_numeric_latency_s'] * 1e3:.2f}"
          f" ms ({res['digit_decode_steps']} steps): ratio "
          f"{res['drh_vs_digits_latency_ratio']:.2f}")
    for mode in ('int8', 'int4'):
        print(f"(b) {mode} [{res[f'{mode}_backend']}]: LLM linears "
              f"{res[f'{mode}_llm_linear_bytes'] / 2**20:.2f} MiB = "
              f"{res[f'{mode}_vs_bf16_memory_ratio']:.3f} x bf16 "
              f"({res['bf16_llm_linear_bytes'] / 2**20:.2f} MiB), max rel logit error "
              f"{res[f'{mode}_max_rel_error']:.4f}")
    print('(c) query latency: ' + ', '.join(f'{k} {v * 1e3:.1f} ms' for k, v in lat.items()))

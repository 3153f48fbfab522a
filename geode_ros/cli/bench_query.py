"""``geode-bench query``: what a robot sees: ingest rate and query latency of the engine.

Replays a frames folder through ``SpatialQueryEngine`` with the model as its reasoner
(keyframe vision features are encoded on insertion, as in the node), then asks every
question of the folder's QA file and reports the latency distribution and its split
(parse, object memory, execute; vision encode / DRM / prefill / decode where the LLM runs
for an estimate). Then the query layer alone: everyday questions parsed and executed over
the cached memory of that scene, beside one LLM reading of a question in the same process
(the ratio), and structured requests (a planner's Program) answered by the engine.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from geode_ros.errors import GeodeError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from geode_ros.cli.common import add_model_arguments, repo_root

    parser.add_argument('--scene', default=str(repo_root() / 'assets' / 'demo_scene'),
                        help='geode-synth directory (qa.jsonl + scenes/); first scene used')
    add_model_arguments(parser)
    parser.add_argument('--layer-questions', type=int, default=200,
                        help='everyday questions for the query-layer measurement')
    parser.add_argument('--json', dest='json_out', default=None, help='write results here')


def _device_name(device: str) -> str:
    import torch

    if device.startswith('cuda') and torch.cuda.is_available():
        return f'{device} ({torch.cuda.get_device_name(torch.device(device))})'
    return device


def _query_layer(model, engine, n: int) -> dict:
    """Parse + execute + render over the cached memory, one LLM reading, and structured
    requests through the engine (module docstring); milliseconds."""
    import numpy as np

    from geode_ros.data.paraphrase import random_phrasing
    from geode_ros.query.execute import execute
    from geode_ros.query.render import render

    classes = model.config.objects.classes
    rng = np.random.default_rng(0)
    pairs = [random_phrasing(rng, classes) for _ in range(n)]
    snap = engine.snapshot()
    memory = model.scene_memory(snap)  # computed once: every query of this cloud shares it
    layer, llm, structured = [], [], []
    for question, _ in pairs:
        t0 = time.perf_counter()
        render(execute(model.understand(question), memory, model.query_config))
        layer.append(1000 * (time.perf_counter() - t0))
    for _, program in pairs[:8]:  # what reading the question with the LLM would cost
        if program.qtype:
            t0 = time.perf_counter()
            model._llm_reading(program, snap)
            llm.append(1000 * (time.perf_counter() - t0))
    for _, program in pairs:
        t0 = time.perf_counter()
        engine.query(program)
        structured.append(1000 * (time.perf_counter() - t0))
    structured.sort()
    return {'layer_questions': n, 'layer_ms_median': statistics.median(layer),
            'llm_ms_median': statistics.median(llm),
            'layer_over_llm': statistics.median(layer) / statistics.median(llm),
            'structured_ms_median': statistics.median(structured),
            'structured_ms_p90': structured[int(0.9 * (len(structured) - 1))]}


def run(args: argparse.Namespace) -> dict:
    from geode_ros.cli.common import load_reasoner
    from geode_ros.data.frames import FramesFolder
    from geode_ros.data.qa import load_qa
    from geode_ros.query.engine import SpatialQueryEngine
    from geode_ros.train.scenes import question_with_options

    root = Path(args.scene)
    records = load_qa(root / 'qa.jsonl')
    if not records:
        raise GeodeError(f'no questions in {root / "qa.jsonl"}')
    scene = records[0].scene
    records = [r for r in records if r.scene == scene]
    model = load_reasoner(args.model, args.device, args.dtype, args.quantization)
    engine = SpatialQueryEngine(reasoner=model)
    frames = list(FramesFolder(root / scene))
    start = time.perf_counter()
    for frame in frames:
        engine.ingest_frame(frame)
    ingest_s = time.perf_counter() - start
    engine.query(question_with_options(records[0]))  # warm-up
    latencies, parts, statuses = [], {}, []
    for rec in records:
        t0 = time.perf_counter()
        answer = engine.query(question_with_options(rec))
        latencies.append(time.perf_counter() - t0)
        statuses.append(answer.status)
        for k in ('parse', 'memory', 'execute'):
            parts.setdefault(k, []).append(answer.timings.get(k, 0.0))
        for k in ('drm', 'prefill', 'decode'):  # only where the LLM ran (an estimate)
            if k in answer.timings:
                parts.setdefault(k, []).append(answer.timings[k])
        if 'option_scoring' in answer.timings:  # multiple choice: the listed options scored
            parts.setdefault('option_scoring', []).append(answer.timings['option_scoring'])
    ms = sorted(1000 * x for x in latencies)
    layer = _query_layer(model, engine, args.layer_questions)
    result = {
        **layer,
        'frames': len(frames), 'keyframes': engine.stats().get('keyframes'),
        'ingest_fps': len(frames) / ingest_s, 'questions': len(ms),
        'query_ms_median': statistics.median(ms), 'query_ms_p90': ms[int(0.9 * (len(ms) - 1))],
        'estimated': statuses.count('estimated'),
        **{f'{k}_ms_median': 0.0 for k in ('drm', 'prefill', 'decode')},
        **{f'{k}_ms_median': 1000 * statistics.median(v) for k, v in parts.items()},
        'device': _device_name(args.device), 'quantization': args.quantization,
    }
    print(f"device: {result['device']}")
    print(f"ingest {result['frames']} frames ({result['keyframes']} keyframes encoded): "
          f"{result['ingest_fps']:.1f} frames/s")
    print(f"query latency over {len(ms)} questions: median {result['query_ms_median']:.0f} ms, "
          f"p90 {result['query_ms_p90']:.0f} ms; {result['estimated']} estimated by the LLM "
          f"(an object not detected) (parse {result['parse_ms_median']:.2f}, memory "
          f"{result['memory_ms_median']:.1f}, execute {result['execute_ms_median']:.2f}; where "
          f"the LLM estimates: DRM {result['drm_ms_median']:.0f}, prefill "
          f"{result['prefill_ms_median']:.0f}, decode {result['decode_ms_median']:.0f} ms)")
    print(f"query layer over the cached memory, {layer['layer_questions']} everyday questions: "
          f"parse + execute + render median {layer['layer_ms_median']:.2f} ms = "
          f"{layer['layer_over_llm']:.3f} x one LLM reading ({layer['llm_ms_median']:.0f} ms)")
    print(f"structured requests through the engine: median {layer['structured_ms_median']:.1f} "
          f"ms, p90 {layer['structured_ms_p90']:.1f} ms")
    if 'option_scoring' in parts:
        print(f"option scoring on {len(parts['option_scoring'])} multiple-choice questions: "
              f"median {result['option_scoring_ms_median']:.0f} ms")
    if args.json_out:
        Path(args.json_out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json_out).write_text(json.dumps(result, indent=2) + '\n')
    return result

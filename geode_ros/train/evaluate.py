"""Run a GEODE model on QA records and score it the VSI-Bench way."""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from tqdm import tqdm

from geode_ros.data.metrics import aggregate, baseline_scores, score_record
from geode_ros.data.qa import QARecord
from geode_ros.model.batch import GeodeSample, prepare_batch
from geode_ros.scene.types import Answer, Box3D
from geode_ros.train.scenes import SceneStore, question_with_options


@dataclass
class EvalResult:
    """Per-record answers and scores plus the per-type aggregate (percent)."""

    answers: list[Answer]
    scores: list[float]
    summary: dict[str, float]
    baseline: dict[str, float] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    seconds_per_question: float = 0.0

    def to_json(self) -> dict:
        per_type = {
            t: {'score': self.summary[t], 'baseline': self.baseline.get(t), 'n': n}
            for t, n in self.counts.items() if t in self.summary
        }
        extra = {k: v for k, v in self.summary.items() if '@' in k}
        return {
            'overall': self.summary.get('overall'),
            'baseline_overall': self.baseline.get('overall'),
            'per_type': per_type,
            **extra,
            'seconds_per_question': self.seconds_per_question,
            'n': len(self.scores),
        }


def _as_answer(gen, record: QARecord) -> Answer:
    label = (record.box or {}).get('label', '')
    boxes = [Box3D(label, np.asarray(b[:3]), np.asarray(b[3:6]), float(b[6])) for b in gen.boxes]
    return Answer(gen.text, list(gen.values), boxes, timings=dict(gen.timings),
                  question_type=record.type)


def blind_sample(record: QARecord) -> GeodeSample:
    """The record's question without its scene: no points, no keyframes (VSI-Bench's
    "blind" setting, which shows how much of a score the question alone earns). The
    scene is never replayed."""
    return GeodeSample(question_with_options(record), np.zeros((0, 3), np.float32),
                       np.zeros((0, 3), np.uint8), [], qtype=record.type)


@torch.no_grad()
def evaluate(model, records: Sequence[QARecord], store: SceneStore, batch_size: int = 8,
             train_records: Sequence[QARecord] | None = None, progress: bool = True,
             blind: bool = False) -> EvalResult:
    """Answer every record with ``model`` and score it; baselines from ``train_records``.
    ``blind``: answer from the question alone (``blind_sample``)."""
    was_training = model.training
    model.eval()
    answers: list[Answer] = []
    scores: list[float] = []
    by_type: dict[str, list[float]] = defaultdict(list)
    start = time.perf_counter()
    bar = tqdm(total=len(records), desc='eval', unit='q', disable=not progress)
    for i in range(0, len(records), batch_size):
        chunk = list(records[i:i + batch_size])
        samples = [blind_sample(r) if blind else store.sample(r) for r in chunk]
        batch = prepare_batch(model, samples, stage=2, train=False, seed=i).to(model.device)
        for rec, gen in zip(chunk, model.generate(batch)):
            answer = _as_answer(gen, rec)
            s = score_record(rec, answer)
            answers.append(answer)
            scores.append(s)
            by_type[rec.type].append(s)
        bar.update(len(chunk))
    bar.close()
    model.train(was_training)
    elapsed = time.perf_counter() - start
    baseline = baseline_scores(train_records, records) if train_records else {}
    return EvalResult(answers, scores, aggregate(by_type), baseline,
                      {t: len(v) for t, v in by_type.items()},
                      elapsed / max(1, len(records)))


def format_table(result: EvalResult) -> str:
    """A per-type table (percent) with the trivial baseline beside each score."""
    rows = [f'{"type":<26}{"n":>5}{"score":>9}{"baseline":>10}']
    for qtype, n in sorted(result.counts.items()):
        base = result.baseline.get(qtype)
        rows.append(f'{qtype:<26}{n:>5}{result.summary.get(qtype, 0.0):>9.1f}'
                    f'{base if base is not None else float("nan"):>10.1f}')
        for k in sorted(result.summary):
            if k.startswith(qtype + '_AP'):
                rows.append(f'  {k[len(qtype) + 1:]:<24}{"":>5}{result.summary[k]:>9.1f}'
                            f'{result.baseline.get(k, float("nan")):>10.1f}')
    overall = result.summary.get('overall', float('nan'))
    rows.append(f'{"overall (VSI types)":<26}{len(result.scores):>5}{overall:>9.1f}'
                f'{result.baseline.get("overall", float("nan")):>10.1f}')
    rows.append(f'latency: {1000 * result.seconds_per_question:.0f} ms per question')
    return '\n'.join(rows)

"""Run a GEODE model on QA records and score it the VSI-Bench way."""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from tqdm import tqdm

from geode_ros.data.metrics import aggregate, baseline_scores, score_key, score_record
from geode_ros.data.qa import CHOICE_TYPES, NUMERIC_TYPES, QARecord
from geode_ros.model.batch import GeodeSample, prepare_batch
from geode_ros.scene.types import Answer, Box3D
from geode_ros.train.scenes import SceneStore, question_with_options

VSI_KEYS = (*NUMERIC_TYPES, *CHOICE_TYPES)
READINGS: tuple[str, ...] = ('llm',)  # the LLM + DRH's own reading, beside the answer given


@dataclass
class EvalResult:
    """Per-record answers and scores plus the per-type aggregate (percent)."""

    answers: list[Answer]
    scores: list[float]
    summary: dict[str, float]
    baseline: dict[str, float] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    seconds_per_question: float = 0.0
    # the same questions scored by the LLM's own reading (LLM text / DRH values)
    readings: dict[str, dict[str, float]] = field(default_factory=dict)

    def to_json(self) -> dict:
        per_type = {
            t: {'score': self.summary[t], 'baseline': self.baseline.get(t), 'n': n,
                **{f'score_{k}': v.get(t) for k, v in self.readings.items()}}
            for t, n in self.counts.items() if t in self.summary
        }
        extra = {k: v for k, v in self.summary.items() if '@' in k}
        return {
            'overall': self.summary.get('overall'),
            'everyday': self.summary.get('everyday'),
            'baseline_everyday': self.baseline.get('everyday'),
            'baseline_overall': self.baseline.get('overall'),
            **{f'overall_{k}': v.get('overall') for k, v in self.readings.items()},
            'per_type': per_type,
            **extra,
            'seconds_per_question': self.seconds_per_question,
            'n': len(self.scores),
        }


def _as_answer(gen, record: QARecord, reading: str | None = None) -> Answer:
    """The generation as an Answer: the one the model gave (its query result), or with
    ``reading='llm'`` the LLM's own reading."""
    result = gen.extras.get('result')
    if reading is None and result is not None:
        from geode_ros.query.pipeline import to_answer

        return to_answer(result, dict(gen.timings))
    text, values, boxes = gen.text, gen.values, gen.boxes
    if reading is not None:
        text, values, boxes = gen.extras.get(reading) or (text, values, boxes)
    label = (record.box or {}).get('label', '')
    box3d = [Box3D(label, np.asarray(b[:3]), np.asarray(b[3:6]), float(b[6])) for b in boxes]
    return Answer(text, list(values), box3d, timings=dict(gen.timings),
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
    by_reading: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
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
            by_type[score_key(rec)].append(s)
            if 'llm' in gen.extras:
                for reading in READINGS:
                    by_reading[reading][score_key(rec)].append(
                        score_record(rec, _as_answer(gen, rec, reading)))
        bar.update(len(chunk))
    bar.close()
    model.train(was_training)
    elapsed = time.perf_counter() - start
    baseline = baseline_scores(train_records, records) if train_records else {}
    return EvalResult(answers, scores, aggregate(by_type), baseline,
                      {t: len(v) for t, v in by_type.items()},
                      elapsed / max(1, len(records)),
                      {k: aggregate(v) for k, v in by_reading.items()})


def _cell(v: float | None, width: int) -> str:
    return f'{v:>{width}.1f}' if v is not None and np.isfinite(v) else f'{"-":>{width}}'


def format_table(result: EvalResult, blind: EvalResult | None = None) -> str:
    """Per type (percent): the answer given, each reading, blind, baseline, scene - blind."""
    cols = ['score', *[r for r in READINGS if r in result.readings]]
    cols += ['blind', 'baseline', 'gap'] if blind is not None else ['baseline']
    rows = [f'{"type":<24}{"n":>5}' + ''.join(f'{c:>9}' for c in cols)]

    def line(key: str, name: str, n: str) -> str:
        vals = [result.summary.get(key), *[result.readings[r].get(key) for r in cols[1:]
                                           if r in result.readings]]
        if blind is not None:
            b = blind.summary.get(key)
            s = result.summary.get(key)
            vals += [b, result.baseline.get(key), None if b is None or s is None else s - b]
        else:
            vals.append(result.baseline.get(key))
        return f'{name:<24}{n:>5}' + ''.join(_cell(v, 9) for v in vals)

    everyday = sorted(k for k in result.counts if k.startswith('everyday:'))
    for qtype, n in sorted((k, v) for k, v in result.counts.items() if k not in everyday):
        rows.append(line(qtype, qtype, str(n)))
        for k in sorted(result.summary):
            if k.startswith(qtype + '_AP'):
                rows.append(line(k, '  ' + k[len(qtype) + 1:], ''))
    vsi_n = sum(n for k, n in result.counts.items() if k in VSI_KEYS)
    rows.append(line('overall', 'overall (VSI types)', str(vsi_n)))
    for key in everyday:
        rows.append(line(key, key, str(result.counts[key])))
    if everyday:
        rows.append(line('everyday', 'everyday (mean of kinds)',
                         str(sum(result.counts[k] for k in everyday))))
    rows.append(f'latency: {1000 * result.seconds_per_question:.0f} ms per question')
    return '\n'.join(rows)

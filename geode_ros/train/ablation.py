"""The paper's ablation at our scale: GEODE vs. no DRM, DRH -> digits, stage 2 only, and
the paper's frozen-DRM stage 2.

    python -m geode_ros.cli.ablation --config config/train_default.yaml \\
        --out out/ablation --steps1 N --steps2 M   (make ablation)

Five variants, each trained with the same budget of N + M optimizer steps:

- ``full``:        stage 1 (N steps), then stage 2 (M steps) from it, as configured (the
                   shipped recipe trains the DRM in stage 2: ``stage2_trains_drm``);
- ``frozen_drm``:  as ``full`` but the DRM frozen in stage 2, as in the paper;
- ``digits``:      stage 2 (M) from ``full``'s stage-1 model (stage 1 does not depend on
                   ``numeric_output``, so it is shared), numbers and boxes spelled as text;
- ``no_drm``:      stage 2 only (N + M), no ``<spatio>`` slots (``use_drm=False``);
- ``stage2_only``: stage 2 only (N + M) from a fresh DRM (trained in stage 2 only when
                   ``stage2_trains_drm``, else left at its random initialisation).

All start from one VLM, the ``init/`` of ``full``'s stage-1 run (the tiny VLM built and
LM-pretrained once, or ``--init``), so they share weights, tokenizer and DRM
initialisation. Each is scored on ``eval_data`` with ``geode_ros.train.evaluate``
(baseline: the trivial predictor fitted on the training records) and the results go to
``OUT/ablation.json`` and ``OUT/ablation.md``. A run whose ``model/`` exists with the
same config is reused, an interrupted one resumes; use a fresh ``--out`` for a new setup.
"""

from __future__ import annotations

import copy
import gc
import json
import logging
from dataclasses import dataclass
from pathlib import Path

from geode_ros.config import from_dict, to_dict
from geode_ros.errors import GeodeError
from geode_ros.model.config import QUESTION_TYPES
from geode_ros.train.config import TrainConfig

log = logging.getLogger('geode-ablation')

VARIANTS: dict[str, str] = {
    'full': 'GEODE as configured: stage 1 (DRM), then stage 2 (LLM + DRH, + DRM when '
            'stage2_trains_drm)',
    'frozen_drm': "the paper's stage 2: the DRM frozen after stage 1",
    'no_drm': 'without DRM: no `<spatio>` tokens, stage 2 only',
    'digits': 'DRH replaced by digit-token decoding',
    'stage2_only': 'stage 2 without stage 1 (fresh DRM)',
}
NOTE = ('Equal budget: every variant gets steps1 + steps2 optimizer steps. `digits` and '
        "`frozen_drm` reuse `full`'s stage-1 model. "
        'Scores in percent (VSI-Bench: MRA for numbers, exact match for choices; grounding: '
        'mean 3D IoU, not part of overall).')


@dataclass
class Plan:
    """One training run of a variant."""

    variant: str
    cfg: TrainConfig


def plan_runs(base: TrainConfig, out: Path, steps1: int, steps2: int,
              variants: tuple[str, ...] = tuple(VARIANTS)) -> list[Plan]:
    """The training runs, in order (``full``'s stage 1 always: the others start from it)."""
    if steps1 < 1 or steps2 < 1:
        raise GeodeError('--steps1 and --steps2 must be >= 1')
    unknown = sorted(set(variants) - set(VARIANTS))
    if unknown:
        raise GeodeError(f'unknown variant(s) {unknown}; known: {list(VARIANTS)}')

    def run(name: str, stage: int, steps: int, init: str, skip: bool = False,
            trains_drm: bool = base.stage2_trains_drm, **model) -> TrainConfig:
        c = copy.deepcopy(base)
        c.out, c.stage, c.steps, c.init = str(out / name), stage, steps, init
        c.skip_stage1, c.stage2_trains_drm = skip, trains_drm
        for k, v in model.items():
            setattr(c.model, k, v)
        return c

    s1 = run('full/stage1', 1, steps1, base.init, use_drm=True, numeric_output='drh')
    s1_model, s1_init = str(out / 'full/stage1/model'), str(out / 'full/stage1/init')
    plans = [Plan('full', s1)]
    table = {
        'full': run('full/stage2', 2, steps2, s1_model, use_drm=True, numeric_output='drh'),
        'frozen_drm': run('frozen_drm/stage2', 2, steps2, s1_model, trains_drm=False,
                          use_drm=True, numeric_output='drh'),
        'digits': run('digits/stage2', 2, steps2, s1_model, use_drm=True,
                      numeric_output='digits'),
        'no_drm': run('no_drm/stage2', 2, steps1 + steps2, s1_init, skip=True,
                      use_drm=False, numeric_output='drh'),
        'stage2_only': run('stage2_only/stage2', 2, steps1 + steps2, s1_init, skip=True,
                           use_drm=True, numeric_output='drh'),
    }
    plans += [Plan(v, table[v]) for v in VARIANTS if v in variants]
    return plans


def _is_done(cfg: TrainConfig) -> bool:
    """A finished run with the same config. A field added to TrainConfig since the run
    was saved counts as its default, so new settings at their defaults keep old runs."""
    run = Path(cfg.out)
    saved = run / 'train_config.json'
    if not ((run / 'model' / 'manifest.json').is_file() and saved.is_file()):
        return False
    then = from_dict(TrainConfig, json.loads(saved.read_text()))
    return json.loads(json.dumps(to_dict(then))) == json.loads(json.dumps(to_dict(cfg)))


def run_ablation(base: TrainConfig, out: str | Path, steps1: int, steps2: int,
                 variants: tuple[str, ...] = tuple(VARIANTS), limit: int = 0,
                 progress: bool = True) -> dict:
    """Train and score the variants; write ``ablation.json`` / ``ablation.md``; return the
    JSON dict."""
    from geode_ros.model.geode import GeodeModel
    from geode_ros.train.evaluate import evaluate
    from geode_ros.train.run_setup import load_records
    from geode_ros.train.trainer import Trainer

    if not base.eval_data:
        raise GeodeError('the ablation scores on held-out data: set eval_data (--eval-data)')
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    plans = plan_runs(base, out, steps1, steps2, variants)
    stores: dict = {}
    for plan in plans:
        if _is_done(plan.cfg):
            log.info('%s: reusing %s/model', plan.variant, plan.cfg.out)
            continue
        log.info('%s: stage %d, %d steps -> %s', plan.variant, plan.cfg.stage, plan.cfg.steps,
                 plan.cfg.out)
        # one frozen vision tower for all variants: the scene caches carry over
        trainer = Trainer(plan.cfg, progress, stores.get('train'), stores.get('eval'))
        stores = {'train': trainer.store, 'eval': trainer.eval_store}
        trainer.fit(resume=True)
        del trainer
        gc.collect()

    train_records = load_records(base.data, 2, base.types)
    eval_records = load_records(base.eval_data, 2, base.types)
    eval_records = eval_records[:limit] if limit else eval_records
    results: dict[str, dict] = {}
    for plan in plans[1:]:
        final = Path(plan.cfg.out) / 'model'
        model = GeodeModel.from_pretrained(final, device=base.model.device)
        store = stores.get('eval')
        if store is None:  # every run was reused: build the cache once here
            from geode_ros.train.run_setup import data_root
            from geode_ros.train.scenes import SceneStore
            store = SceneStore(data_root(base.eval_data), model, base.scene)
            stores['eval'] = store
        store.model = model
        res = evaluate(model, eval_records, store, base.batch_size, train_records, progress)
        stages = ([{'stage': 1, 'steps': steps1, 'run': plans[0].cfg.out}]
                  if plan.variant in ('full', 'frozen_drm', 'digits') else [])
        stages.append({'stage': 2, 'steps': plan.cfg.steps, 'run': plan.cfg.out})
        results[plan.variant] = {'description': VARIANTS[plan.variant], 'model': str(final),
                                 'stages': stages, 'eval': res.to_json(),
                                 'summary': res.summary, 'baseline': res.baseline}
        del model
        gc.collect()
    report = {'steps1': steps1, 'steps2': steps2, 'budget_steps': steps1 + steps2,
              'data': base.data, 'eval_data': base.eval_data, 'n_eval': len(eval_records),
              'note': NOTE, 'variants': results}
    (out / 'ablation.json').write_text(json.dumps(report, indent=2) + '\n')
    (out / 'ablation.md').write_text(markdown_table(report))
    return report


def markdown_table(report: dict) -> str:
    """Rows = variants (+ the trivial baseline), columns = per-type scores + overall."""
    variants = report['variants']
    present = {t for v in variants.values() for t in v['summary']}
    types = [t for t in QUESTION_TYPES if t in present]
    cols = types + ['overall']
    lines = ['| variant | ' + ' | '.join(cols) + ' |', '|---' * (len(cols) + 1) + '|']

    def row(name: str, scores: dict) -> str:
        cells = [f'{scores[c]:.1f}' if scores.get(c) is not None else '-' for c in cols]
        return f'| {name} | ' + ' | '.join(cells) + ' |'

    for name, v in variants.items():
        lines.append(row(name, v['summary']))
    if variants:
        lines.append(row('baseline (trivial)', next(iter(variants.values()))['baseline']))
    head = (f'# GEODE ablation ({report["budget_steps"]} optimizer steps per variant: '
            f'steps1={report["steps1"]}, steps2={report["steps2"]}; '
            f'{report["n_eval"]} held-out questions)\n\n')
    desc = '\n'.join(f'- `{k}`: {v["description"]}' for k, v in variants.items())
    return head + '\n'.join(lines) + '\n\n' + desc + '\n\n' + NOTE + '\n'

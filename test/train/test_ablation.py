"""Stage 2 without stage 1 (skip_stage1) and the four-variant ablation, on a tiny setup."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from tiny_configs import tiny_train_config

from geode_ros.cli import ablation as ablation_cli
from geode_ros.config import to_dict
from geode_ros.data.synth import SynthConfig, generate_dataset
from geode_ros.errors import GeodeError
from geode_ros.train import ablation
from geode_ros.train.config import TrainConfig
from geode_ros.train.trainer import Trainer


@pytest.fixture(scope='module')
def dataset(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp('synth')
    cfg = SynthConfig(scenes=2, out=str(root / 'data'), seed=5, workers=1,
                      questions_per_scene=12, frames=8, width=112, height=84)
    return generate_dataset(cfg, progress=False).parent


def tiny_config(data: Path, out: Path, stage: int = 2, steps: int = 2) -> TrainConfig:
    return tiny_train_config(data, out, stage, steps, eval_data=data)


def test_skip_stage1_trains_stage2_from_a_fresh_vlm(dataset, tmp_path):
    cfg = tiny_config(dataset, tmp_path / 'plain')
    with pytest.raises(GeodeError, match='stage 2 needs --init DIR'):
        Trainer(cfg, progress=False)
    cfg = tiny_config(dataset, tmp_path / 'nodrm')
    cfg.skip_stage1, cfg.model.use_drm = True, False
    t = Trainer(cfg, progress=False)
    drm = {n: p.detach().clone() for n, p in t.model.drm.named_parameters()}
    final = t.fit()
    assert t.step == 2 and (final / 'manifest.json').is_file()
    assert all((p == drm[n]).all() for n, p in t.model.drm.named_parameters())
    saved = json.loads((final / 'config.json').read_text())['geode']
    assert saved['use_drm'] is False
    bad = tiny_config(dataset, tmp_path / 's1', stage=1)
    bad.model.use_drm = False
    with pytest.raises(GeodeError, match='use_drm is false'):
        Trainer(bad, progress=False)


def test_ablation_runs_every_variant_with_equal_budgets(dataset, tmp_path, capsys):
    cfg = tiny_config(dataset, tmp_path / 'unused')
    cfg.stage2_trains_drm = True  # as the shipped recipe; frozen_drm switches it off
    path = tmp_path / 'tiny.yaml'
    path.write_text(yaml.safe_dump(to_dict(cfg)))
    out = tmp_path / 'ablation'
    argv = ['--config', str(path), '--out', str(out), '--steps1', '1', '--steps2', '1',
            '--limit', '6', '--quiet']
    assert ablation_cli.main(argv) == 0
    report = json.loads((out / 'ablation.json').read_text())
    assert set(report['variants']) == set(ablation.VARIANTS)
    for name, v in report['variants'].items():
        assert sum(s['steps'] for s in v['stages']) == 2, name
        assert v['eval']['n'] == 6 and 0.0 <= v['summary']['overall'] <= 100.0
    geode = json.loads((out / 'digits/stage2/model/config.json').read_text())['geode']
    assert geode['numeric_output'] == 'digits'
    geode = json.loads((out / 'no_drm/stage2/model/config.json').read_text())['geode']
    assert geode['use_drm'] is False
    for variant, trains in (('full', True), ('frozen_drm', False), ('stage2_only', True)):
        run = json.loads((out / variant / 'stage2' / 'train_config.json').read_text())
        assert run['stage2_trains_drm'] is trains, variant
    table = (out / 'ablation.md').read_text()
    assert '| variant |' in table and 'overall' in table
    assert all(f'| {v} |' in table for v in ablation.VARIANTS)
    assert '| variant |' in capsys.readouterr().out
    with pytest.raises(SystemExit):  # the ablation sets stages and steps itself
        ablation_cli.main([*argv, '--steps', '3'])


def test_a_finished_run_is_reused_when_only_new_default_fields_differ(tmp_path):
    """A run saved before a TrainConfig field existed is the same run if the field is at
    its default; any changed value means a new run."""
    cfg = TrainConfig(out=str(tmp_path / 'run'), steps=7)
    run = Path(cfg.out)
    (run / 'model').mkdir(parents=True)
    (run / 'model' / 'manifest.json').write_text('{}')
    saved = json.loads(json.dumps(to_dict(cfg)))
    del saved['scene']['max_range_m']  # as written before input bounds existed
    (run / 'train_config.json').write_text(json.dumps(saved))
    assert ablation._is_done(cfg)
    assert not ablation._is_done(TrainConfig(out=cfg.out, steps=8))
    cfg.scene.max_range_m = 10.0
    assert not ablation._is_done(cfg)

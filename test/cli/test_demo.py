"""geode-demo on the bundled scene with a tiny model trained for one step per stage."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import pytest
from tiny_configs import tiny_train_config

from geode_ros.cli import demo
from geode_ros.cli.common import repo_root
from geode_ros.data.qa import load_qa
from geode_ros.train.config import TrainConfig

SCENE = repo_root() / 'assets' / 'demo_scene'


def _tiny(out: Path, stage: int, init: str = '') -> TrainConfig:
    return tiny_train_config(SCENE, out, stage, steps=1, init=init, batch_size=2)


@pytest.fixture(scope='module')
def model_dir(tmp_path_factory) -> Path:
    from geode_ros.train.trainer import Trainer

    root = tmp_path_factory.mktemp('model')
    stage1 = Trainer(_tiny(root / 's1', 1), progress=False).fit()
    return Trainer(_tiny(root / 's2', 2, str(stage1)), progress=False).fit()


def test_demo_runs_on_the_bundled_scene(model_dir, tmp_path, capsys):
    out = tmp_path / 'demo'
    assert demo.main(['--model', str(model_dir), '--out', str(out), '--quiet']) == 0
    printed = capsys.readouterr().out
    records = [r for r in load_qa(SCENE / 'qa.jsonl') if r.scene == 'scenes/000000']
    asked = demo.select_questions(records, 2)
    types = {r.type for r in records}
    assert {r.type for r in asked} == types and len(types) >= 5
    for qtype in types:
        assert qtype in printed
    assert 'overall' in printed and 'baseline' in printed
    png = cv2.imread(str(out / 'demo.png'))
    assert png is not None and png.shape[0] >= 400 and png.shape[1] >= 800
    assert png.std() > 10  # not a blank canvas
    result = json.loads((out / 'answers.json').read_text())
    assert len(result['answers']) == len(asked)
    assert [a['type'] for a in result['answers']] == [r.type for r in asked]
    assert all(0.0 <= a['score'] <= 1.0 for a in result['answers'])
    assert 0.0 <= result['overall'] <= 100.0
    assert (out / 'demo.mcap').stat().st_size > 10_000


def test_demo_explains_how_to_get_a_missing_model(tmp_path, capsys):
    assert demo.main(['--model', str(tmp_path / 'nope'), '--out', str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert 'not found' in err and 'geode-train' in err


@pytest.mark.parametrize('flag', ['--help', '--version'])
def test_demo_help_and_version(flag, capsys):
    with pytest.raises(SystemExit) as exc:
        demo.main([flag])
    assert exc.value.code == 0
    assert 'geode-demo' in capsys.readouterr().out

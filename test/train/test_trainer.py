"""Both training stages on a tiny config: losses fall, resume continues, eval scores."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from tiny_configs import tiny_train_config as shared_tiny_config

from geode_ros.cli import eval as eval_cli
from geode_ros.cli import train as train_cli
from geode_ros.data.qa import ROBOT_TYPES
from geode_ros.data.synth import SynthConfig, generate_dataset
from geode_ros.train.config import TrainConfig
from geode_ros.train.trainer import Trainer


@pytest.fixture(scope='module')
def dataset(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp('synth')
    cfg = SynthConfig(scenes=2, out=str(root / 'data'), seed=3, workers=1,
                      questions_per_scene=24, frames=12, width=112, height=84)
    return generate_dataset(cfg, progress=False)


def tiny_train_config(data: Path, out: Path, stage: int, steps: int, init: str = ''
                      ) -> TrainConfig:
    return shared_tiny_config(data, out, stage, steps, init=init, eval_data=data,
                              checkpoint_every=2)


def _losses(trainer: Trainer, batch_indices: list[int]) -> float:
    from geode_ros.model.batch import prepare_batch

    samples = [trainer.store.sample(trainer.records[i]) for i in batch_indices]
    with torch.no_grad():
        trainer.model.eval()
        batch = prepare_batch(trainer.model, samples, trainer.cfg.stage, True, seed=0)
        loss = float(trainer.model(batch).loss)
        trainer.model.train()
    return loss


def test_stage1_then_stage2_losses_fall_and_only_intended_weights_change(dataset, tmp_path):
    t1 = Trainer(tiny_train_config(dataset, tmp_path / 's1', 1, steps=12), progress=False)
    fixed = list(range(4))
    before = _losses(t1, fixed)
    frozen = {n: p.detach().clone() for n, p in t1.model.named_parameters()
              if not n.startswith('drm.')}
    final1 = t1.fit()
    assert _losses(t1, fixed) < before
    ev = t1.run_eval()  # stage 1: the rationale loss with and without the DRM's tokens
    assert ev['eval_rationale_ce'] > 0 and ev['eval_rationale_ce_zero_spatio'] > 0
    assert ev['eval_rationale_ce'] != ev['eval_rationale_ce_zero_spatio']
    for n, p in t1.model.named_parameters():
        if n in frozen:
            assert torch.equal(p, frozen[n]), f'stage 1 changed {n}'
    assert (final1 / 'manifest.json').is_file()

    cfg2 = tiny_train_config(dataset, tmp_path / 's2', 2, steps=12, init=str(final1))
    cfg2.model.drh.reg_loss_weight = 2.5  # a stage-2 setting: must override the checkpoint's
    t2 = Trainer(cfg2, progress=False)
    assert t2.model.config.drh.reg_loss_weight == 2.5
    before2 = _losses(t2, fixed)
    drm = {n: p.detach().clone() for n, p in t2.model.named_parameters() if n.startswith('drm.')}
    t2.fit()
    assert _losses(t2, fixed) < before2
    for n, p in t2.model.named_parameters():
        if n in drm:
            assert torch.equal(p, drm[n]), f'stage 2 changed the frozen DRM ({n})'
    log = [json.loads(line) for line in (tmp_path / 's2' / 'log.jsonl').read_text().splitlines()]
    assert [r['step'] for r in log if 'loss' in r] == list(range(1, 13))

    cfg3 = tiny_train_config(dataset, tmp_path / 's2drm', 2, steps=2, init=str(final1))
    cfg3.stage2_trains_drm = True  # the option the shipped model uses
    t3 = Trainer(cfg3, progress=False)
    t3.fit()
    assert any(not torch.equal(p, drm[n]) for n, p in t3.model.named_parameters() if n in drm)


def test_resume_continues_exactly_where_it_stopped(dataset, tmp_path):
    cfg = tiny_train_config(dataset, tmp_path / 'run', 1, steps=4)
    straight = Trainer(tiny_train_config(dataset, tmp_path / 'ref', 1, steps=4), progress=False)
    straight.fit()
    interrupted = Trainer(cfg, progress=False)
    assert interrupted.fit(stop_at=2) is None  # stopped half way with the state saved
    resumed = Trainer(cfg, progress=False)
    assert resumed.load_state() and resumed.step == 2
    resumed.fit()
    assert resumed.step == 4
    ref = dict(straight.model.named_parameters())
    for n, p in resumed.model.named_parameters():
        if n.startswith('drm.'):
            assert torch.allclose(p, ref[n], atol=1e-5), f'{n} differs after resume'


def test_cli_train_and_eval_end_to_end(dataset, tmp_path, capsys):
    cfg = tiny_train_config(dataset, tmp_path / 'cli', 2, steps=2)
    # stage 2 straight from a tiny VLM is allowed only through stage 1's output
    assert train_cli.main(['--data', str(dataset), '--stage', '2', '--quiet',
                           '--out', str(tmp_path / 'x')]) == 2
    assert 'stage 2 needs --init' in capsys.readouterr().err
    t1 = Trainer(tiny_train_config(dataset, tmp_path / 's1', 1, steps=1), progress=False)
    init = t1.fit()
    code = train_cli.main([
        '--data', str(dataset), '--out', cfg.out, '--stage', '2', '--init', str(init),
        '--steps', '2', '--batch-size', '2', '--quiet', '--eval-every', '0',
        '--scene.max-keyframes', '4', '--model.max-new-tokens', '4'])
    assert code == 0
    out_json = tmp_path / 'eval.json'
    assert eval_cli.main(['--model', str(Path(cfg.out) / 'model'), '--data', str(dataset),
                          '--train-data', str(dataset), '--limit', '12', '--quiet',
                          '--json', str(out_json)]) == 0
    result = json.loads(out_json.read_text())
    scene, blind = result['scene'], result['blind']
    assert scene['n'] == blind['n'] == 12 and 0.0 <= scene['overall'] <= 100.0
    assert scene['baseline_overall'] is not None and result['baseline']['overall'] is not None
    for row in scene['per_type'].values():
        assert {'score', 'baseline', 'n', 'score_llm'} <= set(row)
    table = capsys.readouterr().out
    assert 'overall' in table and all(c in table for c in ('blind', 'baseline', 'gap'))
    # the robot's own kinds, asked in everyday wording, are scored per kind beside them
    assert eval_cli.main(['--model', str(Path(cfg.out) / 'model'), '--data', str(dataset),
                          '--train-data', str(dataset), '--quiet', '--no-blind', '--types',
                          *ROBOT_TYPES, '--json', str(out_json)]) == 0
    result = json.loads(out_json.read_text())['scene']
    assert 0.0 <= result['everyday'] <= 100.0 and result['baseline_everyday'] is not None
    assert {k.split(':')[1] for k in result['per_type']} >= {'exists', 'list', 'direction'}
    assert 'everyday (mean of kinds)' in capsys.readouterr().out


def test_blind_samples_reach_the_model_without_points_or_images(dataset, tmp_path):
    from geode_ros.model.batch import prepare_batch
    from geode_ros.train.evaluate import blind_sample

    t = Trainer(tiny_train_config(dataset, tmp_path / 'b', 1, steps=1), progress=False)
    sample = t.store.sample(t.records[0])
    seen = prepare_batch(t.model, [sample], train=False, seed=0)
    blind = prepare_batch(t.model, [blind_sample(t.records[0])], train=False, seed=0)
    assert seen.point_mask.any() and seen.image_embeds is not None
    assert not blind.point_mask.any() and blind.image_embeds is None and not blind.patch_mask.any()
    assert blind.question_ids.equal(seen.question_ids)

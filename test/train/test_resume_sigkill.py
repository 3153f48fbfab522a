"""Training resume without pickle: SIGKILL mid-run, resume, same loss curve; tampering refused."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch

from geode_ros.data.synth import SynthConfig, generate_dataset
from geode_ros.errors import GeodeError
from geode_ros.train.trainer import Trainer

TEST_DIR = Path(__file__).resolve().parents[1]
STEPS = 8

pytestmark = pytest.mark.timeout(600)


@pytest.fixture(scope='module')
def dataset(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp('synth')
    cfg = SynthConfig(scenes=2, out=str(root / 'data'), seed=5, workers=1,
                      questions_per_scene=16, frames=8, width=112, height=84)
    return generate_dataset(cfg, progress=False)


def _config(dataset: Path, out: Path):
    sys.path.insert(0, str(TEST_DIR))
    from tiny_configs import tiny_train_config

    return tiny_train_config(dataset, out, 1, steps=STEPS, checkpoint_every=1, batch_size=2)


def _script(dataset: Path, out: Path) -> list[str]:
    code = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(TEST_DIR)!r})
        from tiny_configs import tiny_train_config
        from geode_ros.train.trainer import Trainer
        cfg = tiny_train_config({str(dataset)!r}, {str(out)!r}, 1, steps={STEPS},
                                checkpoint_every=1, batch_size=2)
        Trainer(cfg, progress=False).fit(resume=True)
    """)
    return [sys.executable, '-c', code]


def _losses(out: Path) -> dict[int, float]:
    """Loss per step; a step logged twice (before a kill and after resume) keeps the last."""
    found = {}
    for line in (out / 'log.jsonl').read_text().splitlines():
        rec = json.loads(line)
        if 'loss' in rec:
            found[rec['step']] = rec['loss']
    return found


def _logged_steps(out: Path) -> list[int]:
    path = out / 'log.jsonl'
    if not path.is_file():
        return []
    return [json.loads(x)['step'] for x in path.read_text().splitlines() if '"loss"' in x]


def test_sigkill_mid_run_then_resume_matches_an_uninterrupted_run(dataset, tmp_path):
    env = dict(os.environ, OMP_NUM_THREADS='1')  # the same kernels in every process
    ref_out, run_out = tmp_path / 'ref', tmp_path / 'run'
    subprocess.run(_script(dataset, ref_out), env=env, check=True, timeout=300)
    want = _losses(ref_out)
    assert sorted(want) == list(range(1, STEPS + 1))

    proc = subprocess.Popen(_script(dataset, run_out), env=env)
    deadline = time.monotonic() + 300
    while max(_logged_steps(run_out), default=0) < STEPS // 2:
        assert proc.poll() is None, 'the run ended before it could be killed'
        assert time.monotonic() < deadline
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)  # no chance to save anything
    assert proc.wait(timeout=30) == -signal.SIGKILL
    assert not list(run_out.glob('*.pt')), 'no pickle files'
    saved = json.loads((run_out / 'state.json').read_text())['payload']['step']
    assert 1 <= saved < STEPS
    before = len(_logged_steps(run_out))

    subprocess.run(_script(dataset, run_out), env=env, check=True, timeout=300)
    after = _logged_steps(run_out)[before:]
    assert after == list(range(saved + 1, STEPS + 1)), 'a step was lost or repeated'
    got = _losses(run_out)
    assert sorted(got) == sorted(want)
    for step in want:
        assert got[step] == pytest.approx(want[step], rel=1e-4, abs=1e-5), step


def test_tampered_state_is_refused(dataset, tmp_path):
    out = tmp_path / 'run'
    Trainer(_config(dataset, out), progress=False).fit(stop_at=2)
    state = out / 'state.json'
    tensors = next(out.glob('state-*.safetensors'))
    fresh = Trainer(_config(dataset, out), progress=False)
    assert fresh.load_state() and fresh.step == 2

    good_json, good_tensors = state.read_bytes(), tensors.read_bytes()
    doc = json.loads(good_json)
    doc['payload']['step'] = 1  # edited by hand
    state.write_text(json.dumps(doc))
    with pytest.raises(GeodeError, match='modified'):
        Trainer(_config(dataset, out), progress=False).load_state()
    state.write_bytes(good_json)
    flipped = bytearray(good_tensors)
    flipped[-5] ^= 0xFF
    tensors.write_bytes(bytes(flipped))
    with pytest.raises(GeodeError, match='modified'):
        Trainer(_config(dataset, out), progress=False).load_state()
    tensors.write_bytes(good_tensors)
    doc = json.loads(good_json)
    doc['payload']['tensors'] = '../elsewhere.safetensors'
    doc['sha256'] = 'bad'
    state.write_text(json.dumps(doc))
    with pytest.raises(GeodeError, match='modified'):
        Trainer(_config(dataset, out), progress=False).load_state()
    state.unlink()
    torch.save({'step': 1}, out / 'state.pt')  # an old pickled state is never unpickled
    with pytest.raises(GeodeError, match='pickle'):
        Trainer(_config(dataset, out), progress=False).load_state()

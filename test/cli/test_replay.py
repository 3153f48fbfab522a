"""geode-replay on recorded RGB-D bags (sqlite3 and MCAP) with the geometric baseline."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from geode_ros.cli import replay
from geode_ros.cli.common import repo_root
from geode_ros.data.frames import FramesFolder
from geode_ros.data.rosbag_reader import write_rgbd_bag

SCENE = repo_root() / 'assets' / 'demo_scene' / 'scenes' / '000000'
ROOM_Q = 'What is the size of this room (in square meters)?'


@pytest.fixture(scope='module')
def bags(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp('bags')
    frames = list(FramesFolder(SCENE))
    return {s: write_rgbd_bag(frames, root / f'room_{s}', storage=s) for s in ('sqlite3', 'mcap')}


def _read_mcap(path: Path) -> dict[str, list]:
    from rosbags.highlevel import AnyReader
    from rosbags.typesys import Stores, get_typestore

    out: dict[str, list] = {}
    with AnyReader([path], default_typestore=get_typestore(Stores.ROS2_JAZZY)) as reader:
        for conn, _, raw in reader.messages():
            out.setdefault(conn.msgtype, []).append(reader.deserialize(raw, conn.msgtype))
    return out


@pytest.mark.parametrize('storage', ['sqlite3', 'mcap'])
def test_replay_answers_room_size_and_writes_markers_and_cloud(bags, tmp_path, storage, capsys):
    gt_area = json.loads((SCENE / 'scene.json').read_text())['room']['area']
    questions = tmp_path / 'q.jsonl'
    questions.write_text('\n'.join(json.dumps(q) for q in [
        {'question': ROOM_Q, 'time': 4.0},
        {'question': ROOM_Q},
        {'question': 'How many chairs are in this room?'},
    ]) + '\n')
    out = tmp_path / 'out'
    assert replay.main([str(bags[storage]), '--questions', str(questions), '--out', str(out),
                        '--rate', '0', '--quiet', '--model', 'none']) == 0
    result = json.loads((out / 'answers.json').read_text())
    assert result['frames'] == 32 and result['model'] == 'geometric-baseline'
    early, final, count = result['answers']
    assert early['error'] is None and early['answered_at'] <= 4.0
    assert 0 < early['frames_seen'] < final['frames_seen'] == 32
    assert final['error'] is None and final['question_type'] == 'room_size_estimation'
    assert final['values'][0] == pytest.approx(gt_area, rel=0.2)
    assert {'stamp', 'timings', 'boxes', 'answer'} <= set(final)
    assert count['answer'] is None and 'load a model' in count['error']
    msgs = _read_mcap(out / 'replay.mcap')
    arrays = msgs['visualization_msgs/msg/MarkerArray']
    clouds = msgs['sensor_msgs/msg/PointCloud2']
    assert len(arrays) == 2 and arrays[0].markers[0].action == 3  # DELETEALL
    assert clouds[-1].width == result['stats']['points'] > 1000
    assert clouds[-1].header.frame_id == 'map'
    assert 'square meters' in capsys.readouterr().out


def test_replay_paces_the_bag_and_reads_text_questions(bags, tmp_path):
    questions = tmp_path / 'q.txt'
    questions.write_text(f'# room\n{ROOM_Q}\n\n')
    out = tmp_path / 'out'
    assert replay.main([str(bags['sqlite3']), '--questions', str(questions), '--out', str(out),
                        '--rate', '40', '--quiet', '--scene.voxel-size-m', '0.1']) == 0
    result = json.loads((out / 'answers.json').read_text())
    assert result['wall_s'] >= 15.5 / 40  # the bag spans 15.5 s
    assert result['model'] == 'geode-tiny'  # no --model: the shipped one, as the node
    assert result['answers'][0]['values'][0] > 0


def test_load_questions_formats(tmp_path):
    (tmp_path / 'a.yaml').write_text('- question: how big is this room?\n  time: 2\n- where?\n')
    (tmp_path / 'b.json').write_text(json.dumps({'questions': [
        {'question': 'which?', 'options': ['A. x', 'B. y']}]}))
    a = replay.load_questions(tmp_path / 'a.yaml')
    assert [(q.text, q.time) for q in a] == [('how big is this room?', 2.0), ('where?', None)]
    assert replay.load_questions(tmp_path / 'b.json')[0].text == 'which?\nA. x\nB. y'
    (tmp_path / 'bad.jsonl').write_text('{"question": "q", "time": -1}\n')
    with pytest.raises(Exception, match='time'):
        replay.load_questions(tmp_path / 'bad.jsonl')


def test_replay_errors_are_one_line(tmp_path, capsys):
    questions = tmp_path / 'q.txt'
    questions.write_text(ROOM_Q + '\n')
    assert replay.main([str(tmp_path / 'missing'), '--questions', str(questions)]) == 2
    assert 'missing not found' in capsys.readouterr().err


@pytest.mark.parametrize('flag', ['--help', '--version'])
def test_replay_help_and_version(flag, capsys):
    with pytest.raises(SystemExit) as exc:
        replay.main([flag])
    assert exc.value.code == 0
    assert 'geode-replay' in capsys.readouterr().out

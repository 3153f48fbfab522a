"""VSI-Bench loader on small files written by the test."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from geode_ros.data.metrics import score_record
from geode_ros.data.vsibench import load_vsibench, row_to_record, video_path
from geode_ros.errors import GeodeError

ROWS = [
    {'id': 1, 'dataset': 'arkitscenes', 'scene_name': '41069025',
     'question_type': 'object_counting', 'question': 'How many chair(s) are in this room?',
     'options': None, 'ground_truth': '4'},
    {'id': 2, 'dataset': 'scannet', 'scene_name': 'scene0011_00',
     'question_type': 'object_rel_direction_hard',
     'question': 'If I am standing by the sofa and facing the tv, is the lamp to my '
                 'front-left, front-right, back-left, or back-right?',
     'options': ['A. front-left', 'B. front-right', 'C. back-left', 'D. back-right'],
     'ground_truth': 'C'},
    {'id': 3, 'dataset': 'scannetpp', 'scene_name': 'abc123',
     'question_type': 'route_planning', 'question': 'You are a robot beginning at ...',
     'options': ['A. Turn Left', 'B. Turn Right', 'C. Turn Back'], 'ground_truth': 'Turn Back'},
    {'id': 4, 'dataset': 'scannet', 'scene_name': 'scene0011_00',
     'question_type': 'room_size_estimation', 'question': 'What is the size of this room?',
     'options': None, 'ground_truth': '23.4'},
    {'id': 5, 'dataset': 'arkitscenes', 'scene_name': '41069025',
     'question_type': 'obj_appearance_order', 'question': 'What will be ...',
     'options': ['A. a, b', 'B. b, a'], 'ground_truth': 'B'},
]


def test_json_and_jsonl_load_the_same(tmp_path):
    (tmp_path / 'vsi.json').write_text(json.dumps(ROWS))
    (tmp_path / 'vsi.jsonl').write_text('\n'.join(json.dumps(r) for r in ROWS) + '\n')
    (tmp_path / 'wrapped.json').write_text(json.dumps({'data': ROWS}))
    a, b = load_vsibench(tmp_path / 'vsi.json'), load_vsibench(tmp_path / 'vsi.jsonl')
    assert a == b == load_vsibench(tmp_path / 'wrapped.json')
    assert [r.type for r in a] == ['object_count', 'object_rel_direction', 'route_plan',
                                   'room_size_estimation', 'obj_appearance_order']
    assert a[0].scene == 'arkitscenes/41069025' and a[0].value == 4.0
    assert a[1].answer == 'C' and len(a[1].options) == 4
    assert a[2].answer == 'C'  # option text mapped to its letter
    assert a[3].value == pytest.approx(23.4)
    assert score_record(a[3], '23.4') == 1.0 and score_record(a[1], 'C') == 1.0
    only = load_vsibench(tmp_path / 'vsi.json', types=['route_plan'])
    assert [r.type for r in only] == ['route_plan']


def test_bad_rows_name_the_problem(tmp_path):
    bad = dict(ROWS[0], question_type='object_juggling')
    with pytest.raises(GeodeError, match='unknown VSI-Bench question_type'):
        row_to_record(bad)
    with pytest.raises(GeodeError, match='misses field'):
        row_to_record({'question': 'q'})
    with pytest.raises(GeodeError, match='matches none of the options'):
        row_to_record(dict(ROWS[1], ground_truth='Z'))
    path = tmp_path / 'v.jsonl'
    path.write_text(json.dumps(ROWS[0]) + '\n' + json.dumps(dict(ROWS[3], ground_truth='big')))
    with pytest.raises(GeodeError, match=r'row 1 \(id 4\).*not a number'):
        load_vsibench(path)
    with pytest.raises(GeodeError, match='unsupported'):
        load_vsibench(_touch(tmp_path / 'a.csv'))
    with pytest.raises(GeodeError, match='not found'):
        load_vsibench(tmp_path / 'missing.json')


def _touch(p):
    p.write_text('')
    return p


def test_parquet_without_reader_says_what_to_install(tmp_path):
    """A user without pyarrow/pandas gets told what to install (run with both unimportable)."""
    path = tmp_path / 'test.parquet'
    path.write_bytes(b'PAR1')
    code = ('import sys\n'
            'for name in ("pyarrow", "pyarrow.parquet", "pandas"):\n'
            '    sys.modules[name] = None  # import of these now raises ImportError\n'
            'from geode_ros.data.vsibench import load_vsibench\n'
            'from geode_ros.errors import GeodeError\n'
            'try:\n'
            f'    load_vsibench({str(path)!r})\n'
            'except GeodeError as exc:\n'
            '    print(exc)\n')
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert 'pip install pyarrow' in out.stdout


def test_parquet_loads_like_jsonl(tmp_path):
    """The benchmark's own format (pyarrow is a test requirement, so this always runs)."""
    pa = pytest.importorskip('pyarrow', reason='pyarrow not installed (requirements.txt)')
    import pyarrow.parquet as pq

    pq.write_table(pa.Table.from_pylist(ROWS), tmp_path / 't.parquet')
    (tmp_path / 'vsi.jsonl').write_text('\n'.join(json.dumps(r) for r in ROWS) + '\n')
    recs = load_vsibench(tmp_path / 't.parquet')
    assert recs == load_vsibench(tmp_path / 'vsi.jsonl')
    assert recs[1].answer == 'C' and recs[0].value == 4.0 and recs[1].options[3].endswith('right')


def test_video_path(tmp_path):
    rec = load_vsibench(_dump(tmp_path, ROWS[:1]))[0]
    with pytest.raises(GeodeError, match='no video'):
        video_path(rec, tmp_path)
    (tmp_path / 'arkitscenes').mkdir()
    (tmp_path / 'arkitscenes' / '41069025.mp4').write_bytes(b'')
    assert video_path(rec, tmp_path) == tmp_path / 'arkitscenes' / '41069025.mp4'


def _dump(tmp_path, rows):
    p = tmp_path / 'rows.json'
    p.write_text(json.dumps(rows))
    return p

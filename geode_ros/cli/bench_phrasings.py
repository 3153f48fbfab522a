"""``geode-bench phrasings``: how well questions in people's wording are understood and answered.

Reads a phrasing set (``test/query/phrasings``: templates per kind with the program each
means, names per class; README there), fills every template with names of the same split,
and reports per kind the parse rate and the share read as the right program, for three
readers: the rules alone, the VLM alone (``--model``, constrained program writing) and
both (rules, then the VLM where they cannot). With ``--data`` (a geode-synth directory of
held-out scenes) it also asks the questions of each scene through the engine, as the
node does, and scores the answers against the scene's ground truth (geode-eval's
everyday scoring): "answered right".
"""

from __future__ import annotations

import argparse
import json
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

from geode_ros.errors import GeodeError

READERS = ('rules', 'vlm', 'both')


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from geode_ros.cli.common import add_runtime_arguments, repo_root
    from geode_ros.data.phrasings import SPLITS

    default_set = repo_root() / 'test' / 'query' / 'phrasings'
    parser.add_argument('--set', default=str(default_set), help='phrasing set directory')
    parser.add_argument('--split', default='dev', choices=SPLITS,
                        help='which set to read (report on heldout; develop on the dev sets)')
    parser.add_argument('--model', default='',
                        help='GEODE model (adds the VLM readers and its class list); empty: '
                             'rules alone over the 17 synthetic classes')
    parser.add_argument('--data', default='', help='held-out geode-synth dir: also answer '
                        'the questions on its scenes and score them (needs --model)')
    parser.add_argument('--scenes', type=int, default=4, help='scenes of --data to use')
    parser.add_argument('--per-template', type=int, default=2,
                        help='fillings of each template (parse) or per scene (answers)')
    parser.add_argument('--seed', type=int, default=0, help='which names fill the templates')
    add_runtime_arguments(parser)
    parser.add_argument('--json', dest='json_out', default=None, help='write results here')


def _read(model, lexicon, question: str, reader: str):
    """(program or None, status) of one reader."""
    from geode_ros.query.pipeline import understand
    from geode_ros.query.program import QueryError

    try:
        if model is None:
            return understand(question, lexicon), 'ok'
        return model.understand(question, use_rules=reader != 'vlm',
                                use_vlm=reader != 'rules'), 'ok'
    except QueryError as exc:
        return None, exc.status


def _right(q, program, status: str, lexicon) -> bool:
    from geode_ros.query.program import Program

    if q.expect:
        return status == q.expect or (q.expect == 'cannot_parse' and program is None
                                      and status in ('ok', 'cannot_parse'))
    if program is None:
        return False
    want = Program(q.kind, tuple(lexicon.resolve(c) for c in q.labels), q.reference, q.unit,
                   program.radius_m, dimension=program.dimension)
    return program.key() == want.key()


def parse_rates(questions, model, lexicon, readers) -> dict:
    """Per reader and kind: parsed (a program, or the expected refusal) and right, in %."""
    out = {}
    for reader in readers:
        tally: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
        times = []
        for q in questions:
            t0 = time.perf_counter()
            program, status = _read(model, lexicon, q.question, reader)
            times.append(time.perf_counter() - t0)
            key = q.expect or q.kind
            parsed = program is not None or (bool(q.expect) and status == q.expect)
            tally[key][0] += parsed
            tally[key][1] += _right(q, program, status, lexicon)
            tally[key][2] += 1
        rows = {k: {'parsed': 100.0 * p / n, 'right': 100.0 * r / n, 'n': n}
                for k, (p, r, n) in sorted(tally.items())}
        n = sum(v[2] for v in tally.values())
        rows['all'] = {'parsed': 100.0 * sum(v[0] for v in tally.values()) / n,
                       'right': 100.0 * sum(v[1] for v in tally.values()) / n, 'n': n,
                       'ms_median': 1000 * float(np.median(times))}
        out[reader] = rows
    return out


def answer_rates(args, model, templates, names) -> dict:
    """Per kind: % of questions answered right on the scenes of ``--data``."""
    from geode_ros.data.frames import FramesFolder
    from geode_ros.data.metrics import score_record
    from geode_ros.data.phrasings import instantiate
    from geode_ros.data.qa_everyday import EverydayGT, record_for
    from geode_ros.query.engine import SpatialQueryEngine
    from geode_ros.query.program import Program, QueryError

    root = Path(args.data)
    folders = sorted(root.glob('scenes/*/scene.json'))[:args.scenes]
    if not folders:
        raise GeodeError(f'no scenes under {root}/scenes')
    rng = np.random.default_rng(args.seed)
    tally: dict[str, list[float]] = defaultdict(list)
    lexicon = model.lexicon
    for meta_path in folders:
        meta = json.loads(meta_path.read_text())
        gt = EverydayGT(meta)
        engine = SpatialQueryEngine(reasoner=model)
        for frame in FramesFolder(meta_path.parent):  # as the node and geode-replay do
            engine.ingest_frame(frame)
        usable = [t for t in templates if not t.get('expect')]
        for q in instantiate(usable, names, rng, gt.seen_labels or None, args.per_template):
            want = Program(q.kind, tuple(lexicon.resolve(c) for c in q.labels), q.reference,
                           q.unit)
            record = record_for(gt, want, q.question)
            if record is None:
                continue
            try:
                answer = engine.query(q.question)
            except QueryError:
                answer = None
            tally[q.kind].append(0.0 if answer is None else score_record(record, answer))
    rows = {k: {'right': 100.0 * float(np.mean(v)), 'n': len(v)} for k, v in sorted(tally.items())}
    every = [s for v in tally.values() for s in v]
    rows['all'] = {'right': 100.0 * float(np.mean(every)), 'n': len(every)}
    return rows


def run(args: argparse.Namespace) -> dict:
    from geode_ros.cli.common import load_reasoner
    from geode_ros.data.phrasings import NAMES_FILE, instantiate, load_names, load_templates
    from geode_ros.data.scene_layout import CLASSES
    from geode_ros.query.lexicon import Lexicon

    folder = Path(args.set)
    templates = load_templates(folder / f'{args.split}.jsonl')
    names = load_names(folder / NAMES_FILE[args.split], args.split)
    model = load_reasoner(args.model, args.device, args.dtype, args.quantization) \
        if args.model else None
    saved_vlm = model.config.programs.enabled if model is not None else False
    if model is not None:
        model.config.programs.enabled = True  # measure the VLM reader whatever the default
    lexicon = model.lexicon if model is not None else Lexicon(CLASSES)
    known = [c for c in names if c in lexicon.classes]
    questions = instantiate(templates, names, np.random.default_rng(args.seed), known,
                            args.per_template)
    readers = READERS if model is not None else ('rules',)
    result = {'split': args.split, 'questions': len(questions),
              'parse': parse_rates(questions, model, lexicon, readers)}
    for reader, rows in result['parse'].items():
        a = rows['all']
        print(f'{reader:>5}: parsed {a["parsed"]:5.1f}%  right program {a["right"]:5.1f}%  '
              f'({a["n"]} questions, median {a["ms_median"]:.2f} ms)')
        for kind, row in rows.items():
            if kind != 'all':
                print(f'       {kind:16} parsed {row["parsed"]:5.1f}  right {row["right"]:5.1f}'
                      f'  n={row["n"]}')
    if args.data:
        if model is None:
            raise GeodeError('--data needs --model (answers come from a model)')
        model.config.programs.enabled = saved_vlm  # answer as the model is configured
        result['answers'] = answer_rates(args, model, templates, names)
        print('answered right on the scenes of', args.data)
        for kind, row in result['answers'].items():
            print(f'       {kind:16} {row["right"]:5.1f}%  n={row["n"]}')
    if args.json_out:
        Path(args.json_out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json_out).write_text(json.dumps(result, indent=2) + '\n')
    return result

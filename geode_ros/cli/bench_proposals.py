"""``geode-bench proposals``: what the DRM can see and detect, per object class.

For every ground-truth object of each scene (replayed through the engine as the node
would, from RGB-D frames or, with ``--input points``, from point clouds only): how many
fused-cloud points lie in its box, and how well the best class-agnostic proposal covers
it (IoU >= 0.25 / 0.5). With ``--model``, also the model's own merged detections at its
score threshold: AP@0.25 per class, how many objects a detection of the right class finds
at IoU >= 0.25, precision, recall and false positives per scene, and a reliability table
(how often a detection scoring in each bin is right). ``--calibrate`` first fits the
model's temperature, score threshold and confident score on these scenes and saves them
into the model (validation data only).
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

import numpy as np

from geode_ros.errors import GeodeError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from geode_ros.cli.common import add_runtime_arguments
    from geode_ros.train.scenes import INPUTS

    parser.add_argument('--data', required=True, help='geode-synth dir (scenes/*/scene.json)')
    parser.add_argument('--model', default=None, help="also score this model's detections")
    parser.add_argument('--limit', type=int, default=0, help='only the first N scenes')
    parser.add_argument('--input', default='frames', choices=INPUTS,
                        help='feed the scenes as RGB-D frames, or as point clouds only (with '
                             'or without colours, no keyframes)')
    parser.add_argument('--calibrate', action='store_true',
                        help="fit the model's temperature, score_threshold and confident_score "
                             'on these scenes and save them into --model (validation data only)')
    parser.add_argument('--precision', type=float, default=0.0,
                        help='--calibrate: score_threshold reaches this precision (0: the '
                             'score of best F1)')
    parser.add_argument('--confident-precision', type=float, default=0.85,
                        help='--calibrate: confident_score reaches this precision')
    add_runtime_arguments(parser)
    parser.add_argument('--json', dest='json_out', default=None, help='write results here')


def _coverage(args, folders: list[Path], model) -> tuple[dict, list]:
    """Per class: points in each GT box and the best proposal IoU; the GT per scene."""
    from geode_ros.scene.boxgeom import box_iou_3d, points_in_box
    from geode_ros.scene.proposals import ProposalConfig, propose_objects
    from geode_ros.scene.types import Box3D
    from geode_ros.train.scenes import SceneStore, replay_scene, scene_objects

    per_class: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    store = SceneStore(args.data, model, inputs=args.input) if model is not None else None
    gts_all = []
    for folder in folders:
        if store is not None:
            got = store.get(f'{folder.parent.name}/{folder.name}')
            points, props = got.points, got.proposals
        else:
            snap = replay_scene(folder, inputs=args.input)
            points, props = snap.points, propose_objects(snap.points, snap.colors,
                                                         ProposalConfig())
        gt = scene_objects(folder) or []
        gts_all.append(gt)
        boxes = [Box3D('', b[:3], b[3:6], float(b[6])) for b in props.boxes]
        for o in gt:
            per_class[o.label]['points'].append(float(points_in_box(points, o, 0.0).sum()))
            per_class[o.label]['proposal_iou'].append(
                max((box_iou_3d(o, b) for b in boxes), default=0.0))
    return per_class, (store, gts_all)


def run(args: argparse.Namespace) -> dict:
    folders = sorted(Path(args.data).glob('scenes/*/scene.json'))
    folders = [f.parent for f in folders][:args.limit or None]
    if not folders:
        raise GeodeError(f'no scenes/*/scene.json under {args.data}')
    model = None
    if args.model:
        from geode_ros.cli.common import load_reasoner

        model = load_reasoner(args.model, args.device, args.dtype, args.quantization)
    elif args.calibrate:
        raise GeodeError('--calibrate needs --model')
    per_class, (store, gts) = _coverage(args, folders, model)
    scenes = [f'{f.parent.name}/{f.name}' for f in folders]
    result: dict = {}
    if model is not None:
        from geode_ros.scene.boxgeom import box_iou_3d
        from geode_ros.train.calibrate import calibrate, detection_report, score_detections

        if args.calibrate:
            from geode_ros.model.checkpoint import save_pretrained

            result['calibration'] = calibrate(model, store, scenes, args.precision,
                                              args.confident_precision)
            save_pretrained(model, args.model)
        result['detection'] = detection_report(model, store, scenes)
        thr = model.config.objects.score_threshold
        _, dets, _ = score_detections(model, store, scenes)
        for ds, gt in zip(dets, gts):
            for o in gt:
                same = [box_iou_3d(o, d.as_box3d()) for d in ds
                        if d.label == o.label and d.score >= thr]
                per_class[o.label]['detection_iou'].append(max(same, default=0.0))
    result.update(_table(args, per_class, result.get('detection'), len(folders)))
    if args.json_out:
        Path(args.json_out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json_out).write_text(json.dumps(result, indent=2) + '\n')
    return result


def _table(args, per_class: dict, det: dict | None, n_scenes: int) -> dict:
    """Print the per-class table (and the detection summary); return it as JSON."""
    ap = det['AP@0.25'] if det else {}
    head = f'{"class":<14}{"n":>5}{"points":>8}{"prop@.25":>10}{"prop@.5":>9}'
    table = [head + (f'{"det@.25":>9}{"AP@.25":>8}' if det else '')]
    out = {}
    for label in sorted(per_class):
        r = per_class[label]
        iou = np.asarray(r['proposal_iou'])
        row = {'n': len(iou), 'mean_points': float(np.mean(r['points'])),
               'proposal_recall@0.25': 100 * float(np.mean(iou >= 0.25)),
               'proposal_recall@0.5': 100 * float(np.mean(iou >= 0.5))}
        line = (f'{label:<14}{row["n"]:>5}{row["mean_points"]:>8.0f}'
                f'{row["proposal_recall@0.25"]:>10.0f}{row["proposal_recall@0.5"]:>9.0f}')
        if det:
            row['detection_recall@0.25'] = 100 * float(np.mean(np.asarray(
                r['detection_iou']) >= 0.25))
            row['AP@0.25'] = ap.get(label, float('nan'))
            line += f'{row["detection_recall@0.25"]:>9.0f}{row["AP@0.25"]:>8.1f}'
        out[label] = row
        table.append(line)
    ious = np.concatenate([per_class[k]['proposal_iou'] for k in per_class])
    summary = {'scenes': n_scenes, 'objects': int(len(ious)), 'input': args.input,
               'proposal_recall@0.25': 100 * float(np.mean(ious >= 0.25)),
               'proposal_recall@0.5': 100 * float(np.mean(ious >= 0.5))}
    line = (f'{"all":<14}{len(ious):>5}{"":>8}{summary["proposal_recall@0.25"]:>10.0f}'
            f'{summary["proposal_recall@0.5"]:>9.0f}')
    if det:
        hits = np.concatenate([per_class[k]['detection_iou'] for k in per_class])
        summary['detection_recall@0.25'] = 100 * float(np.mean(hits >= 0.25))
        summary['mAP@0.25'] = det['mAP@0.25']
        line += f'{summary["detection_recall@0.25"]:>9.0f}{summary["mAP@0.25"]:>8.1f}'
    table.append(line)
    print(f'{n_scenes} scenes of {args.data} ({args.input}); points: fused-cloud points in '
          'the GT box; prop: best proposal IoU; det: best same-class detection IoU (recall, %)')
    print('\n'.join(table))
    if det:
        t, c = det['at_threshold'], det['confident']
        print(f'detections at score >= {t["threshold"]:.2f} (temperature '
              f'{det["temperature"]:.2f}): precision {t["precision"]:.3f}, recall '
              f'{t["recall"]:.3f}, false positives per scene {t["fp_per_scene"]:.2f}, '
              f'mAP@0.25 {det["mAP@0.25"]:.1f}; confident (>= {c["threshold"]:.2f}): '
              f'precision {c["precision"]:.3f}, recall {c["recall"]:.3f}; ECE {det["ece"]:.3f}')
        print('reliability: ' + ', '.join(
            f'{r["bin"][0]:.2f}-{r["bin"][1]:.2f}: {r["n"]} at {r["precision"]:.2f}'
            for r in det['reliability']))
    return {'summary': summary, 'per_class': out}

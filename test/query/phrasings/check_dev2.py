"""Validate a later development phrasing set (dev2 or dev3) and print its counts.

dev2 (dev2.jsonl, names2.json) and dev3 (dev3.jsonl, names3.json) are further development
sets, each written blind after the ones before it. Their lines get the checks of
check_set.py, and more: no wording may equal a wording of an earlier development set (it
would add nothing) or of heldout.jsonl (tuning on it would leak the report set), and the
names must agree with the earlier names files on which class a name belongs to. Held-out
lines and names are never printed: matches with them show as counts (and, for wordings, the
ids to rewrite). Stdlib only:

    python3 test/query/phrasings/check_dev2.py [--set {dev2,dev3}] [--dir DIR]

Without --set it checks dev2. Exit status 1 (with one line per problem) when anything is
wrong.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

from check_set import (
    EXPECTS,
    KINDS,
    REQUIRED,
    VOCAB,
    check_record,
    check_unknown,
    contains_name,
    fold,
    load_jsonl,
    report,
    wording,
)

HERE = Path(__file__).resolve().parent
# Per set: its names file, the development sets written before it (whose wordings it may not
# repeat and whose names files it must agree with), and the minimum counts it must reach.
SETS = {
    'dev2': {
        'names': 'names2.json',
        'earlier': ('dev',),
        'min_per_kind': 30,
        'min_distance': {'object': 30, 'robot': 15},
        'min_expect': {'unknown_category': 30, 'cannot_parse': 20},
    },
    'dev3': {
        'names': 'names3.json',
        'earlier': ('dev', 'dev2'),
        'min_per_kind': 20,
        'min_distance': {'object': 20, 'robot': 12},
        'min_expect': {'unknown_category': 20, 'cannot_parse': 12},
    },
}
EARLIER_NAMES = {'dev2': 'names2.json'}  # later names files checked against names.json too


def check_names_file(names: dict, file: str) -> tuple[list[str], dict[str, str], set[str]]:
    """Check a later names file; return (errors, folded class name -> class, unknown names)."""
    errors: list[str] = []
    classes = names.get('classes', {})
    if sorted(classes) != sorted(VOCAB):
        errors.append(f'{file}: classes {sorted(classes)} != vocabulary {sorted(VOCAB)}')
    owner: dict[str, str] = {}
    for cls, entry in classes.items():
        sing, plur = entry.get('singular', []), entry.get('plural', [])
        if not sing or len(sing) != len(plur):
            errors.append(f'{file} {cls}: singular/plural empty or not paired')
        for name in sing + plur:
            if not isinstance(name, str) or not name or name != name.strip() or '  ' in name:
                errors.append(f'{file} {cls}: bad name {name!r}')
        if fold(cls) not in {fold(n) for n in sing if isinstance(n, str)}:
            errors.append(f'{file} {cls}: canonical name missing from singular')
        for name in {fold(n) for n in sing + plur if isinstance(n, str)}:
            if owner.setdefault(name, cls) != cls:
                errors.append(f'{file}: {name!r} names both {owner[name]} and {cls}')
    unknown = check_unknown(names, owner, file, errors)
    return errors, owner, unknown


def first_names(names: dict, half: str) -> dict[str, str]:
    """Folded name -> class for one half ('dev' or 'heldout') of the first set's names.json."""
    owner = {}
    for cls, entry in names.get('classes', {}).items():
        part = entry.get(half, {})
        for name in part.get('singular', []) + part.get('plural', []):
            owner[fold(name)] = cls
    return owner


def first_unknown(names: dict) -> set[str]:
    """Folded singular and plural names of the first set's unknown objects."""
    return {fold(e.get(f, '')) for e in names.get('unknown', []) for f in ('singular', 'plural')}


def disagreements(
    file: str, owner: dict[str, str], unknown: set[str], other_file: str,
    other_owner: dict[str, str], other_unknown: set[str],
) -> list[str]:  # fmt: skip
    """Names that two printable names lists put in different classes (or class vs unknown)."""
    errors = []
    for name, cls in sorted(owner.items()):
        if other_owner.get(name, cls) != cls:
            other_cls = other_owner[name]
            errors.append(f'{file}: {name!r} is {cls} here but {other_cls} in {other_file}')
        if name in other_unknown:
            errors.append(f'{file}: {name!r} is {cls} here but unknown in {other_file}')
    for name in sorted(unknown & set(other_owner)):
        errors.append(f'{file}: unknown {name!r} is {other_owner[name]} in {other_file}')
    return errors


def against_held_out(
    label: str, owner: dict[str, str], unknown: set[str], names1: dict
) -> list[str]:
    """Count-only lines on how a names list meets the held-out half of names.json.

    Nothing is printed but counts, so that nobody reads held-out names through this.
    """
    dev1, held1 = first_names(names1, 'dev'), first_names(names1, 'heldout')
    canon = {fold(c) for c in VOCAB} | {n for n, c in owner.items() if fold(c) == n}
    shared = {n for n in owner if n in held1 and n not in canon and n not in dev1}
    other = {n for n in owner if held1.get(n, owner[n]) != owner[n]}
    return [
        f'{label} class names also among held-out names.json names: {len(shared)}',
        f'{label} class names put in another class by held-out names.json: {len(other)}',
        f'{label} unknown names that are held-out class names: {len(unknown & set(held1))}',
    ]


def wording_clashes(
    name: str, recs: list[dict], earlier: dict[str, list[dict]], heldout: list[dict],
    names: list[str],
) -> tuple[list[str], int]:  # fmt: skip
    """Repeated program wordings in a set, and its wordings equal to earlier / held-out ones."""
    errors = []
    seen: dict[tuple[str, ...], str] = {}
    for rec in recs:
        w = wording(rec, names)
        if w in seen and 'expect' not in rec and not seen[w].startswith('!'):
            errors.append(f'{name}: {rec["id"]} repeats the wording of {seen[w]}')
        # a refusal may reuse a program's wording ('where is the piano')
        seen.setdefault(w, ('!' if 'expect' in rec else '') + rec['id'])
    before: dict[tuple[str, ...], str] = {}
    for other, other_recs in earlier.items():
        for rec in other_recs:
            before.setdefault(wording(rec, names), f'{other}:{rec["id"]}')
    held_words = {wording(rec, names) for rec in heldout}
    held_hits = 0
    for w, rid in seen.items():
        rid = rid.lstrip('!')
        if w in before:
            errors.append(f'{name}:{rid} / {before[w]}: same wording {" ".join(w)!r}')
        if w in held_words:
            held_hits += 1
            errors.append(f'{name}:{rid}: same wording as a held-out line (rewrite it)')
    return errors, held_hits


def counts_table(name: str, recs: list[dict], spec: dict) -> tuple[str, list[str]]:
    """Counts per kind, distance reference, unit, typo and refusal, and unmet minimums."""
    errors, rows = [], [f'{"kind":<24}{name:>9}']
    per = Counter(r['kind'] for r in recs if 'expect' not in r)
    for kind in KINDS:
        rows.append(f'{kind:<24}{per[kind]:>9}')
        if per[kind] < spec['min_per_kind']:
            errors.append(f'{name}: {per[kind]} {kind} templates < {spec["min_per_kind"]}')
    for ref, minimum in spec['min_distance'].items():
        n = sum(r['kind'] == 'distance' and r['reference'] == ref for r in recs)
        rows.append(f'{"  distance, " + ref:<24}{n:>9}')
        if n < minimum:
            errors.append(f'{name}: {n} distance/{ref} templates < {minimum}')
    rows.append(f'{"  (asking a unit)":<24}{sum(r["unit"] is not None for r in recs):>9}')
    total = sum(per.values())
    rows.append(f'{"programs":<24}{total:>9}')
    for expect in sorted(EXPECTS):
        n = sum(r.get('expect') == expect for r in recs)
        rows.append(f'{"expect " + expect:<24}{n:>9}')
        if n < spec['min_expect'][expect]:
            errors.append(f'{name}: {n} {expect} lines < {spec["min_expect"][expect]}')
    rows.append(f'{"all lines":<24}{len(recs):>9}')
    typo = sum(r.get('typo', False) for r in recs if 'expect' not in r) / max(total, 1)
    rows.append(f'{"typo share (programs)":<24}{typo:>9.1%}')
    return '\n'.join(rows), errors


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--set', choices=sorted(SETS), default='dev2', help='set to check')
    parser.add_argument('--dir', type=Path, default=HERE, help='folder with the set files')
    args = parser.parse_args(argv)
    name, spec = args.set, SETS[args.set]
    label = spec['names'].removesuffix('.json')

    def load(file: str) -> dict:
        return json.loads((args.dir / file).read_text(encoding='utf-8'))

    names1 = load('names.json')
    errors, owner, unknown = check_names_file(load(spec['names']), spec['names'])
    dev1, held1 = first_names(names1, 'dev'), set(first_names(names1, 'heldout'))
    unknown1 = first_unknown(names1)
    errors += disagreements(spec['names'], owner, unknown, 'names.json', dev1, unknown1)
    info = against_held_out(label, owner, unknown, names1)
    # names of the earlier later-sets (names2.json for dev3): printable, must agree too
    earlier_owner: dict[str, str] = {}
    earlier_unknown: set[str] = set()
    for other in spec['earlier']:
        if other in EARLIER_NAMES:
            _, o_owner, o_unknown = check_names_file(load(EARLIER_NAMES[other]), '')
            errors += disagreements(
                spec['names'], owner, unknown, EARLIER_NAMES[other], o_owner, o_unknown
            )
            earlier_owner |= o_owner
            earlier_unknown |= o_unknown
    recs, errs = load_jsonl(args.dir / f'{name}.jsonl')
    errors += errs
    ids = Counter(r.get('id') for r in recs)
    errors += [f'{name}: id {i} used {n} times' for i, n in ids.items() if n > 1]
    # refusal lines are checked against every printable name (this set's, names.json dev,
    # earlier sets' and unknown lists)
    known = set(owner) | set(dev1) | set(earlier_owner)
    known |= (unknown1 | earlier_unknown) - unknown
    for rec in recs:
        errors += check_record(rec, name, known, unknown)
    recs = [r for r in recs if all(k in r for k in REQUIRED) and isinstance(r['template'], str)]
    held1 -= known | unknown
    held_named = [
        r['id'] for r in recs
        if r.get('expect') == 'cannot_parse'
        and any(contains_name(r['template'], n) for n in held1)
    ]  # fmt: skip
    errors += [f'{name}:{i}: cannot_parse line names a held-out object name' for i in held_named]
    own_names = set(owner) | unknown
    literal = [
        r['id'] for r in recs
        if 'expect' not in r and any(contains_name(r['template'], n) for n in own_names)
    ]  # fmt: skip
    info.append(f'program templates with a literal {label} name (distractors): {literal or 0}')
    all_names = sorted(known | unknown | unknown1 | held1, key=len, reverse=True)
    earlier: dict[str, list[dict]] = {}
    for other in spec['earlier']:
        earlier[other], errs = load_jsonl(args.dir / f'{other}.jsonl')
        errors += errs
    held, errs = load_jsonl(args.dir / 'heldout.jsonl')
    errors += errs
    clashes, held_hits = wording_clashes(name, recs, earlier, held, all_names)
    errors += clashes
    info.append(f'{name} wordings equal to a held-out wording: {held_hits}')
    table, count_errors = counts_table(name, recs, spec)
    return report(table, errors + count_errors, info)


if __name__ == '__main__':
    sys.exit(main())

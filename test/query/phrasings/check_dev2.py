"""Validate the second development phrasing set (dev2.jsonl, names2.json) and print its counts.

dev2 is a further development set, written blind after dev / heldout. Its lines get the checks
of check_set.py, and two more: no dev2 wording may equal a dev.jsonl wording (it would add
nothing) or a heldout.jsonl wording (tuning on it would leak the report set). Held-out lines
and names are never printed: matches with them show as counts (and, for wordings, the dev2
ids to rewrite). Stdlib only:

    python3 test/query/phrasings/check_dev2.py [--dir DIR]

Exit status 1 (with one line per problem) when anything is wrong.
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
MIN_PER_KIND = 30
MIN_DISTANCE = {'object': 30, 'robot': 15}
MIN_EXPECT = {'unknown_category': 30, 'cannot_parse': 20}


def check_names2(names: dict) -> tuple[list[str], dict[str, str], set[str]]:
    """Check names2.json; return (errors, folded class name -> class, folded unknown names)."""
    errors: list[str] = []
    classes = names.get('classes', {})
    if sorted(classes) != sorted(VOCAB):
        errors.append(f'names2.json: classes {sorted(classes)} != vocabulary {sorted(VOCAB)}')
    owner: dict[str, str] = {}
    for cls, entry in classes.items():
        sing, plur = entry.get('singular', []), entry.get('plural', [])
        if not sing or len(sing) != len(plur):
            errors.append(f'names2.json {cls}: singular/plural empty or not paired')
        for name in sing + plur:
            if not isinstance(name, str) or not name or name != name.strip() or '  ' in name:
                errors.append(f'names2.json {cls}: bad name {name!r}')
        if fold(cls) not in {fold(n) for n in sing if isinstance(n, str)}:
            errors.append(f'names2.json {cls}: canonical name missing from singular')
        for name in {fold(n) for n in sing + plur if isinstance(n, str)}:
            if owner.setdefault(name, cls) != cls:
                errors.append(f'names2.json: {name!r} names both {owner[name]} and {cls}')
    unknown = check_unknown(names, owner, 'names2.json', errors)
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


def against_first_set(
    owner2: dict[str, str], unknown2: set[str], names1: dict
) -> tuple[list[str], list[str]]:
    """Disagreements between names2.json and names.json: (errors, count-only info lines).

    Disagreements with the dev half and the first set's unknown list are printed; those with
    the held-out half are only counted, so that nobody reads held-out names through this.
    """
    errors, info = [], []
    dev1, held1 = first_names(names1, 'dev'), first_names(names1, 'heldout')
    unknown1 = first_unknown(names1)
    for name, cls in sorted(owner2.items()):
        if dev1.get(name, cls) != cls:
            errors.append(f'names2.json: {name!r} is {cls} here but {dev1[name]} in names.json')
        if name in unknown1:
            errors.append(f'names2.json: {name!r} is {cls} here but unknown in names.json')
    for name in sorted(unknown2 & set(dev1)):
        errors.append(f'names2.json: unknown {name!r} is {dev1[name]} in names.json')
    canon = {fold(c) for c in VOCAB} | {n for n, c in owner2.items() if fold(c) == n}
    shared = {n for n in owner2 if n in held1 and n not in canon and n not in dev1}
    other = {n for n in owner2 if held1.get(n, owner2[n]) != owner2[n]}
    info.append(f'names2 class names also among held-out names.json names: {len(shared)}')
    info.append(f'names2 class names put in another class by held-out names.json: {len(other)}')
    clash = len(unknown2 & set(held1))
    info.append(f'names2 unknown names that are held-out class names: {clash}')
    return errors, info


def wording_clashes(
    dev2: list[dict], dev: list[dict], heldout: list[dict], names: list[str]
) -> tuple[list[str], int]:
    """Repeated program wordings in dev2 and dev2 wordings equal to dev / held-out ones."""
    errors = []
    seen: dict[tuple[str, ...], str] = {}
    for rec in dev2:
        w = wording(rec, names)
        if w in seen and 'expect' not in rec and not seen[w].startswith('!'):
            errors.append(f'dev2: {rec["id"]} repeats the wording of {seen[w]}')
        # a refusal may reuse a program's wording ('where is the piano')
        seen.setdefault(w, ('!' if 'expect' in rec else '') + rec['id'])
    dev_words = {}
    for rec in dev:
        dev_words.setdefault(wording(rec, names), rec['id'])
    held_words = {wording(rec, names) for rec in heldout}
    held_hits = 0
    for w, eid in seen.items():
        eid = eid.lstrip('!')
        if w in dev_words:
            errors.append(f'dev2:{eid} / dev:{dev_words[w]}: same wording {" ".join(w)!r}')
        if w in held_words:
            held_hits += 1
            errors.append(f'dev2:{eid}: same wording as a held-out line (rewrite it)')
    return errors, held_hits


def counts_table(recs: list[dict]) -> tuple[str, list[str]]:
    """Counts per kind, distance reference, unit, typo and refusal, and unmet minimums."""
    errors, rows = [], [f'{"kind":<24}{"dev2":>9}']
    per = Counter(r['kind'] for r in recs if 'expect' not in r)
    for kind in KINDS:
        rows.append(f'{kind:<24}{per[kind]:>9}')
        if per[kind] < MIN_PER_KIND:
            errors.append(f'dev2: {per[kind]} {kind} templates < {MIN_PER_KIND}')
    for ref, minimum in MIN_DISTANCE.items():
        n = sum(r['kind'] == 'distance' and r['reference'] == ref for r in recs)
        rows.append(f'{"  distance, " + ref:<24}{n:>9}')
        if n < minimum:
            errors.append(f'dev2: {n} distance/{ref} templates < {minimum}')
    rows.append(f'{"  (asking a unit)":<24}{sum(r["unit"] is not None for r in recs):>9}')
    total = sum(per.values())
    rows.append(f'{"programs":<24}{total:>9}')
    for expect in sorted(EXPECTS):
        n = sum(r.get('expect') == expect for r in recs)
        rows.append(f'{"expect " + expect:<24}{n:>9}')
        if n < MIN_EXPECT[expect]:
            errors.append(f'dev2: {n} {expect} lines < {MIN_EXPECT[expect]}')
    rows.append(f'{"all lines":<24}{len(recs):>9}')
    typo = sum(r.get('typo', False) for r in recs if 'expect' not in r) / max(total, 1)
    rows.append(f'{"typo share (programs)":<24}{typo:>9.1%}')
    return '\n'.join(rows), errors


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--dir', type=Path, default=HERE, help='folder with the set files')
    args = parser.parse_args(argv)
    names2 = json.loads((args.dir / 'names2.json').read_text(encoding='utf-8'))
    names1 = json.loads((args.dir / 'names.json').read_text(encoding='utf-8'))
    errors, owner2, unknown2 = check_names2(names2)
    name_errors, info = against_first_set(owner2, unknown2, names1)
    errors += name_errors
    recs, errs = load_jsonl(args.dir / 'dev2.jsonl')
    errors += errs
    ids = Counter(r.get('id') for r in recs)
    errors += [f'dev2: id {i} used {n} times' for i, n in ids.items() if n > 1]
    # refusal lines are checked against every printable name (names2, names.json dev, unknown)
    dev1 = set(first_names(names1, 'dev'))
    unknown1 = first_unknown(names1)
    known = set(owner2) | dev1 | (unknown1 - unknown2)
    for rec in recs:
        errors += check_record(rec, 'dev2', known, unknown2)
    recs = [r for r in recs if all(k in r for k in REQUIRED) and isinstance(r['template'], str)]
    held1 = set(first_names(names1, 'heldout')) - known - unknown2
    held_named = [
        r['id'] for r in recs
        if r.get('expect') == 'cannot_parse'
        and any(contains_name(r['template'], n) for n in held1)
    ]  # fmt: skip
    errors += [f'dev2:{i}: cannot_parse line names a held-out object name' for i in held_named]
    names2_all = set(owner2) | unknown2
    literal = [
        r['id'] for r in recs
        if 'expect' not in r and any(contains_name(r['template'], n) for n in names2_all)
    ]  # fmt: skip
    info.append(f'program templates with a literal names2 name (distractors): {literal or 0}')
    all_names = sorted(set(owner2) | unknown2 | dev1 | unknown1 | held1, key=len, reverse=True)
    dev, errs = load_jsonl(args.dir / 'dev.jsonl')
    held, errs2 = load_jsonl(args.dir / 'heldout.jsonl')
    errors += errs + errs2
    clashes, held_hits = wording_clashes(recs, dev, held, all_names)
    errors += clashes
    info.append(f'dev2 wordings equal to a held-out wording: {held_hits}')
    table, count_errors = counts_table(recs)
    return report(table, errors + count_errors, info)


if __name__ == '__main__':
    sys.exit(main())

"""Validate the everyday-phrasing query test set and print its counts per kind and split.

The set is data for measuring the query parser on wordings it was not written from, so
this script checks what would make a measurement wrong: bad fields, slots that do not
match `objects`, wordings shared between dev and held-out (equal once articles, fillers,
punctuation and contractions are dropped), and names that leak across classes or halves.
Stdlib only:

    python3 test/query/phrasings/check_set.py [--dir DIR]

Exit status 1 (with one line per problem) when anything is wrong.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
VOCAB = (
    'bed', 'book', 'bottle', 'box', 'cabinet', 'chair', 'door', 'lamp', 'monitor', 'mug',
    'plant', 'refrigerator', 'shelf', 'sofa', 'table', 'trash can', 'tv',
)  # fmt: skip
KINDS = (
    'count', 'where', 'exists', 'list', 'distance', 'size', 'room_area', 'nearest', 'near',
    'direction', 'last_seen',
)  # fmt: skip
LENGTH_UNITS = frozenset({'m', 'cm', 'mm', 'ft', 'in'})
AREA_UNITS = frozenset({'m2', 'ft2'})
EXPECTS = frozenset({'unknown_category', 'cannot_parse'})
REQUIRED = ('id', 'kind', 'template', 'objects', 'reference', 'unit')
OPTIONAL = ('expect', 'typo')
SLOTS = {'a': 'a', 'a_pl': 'a', 'b': 'b', 'b_pl': 'b'}
SLOT_RE = re.compile(r'\{([^{}]*)\}')
NO_OBJECT_KINDS = frozenset({'list', 'room_area'})
ROBOT_KINDS = frozenset({'nearest', 'direction'})
# Minimum program templates per kind, and refusal lines, per split (from the brief).
MIN_PER_KIND = {'dev': 12, 'heldout': 30}
MIN_DISTANCE_HELDOUT = {'object': 30, 'robot': 15}
MIN_EXPECT = {'dev': 10, 'heldout': 40}
MIN_UNKNOWN = 30
# Words whose presence or absence does not make a new phrasing ('where is my {a}' is
# 'where is the {a}'), and contractions (apostrophes are dropped first).
TRIVIAL = frozenset(
    {'the', 'a', 'an', 'my', 'your', 'our', 'this', 'that', 'any', 'some', 'please', 'pls'}
    | {'uh', 'um', 'so', 'then', 'like', 'just'}
)
CONTRACTIONS = {
    'whats': 'what is', 'wheres': 'where is', 'hows': 'how is', 'theres': 'there is',
    'thats': 'that is', 'its': 'it is', 'whered': 'where did', 'whend': 'when did',
    'fars': 'far is', 'bigs': 'big is', 'longs': 'long is', 'ways': 'way is',
}  # fmt: skip
SPLITS = {'dev': 'd', 'heldout': 'h'}
ID_PREFIX = {**SPLITS, 'dev2': 'e', 'dev3': 'f'}  # dev2 / dev3 are checked by check_dev2.py


def fold(text: str) -> str:
    """Case- and space-insensitive key for a name."""
    return ' '.join(text.casefold().split())


def contains_name(text: str, name: str) -> bool:
    """Whether `name` occurs in `text` as whole words, ignoring case."""
    pattern = r'(?<![\w])' + re.escape(fold(name)) + r'(?![\w])'
    return re.search(pattern, fold(text)) is not None


def check_names(names: dict) -> tuple[list[str], set[str], set[str]]:
    """Check names.json; return (errors, all class names, all unknown names), folded."""
    errors: list[str] = []
    classes = names.get('classes', {})
    if sorted(classes) != sorted(VOCAB):
        errors.append(f'names.json: classes {sorted(classes)} != vocabulary {sorted(VOCAB)}')
    owner: dict[str, str] = {}
    for cls, entry in classes.items():
        canon = {fold(cls)}
        halves = {}
        for half in ('dev', 'heldout'):
            part = entry.get(half, {})
            sing, plur = part.get('singular', []), part.get('plural', [])
            if not sing or len(sing) != len(plur):
                errors.append(f'names.json {cls}.{half}: singular/plural empty or not paired')
            for name in sing + plur:
                if not isinstance(name, str) or name != name.strip() or not name:
                    errors.append(f'names.json {cls}.{half}: bad name {name!r}')
            if plur and sing and len(sing) == len(plur):
                canon |= {fold(p) for s, p in zip(sing, plur) if fold(s) == fold(cls)}
            halves[half] = {fold(n) for n in sing + plur}
        if fold(cls) not in {fold(n) for n in entry.get('dev', {}).get('singular', [])}:
            errors.append(f'names.json {cls}: canonical name missing from dev singular')
        shared = (halves.get('dev', set()) & halves.get('heldout', set())) - canon
        if shared:
            errors.append(f'names.json {cls}: dev and heldout share {sorted(shared)}')
        for name in halves.get('dev', set()) | halves.get('heldout', set()):
            if owner.setdefault(name, cls) != cls:
                errors.append(f'names.json: {name!r} names both {owner[name]} and {cls}')
        typos = entry.get('typos', [])
        if not typos:
            errors.append(f'names.json {cls}: no typos')
    class_names = set(owner)
    for cls, entry in classes.items():
        for typo in entry.get('typos', []):
            if fold(typo) in class_names:
                errors.append(f'names.json {cls}: typo {typo!r} is a real name')
    unknown = check_unknown(names, class_names, 'names.json', errors)
    return errors, class_names, unknown


def check_unknown(names: dict, class_names: set[str] | dict[str, str], file: str,
                  errors: list[str]) -> set[str]:
    """The folded names of a names file's unknown objects; problems go to ``errors``."""
    unknown: set[str] = set()
    entries = names.get('unknown', [])
    if len(entries) < MIN_UNKNOWN:
        errors.append(f'{file}: {len(entries)} unknown objects < {MIN_UNKNOWN}')
    for entry in entries:
        for form in ('singular', 'plural'):
            name = fold(entry.get(form, ''))
            if not name:
                errors.append(f'{file} unknown: missing {form} in {entry}')
            elif name in class_names:
                errors.append(f'{file} unknown: {name!r} is a class name')
            elif name in unknown and form == 'singular':
                errors.append(f'{file} unknown: {name!r} twice')
            unknown.add(name)
    return unknown


def check_record(rec: dict, split: str, class_names: set[str], unknown: set[str]) -> list[str]:
    """Problems with one jsonl line (empty when it is well-formed)."""
    where = f'{split}:{rec.get("id", "?")}'
    errors = [f'{where}: missing {k}' for k in REQUIRED if k not in rec]
    errors += [f'{where}: unknown field {k}' for k in rec if k not in REQUIRED + OPTIONAL]
    if errors:
        return errors
    kind, tpl, objects, ref, unit = (rec[k] for k in REQUIRED[1:])
    if not re.fullmatch(ID_PREFIX[split] + r'-\d{4}', str(rec['id'])):
        errors.append(f'{where}: id should look like {ID_PREFIX[split]}-0001')
    if not isinstance(tpl, str) or not tpl or tpl != tpl.strip() or '  ' in tpl:
        errors.append(f'{where}: template empty or badly spaced: {tpl!r}')
        return errors
    if 'typo' in rec and rec['typo'] is not True:
        errors.append(f'{where}: typo must be true when present')
    slots = SLOT_RE.findall(tpl)
    bad = [s for s in slots if s not in SLOTS]
    if bad or tpl.count('{') != len(slots) or tpl.count('}') != len(slots):
        errors.append(f'{where}: bad slots {bad or "(unbalanced braces)"} in {tpl!r}')
    used = {SLOTS[s] for s in slots if s in SLOTS}
    if 'expect' in rec:
        return errors + check_refusal(rec, where, used, class_names, unknown)
    if kind not in KINDS:
        errors.append(f'{where}: kind {kind!r} not in {KINDS}')
        return errors
    if objects not in (['a'], ['a', 'b']) and objects != []:
        errors.append(f'{where}: objects {objects!r} must be [], ["a"] or ["a", "b"]')
    if set(objects) != used:
        errors.append(f'{where}: objects {objects} but template uses {sorted(used)}')
    want_objects = {0} if kind in NO_OBJECT_KINDS else {1, 2} if kind == 'distance' else {1}
    if len(objects) not in want_objects:
        errors.append(f'{where}: {kind} takes {sorted(want_objects)} objects, got {objects}')
    if kind == 'distance':
        want_ref = 'object' if len(objects) == 2 else 'robot'
    else:
        want_ref = 'robot' if kind in ROBOT_KINDS else None
    if ref != want_ref:
        errors.append(f'{where}: reference {ref!r}, expected {want_ref!r} for {kind}')
    units = (
        LENGTH_UNITS
        if kind in ('distance', 'size')
        else AREA_UNITS
        if kind == 'room_area'
        else frozenset()
    )
    if unit is not None and unit not in units:
        errors.append(f'{where}: unit {unit!r} not allowed for {kind} ({sorted(units)})')
    return errors


def check_refusal(
    rec: dict, where: str, used: set[str], class_names: set[str], unknown: set[str]
) -> list[str]:
    """Problems with a line that must be refused (expect: unknown_category / cannot_parse)."""
    errors = []
    expect, tpl, kind = rec['expect'], rec['template'], rec['kind']
    if expect not in EXPECTS:
        return [f'{where}: expect {expect!r} not in {sorted(EXPECTS)}']
    if used or rec['objects'] or rec['reference'] is not None or rec['unit'] is not None:
        errors.append(f'{where}: refusal lines have no slots, objects, reference or unit')
    if expect == 'unknown_category':
        if kind not in KINDS:
            errors.append(f'{where}: unknown_category lines keep the kind asked, got {kind!r}')
        if not any(contains_name(tpl, n) for n in unknown):
            errors.append(f'{where}: no unknown object from names.json in {tpl!r}')
    else:
        if kind is not None:
            errors.append(f'{where}: cannot_parse lines have kind null')
        hits = [n for n in class_names | unknown if contains_name(tpl, n)]
        if hits:
            errors.append(f'{where}: cannot_parse line names objects {hits}: keep it non-spatial')
    return errors


def wording(rec: dict, names: list[str]) -> tuple[str, ...]:
    """The wording of a template: names, case, punctuation and trivial words dropped.

    Slots become {x} (singular) / {xs} (plural); in refusal lines the literal object names
    become {x} too. Templates with equal wordings differ only by articles, possessives,
    fillers, punctuation or a contraction, so they are not different phrasings.
    """
    text = rec['template'].casefold()
    text = re.sub(r'\{[ab]_pl\}', ' {xs} ', re.sub(r'\{[ab]\}', ' {x} ', text))
    if 'expect' in rec:
        for name in names:  # longest first, so 'trash can' wins over 'can'
            text = re.sub(r'(?<![\w])' + re.escape(name) + r'(?![\w])', ' {x} ', text)
    text = re.sub(r'[^\w{} ]', ' ', text.replace("'", ''))
    words = ' '.join(CONTRACTIONS.get(w, w) for w in text.split()).split()
    return tuple(w for w in words if w not in TRIVIAL)


def cross_split(sets: dict[str, list[dict]], names: list[str]) -> list[str]:
    """Wordings shared between dev and held-out, and program wordings repeated in a file."""
    errors = []
    first: dict[str, dict[tuple[str, ...], str]] = {}
    for split, recs in sets.items():
        seen = first.setdefault(split, {})
        for rec in recs:
            w = wording(rec, names)
            if w in seen and 'expect' not in rec and not seen[w].startswith('!'):
                errors.append(f'{split}: {rec["id"]} repeats the wording of {seen[w]}')
            # within a split a refusal may reuse a program's wording ('where is the piano')
            seen.setdefault(w, ('!' if 'expect' in rec else '') + rec['id'])
    for w, hid in first['heldout'].items():
        if w in first['dev']:
            dev_id, hid = first['dev'][w].lstrip('!'), hid.lstrip('!')
            errors.append(f'dev:{dev_id} / heldout:{hid}: same wording {" ".join(w)!r}')
    return errors


def counts_table(sets: dict[str, list[dict]]) -> tuple[str, list[str]]:
    """Counts per kind and split, plus errors for any minimum not met."""
    errors = []
    rows = [f'{"kind":<24}' + ''.join(f'{s:>9}' for s in sets)]
    per = {s: Counter(r['kind'] for r in recs if 'expect' not in r) for s, recs in sets.items()}
    for kind in KINDS:
        rows.append(f'{kind:<24}' + ''.join(f'{per[s][kind]:>9}' for s in sets))
        for split, minimum in MIN_PER_KIND.items():
            if per[split][kind] < minimum:
                errors.append(f'{split}: {per[split][kind]} {kind} templates < {minimum}')
    for ref in ('object', 'robot'):
        n = {
            s: sum(r['kind'] == 'distance' and r['reference'] == ref for r in recs)
            for s, recs in sets.items()
        }
        rows.append(f'{"  distance, " + ref:<24}' + ''.join(f'{n[s]:>9}' for s in sets))
        if n['heldout'] < MIN_DISTANCE_HELDOUT[ref]:
            errors.append(f'heldout: {n["heldout"]} distance/{ref} < {MIN_DISTANCE_HELDOUT[ref]}')
    with_unit = {s: sum(r.get('unit') is not None for r in recs) for s, recs in sets.items()}
    rows.append(f'{"  (asking a unit)":<24}' + ''.join(f'{with_unit[s]:>9}' for s in sets))
    total = {s: sum(per[s].values()) for s in sets}
    rows.append(f'{"programs":<24}' + ''.join(f'{total[s]:>9}' for s in sets))
    for expect in sorted(EXPECTS):
        n = {s: sum(r.get('expect') == expect for r in recs) for s, recs in sets.items()}
        rows.append(f'{"expect " + expect:<24}' + ''.join(f'{n[s]:>9}' for s in sets))
    for split, minimum in MIN_EXPECT.items():
        n = sum('expect' in r for r in sets[split])
        if n < minimum:
            errors.append(f'{split}: {n} refusal lines < {minimum}')
    rows.append(f'{"all lines":<24}' + ''.join(f'{len(sets[s]):>9}' for s in sets))
    typo = {s: sum(r.get('typo', False) for r in sets[s]) / max(total[s], 1) for s in sets}
    rows.append(f'{"typo share (programs)":<24}' + ''.join(f'{typo[s]:>9.1%}' for s in sets))
    return '\n'.join(rows), errors


def load_jsonl(path: Path) -> tuple[list[dict], list[str]]:
    """Records of a jsonl file and errors for lines that are not JSON objects."""
    recs, errors = [], []
    for n, line in enumerate(path.read_text(encoding='utf-8').splitlines(), 1):
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as exc:
            errors.append(f'{path.name}:{n}: not JSON ({exc})')
            continue
        if isinstance(rec, dict):
            recs.append(rec)
        else:
            errors.append(f'{path.name}:{n}: not a JSON object')
    return recs, errors


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--dir', type=Path, default=HERE, help='folder with the three files')
    args = parser.parse_args(argv)
    names = json.loads((args.dir / 'names.json').read_text(encoding='utf-8'))
    errors, class_names, unknown = check_names(names)
    sets: dict[str, list[dict]] = {}
    for split in SPLITS:
        recs, errs = load_jsonl(args.dir / f'{split}.jsonl')
        errors += errs
        ids = Counter(r.get('id') for r in recs)
        errors += [f'{split}: id {i} used {n} times' for i, n in ids.items() if n > 1]
        for rec in recs:
            errors += check_record(rec, split, class_names, unknown)
        # the checks across lines read only lines that have every field
        sets[split] = [r for r in recs if all(k in r for k in REQUIRED)]
        sets[split] = [r for r in sets[split] if isinstance(r['template'], str)]
    all_names = sorted(class_names | unknown, key=len, reverse=True)
    errors += cross_split(sets, all_names)
    table, count_errors = counts_table(sets)
    return report(table, errors + count_errors)


def report(table: str, errors: list[str], info: list[str] = ()) -> int:
    """Print the counts, any notes and problems; the exit status (1 on a problem)."""
    print(table)
    for line in info:
        print('INFO', line)
    for err in errors:
        print('ERROR', err)
    print('OK' if not errors else f'{len(errors)} problem(s)')
    return 1 if errors else 0


if __name__ == '__main__':
    sys.exit(main())

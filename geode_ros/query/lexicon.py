"""Object names as people say them, mapped onto the detector's vocabulary.

Matching goes exact -> plural -> synonym -> small typo, and never further: a name
that matches nothing is an unknown category, answered with the closest known
classes, never silently replaced by one. Synonyms are listed per class for the
classes people name in homes and offices; a class of the vocabulary that is itself
a synonym of another (a model trained on real data may know both 'couch' and
'sofa') keeps its own name. Plurals are generated (rules plus a few irregulars), so
'shelves', 'couches', 'TVs' and 'chair(s)' all match.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rapidfuzz import fuzz, process
from rapidfuzz.distance import OSA

from geode_ros.query.program import UNKNOWN_CATEGORY, ObjectArg, QueryError

SYNONYMS: dict[str, tuple[str, ...]] = {
    'bed': ('double bed', 'single bed', 'twin bed', 'bunk bed', 'king bed', 'queen bed',
            'king size bed', 'queen size bed', 'daybed', 'day bed', 'crib', 'cot', 'futon'),
    'book': ('novel', 'paperback', 'hardback', 'hardcover', 'textbook', 'notebook', 'cookbook',
             'storybook', 'picture book', 'guidebook', 'atlas', 'dictionary', 'encyclopedia',
             'encyclopaedia'),
    'bottle': ('water bottle', 'wine bottle', 'flask', 'jug'),
    'box': ('carton', 'cardboard box', 'crate', 'package', 'parcel', 'storage box', 'shoebox',
            'shoe box', 'toolbox', 'tool box', 'lunchbox', 'lunch box'),
    'cabinet': ('cupboard', 'dresser', 'chest of drawers', 'drawers', 'wardrobe', 'locker',
                'sideboard', 'nightstand', 'night stand', 'filing cabinet', 'file cabinet',
                'kitchen cabinet', 'closet', 'armoire', 'credenza', 'cabinets', 'almirah'),
    'chair': ('seat', 'stool', 'armchair', 'office chair', 'dining chair', 'desk chair',
              'recliner', 'rocking chair', 'high chair', 'highchair'),
    'door': ('doorway', 'entrance', 'exit', 'front door', 'back door'),
    'lamp': ('light', 'floor lamp', 'table lamp', 'desk lamp', 'standing lamp', 'lampshade',
             'reading lamp', 'light fixture', 'bedside lamp'),
    'monitor': ('screen', 'computer screen', 'computer monitor', 'display', 'pc monitor'),
    'mug': ('cup', 'coffee cup', 'coffee mug', 'tea cup', 'teacup', 'tea mug', 'beaker'),
    'plant': ('houseplant', 'house plant', 'potted plant', 'pot plant', 'plant pot',
              'flower pot', 'flowerpot', 'flowers', 'succulent', 'fern', 'bonsai', 'cactus',
              'orchid'),
    'refrigerator': ('fridge', 'refrigerator freezer', 'fridge freezer', 'icebox', 'freezer'),
    'shelf': ('shelving', 'shelving unit', 'bookshelf', 'bookshelves', 'bookcase', 'book shelf',
              'book case', 'rack', 'shelf unit', 'wall shelf'),
    'sofa': ('couch', 'settee', 'loveseat', 'love seat', 'sectional', 'divan', 'chesterfield',
             'davenport'),
    'table': ('desk', 'dining table', 'coffee table', 'side table', 'end table',
              'kitchen table', 'writing desk', 'work table', 'workbench', 'bedside table'),
    'trash can': ('trashcan', 'trash bin', 'bin', 'garbage can', 'garbage bin', 'rubbish bin',
                  'waste bin', 'wastebin', 'wastebasket', 'waste basket', 'dustbin',
                  'recycling bin', 'litter bin', 'trash', 'waste paper basket',
                  'wastepaper basket', 'garbage', 'rubbish'),
    'tv': ('television', 'television set', 'tv set', 'telly', 'flat screen', 'flatscreen',
           'tv screen', 'smart tv'),
}
IRREGULAR_PLURALS: dict[str, str] = {
    'shelf': 'shelves', 'bookshelf': 'bookshelves', 'person': 'people', 'knife': 'knives',
    'leaf': 'leaves', 'child': 'children', 'foot': 'feet', 'mouse': 'mice', 'tv': 'tvs',
    'series': 'series', 'couch': 'couches', 'drawers': 'drawers', 'flowers': 'flowers',
    'shelving': 'shelving', 'trash': 'trash', 'bookshelves': 'bookshelves',
}
# A typo is corrected only for words this long, at most this many edits away, and only
# when one name is that close (short words are too often other real words: bed/red).
MIN_TYPO_LEN = 5
MAX_TYPO_EDITS = {5: 1, 6: 1, 7: 1}  # longer words: 2
SUGGEST_SCORE = 60.0  # rapidfuzz ratio (0-100) a close known class needs to be suggested
RESOLVE_SCORE = 88.0  # ratio a structured request's name needs to match without a lemma
TOKEN = re.compile(r'\d+(?:\.\d+)?|[a-z]+')


def plural(phrase: str) -> str:
    """English plural of a name (its last word): 'trash can' -> 'trash cans'."""
    head, _, last = phrase.rpartition(' ')
    if last in IRREGULAR_PLURALS:
        word = IRREGULAR_PLURALS[last]
    elif re.search(r'(s|x|z|ch|sh)$', last):
        word = last + 'es'
    elif re.search(r'[^aeiou]y$', last):
        word = last[:-1] + 'ies'
    else:
        word = last + 's'
    return f'{head} {word}' if head else word


def singular_guess(word: str) -> str:
    """A rough singular of an unknown plural, for messages ('keys' -> 'key')."""
    for suffix, repl in (('ies', 'y'), ('ves', 'f'), ('ches', 'ch'), ('shes', 'sh'),
                         ('xes', 'x'), ('ses', 's'), ('s', '')):
        if word.endswith(suffix) and len(word) > len(suffix) + 2 and not word.endswith('ss'):
            return word[:-len(suffix)] + repl
    return word


def tokens(text: str) -> list[str]:
    """Lower-case word and number tokens; "box(s)" reads as 'box', "TV's" as 'tv'."""
    text = text.lower().replace('(s)', '').replace('(es)', '').replace('’', "'")
    return TOKEN.findall(re.sub(r"'s\b", '', text))


@dataclass(frozen=True)
class Mention:
    """Where in a token list an object is named."""

    start: int
    end: int
    arg: ObjectArg


class Lexicon:
    """Names of a vocabulary's classes (see the module docstring)."""

    def __init__(self, classes: tuple[str, ...] | list[str],
                 synonyms: dict[str, tuple[str, ...]] | None = None) -> None:
        self.classes = tuple(classes)
        table = SYNONYMS if synonyms is None else synonyms
        own = {c.lower() for c in self.classes}
        self._forms: dict[tuple[str, ...], tuple[str, bool]] = {}
        for label in self.classes:
            names = [label.lower()] + [s for s in table.get(label, ()) if s not in own]
            for name in names:
                self._add(name, label, False)
                self._add(plural(name), label, True)
        for label in self.classes:  # a class's own name always wins
            self._add(label.lower(), label, False, force=True)
        self.max_len = max((len(k) for k in self._forms), default=1)
        self._words = {w for k in self._forms for w in k}
        # typos are corrected towards whole one-word names only ('cats' is not 'cans')
        self._typo_targets = {k[0] for k in self._forms if len(k) == 1
                              and len(k[0]) >= MIN_TYPO_LEN}
        self._names = [' '.join(k) for k in self._forms]

    def _add(self, name: str, label: str, is_plural: bool, force: bool = False) -> None:
        key = tuple(tokens(name))
        if key and (force or key not in self._forms):
            self._forms[key] = (label, is_plural)

    @property
    def words(self) -> set[str]:
        """Every word of every known name (the typo corrector must not touch these)."""
        return self._words

    def lookup(self, key: tuple[str, ...]) -> tuple[str, bool] | None:
        return self._forms.get(key)

    def typo(self, word: str) -> str | None:
        """The one known name word within a small edit distance of ``word``; None."""
        if len(word) < MIN_TYPO_LEN or word in self._words:
            return None
        limit = MAX_TYPO_EDITS.get(len(word), 2)
        close = {w for w in self._typo_targets
                 if abs(len(w) - len(word)) <= limit
                 and OSA.distance(word, w, score_cutoff=limit) <= limit}
        return close.pop() if len(close) == 1 else None

    def find(self, words: list[str], breaks: frozenset[int] | None = None) -> list[Mention]:
        """Every class named in ``words``, longest names first, in order of appearance.

        With ``breaks`` (a question's free text), two names side by side are one compound
        named by its last word, as in English ('display shelf' is a shelf, 'lamp table' a
        table, 'flat screen tv' a tv), unless punctuation stood between them: ``breaks``
        holds the indices of words a comma preceded ('toolbox, monitor' names two).
        Without it (lists of options) every name stands alone.
        """
        out: list[Mention] = []
        i = 0
        while i < len(words):
            for n in range(min(self.max_len, len(words) - i), 0, -1):
                hit = self._forms.get(tuple(words[i:i + n]))
                if hit is not None:
                    start = i
                    if breaks is not None and out and out[-1].end == i and i not in breaks:
                        start = out.pop().start
                    out.append(Mention(start, i + n, ObjectArg(
                        hit[0], ' '.join(words[start:i + n]), hit[1])))
                    i += n
                    break
            else:
                i += 1
        return out

    def suggest(self, name: str, n: int = 3) -> tuple[str, ...]:
        """Up to ``n`` classes whose names are closest to ``name`` (best first)."""
        hits = process.extract(name.lower(), self._names, scorer=fuzz.WRatio, limit=4 * n,
                               score_cutoff=SUGGEST_SCORE)
        out: list[str] = []
        for text, _, _ in hits:
            label = self._forms[tuple(text.split())][0]
            if label not in out:
                out.append(label)
        return tuple(out[:n])

    def unknown(self, name: str) -> QueryError:
        """The error for a name that is not a known category, with the closest ones."""
        name = ' '.join(tokens(name)) or name
        close = self.suggest(name)
        hint = (f'; closest known: {", ".join(close)}' if close else
                f'; known: {", ".join(self.classes)}')
        return QueryError(UNKNOWN_CATEGORY, f'"{name}" is not a category this model knows'
                          + hint, suggestions=close)

    def resolve(self, name: str) -> ObjectArg:
        """The class ``name`` denotes (a structured request's or a program's argument):
        exact, plural, synonym, typo or a close fuzzy match; QueryError otherwise."""
        words = tokens(name)
        hit = self._forms.get(tuple(words))
        if hit is None:
            fixed = [self.typo(w) or w for w in words]
            hit = self._forms.get(tuple(fixed))
        if hit is None:
            best = process.extractOne(' '.join(words), self._names, scorer=fuzz.ratio,
                                      score_cutoff=RESOLVE_SCORE)
            hit = self._forms[tuple(best[0].split())] if best else None
        if hit is None and len(words) > 1:  # 'milk bottle': a kind of the name it ends in
            found = self.find(words)
            if found and found[-1].end == len(words):
                hit = (found[-1].arg.label, found[-1].arg.plural)
        if hit is None:
            raise self.unknown(name)
        return ObjectArg(hit[0], name.strip(), hit[1])

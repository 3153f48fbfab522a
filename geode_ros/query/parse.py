"""Rules that turn a question into a Program: deterministic, well under a millisecond.

Steps: normalise (case, contractions, 'm²', '2.5m'), correct small typos of keywords and
object names, find the objects named (``Lexicon.find``), read the unit and a radius,
then try the intent rules in a fixed order (VSI-Bench's templates first, then the
robot's everyday kinds). ``parse_rules`` returns None when no rule applies, so the VLM
can try; it raises QueryError(unknown_category) when the question names something that
is not a known category where an object belongs ("where is the piano?"): an object is
never silently replaced by another.
"""

from __future__ import annotations

import re

from geode_ros.query import intents as it
from geode_ros.query.lexicon import Lexicon, singular_guess, tokens
from geode_ros.query.program import ROBOT, Program, QueryError
from geode_ros.query.vsi_templates import match_template
from geode_ros.query.words import KEYWORDS, KNOWN_WORDS, NUMBER_WORDS

_CONTRACTIONS = [
    (r"\b(where|what|how|there|it|that|who|here|which)'s\b", r'\1 is'),
    (r"\bcan't\b", 'can not'), (r"\bwon't\b", 'will not'), (r"n't\b", ' not'),
    (r"'re\b", ' are'), (r"'ve\b", ' have'), (r"'ll\b", ' will'), (r"'d\b", ' would'),
    (r"\bi'm\b", 'i am'),
]
# Texting spellings and common slips too short for the edit-distance corrector.
SHORTHAND = {'infront': 'in front', 'nexto': 'next to',
             'hw': 'how', 'wat': 'what', 'wht': 'what', 'whr': 'where', 'wer': 'where',
             'u': 'you', 'r': 'are', 'ur': 'your', 'pls': 'please', 'plz': 'please',
             'iz': 'is', 'teh': 'the', 'da': 'the', 'thx': 'thanks', 'ya': 'you',
             'whats': 'what is', 'wheres': 'where is', 'hows': 'how is', 'theres': 'there is',
             'thats': 'that is', 'im': 'i am', 'dont': 'do not', 'cant': 'can not',
             'neer': 'near', 'b4': 'before', 'bout': 'about', 'n': 'and', 'nere': 'near',
             'rite': 'right', 'c': 'see', 'btwn': 'between', 'mny': 'many', 'dist': 'distance'}
_PREP = [(r'\bright (now|here|there|away)\b', r'\1'), (r'\ball right\b', 'ok'),
         # sound-alike slips of speech recognition, fixed only where the word cannot stand
         (r'\b(wear|were) (is|are)\b', r'where \2'),
         (r'\bhoe (many|much|far|big|long)\b', r'how \1'), (r'\bhow fur\b', 'how far'),
         (r'\btheir (?=(a|an|any|some|in|here|around)\b)', 'there '),
         (r'\bthe are of\b', 'the area of'),
         (r'(\w)-(\w)', r'\1 \2'),  # left-hand, king-size, waste-paper
         (r'#\s*(of\b)?', ' number of '),
         # "give its 3D bounding box" asks for a location, not about a box
         (r'\b(3 ?d |three[- ]d(imensional)? )?(bounding[- ]box(es)?|bbox(es)?)\b', ' bbox '),
         (r'\b3 ?d box(es)?\b', ' bbox '),
         (r'm²', ' m2'), (r'ft²', ' ft2'), (r'²', '2'),
         (r'(\d)\s*(m2|ft2|cm|mm|m|ft)\b', r'\1 \2'), (r'\bsq\.', 'sq'),
         (r'(\d)\s*"', r'\1 in'), (r'(\d),(\d{3})', r'\1\2')]

SHORT_WORD = 4  # up to this length a keyword typo must be a missing, extra or swapped letter
TYPO_MARGIN = 5.0  # a typo goes to the closest keyword only when it is this much closer
# VSI-Bench's preamble names "the closest point", which is not a nearest-object question.
_PREAMBLE = re.compile(r'^measuring from the closest point of each object,?\s*')
_DET = {'the', 'a', 'an', 'any', 'my', 'your', 'some', 'that', 'this', 'those', 'these', 'our',
        'his', 'her', 'their'}
# words after which a word is an object's name: an unknown one there is an unknown category
_SLOT_BEFORE = _DET | {'many', 'much', 'count', 'no', 'all', 'every', 'each', 'which',
                       'nearest', 'closest', 'between'}
# an unknown name this close after one of these words is what the question asks about
_CUES = {'count', 'many', 'much', 'number', 'tally', 'total', 'where', 'find', 'locate', 'there',
         'see', 'seen', 'saw', 'spot', 'spotted', 'have', 'got', 'any', 'show', 'detect',
         'detected', 'exists', 'is', 'are', 'nearest', 'closest'}
CUE_REACH = 3
# cues whose object comes right after them wherever they stand ('..., where is my scarf')
_STRONG_CUES = {'where', 'find', 'locate', 'many', 'count'}
# 'where is the big door' asks no size
_ADJECTIVE_BEFORE_NAME = re.compile(
    r'(?<!how )\b(big|large|huge|tall|long|wide|high|small|little)\s+'
    r'(?!(?:a|an|the|is|are|was|were|this|that|my|your)\b)(\w+\s+)?(?=obj\b)')
# a question that asks for one of these kinds names its object first
_ONE_OBJECT = ('count', 'where', 'exists', 'size', 'last_seen', 'direction', 'near')


def normalise(text: str) -> str:
    """Lower case, contractions expanded, units split from numbers, one line."""
    s = text.lower().replace('’', "'").replace('\n', ' ')
    for pat, rep in _CONTRACTIONS + _PREP:
        s = re.sub(pat, rep, s)
    return s


def _keyword_typo(word: str) -> str | None:
    """The keyword a small slip away from ``word`` ('wher' -> 'where', 'mnay' -> 'many'):
    the one fewest edits away, or among those the clearly most similar; None when two are
    about as close."""
    from rapidfuzz import fuzz
    from rapidfuzz.distance import OSA

    if len(word) < 3 or word in KNOWN_WORDS:
        return None
    limit = 1 if len(word) < 8 else 2
    # fewest edits first; among those a swap of two letters ('sied' -> 'side'), then the
    # most similar
    close = sorted((OSA.distance(word, k), sorted(k) != sorted(word), -fuzz.ratio(word, k), k)
                   for k in KEYWORDS if abs(len(k) - len(word)) <= limit and len(k) >= 3
                   and OSA.distance(word, k, score_cutoff=limit) <= limit)
    if len(word) <= SHORT_WORD:  # a substitution in a short word makes another word: song/long
        close = [c for c in close if len(c[3]) != len(word) or not c[1]]
    if not close:
        return None
    if len(close) > 1 and close[0][:2] == close[1][:2] and close[1][2] - close[0][2] < TYPO_MARGIN:
        return None
    return close[0][3]


def corrected_words(text: str, lexicon: Lexicon) -> list[str]:
    """Tokens of the normalised text with small typos of keywords and names corrected."""
    out = []
    for w in tokens(' '.join(SHORTHAND.get(t, t) for t in normalise(text).split())):
        if w in KNOWN_WORDS or w in lexicon.words or w[0].isdigit():
            out.append(w)
        else:
            out.append(_keyword_typo(w) or lexicon.typo(w) or w)
    return out


_PUNCTUATION = re.compile(r'\s*(?:,(?=\s)|;|&)\s*')  # not the comma of '1,000'


def words_and_breaks(text: str, lexicon: Lexicon) -> tuple[list[str], frozenset[int]]:
    """``corrected_words`` of ``text``, and the indices of the words that a comma, a
    semicolon or '&' preceded (they keep two names apart: ``Lexicon.find``)."""
    words: list[str] = []
    breaks = set()
    for piece in _PUNCTUATION.split(text):
        if words:
            breaks.add(len(words))
        words += corrected_words(piece, lexicon)
    return words, frozenset(breaks)


# ------------------------------------------------------------------ units and numbers
_AREA = [(r'\b(square (meters?|metres?|m)|sq ?(m|meters?|metres?)|sqm|m2)\b', 'm2'),
         (r'\b(square (feet|foot|ft)|sq ?(ft|feet|foot)|sqft|ft2|(square|sq) footage)\b', 'ft2')]
_LENGTH = [(r'\b(centimet(er|re)s?|cms?)\b', 'cm'), (r'\b(millimet(er|re)s?|mm)\b', 'mm'),
           (r'\b(feet|foot|ft)\b', 'ft'), (r'\b(inch|inches)\b', 'in'),
           (r'\b(met(er|re)s?|m)\b', 'm')]


def number(word: str | None) -> float | None:
    """'2.5' -> 2.5, 'two' -> 2.0; None when it is not a number."""
    if not word:
        return None
    if word[0].isdigit():
        return float(word)
    value = NUMBER_WORDS.get(word)
    return None if value is None else float(value)


def find_unit(s: str) -> str:
    """The unit a (normalised) question asks for: 'm', 'cm', 'ft', 'm2', ...; '' if none."""
    for pat, unit in _AREA + _LENGTH:
        if re.search(pat, s):
            return unit
    return ''


def _unit_of(word: str) -> str:
    return next((u for pat, u in _LENGTH if re.fullmatch(pat, word)), 'm')


def find_radius(s: str) -> tuple[float | None, str]:
    """('within two meters of the sofa' -> 2.0 m, the text with 'near' for that phrase)."""
    from geode_ros.query.program import LENGTH_UNITS

    m = it.RADIUS.search(s)
    if not m:
        return None, s
    value = number(m.group(3)) or 1.0  # "within a meter"
    rest = s[:m.start()] + ' near ' + s[m.end():]
    return value * LENGTH_UNITS[_unit_of(m.group(4))], rest


# ----------------------------------------------------------------------- objects
class _Question:
    """A question read once: corrected words, the objects named, unknown names, unit."""

    def __init__(self, text: str, lexicon: Lexicon) -> None:
        self.lexicon = lexicon
        text = _PREAMBLE.sub('', normalise(text))
        self.threshold = it.THRESHOLD.search(text) or it.RADIUS.search(text)
        self.radius, text = find_radius(text)
        self.words, breaks = words_and_breaks(text, lexicon)
        self.mentions = lexicon.find(self.words, breaks)
        self.objs = [m.arg for m in self.mentions]
        masked = list(self.words)
        for m in reversed(self.mentions):
            masked[m.start:m.end] = ['obj']
        self.s = ' '.join(self.words)
        self.masked = ' '.join(masked)  # intents read this: names never look like intents
        # with several sentences the question is the last one that asks ('... Where is it?')
        asks = [t for t in re.split(r'(?<=[.?!])\s+', text) if t.strip().endswith('?')]
        last = asks[-1] if asks and len(asks[-1]) < len(text.strip()) else ''
        self.asked = ' '.join(self._mask(corrected_words(last, lexicon))) if last else ''
        self.unit = find_unit(self.masked)
        if self.threshold and not self.unit:
            self.unit = _unit_of(self.threshold.group(4))
        self.unknown, self.slots = self._unknown_runs()

    def _mask(self, words: list[str]) -> list[str]:
        out = list(words)
        for m in reversed(self.lexicon.find(words)):
            out[m.start:m.end] = ['obj']
        return out

    def _unknown_runs(self) -> tuple[list[tuple[int, str]], list[tuple[int, str]]]:
        """Runs of words that are neither a known name nor an ordinary word, with their
        positions: all of them, and those standing where an object is named (after 'the',
        'many', ...). A run right before a name is its modifier ('travel mug'), not one."""
        words, lex = self.words, self.lexicon
        covered = {i for m in self.mentions for i in range(m.start, m.end)}
        starts = {m.start for m in self.mentions}
        runs, run = [], []
        for i, w in enumerate(words + ['.']):
            known = w == '.' or i in covered or w in KNOWN_WORDS or w[0].isdigit() \
                or w in lex.words
            if not known:
                run.append(w)
            elif run:
                if i not in starts:
                    runs.append((i - len(run), ' '.join(run)))
                run = []
        slots = [(i, t) for i, t in runs if i > 0 and words[i - 1] in _SLOT_BEFORE]
        return runs, slots

    def first_object_unknown(self) -> str | None:
        """An unknown name right after the question's cue and before every known one: what
        a one-object question is about ('count the laptops on the desks' asks about
        laptops; 'my grandson left his bookshelf, where is it' about the bookshelf)."""
        first = self.mentions[0].start if self.mentions else len(self.words)
        cues = [i for i, w in enumerate(self.words) if w in _CUES]
        before = [t for i, t in self.slots
                  if i < first and any(0 < i - c <= CUE_REACH for c in cues)]
        if before:
            return before[0]
        for c in (i for i, w in enumerate(self.words) if w in _STRONG_CUES):
            after = [m.start for m in self.mentions if m.start > c]
            for i, t in self.slots:
                if 0 < i - c <= CUE_REACH and (not after or i < after[0]):
                    return t
        return None

    def refuse(self, name: str) -> QueryError:
        return self.lexicon.unknown(singular_guess(name))


def _vsi(question: str, lexicon: Lexicon) -> Program | None:
    """VSI-Bench's own templates (the benchmark's wording), with their listed options."""
    first = question.strip().splitlines()[0]
    return match_template(question, normalise(first), corrected_words(first, lexicon),
                          lexicon)


def _call(q: _Question, question: str) -> Program | None:
    """A program written in the question itself: 'dist(sofa, tv)', 'Query: count(mug)'."""
    from geode_ros.query.program import parse_program_text

    m = it.CALL.search(normalise(question))
    if not m:
        return None
    kind = {'d': 'distance', 'dist': 'distance'}.get(m.group(1), m.group(1))
    args = [a.strip() for a in m.group(2).split(',') if a.strip()]
    try:
        return parse_program_text(f'{kind}({", ".join(args)})', q.lexicon.resolve).with_source(
            'rules') if not q.unit else _with_unit(parse_program_text(
                f'{kind}({", ".join(args)})', q.lexicon.resolve), q.unit)
    except QueryError as exc:
        if exc.status == 'unknown_category':
            raise
        return None


def _with_unit(program: Program, unit: str) -> Program:
    from dataclasses import replace

    spec_units = program.spec.units
    if spec_units == 'length':
        return replace(program, unit=_length(unit))
    if spec_units == 'area':
        return replace(program, unit=_area(unit))
    return program


def parse_rules(question: str, lexicon: Lexicon) -> Program | None:
    """The Program of ``question`` by the rules; None when no rule applies (module doc)."""
    if not question.strip():
        return None
    vsi = _vsi(question, lexicon)
    if vsi is not None:
        return vsi
    q = _Question(question.strip().splitlines()[0], lexicon)
    called = _call(q, question)
    if called is not None:
        return called
    kind = (_intent(q, q.asked) if q.asked else None) or _intent(q, q.masked)
    if kind in _ONE_OBJECT and (name := q.first_object_unknown()) is not None:
        raise q.refuse(name)
    program = _build(kind, q) if kind else None
    if program is None and kind and not q.objs and q.unknown:
        raise q.refuse((q.slots or q.unknown)[0][1])
    return program


def _intent(q: _Question, s: str) -> str | None:
    """The kind ``s`` (the question, masked) asks for, trying the rules in order."""
    n = len(q.objs)
    if it.LAST_SEEN.search(s) and not it.COUNT.search(s.split(' ago')[0].split(' since')[0]
                                                       .replace('how many minutes', '')
                                                       .replace('how many hours', '')
                                                       .replace('how many days', '')):
        return 'last_seen'
    if it.COUNT.search(s) and not it.COUNT_UNIT.search(s):
        return 'count'
    if q.threshold and (n >= 2 or (n == 1 and not it.NEAR.search(s.replace('near', '', 1))
                                    and not it.ASKS_WHAT.search(s))):
        # "is the sofa more than two meters from the tv", "is the cup taller than a metre"
        return 'size' if it.SIZE.search(q.threshold.group(0)) and n == 1 and not \
            it.DISTANCE.search(s) and ' from ' not in s else 'distance'
    if it.NEAREST.search(s) and not re.search(r'\bwhich of (these|the following)\b', s):
        return 'nearest'
    if it.DIRECTION.search(s) and n == 1 and not it.LONGEST.search(s) \
            and not it.NEAR.search(s.replace('in front', '')):
        return 'direction'
    if it.NEAR.search(s) and n == 1 and it.ASKS_WHAT.search(s) and not it.DISTANCE.search(s):
        return 'near'
    if it.DISTANCE.search(s):
        return 'distance'
    if not q.objs and (it.AREA.search(s) or it.SIZE.search(s)) and (
            it.ROOMISH.search(s) or q.unit in ('m2', 'ft2')):
        return 'room_area'
    if it.SIZE.search(_ADJECTIVE_BEFORE_NAME.sub('', s)) and n:
        return 'size'
    if it.LIST.search(s) and not q.objs and not q.slots:
        return 'list'
    if (q.s.startswith('where ') or ' where ' in f' {s} ') and n:
        return 'where'
    if it.EXISTS.search(s) and n:
        return 'exists'
    if it.WHERE.search(s) and n:
        return 'where'
    if n == 1 and len(q.words) <= len(q.mentions[0].arg.words.split()) + 2:
        return 'where'  # "the mug?", "mug please"
    if not q.objs and q.unknown and (it.WHERE.search(s) or it.EXISTS.search(s)
                                     or it.SIZE.search(s) or it.NEAR.search(s)
                                     or it.DIRECTION.search(s)):
        return 'where'  # an unknown object asked about: refused below
    return None


def _build(kind: str, q: _Question) -> Program | None:
    """The Program of ``kind`` over the question's objects; None when they do not fit."""
    objs, s = q.objs, q.masked
    if kind == 'nearest':
        to_object = it.NEAREST_TO_OBJECT.search(s)
        if len(objs) >= 2 and to_object:
            return Program('nearest', tuple(objs[:2]), unit=_length(q.unit))
        if len(objs) == 1 and to_object and it.ASKS_WHAT.search(s):
            return Program('near', tuple(objs[:1]), radius_m=q.radius)
        if not objs and q.unknown:
            raise q.refuse(q.unknown[0][1])
        return Program('nearest', tuple(objs[:1]), ROBOT, _length(q.unit))
    if kind == 'distance':
        if len(objs) >= 2:
            return Program('distance', tuple(objs[:2]), unit=_length(q.unit))
        if q.slots or (q.unknown and not objs):
            raise q.refuse((q.slots or q.unknown)[0][1])
        return Program('distance', tuple(objs), ROBOT, _length(q.unit)) if objs else None
    if kind == 'room_area':
        return Program('room_area', unit=_area(q.unit))
    if kind == 'list':
        return Program('list')
    if not objs:
        return None
    one = tuple(objs[:1])
    if kind == 'size':
        tall = bool(it.HEIGHT.search(s)) and not it.LONGEST.search(s)
        return Program('size', one, unit=_length(q.unit), dimension='height' if tall else '')
    if kind == 'near':
        return Program('near', one, radius_m=q.radius)
    if kind == 'direction':
        return Program('direction', one, ROBOT)
    return Program(kind, one)


def _length(unit: str) -> str:
    """A length unit asked for ('' for an area unit, which a length cannot take)."""
    return {'m2': 'm', 'ft2': 'ft'}.get(unit, unit)


def _area(unit: str) -> str:
    """'in meters' asked of an area means square metres."""
    return {'m': 'm2', 'ft': 'ft2'}.get(unit, unit if unit in ('m2', 'ft2') else '')

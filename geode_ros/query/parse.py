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

from geode_ros.query.lexicon import Lexicon, Mention, singular_guess, tokens
from geode_ros.query.program import ROBOT, ObjectArg, Program
from geode_ros.query.words import KEYWORDS, KNOWN_WORDS, NUMBER_WORDS

_CONTRACTIONS = [
    (r"\b(where|what|how|there|it|that|who|here|which)'s\b", r'\1 is'),
    (r"\bcan't\b", 'can not'), (r"\bwon't\b", 'will not'), (r"n't\b", ' not'),
    (r"'re\b", ' are'), (r"'ve\b", ' have'), (r"'ll\b", ' will'), (r"'d\b", ' would'),
    (r"\bi'm\b", 'i am'),
]
# Texting spellings and common slips too short for the edit-distance corrector.
SHORTHAND = {'hw': 'how', 'wat': 'what', 'wht': 'what', 'whr': 'where', 'wer': 'where',
             'u': 'you', 'r': 'are', 'ur': 'your', 'pls': 'please', 'plz': 'please',
             'iz': 'is', 'teh': 'the', 'da': 'the', 'thx': 'thanks', 'ya': 'you',
             'whats': 'what is', 'wheres': 'where is', 'hows': 'how is', 'theres': 'there is',
             'thats': 'that is', 'im': 'i am', 'dont': 'do not', 'cant': 'can not',
             'neer': 'near', 'b4': 'before', 'bout': 'about', 'n': 'and'}
_PREP = [(r'\bright (now|here|there|away)\b', r'\1'), (r'\ball right\b', 'ok'),
         # "give its 3D bounding box" asks for a location, not about a box
         (r'\b(3 ?d |three[- ]d(imensional)? )?(bounding[- ]box(es)?|bbox(es)?)\b', ' bbox '),
         (r'\b3 ?d box(es)?\b', ' bbox '),
         (r'm²', ' m2'), (r'ft²', ' ft2'), (r'²', '2'),
         (r'(\d)\s*(m2|ft2|cm|mm|m|ft)\b', r'\1 \2'), (r'\bsq\.', 'sq'),
         (r'(\d)\s*"', r'\1 in'), (r'(\d),(\d{3})', r'\1\2')]

_OPTION_LINE = re.compile(r'^\s*([A-Z])[.)]\s+(.+?)\s*$')
SHORT_WORD = 4  # up to this length a keyword typo must be a missing, extra or swapped letter
TYPO_MARGIN = 5.0  # a typo goes to the closest keyword only when it is this much closer
# VSI-Bench's preamble names "the closest point", which is not a nearest-object question.
_PREAMBLE = re.compile(r'^measuring from the closest point of each object,?\s*')
_DET = {'the', 'a', 'an', 'any', 'my', 'your', 'some', 'that', 'this', 'those', 'these', 'our'}


def split_options(question: str) -> list[tuple[str, str]]:
    """The (letter, text) options listed on the question's trailing lines, in order;
    [] when none are listed (or their letters do not run A, B, C, ...)."""
    out: list[tuple[str, str]] = []
    for line in reversed(question.strip().splitlines()[1:]):
        m = _OPTION_LINE.match(line)
        if not m:
            break
        out.append((m.group(1), m.group(2)))
    out.reverse()
    letters = [chr(ord('A') + i) for i in range(len(out))]
    return out if [le for le, _ in out] == letters else []


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
    close = sorted((OSA.distance(word, k), -fuzz.ratio(word, k), k) for k in KEYWORDS
                   if abs(len(k) - len(word)) <= limit and len(k) >= 3
                   and OSA.distance(word, k, score_cutoff=limit) <= limit)
    if len(word) <= SHORT_WORD:  # a substitution in a short word makes another word: song/long
        close = [c for c in close if len(c[2]) != len(word) or sorted(c[2]) == sorted(word)]
    if not close:
        return None
    if len(close) > 1 and close[0][0] == close[1][0] and close[1][1] - close[0][1] < TYPO_MARGIN:
        return None
    return close[0][2]


def corrected_words(text: str, lexicon: Lexicon) -> list[str]:
    """Tokens of the normalised text with small typos of keywords and names corrected."""
    out = []
    for w in tokens(' '.join(SHORTHAND.get(t, t) for t in normalise(text).split())):
        if w in KNOWN_WORDS or w in lexicon.words or w[0].isdigit():
            out.append(w)
        else:
            out.append(_keyword_typo(w) or lexicon.typo(w) or w)
    return out


# ------------------------------------------------------------------ units and numbers
_AREA = [(r'\b(square (meters?|metres?|m)|sq ?(m|meters?|metres?)|sqm|m2)\b', 'm2'),
         (r'\b(square (feet|foot|ft)|sq ?(ft|feet|foot)|sqft|ft2)\b', 'ft2')]
_LENGTH = [(r'\b(centimet(er|re)s?|cms?)\b', 'cm'), (r'\b(millimet(er|re)s?|mm)\b', 'mm'),
           (r'\b(feet|foot|ft)\b', 'ft'), (r'\b(inch|inches)\b', 'in'),
           (r'\b(met(er|re)s?|m)\b', 'm')]
_NUM = r'(\d+(?:\.\d+)?|' + '|'.join(sorted(NUMBER_WORDS, key=len, reverse=True)) + ')'
_RADIUS = re.compile(rf'\b(within|in a radius of|less than|under|closer than) {_NUM} '
                     r'(met(?:er|re)s?|m|centimet(?:er|re)s?|cm|feet|foot|ft)\b')


def number(word: str) -> float | None:
    """'2.5' -> 2.5, 'two' -> 2.0; None when it is not a number."""
    if word and word[0].isdigit():
        return float(word)
    value = NUMBER_WORDS.get(word)
    return None if value is None else float(value)


def find_unit(s: str) -> str:
    """The unit a (normalised) question asks for: 'm', 'cm', 'ft', 'm2', ...; '' if none."""
    for pat, unit in _AREA + _LENGTH:
        if re.search(pat, s):
            return unit
    return ''


def find_radius(s: str) -> tuple[float | None, str]:
    """('within two meters of the sofa' -> 2.0 m, the text with 'near' for that phrase)."""
    from geode_ros.query.program import LENGTH_UNITS

    m = _RADIUS.search(s)
    if not m:
        return None, s
    unit = next(u for pat, u in _LENGTH if re.fullmatch(pat, m.group(3)))
    value = number(m.group(2))
    rest = s[:m.start()] + ' near ' + s[m.end():]
    return (None if value is None else value * LENGTH_UNITS[unit]), rest


# ----------------------------------------------------------------------- intents
def _r(p: str) -> re.Pattern:
    return re.compile(p)


_SEE = r'(see|saw|seen|spot|spotted|notice|noticed|observe|observed|sighting|appear|appeared)'
LAST_SEEN = _r(rf'\b(last|latest|most recent(ly)?) (time )?(\w+ )*{_SEE}\b|\bwhen (did|have|was|'
               rf'were|had)\b.*\b{_SEE}\b|\blast seen\b|\bhow long ago\b')
COUNT = _r(r'\bhow many\b|\bcount\b|\bcounting\b|\bnumber of\b|\btotal of\b|\btally\b|'
           r'\bquantity of\b|\bamount of\b|^total\b')
COUNT_UNIT = _r(r'\bhow many (square )?(met(er|re)s?|feet|foot|cm|centimet(er|re)s?|inch(es)?|'
                r'mm|millimet(er|re)s?|m|ft|sq)\b')
NEAREST = _r(r'\b(nearest|closest|nearer|closer)\b')
DIRECTION = _r(r'\b(left|right|behind|ahead|in front|direction|which way|what way|bearing|'
               r"heading|relative to|o'?clock|which side|what side)\b")
NEAR = _r(r'\b(near|next to|beside|besides|around|close to|adjacent|nearby|by|neighbou?rs?|'
          r'surround(ing|s)?|within|vicinity|neighbou?rhood)\b')
ASKS_WHAT = _r(r'\b(what|which|anything|something|objects?|things?|items?|stuff|list|name)\b')
DISTANCE = _r(r'\b(how far|distance|far away|far from|away from|apart|gap|separat\w*|'
              r'how close|how near|how many (met(er|re)s?|feet|foot|cm|m|ft|inch(es)?)\b'
              r'.*\b(from|to|between)|between .+ and)\b')
SIZE = _r(r'\b(how (big|large|tall|long|wide|high|deep)|size|sized|dimensions?|measure\w*|'
          r'length|width|height|longest|tall|big|large|wide|long|high|deep)\b')
AREA = _r(r'\b(area|square|footprint|sq|m2|ft2|sqm|sqft)\b|\bhow much (space|room|floor)\b')
ROOMISH = _r(r'\b(room|space|place|floor|apartment|flat|house|office|area|here|kitchen|'
             r'bedroom|lounge|hall)\b')
LIST = _r(r'\b(what|which) (objects|things|items|furniture|stuff)\b|\bwhat (is|are|do you see|'
          r'can you see|have you seen|did you see|did you find|is there|is around|is in|'
          r'is here|else)\b|\b(list|inventory|enumerate|describe|everything|all (the )?'
          r'(objects|things|items|furniture)|what you see|what you have seen|name (the|all|'
          r'every))\b')
EXISTS = _r(r'^(is|are) there\b|\b(is|are) there (a|an|any|some)\b|\b(do|can|did) you (see|'
            r'spot|notice|detect)\b|\bdid you find\b|\bhave you (seen|spotted|noticed|found|'
            r'detected)\b|\b(does|do) (the|this|your) \w+ (have|contain|include)\b|'
            r'\b(do|does) (we|you|i|it|the room|this room|the place) have\b|^any\b|'
            r'\b(present|visible)\b|'
            r'\bany( \w+){1,3} (here|in|around|nearby|about)\b|\bexists?\b|\bgot any\b|'
            r'\bis there\b')
WHERE = _r(r'\b(where|find|locate|location|located|position|show me|point (me )?(to|at|out)|'
           r'spot|look for|search|whereabouts|bbox)\b')


_SLOT_BEFORE = _DET | {'many', 'count', 'no', 'all', 'of', 'his', 'her', 'their'}


def _unknown_names(words: list[str], mentions: list[Mention], lexicon: Lexicon
                   ) -> tuple[list[str], list[str]]:
    """Runs of words that are neither a known name nor an ordinary word: all of them, and
    those standing where an object is named (right after 'the', 'a', 'my', 'many', ...)."""
    covered = set()
    for m in mentions:
        covered.update(range(m.start, m.end))
    runs: list[tuple[int, str]] = []
    run: list[str] = []
    for i, w in enumerate(words + ['.']):
        known = w == '.' or i in covered or w in KNOWN_WORDS or w[0].isdigit() \
            or w in lexicon.words
        if not known:
            run.append(w)
        elif run:
            runs.append((i - len(run), ' '.join(run)))
            run = []
    slots = [text for start, text in runs if start > 0 and words[start - 1] in _SLOT_BEFORE]
    return [text for _, text in runs], slots


def _vsi(question: str, s: str, words: list[str], lexicon: Lexicon) -> Program | None:
    """VSI-Bench's own templates (the benchmark's wording), with their listed options."""
    from geode_ros.query.vsi_templates import match_template

    return match_template(question, s, words, lexicon)


def parse_rules(question: str, lexicon: Lexicon) -> Program | None:
    """The Program of ``question`` by the rules; None when no rule applies (module doc)."""
    first_line = question.strip().splitlines()[0] if question.strip() else ''
    vsi = _vsi(question, normalise(first_line), corrected_words(first_line, lexicon), lexicon)
    if vsi is not None:
        return vsi
    radius, text = find_radius(_PREAMBLE.sub('', normalise(first_line)))
    words = corrected_words(text, lexicon)
    s = ' '.join(words)
    mentions = lexicon.find(words)
    objs = [m.arg for m in mentions]
    unknown, slot_unknown = _unknown_names(words, mentions, lexicon)
    unit = find_unit(s)

    def need(n: int) -> tuple[ObjectArg, ...] | None:
        """The first ``n`` objects, or QueryError for an unknown name where one belongs."""
        if len(objs) >= n:
            return tuple(objs[:n])
        if unknown:
            raise lexicon.unknown(singular_guess(unknown[0]))
        return None

    if LAST_SEEN.search(s) and (got := need(1)):
        return Program('last_seen', got)
    if COUNT.search(s) and not COUNT_UNIT.search(s):
        got = need(1)
        return Program('count', got) if got else None
    if NEAREST.search(s) and not re.search(r'\bwhich of (these|the following)\b', s):
        to_obj = re.search(r'\b(nearest|closest|nearer|closer) (to|from) (the|a|an|my|that)\b',
                           s)
        if len(objs) >= 2 and to_obj:
            return Program('nearest', tuple(objs[:2]), unit=_length(unit))
        if len(objs) == 1 and to_obj and ASKS_WHAT.search(s):
            return Program('near', tuple(objs[:1]), radius_m=radius)
        if slot_unknown and not objs:
            raise lexicon.unknown(singular_guess(slot_unknown[0]))
        return Program('nearest', tuple(objs[:1]), ROBOT, _length(unit))
    if DIRECTION.search(s) and len(objs) == 1 and not NEAR.search(s):
        return Program('direction', tuple(objs), ROBOT)
    if NEAR.search(s) and len(objs) == 1 and ASKS_WHAT.search(s) and not DISTANCE.search(s):
        return Program('near', tuple(objs), radius_m=radius)
    if DISTANCE.search(s):
        if len(objs) >= 2:
            return Program('distance', tuple(objs[:2]), unit=_length(unit))
        if slot_unknown or (unknown and not objs):
            raise lexicon.unknown(singular_guess((slot_unknown or unknown)[0]))
        if len(objs) == 1:
            return Program('distance', tuple(objs), ROBOT, _length(unit))
        return None
    if not objs and (AREA.search(s) or SIZE.search(s)) and ROOMISH.search(s):
        return Program('room_area', unit=_area(unit))
    if SIZE.search(s) and (got := need(1)):
        tall = bool(re.search(r'\b(tall|taller|high|higher|height)\b', s)) and not re.search(
            r'\b(longest|biggest|largest|dimensions)\b', s)
        return Program('size', got, unit=_length(unit), dimension='height' if tall else '')
    if LIST.search(s) and not objs and not slot_unknown:
        return Program('list')
    if s.startswith('where ') and (got := need(1)):
        return Program('where', got)
    if EXISTS.search(s) and (got := need(1)):
        return Program('exists', got)
    if WHERE.search(s) and (got := need(1)):
        return Program('where', got)
    if len(objs) == 1 and len(words) <= len(mentions[0].arg.words.split()) + 2:
        return Program('where', tuple(objs))  # "the mug?", "mug please"
    if unknown and (WHERE.search(s) or EXISTS.search(s) or SIZE.search(s)):
        raise lexicon.unknown(singular_guess(unknown[0]))
    return None


def _length(unit: str) -> str:
    """A length unit asked for ('' for an area unit, which a length cannot take)."""
    return {'m2': 'm', 'ft2': 'ft'}.get(unit, unit)


def _area(unit: str) -> str:
    """'in meters' asked of an area means square metres."""
    return {'m': 'm2', 'ft': 'ft2'}.get(unit, unit if unit in ('m2', 'ft2') else '')

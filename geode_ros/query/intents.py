"""The intent patterns of the rule parser, one per kind (read by ``parse.py``).

They run over the normalised question with every object name masked as ``obj`` (so
'king size bed' asks no size and 'high chair' no height). Each names the ways people
ask for one kind; the order in which ``parse_rules`` tries them settles overlaps
("where is the nearest chair" is a nearest question, not a where question).
"""

from __future__ import annotations

import re

from geode_ros.query.words import NUMBER_WORDS


def _r(p: str) -> re.Pattern:
    return re.compile(p)


NUM = r'(\d+(?:\.\d+)?|' + '|'.join(sorted(NUMBER_WORDS, key=len, reverse=True)) + ')'
LENGTH_UNIT = (r'(met(?:er|re)s?|m|centimet(?:er|re)s?|cms?|millimet(?:er|re)s?|mm|feet|foot|'
               r'ft|inch(?:es)?|in)')
ROBOT_WORDS = (r'(me|us|you|the robot|robot|here|the camera|my position|your position|'
               r'where i am|where you are|current pose|the current pose|my location)')
SEE = (r'(see|saw|seen|spot|spotted|notice|noticed|observe|observed|observation|sighting|'
       r'sighted|sight|come across|came across|'
       r'detect|detected|detection|view|glimpse|eyes on|clock|clocked|show up|showed up|'
       r'turn up|turned up|appear|appeared)')

# "within two meters of", "closer than three feet to": a radius for near, or a threshold
# that makes a yes/no question of a distance or a size
RADIUS = _r(rf'\b(within|in a radius of|less than|under|closer than|nearer than) (a |an )?'
            rf'{NUM}? ?{LENGTH_UNIT}\b')
THRESHOLD = _r(rf'\b(more|less|further|farther|closer|nearer|taller|shorter|longer|bigger|'
               rf'higher|wider) than (a |an )?{NUM}? ?{LENGTH_UNIT}\b')
# planners may write the program itself: 'dist(sofa, tv)', 'Query: last_seen(mug)'
CALL = _r(r'\b(count|where|exists|list|distance|dist|d|size|room_area|nearest|near|'
          r'direction|last_seen)\s*\(([^()]*)\)')

LAST_SEEN = _r(rf'\b(last|latest|most recent(ly)?|recently|ago|since|timestamp|what time|'
               rf'when)\b.*\b{SEE}\b|\b{SEE}\b.*\b(last|latest|recently|ago|most recent(ly)?|'
               rf'last time)\b|\blast seen\b|\bhow long (ago|back)\b|\bsince when\b|'
               r'\bwhen (was|were|is|are) .*\blast\b')
COUNT = _r(r'\bhow many\b|\bcount\b|\bcounting\b|\bnumber of\b|\btotal of\b|\btally\b|'
           r'\bquantity of\b|\bamount of\b|^total\b|'
           r'\bhow much (?!space|room|distance|time|floor|big|bigger|area)\w+ (is|are)\b|'
           r'\bmore than (\w+ ){0,3}obj|\bor just the one\b|\bone obj\w* or\b|'
           r'\b(several|multiple) (of them|obj)|\bor (are there )?several\b|'
           r'\bjust the one obj\b|\bor more than (that|one)\b')
COUNT_UNIT = _r(rf'\bhow many (square |sq )?{LENGTH_UNIT}\b|\bhow many steps\b')
NEAREST = _r(rf'\b(nearest|closest|nearer|closer|least far|most close|more close|'
             rf'minimum distance|smallest distance|shortest distance|argmin|quickest|'
             rf'least distance|shortest (walk|way|trip|route|path)|'
             rf'near {ROBOT_WORDS} the most)\b')
NEAREST_TO_OBJECT = _r(rf'\b(nearest|closest|nearer|closer) (to|from) (the |a |an |my |that )?'
                       rf'(?!{ROBOT_WORDS}\b)obj')
DIRECTION = _r(r"\b(to|on|at|towards?) (the |my |your |our |its |the robot'?s? )?(left|right)"
               r"\b|\b(left|right) (or|and) (to |on )?(the |my |your )?(left|right)\b|"
               r'\b(left|right)[- ]?hand\b|\b(left|right) (side )?of (me|you|us|the robot)\b|'
               r'\bbehind\b|\bahead\b|\bin front\b|\bdirection\b|\bwhich way\b|\bwhat way\b|'
               r"\bbearing\b|\bheading\b|\brelative to\b|\bo'?clock\b|\b(which|what) side\b|"
               r'\bfacing\b|\bturn to face\b|\bstraight or turn\b|\bat (my|your) back\b')
NEAR = _r(r'\b(near|next to|beside|besides|around|close to|adjacent|nearby|by|neighbou?rs?|'
          r'neighbou?ring|either side of|'
          r'neighbou?rhood|surround(ing|ings|s)?|within|vicinity|proximity)\b')
ASKS_WHAT = _r(r'\b(what|which|anything|something|objects?|things?|items?|stuff|list|name|'
               r'describe|neighbou?rs?|query|surroundings)\b')
DISTANCE = _r(rf'\b(how far|distance|far away|far from|away from|apart|gap|separat\w*|'
              rf'how close|how near|range|how many steps|close together|long way|spacing|'
              rf'(close|near) (to {ROBOT_WORDS} )?or far|'
              rf'how many {LENGTH_UNIT}\b.*\b(from|to|between|away)|between .* and|'
              rf'from (the )?obj .*\b(to|over to|till|until) (the )?obj)\b')
SIZE = _r(r'\b(how (big|large|tall|long|wide|high|deep)|size|sized|dimensions?|dims|'
          r'measure\w*|length|width|height|longest|tall|big|large|wide|long|high|deep|'
          r'extents?|footprint|take up|takes up|taller|longer|bigger|wider|higher|'
          r'how massive|how much (space|room))\b')
HEIGHT = _r(r'\b(tall|taller|high|higher|height)\b')
LONGEST = _r(r'\b(longest|biggest|largest|dimensions|dims|extent)\b')
AREA = _r(r'\b(area|square|footprint|footage|sq|m2|ft2|sqm|sqft|spacious|roomy)\b|'
          r'\bhow much (space|room|floor|ground)\b')
ROOMISH = _r(r'\b(room|space|place|floor|apartment|flat|house|office|area|here|kitchen|'
             r'bedroom|lounge|hall|footage)\b')
LIST = _r(r'\b(what|which) (objects|things|items|furniture|stuff)\b|\bwhat (do you see|'
          r'can you see|have you seen|did you see|did you find|is there|are there|is around|'
          r'is in|are in|is here|else|have you got|do you have)\b|'
          r'\b(list|inventory|enumerate|describe|'
          r'summari[sz]e|everything|every object|all (the )?(detected )?(objects?|things|'
          r'items|furniture)|what you see|what you have seen|in your memory|name (the|all|'
          r'every))\b|^objects?$|\bwhat (all|is all)\b|\bwhat (have|has) (we|you|i) got\b|'
          r'\bwhat (you|we) (have )?got\b|\bwhat (kinds?|sorts?|types?) of (objects|things|'
          r'items|stuff|furniture)\b|\bwhat is (lying|sitting|standing) (about|around)\b|'
          r'\brundown\b|\bwhat (does|do) (the|this|your|my) \w+ (contain|hold|have)\b')
EXISTS = _r(r'^(is|are) there\b|\b(is|are) there (a|an|any|some|at least)\b|\b(do|can|did|if) '
            r'you (see|spot|notice|detect)\b|\bdid you find\b|\bhave you (seen|spotted|'
            r'noticed|found|detected)\b|\bhave seen (a|an|any|some)\b|'
            r'\b(does|do) (the|this|your) \w+ (have|contain|include)\b|\bcontain\b|'
            r'\b(do|does) (we|you|i|it|the room|this room|the place) have\b|\bdo we\b|'
            r'^any\b|\b(present|visible|exist|exists)\b|\bany( \w+){1,3} (here|in|around|'
            r'nearby|about)\b|\bgot any\b|\bhave (we|you) got\b|\bis there\b|'
            r'\b(whether|if) (there (is|are)|a|an|any)\b|\bcould there be\b|'
            r'\bbeen (detected|seen|spotted|found)\b|\bor not\b|\bat least one\b|^no obj|'
            r'^there (is|are)\b|\by/n\b|\byes or no\b|\b(you|we|i) (have )?got (a|an|any|some)\b|'
            r'\bcome across\b|\bthere (might|may|could|would) be\b|\bexistence\b|'
            r'\b(whether|if) (we|you|i) (have|has|got)\b')
WHERE = _r(r'\b(where|wheres|find|locate|location|located|position|show me|point (me )?'
           r'(to|at|out)|spot|look for|search|whereabouts|bbox|coordinates|what part of|'
           r'which corner|ended up|which (bit|part|area|side|section) of)\b')

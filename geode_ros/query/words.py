"""Word lists of the rule parser: intent keywords, function words, units and numbers.

``KEYWORDS`` are the words the intent rules look for; a small typo in one of them
('wher', 'mnay', 'distnace') is corrected to it. ``FUNCTION_WORDS`` and the rest are
words that may stand in a question without naming an object: a word in none of these
lists and in no object name, standing where an object is named ("where is the
piano"), is taken as an unknown category instead of being ignored.
"""

from __future__ import annotations

KEYWORDS: frozenset[str] = frozenset("""
where find locate location located position positioned show point spot search look looking
how many much count counting number total amount quantity tally
far distance distances close closer closest near nearer nearest next beside besides around
nearby adjacent between from away apart gap separating separated separates
big bigger large larger size sized sizes tall taller long longer wide wider high higher deep
dimension dimensions measure measures measurements length width height longest biggest
area square footprint room space floor
list objects object things thing items item furniture everything stuff inventory describe
see seen saw spotted notice noticed observe observed last when recently latest time ago
left right behind ahead front direction directions way bearing relative facing heading side
exist exists existing there have has contain contains containing any
within radius surrounding surrounds neighbour neighbor neighbours neighbors
which what whats bbox vicinity proximity surroundings neighborhood neighbourhood
""".split())

FUNCTION_WORDS: frozenset[str] = frozenset("""
a an the this that these those it its is are was were be been being am do does did done
of in on at to for with by into onto about over under above below up down off out through
i me my mine myself you your yours yourself we us our ours he she they them their
and or but so if then than as also too just only even still yet not no yes
can could would should will shall may might must please kindly
tell give let know show help need want like would get got go going tell say
hey hi hello ok okay uh um erm hmm well oh sorry thanks thank
some any all each every both either neither other another such own same
one ones here there now currently current right now today please
who whom whose why what which how when where
quick quickly exactly roughly approximately about around approx estimate estimated
actually really very quite pretty kind sort bit little lot lots
robot camera sensor buddy mate pal sir
located situated placed sitting standing kept stored put lying
answer question tell reply find out figure determine compute calculate
yourself myself ourselves
""".split())

PLACE_WORDS: frozenset[str] = frozenset("""
room rooms house home apartment flat office kitchen bedroom bathroom hallway hall corridor
lounge lobby garage living dining area space place building floor wall walls ceiling corner
scene environment map view video frame frames
""".split())

DESCRIPTIVE_WORDS: frozenset[str] = frozenset("""
red green blue yellow orange purple pink brown black white grey gray silver golden gold
wooden wood metal plastic glass leather fabric dark light bright small little large big
tiny huge old new open closed empty full tall short wide narrow round square
first second third last nearest closest farthest furthest biggest smallest largest
usual main only single whole entire other
""".split())

UNIT_WORDS: frozenset[str] = frozenset("""
m meter meters metre metres cm centimeter centimeters centimetre centimetres cms
mm millimeter millimeters millimetre millimetres ft foot feet inch inches in
sq sqm sqft m2 ft2 square units unit decimal decimals decimal places digits
""".split())

NUMBER_WORDS: dict[str, float] = {
    'zero': 0, 'one': 1, 'two': 2, 'three': 3, 'four': 4, 'five': 5, 'six': 6, 'seven': 7,
    'eight': 8, 'nine': 9, 'ten': 10, 'eleven': 11, 'twelve': 12, 'thirteen': 13,
    'fourteen': 14, 'fifteen': 15, 'sixteen': 16, 'seventeen': 17, 'eighteen': 18,
    'nineteen': 19, 'twenty': 20, 'thirty': 30, 'forty': 40, 'fifty': 50, 'hundred': 100,
    'half': 0.5, 'half a': 0.5, 'a': 1, 'an': 1, 'couple': 2, 'dozen': 12,
}

# Everyday words a question may hold that must never be "corrected" into a keyword or a
# name ('bounding' is not a typo of 'counting', nor 'red' of 'bed').
COMMON_WORDS: frozenset[str] = frozenset("""
detect detected detecting detection detections found recognised recognized identified
memory moment minute minutes second seconds hour hours time times step steps timestamp
report reports query retrieve return returns determine identify select compute tell check
euclidean axis axes along sit sits sitting lie lies lying stand stands bother please wonder
glimpse catch caught clock neighborhood neighbourhood vicinity surroundings quickly
grandson granddaughter son daughter mum mom dad wife husband kid kids friend guest boss
reach reaching get getting present visible available somewhere anywhere appear appears
appeared happen happened
give giving bounding box boxes coordinates coordinate centre center centered centred yaw
estimate estimated combined multiple shown show shows showing video each point points
measuring measured direct directly straight line exact precise approximate rough
meter metre units answer reply respond format decimal please thanks sorry excuse
turn turning walk walking go going move moving drive driving head fill forward back
closer further farther farthest furthest again more less most least many much few several
kind sort type types category categories class classes called named name
able possible sure think believe guess seem seems seemed appear appears appeared
currently presently right now just already ever never always often sometimes
first then next finally before after during while since until ago
big small huge tiny large little long short tall wide narrow deep high low
good bad nice great fine best worst better worse same different
home house place world area region zone part parts piece pieces
thing things object objects item items stuff furniture
look looks looking see sees seeing saw seen watch watching view viewing
tell telling told say saying said ask asking asked know knowing knew known
want wanting wanted need needing needed like liked love loved try trying tried
mean means meant call calls called use using used make making made take taking took
keep keeping kept leave leaving left stay staying stayed
bring bringing brought carry carrying carried fetch fetching grab grabbing
room rooms inside outside within without across along against among beyond toward towards
upon onto into unto via per versus
idea chance clue luck hint reason weather date news lol lmao haha bro dude love dear honey
folks guys output spatial stored existence rundown ground roomy massive trip sighted sight
""".split())

KNOWN_WORDS: frozenset[str] = (KEYWORDS | FUNCTION_WORDS | PLACE_WORDS | DESCRIPTIVE_WORDS
                               | UNIT_WORDS | frozenset(NUMBER_WORDS) | COMMON_WORDS)

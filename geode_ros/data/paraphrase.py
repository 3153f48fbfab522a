"""Everyday phrasings of each query kind, for training data and the VLM's program writing.

``geode-synth`` asks its everyday questions in these wordings (names drawn from the
lexicon's synonyms), and the trainer teaches the VLM to write the program of each
(``question -> program text``), so a question the rules cannot read still becomes a
program. These templates were written for training only; the phrasings the parser is
measured on (``test/query/phrasings``) were written separately, by a session that saw
neither these nor the rules.

Slots: ``{a}``, ``{b}`` a singular name, ``{a_pl}`` a plural one, ``{unit}`` a unit phrase
("in feet"), ``{r}`` a radius phrase ("two meters").
"""

from __future__ import annotations

import numpy as np

from geode_ros.query.lexicon import SYNONYMS, plural
from geode_ros.query.program import NONE, ROBOT, ObjectArg, Program

TEMPLATES: dict[str, tuple[str, ...]] = {
    'count': (
        'How many {a_pl} are there?', 'How many {a_pl} can you see?', 'Count the {a_pl}.',
        'how many {a_pl} in here', 'What is the number of {a_pl} in the room?',
        'Tell me how many {a_pl} you found.', 'Number of {a_pl}?', 'count {a_pl}',
        'How many {a_pl} are in this room?', 'Can you count the {a_pl} for me?',
        'How many {a_pl} did you detect?', 'Total {a_pl} in the room?',
        'give me a count of the {a_pl}', 'how many {a_pl} do we have',
        'What is the {a} count?', "What's the total number of {a_pl}?",
        'How many {a_pl} are around?', 'Please count all the {a_pl}.'),
    'where': (
        'Where is the {a}?', "Where's the {a}?", 'Find the {a}.', 'Locate the {a}.',
        'Where can I find the {a}?', 'Show me the {a}.', 'Where did you see the {a}?',
        'where is my {a}', 'Where is the {a} located?', 'What is the position of the {a}?',
        'Can you find the {a}?', 'Point me to the {a}.', 'Give me the location of the {a}.',
        'Where is the {a}? Give its 3D bounding box.', 'where {a}', 'location of the {a}?',
        'Where would the {a} be?', 'Help me find the {a}.'),
    'exists': (
        'Is there a {a}?', 'Is there a {a} in the room?', 'Do you see a {a}?',
        'Are there any {a_pl}?', 'Are there any {a_pl} here?', 'Can you see a {a}?',
        'Have you seen a {a}?', 'Does the room have a {a}?', 'Any {a_pl} in here?',
        'is there any {a} around', 'Did you spot a {a}?', 'Do we have a {a} here?',
        'Is a {a} present?', 'Is there a {a} anywhere?', 'Does this room contain a {a}?',
        'any {a_pl}?'),
    'list': (
        'What objects are in the room?', 'What is in this room?', 'What do you see?',
        'List the objects.', 'What things are here?', 'List everything you have seen.',
        'What furniture is in the room?', 'Which objects did you detect?',
        'Describe what is in the room.', "What's around?", 'Name all the objects.',
        'What items can you see?', 'Give me an inventory of the room.',
        'what have you seen so far', 'What is there in here?', 'list all detected objects'),
    'distance': (
        'How far is the {a} from the {b}?', 'What is the distance between the {a} and the {b}?',
        'How far apart are the {a} and the {b}?', 'Distance from the {a} to the {b}?',
        'How far is it from the {a} to the {b}{unit}?', 'how far {a} to {b}',
        'What is the gap between the {a} and the {b}?',
        'How close is the {a} to the {b}?', 'Measure the distance between the {a} and the {b}.',
        'How many meters between the {a} and the {b}?',
        'What is the direct distance between the {a} and the {b}{unit}?',
        'How far away is the {b} from the {a}?', 'distance between {a} and {b}{unit}',
        'Tell me how far the {a} is from the {b}.'),
    'distance_robot': (
        'How far am I from the {a}?', 'How far is the {a} from me?', 'How far away is the {a}?',
        'What is the distance to the {a}{unit}?', 'How far is the {a} from you{unit}?',
        'How far do I have to go to reach the {a}?', 'Distance to the {a}?',
        'how far to the {a}', 'How close am I to the {a}?', 'How far is the robot from the {a}?',
        'How far are you from the {a}{unit}?', 'How many meters to the {a}?'),
    'size': (
        'How big is the {a}?', 'What is the size of the {a}?', 'How large is the {a}?',
        'What are the dimensions of the {a}?', 'How tall is the {a}{unit}?',
        'How long is the {a}?', 'What is the longest side of the {a}{unit}?',
        'Measure the {a}.', 'How wide is the {a}?', 'size of {a}',
        'What is the length of the longest dimension of the {a}{unit}?',
        'How big is the {a}{unit}?', 'Give me the measurements of the {a}.'),
    'room_area': (
        'How big is this room?', 'What is the area of the room?', 'How large is the room?',
        'What is the floor area{unit}?', 'What is the size of this room{unit}?',
        'How many square meters is the room?', 'room size?', 'How much floor space is there?',
        'Estimate the room area{unit}.', 'How big is the space here?',
        'What is the footprint of this room?', 'How large is this space{unit}?'),
    'nearest': (
        'What is the nearest {a}?', 'Which {a} is closest to me?', 'Where is the nearest {a}?',
        'Find the closest {a}.', 'Which {a} is nearest?', 'closest {a} to you?',
        'Take me to the nearest {a}.', 'What is the closest {a} to the robot?',
        'Which {a} is the nearest one to me?', 'nearest {a}', 'Show me the closest {a}.'),
    'near': (
        'What is near the {a}?', "What's next to the {a}?", 'What is around the {a}?',
        'What objects are close to the {a}?', 'Is there anything near the {a}?',
        'What is beside the {a}?', 'Which things are next to the {a}?',
        'What is within {r} of the {a}?', 'What surrounds the {a}?',
        'List the objects near the {a}.', 'What is by the {a}?',
        'What is close to the {a}?'),
    'direction': (
        'Is the {a} to my left or right?', 'Which way is the {a}?', 'Where is the {a} relative '
        'to me?', 'Is the {a} in front of me or behind me?', 'In which direction is the {a}?',
        'Is the {a} on your left?', 'Which direction should I turn to face the {a}?',
        'Is the {a} ahead of me?', 'Which side is the {a} on?', 'What direction is the {a}?',
        'Is the {a} behind you?', 'Is the {a} to the left or to the right of the robot?'),
    'last_seen': (
        'When did you last see the {a}?', 'When was the {a} last seen?',
        'When did you see the {a} last?', 'What time did you last see the {a}?',
        'How long ago did you see the {a}?', 'When was the last time you saw the {a}?',
        'last seen time of the {a}?', 'When did the {a} last appear?',
        'When was the {a} most recently seen?', 'When did you last spot the {a}?'),
}
UNIT_PHRASES = {'m': (' in meters', ' in metres', ' in m'), 'cm': (' in centimeters', ' in cm'),
                'ft': (' in feet', ' in ft'), 'in': (' in inches',), 'mm': (' in millimeters',),
                'm2': (' in square meters', ' in m2', ' in sq m'),
                'ft2': (' in square feet', ' in sq ft')}
# Requests that are no question about the scene: the VLM learns to write none() for them.
NOT_QUERIES: tuple[str, ...] = (
    'Good morning!', 'Thank you.', 'Who are you?', 'What can you do?', 'Play some music.',
    'What day is it today?', 'How are you doing?', 'Turn off the lights.', 'Set a timer for '
    'ten minutes.', 'What is two plus two?', 'Write me a poem about cats.', 'Hello robot',
    'What is the capital of France?', 'Order a pizza.', 'Are you happy?', 'Never mind.',
    'Stop.', 'Tell me something interesting.', 'Translate hello into Spanish.',
    'What time is it?', 'Remind me to call mom.', 'Who won the game last night?',
    'How old are you?', 'Explain quantum physics.', 'Recite the alphabet.', 'ok thanks',
    'What is your name?', 'Can you dance?', 'Open the garage.', 'Is it going to rain?')
NONE_SHARE = 0.08  # share of program-writing samples that are no query
RADII = {'one meter': 1.0, 'two meters': 2.0, '1.5 m': 1.5, 'half a meter': 0.5, '1 m': 1.0}
UNIT_SHARE = 0.3  # share of questions (of kinds with units) that ask for one


def names_of(label: str) -> list[tuple[str, str]]:
    """(singular, plural) names of a class: its own and its lexicon synonyms."""
    names = [label] + list(SYNONYMS.get(label, ()))
    return [(n, plural(n)) for n in names]


def phrase(kind: str, labels: list[str], rng: np.random.Generator, robot: bool = False,
           unit: str | None = None) -> tuple[str, Program]:
    """A random everyday wording of a ``kind`` question about ``labels`` (in argument
    order), and the program it means. ``unit``: the unit to ask for (None: random)."""
    key = 'distance_robot' if kind == 'distance' and robot else kind
    template = str(rng.choice(TEMPLATES[key]))
    spec_units = {'distance': 'length', 'size': 'length', 'room_area': 'area'}.get(kind)
    if unit is None and spec_units and '{unit}' in template and rng.random() < UNIT_SHARE:
        pool = ('m', 'cm', 'ft', 'in') if spec_units == 'length' else ('m2', 'ft2')
        unit = str(rng.choice(pool))
    unit = (unit or '') if '{unit}' in template else ''
    if 'square meters' in template:
        unit = 'm2'
    elif 'How many meters' in template:
        unit = 'm'
    text = template.replace('{unit}', str(rng.choice(UNIT_PHRASES[unit])) if unit else '')
    radius = None
    if '{r}' in text:
        words = str(rng.choice(list(RADII)))
        radius = RADII[words]
        text = text.replace('{r}', words)
    args = []
    for slot, label in zip(('a', 'b'), labels):
        sing, plur = names_of(label)[int(rng.integers(len(names_of(label))))]
        text = text.replace('{' + slot + '_pl}', plur).replace('{' + slot + '}', sing)
        args.append(ObjectArg(label, sing))
    reference = ROBOT if (robot or kind in ('nearest', 'direction')) else ''
    dimension = 'height' if kind == 'size' and 'tall' in template else ''
    return text, Program(kind, tuple(args), reference, unit, radius,
                         dimension=dimension).validate()


def random_phrasing(rng: np.random.Generator, classes: tuple[str, ...]
                    ) -> tuple[str, Program]:
    """A random everyday question over ``classes`` and its program (VLM training)."""
    kind = str(rng.choice(list(k for k in TEMPLATES if k != 'distance_robot')))
    need = {'distance': 2, 'list': 0, 'room_area': 0}.get(kind, 1)
    robot = kind == 'distance' and rng.random() < 0.4
    if robot:
        need = 1
    labels = [str(c) for c in rng.choice(classes, size=need, replace=False)]
    return phrase(kind, labels, rng, robot)


def random_training_pair(rng: np.random.Generator, classes: tuple[str, ...]
                         ) -> tuple[str, str]:
    """(question, program text) for program-writing training; sometimes a request that is
    no question about the scene, whose program is ``none()``."""
    if rng.random() < NONE_SHARE:
        return str(rng.choice(NOT_QUERIES)), f'{NONE}()'
    question, program = random_phrasing(rng, classes)
    return question, program.text

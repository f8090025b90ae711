"""Finds seeded people's personal data on the broadcast topics (registry, training,
certification, funding), where every subscriber reads it: PDPA allows only ids there.

For each seeded person it looks, in every record's value and headers, for:
- the national ID, as 13 digits or with any of the usual separators (1-2345-67890-12-3);
- the phone, as 0XXXXXXXXX, +66XXXXXXXXX or 66XXXXXXXXX, with or without separators;
- the full name, Thai or English, as words of a value, with or without the space ("Mr
  สมชาย ศรีสุข", "SomchaiSrisuk"), in any case;
- a first or last name alone when it is a whole value (a `first_name` field, say); names alone
  inside longer text would match village and product names;
- the house number with the street, as words of a value ("99/1 ถนนมิตรภาพ").
Separators (spaces, dashes, dots, brackets) are dropped before digits are compared.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from deploy.scenarios.pilot import Trainee
from deploy.stack.topics import Observed
from shared.topics import BROADCAST_TOPICS

_SEPARATORS = re.compile(r"[\s\-.()/]")
_DIGIT_RUNS = re.compile(r"\d{9,}")
# Words: split at spaces and ASCII punctuation only (Thai vowel marks are not \w).
_WORD_BREAKS = re.compile(r"[\s,;:\"'()\[\]{}<>=.!?]+")


@dataclass(frozen=True)
class Seeded:
    """What a seeded person gave the registry that must stay off the broadcast topics."""

    national_id: str
    names: Sequence[tuple[str, str]] = ()  # (first, last): Thai, English, ...
    phones: Sequence[str] = ()
    addresses: Sequence[tuple[str, str]] = ()  # (house number, street)


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def _phone_forms(phone: str) -> set[str]:
    """A Thai number's national significant digits, in its 0-, 66- and +66- forms' digits."""
    digits = _digits(phone)
    if digits.startswith("66"):
        digits = "0" + digits[2:]
    return {digits, "66" + digits[1:]} if digits.startswith("0") else {digits}


def _leaves(value: object) -> Iterable[str]:
    """Every string (and number, as text) inside a decoded JSON value, keys included."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            yield str(key)
            yield from _leaves(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _leaves(item)
    elif value is not None:
        yield str(value)


def _tokens(text: str) -> list[str]:
    return [t for t in _WORD_BREAKS.split(text.casefold()) if t]


def leaks(
    records: Iterable[tuple[str, Mapping[str, str], object]], people: Iterable[Seeded]
) -> list[str]:
    """`(topic, headers, decoded value)` records -> one line per leak found (empty: none).

    Names and addresses are compared as runs of words (hash lookups, so a demo's topics scan
    in a moment); digits as runs with the separators dropped."""
    numbers: dict[str, str] = {}  # digits -> what they are
    whole: dict[str, str] = {}  # a whole value -> whose name it is
    phrases: dict[tuple[str, ...], str] = {}  # runs of words that must appear nowhere
    for person in people:
        numbers[_digits(person.national_id)] = f"national id {person.national_id}"
        for phone in person.phones:
            for form in _phone_forms(phone):
                numbers[form] = f"phone {phone} of {person.national_id}"
        for first, last in person.names:
            whose = f"name {first} {last} of {person.national_id}"
            phrases[(*_tokens(first), *_tokens(last))] = whose
            phrases[tuple(_tokens(first + last))] = whose
            whole[first.strip().casefold()] = whose
            whole[last.strip().casefold()] = whose
        for house, street in person.addresses:
            phrases[tuple(_tokens(f"{house} {street}"))] = f"address {house} {street}"
    sizes = sorted({len(n) for n in numbers})
    widths = sorted({len(p) for p in phrases if p})
    found: list[str] = []
    for topic, headers, value in records:
        hits: set[str] = set()
        for text in [*_leaves(dict(headers)), *_leaves(value)]:
            if (name := whole.get(text.strip().casefold())) is not None:
                hits.add(name)
            words = _tokens(text)
            for width in widths:
                for i in range(len(words) - width + 1):
                    if (what := phrases.get(tuple(words[i : i + width]))) is not None:
                        hits.add(what)
            for run in _DIGIT_RUNS.findall(_SEPARATORS.sub("", text)):
                for size in sizes:
                    for i in range(len(run) - size + 1):
                        if (what := numbers.get(run[i : i + size])) is not None:
                            hits.add(what)
        found += [f"{topic}: {what}" for what in sorted(hits)]
    return found


def decoded(value: bytes | None) -> object:
    """A record's value as JSON when it is, else its text (a leak in a non-JSON value counts)."""
    text = (value or b"").decode("utf-8", "replace")
    try:
        return json.loads(text)
    except ValueError:
        return text


def broadcast_leaks(observed: Iterable[Observed], trainees: Iterable[Trainee]) -> list[str]:
    """The smoke's check: the seeded trainees' national ids and names on no broadcast topic
    (at most 10 lines, then how many more)."""
    records = [(o.topic, o.headers, o.data) for o in observed if o.topic in BROADCAST_TOPICS]
    people = [Seeded(t.national_id, names=[(t.first_name, t.last_name)]) for t in trainees]
    found = leaks(records, people)
    more = [f"... and {len(found) - 10} more personal data leaks"] if len(found) > 10 else []
    return [f"personal data on a broadcast topic: {line}" for line in found[:10]] + more

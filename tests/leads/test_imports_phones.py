"""The fast path for North-American phones reads every spelling as phonenumbers does."""

import random

import pytest

from leads.imports.normalize import any_phone, normalize_phone, north_american_phone

# Each part of a spelling is mostly one exports use, sometimes one of the odd ones.
PREFIXES = (["", "", "1", "+1", "001"], ["+11", "01", "1 1", "+"])
SEPARATORS = (["", " ", "-", "."], ["  ", "/", "--", " - "])
EXTENSIONS = (
    ["", "", "x4606", "X12", " x 7", "x123456789", " ext. 55", "ext 123456789", "EXT.9"],
    ["x1234567890", "extension 12", "#12", " x", "x.12", ";ext=5", " ext"],
)
REGIONS = ["US", "CA", "JM", "GB", "DE", "IN"]


def spellings(count: int, seed: int) -> list[str]:
    """Numbers written the ways exports write them, with near misses among them."""
    rng = random.Random(seed)

    def part(choices):
        common, odd = choices
        return rng.choice(odd if rng.random() < 0.15 else common)

    found = []
    for _ in range(count):
        area = f"{rng.choice('23456789' if rng.random() < 0.9 else '01')}{rng.randrange(100):02d}"
        area = f"({area})" if rng.random() < 0.3 else area
        exchange, line = f"{rng.randrange(1000):03d}", f"{rng.randrange(10000):04d}"
        if rng.random() < 0.1:
            line = line[:3] if rng.random() < 0.5 else line + "5"
        prefix = part(PREFIXES)
        found.append(
            f"{prefix}{part(SEPARATORS) if prefix else ''}{area}{part(SEPARATORS)}{exchange}"
            f"{part(SEPARATORS)}{line}{part(EXTENSIONS)}"
        )
    return found


def reference(raw: str, region: str):
    """What ``normalize_phone`` answered before the fast path: phonenumbers alone."""
    value = raw.strip()
    return any_phone("+" + value[2:] if value.startswith("00") else value, region)


@pytest.mark.parametrize("region", REGIONS)
def test_it_reads_every_spelling_the_fast_path_takes_as_phonenumbers_does(region):
    taken = 0
    for raw in spellings(1500, seed=sum(map(ord, region))):
        value = "+" + raw[2:] if raw.startswith("00") else raw
        fast = north_american_phone(value, region)
        if fast is not None:
            taken += 1
            assert fast == any_phone(value, region), raw
        assert normalize_phone(raw, region) == reference(raw, region), raw

    # Most spellings are common ones: the comparison is not vacuous. Elsewhere only the
    # "+1" ones are taken.
    assert taken > (450 if region in ("US", "CA") else 150), taken


def test_it_takes_the_spellings_of_north_american_exports():
    for raw, expected in [
        ("9802005297", ("+19802005297", "")),
        ("917-584-0243x4606", ("+19175840243", "4606")),
        ("+1-307-937-7505x54026", ("+13079377505", "54026")),
        ("369.329.6963", ("+13693296963", "")),
        ("(548)320-4326x6724", ("+15483204326", "6724")),
        ("1 (980) 200-5297 ext. 12", ("+19802005297", "12")),
    ]:
        assert north_american_phone(raw, "US") == expected == any_phone(raw, "US")


def test_it_leaves_national_spellings_of_other_regions_to_phonenumbers():
    assert north_american_phone("9802005297", "GB") is None
    assert north_american_phone("+1 980 200 5297", "GB") == ("+19802005297", "")
    assert normalize_phone("020 7946 0958", "GB") == ("+442079460958", "")

"""Parse layer and step selections such as "15-18", "0,2,4", "all" or "last 4"."""

import re

_RANGE = re.compile(r"^(\d+)\s*-\s*(\d+)$")
_LAST = re.compile(r"^last\s+(\d+)$")


def parse_index_selection(text: str, count: int, input_name: str, items: str) -> tuple[int, ...]:
    """Return the sorted unique indices in 0..count-1 that ``text`` selects.

    Accepted forms, comma-separated and combinable: "all", "last N", "A-B" (inclusive), "N".
    Raises ValueError naming ``input_name``, what is counted (``items``, e.g. "joint blocks") and the
    valid range for anything else.
    """
    if count < 1:
        raise ValueError(f"{input_name}: there are no {items} to select from.")
    valid = f"{input_name} must be within 0-{count - 1} (there are {count} {items}, counted from 0)"
    examples = _examples(count)
    parts = [part.strip().lower() for part in str(text).split(",") if part.strip()]
    if not parts:
        raise ValueError(f"{input_name} is empty: use e.g. {examples}.")

    selected: set[int] = set()
    for part in parts:
        selected.update(_parse_part(part, count, input_name, items, valid, examples))
    return tuple(sorted(selected))


def _examples(count: int) -> str:
    """Return example selections that are valid for ``count`` items."""
    return f"'all', 'last {min(4, count)}', '0-{count - 1}' or '{count - 1}'"


def _parse_part(part: str, count: int, input_name: str, items: str, valid: str, examples: str) -> range:
    if part == "all":
        return range(count)

    if match := _LAST.match(part):
        last = int(match.group(1))
        if not 1 <= last <= count:
            raise ValueError(f"{input_name} 'last {last}' is invalid: there are {count} {items}, so use last 1 to last {count}.")
        return range(count - last, count)

    if match := _RANGE.match(part):
        first, final = int(match.group(1)), int(match.group(2))
    elif part.isdigit():
        first = final = int(part)
    else:
        raise ValueError(f"{input_name} {part!r} is not understood: use e.g. {examples}.")

    if first > final:
        raise ValueError(f"{input_name} range {part!r} runs backwards: write the smaller index first.")
    if final >= count:
        raise ValueError(f"{valid}, got {part!r}.")
    return range(first, final + 1)

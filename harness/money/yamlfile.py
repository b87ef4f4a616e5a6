"""Reading a hand-written YAML file safely, keeping the line each key and list item starts on.

The line map lets a validation error name the line of the field it is about (`file:line: ...`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from harness.errors import BadInput, shown

MAX_YAML_BYTES = 4_000_000
"""Hand-written cards and scenarios are a few kB; anything this large is not one."""

MAX_YAML_DEPTH = 32
"""Cards nest three levels deep; deeper nesting is refused before it can exhaust the stack."""

Location = tuple[str | int, ...]
"""Where a value sits in a document: mapping keys (as text) and list positions."""


class _SafeLoader(yaml.SafeLoader):
    """A SafeLoader that refuses aliases (an alias bomb expands a few hundred bytes into
    gigabytes), duplicate keys (the later one would silently win) and deep nesting."""

    depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.constructor.ConstructorError(
                None, None, "aliases (*name) are not allowed; write the value out",
                event.start_mark,
            )
        self.depth += 1
        if self.depth > MAX_YAML_DEPTH:
            raise yaml.constructor.ConstructorError(
                None, None, f"nested deeper than {MAX_YAML_DEPTH} levels",
                self.peek_event().start_mark,
            )
        try:
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                raise yaml.constructor.ConstructorError(
                    None, None, "merge keys (<<) are not allowed", key_node.start_mark
                )
            key = self.construct_object(key_node, deep=True)
            try:
                duplicate = key in seen
            except TypeError:
                raise yaml.constructor.ConstructorError(
                    None, None, "a key must be a plain value", key_node.start_mark
                ) from None
            if duplicate:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {shown(key)}", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


@dataclass(frozen=True)
class YamlFile:
    """A file's top-level mapping and the line (1-based) where each key or item starts."""

    path: Path
    data: dict[str, Any]
    lines: dict[Location, int]

    def line_of(self, location: Sequence[str | int]) -> int | None:
        """The line of `location`, or of the nearest enclosing key or item that has one."""
        parts = tuple(location)
        while parts:
            if parts in self.lines:
                return self.lines[parts]
            parts = parts[:-1]
        return None


def _lines(loader: yaml.SafeLoader, node: Any, at: Location, out: dict[Location, int]) -> None:
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
            if key is None:
                continue
            here = (*at, str(key))
            out[here] = key_node.start_mark.line + 1
            _lines(loader, value_node, here, out)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            here = (*at, index)
            out[here] = item.start_mark.line + 1
            _lines(loader, item, here, out)


def read_yaml(path: Path, what: str) -> YamlFile:
    """The top-level mapping of a YAML file with its line map, or BadInput naming the problem."""
    if not path.is_file():
        raise BadInput(f"{path}: no such {what} file")
    try:
        size = path.stat().st_size
        if size > MAX_YAML_BYTES:
            raise BadInput(
                f"{path}: {size:,} bytes is too large for a {what} file "
                f"(at most {MAX_YAML_BYTES:,})"
            )
        loader = _SafeLoader(path.read_text(encoding="utf-8"))
        try:
            node = loader.get_single_node()
            data = None if node is None else loader.construct_document(node)
        finally:
            loader.dispose()
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise BadInput(f"{path}: not valid YAML{where} ({problem})") from None
    except RecursionError:
        raise BadInput(f"{path}: not valid YAML (nested too deeply)") from None
    except (OSError, UnicodeDecodeError) as err:
        raise BadInput(f"{path}: cannot read ({err})") from None
    if not isinstance(data, dict):
        kind = "nothing" if data is None else type(data).__name__
        raise BadInput(f"{path}: expected a mapping of fields at the top, got {kind}")
    lines: dict[Location, int] = {}
    _lines(loader, node, (), lines)
    return YamlFile(path, data, lines)

"""YAML as people write it by hand: no aliases.

An alias (`*name`) repeats what its anchor holds, and aliases of aliases multiply: half a
kilobyte of nested aliases in a Markdown front matter expanded to gigabytes in memory and in
the error printed about it. Nothing Lepton reads (front matter, survey and training files)
needs them, so a file using one is refused with a clear message instead.
"""

from __future__ import annotations

from typing import Any

import yaml


class AliasRefused(yaml.YAMLError):
    def __init__(self, mark: Any) -> None:
        super().__init__("YAML aliases (*name) are not allowed here; write the value out")
        self.problem = str(self)
        self.problem_mark = mark


class _NoAliasLoader(yaml.SafeLoader):
    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            raise AliasRefused(self.peek_event().start_mark)
        return super().compose_node(parent, index)


def no_alias_loader(text: str) -> yaml.SafeLoader:
    """A safe loader over `text` that refuses aliases, for callers that compose nodes."""
    return _NoAliasLoader(text)


def load_plain_yaml(text: str) -> Any:
    """`yaml.safe_load` without aliases; raises yaml.YAMLError (AliasRefused for an alias)."""
    loader = _NoAliasLoader(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()

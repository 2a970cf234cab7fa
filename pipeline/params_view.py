"""The params a stage may read, enforced (issue 29). pipeline/stage_params.py declares the keys
each stage's outputs depend on, and both DAGs list exactly those as the stage's params
dependencies; a stage that read another key would not rerun when it changed. So `python -m
pipeline <stage>` hands the stage a read-only view of params.yaml in which only its declared keys
(and UNUSED_KEYS, which change no result) can be read: reading any other raises, naming the stage
and the key, and the end-to-end tests, which run every stage, fail on it.

A declared key reads as its plain value (a declared section whole: a dict); a section of which
only some keys are declared reads as a view of those. Iterating a view lists the keys it lets
through, so `dict(view)` and `{**view}` copy what the stage may read and nothing else.
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping


class UndeclaredParam(LookupError):
    """A stage read a params key its STAGE_PARAMS entry does not declare. Not a KeyError: a
    `.get(key, default)` must not turn it into a silent default."""


class ParamsView(Mapping):
    def __init__(self, data: dict, allowed: frozenset[str], stage: str, prefix: str = ""):
        self._data, self._allowed, self._stage, self._prefix = data, allowed, stage, prefix

    def _access(self, path: str) -> str | None:
        """'whole' when ``path`` or a section above it is declared, 'part' when keys below it are."""
        parts = path.split(".")
        if any(".".join(parts[:k]) in self._allowed for k in range(1, len(parts) + 1)):
            return "whole"
        return "part" if any(a.startswith(path + ".") for a in self._allowed) else None

    def __getitem__(self, key):
        path = f"{self._prefix}{key}"
        access = self._access(path)
        if access is None:
            if key not in self._data:
                raise KeyError(key)
            raise UndeclaredParam(f"stage {self._stage} read params key {path!r}, which pipeline/stage_params.py "
                                  f"does not declare for it (the DAGs would not rerun the stage when it changes): "
                                  f"add it to STAGE_PARAMS[{self._stage!r}], or do not read it")
        value = self._data[key]
        if access == "part" and isinstance(value, dict):
            return ParamsView(value, self._allowed, self._stage, path + ".")
        return value

    def __iter__(self) -> Iterator:
        return (k for k in self._data if self._access(f"{self._prefix}{k}"))

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def __repr__(self) -> str:
        return f"ParamsView({self._stage}: {dict(self)!r})"


def declared_view(params: dict, keys: tuple[str, ...], stage: str) -> ParamsView:
    from .stage_params import UNUSED_KEYS

    return ParamsView(params, frozenset(keys) | frozenset(UNUSED_KEYS), stage)

"""Registries name each implementation as "module:attribute" and import it when asked for:
MediaPipe, onnxruntime, mmpose and the OpenAI client are slow to import or optional, so a
table of names must not import them. stage_code.py reads such strings as imports, so an edit
of an implementation still reruns the stages whose registry names it."""
from __future__ import annotations

from importlib import import_module


def load(target: str):
    """The object "package.module:attribute" names."""
    module, _, attribute = target.partition(":")
    return getattr(import_module(module), attribute)

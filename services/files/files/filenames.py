"""Client-supplied filenames made safe to use as the last part of an object key.

The key is ``uploads/<userId>/<fileId>/<name>``; whatever the client sends, ``<name>``
must stay one harmless path segment. :func:`sanitise_filename`:

1. folds Unicode look-alikes to their plain form (NFKC: a fullwidth ``／`` becomes
   ``/``, so it is caught by the next step);
2. keeps only the last non-blank segment of a path, ``/`` and ``\\`` alike
   (``C:\\fakepath\\photo.jpg`` -> ``photo.jpg``, ``../../etc/passwd`` -> ``passwd``);
3. turns every kind of whitespace (tabs and newlines too) into a plain space, drops
   control and invisible format characters (NUL, bidi overrides, zero-width spaces) and
   replaces the characters Windows forbids in names (``<>:"|?*``) with ``_``;
4. collapses runs of spaces and of dots (no ``..`` anywhere), trims spaces at both ends
   and dots at the end, and names a dot-file ``file.<x>`` (no hidden files);
5. cuts it to :data:`MAX_FILENAME_LENGTH` characters, keeping the extension;
6. falls back to :data:`DEFAULT_FILENAME` when nothing is left.

Letters of every script, digits and emoji are kept: ``résumé.pdf`` stays ``résumé.pdf``.
"""

from __future__ import annotations

import re
import unicodedata

MAX_FILENAME_LENGTH = 200
MAX_EXTENSION_LENGTH = 16
DEFAULT_FILENAME = "file"

_SEPARATORS = re.compile(r"[/\\]")
_FORBIDDEN = re.compile(r'[<>:"|?*]')
_SPACES = re.compile(r" {2,}")
_DOTS = re.compile(r"\.{2,}")


def _visible(char: str) -> str:
    if char.isspace():  # tabs, newlines, no-break and other Unicode spaces
        return " "
    if unicodedata.category(char).startswith("C"):  # control, format, private, unassigned
        return ""
    return char


def _shorten(name: str, limit: int) -> str:
    stem, dot, extension = name.rpartition(".")
    if not dot or not stem or len(extension) > MAX_EXTENSION_LENGTH:
        return name[:limit].rstrip(" .")
    return f"{stem[:limit - len(extension) - 1].rstrip(' .')}.{extension}"


def sanitise_filename(raw: str) -> str:
    """A safe, non-empty, single-segment version of ``raw`` (see the module docstring)."""
    name = unicodedata.normalize("NFKC", raw)
    segments = [segment for segment in _SEPARATORS.split(name) if segment.strip()]
    name = segments[-1] if segments else ""
    name = "".join(_visible(char) for char in name)
    name = _FORBIDDEN.sub("_", name)
    name = _SPACES.sub(" ", name)
    name = _DOTS.sub(".", name).strip(" ").rstrip(" .")
    if not name:
        return DEFAULT_FILENAME
    if name.startswith("."):
        name = DEFAULT_FILENAME + name
    if len(name) > MAX_FILENAME_LENGTH:
        name = _shorten(name, MAX_FILENAME_LENGTH)
    return name


def object_key(user_id: str, file_id: str, filename: str) -> str:
    """Where an upload lives in the bucket: ``uploads/<userId>/<fileId>/<filename>``."""
    return f"uploads/{user_id}/{file_id}/{filename}"

"""Output paths checked before any work: a command that will write a file or a folder
asks here first, so a path that cannot be written costs one line on stderr and exit 1
(through :func:`kinhub.cli.common.handle_errors`) instead of a traceback after minutes
of measuring.

The checks try what the write will do — create a file in the folder (then remove it) —
rather than trust ``os.access``, which says yes to root everywhere, ``/proc`` included.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from kinhub.db.errors import KinhubError


class OutputPathError(KinhubError):
    """An output file or folder cannot be written where it was asked for."""


def _fail(option: str, path: Path, why: str) -> OutputPathError:
    return OutputPathError(f"cannot write {str(path)!r} ({option}): {why}")


def _probe_folder(folder: Path, *, option: str, path: Path) -> None:
    """Create (and remove) a file in ``folder``: the write the command will make."""
    try:
        handle, probe = tempfile.mkstemp(prefix=".kinhub-probe.", dir=folder)
    except OSError as exc:
        raise _fail(option, path, f"cannot create files in {folder} ({exc.strerror})") from exc
    os.close(handle)
    os.unlink(probe)


def _nearest_existing(path: Path) -> Path:
    for ancestor in (path, *path.parents):
        if ancestor.exists():
            return ancestor
    return Path(".")  # pragma: no cover - a relative path's anchor is the working folder


def check_output_file(path: Path, *, option: str, make_parents: bool = False) -> Path:
    """``path`` (``~`` expanded) when a file can be written there.

    Its folder must exist (or, with ``make_parents``, be creatable under the nearest
    folder that exists) and be writable; ``path`` must not be a folder, and an
    existing file must be writable (it is replaced, never read).

    Raises:
        OutputPathError: with the option name and the reason, in one line.
    """
    target = path.expanduser()
    if target.is_dir():
        raise _fail(option, path, "it is a folder")
    if target.exists():
        try:
            with target.open("ab"):
                pass  # opened for append: nothing is truncated or changed
        except OSError as exc:
            raise _fail(option, path, exc.strerror or "not writable") from exc
    parent = target.parent
    if not parent.is_dir():
        existing = _nearest_existing(parent)
        if not make_parents or not existing.is_dir():
            raise _fail(option, path, f"no folder {str(parent)!r}")
        parent = existing
    _probe_folder(parent, option=option, path=path)
    return target


def check_output_dir(path: Path, *, option: str) -> Path:
    """``path`` (``~`` expanded) when files can be written in it: an existing, writable
    folder, or one that can be created under the nearest folder that exists.

    Raises:
        OutputPathError: ``path`` is a file, or the folder cannot be written or made.
    """
    target = path.expanduser()
    if target.exists() and not target.is_dir():
        raise _fail(option, path, "it is a file, not a folder")
    existing = _nearest_existing(target)
    if not existing.is_dir():
        raise _fail(option, path, f"{str(existing)!r} is a file, not a folder")
    _probe_folder(existing, option=option, path=path)
    return target


def write_text_file(path: Path, text: str, *, option: str) -> None:
    """Write ``text`` to ``path`` (UTF-8), a failure as one :class:`OutputPathError`."""
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise _fail(option, path, exc.strerror or str(exc)) from exc

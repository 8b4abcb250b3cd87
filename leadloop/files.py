"""The one reader for every file a user hands us: weights, templates, policy, product facts,
edit files, config. The leaves parse text; the app reads the file through here, so every
file problem is worded the same way: the file's role, its path, and what is wrong."""

from __future__ import annotations

from pathlib import Path

from leadloop.errors import UserFileError


def file_problem(path: Path, *, allow_empty: bool = False) -> tuple[str | None, str]:
    """(what is wrong or None, the text): missing, a folder, unreadable, not UTF-8, empty."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return "no such file", ""
    except IsADirectoryError:
        return "is a folder, not a file", ""
    except PermissionError:
        return "cannot be read (permission denied)", ""
    except OSError as exc:
        return f"cannot be read ({exc.strerror or type(exc).__name__})", ""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return f"is not UTF-8 text (byte {exc.start}); save it as UTF-8", ""
    if "\x00" in text:
        return "is binary, not text", ""
    if not allow_empty and not text.strip():
        return "is empty", ""
    return None, text


def read_user_text(path: Path | str, *, what: str, expected: str = "",
                   allow_empty: bool = False) -> str:
    """The text of a file the user named; UserFileError naming it when it cannot be used.

    ``what`` says the file's role ("weights file", "--edit-file"); ``expected`` what a good
    file holds, appended to the message.
    """
    file = Path(path)
    problem, text = file_problem(file, allow_empty=allow_empty)
    if problem is not None:
        tail = f"; expected {expected}" if expected else ""
        raise UserFileError(f"{what} {file}: {problem}{tail}")
    return text

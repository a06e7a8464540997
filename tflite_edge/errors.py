"""Exception types. Anything a user can cause is one of these and reaches the CLI as one line."""


class EdgeError(Exception):
    """A failure the CLI reports as one line; `exit_code` is the process status."""

    exit_code = 1


class UserInputError(EdgeError):
    """Bad input from the user: a recipe, a path, a model file, a flag. Exit code 2."""

    exit_code = 2


class GateFailed(EdgeError):
    """A quality gate in `evaluate:` failed. Exit code 3 (the run's outputs are still written)."""

    exit_code = 3


class DiskFull(EdgeError):
    """A write failed for lack of space (disk.py). Exit code 1; earlier outputs are intact."""

    exit_code = 1


class DeviceUnavailable(EdgeError):
    """A benchmark target (device, runtime, binary) is absent. Exit code 1."""

    exit_code = 1


def one_line(text: str) -> str:
    """An error message as one terminal line: line breaks and control characters escaped.

    A recipe value may hold any character (YAML allows \x1e, \u2028 ...); echoed raw, those
    split the message over lines or garble the terminal.
    """
    return "".join(c if c.isprintable() or c == " " else c.encode("unicode_escape").decode("ascii")
                   for c in str(text))

"""``short_repr``: a value shown in an error message, in bounded length and time.

It lives in config/, the lowest layer, because configs, weights files and state.json
messages all use it.

Error messages name the value that was wrong. A value read from a file (a config, a weights
file, a state.json) can be huge or shared many times over (a YAML "billion laughs" is nine
lists of nine references to each other), so ``repr`` or ``str`` of it can take hours; these
helpers never look at more than a few levels and items of it.
"""
import reprlib

__all__ = ['short_repr', 'short_text']


def short_repr(value: object, limit: int = 80) -> str:
    """A repr of ``value`` of at most ``limit`` characters, computed in bounded time (a
    file's values can be huge or deeply shared: never ``str(value)[:limit]``).

    >>> short_repr([[1, 2]] * 1000, limit=40)
    '[[1, 2], [1, 2], [1, 2], [1, 2], [1, ...'
    """
    shortener = reprlib.Repr()
    shortener.maxlevel, shortener.maxstring, shortener.maxother = 3, limit, limit
    try:
        text = shortener.repr(value)
    except ValueError:  # an int too long to print (Python refuses past 4300 digits)
        text = f'<a {type(value).__name__} too long to show>'
    return short_text(text, limit)


def short_text(text: str, limit: int = 300) -> str:
    """``text`` cut to at most ``limit`` characters (``...`` marks the cut)."""
    return text if len(text) <= limit else text[:limit - 3] + '...'


def short_error(error: BaseException, limit: int = 300) -> str:
    """The gist of ``error``'s message on one line: for Paddle's C++ errors, whose text holds
    a C++ traceback and then an "Error Message Summary", the summary's first line."""
    text = str(error)
    if 'Error Message Summary:' in text:
        text = text.split('Error Message Summary:', 1)[1]
    lines = [line.strip() for line in text.splitlines()]
    lines = [line for line in lines if line and set(line) != {'-'}]
    return short_text(lines[0] if lines else type(error).__name__, limit)

"""One clear line per bad input: how every command reports the errors it raises on purpose.

``@reports_user_errors`` wraps a command's ``main(argv)``. An error the toolkit raises about
the user's inputs (a config key, a file, a weights file, an image, --save_dir, a download)
is logged as one line (file, line or key, and what was expected) and the command exits with
``EXIT_BAD_INPUTS`` (2). ``--debug`` anywhere in the arguments also prints the traceback.
Anything else (a bug) keeps Python's traceback and exit status 1.

Which errors count as the user's: the toolkit's own types (``USER_ERROR_TYPES``) and any
``ValueError``/``OSError`` raised by a line of the toolkit itself (paddlematting/ or deploy/),
as those always carry a message written for the user. A ValueError from inside numpy or
paddle is not one of them.
"""
import functools
import logging
import os
import sys
import traceback
from typing import Callable, List, Optional

logger = logging.getLogger('paddlematting')

EXIT_BAD_INPUTS = 2
DEBUG_FLAG = '--debug'
_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_DEPLOY_DIR = os.path.join(os.path.dirname(_PACKAGE_DIR), 'deploy')


def _user_error_types() -> tuple:
    from ..config import ConfigError
    from ..utils.download import DownloadError, InsecureURLError
    from ..utils.output_files import DiskFullError, OutputDirError, OutputDirLockedError
    from ..utils.weights_io import WeightsFormatError
    return (ConfigError, DownloadError, InsecureURLError, DiskFullError, OutputDirError,
            OutputDirLockedError, WeightsFormatError)


def _raised_by_us(error: BaseException) -> bool:
    """True when the innermost frame that raised ``error`` is toolkit code."""
    tb = error.__traceback__
    last = None
    while tb is not None:
        last = tb
        tb = tb.tb_next
    if last is None:
        return False
    filename = os.path.abspath(last.tb_frame.f_code.co_filename)
    return filename.startswith(_PACKAGE_DIR + os.sep) or filename.startswith(_DEPLOY_DIR + os.sep)


def is_user_error(error: BaseException) -> bool:
    """Whether ``error`` is reported as one line (see the module docstring)."""
    if isinstance(error, _user_error_types()):
        return True
    return isinstance(error, (ValueError, OSError)) and _raised_by_us(error)


def one_line(error: BaseException) -> str:
    """The error's message on one line (whitespace runs collapsed)."""
    text = ' '.join(str(error).split())
    if isinstance(error, OSError) and error.filename and str(error.filename) not in text:
        text = f'{error.filename}: {text}'
    return text or type(error).__name__


def reports_user_errors(main: Callable[[Optional[List[str]]], int]) -> Callable[[Optional[List[str]]], int]:
    """Decorate a command's ``main(argv) -> exit status`` (see the module docstring)."""

    @functools.wraps(main)
    def wrapper(argv: Optional[List[str]] = None) -> int:
        argv = list(sys.argv[1:] if argv is None else argv)
        debug = DEBUG_FLAG in argv
        argv = [a for a in argv if a != DEBUG_FLAG]
        try:
            return main(argv)
        except Exception as error:  # noqa: BLE001 - sorted into ours (one line) and bugs
            if not is_user_error(error):
                raise
            if debug:
                traceback.print_exc()
            from .common import setup_logging
            setup_logging()
            logger.error('%s', one_line(error))
            return EXIT_BAD_INPUTS
        finally:
            from ..utils.output_files import release_output_dirs
            release_output_dirs()  # the --save_dir locks this run took

    return wrapper

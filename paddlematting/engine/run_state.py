"""Reading a checkpoint's ``state.json`` without trusting it: every field is checked.

``state.json`` (written by ``Trainer._run_state``) holds the iteration, the best score, the
sample seed, the process layout, the schedule and gradient-scaler states and the random
states. A resume hands these to Python's, numpy's and paddle's setters, which fail deep
inside with tracebacks (or silently resume inexactly, or "finish" at ``iter: 10**30`` without
a step), so each field is checked here first: its type, its range, and the random states'
shapes. Every refusal is one ``RunStateError`` line naming the file and the key.
"""
import json
import math
import numbers
import os
import re
from typing import Any, Dict, List, Mapping, Optional

from ..config.bounded_repr import short_repr

__all__ = ['RunStateError', 'MAX_STATE_BYTES', 'read_run_state', 'check_run_state',
           'check_like']

# state.json is about 30 KB (mostly random states); anything far larger is not ours
MAX_STATE_BYTES = 4 << 20
# iterations and seeds are int64 in paddle
_INT64 = 2 ** 63
_UINT32 = 2 ** 32
_UINT64 = 2 ** 64
# Mersenne Twister sizes: Python's and numpy's MT19937 (624 words; Python adds its index),
# paddle's std::mt19937_64 written as text (312 words and an index)
_MT32_WORDS = 624
_MT64_WORDS = 312
_MT64_TEXT_MAX = 8192  # 312 words of up to 20 digits, spaces, the index
_ITER_DIR = re.compile(r'^iter_(\d+)$')


class RunStateError(ValueError):
    """A checkpoint's state.json is unreadable or a field is wrong (the message names the
    file and the key)."""


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_finite(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


class _Checker:
    """Raises one ``RunStateError`` line naming ``path`` and the key."""

    def __init__(self, path: str):
        self.path = path

    def fail(self, key: str, expected: str, value: Any) -> None:
        raise RunStateError(f'{self.path}: "{key}" must be {expected}, got {short_repr(value)}; '
                            f'this state.json was not written by a training run (delete it, or '
                            f'the key, to resume without it)')

    def int_in(self, key: str, value: Any, low: int, high: int) -> None:
        """``low <= value < high``."""
        if not _is_int(value) or not low <= value < high:
            self.fail(key, f'an integer in [{low}, {high})', value)

    def optional(self, state: Mapping[str, Any], key: str, check) -> None:
        if state.get(key) is not None:
            check(key, state[key])

    def int_list(self, key: str, value: Any, length: int, high: int) -> None:
        """A list of ``length`` integers in [0, high)."""
        if (not isinstance(value, list) or len(value) != length
                or not all(_is_int(v) and 0 <= v < high for v in value)):
            self.fail(key, f'a list of {length} integers in [0, {high})', value)


def read_run_state(folder: str) -> Dict[str, Any]:
    """``folder/state.json`` parsed and checked (``check_run_state``); {} when absent
    (PaddleSeg's checkpoints have none). Raises RunStateError naming the file."""
    path = os.path.join(folder, 'state.json')
    if not os.path.isfile(path):
        return {}
    size = os.path.getsize(path)
    if size > MAX_STATE_BYTES:
        raise RunStateError(f'{path}: {size:,} bytes; a state.json is about 30 KB (at most '
                            f'{MAX_STATE_BYTES:,} bytes are read)')
    try:
        with open(path, encoding='utf-8') as f:
            state = json.load(f)
    except (ValueError, RecursionError) as error:  # JSONDecodeError, bad UTF-8, deep nesting
        raise RunStateError(f'{path}: not a readable state.json ({short_repr(str(error), 120)})') from None
    check_run_state(state, path, folder)
    return state


def check_run_state(state: Any, path: str, folder: Optional[str] = None) -> None:
    """Check every field a resume uses (see the module docstring).

    Args:
        state: the parsed JSON.
        path: the file, named in messages.
        folder: the checkpoint folder; when named ``iter_N``, ``iter`` must be N.
    Raises RunStateError naming the file and the key.
    """
    check = _Checker(path)
    if not isinstance(state, dict):
        check.fail('(top level)', 'a JSON object', state)
    check.optional(state, 'iter', lambda k, v: check.int_in(k, v, 0, _INT64))
    match = _ITER_DIR.match(os.path.basename(os.path.normpath(folder))) if folder else None
    if match and 'iter' in state and state['iter'] != int(match.group(1)):
        check.fail('iter', f'{match.group(1)}, the step its folder is named after', state['iter'])
    check.optional(state, 'best_iter',
                   lambda k, v: check.int_in(k, v, 0, int(state.get('iter') or 0) + 1))
    check.optional(state, 'best_score',
                   lambda k, v: None if _is_finite(v) else check.fail(k, 'a finite number', v))
    check.optional(state, 'best_metric', lambda k, v: None if isinstance(v, str) and len(v) < 100
                   else check.fail(k, 'a metric name', v))
    check.optional(state, 'sample_seed', lambda k, v: check.int_in(k, v, 0, _UINT64))
    check.optional(state, 'world_size', lambda k, v: check.int_in(k, v, 1, 1 << 20))
    check.optional(state, 'batch_size', lambda k, v: check.int_in(k, v, 1, 1 << 31))
    for key in ('lr_scheduler', 'grad_scaler'):
        check.optional(state, key, lambda k, v: None if isinstance(v, dict)
                       else check.fail(k, 'a mapping', v))
    if state.get('rng') is not None:
        _check_rng(check, state['rng'])


def _check_rng(check: _Checker, rng: Any) -> None:
    if not isinstance(rng, dict) or set(rng) != {'python', 'numpy', 'paddle'}:
        check.fail('rng', 'a mapping of "python", "numpy" and "paddle" states', rng)
    python = rng['python']
    if not isinstance(python, list) or len(python) != 3:
        check.fail('rng.python', '[version, 625 integers, gauss]', python)
    check.int_in('rng.python[0]', python[0], 0, 100)
    check.int_list('rng.python[1]', python[1], _MT32_WORDS + 1, _UINT32)
    check.int_in('rng.python[1][624]', python[1][-1], 0, _MT32_WORDS + 1)
    if python[2] is not None and not _is_finite(python[2]):
        check.fail('rng.python[2]', 'None or a finite number', python[2])
    numpy_state = rng['numpy']
    if not isinstance(numpy_state, list) or len(numpy_state) != 5 or numpy_state[0] != 'MT19937':
        check.fail('rng.numpy', '["MT19937", 624 integers, pos, has_gauss, cached]', numpy_state)
    check.int_list('rng.numpy[1]', numpy_state[1], _MT32_WORDS, _UINT32)
    check.int_in('rng.numpy[2]', numpy_state[2], 0, _MT32_WORDS + 1)
    check.int_in('rng.numpy[3]', numpy_state[3], 0, 2)
    if not _is_finite(numpy_state[4]):
        check.fail('rng.numpy[4]', 'a finite number', numpy_state[4])
    paddle_states = rng['paddle']
    if isinstance(paddle_states, str):
        raise RunStateError(f'{check.path}: "rng.paddle" is a pickle (an older format); pickles '
                            f'are not loaded because they can run code. Delete the "rng" entry '
                            f'of that state.json to resume without it.')
    if not isinstance(paddle_states, list) or not 1 <= len(paddle_states) <= 64:
        check.fail('rng.paddle', 'a list of generator states', paddle_states)
    for index, generator in enumerate(paddle_states):
        _check_paddle_generator(check, f'rng.paddle[{index}]', generator)


def _check_paddle_generator(check: _Checker, key: str, generator: Any) -> None:
    """``[device, seed, offset, text]``: the text is the ASCII codes of a mt19937_64 state,
    312 words and the index, separated by spaces."""
    if not isinstance(generator, list) or len(generator) != 4:
        check.fail(key, '[device, seed, offset, state text]', generator)
    check.int_in(f'{key}[0]', generator[0], -1, 1 << 16)
    check.int_in(f'{key}[1]', generator[1], 0, _UINT64)
    check.int_in(f'{key}[2]', generator[2], 0, _UINT64)
    codes = generator[3]
    if (not isinstance(codes, list) or len(codes) > _MT64_TEXT_MAX
            or not all(_is_int(c) and 0 <= c < 128 for c in codes)):
        check.fail(f'{key}[3]', 'the ASCII codes of a generator state', codes)
    words = bytes(codes).decode('ascii').split(' ')
    if (len(words) != _MT64_WORDS + 1 or not all(w.isdigit() for w in words)
            or not all(int(w) < _UINT64 for w in words) or int(words[-1]) > _MT64_WORDS):
        check.fail(f'{key}[3]', f'{_MT64_WORDS} words and an index <= {_MT64_WORDS}',
                   bytes(codes[:40]).decode('ascii'))


def check_like(saved: Any, live: Any, path: str, key: str) -> None:
    """Check a saved state (a scheduler's or gradient scaler's ``state_dict``) against the
    live object's: the same keys, and each value of the same kind (an integer, a finite
    number, a bool, a mapping checked the same way). Raises RunStateError naming the key."""
    check = _Checker(path)
    if isinstance(live, dict):
        if not isinstance(saved, dict) or set(saved) != set(live):
            check.fail(key, f'a mapping with the keys {sorted(live)} (the schedule this config '
                            f'builds)', saved)
        for name, value in live.items():
            check_like(saved[name], value, path, f'{key}.{name}')
    elif isinstance(live, bool):
        if not isinstance(saved, bool):
            check.fail(key, 'true or false', saved)
    elif _is_int(live):
        check.int_in(key, saved, -_INT64, _INT64)
    elif isinstance(live, numbers.Real):
        if not _is_finite(saved):
            check.fail(key, 'a finite number', saved)
    elif isinstance(live, list):
        if not isinstance(saved, list) or len(saved) != len(live):
            check.fail(key, f'a list of {len(live)} values', saved)
        for index, (s, v) in enumerate(zip(saved, live)):
            check_like(s, v, path, f'{key}[{index}]')


def paddle_generator_count_matches(states: List[Any], live_count: int, path: str) -> None:
    """Refuse random states saved for another number of paddle generators (devices)."""
    if len(states) != live_count:
        raise RunStateError(f'{path}: "rng.paddle" holds {len(states)} generator states, but '
                            f'this machine has {live_count} (another device?); delete "rng" from '
                            f'the file to resume without the exact random states')

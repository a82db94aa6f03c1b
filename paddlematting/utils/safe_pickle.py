"""A pickle reader that builds plain data only, at a cost bounded by the file's size.

Python's own unpickler, even with ``find_class`` restricted, trusts the file in ways a weights
file must not be trusted: ``BUILD`` calls ``__setstate__`` on whatever it finds (numpy's dtype
accepts fields and flags that make numpy read file bytes as pointers), a declared length is
allocated before the bytes are read (a 147-byte file can ask for gigabytes), and shared
references (memo gets) let a few hundred bytes describe a structure with 2^40 paths that any
later walk over it never finishes. This module is a small pickle machine of its own:

- Globals resolve only to what the caller's :class:`PickleRules` lists; ``REDUCE`` calls only
  those that are callable (checked stand-ins, never the real ``numpy.dtype`` or ``ndarray``),
  and ``BUILD`` works only on :class:`Buildable` stand-ins (or the caller's ``build`` hook).
  ``INST``, ``OBJ``, ``NEWOBJ``, ``EXT``, ``DUP`` and out-of-band buffers are refused.
- Every declared length is checked against the bytes that remain before anything is read;
  a large byte string (array data) is read straight into its own buffer, which the array
  then views: one copy from the file, as ``paddle.load`` makes.
- :class:`Budget` counts objects (a shared tuple counts as often as it is referenced, so the
  expanded tree is what is bounded), container nesting depth, and bytes that stand-ins decode
  beyond the file's own (copies, conversions), against :class:`ReadLimits`. A shared
  reference to a list, dict or set is refused: neither ``paddle.save`` nor ``torch.save``
  writes one, and refusing them rules out cycles.

Errors are one line, starting with the ``source`` the caller names (a file or archive member).
"""
import codecs
import dataclasses
import pickle
import struct
from typing import Any, BinaryIO, Callable, Dict, List, Mapping, Optional, Tuple

import numpy as np

from .weights_errors import UnsafeWeightsError, WeightsFormatError, WeightsLimitError, short_repr

__all__ = ['ReadLimits', 'DEFAULT_LIMITS', 'Budget', 'Buildable', 'PickleRules', 'FileBytes',
           'read_pickle']

_CONTAINERS = (tuple, list, dict, set, frozenset)
_MUTABLE = (list, dict, set)
_BLOB_MIN_BYTES = 1 << 16  # byte strings this long are read into a FileBytes buffer
_LATIN1 = 'latin1'  # how Python 2 str (numpy's array bytes in old pickles) is read back


@dataclasses.dataclass(frozen=True)
class ReadLimits:
    """What reading one weights file may cost.

    Attributes:
        max_nodes: objects in the structure, counting a shared tuple once per reference
            (a ResNet-50 state dict has about 10 000; optimizer states a few times that).
        max_depth: nesting of containers (state dicts nest 2-4 levels).
        bytes_per_file_byte, bytes_slack: bytes decoded beyond views of the file (copies of
            misaligned arrays, bfloat16 -> float32, joined parameters) may reach
            ``bytes_per_file_byte * file size + bytes_slack``.
    """
    max_nodes: int = 1_000_000
    max_depth: int = 64
    bytes_per_file_byte: int = 3
    bytes_slack: int = 16 << 20


DEFAULT_LIMITS = ReadLimits()


class Budget:
    """The running cost of reading one file; raises ``WeightsLimitError`` past a limit."""

    def __init__(self, limits: ReadLimits, file_size: int, source: str) -> None:
        self.limits = limits
        self.source = source
        self.nodes = 0
        self.decoded_bytes = 0
        self.max_decoded_bytes = limits.bytes_per_file_byte * file_size + limits.bytes_slack
        self.file_size = file_size

    def add_nodes(self, count: int) -> None:
        self.nodes += count
        if self.nodes > self.limits.max_nodes:
            raise WeightsLimitError(
                f'{self.source}: refused to load: it describes more than '
                f'{self.limits.max_nodes:,} objects (shared references counted each time they '
                f'are used); a weights file of {self.file_size:,} bytes needs far fewer (a '
                f'crafted file?).')

    def check_depth(self, depth: int) -> None:
        if depth > self.limits.max_depth:
            raise WeightsLimitError(f'{self.source}: refused to load: it nests containers more '
                                    f'than {self.limits.max_depth} levels deep; weights files '
                                    f'nest a few levels.')

    def add_bytes(self, count: int, what: str) -> None:
        """Charge ``count`` bytes that are decoded (allocated) beyond the file's own."""
        self.decoded_bytes += count
        if self.decoded_bytes > self.max_decoded_bytes:
            raise WeightsLimitError(
                f'{self.source}: refused to load: {what} would bring the decoded data to '
                f'{self.decoded_bytes:,} bytes, more than the {self.max_decoded_bytes:,} a '
                f'file of {self.file_size:,} bytes may decode to.')


class FileBytes(np.ndarray):
    """A long byte string of the pickle (array data) read straight into its own writable,
    aligned, uninitialised buffer (uint8 [N]): arrays are views of it, with no further copy.
    Anything else that gets one should treat it as ``bytes``."""


class Buildable:
    """A stand-in the pickle's ``BUILD`` opcode may act on: ``build(state)`` checks the state
    and returns the finished object (itself, or what replaces it everywhere)."""

    def build(self, state: Any) -> Any:  # pragma: no cover - every stand-in overrides it
        raise NotImplementedError


@dataclasses.dataclass
class PickleRules:
    """What a pickle may name: ``globals`` maps (module, name) to the object returned for it
    (only callable ones may be called by ``REDUCE``); ``persistent_load`` answers persistent
    ids (torch's storages; none allowed when None); ``build`` handles ``BUILD`` on objects that
    are not :class:`Buildable` (e.g. torch's ``_metadata`` on an OrderedDict)."""
    globals: Mapping[Tuple[str, str], Any]
    persistent_load: Optional[Callable[[Any], Any]] = None
    build: Optional[Callable[[Any, Any], Any]] = None
    kind: str = 'weights file'


class _Machine:
    """The pickle stack machine (see the module docstring); one instance reads one pickle."""

    def __init__(self, stream: BinaryIO, size: int, rules: PickleRules, budget: Budget) -> None:
        self.stream = stream
        self.size = size
        self.pos = 0
        self.rules = rules
        self.budget = budget
        self.source = budget.source
        self.stack: List[Any] = []
        self.metastack: List[List[Any]] = []
        self.memo: Dict[int, Any] = {}
        self.info: Dict[int, list] = {}  # id -> [container, tree size, depth]
        self.pending_memo: Dict[int, List[int]] = {}  # id of a Buildable -> its memo keys
        self.callables = {id(v): v for v in rules.globals.values() if callable(v)}
        self.global_names: Dict[int, str] = {}  # id of a resolved global -> module.name
        self.result: Any = None
        self.done = False

    # ---- reading the byte stream -------------------------------------------------------
    def refuse(self, what: str) -> None:
        raise UnsafeWeightsError(f'{self.source}: refused to load: {what}.')

    def malformed(self, what: str) -> None:
        raise WeightsFormatError(f'{self.source}: not a readable {self.rules.kind} ({what}).')

    def take(self, count: int):
        """The next ``count`` bytes (``FileBytes`` when long), after checking they exist."""
        remaining = self.size - self.pos
        if count < 0 or count > remaining:
            self.malformed(f'at byte {self.pos} it declares {count:,} bytes of data but only '
                           f'{remaining:,} remain: the file is truncated or was crafted')
        if count < _BLOB_MIN_BYTES:
            chunk = self.stream.read(count)
        else:
            chunk = np.empty(count, np.uint8).view(FileBytes)  # no zero-filling: it is read
            chunk = chunk if self.stream.readinto(chunk) == count else b''
        if len(chunk) != count:
            self.malformed(f'the file ended while it was read, at byte {self.pos}')
        self.pos += count
        return chunk

    def uint(self, size: int) -> int:
        return int.from_bytes(self.take(size), 'little')

    def line(self) -> bytes:
        text = self.stream.readline()
        if not text.endswith(b'\n'):
            self.malformed(f'a text opcode at byte {self.pos} has no end of line')
        self.pos += len(text)
        return text[:-1]

    # ---- object accounting -------------------------------------------------------------
    def measure(self, obj: Any) -> Tuple[int, int]:
        """(tree size, depth) of ``obj``: 1 and 0 for a leaf."""
        if not isinstance(obj, _CONTAINERS):
            return 1, 0
        entry = self.info.get(id(obj))
        if entry is None or entry[0] is not obj:
            entry = self.register(obj)
        return entry[1], entry[2]

    def register(self, obj: Any) -> list:
        """Record the tree size and depth of a new container from its (known) items."""
        items = list(obj.keys()) + list(obj.values()) if isinstance(obj, dict) else obj
        size, depth = 1, 1
        for item in items:
            item_size, item_depth = self.measure(item)
            size += item_size
            depth = max(depth, item_depth + 1)
        self.budget.check_depth(depth)
        entry = self.info[id(obj)] = [obj, size, depth]
        return entry

    def grow(self, container: Any, items: List[Any]) -> None:
        """Account for ``items`` added to a list, dict or set built by this pickle."""
        entry = self.info.get(id(container))
        if entry is None or entry[0] is not container:
            entry = self.register(container)
        for item in items:
            item_size, item_depth = self.measure(item)
            entry[1] += item_size
            entry[2] = max(entry[2], item_depth + 1)
        self.budget.check_depth(entry[2])

    def push(self, obj: Any) -> None:
        self.budget.add_nodes(1)
        if isinstance(obj, _CONTAINERS):
            self.register(obj)
        self.stack.append(obj)

    def pop_mark(self) -> List[Any]:
        if not self.metastack:
            self.malformed(f'an opcode at byte {self.pos} needs a MARK that is not there')
        items = self.stack
        self.stack = self.metastack.pop()
        return items

    def top(self, what: str) -> Any:
        if not self.stack:
            self.malformed(f'{what} at byte {self.pos} finds the stack empty')
        return self.stack[-1]

    def pop(self, what: str) -> Any:
        self.top(what)
        return self.stack.pop()

    # ---- constants, numbers, strings, bytes ---------------------------------------------
    def op_proto(self) -> None:
        if self.uint(1) > 5:
            self.malformed('it uses a pickle protocol newer than 5')

    def op_frame(self) -> None:
        size = self.uint(8)
        if size > self.size - self.pos:
            self.take(size)  # the same "declares N bytes" message

    def op_int(self) -> None:
        text = self.line()
        self.push(True if text == b'01' else False if text == b'00' else int(text))

    def op_long(self) -> None:
        self.push(int(self.line().rstrip(b'L')))

    def op_long1(self) -> None:
        self.push(int.from_bytes(self.take(self.uint(1)), 'little', signed=True))

    def op_long4(self) -> None:
        size = struct.unpack('<i', self.take(4))[0]
        self.push(int.from_bytes(self.take(size), 'little', signed=True))

    def op_float(self) -> None:
        self.push(float(self.line()))

    def op_binfloat(self) -> None:
        self.push(struct.unpack('>d', self.take(8))[0])

    def op_unicode_text(self) -> None:
        self.push(self.line().decode('raw-unicode-escape'))

    def unicode(self, length_bytes: int) -> None:
        self.push(str(self.take(self.uint(length_bytes)), 'utf-8', 'surrogatepass'))

    def py2_string(self, length_bytes: int) -> None:
        self.push(str(self.take(self.uint(length_bytes)), _LATIN1))

    def op_string_text(self) -> None:
        text = self.line().rstrip()
        if len(text) < 2 or text[0] != text[-1] or text[:1] not in (b'"', b"'"):
            self.malformed(f'a STRING opcode at byte {self.pos} is not quoted')
        self.push(codecs.escape_decode(text[1:-1])[0].decode(_LATIN1))

    def binbytes(self, length_bytes: int) -> None:
        self.push(self.take(self.uint(length_bytes)))

    def op_bytearray8(self) -> None:
        chunk = self.take(self.uint(8))
        self.budget.add_bytes(len(chunk), 'a bytearray')
        self.push(bytearray(chunk))

    # ---- containers -----------------------------------------------------------------------
    def op_tuple(self) -> None:
        self.push(tuple(self.pop_mark()))

    def small_tuple(self, count: int) -> None:
        if len(self.stack) < count:
            self.malformed(f'a TUPLE{count} at byte {self.pos} finds too few items')
        items = tuple(self.stack[len(self.stack) - count:])
        del self.stack[len(self.stack) - count:]
        self.push(items)

    def op_list(self) -> None:
        self.push(self.pop_mark())

    def op_dict(self) -> None:
        items = self.pop_mark()
        if len(items) % 2:
            self.malformed(f'a DICT at byte {self.pos} has an odd number of items')
        self.push(dict(zip(items[::2], items[1::2])))

    def op_frozenset(self) -> None:
        self.push(frozenset(self.pop_mark()))

    def target(self, kind: type, what: str) -> Any:
        container = self.top(what)
        if not isinstance(container, kind):
            self.refuse(f'{what} at byte {self.pos} acts on a {type(container).__name__}; '
                        f'pickles of plain data use it on a {kind.__name__} only')
        return container

    def extend_list(self, items: List[Any]) -> None:
        target = self.target(list, 'APPEND')
        self.grow(target, items)
        target.extend(items)

    def op_append(self) -> None:
        item = self.pop('APPEND')
        self.extend_list([item])

    def op_appends(self) -> None:
        self.extend_list(self.pop_mark())

    def set_items(self, items: List[Any]) -> None:
        if len(items) % 2:
            self.malformed(f'a SETITEMS at byte {self.pos} has an odd number of items')
        target = self.target(dict, 'SETITEM')
        self.grow(target, items)
        for key, value in zip(items[::2], items[1::2]):
            target[key] = value

    def op_setitem(self) -> None:
        value = self.pop('SETITEM')
        key = self.pop('SETITEM')
        self.set_items([key, value])

    def op_setitems(self) -> None:
        self.set_items(self.pop_mark())

    def op_additems(self) -> None:
        items = self.pop_mark()
        target = self.target(set, 'ADDITEMS')
        self.grow(target, items)
        target.update(items)

    # ---- stack and memo -------------------------------------------------------------------
    def op_mark(self) -> None:
        self.budget.add_nodes(1)
        if len(self.metastack) > 2 * self.budget.limits.max_depth + 8:
            self.budget.check_depth(self.budget.limits.max_depth + 1)
        self.metastack.append(self.stack)
        self.stack = []

    def op_pop(self) -> None:
        if self.stack:
            self.stack.pop()
        else:
            self.pop_mark()

    def op_pop_mark(self) -> None:
        self.pop_mark()

    def memo_get(self, key: int) -> None:
        if key not in self.memo:
            self.malformed(f'at byte {self.pos} it refers to memo entry {key}, never stored')
        obj = self.memo[key]
        if isinstance(obj, _MUTABLE):
            self.refuse(f'at byte {self.pos} it refers a second time to a '
                        f'{type(obj).__name__} (a shared or recursive structure, which '
                        f'weights files never hold)')
        self.budget.add_nodes(self.measure(obj)[0])
        self.stack.append(obj)

    def memo_put(self, key: int) -> None:
        obj = self.top('PUT')
        self.memo[key] = obj
        if isinstance(obj, Buildable):
            self.pending_memo.setdefault(id(obj), []).append(key)

    def op_memoize(self) -> None:
        self.memo_put(len(self.memo))

    # ---- globals, calls, BUILD, persistent ids ------------------------------------------
    def find_global(self, module: Any, name: Any) -> None:
        plain = isinstance(module, str) and isinstance(name, str)
        if not plain or (module, name) not in self.rules.globals:
            shown = repr(f'{module[:80]}.{name[:80]}') if plain else short_repr((module, name))
            raise UnsafeWeightsError(
                f'{self.source}: refused to load: the file asks to call the Python global '
                f'{shown}, and a {self.rules.kind} may only hold '
                f'dicts, lists, numbers, strings and arrays (it may have been crafted to run '
                f'code; use a file from a source you trust).')
        obj = self.rules.globals[(module, name)]
        self.global_names[id(obj)] = f'{module}.{name}'
        self.push(obj)

    def op_global(self) -> None:
        module = self.line().decode('utf-8', 'replace')
        name = self.line().decode('utf-8', 'replace')
        self.find_global(module, name)

    def op_stack_global(self) -> None:
        name = self.pop('STACK_GLOBAL')
        module = self.pop('STACK_GLOBAL')
        self.find_global(module, name)

    def op_reduce(self) -> None:
        args = self.pop('REDUCE')
        func = self.pop('REDUCE')
        if id(func) not in self.callables or self.callables[id(func)] is not func:
            name = self.global_names.get(id(func), f'a {type(func).__name__}')
            self.refuse(f'at byte {self.pos} it calls {name}, which is not one of the '
                        f'constructors a weights file may use')
        if not isinstance(args, tuple):
            self.malformed(f'a REDUCE at byte {self.pos} has arguments that are not a tuple')
        self.push(func(*args))

    def op_build(self) -> None:
        state = self.pop('BUILD')
        obj = self.top('BUILD')
        if isinstance(obj, Buildable):
            built = obj.build(state)
        elif self.rules.build is not None:
            built = self.rules.build(obj, state)
        else:
            self.refuse(f'at byte {self.pos} it sets the state of a {type(obj).__name__} '
                        f'(BUILD), which weights files never do')
        if built is not obj:
            self.stack[-1] = built
            for key in self.pending_memo.pop(id(obj), ()):
                if self.memo.get(key) is obj:
                    self.memo[key] = built

    def persistent(self, pid: Any) -> None:
        if self.rules.persistent_load is None:
            self.refuse('it holds a persistent id, which only torch checkpoints use')
        self.push(self.rules.persistent_load(pid))

    def op_binpersid(self) -> None:
        self.persistent(self.pop('BINPERSID'))

    def op_persid(self) -> None:
        self.persistent(self.line().decode('ascii', 'replace'))

    def op_stop(self) -> None:
        self.result = self.pop('STOP')
        self.done = True


def _dispatch() -> Dict[int, Callable[[_Machine], None]]:
    """Opcode byte -> handler, for every opcode plain data needs (pickle protocols 0-5)."""
    m, p = _Machine, pickle
    table = {
        p.PROTO: m.op_proto, p.FRAME: m.op_frame, p.STOP: m.op_stop,
        p.NONE: lambda s: s.push(None), p.NEWTRUE: lambda s: s.push(True),
        p.NEWFALSE: lambda s: s.push(False), p.INT: m.op_int, p.LONG: m.op_long,
        p.BININT: lambda s: s.push(struct.unpack('<i', s.take(4))[0]),
        p.BININT1: lambda s: s.push(s.uint(1)), p.BININT2: lambda s: s.push(s.uint(2)),
        p.LONG1: m.op_long1, p.LONG4: m.op_long4, p.FLOAT: m.op_float,
        p.BINFLOAT: m.op_binfloat, p.UNICODE: m.op_unicode_text,
        p.SHORT_BINUNICODE: lambda s: s.unicode(1), p.BINUNICODE: lambda s: s.unicode(4),
        p.BINUNICODE8: lambda s: s.unicode(8), p.STRING: m.op_string_text,
        p.SHORT_BINSTRING: lambda s: s.py2_string(1), p.BINSTRING: lambda s: s.py2_string(4),
        p.SHORT_BINBYTES: lambda s: s.binbytes(1), p.BINBYTES: lambda s: s.binbytes(4),
        p.BINBYTES8: lambda s: s.binbytes(8), p.BYTEARRAY8: m.op_bytearray8,
        p.EMPTY_TUPLE: lambda s: s.push(()), p.TUPLE: m.op_tuple,
        p.TUPLE1: lambda s: s.small_tuple(1), p.TUPLE2: lambda s: s.small_tuple(2),
        p.TUPLE3: lambda s: s.small_tuple(3), p.EMPTY_LIST: lambda s: s.push([]),
        p.LIST: m.op_list, p.APPEND: m.op_append, p.APPENDS: m.op_appends,
        p.EMPTY_DICT: lambda s: s.push({}), p.DICT: m.op_dict, p.SETITEM: m.op_setitem,
        p.SETITEMS: m.op_setitems, p.EMPTY_SET: lambda s: s.push(set()),
        p.ADDITEMS: m.op_additems, p.FROZENSET: m.op_frozenset,
        p.MARK: m.op_mark, p.POP: m.op_pop, p.POP_MARK: m.op_pop_mark,
        p.GET: lambda s: s.memo_get(int(s.line())), p.BINGET: lambda s: s.memo_get(s.uint(1)),
        p.LONG_BINGET: lambda s: s.memo_get(s.uint(4)),
        p.PUT: lambda s: s.memo_put(int(s.line())), p.BINPUT: lambda s: s.memo_put(s.uint(1)),
        p.LONG_BINPUT: lambda s: s.memo_put(s.uint(4)), p.MEMOIZE: m.op_memoize,
        p.GLOBAL: m.op_global, p.STACK_GLOBAL: m.op_stack_global, p.REDUCE: m.op_reduce,
        p.BUILD: m.op_build, p.BINPERSID: m.op_binpersid, p.PERSID: m.op_persid,
    }
    return table


_HANDLERS = _dispatch()
# what the refusal says about the opcodes plain data never needs
_REFUSED = {pickle.INST: 'INST (an object of any class)', pickle.OBJ: 'OBJ (an object of any class)',
            pickle.NEWOBJ: 'NEWOBJ (an object of any class)',
            pickle.NEWOBJ_EX: 'NEWOBJ_EX (an object of any class)',
            pickle.EXT1: 'EXT1 (a registered extension)', pickle.EXT2: 'EXT2 (a registered extension)',
            pickle.EXT4: 'EXT4 (a registered extension)', pickle.DUP: 'DUP (a shared reference)',
            pickle.NEXT_BUFFER: 'NEXT_BUFFER (an out-of-band buffer)',
            pickle.READONLY_BUFFER: 'READONLY_BUFFER (an out-of-band buffer)'}


def _run(machine: _Machine) -> Any:
    handlers, read = _HANDLERS, machine.stream.read
    while not machine.done:
        code = read(1)
        if not code:
            machine.malformed(f'the pickle stops at byte {machine.pos} without its STOP '
                              f'opcode: the file is truncated')
        machine.pos += 1
        handler = handlers.get(code)
        if handler is None:
            what = _REFUSED.get(code)
            if what is None:
                machine.malformed(f'byte {machine.pos - 1} holds {code!r}, which is '
                                  f'not a pickle opcode')
            machine.refuse(f'at byte {machine.pos - 1} it uses the pickle opcode {what}, which '
                           f'weights files never need')
        handler(machine)
    return machine.result


def read_pickle(stream: BinaryIO, size: int, rules: PickleRules, budget: Budget) -> Any:
    """The plain data the pickle at the start of ``stream`` describes (see the docstring).

    Args:
        stream: a binary file (buffered) positioned at the pickle.
        size: the bytes ``stream`` holds from there on; no declared length may pass it.
        rules: the globals, persistent ids and BUILD targets the pickle may use.
        budget: counts this file's cost (shared with the rules' stand-ins).
    Returns:
        The unpickled object: dicts, lists, tuples, sets, numbers, strings, bytes
        (``FileBytes`` when long) and whatever the rules' stand-ins build (arrays).
    Raises:
        UnsafeWeightsError: a global, opcode or structure a weights file never needs.
        WeightsLimitError: past one of ``budget``'s limits.
        WeightsFormatError: truncated or not a pickle (the cause in the message).
    """
    machine = _Machine(stream, size, rules, budget)
    try:
        return _run(machine)
    except WeightsFormatError:
        raise
    except (ValueError, TypeError, KeyError, IndexError, OverflowError, UnicodeError,
            struct.error, AttributeError) as error:
        detail = ' '.join(str(error).split())[:200]
        raise WeightsFormatError(f'{budget.source}: not a readable {rules.kind} at byte '
                                 f'{machine.pos} ({type(error).__name__}: {detail}).') from None

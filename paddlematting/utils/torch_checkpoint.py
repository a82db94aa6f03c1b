"""Reading PyTorch's zip checkpoints (``torch.save`` since 1.6) as numpy, without torch.

The archive holds ``<name>/data.pkl`` (a pickle of the state dict), one member
``<name>/data/<key>`` per storage (its raw bytes), and ``<name>/byteorder``. The pickle names
storages by persistent ids ``('storage', torch.FloatStorage, key, location, numel)`` and builds
tensors with ``torch._utils._rebuild_tensor_v2(storage, offset, size, stride, ...)`` (``_v3``
with an explicit dtype over an untyped storage), parameters with ``_rebuild_parameter``.

The pickle goes through ``safe_pickle`` with stand-ins for exactly those globals: a storage
becomes a 1-D numpy array of its member's bytes (the member must be stored uncompressed,
pass its CRC and be exactly ``numel * itemsize`` bytes), and a tensor a view of it whose
offset, sizes and strides are checked first (``array_specs.strided_view``). bfloat16 becomes
float32 (exactly: the 16 bits are the float32's high half); big-endian files are converted.
Nothing of torch is imported, and ``torch.save(model)`` (a pickled module) is refused as a
global. The legacy format (``_use_new_zipfile_serialization=False``) is refused in
``weights_io`` with advice.
"""
import io
import struct
import zipfile
import zlib
from typing import Any, BinaryIO, Dict, Tuple

import numpy as np

from .array_specs import bfloat16_to_float32, plain_dtype, strided_view
from .numpy_pickle import native_aligned, ordered_dict
from .safe_pickle import Budget, PickleRules, ReadLimits, read_pickle
from .weights_errors import UnsafeWeightsError, WeightsFormatError, WeightsLimitError, short_repr

__all__ = ['load_torch_checkpoint', 'STORAGE_TYPES', 'TORCH_DTYPES']

_BF16 = 'bf16'  # stored as its raw 16 bits (numpy has no bfloat16), widened to float32
# torch's typed storage classes -> numpy type string
STORAGE_TYPES = {'DoubleStorage': 'f8', 'FloatStorage': 'f4', 'HalfStorage': 'f2',
                 'BFloat16Storage': _BF16, 'LongStorage': 'i8', 'IntStorage': 'i4',
                 'ShortStorage': 'i2', 'CharStorage': 'i1', 'ByteStorage': 'u1',
                 'BoolStorage': 'b1', 'ComplexFloatStorage': 'c8', 'ComplexDoubleStorage': 'c16'}
# torch dtypes (named by _rebuild_tensor_v3) -> numpy type string
TORCH_DTYPES = {'float64': 'f8', 'double': 'f8', 'float32': 'f4', 'float': 'f4', 'float16': 'f2',
                'half': 'f2', 'bfloat16': _BF16, 'int64': 'i8', 'long': 'i8', 'int32': 'i4',
                'int': 'i4', 'int16': 'i2', 'short': 'i2', 'int8': 'i1', 'uint8': 'u1',
                'uint16': 'u2', 'uint32': 'u4', 'uint64': 'u8', 'bool': 'b1',
                'complex64': 'c8', 'complex128': 'c16'}
_UNTYPED = 'u1'
_LOCAL_HEADER = struct.Struct('<4s22xHH')  # signature, ..., name length, extra length


class _TypeName:
    """What a storage class or a torch dtype global resolves to: a type string, not callable."""

    def __init__(self, code: str) -> None:
        self.code = code


class _Storage:
    """One storage member: its bytes as a 1-D array (uint16 bits for bfloat16)."""

    def __init__(self, code: str, array: np.ndarray) -> None:
        self.code = code
        self.array = array


def _numpy_code(code: str) -> str:
    return 'u2' if code == _BF16 else code


class _Archive:
    """The members of one torch zip checkpoint and the storages its pickle has asked for."""

    def __init__(self, path: str, handle: BinaryIO, zf: zipfile.ZipFile, budget: Budget) -> None:
        self.path = path
        self.handle = handle
        self.budget = budget
        self.prefix, self.members = _members(path, zf)
        self.byteorder = self._byteorder()
        self.storages: Dict[str, _Storage] = {}
        self.storage_bytes = 0

    def read(self, name: str) -> np.ndarray:
        """A stored member's bytes (uint8 [N], a fresh writable buffer), CRC checked."""
        info = self.members[name]
        self.handle.seek(info.header_offset)
        signature, name_length, extra_length = _LOCAL_HEADER.unpack(self.handle.read(30))
        start = info.header_offset + 30 + name_length + extra_length
        if signature != b'PK\x03\x04' or start + info.file_size > self.budget.file_size:
            raise WeightsFormatError(f'{self.path}: not a readable PyTorch checkpoint (the '
                                     f'member {short_repr(name)} lies outside the file).')
        data = np.empty(info.file_size, np.uint8)  # not zero-filled: it is read
        self.handle.seek(start)
        if self.handle.readinto(data) != info.file_size or zlib.crc32(data) != info.CRC:
            raise WeightsFormatError(f'{self.path}: not a readable PyTorch checkpoint (the '
                                     f'member {short_repr(name)} is corrupt: its CRC does not match).')
        return data

    def _byteorder(self) -> str:
        name = f'{self.prefix}/byteorder'
        if name not in self.members:
            return '<'  # files from before torch wrote byteorder are little-endian
        order = self.read(name).tobytes().strip()
        if order not in (b'little', b'big'):
            raise WeightsFormatError(f'{self.path}: not a readable PyTorch checkpoint (its '
                                     f'byteorder says {short_repr(order, 20)}).')
        return '<' if order == b'little' else '>'

    def storage(self, pid: Any) -> _Storage:
        """The persistent id ``('storage', type, key, location, numel)`` -> its storage."""
        if (not isinstance(pid, tuple) or len(pid) != 5 or pid[0] != 'storage'
                or not isinstance(pid[1], _TypeName) or not isinstance(pid[2], str)
                or not isinstance(pid[3], str) or type(pid[4]) is not int or pid[4] < 0):
            raise UnsafeWeightsError(f'{self.path}: refused to load: a persistent id '
                                     f'{short_repr(pid, 100)} is not a torch storage reference.')
        code, key, numel = pid[1].code, pid[2], pid[4]
        cached = self.storages.get(key)
        if cached is not None:
            if cached.code != code or cached.array.size != numel:
                raise UnsafeWeightsError(f'{self.path}: refused to load: storage {short_repr(key)} is '
                                         f'referred to with two different types or sizes.')
            return cached
        self.storages[key] = _Storage(code, self._storage_array(code, key, numel))
        return self.storages[key]

    def _storage_array(self, code: str, key: str, numel: int) -> np.ndarray:
        name = f'{self.prefix}/data/{key}'
        dtype = plain_dtype(_numpy_code(code), self.byteorder, self.path)
        info = self.members.get(name)
        if info is None or info.file_size != numel * dtype.itemsize:
            found = 'is missing' if info is None else f'has {info.file_size} bytes'
            raise WeightsFormatError(f'{self.path}: not a readable PyTorch checkpoint (storage '
                                     f'{short_repr(key)[1:-1]} of {numel} {code} elements {found}).')
        self.storage_bytes += info.file_size
        if self.storage_bytes > self.budget.file_size:
            raise WeightsLimitError(f'{self.path}: refused to load: its storages add up to more '
                                    f'bytes than the file has (members overlap: a crafted zip).')
        return self.read(name).view(dtype)


def _members(path: str, zf: zipfile.ZipFile) -> Tuple[str, Dict[str, zipfile.ZipInfo]]:
    """(archive folder, stored members by name); refuses compressed or misplaced members."""
    members = {info.filename: info for info in zf.infolist()}
    pickles = [name for name in members if name.count('/') == 1 and name.endswith('/data.pkl')]
    if len(pickles) != 1:
        raise WeightsFormatError(f'{path}: not a PyTorch checkpoint (a zip without exactly one '
                                 f'<name>/data.pkl; found {len(pickles)}).')
    compressed = [name for name, info in members.items() if info.compress_type != zipfile.ZIP_STORED]
    if compressed:
        raise UnsafeWeightsError(f'{path}: refused to load: the member {compressed[0]} is '
                                 f'compressed, and torch.save stores every member uncompressed.')
    return pickles[0][:-len('/data.pkl')], members


def _tensor(archive: _Archive, storage: Any, offset: Any, size: Any, stride: Any,
            code: str) -> np.ndarray:
    """The checked view of ``storage`` as a native, contiguous-or-view array of ``code``."""
    if not isinstance(storage, _Storage):
        raise UnsafeWeightsError(f'{archive.path}: refused to load: a tensor is rebuilt from a '
                                 f'{type(storage).__name__}, not from one of its storages.')
    flat = storage.array
    if code != storage.code:  # _rebuild_tensor_v3: a dtype over an untyped (byte) storage
        dtype = plain_dtype(_numpy_code(code), archive.byteorder, archive.path)
        if storage.code != _UNTYPED or flat.nbytes % dtype.itemsize:
            raise UnsafeWeightsError(f'{archive.path}: refused to load: a {code} tensor over a '
                                     f'{storage.code} storage of {flat.nbytes} bytes.')
        flat = flat.view(dtype)
    view = strided_view(flat, offset, size, stride, archive.path)
    if code == _BF16:
        archive.budget.add_bytes(view.size * 4, 'widening a bfloat16 tensor to float32')
        return bfloat16_to_float32(native_aligned(view, archive.budget))
    view = native_aligned(view, archive.budget)
    if not view.flags.c_contiguous:
        archive.budget.add_bytes(view.nbytes, 'copying a strided tensor')
        view = np.ascontiguousarray(view)
    return view


def _torch_globals(archive: _Archive) -> Dict[Tuple[str, str], Any]:
    """(module, name) -> stand-in, for what torch.save writes for state dicts."""

    def rebuild_v2(storage, offset, size, stride, requires_grad=False, hooks=None, metadata=None):
        return _tensor(archive, storage, offset, size, stride, getattr(storage, 'code', ''))

    def rebuild_v3(storage, offset, size, stride, *flags_and_dtype):
        # torch's call: (..., requires_grad, backward_hooks, dtype[, metadata])
        dtype = flags_and_dtype[2] if len(flags_and_dtype) >= 3 else None
        if not isinstance(dtype, _TypeName):
            raise UnsafeWeightsError(f'{archive.path}: refused to load: a tensor\'s dtype is '
                                     f'a {type(dtype).__name__}.')
        return _tensor(archive, storage, offset, size, stride, dtype.code)

    def rebuild_parameter(data, requires_grad=True, hooks=None, state=None):
        if not isinstance(data, np.ndarray):
            raise UnsafeWeightsError(f'{archive.path}: refused to load: a Parameter of a '
                                     f'{type(data).__name__}.')
        return data

    table: Dict[Tuple[str, str], Any] = {
        ('torch._utils', '_rebuild_tensor_v2'): rebuild_v2,
        ('torch._utils', '_rebuild_tensor_v3'): rebuild_v3,
        ('torch._utils', '_rebuild_parameter'): rebuild_parameter,
        ('torch._utils', '_rebuild_parameter_with_state'): rebuild_parameter,
        ('collections', 'OrderedDict'): lambda *a: ordered_dict(archive.budget, *a),
        ('torch', 'UntypedStorage'): _TypeName(_UNTYPED),
        ('torch.storage', 'UntypedStorage'): _TypeName(_UNTYPED)}
    table.update({('torch', name): _TypeName(code) for name, code in STORAGE_TYPES.items()})
    table.update({('torch', name): _TypeName(code) for name, code in TORCH_DTYPES.items()})
    return table


def _drop_metadata(archive: _Archive, obj: Any, state: Any) -> Any:
    """``BUILD`` on a state dict: torch sets its ``_metadata`` (module versions); dropped."""
    if isinstance(obj, dict) and isinstance(state, dict) and set(state) <= {'_metadata'}:
        return obj
    raise UnsafeWeightsError(f'{archive.path}: refused to load: it sets the state of a '
                             f'{type(obj).__name__} (BUILD), which torch state dicts never do '
                             f'beyond their _metadata.')


def load_torch_checkpoint(path: str, limits: ReadLimits, file_size: int) -> Any:
    """What ``torch.load(path, weights_only=True)`` returns, with numpy arrays for tensors.

    Args:
        path: a zip checkpoint written by ``torch.save`` (1.6 or later).
        limits: the costs reading may reach (see ``safe_pickle.ReadLimits``).
        file_size: the file's size in bytes (the budgets are tied to it).
    Returns:
        Usually an (Ordered)dict of name -> array (native byte order; bfloat16 as float32;
        tensors that share a storage are views of one buffer).
    Raises:
        UnsafeWeightsError, WeightsLimitError, WeightsFormatError: one line naming ``path``.
    """
    budget = Budget(limits, file_size, path)
    try:
        with open(path, 'rb') as handle, zipfile.ZipFile(handle) as zf:
            archive = _Archive(path, handle, zf, budget)
            rules = PickleRules(globals=_torch_globals(archive), persistent_load=archive.storage,
                                build=lambda obj, state: _drop_metadata(archive, obj, state),
                                kind='PyTorch checkpoint')
            data = archive.read(f'{archive.prefix}/data.pkl')
            return read_pickle(io.BytesIO(data), len(data), rules, budget)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, struct.error, EOFError) as error:
        raise WeightsFormatError(f'{path}: not a readable PyTorch checkpoint (a damaged zip: '
                                 f'{" ".join(str(error).split())[:160]}).') from None

"""PyTorch zip checkpoints (.pth) read as numpy without torch: files real torch 2.13 wrote
(tests/data/torch_pth, made by make_fixtures.py there) give exactly the tensors torch saved,
our writer (tests/torch_pth.py) round-trips, and crafted files are refused in one line."""
import os
import zipfile

import numpy as np
import pytest

from conftest import TEST_DATA_DIR
from torch_pth import BFloat16, Parameter, Tensor, save_pth, to_bfloat16_bits
from paddlematting.utils.weights_io import (UnsafeWeightsError, WeightsFormatError,
                                            WeightsLimitError, load_state_dict, load_weights_file,
                                            weights_file_format)

FIXTURES = os.path.join(TEST_DATA_DIR, 'torch_pth')
REAL_FILES = ['module_state.pth', 'dtypes.pth', 'views.pth', 'nested.pth']


def _flatten(prefix, value, out):
    if isinstance(value, dict):
        for key, item in value.items():
            _flatten(f'{prefix}.{key}' if prefix else key, item, out)
    elif isinstance(value, np.ndarray):
        out[prefix] = value
    return out


def _one_line(error, path):
    text = str(error.value)
    assert '\n' not in text and text.startswith(str(path)), text
    return text


@pytest.mark.parametrize('name', REAL_FILES)
def test_files_written_by_torch_read_as_torch_saved_them(name):
    expected = np.load(os.path.join(FIXTURES, 'expected.npz'))
    wanted = {key.split('::', 1)[1]: expected[key] for key in expected.files
              if key.startswith(name + '::')}
    path = os.path.join(FIXTURES, name)
    assert weights_file_format(path) == 'torch'
    got = _flatten('', load_state_dict(path), {})
    assert set(got) == set(wanted)
    for key, value in wanted.items():
        assert got[key].dtype == value.dtype and got[key].shape == value.shape, key
        np.testing.assert_array_equal(got[key], value, err_msg=key)
        assert got[key].dtype.isnative and got[key].flags.writeable


def test_torch_specific_forms_come_back_as_plain_values():
    views = load_weights_file(os.path.join(FIXTURES, 'views.pth'))
    # views of one storage: the transposed grid and a column of it; the tied pair is one array
    np.testing.assert_array_equal(views['transposed'], np.arange(24.0).reshape(4, 6).T)
    np.testing.assert_array_equal(views['column'], [1, 7, 13, 19])
    assert views['tied_a'] is views['tied_b']
    assert views['scalar'].shape == () and views['scalar'] == 3.5 and views['empty'].shape == (0, 3)
    dtypes = load_weights_file(os.path.join(FIXTURES, 'dtypes.pth'))
    assert dtypes['bf16'].dtype == np.float32  # bfloat16 widened exactly
    np.testing.assert_allclose(dtypes['bf16'], dtypes['f32'], rtol=2 ** -8)
    nested = load_weights_file(os.path.join(FIXTURES, 'nested.pth'))
    assert (nested['epoch'], nested['arch'], nested['lr'], nested['best']) == (
        3, 'conv-bn-linear', 0.01, [1, 2.5])
    module = load_weights_file(os.path.join(FIXTURES, 'module_state.pth'))
    assert list(module)[0] == 'module.0.weight'  # the order torch saved
    assert module['module.1.num_batches_tracked'] == 7


def test_the_legacy_format_is_refused_with_advice():
    path = os.path.join(FIXTURES, 'legacy.pth')
    with pytest.raises(WeightsFormatError) as info:
        load_weights_file(path)
    assert 'legacy format' in _one_line(info, path) and 'torch.save' in str(info.value)


def test_our_writer_round_trips_every_form(tmp_path, rng):
    values = rng.standard_normal((3, 4)).astype(np.float32)
    storage = np.arange(12, dtype=np.int64)
    state = {'f32': values, 'f16': values.astype(np.float16), 'f64': values.astype(np.float64),
             'i32': np.arange(-2, 2, dtype=np.int32), 'b': np.array([True, False]),
             'bf16': BFloat16(values), 'view': Tensor(storage, 2, (3, 2), (1, 4)),
             'param': Parameter(values[1:]), 'inner': {'x': values[0]}}
    got = load_weights_file(save_pth(str(tmp_path / 'w.pth'), state))
    for key in ('f32', 'f16', 'f64', 'i32', 'b'):
        assert got[key].dtype == state[key].dtype
        np.testing.assert_array_equal(got[key], state[key])
    np.testing.assert_array_equal(got['view'], [[2, 6], [3, 7], [4, 8]])
    np.testing.assert_array_equal(got['param'], values[1:])
    np.testing.assert_array_equal(got['inner']['x'], values[0])
    # bfloat16 keeps the top 16 bits of the float32 (rounded to nearest even)
    bits = to_bfloat16_bits(values).astype(np.uint32) << 16
    np.testing.assert_array_equal(got['bf16'], bits.view(np.float32))
    assert np.all(np.abs(got['bf16'] - values) <= np.abs(values) * 2 ** -8)


def test_a_big_endian_checkpoint_is_converted(tmp_path):
    values = np.arange(6, dtype=np.float32).reshape(2, 3) / 4
    path = save_pth(str(tmp_path / 'be.pth'), {'w': values.astype('>f4')})
    with zipfile.ZipFile(path) as zf:
        members = {name: zf.read(name) for name in zf.namelist()}
    members['archive/byteorder'] = b'big'
    members['archive/data/0'] = values.astype('>f4').tobytes()
    with zipfile.ZipFile(path, 'w') as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    got = load_weights_file(path)['w']
    assert got.dtype == np.float32 and got.dtype.isnative
    np.testing.assert_array_equal(got, values)


def _view_file(tmp_path, offset, size, stride, numel=6):
    return save_pth(str(tmp_path / 'crafted.pth'),
                    {'w': Tensor(np.zeros(numel, np.float32), offset, size, stride)})


@pytest.mark.parametrize('offset, size, stride, expected', [
    (5, (2,), (1,), 'outside its storage'),           # reaches element 6 of 6
    (7, (0,), (1,), 'outside its storage'),           # an empty view past the end
    (0, (1 << 31,), (0,), 'more than once'),          # 2^31 elements out of one: stride 0
    (0, (3, 2), (1, 1), 'more than once'),            # rows overlap
    (2 ** 40, (1,), (1,), 'offset 1099511627776'),    # no OverflowError
    (0, (2, 3), (3, 2 ** 62), 'outside its storage'),
    (-1, (1,), (1,), 'non-negative'),
])
def test_views_outside_or_over_their_storage_are_refused(tmp_path, offset, size, stride, expected):
    path = _view_file(tmp_path, offset, size, stride)
    with pytest.raises(UnsafeWeightsError) as info:
        load_weights_file(path)
    assert expected in _one_line(info, path)


def _rewrite_member(path, name, data=None, compress=zipfile.ZIP_STORED):
    with zipfile.ZipFile(path) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    members[name] = members[name] if data is None else data
    with zipfile.ZipFile(path, 'w') as zf:
        for member, content in members.items():
            zf.writestr(member, content, compress_type=compress if member == name else zipfile.ZIP_STORED)


def test_damaged_archives_are_named(tmp_path):
    path = save_pth(str(tmp_path / 'w.pth'), {'w': np.ones(64, np.float32)})
    _rewrite_member(path, 'archive/data/0', np.ones(63, np.float32).tobytes())
    with pytest.raises(WeightsFormatError, match='storage 0 of 64 f4 elements has 252 bytes'):
        load_weights_file(path)
    _rewrite_member(path, 'archive/data/0', np.ones(64, np.float32).tobytes(), zipfile.ZIP_DEFLATED)
    with pytest.raises(UnsafeWeightsError, match='compressed'):
        load_weights_file(path)
    save_pth(path, {'w': np.ones(64, np.float32)})
    raw = bytearray(open(path, 'rb').read())
    at = raw.find(np.ones(64, np.float32).tobytes())
    raw[at + 10] ^= 0xFF  # a flipped bit inside the storage
    open(path, 'wb').write(bytes(raw))
    with pytest.raises(WeightsFormatError, match='CRC'):
        load_weights_file(path)
    open(path, 'wb').write(bytes(raw[:len(raw) // 2]))
    assert weights_file_format(path) == 'paddle'  # no zip directory: not recognised as torch's
    with pytest.raises(WeightsFormatError, match='w.pth'):
        load_weights_file(path)


@pytest.mark.parametrize('pickle_bytes, error, expected', [
    # torch.save(model) pickles the module's class: refused before anything is called
    (b'\x80\x02ctorch.nn.modules.conv\nConv2d\n)\x81.', UnsafeWeightsError, 'torch.nn.modules.conv.Conv2d'),
    (b'\x80\x02cos\nsystem\nX\x04\x00\x00\x00true\x85R.', UnsafeWeightsError, "'os.system'"),
    # a persistent id that is not a storage reference, and one naming a missing storage
    (b'\x80\x02X\x03\x00\x00\x00abcQ.', UnsafeWeightsError, 'not a torch storage reference'),
    (b'\x80\x02(X\x07\x00\x00\x00storagectorch\nFloatStorage\nX\x01\x00\x00\x009X\x03\x00\x00\x00cpuK\x01tQ.',
     WeightsFormatError, 'storage 9 of 1 f4 elements is missing'),
    # a storage class used as a callable
    (b'\x80\x02ctorch\nFloatStorage\n)R.', UnsafeWeightsError, 'calls torch.FloatStorage'),
])
def test_crafted_pickles_inside_a_checkpoint_are_refused(tmp_path, pickle_bytes, error, expected):
    path = save_pth(str(tmp_path / 'w.pth'), {'w': np.ones(2, np.float32)}, pickle_bytes=pickle_bytes)
    with pytest.raises(error) as info:
        load_weights_file(path)
    assert expected in _one_line(info, path)


def test_tensors_cannot_decode_to_more_than_their_file(tmp_path):
    """A thousand bfloat16 views of one storage would widen to 4000x its bytes: the decoded
    budget (tied to the file size) stops it."""
    storage = np.zeros(1 << 16, np.int16)
    state = {f'w{i}': Tensor(storage, 0, (1 << 16,), (1,)) for i in range(1000)}
    path = str(tmp_path / 'w.pth')
    save_pth(path, state)
    with zipfile.ZipFile(path) as zf:  # retype the shared storage as bfloat16
        members = {n: zf.read(n) for n in zf.namelist()}
    members['archive/data.pkl'] = members['archive/data.pkl'].replace(b'ShortStorage', b'BFloat16Storage')
    with zipfile.ZipFile(path, 'w') as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    with pytest.raises(WeightsLimitError) as info:
        load_weights_file(path)
    assert 'bfloat16' in _one_line(info, path)

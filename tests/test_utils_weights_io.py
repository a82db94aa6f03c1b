"""Weights are read without running code: a crafted pickle is refused at every entry point
(and nothing from it runs), while every file ``paddle.save`` really writes still loads."""
import json
import os
import pickle

import numpy as np
import paddle
import pytest

import core_plugin  # noqa: F401  (registers CoreTestSet / CoreTestNet)
from conftest import REPO_ROOT, TEST_DATA_DIR
from crafted_weights import CRAFTED
from paddlematting import Config
from paddlematting.cli import export as export_cli
from paddlematting.cli import predict as predict_cli
from paddlematting.cli import val as val_cli
from paddlematting.engine import checkpoint
from paddlematting.engine.runtime import capture_rng_state, restore_rng_state
from paddlematting.utils.image_io import write_png
from paddlematting.utils.pretrained import load_pretrained_weights
from paddlematting.utils.weights_io import (ReadLimits, UnsafeWeightsError, WeightsFormatError,
                                            WeightsLimitError, load_state_dict, load_weights_file)
from paddlematting.builders import Built

TINY_CONFIG = os.path.join(TEST_DATA_DIR, 'core_tiny.yml')
DEMO_CONFIG = os.path.join(REPO_ROOT, 'configs', 'quick_start', 'modnet_mobilenetv2_demo.yml')


class _Payload:
    """Unpickling this runs ``exec``, which creates the file ``marker``."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return exec, (f'open({self.marker!r}, "w").close()',)


def _write_crafted(path, marker, state=None):
    """A .pdparams that looks like a state dict and runs code when unpickled."""
    state = dict(state or {})
    state['evil'] = _Payload(marker)
    with open(path, 'wb') as f:
        pickle.dump(state, f, protocol=4)
    return str(path)


def _tiny_state():
    paddle.seed(0)
    return {k: v.numpy() for k, v in core_plugin.CoreTestNet().state_dict().items()}


@pytest.fixture
def crafted(tmp_path):
    marker = tmp_path / 'CODE_RAN'
    path = _write_crafted(tmp_path / 'model.pdparams', marker, _tiny_state())
    return path, marker


def _assert_refused(error_text, path, marker):
    assert not marker.exists(), 'the pickle payload ran'
    assert str(path) in error_text and 'exec' in error_text


def test_the_payload_really_runs_under_plain_pickle(tmp_path):
    """Guards every test below: the crafted file does run code when unpickled normally."""
    marker = tmp_path / 'ran'
    path = _write_crafted(tmp_path / 'x.pdparams', marker)
    with open(path, 'rb') as f:
        pickle.load(f)
    assert marker.exists()


def test_loader_refuses_the_payload_with_one_line_naming_file_and_global(crafted):
    path, marker = crafted
    with pytest.raises(UnsafeWeightsError) as info:
        load_weights_file(path)
    _assert_refused(str(info.value), path, marker)
    assert "'builtins.exec'" in str(info.value) and '\n' not in str(info.value)


@pytest.mark.parametrize('target', ['os.system', 'subprocess.Popen', 'builtins.getattr',
                                    'numpy.load', 'copyreg._reconstructor', 'builtins.eval'])
def test_any_other_global_is_refused(tmp_path, target):
    module, name = target.rsplit('.', 1)
    # GLOBAL module name, then an argument tuple and REDUCE; the eval form is not Paddle's
    data = (b'\x80\x02c' + module.encode() + b'\n' + name.encode() + b'\n'
            + b'X\x04\x00\x00\x00true\x85R.')
    path = tmp_path / 'g.pdparams'
    path.write_bytes(data)
    with pytest.raises(UnsafeWeightsError, match=target.replace('.', r'\.')):
        load_weights_file(str(path))


def test_object_arrays_are_refused(tmp_path):
    path = tmp_path / 'o.pdparams'
    with open(path, 'wb') as f:
        pickle.dump({'w': np.array([1, 'a'], dtype=object)}, f)
    with pytest.raises(UnsafeWeightsError, match='objects'):
        load_weights_file(str(path))


def _real_paddle_files(tmp_path):
    """Every kind of file paddle.save writes for us: a state dict, optimizer states with LR
    scheduler state (Momentum, AdamW), mixed dtypes, nested tensors and a lone tensor."""
    net = paddle.nn.Sequential(paddle.nn.Conv2D(3, 4, 3), paddle.nn.BatchNorm2D(4))
    files = {}
    sched = paddle.optimizer.lr.PolynomialDecay(0.01, 100, end_lr=0.0, power=0.9)
    for name, opt in (('momentum', paddle.optimizer.Momentum(sched, parameters=net.parameters(),
                                                            weight_decay=4e-5)),
                      ('adamw', paddle.optimizer.AdamW(
                          paddle.optimizer.lr.PiecewiseDecay([2], [0.1, 0.01]),
                          parameters=net.parameters()))):
        net(paddle.randn([1, 3, 5, 5])).mean().backward()
        opt.step()
        opt.clear_grad()
        files[name] = str(tmp_path / f'{name}.pdopt')
        paddle.save(checkpoint.optimizer_state(net, opt), files[name])
    sched.step()
    files['params'] = str(tmp_path / 'm.pdparams')
    paddle.save(net.state_dict(), files['params'])
    files['dtypes'] = str(tmp_path / 'd.pdparams')
    paddle.save({'h': paddle.to_tensor(np.ones(3, 'float16')), 'i': paddle.to_tensor([1, 2]),
                 'b': paddle.to_tensor([True])}, files['dtypes'])
    t = paddle.to_tensor(np.arange(3, dtype='float32'))
    files['nested'] = str(tmp_path / 'n.pdparams')
    paddle.save({'w': t, 'master_weights': {'x': t},
                 'LR_Scheduler': {'last_epoch': np.int64(3), 'last_lr': np.float64(0.1)}},
                files['nested'])
    files['tensor'] = str(tmp_path / 't.pdtensor')
    paddle.save(t, files['tensor'])
    files['protocol2'] = str(tmp_path / 'p2.pdparams')
    paddle.save(net.state_dict(), files['protocol2'], protocol=2)
    return files


def _same(a, b):
    if isinstance(a, dict):
        assert set(a) == set(b)
        for key in a:
            _same(a[key], b[key])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            _same(x, y)
    else:
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_every_file_paddle_save_writes_loads_as_paddle_load_reads_it(tmp_path):
    for kind, path in _real_paddle_files(tmp_path).items():
        expected = paddle.load(path, return_numpy=True)
        if isinstance(expected, tuple):  # a lone tensor
            expected = expected[1]
        _same(load_weights_file(path), expected)
        assert kind


def test_safetensors_weights_load_into_a_model(tmp_path):
    from safetensors.numpy import save_file
    state = _tiny_state()
    save_file(state, str(tmp_path / 'w.safetensors'))
    paddle.seed(1)
    net = core_plugin.CoreTestNet()
    load_pretrained_weights(net, str(tmp_path / 'w.safetensors'), strict=True)
    for key, value in net.state_dict().items():
        np.testing.assert_array_equal(value.numpy(), state[key])


def test_truncated_and_foreign_files_are_named(tmp_path):
    path = tmp_path / 'm.pdparams'
    paddle.save({'w': paddle.ones([64])}, str(path))
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(WeightsFormatError, match='m.pdparams: not a readable'):
        load_state_dict(str(path))
    path.write_text('hello')
    with pytest.raises(WeightsFormatError, match='m.pdparams'):
        load_state_dict(str(path))


# ---- every entry point refuses the crafted file and runs nothing -----------------------

def test_load_pretrained_weights_and_model_pretrained_refuse(crafted):
    path, marker = crafted
    with pytest.raises(UnsafeWeightsError) as info:
        load_pretrained_weights(core_plugin.CoreTestNet(), path)
    _assert_refused(str(info.value), path, marker)
    with pytest.raises(UnsafeWeightsError) as info:  # a folder holding the file, strictly
        load_pretrained_weights(core_plugin.CoreTestNet(), os.path.dirname(path), strict=True)
    _assert_refused(str(info.value), path, marker)


def test_config_model_pretrained_refuses(crafted):
    path, marker = crafted
    with pytest.raises(ValueError) as info:  # the config names the key it was building
        Built(Config(DEMO_CONFIG, opts=['model.backbone.pretrained=null',
                                        f'model.pretrained={path}'])).model
    _assert_refused(str(info.value), path, marker)


@pytest.mark.parametrize('tool', ['predict-dygraph', 'predict-inference', 'val', 'export'])
def test_model_path_refuses_in_every_command(crafted, tmp_path, tool, monkeypatch):
    path, marker = crafted
    monkeypatch.setenv('PADDLEMATTING_EXPORT_CACHE', str(tmp_path / 'cache'))
    write_png(str(tmp_path / 'in.png'), np.full((16, 16, 3), 90, np.uint8))
    common = ['--config', TINY_CONFIG, '--device', 'cpu', '--model_path', path,
              '--save_dir', str(tmp_path / 'out')]
    if tool.startswith('predict'):
        run = predict_cli.main
        argv = common + ['--image_path', str(tmp_path / 'in.png'),
                         '--backend', tool.split('-')[1]]
    elif tool == 'val':
        run, argv = val_cli.main, common + ['--backend', 'dygraph']
    else:
        run, argv = export_cli.main, common
    assert run(argv) == 2  # one line naming the file (see test_cli_errors)
    assert not marker.exists(), 'the pickle payload ran'
    assert not os.path.exists(tmp_path / 'out' / 'in_alpha.png')


@pytest.mark.parametrize('which', [checkpoint.MODEL_FILE, checkpoint.OPTIMIZER_FILE])
def test_resume_refuses_a_crafted_checkpoint_file(tmp_path, which):
    paddle.seed(0)
    net = core_plugin.CoreTestNet()
    opt = paddle.optimizer.Momentum(0.1, parameters=net.parameters())
    folder = checkpoint.save_checkpoint(str(tmp_path / 'run'), 2, net, opt, {'iteration': 2})
    marker = tmp_path / 'CODE_RAN'
    target = os.path.join(folder, which)
    original = load_state_dict(target)
    _write_crafted(target, marker, original)
    with pytest.raises(UnsafeWeightsError) as info:
        checkpoint.load_checkpoint(str(tmp_path / 'run'), net, opt)
    _assert_refused(str(info.value), target, marker)


def test_resume_of_a_clean_checkpoint_restores_optimizer_state(tmp_path):
    paddle.seed(0)
    net = core_plugin.CoreTestNet()
    opt = paddle.optimizer.Momentum(paddle.optimizer.lr.PiecewiseDecay([1], [0.5, 0.1]),
                                    momentum=0.9, parameters=net.parameters())
    net({'img': paddle.randn([2, 3, 16, 16])})['alpha'].mean().backward()
    opt.step()
    opt.clear_grad()
    opt._learning_rate.step()
    checkpoint.save_checkpoint(str(tmp_path / 'run'), 1, net, opt, {'iteration': 1})
    paddle.seed(5)
    net2 = core_plugin.CoreTestNet()
    sched2 = paddle.optimizer.lr.PiecewiseDecay([1], [0.5, 0.1])
    opt2 = paddle.optimizer.Momentum(sched2, momentum=0.9, parameters=net2.parameters())
    checkpoint.load_checkpoint(str(tmp_path / 'run'), net2, opt2)
    assert sched2.last_epoch == 1 and sched2() == pytest.approx(0.1)
    # paddle applies loaded moments at the next step: one more identical step on both
    batch = {'img': paddle.randn([2, 3, 16, 16])}
    for n, o in ((net, opt), (net2, opt2)):
        n(batch)['alpha'].mean().backward()
        o.step()
    for key, value in net.state_dict().items():
        np.testing.assert_array_equal(net2.state_dict()[key].numpy(), value.numpy(), err_msg=key)


def test_state_json_with_a_pickled_rng_state_is_refused_and_runs_nothing(tmp_path):
    import base64
    marker = tmp_path / 'CODE_RAN'
    state = capture_rng_state()
    state['paddle'] = base64.b64encode(pickle.dumps(_Payload(marker))).decode('ascii')
    text = json.loads(json.dumps(state))
    with pytest.raises(ValueError, match='pickle'):
        restore_rng_state(text)
    assert not marker.exists()


def test_a_folder_holding_model_safetensors_is_accepted(tmp_path):
    from safetensors.numpy import save_file
    state = _tiny_state()
    save_file(state, str(tmp_path / 'model.safetensors'))
    net = core_plugin.CoreTestNet()
    load_pretrained_weights(net, str(tmp_path), strict=True)
    np.testing.assert_array_equal(net.conv1.weight.numpy(), state['conv1.weight'])


# ---- crafted files that abuse numpy's dtype state, shared references, nesting, sizes ----

@pytest.mark.parametrize('name', sorted(CRAFTED))
def test_crafted_files_are_refused_in_one_line(tmp_path, name):
    data, expected = CRAFTED[name]
    path = tmp_path / f'{name}.pdparams'
    path.write_bytes(data)
    with pytest.raises(WeightsFormatError) as info:
        load_weights_file(str(path))
    text = str(info.value)
    assert text.startswith(str(path)) and expected in text and '\n' not in text, text
    assert len(text) < 600


@pytest.mark.parametrize('protocol', [0, 1, 2, 3, 4, 5])
def test_plain_pickles_of_arrays_load_at_every_protocol(tmp_path, protocol, rng):
    """numpy's own pickles (what any script's pickle.dump writes), big-endian and
    Fortran-ordered arrays included; protocol 5 uses numpy's _frombuffer."""
    state = {'f32': rng.standard_normal((3, 4)).astype(np.float32),
             'big_endian': np.arange(6, dtype='>i4').reshape(2, 3),
             'fortran': np.asfortranarray(rng.standard_normal((3, 2))),
             'f16': np.ones(5, np.float16), 'bool': np.array([True, False]),
             'c64': np.array([1 + 2j], np.complex64), 'empty': np.zeros((0, 3), np.float32),
             'scalar': np.float64(0.25), 'nested': {'list': [1, 2.5, 'x', None, b'raw']},
             'shared': (np.int64(7),) * 2, 'set': {1, 2}, 'long': 10 ** 30}
    path = tmp_path / 'p.pkl'
    with open(path, 'wb') as f:
        pickle.dump(state, f, protocol=protocol)
    got = load_weights_file(str(path))
    _same(got, state)
    assert got['big_endian'].dtype == np.int32 and got['big_endian'].dtype.isnative
    assert got['set'] == {1, 2} and got['long'] == 10 ** 30 and got['scalar'] == 0.25
    assert all(got[k].flags.writeable and got[k].flags.aligned for k in ('f32', 'fortran'))


def _split_param_file(path, parts, origin_shape):
    """A state dict with Paddle's big-parameter table joining ``parts`` into 'w'."""
    state = {f'w@@.{i}': part for i, part in enumerate(parts)}
    state['UnpackBigParamInfor@@'] = {'w': {'OriginShape': origin_shape,
                                            'slices': [f'w@@.{i}' for i in range(len(parts))]}}
    with open(path, 'wb') as f:
        pickle.dump(state, f, protocol=2)
    return str(path)


def test_split_parameters_are_joined_and_checked(tmp_path):
    whole = np.arange(12, dtype=np.float32)
    path = _split_param_file(tmp_path / 'ok.pdparams', [whole[:7], whole[7:]], (3, 4))
    got = load_weights_file(path)
    assert set(got) == {'w'}
    np.testing.assert_array_equal(got['w'], whole.reshape(3, 4))
    bad = _split_param_file(tmp_path / 'bad.pdparams', [whole[:7], whole[7:]], (4, 4))
    with pytest.raises(UnsafeWeightsError, match='hold 12 elements, but its shape'):
        load_weights_file(bad)
    mixed = _split_param_file(tmp_path / 'mixed.pdparams', [whole[:7], whole[7:].astype('f8')], (12,))
    with pytest.raises(UnsafeWeightsError, match='mixed dtypes'):
        load_weights_file(mixed)


@pytest.mark.parametrize('opcodes, expected', [
    (b'\x80\x02]2.', 'DUP'),                                  # DUP (a shared reference)
    (b'\x80\x02(cbuiltins\nobject\no.', "'builtins.object'"),     # OBJ with a refused class
    (b'\x80\x02ccollections\nOrderedDict\n)\x81.', 'NEWOBJ'),      # NEWOBJ of an allowed global
    (b'\x80\x02}}b.', 'BUILD'),                                    # BUILD on a plain dict
    (b'\x80\x02\x82\x01.', 'EXT1'),
    (b'\x80\x02X\x01\x00\x00\x00aQ.', 'persistent id'),
])
def test_opcodes_plain_data_never_needs_are_refused(tmp_path, opcodes, expected):
    path = tmp_path / 'x.pdparams'
    path.write_bytes(opcodes)
    with pytest.raises(UnsafeWeightsError, match=expected):
        load_weights_file(str(path))


def test_limits_follow_read_limits(tmp_path):
    """The same file passes the default limits and fails tighter ones, naming each limit."""
    path = tmp_path / 'm.pdparams'
    values = np.arange(1000, dtype=np.float32)
    with open(path, 'wb') as f:
        pickle.dump({'a': {'b': {'c': values}}, 'list': list(range(50))}, f, protocol=4)
    np.testing.assert_array_equal(load_weights_file(str(path))['a']['b']['c'], values)
    with pytest.raises(WeightsLimitError, match='more than 2 levels deep'):  # three dicts
        load_weights_file(str(path), ReadLimits(max_depth=2))
    with pytest.raises(WeightsLimitError, match='more than 40 objects'):
        load_weights_file(str(path), ReadLimits(max_nodes=40))
    big_endian = tmp_path / 'be.pdparams'
    with open(big_endian, 'wb') as f:
        pickle.dump({'w': values.astype('>f4')}, f, protocol=4)
    # converting the byte order decodes 4000 bytes beyond the file's own
    with pytest.raises(WeightsLimitError, match='converting the byte order'):
        load_weights_file(str(big_endian), ReadLimits(bytes_per_file_byte=0, bytes_slack=1000))

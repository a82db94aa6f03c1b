"""Issue 20's bad configs, flags and checkpoints through the commands: each gives exit 2 and
one error line naming the key (and the file or flag that set it), in bounded time and memory.

All runs are forks of one probe process (tests/cli_probe.py), each measured on its own.
"""
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import paddle
import pytest

import core_plugin
from conftest import REPO_ROOT, TEST_DATA_DIR, TESTS_DIR
from paddlematting import Config
from paddlematting.builders import Built
from paddlematting.engine.runtime import seed_everything
from paddlematting.engine.trainer import Trainer, TrainOptions
from paddlematting.utils.image_io import write_png

TINY_CONFIG = os.path.join(TEST_DATA_DIR, 'core_tiny.yml')
MODNET_CONFIG = os.path.join(REPO_ROOT, 'configs', 'modnet', 'modnet_mobilenetv2.yml')
RVM_CONFIG = os.path.join(REPO_ROOT, 'configs', 'rvm', 'rvm-mobilenetv3.yaml')
RUN_LIMIT_S = 120  # generous: a hang would be killed here and show as status -9
PEAK_RSS_LIMIT_MIB = 1024

LAUGHS = ''.join([f'_base_: {TINY_CONFIG}\n', '_l0: &a0 [' + ', '.join(['"lol"'] * 9) + ']\n'] +
                 [f'_l{i}: &a{i} [' + ', '.join([f'*a{i - 1}'] * 9) + ']\n' for i in range(1, 9)] +
                 ['model:\n  type: CoreTestNet\n  pretrained: *a8\n'])


def _train(save_dir, *extra, config=TINY_CONFIG):
    return 'train', ['--config', config, '--device', 'cpu', '--save_dir', str(save_dir), *extra]


def _checkpoint(folder):
    """A real iter_1 checkpoint of the tiny config; its state.json then says iter 10**30."""
    seed_everything(0)
    built = Built(Config(TINY_CONFIG))
    Trainer(built.model, built.optimizer, built.train_dataset,
            TrainOptions(iters=1, batch_size=4, save_dir=str(folder), seed=1),
            lr_scheduler=built.lr_scheduler).train()
    state_path = folder / 'iter_1' / 'state.json'
    state = json.loads(state_path.read_text())
    state['iter'] = 10 ** 30
    state_path.write_text(json.dumps(state))
    return str(folder / 'iter_1')


def _cases(root):
    """name -> (command, argv, the parts the error line must hold)."""
    (root / 'laughs.yml').write_text(LAUGHS)
    (root / 'deep.yml').write_text(f'_base_: {TINY_CONFIG}\n_notes: ' + '[' * 5000 + ']' * 5000)
    (root / 'inf.yml').write_text(f'_base_: {TINY_CONFIG}\nlr_scheduler:\n  type: PiecewiseDecay\n'
                                  f'  boundaries: [3]\n  values: [0.5, .inf]\n')
    (root / 'export.yml').write_text(f'_base_: {TINY_CONFIG}\nexport: [Normalize]\n')
    image = root / 'in.png'
    write_png(str(image), np.full((16, 16, 3), 90, np.uint8))
    predict = ['--device', 'cpu', '--backend', 'dygraph', '--image_path', str(image)]
    checkpoint = _checkpoint(root / 'checkpoint')
    return {
        'laughs': (*_train(root / 'o1', config=str(root / 'laughs.yml')),
                   ['laughs.yml', 'billion laughs']),
        'deep_yaml': (*_train(root / 'o2', config=str(root / 'deep.yml')),
                      ['deep.yml', 'nested too deeply']),
        'lr_nan': (*_train(root / 'o3', '--learning_rate', 'nan'),
                   ['--learning_rate', '"lr_scheduler.values[0]" is nan', 'finite']),
        'values_inf': (*_train(root / 'o4', config=str(root / 'inf.yml')),
                       ['inf.yml', '"lr_scheduler.values[1]" is inf']),
        'opts_iters': (*_train(root / 'o5', '--opts', 'iters=-1'),
                       ['--opts iters=-1 (on ', 'core_tiny.yml', '"iters" must be a positive']),
        'flag_iters': (*_train(root / 'o6', '--iters', '0'), ['--iters (on ', '"iters"']),
        'opts_batch_nan': (*_train(root / 'o7', '--opts', 'batch_size=.nan'),
                           ['--opts batch_size=.nan', '"batch_size"']),
        'export_section': (*_train(root / 'o8', config=str(root / 'export.yml')),
                           ['export.yml', 'key "export" must be a mapping']),
        'nan_loss': (*_train(root / 'o9', '--iters', '6', '--save_interval', '2', '--opts',
                             'model.nan_loss_at=3'),
                     ['Training stopped at iter 3', 'not finite', 'iter_2']),
        'state_iter': (*_train(root / 'o10', '--resume_model', checkpoint, '--iters', '3'),
                       ['iter_1/state.json', '"iter"', '1000000000']),
        'hr_channels': ('predict', ['--config', MODNET_CONFIG, *predict, '--save_dir',
                                    str(root / 'o11'), '--allow_random_weights', '--opts',
                                    'model.hr_channels=100000', 'model.backbone.pretrained=null'],
                        ['--opts model.hr_channels=100000', 'model.hr_channels=100000 (default 32)',
                         'parameters']),
        'no_weights': ('predict', ['--config', TINY_CONFIG, *predict, '--save_dir',
                                   str(root / 'o12')],
                       ['no trained weights for CoreTestNet', '--model_path',
                        '--allow_random_weights']),
        'rvm_val': ('val', ['--config', RVM_CONFIG, '--device', 'cpu', '--save_dir',
                            str(root / 'o13')], ['"val_dataset.type" is missing']),
        'rvm_train': (*_train(root / 'o14', config=RVM_CONFIG),
                      ['RVM cannot be trained', 'no training loss']),
    }


@pytest.fixture(scope='module')
def results(tmp_path_factory):
    root = tmp_path_factory.mktemp('one_line')
    cases = _cases(root)
    runs = [{'name': name, 'command': command, 'argv': argv}
            for name, (command, argv, _) in cases.items()]
    spec = root / 'spec.json'
    spec.write_text(json.dumps({'timeout': RUN_LIMIT_S, 'runs': runs}))
    env = dict(os.environ, OMP_NUM_THREADS='1', PADDLEMATTING_HOME=str(root / 'cache'))
    done = subprocess.run([sys.executable, os.path.join(TESTS_DIR, 'cli_probe.py'), str(spec)],
                          capture_output=True, text=True, env=env,
                          timeout=RUN_LIMIT_S * len(runs) + 120)
    assert done.returncode == 0, done.stderr[-3000:]
    return {r['name']: r for r in json.loads(done.stdout)}, cases, root


CASE_NAMES = ['laughs', 'deep_yaml', 'lr_nan', 'values_inf', 'opts_iters', 'flag_iters',
              'opts_batch_nan', 'export_section', 'nan_loss', 'state_iter', 'hr_channels',
              'no_weights', 'rvm_val', 'rvm_train']


@pytest.mark.parametrize('name', CASE_NAMES)
def test_each_bad_input_is_one_error_line_naming_the_key(results, name):
    by_name, cases, _ = results
    result, expected = by_name[name], cases[name][2]
    errors = [line for line in result['stderr'].splitlines() if ' ERROR ' in line]
    assert result['status'] == 2, result['stderr'][-3000:]
    assert len(errors) == 1 and 'Traceback' not in result['stderr'], result['stderr'][-3000:]
    for part in expected:
        assert part in errors[0], errors[0]
    assert len(errors[0]) < 700, errors[0]  # values shown cut short
    assert result['peak_rss_mib'] < PEAK_RSS_LIMIT_MIB, result


def test_the_non_finite_loss_kept_the_last_good_checkpoint(results):
    _, _, root = results
    save_dir = root / 'o9'
    assert sorted(n for n in os.listdir(save_dir) if n.startswith('iter_')) == ['iter_2']
    assert (save_dir / 'latest').read_text().strip() == 'iter_2'


def test_a_cut_off_exported_model_is_one_line_in_infer(tmp_path):
    from paddlematting.inference import export_model
    from paddlematting.inference.export import config_inference_transforms
    cfg = Config(TINY_CONFIG)
    folder = export_model(Built(cfg).model, str(tmp_path / 'exported'),
                          config_inference_transforms(cfg))
    params = os.path.join(folder, 'model.pdiparams')
    with open(params, 'rb') as f:
        data = f.read()
    with open(params, 'wb') as f:
        f.write(data[:len(data) // 2])
    write_png(str(tmp_path / 'in.png'), np.full((16, 16, 3), 90, np.uint8))
    done = subprocess.run([sys.executable, os.path.join(REPO_ROOT, 'deploy', 'python', 'infer.py'),
                           '--model_dir', folder, '--image_path', str(tmp_path / 'in.png'),
                           '--save_dir', str(tmp_path / 'out'), '--backend', 'paddle_inference'],
                          capture_output=True, text=True, timeout=300,
                          env=dict(os.environ, OMP_NUM_THREADS='1'))
    errors = [line for line in done.stderr.splitlines() if ' ERROR ' in line]
    assert done.returncode == 2 and 'Traceback' not in done.stderr, done.stderr[-3000:]
    assert len(errors) == 1 and 'model.pdiparams' in errors[0] and 'cannot be loaded' in errors[0]

"""Issue 20's crafted weights files through every command and the download check: each run
exits 2 with one error line naming the file and what is wrong, within 60 s and 1 GiB.

All runs are forks of one probe process (tests/cli_probe.py: one Python start for all), each
measured on its own: exit status, stderr, peak RSS (the child's ``ru_maxrss``), time. The
download runs fetch the file from a server on 127.0.0.1 and must leave the cache empty.
"""
import json
import os
import shutil
import subprocess
import sys
import tarfile

import numpy as np
import paddle
import pytest

import core_plugin
from conftest import TEST_DATA_DIR, TESTS_DIR
from crafted_weights import ACCEPTANCE_CASES, CRAFTED, write_crafted
from local_http_server import serve_folder
from paddlematting.utils.image_io import write_png

TINY_CONFIG = os.path.join(TEST_DATA_DIR, 'core_tiny.yml')
RUN_LIMIT_S = 60
PEAK_RSS_LIMIT_MIB = 1024
# 'download': predict of the file's URL; 'archive': predict of a .tar.gz URL holding it
COMMANDS = ['predict', 'val', 'export', 'train', 'download', 'archive']


def _argv(command, weights, folder):
    """The command line of one run; ``weights`` is a path (a URL for 'download')."""
    out = os.path.join(folder, 'out')
    common = ['--config', TINY_CONFIG, '--device', 'cpu']
    if command in ('predict', 'download', 'archive'):
        return 'predict', common + ['--model_path', weights, '--image_path',
                                    os.path.join(folder, 'in.png'), '--save_dir', out,
                                    '--backend', 'dygraph']
    if command == 'val':
        return 'val', common + ['--model_path', weights, '--save_dir', out, '--backend', 'dygraph']
    if command == 'export':
        return 'export', ['--config', TINY_CONFIG, '--model_path', weights, '--save_dir', out]
    checkpoint = os.path.join(folder, 'checkpoint', 'iter_1')  # train --resume_model
    os.makedirs(checkpoint)
    shutil.copy(weights, os.path.join(checkpoint, 'model.pdparams'))
    return 'train', common + ['--save_dir', out, '--resume_model', checkpoint, '--iters', '2']


def _model_state_as_pdopt(folder):
    """A checkpoint whose model.pdopt is a copy of its model.pdparams."""
    checkpoint = os.path.join(folder, 'iter_1')
    os.makedirs(checkpoint)
    paddle.seed(0)
    paddle.save(core_plugin.CoreTestNet().state_dict(), os.path.join(checkpoint, 'model.pdparams'))
    shutil.copy(os.path.join(checkpoint, 'model.pdparams'), os.path.join(checkpoint, 'model.pdopt'))
    return checkpoint


@pytest.fixture(scope='module')
def results(tmp_path_factory):
    """name -> result of every run (see tests/cli_probe.py), and where each put its cache."""
    root = tmp_path_factory.mktemp('crafted_cli')
    www = root / 'www'
    www.mkdir()
    paths = write_crafted(str(www))
    for case, path in paths.items():
        with tarfile.open(str(www / f'{case}.tar.gz'), 'w:gz') as tf:
            tf.add(path, arcname=f'{case}/model.pdparams')
    runs = []
    with serve_folder(str(www)) as (base_url, _):
        for case in ACCEPTANCE_CASES:
            for command in COMMANDS:
                folder = root / f'{case}-{command}'
                folder.mkdir()
                write_png(str(folder / 'in.png'), np.full((16, 16, 3), 90, np.uint8))
                weights = {'download': f'{base_url}/{case}.pdparams',
                           'archive': f'{base_url}/{case}.tar.gz'}.get(command, paths[case])
                name, argv = _argv(command, weights, str(folder))
                runs.append({'name': f'{case}-{command}', 'command': name, 'argv': argv})
        checkpoint = _model_state_as_pdopt(str(root / 'pdopt'))
        runs.append({'name': 'pdopt-train', 'command': 'train',
                     'argv': ['--config', TINY_CONFIG, '--device', 'cpu', '--save_dir',
                              str(root / 'pdopt' / 'out'), '--resume_model', checkpoint]})
        spec = root / 'spec.json'
        spec.write_text(json.dumps({'timeout': RUN_LIMIT_S, 'runs': runs}))
        env = dict(os.environ, OMP_NUM_THREADS='1', PADDLEMATTING_HOME=str(root / 'cache'),
                   PADDLEMATTING_ALLOW_HTTP='1', PADDLEMATTING_EXPORT_CACHE=str(root / 'exports'),
                   no_proxy='127.0.0.1')
        for var in ('http_proxy', 'https_proxy', 'HTTP_PROXY', 'HTTPS_PROXY', 'all_proxy', 'ALL_PROXY'):
            env.pop(var, None)
        done = subprocess.run([sys.executable, os.path.join(TESTS_DIR, 'cli_probe.py'), str(spec)],
                              capture_output=True, text=True, env=env,
                              timeout=RUN_LIMIT_S * len(runs) + 120)
    assert done.returncode == 0, done.stderr[-3000:]
    return {r['name']: r for r in json.loads(done.stdout)}, root


def _check_one_line_refusal(result, expected_parts):
    errors = [line for line in result['stderr'].splitlines() if ' ERROR ' in line]
    assert result['status'] == 2, result['stderr'][-3000:]
    assert len(errors) == 1 and 'Traceback' not in result['stderr'], result['stderr'][-3000:]
    for part in expected_parts:
        assert part in errors[0], errors[0]
    assert result['seconds'] < RUN_LIMIT_S  # the generous limit of the acceptance
    assert result['peak_rss_mib'] < PEAK_RSS_LIMIT_MIB, result


@pytest.mark.parametrize('command', COMMANDS)
@pytest.mark.parametrize('case', ACCEPTANCE_CASES)
def test_crafted_weights_are_refused_in_one_line(results, case, command):
    by_name, root = results
    named = {'train': 'iter_1/model.pdparams',
             'archive': f'{case}.tar.gz'}.get(command, f'{case}.pdparams')
    expected = [named, CRAFTED[case][1]]
    _check_one_line_refusal(by_name[f'{case}-{command}'], expected)
    assert not os.path.exists(root / f'{case}-{command}' / 'out' / 'in_alpha.png')
    if command in ('download', 'archive'):  # checked before anything entered the cache
        cache = root / 'cache'
        assert not cache.exists() or os.listdir(cache) == []


def test_a_model_state_dict_as_pdopt_is_refused_in_one_line(results):
    by_name, _ = results
    _check_one_line_refusal(by_name['pdopt-train'], ['model.pdopt', 'not an optimizer state'])

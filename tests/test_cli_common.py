"""The shared CLI pieces: input flags, export's --device, and when the inference backend falls
back to dygraph."""
import argparse
import os

import paddle
import pytest

import core_plugin  # noqa: F401  (registers CoreTestSet / CoreTestNet)
from conftest import TEST_DATA_DIR
from paddlematting import Config
from paddlematting.cli import common
from paddlematting.cli import export as export_cli
from paddlematting.cli import predict as predict_cli
from paddlematting.cli import train as train_cli
from paddlematting.config import manager

TINY_CONFIG = os.path.join(TEST_DATA_DIR, 'core_tiny.yml')


def test_prediction_input_flags_are_shared():
    parser = argparse.ArgumentParser()
    common.add_prediction_input_args(parser)
    args = parser.parse_args(['--image_path', 'a.png', '--trimap_path', 't.png',
                              '--background', '#00b140'])
    assert (args.image_path, args.trimap_path, args.background) == ('a.png', 't.png', '#00b140')
    predict_args = predict_cli.parse_args(['--config', TINY_CONFIG, '--image_path', 'a.png'])
    assert predict_args.trimap_path is None and predict_args.background is None


def test_export_takes_the_shared_config_flags_and_device():
    args = export_cli.parse_args(['--config', TINY_CONFIG, '--device', 'cpu', '--opts', 'iters=2'])
    assert (args.device, args.opts) == ('cpu', ['iters=2'])


@pytest.mark.parametrize('error', [ImportError('no paddle.inference'),
                                   RuntimeError('no kernel for this op'),
                                   OSError('read-only cache')])
def test_inference_unavailable_falls_back_to_dygraph_and_says_why(error, records, monkeypatch):
    def unavailable(*args):
        raise error

    monkeypatch.setattr(common, '_inference_runner', unavailable)
    _, used = common.build_runner(Config(TINY_CONFIG), None, 'cpu', 'inference')
    assert used == 'dygraph'
    warnings = [m for m in records if 'falling back' in m]
    assert len(warnings) == 1 and str(error) in warnings[0]


def test_an_export_bug_is_raised_not_hidden_behind_the_fallback(monkeypatch):
    def export_bug(*args):
        raise ValueError('Function: forward does not exist in the transformed module')

    monkeypatch.setattr(common, '_inference_runner', export_bug)
    with pytest.raises(ValueError, match='forward does not exist'):
        common.build_runner(Config(TINY_CONFIG), None, 'cpu', 'inference')


@manager.MODELS.add_component
class DeclaredSolver(paddle.nn.Layer):
    """A parameter-free model that declares it can be neither trained nor exported."""
    input_names = ('img', 'trimap')
    trainable = False
    exportable = False

    def forward(self, inputs):
        return inputs['trimap'] / 255.0


def test_commands_follow_the_model_declaration(tmp_path, records):
    config = tmp_path / 'solver.yml'
    config.write_text('iters: 2\nmodel: {type: DeclaredSolver}\n')
    # one line each and exit 2 (the commands report their own errors)
    assert train_cli.main(['--config', str(config), '--device', 'cpu',
                           '--save_dir', str(tmp_path / 'train')]) == common.EXIT_BAD_INPUTS
    assert export_cli.main(['--config', str(config), '--device', 'cpu',
                            '--save_dir', str(tmp_path / 'export')]) == common.EXIT_BAD_INPUTS
    assert any('trainable = False' in m for m in records)
    assert any('exportable = False' in m for m in records)
    assert not (tmp_path / 'export').exists()
    # predict asks for the declared trimap before anything is built
    assert predict_cli.main(['--config', str(config), '--device', 'cpu', '--image_path',
                             str(tmp_path)]) == common.EXIT_BAD_INPUTS
    # val/predict with the inference backend run it in dygraph instead
    runner, backend = common.build_runner(Config(str(config)), None, 'cpu', 'inference')
    assert backend == 'dygraph'
    assert any('cannot be exported' in m for m in records)


@pytest.mark.parametrize('parse,flags,message', [
    (train_cli.parse_args, ['--seed', str(10 ** 30)], '--seed: must be an integer from 0 to 2**64 - 1'),
    (train_cli.parse_args, ['--seed', '-1'], '--seed: must be an integer from 0 to 2**64 - 1, got -1'),
    (train_cli.parse_args, ['--num_workers', '-1'], '--num_workers: must be an integer from 0 to 1024'),
    (train_cli.parse_args, ['--save_interval', '0'], '--save_interval: must be an integer from 1'),
    (train_cli.parse_args, ['--log_iters', 'ten'], "--log_iters: expected an integer, got 'ten'"),
    (train_cli.parse_args, ['--eval_begin_iters', '-3'], '--eval_begin_iters: must be'),
    (predict_cli.parse_args, ['--image_path', 'a.png', '--batch_size', '0'],
     '--batch_size: must be an integer from 1 to 4096, got 0'),
])
def test_an_integer_flag_out_of_range_is_one_usage_line(parse, flags, message, capsys):
    with pytest.raises(SystemExit) as caught:
        parse(['--config', TINY_CONFIG, *flags])
    assert caught.value.code == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert 'error: argument ' + message in error, error


def test_integer_flags_in_range_are_taken():
    args = train_cli.parse_args(['--config', TINY_CONFIG, '--seed', str(2 ** 64 - 1),
                                 '--num_workers', '0', '--save_interval', '1'])
    assert (args.seed, args.num_workers, args.save_interval) == (2 ** 64 - 1, 0, 1)

"""predict.py's exit codes (2 when the inputs or --background are unusable, 1 when some images
fail) and its composites on --background."""
import os

import numpy as np
import pytest

import core_plugin  # noqa: F401  (registers CoreTestSet / CoreTestNet)
from conftest import TEST_DATA_DIR
from paddlematting.cli import predict as predict_cli
from paddlematting.pipeline.outputs import composite, cutout_foreground
from paddlematting.utils.image_io import read_alpha, read_image, write_png
from paddlematting.builders import Built
from paddlematting.predict.output_record import RECORD_NAME

TINY_CONFIG = os.path.join(TEST_DATA_DIR, 'core_tiny.yml')


def _predict(tmp_path, *args):
    return predict_cli.main(['--config', TINY_CONFIG, '--device', 'cpu', '--backend', 'dygraph',
                             '--save_dir', str(tmp_path / 'out'), '--allow_random_weights', *args])


def test_a_missing_image_path_exits_2_with_one_line(tmp_path, records):
    missing = str(tmp_path / 'nowhere')
    assert _predict(tmp_path, '--image_path', missing) == predict_cli.EXIT_BAD_INPUTS == 2
    errors = [m for m in records if missing in m]
    assert len(errors) == 1 and 'does not exist' in errors[0]
    assert not os.path.exists(tmp_path / 'out')


def test_a_trimap_count_mismatch_exits_2(tmp_path, records):
    for name in ('x.png', 'y.png'):
        write_png(str(tmp_path / name), np.zeros((8, 8, 3), np.uint8))
    (tmp_path / 'images.txt').write_text('x.png\ny.png\n')
    (tmp_path / 'trimaps.txt').write_text('x.png\n')
    code = _predict(tmp_path, '--image_path', str(tmp_path / 'images.txt'), '--trimap_path',
                    str(tmp_path / 'trimaps.txt'))
    assert code == 2
    assert any('1 trimaps for 2 images' in m for m in records)


def test_an_unreadable_image_exits_1_and_the_others_are_written(tmp_path):
    write_png(str(tmp_path / 'in' / 'good.png'), np.full((16, 16, 3), 50, np.uint8))
    (tmp_path / 'in' / 'bad.png').write_bytes(b'not an image')
    assert _predict(tmp_path, '--image_path', str(tmp_path / 'in')) == 1
    assert os.path.isfile(tmp_path / 'out' / 'good_alpha.png')
    assert not os.path.exists(tmp_path / 'out' / 'good_composite.png')  # no --background given


@pytest.mark.parametrize('spec, expected', [
    ('#12gg00', "--background '#12gg00' is not a colour: expected #RRGGBB"),
    ('0,300,0', "--background '0,300,0' is not a colour"),
    ('bg.png', 'bg.png: cannot decode this file as an image'),  # written below as junk
])
def test_an_unusable_background_exits_2_before_any_image_is_read(tmp_path, records, monkeypatch,
                                                                  spec, expected):
    write_png(str(tmp_path / 'in' / 'good.png'), np.full((16, 16, 3), 50, np.uint8))
    (tmp_path / 'bg.png').write_bytes(b'not an image')
    monkeypatch.chdir(tmp_path)

    def no_runner(*args, **kwargs):
        raise AssertionError('the runner must not be built when --background is unusable')

    monkeypatch.setattr(predict_cli, 'build_runner', no_runner)
    code = _predict(tmp_path, '--image_path', str(tmp_path / 'in'), '--background', spec)
    assert code == predict_cli.EXIT_BAD_INPUTS == 2
    errors = [m for m in records if '--background' in m]
    assert len(errors) == 1 and expected in errors[0]
    assert not os.path.exists(tmp_path / 'out')


def test_a_background_image_adds_a_composite_of_the_written_alpha(tmp_path):
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (16, 20, 3), dtype=np.uint8)
    background = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)  # smaller: scaled up
    write_png(str(tmp_path / 'in' / 'sub' / 'p.png'), image)
    write_png(str(tmp_path / 'bg.png'), background)
    assert _predict(tmp_path, '--image_path', str(tmp_path / 'in'),
                    '--background', str(tmp_path / 'bg.png')) == 0
    out = tmp_path / 'out' / 'sub'
    alpha = read_alpha(str(out / 'p_alpha.png'))
    written = read_image(str(out / 'p_composite.png'))
    assert written.shape == image.shape
    # the cut-out's colours are the estimated foreground (blur fusion by default)
    np.testing.assert_array_equal(written, composite(cutout_foreground(image, alpha), alpha, background))


def test_paddleseg_save_names_write_the_matte_as_name_png(tmp_path):
    os.makedirs(tmp_path / 'in')
    write_png(str(tmp_path / 'in' / 'a.png'), np.full((16, 16, 3), 90, np.uint8))
    write_png(str(tmp_path / 'in' / 'b.jpg.png'), np.full((16, 16, 3), 30, np.uint8))
    import paddle
    from paddlematting import Config
    weights = str(tmp_path / 'w.pdparams')
    paddle.save(Built(Config(TINY_CONFIG)).model.state_dict(), weights)  # the same weights for both runs
    common = ['--config', TINY_CONFIG, '--device', 'cpu', '--backend', 'dygraph',
              '--image_path', str(tmp_path / 'in'), '--model_path', weights]
    assert predict_cli.main(common + ['--save_dir', str(tmp_path / 'ours')]) == 0
    assert predict_cli.main(common + ['--save_dir', str(tmp_path / 'ps'),
                                      '--save_names', 'paddleseg']) == 0
    assert sorted(os.listdir(tmp_path / 'ps')) == [RECORD_NAME, 'a.png', 'a_rgba.png', 'b.jpg.png',
                                                  'b.jpg_rgba.png']
    # the same matte under PaddleSeg's name
    np.testing.assert_array_equal(read_alpha(str(tmp_path / 'ps' / 'a.png')),
                                  read_alpha(str(tmp_path / 'ours' / 'a_alpha.png')))
    # into the input folder the mattes would overwrite the photos: they are named apart
    before = read_image(str(tmp_path / 'in' / 'a.png'))
    assert predict_cli.main(common + ['--save_dir', str(tmp_path / 'in'),
                                      '--save_names', 'paddleseg']) == 0
    np.testing.assert_array_equal(read_image(str(tmp_path / 'in' / 'a.png')), before)
    np.testing.assert_array_equal(read_alpha(str(tmp_path / 'in' / 'a-2.png')),
                                  read_alpha(str(tmp_path / 'ours' / 'a_alpha.png')))


def test_precision_bf16_is_refused_in_one_line_before_any_export(tmp_path, records,
                                                                  monkeypatch):
    from paddlematting.inference import precision
    monkeypatch.setattr(precision, 'cpu_flags', lambda path=None: frozenset({'avx2'}))
    monkeypatch.setenv('PADDLEMATTING_EXPORT_CACHE', str(tmp_path / 'cache'))
    image = tmp_path / 'in.png'
    write_png(str(image), np.full((16, 16, 3), 90, np.uint8))
    argv = ['--config', TINY_CONFIG, '--device', 'cpu', '--save_dir', str(tmp_path / 'out'),
            '--allow_random_weights', '--image_path', str(image), '--precision', 'bf16']
    assert predict_cli.main(argv) == 2
    assert [m for m in records if 'bf16' in m] == [
        '--precision bf16 needs a CPU with bfloat16 instructions (avx512_bf16 or amx_bf16 in '
        '/proc/cpuinfo), and this one reports neither; use --precision fp32.']
    assert not (tmp_path / 'cache').exists()  # refused before the export
    monkeypatch.setattr(precision, 'cpu_flags', lambda path=None: frozenset({'amx_bf16'}))
    assert predict_cli.main(argv + ['--backend', 'dygraph']) == 2
    assert any('--precision bf16 runs the exported model; the dygraph backend runs fp32' in m
               for m in records)

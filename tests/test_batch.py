"""The Ray Data batch job on a local Ray (2 CPUs): the shipped photos plus 200 generated small
images and 3 broken files. Every good image's files equal predict.py's (``predict_images`` on
the same inputs and weights) byte for byte; the broken ones are in the manifest with their
error; a second run writes nothing; a job killed halfway (SIGKILL) finishes on a rerun."""
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import paddle
import pyarrow.parquet as pq
import pytest
import ray

from conftest import REAL_DATA_ROOT, REPO_ROOT
from paddlematting.batch import MANIFEST_NAME, BatchOptions, run_batch
from paddlematting.batch.sources import list_inputs
from paddlematting.builders import build_val_transforms
from paddlematting.builders.model import build_model
from paddlematting.cli import batch as batch_cli
from paddlematting.config import Config
from paddlematting.pipeline.runner import dygraph_runner
from paddlematting.predict import PredictOptions
from paddlematting.predict.images import predict_images
from paddlematting.predict.input_collection import collect_inputs
from paddlematting.utils.image_io import write_png

GENERATED = 200
BROKEN = {'broken/empty.png': b'', 'broken/text.jpg': b'not an image at all',
          'broken/cut.png': None}  # None: the first half of a real PNG
# MODNet (MobileNetV2) with small inputs: a real network through the real predict path, fast
TINY_MODNET = f"""_base_: {os.path.join(REPO_ROOT, 'configs', 'modnet', 'modnet_mobilenetv2.yml')}
val_dataset:
  transforms:
    - type: LoadImages
    - type: ResizeByShort
      short_size: 64
    - type: ResizeToIntMult
      mult_int: 32
    - type: Normalize
model:
  type: MODNet
  backbone:
    type: MobileNetV2
    pretrained: null
  pretrained: null
"""
# the killed job is stopped once this many mattes exist (of 206)
KILL_AFTER = 30
DEADLINE_S = 600


def _write_inputs(folder: str) -> None:
    shutil.copytree(os.path.join(REAL_DATA_ROOT, 'val', 'fg'), os.path.join(folder, 'shipped'))
    rng = np.random.default_rng(24)
    for i in range(GENERATED):
        size = (int(rng.integers(16, 48)), int(rng.integers(16, 48)), 3)
        write_png(os.path.join(folder, 'generated', f'g{i // 50}', f'{i:03d}.png'),
                  rng.integers(0, 256, size, dtype=np.uint8))
    _made(os.path.join(folder, 'broken'))
    png = open(os.path.join(folder, 'generated', 'g0', '000.png'), 'rb').read()
    for rel, data in BROKEN.items():
        with open(os.path.join(folder, rel), 'wb') as f:
            f.write(png[:len(png) // 2] if data is None else data)


def _made(folder: str) -> str:
    os.makedirs(folder, exist_ok=True)
    return folder


def _files(folder: str) -> dict:
    """Relative path -> bytes of every output file (the manifest and temporaries aside)."""
    found = {}
    for root, _, names in os.walk(folder):
        for name in names:
            if name != MANIFEST_NAME and not name.startswith('.'):
                path = os.path.join(root, name)
                with open(path, 'rb') as f:
                    found[os.path.relpath(path, folder)] = f.read()
    return found


@pytest.fixture(scope='module')
def setup(tmp_path_factory):
    """Inputs, a config and deterministic weights, predict.py's outputs, and a local Ray."""
    root = tmp_path_factory.mktemp('batch')
    inputs = _made(str(root / 'in'))
    _write_inputs(inputs)
    config = str(root / 'tiny_modnet.yml')
    with open(config, 'w') as f:
        f.write(TINY_MODNET)
    paddle.seed(24)
    model = build_model(Config(config))
    weights = str(root / 'weights.pdparams')
    paddle.save(model.state_dict(), weights)
    model.eval()
    reference = str(root / 'predict')
    predicted = predict_images(dygraph_runner(model), build_val_transforms(Config(config)),
                               collect_inputs(inputs), reference, PredictOptions(show_progress=False))
    assert len(predicted.failed) == len(BROKEN)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield {'root': root, 'inputs': inputs, 'config': config, 'weights': weights,
           'reference': _files(reference)}
    ray.shutdown()


def _options(setup, output: str) -> BatchOptions:
    return BatchOptions(input=setup['inputs'], output=output, model=setup['config'],
                        weights=setup['weights'], concurrency=2, batch_size=8,
                        show_progress=False)


@pytest.fixture(scope='module')
def first_run(setup):
    output = str(setup['root'] / 'job')
    return output, run_batch(_options(setup, output))


def _manifest(output: str) -> dict:
    rows = pq.read_table(os.path.join(output, MANIFEST_NAME)).to_pylist()
    return {os.path.relpath(row['input'], os.path.dirname(output) + '/in'): row for row in rows}


def test_every_good_image_equals_predict_and_broken_ones_are_listed(setup, first_run):
    output, summary = first_run
    good = len(os.listdir(os.path.join(REAL_DATA_ROOT, 'val', 'fg'))) + GENERATED
    assert (summary.written, summary.skipped, summary.failed) == (good, 0, len(BROKEN))
    files = _files(output)
    assert len(files) == 2 * good  # NAME_alpha.png and NAME_rgba.png
    assert sorted(files) == sorted(setup['reference'])
    assert all(files[name] == setup['reference'][name] for name in files)  # byte for byte
    manifest = _manifest(output)
    assert len(manifest) == good + len(BROKEN)
    errors = {rel: row['error'] for rel, row in manifest.items() if row['status'] == 'error'}
    assert sorted(errors) == sorted(BROKEN)
    for rel, error in errors.items():
        assert rel in error and ('decode' in error or 'truncated' in error or 'cut off' in error), error
    ok = manifest['shipped/GT05.png']
    assert ok['status'] == 'ok' and ok['error'] is None
    assert ok['outputs'] == [os.path.join(output, 'shipped', f'GT05_{kind}.png')
                             for kind in ('alpha', 'rgba')]


def test_a_second_run_writes_nothing_new(setup, first_run):
    output, _ = first_run
    before = {name: os.stat(os.path.join(output, name)).st_mtime_ns for name in _files(output)}
    summary = run_batch(_options(setup, output))
    good = len(before) // 2
    assert (summary.written, summary.skipped, summary.failed) == (0, good, len(BROKEN))
    after = {name: os.stat(os.path.join(output, name)).st_mtime_ns for name in _files(output)}
    assert after == before
    statuses = [row['status'] for row in _manifest(output).values()]
    assert statuses.count('skipped') == good and statuses.count('error') == len(BROKEN)


def _alphas(folder: str) -> int:
    return sum(name.endswith('_alpha.png') for _, _, names in os.walk(folder) for name in names)


def test_a_job_killed_halfway_finishes_on_a_rerun(setup):
    output = str(setup['root'] / 'killed')
    command = [sys.executable, '-m', 'paddlematting.cli.main', 'batch', '--input',
               setup['inputs'], '--output', output, '--model', setup['config'], '--weights',
               setup['weights'], '--concurrency', '2', '--batch-size', '4']
    job = subprocess.Popen(command, env=dict(os.environ, OMP_NUM_THREADS='1'),
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           start_new_session=True)  # its local Ray shares its process group
    try:
        deadline = time.monotonic() + DEADLINE_S
        while _alphas(output) < KILL_AFTER and job.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert job.poll() is None, 'the job ended before it could be killed'
    finally:
        os.killpg(job.pid, signal.SIGKILL)
        job.wait()
    assert not os.path.exists(os.path.join(output, MANIFEST_NAME))  # it did not finish
    done_before = _alphas(output)
    summary = run_batch(_options(setup, output))
    assert summary.skipped >= done_before >= KILL_AFTER
    assert summary.written + summary.skipped == len(setup['reference']) // 2
    files = _files(output)
    assert sorted(files) == sorted(setup['reference'])
    assert all(files[name] == setup['reference'][name] for name in files)


def test_a_uri_source_names_inputs_as_a_folder_does(setup):
    local = {'file://' + i.path: i.output_name for i in list_inputs(setup['inputs'])}
    by_uri = {i.path: i.output_name for i in list_inputs('file://' + setup['inputs'])}
    assert by_uri == local and len(local) == 6 + GENERATED + len(BROKEN)


def test_an_unknown_model_exits_2_with_one_line_before_any_work(setup, tmp_path, records):
    code = batch_cli.main(['--input', setup['inputs'], '--output', str(tmp_path / 'out'),
                           '--model', 'modnet-mobilenetv9'])
    assert code == 2
    lines = [m for m in records if 'modnet-mobilenetv9' in m]
    assert len(lines) == 1 and 'did you mean' in lines[0]
    assert os.listdir(tmp_path / 'out') == []

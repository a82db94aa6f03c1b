"""The CLIs' stderr filter drops exactly the known third-party lines."""
import os
import subprocess
import sys

from conftest import REPO_ROOT
from paddlematting.utils.stderr_filter import is_noise

_CHILD = r'''
import os, sys, time
from paddlematting.utils import stderr_filter
stderr_filter.install()
os.write(2, b"libpng warning: iCCP: known incorrect sRGB profile\n")          # C level
print("WARNING: OMP_NUM_THREADS set to 2, not 1. The computation speed will not be optimized "
      "if you use data parallel.", file=sys.stderr)
print("PLEASE USE OMP_NUM_THREADS WISELY.", file=sys.stderr)
os.write(2, b"I1130 06:00:00.0 pir.cc:1] Paddle static graph(PIR) not support input out tensor for now!!!!!\n")
print("x.py:1: UserWarning: No ccache found. Please be aware", file=sys.stderr)
print("  warnings.warn(warning_message)", file=sys.stderr)
print("our own line", file=sys.stderr)
sys.stderr.write("\rprogress 1/2"); sys.stderr.flush(); time.sleep(0.3)
os.write(2, b"\rprogress 2/2\n")
print("  warnings.warn(kept, since no dropped warning precedes it)", file=sys.stderr)
print("x.py:2: UserWarning: Value do not have 'place' interface for pir graph mode, try not")
print("  warnings.warn(")
print("stdout untouched")
os.write(1, b"ReduceMeanCheckIfOneDNNSupport\n" * 14)                   # C++ std::cout
for line in ("PERFORMANCE WARNING:",                                      # pymatting's print
             "Thresholded incomplete Cholesky decomposition failed due to insufficient "
             "positive-definiteness of matrix A with parameters:",
             "    discard_threshold = 1.000000e-04", "    shift = 0.000000e+00",
             "Try decreasing discard_threshold or start with a larger shift", ""):
    print(line)
print("")
print("    shift = 1 (kept: no pymatting block before it)")
'''


def test_known_noise_is_dropped_and_everything_else_kept_in_order():
    done = subprocess.run([sys.executable, '-c', _CHILD], capture_output=True,
                          cwd=REPO_ROOT, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout == b'stdout untouched\n\n    shift = 1 (kept: no pymatting block before it)\n'
    assert done.stderr == (b'our own line\n\rprogress 1/2\rprogress 2/2\n'
                           b'  warnings.warn(kept, since no dropped warning precedes it)\n')


def test_the_patterns_are_specific():
    assert is_noise('libpng warning: iCCP: known incorrect sRGB profile')
    assert is_noise('ReduceMeanCheckIfOneDNNSupport')
    assert not is_noise('ReduceMeanCheckIfOneDNNSupport failed: x')  # only the bare line
    assert not is_noise('Thresholded incomplete Cholesky decomposition failed')  # alone: kept
    assert not is_noise('libpng error: IDAT: CRC error')        # a real decoding problem stays
    assert not is_noise('WARNING: could not read photo.png')
    assert not is_noise('OMP_NUM_THREADS is 4 in our own message')


def test_the_launcher_wrapper_keeps_paddles_import_warning_out(tmp_path):
    """``python -m paddlematting.cli.launch`` runs paddle's launcher; neither it nor the
    trainer (whose entry imports paddle before paddlematting) prints "No ccache found"."""
    entry = os.path.join(REPO_ROOT, 'tests', 'core_train_entry.py')
    config = os.path.join(REPO_ROOT, 'tests', 'data', 'core_tiny.yml')
    done = subprocess.run(
        [sys.executable, '-m', 'paddlematting.cli.launch', '--nproc_per_node', '1',
         '--log_dir', str(tmp_path / 'log'), entry, '--config', config, '--device', 'cpu',
         '--save_dir', str(tmp_path / 'run'), '--iters', '1'],
        capture_output=True, text=True, cwd=REPO_ROOT, timeout=300,
        env=dict(os.environ, OMP_NUM_THREADS='1'))
    assert done.returncode == 0, done.stderr[-3000:]
    worker_log = (tmp_path / 'log' / 'workerlog.0').read_text()
    assert 'Training finished at iter 1' in worker_log
    for output in (done.stdout, done.stderr, worker_log):
        assert 'ccache' not in output and 'warnings.warn' not in output

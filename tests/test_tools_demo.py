"""The README's first command: the demo runs offline and its output carries no third-party noise."""
import os
import re
import subprocess
import sys

import pytest

from conftest import REPO_ROOT

# what a warning looks like in anyone's output: ours would be as unwelcome as a library's
NOISE = re.compile(r'WARNING|warning:|!!!')


@pytest.mark.slow
def test_demo_runs_offline_and_prints_no_warning_lines(tmp_path):
    env = dict(os.environ, PADDLEMATTING_HOME=str(tmp_path / 'cache'),
               PADDLEMATTING_DOWNLOAD_TIMEOUT='5', OMP_NUM_THREADS='2')
    env.pop('PADDLEMATTING_SHOW_ALL_OUTPUT', None)
    done = subprocess.run([sys.executable, os.path.join(REPO_ROOT, 'tools', 'run_demo.py'),
                           '--iters', '2', '--out', str(tmp_path / 'demo')],
                          cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    noisy = [line for line in (done.stderr + done.stdout).splitlines() if NOISE.search(line)]
    assert noisy == []
    assert (tmp_path / 'demo' / 'showcase.png').stat().st_size > 10_000
    # offline the published weights are skipped in one line; online they are used
    skipped = [line for line in done.stdout.splitlines() if 'skipped the published MODNet' in line]
    assert len(skipped) == 1 or (tmp_path / 'demo' / 'published').is_dir()

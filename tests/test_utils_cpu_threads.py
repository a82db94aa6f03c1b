"""utils.cpu_threads: the commands' default thread count (Paddle alone would use one)."""
import os
import subprocess
import sys

from paddlematting.utils.cpu_threads import (OURS_VARIABLE, THREADS_VARIABLE,
                                             apply_default_cpu_threads, default_cpu_threads,
                                             physical_cores)

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_cores_are_shared_among_a_launchers_processes():
    assert default_cpu_threads({}, 16) == 16
    assert default_cpu_threads({'PADDLE_LOCAL_SIZE': '4'}, 16) == 4
    assert default_cpu_threads({'PADDLE_LOCAL_SIZE': '3'}, 2) == 1
    assert default_cpu_threads({'PADDLE_LOCAL_SIZE': 'x'}, 6) == 6


def test_a_users_value_is_kept_and_ours_is_recomputed_in_a_worker():
    env = {THREADS_VARIABLE: '5'}
    assert apply_default_cpu_threads(env) is None and env == {THREADS_VARIABLE: '5'}
    env = {}
    assert apply_default_cpu_threads(env) == physical_cores()
    # a launcher's worker inherits our value with its share of the node
    env['PADDLE_LOCAL_SIZE'] = str(physical_cores() + 1)
    assert apply_default_cpu_threads(env) == 1
    assert env[THREADS_VARIABLE] == env[OURS_VARIABLE] == '1'


def test_the_commands_run_paddle_on_every_usable_core():
    """Through the real import order: cli first, then paddle, whose bootstrap keeps the value
    (without the cli package it would be 1)."""
    code = ('import paddlematting.cli, paddle, os; '
            f'print(os.environ["{THREADS_VARIABLE}"], paddle.to_tensor([1.0]).shape)')
    env = {k: v for k, v in os.environ.items() if k not in (THREADS_VARIABLE, OURS_VARIABLE)}
    done = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                          env=env, cwd=REPO, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split()[0] == str(physical_cores())
    bare = subprocess.run([sys.executable, '-c', 'import paddle, os; print(os.environ["OMP_NUM_THREADS"])'],
                          capture_output=True, text=True, env=env, cwd=REPO, timeout=300)
    assert bare.stdout.split()[0] == '1'  # what Paddle alone does, the reason for the module

"""Run commands' ``main(argv)`` each in its own forked process, measuring exit status, output,
peak memory and time; for tests of many small CLI runs (one Python start for all of them).

    python tests/cli_probe.py SPEC.json > RESULTS.json

SPEC is ``{"timeout": seconds, "runs": [{"name": ..., "command": "predict", "argv": [...]}]}``;
``command`` is one of train, val, predict, export (``paddlematting.cli.<command>.main``, with
the tiny test components of core_plugin registered). Each run is a fork of this process after
the imports, so it is what ``python predict.py ARGV`` does minus the start-up: its exit status
is ``main``'s return value (or -signal), its stderr is captured, its peak RSS is the child's
own ``ru_maxrss`` (from ``os.wait4``), and a run past ``timeout`` is killed (status ``-9``).
"""
import importlib
import json
import os
import signal
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import core_plugin  # noqa: E402,F401  (registers CoreTestSet / CoreTestNet)

COMMANDS = ('train', 'val', 'predict', 'export')
MAINS = {name: importlib.import_module(f'paddlematting.cli.{name}').main for name in COMMANDS}


def _child(main, argv, stderr_path):
    """In the forked child: stderr to a file, run, exit with main's status (never return)."""
    status = 1
    try:
        fd = os.open(stderr_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(fd, 2)
        status = main(argv)
    except SystemExit as stop:  # argparse errors
        status = stop.code if isinstance(stop.code, int) else 1
    except BaseException:  # noqa: BLE001 - a traceback is part of what the test checks
        import traceback
        traceback.print_exc()
    finally:
        sys.stderr.flush()
        os._exit(status if isinstance(status, int) else 1)


def _wait(pid, timeout):
    """(status, ru_maxrss in KiB, seconds) of the child ``pid``, killing it past ``timeout``."""
    start = time.monotonic()
    while True:
        done, status, usage = os.wait4(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() - start > timeout:
            os.kill(pid, signal.SIGKILL)
            _, status, usage = os.wait4(pid, 0)
            break
        time.sleep(0.02)
    code = os.waitstatus_to_exitcode(status)
    return code, usage.ru_maxrss, time.monotonic() - start


def run_all(spec):
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for index, run in enumerate(spec['runs']):
            stderr_path = os.path.join(tmp, f'{index}.err')
            pid = os.fork()
            if pid == 0:
                _child(MAINS[run['command']], run['argv'], stderr_path)
            code, maxrss_kib, seconds = _wait(pid, spec['timeout'])
            stderr = ''
            if os.path.exists(stderr_path):
                with open(stderr_path, encoding='utf-8', errors='replace') as f:
                    stderr = f.read()
            results.append({'name': run['name'], 'status': code, 'stderr': stderr,
                            'peak_rss_mib': maxrss_kib / 1024, 'seconds': seconds})
    return results


if __name__ == '__main__':
    with open(sys.argv[1], encoding='utf-8') as spec_file:
        print(json.dumps(run_all(json.load(spec_file))))

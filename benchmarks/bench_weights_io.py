"""Time and peak memory of reading a published-size weights file: old reader against new.

Usage: python benchmarks/bench_weights_io.py [--turns 7] [--params 25.6] [--keep DIR]

Writes a random state dict of ResNet-50's layout (``paddle.vision.models.resnet50``: 320
tensors, 25.6 M float32 parameters, a 102 MB file) with ``paddle.save`` (.pdparams, pickle
protocol 4) and with tests/torch_pth.py (torch's zip .pth), then reads them in turns:

- ``old``: the reader before issue 20 (Python's C unpickler with ``find_class`` limited to
  numpy's ``_reconstruct``/``dtype``/``ndarray``, then a walk over the result);
- ``new``: ``paddlematting.utils.weights_io.load_weights_file`` (safe_pickle);
- ``paddle.load(return_numpy=True)`` for reference, and for the .pth the new reader
  (and ``torch.load(weights_only=True)`` when torch is installed).

Each read runs in a forked child: its time (perf_counter, read + every array touched once)
and its peak RSS (``ru_maxrss`` from ``os.wait4``; it includes the parent's pages at fork).
Prints medians over ``--turns`` turns, the readers alternating within each turn, and the load.
"""
import argparse
import collections
import io
import os
import pickle
import statistics
import sys
import tempfile
import time

import numpy as np
import paddle

from paddlematting.utils.weights_io import load_weights_file

# imported before the forks, so that no reader's time includes an import
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'tests'))


class _OldUnpickler(pickle.Unpickler):
    """The previous reader's core: the C unpickler, globals limited to numpy's forms."""
    ALLOWED = {('numpy._core.multiarray', '_reconstruct'), ('numpy.core.multiarray', '_reconstruct'),
               ('numpy', 'ndarray'), ('numpy', 'dtype'), ('collections', 'OrderedDict')}

    def find_class(self, module, name):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f'{module}.{name}')
        return super().find_class(module, name)


def old_reader(path):
    with open(path, 'rb') as f:
        data = f.read()
    loaded = _OldUnpickler(io.BytesIO(data), encoding='latin1').load()
    # the old reader walked the result twice (object-array check, tuple unwrap)
    for _ in range(2):
        for value in loaded.values():
            isinstance(value, np.ndarray) and value.dtype.hasobject
    loaded.pop('StructuredToParameterName@@', None)
    return loaded


def new_reader(path):
    return load_weights_file(path)


def paddle_reader(path):
    return paddle.load(path, return_numpy=True)


def torch_reader(path):
    import torch
    return torch.load(path, weights_only=True)


def _touch(state):
    """Sum one element per page of every array, so lazily mapped data is really read."""
    total = 0.0
    for value in state.values():
        array = np.asarray(value)
        if array.size:
            total += float(array.reshape(-1)[::1024].astype(np.float64).sum())
    return total


def measure(reader, path):
    """(seconds, peak RSS MiB) of one read in a forked child."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        start = time.perf_counter()
        _touch(reader(path))
        os.write(write_end, repr(time.perf_counter() - start).encode())
        os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end) as pipe:
        text = pipe.read()
    _, status, usage = os.wait4(pid, 0)
    if status != 0 or not text:
        raise RuntimeError(f'{reader.__name__} failed on {path}')
    return float(text), usage.ru_maxrss / 1024


def write_files(folder, millions):
    """The .pdparams and .pth of a random ResNet-50 layout scaled to ``millions`` parameters."""
    from torch_pth import save_pth
    layout = [(k, v.shape) for k, v in paddle.vision.models.resnet50().state_dict().items()]
    scale = millions * 1e6 / sum(int(np.prod(s)) for _, s in layout)
    rng = np.random.default_rng(0)
    state = collections.OrderedDict()
    for key, shape in layout:
        shape = list(shape)
        if scale != 1 and len(shape) >= 2:
            shape[0] = max(1, int(round(shape[0] * scale)))
        state[key] = rng.standard_normal(shape).astype(np.float32)
    pdparams = os.path.join(folder, 'resnet50.pdparams')
    paddle.save({k: paddle.to_tensor(v) for k, v in state.items()}, pdparams)
    pth = save_pth(os.path.join(folder, 'resnet50.pth'), state)
    return pdparams, pth, len(state), sum(v.size for v in state.values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--turns', type=int, default=7)
    parser.add_argument('--params', type=float, default=25.6, help='millions of parameters')
    parser.add_argument('--keep', default=None, help='write the files here (default: a temp dir)')
    args = parser.parse_args()
    if args.keep:
        os.makedirs(args.keep, exist_ok=True)
        run(args, args.keep)
    else:
        with tempfile.TemporaryDirectory(prefix='bench_weights_io.') as folder:
            run(args, folder)


def run(args, folder) -> None:
    """Write the files into ``folder``, read them in turns, print the medians."""
    pdparams, pth, count, params = write_files(folder, args.params)
    readers = [('old (C unpickler)', old_reader, pdparams), ('new (safe_pickle)', new_reader, pdparams),
               ('paddle.load', paddle_reader, pdparams), ('new, torch .pth', new_reader, pth)]
    try:
        import torch  # noqa: F401
        readers.append(('torch.load .pth', torch_reader, pth))
    except ImportError:
        pass
    print(f'{count} tensors, {params / 1e6:.1f} M parameters; .pdparams {os.path.getsize(pdparams) / 1e6:.1f} MB, '
          f'.pth {os.path.getsize(pth) / 1e6:.1f} MB; {args.turns} turns; load average before '
          f'{os.getloadavg()}')
    results = {name: [] for name, _, _ in readers}
    for name, reader, path in readers:  # warm-up: page cache, imports
        measure(reader, path)
    for _ in range(args.turns):
        for name, reader, path in readers:
            results[name].append(measure(reader, path))
    for name, runs in results.items():
        seconds = statistics.median(s for s, _ in runs)
        rss = statistics.median(m for _, m in runs)
        print(f'{name:20s} median {seconds * 1000:8.1f} ms  (min {min(s for s, _ in runs) * 1000:7.1f})'
              f'   peak RSS {rss:7.0f} MiB')
    print(f'load average after {os.getloadavg()}')


if __name__ == '__main__':
    main()

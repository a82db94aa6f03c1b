"""``paddlematting serve`` under load, with offline weights: requests/s and latency at 1, 4 and
16 concurrent clients, resident memory before and after 2,000 requests, and one request's time
against the bare Python call on the same image.

Usage: python benchmarks/bench_server.py [--requests 40] [--leak-requests 2000] [--size 320x240]
                                         [--refiner closed-form] [--max-seconds 120] [--short-size 256]

The server is a real subprocess (tests/serve_process.py: the quick-start MODNet-MobileNetV2,
256-pixel short side, deterministic weights; nothing is downloaded, trained weights cost the
same time) on 127.0.0.1, started with --max-queue 64 so that 16 clients never see a 503. The
photo is a shipped one (data/alphamatting_lowres GT05) resized to --size, sent as a multipart
upload like rembg's clients do. By default the segmenter runs alone (a=false); --refiner
closed-form adds the refiner to every request.

1. Throughput: at each concurrency C, C threads send --requests requests in all (at most
   --max-seconds); requests/s = answered / wall time, p50/p95 of each request's latency.
2. Memory: the server's RSS (its /metrics process_resident_memory_bytes) after 50 warm-up
   requests, then after --leak-requests more at 4 clients; the growth must stay within 10 %.
3. Overhead: in turns, one request to the server and one bare ``Matting.remove(png_bytes)`` in
   this process (the same model, weights, image and options), 15 turns; the ratio of the
   medians must stay within 1.2 (HTTP, multipart parsing, the queue and the thread hop).
The 1-minute load average is printed before and after: other work on the machine inflates
every figure.
"""
import argparse
import os
import statistics
import sys
import threading
import time

import cv2

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO_ROOT, 'tests'))
sys.path.insert(0, REPO_ROOT)

from serve_process import DEMO_CONFIG, demo_weights, multipart_body, request, running_server  # noqa: E402


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--requests', type=int, default=40, help='per concurrency level')
    parser.add_argument('--leak-requests', type=int, default=2000)
    parser.add_argument('--size', default='320x240', help='the photo, WIDTHxHEIGHT')
    parser.add_argument('--refiner', default=None, help='e.g. closed-form; default: the segmenter alone')
    parser.add_argument('--max-seconds', type=float, default=120.0, help='per concurrency level')
    parser.add_argument('--short-size', type=int, default=256,
                        help='the model\'s input short side (the quick-start config\'s 256 by default)')
    parser.add_argument('--work-dir', default='/tmp/bench_server')
    return parser.parse_args()


def model_config(folder: str, short_size: int) -> str:
    """DEMO_CONFIG, or the same network at another input short side (a config beside it)."""
    if short_size == 256:
        return DEMO_CONFIG
    path = os.path.join(folder, f'modnet_short{short_size}.yml')
    with open(path, 'w') as f:
        f.write(f'_base_: {DEMO_CONFIG}\nval_dataset:\n  transforms:\n    - type: LoadImages\n'
                f'    - type: ResizeByShort\n      short_size: {short_size}\n'
                f'    - type: ResizeToIntMult\n      mult_int: 32\n    - type: Normalize\n')
    return path


def photo_png(size: str) -> bytes:
    width, height = (int(v) for v in size.split('x'))
    image = cv2.imread(os.path.join(REPO_ROOT, 'data', 'alphamatting_lowres', 'val', 'fg', 'GT05.png'))
    return cv2.imencode('.png', cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA))[1].tobytes()


def one_request(server, body, content_type) -> float:
    started = time.perf_counter()
    status, _, answer = request(server, 'POST', '/api/remove', body, content_type)
    if status != 200:
        raise RuntimeError(f'the server answered {status}: {answer[:200]!r}')
    return time.perf_counter() - started


def load(server, form, clients: int, total: int, max_seconds: float) -> dict:
    """``total`` requests from ``clients`` threads (stopping at ``max_seconds``)."""
    latencies, lock = [], threading.Lock()
    deadline = time.monotonic() + max_seconds
    remaining = [total]

    def client():
        while time.monotonic() < deadline:
            with lock:
                if remaining[0] == 0:
                    return
                remaining[0] -= 1
            seconds = one_request(server, *form)
            with lock:
                latencies.append(seconds)
    threads = [threading.Thread(target=client) for _ in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    ordered = sorted(latencies)
    return {'clients': clients, 'answered': len(ordered), 'per_s': len(ordered) / wall,
            'p50': ordered[len(ordered) // 2], 'p95': ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]}


def server_rss(server) -> float:
    from prometheus_client.parser import text_string_to_metric_families
    text = request(server, 'GET', '/metrics')[2].decode()
    for family in text_string_to_metric_families(text):
        if family.name == 'process_resident_memory_bytes':
            return family.samples[0].value
    raise RuntimeError('no process_resident_memory_bytes in /metrics')


def overhead(server, form, png: bytes, model: tuple, refiner, turns: int = 15) -> dict:
    """Medians of ``turns`` alternating server requests and bare calls; ``model`` = (config, weights)."""
    import paddlematting as pm
    config, weights = model
    matting = pm.Matting(config, refiner=refiner, weights=weights,
                         settings=pm.MattingSettings(device='cpu'))
    matting.remove(png)  # load and warm up
    served, bare = [], []
    for _ in range(turns):
        served.append(one_request(server, *form))
        started = time.perf_counter()
        matting.remove(png)
        bare.append(time.perf_counter() - started)
    return {'server': statistics.median(served), 'bare': statistics.median(bare),
            'ratio': statistics.median(served) / statistics.median(bare)}


def main():
    args = parse_args()
    os.makedirs(args.work_dir, exist_ok=True)
    weights = demo_weights(args.work_dir)
    config = model_config(args.work_dir, args.short_size)
    png = photo_png(args.size)
    form = multipart_body(png, {'refiner': args.refiner or 'none'})
    extra = ['--max-queue', '64', '--log-level', 'warning']
    print(f'load average before: {os.getloadavg()[0]:.2f}; photo {args.size}, model short side '
          f'{args.short_size}, refiner {args.refiner or "none"}', flush=True)
    with running_server(weights, args.work_dir, extra, config) as server:
        for _ in range(5):
            one_request(server, *form)  # warm-up: first calls allocate
        print('| clients | answered | requests/s | p50 s | p95 s |\n|-|-|-|-|-|')
        for clients in (1, 4, 16):
            row = load(server, form, clients, args.requests, args.max_seconds)
            print(f'| {clients} | {row["answered"]} | {row["per_s"]:.2f} | {row["p50"]:.3f} | {row["p95"]:.3f} |', flush=True)
        load(server, form, 4, 50, args.max_seconds)
        before = server_rss(server)
        started = time.perf_counter()
        done = load(server, form, 4, args.leak_requests, 3600.0)['answered']
        after = server_rss(server)
        growth = 100.0 * (after - before) / before
        print(f'RSS before {before / 2**20:.1f} MiB, after {done} more requests '
              f'({time.perf_counter() - started:.0f} s) {after / 2**20:.1f} MiB: {growth:+.1f} % '
              f'({"within" if growth <= 10 else "OVER"} the +10 % bound)')
        times = overhead(server, form, png, (config, weights), args.refiner)
        print(f'one request: server {times["server"] * 1000:.1f} ms, bare Matting.remove '
              f'{times["bare"] * 1000:.1f} ms (medians of 15 turns): {times["ratio"]:.2f}x '
              f'({"within" if times["ratio"] <= 1.2 else "OVER"} the 1.2x bound)')
    print(f'load average after: {os.getloadavg()[0]:.2f}', flush=True)


if __name__ == '__main__':
    main()

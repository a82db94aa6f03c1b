"""gpu_available: one answer for the runtime and Paddle Inference, never an exception."""
import paddle

from paddlematting.utils.device import gpu_available


def test_a_cuda_build_without_a_driver_reports_no_gpu(monkeypatch):
    def no_driver():
        raise RuntimeError('CUDA driver version is insufficient')

    monkeypatch.setattr(paddle, 'is_compiled_with_cuda', lambda: True)
    monkeypatch.setattr(paddle.device.cuda, 'device_count', no_driver)
    assert gpu_available() is False


def test_a_cpu_build_reports_no_gpu_without_counting(monkeypatch):
    def must_not_count():
        raise AssertionError('device_count called on a CPU build')

    monkeypatch.setattr(paddle, 'is_compiled_with_cuda', lambda: False)
    monkeypatch.setattr(paddle.device.cuda, 'device_count', must_not_count)
    assert gpu_available() is False


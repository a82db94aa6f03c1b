"""Install paddlematting.

PaddlePaddle is not in install_requires, because its CPU and GPU builds are
different packages (`paddlepaddle` / `paddlepaddle-gpu`) and forcing one would
break the other. `pip install -e .[cpu]` adds the CPU build.

Why paddlepaddle 3.2.2 for CPU: in 3.3.0 and 3.3.1, Paddle Inference's oneDNN
path fails on every bilinear interpolation (Paddle issue 79749:
"ConvertPirAttribute2RuntimeAttribute not support ArrayAttribute<DoubleAttribute>"),
and oneDNN is what makes CPU inference fast. 3.2.2 runs the same models fine.

No paddleseg: the toolkit has its own registries (paddlematting.config.manager), so
it does not inherit paddleseg 2.8.0's opencv-python<=4.6 pin, nor the numpy<2
pin that pin forced.
"""
from setuptools import find_packages, setup

with open('README.md', encoding='utf-8') as f:
    long_description = f.read()

# `paddlematting serve`: FastAPI (routes, OpenAPI docs; pydantic 2 throughout since 0.100) on
# uvicorn; python-multipart parses uploads in memory (0.0.18 fixed CVE-2024-53981); pillow
# reads image headers, so --max-pixels refuses a decompression bomb before it is decoded
SERVE_REQUIRES = ['fastapi>=0.115,<1', 'uvicorn>=0.30,<1', 'python-multipart>=0.0.18',
                  'prometheus-client>=0.20', 'pillow>=10']

setup(
    name='paddlematting',
    version='0.1.0',
    description='Image matting on PaddlePaddle (PP-Matting, PP-MattingV2, MODNet, DIM, GCA, '
                'PP-HumanMatting, RVM, classical solvers): train, evaluate, predict, deploy',
    long_description=long_description,
    long_description_content_type='text/markdown',
    packages=find_packages(include=['paddlematting', 'paddlematting.*']),
    # the model zoo file: names -> configs, weights URLs, licences (paddlematting.zoo)
    package_data={'paddlematting.zoo': ['models.yml'],
                  'paddlematting.serve': ['static/*.html', 'static/*.js', 'static/*.css']},
    python_requires='>=3.10',
    install_requires=[
        'numpy>=1.23',
        'opencv-python-headless>=4.10',
        'scipy',
        'pyyaml',
        'visualdl',
        'tqdm',
        # .safetensors weights (read without pickle; see paddlematting.utils.weights_io)
        'safetensors',
    ],
    extras_require={
        'cpu': ['paddlepaddle==3.2.2'],
        # the classical trimap methods (models/classical.py) call pymatting's solvers; it brings
        # numba and llvmlite (~100 MB, a one-off compile on first use), which the networks never
        # need, so it is optional rather than in install_requires
        'classical': ['pymatting>=1.1'],
        # pytest-xdist: the suite runs on every core (scripts/test.sh passes -n auto)
        # cryptography: a self-signed certificate for the https download tests
        # ray: the test extra holds it so that tests/test_batch.py runs (never skips) on a clone
        # selenium: the browser test of the server's page (tests/test_serve_page.py; the browser
        # itself comes from scripts/setup_browser.sh); the serve extra's packages, for tests/test_serve*.py
        # openvino: tests/test_inference_engines.py runs every engine (never skips)
        'test': ['pytest', 'pytest-timeout', 'pytest-xdist', 'pymatting>=1.1', 'cryptography',
                 'ray[data]>=2.60,<2.64', 'openvino>=2026.0,<2027', 'selenium>=4.20'] + SERVE_REQUIRES,
        'serve': SERVE_REQUIRES,
        # ONNX export and the ONNX Runtime engine; onnx and ml_dtypes are what onnxruntime's
        # INT8 quantization tools import (export.py --quantize int8)
        'onnx': ['paddle2onnx', 'onnxruntime', 'onnx', 'ml_dtypes'],
        # the openvino CPU engine (inference/openvino_engine.py) on model.onnx; tested with
        # 2026.4.1 (its Python API and the compiled-precision query our bf16 check reads)
        'openvino': ['openvino>=2026.0,<2027'],
        # `paddlematting batch`: matting over many images in Ray Data actors (paddlematting/batch)
        'ray': ['ray[data]>=2.60,<2.64'],
    },
    entry_points={
        'console_scripts': [
            # subcommands: remove, models, cache, serve, batch (paddlematting.cli.main.SUBCOMMANDS)
            'paddlematting=paddlematting.cli.main:main',
            'paddlematting-train=paddlematting.cli.train:main',
            'paddlematting-val=paddlematting.cli.val:main',
            'paddlematting-predict=paddlematting.cli.predict:main',
            'paddlematting-export=paddlematting.cli.export:main',
            'paddlematting-cache=paddlematting.cli.cache:main',
        ],
    },
)

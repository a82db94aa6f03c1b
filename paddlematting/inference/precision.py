"""Which numeric precisions this CPU can run, and the one line that refuses the others.

bfloat16 halves the bytes each activation moves and doubles the multiply rate, but only on
CPUs with bf16 instructions (AVX512-BF16 on Cooper Lake / Zen 4 and later, AMX on Sapphire
Rapids). Elsewhere OpenVINO silently compiles in f32 and oneDNN emulates bf16 slowly, so
``--precision bf16`` is refused there rather than quietly running something else.
"""
from typing import FrozenSet, Optional

__all__ = ['PRECISIONS', 'BF16_CPU_FLAGS', 'cpu_flags', 'bf16_problem', 'check_precision']

PRECISIONS = ('fp32', 'int8', 'bf16')
# /proc/cpuinfo flags of the bf16 dot-product / tile instructions oneDNN and OpenVINO use
BF16_CPU_FLAGS = ('avx512_bf16', 'amx_bf16')
CPUINFO = '/proc/cpuinfo'


def cpu_flags(path: str = CPUINFO) -> FrozenSet[str]:
    """The instruction-set flags of the first CPU in ``path`` (Linux ``/proc/cpuinfo``); empty
    where the file is absent (other systems), so bf16 is then refused rather than guessed."""
    try:
        with open(path, encoding='utf-8', errors='replace') as f:
            for line in f:
                key, _, value = line.partition(':')
                if key.strip() in ('flags', 'Features'):
                    return frozenset(value.split())
    except OSError:
        pass
    return frozenset()


def bf16_problem() -> Optional[str]:
    """None when this CPU reports bf16 instructions, else the sentence saying it does not."""
    if set(BF16_CPU_FLAGS) & cpu_flags():
        return None
    return (f'--precision bf16 needs a CPU with bfloat16 instructions ({" or ".join(BF16_CPU_FLAGS)} '
            f'in {CPUINFO}), and this one reports neither; use --precision fp32.')


def check_precision(precision: str) -> None:
    """Raise ValueError (one line) for a precision that is unknown or that this CPU lacks."""
    if precision not in PRECISIONS:
        raise ValueError(f'precision must be one of {list(PRECISIONS)}, got {precision!r}.')
    if precision == 'bf16':
        problem = bf16_problem()
        if problem:
            raise ValueError(problem)

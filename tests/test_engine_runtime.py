"""Random-number states: saved as plain JSON data (no pickle) and restored exactly."""
import base64
import json
import pickle
import random

import numpy as np
import paddle
import pytest

from paddlematting.engine.runtime import capture_rng_state, restore_rng_state, seed_everything


def _draws():
    return paddle.rand([4]).numpy().tolist(), np.random.rand(3).tolist(), random.random()


def test_rng_state_round_trips_through_json_without_pickles():
    seed_everything(7)
    _draws()
    state = json.loads(json.dumps(capture_rng_state()))
    assert all(isinstance(generator, list) for generator in state['paddle'])
    expected = _draws()
    _draws()
    restore_rng_state(state)
    assert _draws() == expected


def test_older_base64_pickled_paddle_state_is_refused_not_unpickled():
    """Unpickling runs code, so the older format is refused with a hint (see test_utils_weights_io
    for the check that nothing from such a state.json runs)."""
    seed_everything(3)
    state = capture_rng_state()
    state['paddle'] = base64.b64encode(pickle.dumps(paddle.get_rng_state())).decode('ascii')
    with pytest.raises(ValueError, match='pickle.*"rng"'):
        restore_rng_state(state)

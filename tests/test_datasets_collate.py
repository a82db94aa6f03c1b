"""collate_samples: stacks numeric arrays, keeps per-sample bookkeeping as lists."""
import numpy as np
import paddle
import pytest

from paddlematting.datasets import collate_samples

from conftest import run_in_fresh_process


def fake_sample(i, h=4, w=6):
    return {'img': np.full((3, h, w), i, np.float32),
            'alpha': np.full((1, h, w), i / 10, np.float32),
            'ori_alpha': np.full((h + i, w), i, np.uint8), 'img_name': f'fg/{i}.png',
            'trans_info': [('resize', (h + i, w))], 'gt_fields': ['alpha']}


def test_stacks_arrays_and_keeps_lists():
    batch = collate_samples([fake_sample(1), fake_sample(2)])
    assert batch['img'].shape == (2, 3, 4, 6) and batch['img'][1, 0, 0, 0] == 2
    assert batch['alpha'].dtype == np.float32
    assert [a.shape for a in batch['ori_alpha']] == [(5, 6), (6, 6)]  # different sizes are fine
    assert batch['img_name'] == ['fg/1.png', 'fg/2.png']
    assert batch['trans_info'] == [[('resize', (5, 6))], [('resize', (6, 6))]]
    assert batch['gt_fields'] == [['alpha'], ['alpha']]


def test_errors_say_what_differs():
    with pytest.raises(ValueError, match=r"cannot stack 'img' of shapes"):
        collate_samples([fake_sample(1), fake_sample(2, h=5)])
    other = fake_sample(2)
    del other['alpha']
    with pytest.raises(ValueError, match='sample 1 has keys'):
        collate_samples([fake_sample(1), other])
    with pytest.raises(ValueError, match='empty'):
        collate_samples([])


class _FakeDataset(paddle.io.Dataset):
    def __getitem__(self, idx):
        return fake_sample(idx)

    def __len__(self):
        return 4


@pytest.mark.parametrize('num_workers', [0, 1])
def test_dataloader_round_trip(num_workers):
    if num_workers == 0:
        check_dataloader_round_trip(0)
    else:  # worker processes: see run_in_fresh_process
        run_in_fresh_process('test_datasets_collate', 'check_dataloader_round_trip', num_workers)


def check_dataloader_round_trip(num_workers: int) -> None:
    loader = paddle.io.DataLoader(_FakeDataset(), batch_size=2, num_workers=num_workers,
                                  collate_fn=collate_samples)
    batches = list(loader)
    assert len(batches) == 2
    second = batches[1]
    assert isinstance(second['img'], paddle.Tensor) and list(second['img'].shape) == [2, 3, 4, 6]
    assert float(second['img'][1, 0, 0, 0]) == 3.0
    assert second['img_name'] == ['fg/2.png', 'fg/3.png']
    # numpy arrays inside lists arrive as tensors; np.asarray recovers them
    assert np.asarray(second['ori_alpha'][1]).shape == (7, 6)
    # tuples come back as lists; the values survive
    op, (h, w) = second['trans_info'][0][0]
    assert (op, h, w) == ('resize', 6, 6)

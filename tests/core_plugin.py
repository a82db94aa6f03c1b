"""Tiny, fast components for the core/CLI tests, registered under names no real config uses.

``CoreTestNet`` has no batch norm, so one step on 2 processes x batch 2 must equal one step
on 1 process x batch 4 (gradients are averaged across processes; nothing else differs).
``CoreTestSet`` makes deterministic 16x16 samples in memory and draws a random flip from
numpy's global generator, like real augmentation does.
"""
import time

import numpy as np
import paddle
import paddle.nn as nn
import paddle.nn.functional as F

from paddlematting.config import manager

SIZE = 16


def _make_sample(index: int):
    rng = np.random.default_rng(1000 + index)
    img = rng.normal(size=(3, SIZE, SIZE)).astype('float32')
    alpha = (1.0 / (1.0 + np.exp(-img.mean(axis=0, keepdims=True) * 3))).astype('float32')
    return img, alpha


@manager.DATASETS.add_component
class CoreTestSet(paddle.io.Dataset):
    """``num_samples`` train samples {img [3,16,16], alpha [1,16,16]}; val ones add ori_*."""

    def __init__(self, num_samples: int = 8, mode: str = 'train', delay: float = 0.0, **unused):
        self.num_samples = num_samples
        self.mode = mode
        self.delay = delay  # seconds per sample: makes steps slow for the signal tests


    def __len__(self):
        return self.num_samples

    def __getitem__(self, index):
        if self.delay:
            time.sleep(self.delay)
        img, alpha = _make_sample(index)
        if self.mode == 'train':
            if np.random.rand() < 0.5:
                img, alpha = img[:, :, ::-1].copy(), alpha[:, :, ::-1].copy()
            return {'img': img, 'alpha': alpha, 'trans_info': [], 'gt_fields': ['alpha']}
        return {'img': img, 'alpha': alpha, 'trans_info': [], 'gt_fields': ['alpha'],
                'ori_alpha': np.round(alpha[0] * 255).astype('uint8'),
                'img_name': f'sample_{index}.png'}


@manager.MODELS.add_component
class CoreTestNet(nn.Layer):
    """conv 3->8, ReLU, (dropout), conv 8->1, sigmoid; loss: mean squared alpha error."""

    def __init__(self, width: int = 8, dropout: float = 0.0, pretrained=None,
                 nan_loss_at: int = 0):
        super().__init__()
        # the loss is NaN from this training loss call on (1 = the first; 0 = never): for the
        # trainer's stop on a non-finite loss
        self.nan_loss_at = nan_loss_at
        self.loss_calls = 0
        self.conv1 = nn.Conv2D(3, width, 3, padding=1)
        self.dropout = nn.Dropout(dropout)
        self.conv2 = nn.Conv2D(width, 1, 3, padding=1)

    def forward(self, inputs):
        alpha = F.sigmoid(self.conv2(self.dropout(F.relu(self.conv1(inputs['img'])))))
        return {'alpha': alpha} if self.training else alpha

    def loss(self, logits, batch):
        mse = F.mse_loss(logits['alpha'], batch['alpha'])
        self.loss_calls += 1
        if self.nan_loss_at and self.loss_calls >= self.nan_loss_at:
            mse = mse * float('nan')
        return {'mse': mse, 'all': mse}

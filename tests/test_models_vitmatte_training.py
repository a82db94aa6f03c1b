"""Training ViTMatte (which transformers does not offer): the original repo's loss against the
reference loss case term by term, a few steps on the shipped photos, the optimizer's
layer-wise lr decay and weight-decay exclusions, and the DINO/MAE ViT initialisation."""
import json
import os

import numpy as np
import paddle
import pytest

from conftest import NO_DOWNLOAD, REAL_DATA_ROOT, SHARED_REFERENCE, config_for, loss_history
from paddlematting import Config
from paddlematting.builders import Built, build_model
from paddlematting.datasets import MattingDataset
from paddlematting.datasets.collate import collate_samples
from paddlematting.models.losses.vitmatte_criterion import laplacian_pyramid, vitmatte_losses
from paddlematting.transforms import LoadImages, Normalize, Resize

LOSS_KEYS = ('unknown_l1_loss', 'known_l1_loss', 'loss_pha_laplacian', 'loss_gradient_penalty')


def loss_case():
    with open(os.path.join(SHARED_REFERENCE, 'outputs', 'vitmatte_loss_A.json')) as f:
        info = json.load(f)
    return info, np.load(os.path.join(SHARED_REFERENCE, 'outputs', 'vitmatte_loss_A.npz'))


def test_each_loss_term_matches_the_loss_case():
    """float32 paddle against the reference's float64 values (the original's own float32
    criterion is 1.5e-7 relative from them)."""
    info, ref = loss_case()
    pred, gt, trimap = (paddle.to_tensor(ref[k]) for k in ('pred', 'alpha', 'trimap'))
    losses = vitmatte_losses(pred, gt, trimap)
    for key in LOSS_KEYS:
        assert float(losses[key]) == pytest.approx(info['loss'][key], rel=2e-6), key
    assert float(losses['all']) == pytest.approx(info['loss']['total'], rel=2e-6)


def test_the_laplacian_pyramid_levels_match():
    _, ref = loss_case()
    for source, prefix in (('pred', 'lap_pred_l'), ('alpha', 'lap_gt_l')):
        levels = laplacian_pyramid(paddle.to_tensor(ref[source].astype(np.float64)))
        for i, level in enumerate(levels):
            np.testing.assert_allclose(level.numpy(), ref[f'{prefix}{i}'], rtol=0, atol=1e-12)


def test_an_empty_known_region_gives_a_zero_known_term():
    alpha = paddle.full([1, 1, 64, 64], 0.5)
    trimap = paddle.full([1, 1, 64, 64], 128.0)
    losses = vitmatte_losses(alpha * 0.8, alpha, trimap)
    assert float(losses['known_l1_loss']) == 0.0
    # all pixels unknown at 64x64: the mean L1 (0.1) times the original's 512^2 / (64 * 64)
    assert float(losses['unknown_l1_loss']) == pytest.approx(0.1 * 64, rel=1e-5)


def small_config(*opts):
    return Config(config_for('vitmatte_small'), opts=NO_DOWNLOAD + list(opts))


def test_training_on_real_images_lowers_every_loss_term():
    """Five steps of the config's AdamW (layer-wise decay; lr 5e-4 after warm-up) on two
    shipped photos at 64x64 lower every term."""
    paddle.seed(0)
    np.random.seed(0)
    built = Built(small_config('lr_scheduler.warmup_iters=0'))
    model, optimizer = built.model, built.optimizer
    dataset = MattingDataset(REAL_DATA_ROOT, [LoadImages(), Resize([64, 64]), Normalize()],
                             mode='train', train_file='val_with_bg.txt')
    batch = collate_samples([dataset[0], dataset[1]])
    data = {k: paddle.to_tensor(batch[k]) for k in ('img', 'alpha', 'trimap')}
    assert (batch['trimap'] == 128).any() and (batch['trimap'] != 128).any()
    history = loss_history(model, optimizer, data, steps=5)
    assert set(history[0]) == set(LOSS_KEYS) | {'all'}
    for key in LOSS_KEYS:
        assert np.isfinite(history[-1][key]) and history[-1][key] < history[0][key], (key, history)


def test_the_optimizer_decays_the_rate_layer_by_layer():
    """lr factor 0.65^(13 - layer): embeddings 0.65^13, block i 0.65^(12-i), residual
    bottlenecks and decoder 1; no weight decay on position embeddings and norms."""
    built = Built(small_config())
    optimizer, model = built.optimizer, built.model
    by_param = {}
    for group in optimizer._param_groups:
        for param in group['params']:
            by_param[param.name] = (group['learning_rate'], group.get('weight_decay', 0.1))
    trainable = [(name, p) for name, p in model.named_parameters() if not p.stop_gradient]
    names = {name: by_param[p.name] for name, p in trainable}
    assert names['backbone.embeddings.position_embeddings'] == (pytest.approx(0.65 ** 13), 0.0)
    assert names['backbone.embeddings.projection.weight'] == (pytest.approx(0.65 ** 13), 0.1)
    assert names['backbone.encoder.layer.0.attention.qkv.weight'] == (pytest.approx(0.65 ** 12), 0.1)
    assert names['backbone.encoder.layer.11.norm1.weight'] == (pytest.approx(0.65), 0.0)
    assert names['backbone.encoder.layer.11.attention.rel_pos_h'] == (pytest.approx(0.65), 0.1)
    assert names['backbone.encoder.layer.2.residual.conv1.weight'] == (1.0, 0.1)
    assert names['backbone.encoder.layer.2.residual.norm1.weight'] == (1.0, 0.0)
    assert names['decoder.fusion_blocks.0.conv.conv.weight'] == (1.0, 0.1)
    assert names['decoder.fusion_blocks.0.conv.batch_norm.weight'] == (1.0, 0.0)
    assert names['decoder.matting_head.matting_convs.1.bias'] == (1.0, 0.0)
    assert sum(len(g['params']) for g in optimizer._param_groups) == len(trainable)


def dino_vit_s16(rng) -> dict:
    """A timm-named ViT-S/16 state dict laid out as DINO's dino_deitsmall16_pretrain.pth."""
    c, state = 384, {'cls_token': rng.standard_normal((1, 1, 384)),
                     'pos_embed': rng.standard_normal((1, 197, 384)),
                     'patch_embed.proj.weight': rng.standard_normal((384, 3, 16, 16)),
                     'patch_embed.proj.bias': rng.standard_normal(384),
                     'norm.weight': np.ones(384), 'norm.bias': np.zeros(384)}
    shapes = {'norm1.weight': (c,), 'norm1.bias': (c,), 'attn.qkv.weight': (3 * c, c),
              'attn.qkv.bias': (3 * c,), 'attn.proj.weight': (c, c), 'attn.proj.bias': (c,),
              'norm2.weight': (c,), 'norm2.bias': (c,), 'mlp.fc1.weight': (4 * c, c),
              'mlp.fc1.bias': (4 * c,), 'mlp.fc2.weight': (c, 4 * c), 'mlp.fc2.bias': (c,)}
    for i in range(12):
        state.update({f'blocks.{i}.{k}': rng.standard_normal(s) for k, s in shapes.items()})
    return {k: v.astype(np.float32) for k, v in state.items()}


def test_a_dino_vit_initialises_the_backbone_with_a_zero_trimap_channel(tmp_path, rng):
    from safetensors.numpy import save_file
    dino = dino_vit_s16(rng)
    path = str(tmp_path / 'dino_deitsmall16_pretrain.safetensors')
    save_file(dino, path)
    model = build_model(small_config(f'model.backbone.pretrained={path}'))
    state = {k: v.numpy() for k, v in model.state_dict().items()}
    projection = state['backbone.embeddings.projection.weight']
    np.testing.assert_array_equal(projection[:, :3], dino['patch_embed.proj.weight'])
    assert not projection[:, 3].any()  # the trimap channel starts at zero
    np.testing.assert_array_equal(state['backbone.embeddings.position_embeddings'], dino['pos_embed'])
    np.testing.assert_array_equal(state['backbone.encoder.layer.7.attention.qkv.weight'],
                                  dino['blocks.7.attn.qkv.weight'].T)
    np.testing.assert_array_equal(state['backbone.encoder.layer.11.mlp.fc2.bias'],
                                  dino['blocks.11.mlp.fc2.bias'])
    assert not state['backbone.encoder.layer.2.attention.rel_pos_h'].any()  # zero-initialised

"""Training checkpoints on disk: atomic folders, the ``latest`` pointer, pruning, resume.

Layout under ``save_dir``::

    iter_N/model.pdparams   model weights (paddle.save of state_dict)
    iter_N/model.pdopt      optimizer state (moments, learning-rate scheduler)
    iter_N/state.json       iteration, best metric, scheduler and random states
    best_model/...          same files, for the lowest validation SAD
    latest                  a text file holding the name of the newest iter_N folder

Every folder is written under a temporary name and renamed when complete, so a crash or
Ctrl-C never leaves a half-written checkpoint behind under a real name.
"""
import json
import os
import re
import shutil
from typing import Any, Dict, List, Optional

import paddle

from ..utils.pretrained import WeightsMismatchError, load_pretrained_weights
from ..utils.output_files import disk_full_error
from ..utils.weights_io import load_state_dict
from . import paddleseg_checkpoint
from .run_state import read_run_state

MODEL_FILE = 'model.pdparams'
OPTIMIZER_FILE = 'model.pdopt'
STATE_FILE = 'state.json'
LATEST_FILE = 'latest'
BEST_DIR = 'best_model'
ITER_DIR_PATTERN = re.compile(r'^iter_(\d+)$')
_TMP_MARK = '.tmp-'
_OLD_SUFFIX = '.old'
# what _replace_folder names the previous folder while swapping: <final>.old.tmp-<pid>
_BACKUP_PATTERN = re.compile(r'^(?P<final>.+)' + re.escape(_OLD_SUFFIX + _TMP_MARK) + r'\d+$')


def iter_dir_name(iteration: int) -> str:
    """Folder name of the checkpoint taken after ``iteration`` steps."""
    return f'iter_{iteration}'


def _replace_folder(tmp_dir: str, final_dir: str) -> None:
    """Move a complete temporary folder to its final name, replacing an older one."""
    old_dir = None
    if os.path.exists(final_dir):
        old_dir = _temporary_name(final_dir + _OLD_SUFFIX)
        os.replace(final_dir, old_dir)
    os.replace(tmp_dir, final_dir)
    if old_dir is not None:
        shutil.rmtree(old_dir, ignore_errors=True)


def _temporary_name(path: str) -> str:
    """A sibling name for writing ``path`` before the final rename (unique per process)."""
    return f'{path}{_TMP_MARK}{os.getpid()}'


def _write_text_atomically(path: str, text: str) -> None:
    tmp = _temporary_name(path)
    try:
        with open(tmp, 'w', encoding='utf-8') as f:
            f.write(text)
        os.replace(tmp, path)
    except OSError as error:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise disk_full_error(path, error) from error


# saved inside model.pdopt: {paddle parameter name: structured name} at save time
_NAME_MAP_KEY = 'structured_param_names'


def _rename_accumulators(state: Dict[str, Any], renames: Dict[str, str]) -> Dict[str, Any]:
    """Optimizer state with each key's parameter-name prefix replaced per ``renames``.

    Paddle keys optimizer moments by the parameter's unique name plus a suffix
    (``conv2d_4.w_0_velocity_0``); the longest matching name wins.
    """
    by_length = sorted(renames, key=len, reverse=True)
    renamed = {}
    for key, value in state.items():
        new_key = key
        for old in by_length:
            if key.startswith(old + '_') or key == old:
                new_key = renames[old] + key[len(old):]
                break
        renamed[new_key] = value
    return renamed


def optimizer_state(model: paddle.nn.Layer, optimizer: paddle.optimizer.Optimizer) -> Dict[str, Any]:
    """``optimizer.state_dict()`` plus the map from parameter names to structured names.

    Paddle's parameter names (``conv2d_4.w_0``) depend on how many layers the process
    built before; the structured names (``backbone.conv1.weight``) do not, so the map lets
    ``load_optimizer_state`` restore the moments into a model built differently.
    """
    state = dict(optimizer.state_dict())
    state[_NAME_MAP_KEY] = {p.name: name for name, p in model.named_parameters()}
    return state


def load_optimizer_state(model: paddle.nn.Layer, optimizer: paddle.optimizer.Optimizer,
                         state: Dict[str, Any]) -> None:
    """Load a state from ``optimizer_state`` (or a plain paddle one) into ``optimizer``."""
    state = dict(state)
    saved_names = state.pop(_NAME_MAP_KEY, None)
    if saved_names:
        current = {name: p.name for name, p in model.named_parameters()}
        renames = {old: current[structured] for old, structured in saved_names.items()
                   if structured in current and current[structured] != old}
        if renames:
            state = _rename_accumulators(state, renames)
            if isinstance(state.get('master_weights'), dict):
                state['master_weights'] = _rename_accumulators(state['master_weights'], renames)
    optimizer.set_state_dict(state)


def write_snapshot(folder: str, model: paddle.nn.Layer,
                   optimizer: Optional[paddle.optimizer.Optimizer],
                   state: Dict[str, Any]) -> str:
    """Write weights (and optimizer, state.json) into ``folder`` atomically; return it.

    Args:
        folder: final folder path; its parent is created when missing.
        model: the (unwrapped) network whose ``state_dict`` is saved.
        optimizer: saved to model.pdopt when given.
        state: JSON-serialisable run state written to state.json.
    """
    tmp_dir = _temporary_name(os.path.abspath(folder))
    shutil.rmtree(tmp_dir, ignore_errors=True)
    os.makedirs(tmp_dir)
    try:
        paddle.save(model.state_dict(), os.path.join(tmp_dir, MODEL_FILE))
        if optimizer is not None:
            paddle.save(optimizer_state(model, optimizer), os.path.join(tmp_dir, OPTIMIZER_FILE))
        with open(os.path.join(tmp_dir, STATE_FILE), 'w', encoding='utf-8') as f:
            json.dump(state, f, indent=1)
        _replace_folder(tmp_dir, folder)
    except OSError as error:
        shutil.rmtree(tmp_dir, ignore_errors=True)
        raise disk_full_error(folder, error) from error  # ENOSPC named as a full disk
    except BaseException:
        shutil.rmtree(tmp_dir, ignore_errors=True)
        raise
    return folder


def list_checkpoints(save_dir: str) -> List[str]:
    """The complete ``iter_N`` folders under save_dir, oldest (smallest N) first."""
    if not os.path.isdir(save_dir):
        return []
    found = []
    for name in os.listdir(save_dir):
        match = ITER_DIR_PATTERN.match(name)
        if match and os.path.isdir(os.path.join(save_dir, name)):
            found.append((int(match.group(1)), os.path.join(save_dir, name)))
    return [path for _, path in sorted(found)]


def save_checkpoint(save_dir: str, iteration: int, model: paddle.nn.Layer,
                    optimizer: paddle.optimizer.Optimizer, state: Dict[str, Any],
                    keep_checkpoint_max: int = 5) -> str:
    """Save ``save_dir/iter_<iteration>``, point ``latest`` at it, prune old ones.

    Args:
        keep_checkpoint_max: how many iter_N folders to keep (newest first); <= 0 keeps all.

    Returns:
        The checkpoint folder path.
    """
    folder = write_snapshot(os.path.join(save_dir, iter_dir_name(iteration)), model,
                            optimizer, state)
    _write_text_atomically(os.path.join(save_dir, LATEST_FILE), iter_dir_name(iteration) + '\n')
    if keep_checkpoint_max > 0:
        for stale in list_checkpoints(save_dir)[:-keep_checkpoint_max]:
            if os.path.abspath(stale) != os.path.abspath(folder):
                shutil.rmtree(stale, ignore_errors=True)
    return folder


def _restore_interrupted_replacements(save_dir: str) -> None:
    """Rename ``X.old.tmp-PID`` back to ``X`` where ``X`` is missing.

    ``_replace_folder`` moves the previous ``X`` aside before moving the new one in; a run
    killed between the two renames leaves only that backup, which is complete.
    """
    backups: Dict[str, List[str]] = {}
    for name in os.listdir(save_dir):
        match = _BACKUP_PATTERN.match(name)
        if match and os.path.isdir(os.path.join(save_dir, name)):
            backups.setdefault(match.group('final'), []).append(os.path.join(save_dir, name))
    for final, paths in backups.items():
        final_dir = os.path.join(save_dir, final)
        if not os.path.exists(final_dir):
            os.replace(max(paths, key=os.path.getmtime), final_dir)


def remove_partial_folders(save_dir: str) -> None:
    """Clean up after a run that was killed while saving.

    A folder whose replacement was interrupted (only its ``.old`` backup left) is restored
    under its own name first; every other temporary folder or file is deleted.
    """
    if not os.path.isdir(save_dir):
        return
    _restore_interrupted_replacements(save_dir)
    for name in os.listdir(save_dir):
        if _TMP_MARK in name:
            path = os.path.join(save_dir, name)
            if os.path.isdir(path):
                shutil.rmtree(path, ignore_errors=True)
            else:
                os.remove(path)


def latest_checkpoint(save_dir: str) -> Optional[str]:
    """The folder named by ``save_dir/latest``, or None when there is none."""
    pointer = os.path.join(save_dir, LATEST_FILE)
    if not os.path.isfile(pointer):
        return None
    with open(pointer, encoding='utf-8') as f:
        folder = os.path.join(save_dir, f.read().strip())
    return folder if os.path.isdir(folder) else None


def resolve_checkpoint_dir(path: str) -> str:
    """Accept a checkpoint folder or a save_dir holding ``latest``; return the folder.

    Raises:
        FileNotFoundError: naming the path when neither form is found.
    """
    if os.path.isfile(os.path.join(path, MODEL_FILE)):
        return path
    folder = latest_checkpoint(path)
    if folder is None:
        raise FileNotFoundError(
            f'--resume_model {path!r} is neither a checkpoint folder (with {MODEL_FILE}) '
            f'nor a save_dir with a {LATEST_FILE!r} file naming one.')
    return folder


def read_state(folder: str) -> Dict[str, Any]:
    """The state.json of a checkpoint folder ({} for folders written without one), every
    field checked (``run_state``: RunStateError naming the file and the key)."""
    return read_run_state(folder)


def load_checkpoint(path: str, model: paddle.nn.Layer,
                    optimizer: Optional[paddle.optimizer.Optimizer] = None) -> Dict[str, Any]:
    """Load weights and optimizer state from a checkpoint; return its state.json.

    Args:
        path: an iter_N folder, or a save_dir whose ``latest`` names one. Folders written by
            PaddleSeg's train.py work too: the iteration is read from the folder name and the
            optimizer's accumulators are mapped onto our parameters (``paddleseg_checkpoint``).

    Raises:
        FileNotFoundError: no checkpoint at ``path``, or it lacks the optimizer file.
        paddlematting.utils.pretrained.WeightsMismatchError: the weights' keys or shapes
            differ from the model's (named in the message); the model is left unchanged.
    """
    folder = resolve_checkpoint_dir(path)
    try:
        load_pretrained_weights(model, os.path.join(folder, MODEL_FILE), strict=True)
    except WeightsMismatchError as error:
        raise WeightsMismatchError(
            f'--resume_model {path!r}: the checkpoint does not fit the model built from the '
            f'config (was it trained with another config?): {error}') from error
    if optimizer is not None:
        opt_path = os.path.join(folder, OPTIMIZER_FILE)
        if not os.path.isfile(opt_path):
            raise FileNotFoundError(f'Checkpoint {folder!r} has no {OPTIMIZER_FILE}; it cannot '
                                    f'be resumed exactly (is it a best_model folder?).')
        opt_state = load_state_dict(opt_path)
        if paddleseg_checkpoint.is_paddleseg_optimizer_state(opt_state, _NAME_MAP_KEY):
            opt_state = paddleseg_checkpoint.convert_optimizer_state(model, opt_state, opt_path)
        load_optimizer_state(model, optimizer, opt_state)
    state = read_state(folder)
    if 'iter' not in state:
        # PaddleSeg writes no state.json: its iteration is the N of the iter_N folder
        folder_iter = paddleseg_checkpoint.iteration_from_folder(folder)
        if folder_iter is not None:
            state['iter'] = folder_iter
    state.setdefault('folder', folder)
    return state

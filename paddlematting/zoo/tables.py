"""The zoo as tables: plain text for ``paddlematting models``, Markdown for the README (a
test checks that the README's table equals ``markdown_table(load_zoo())``)."""
import os
from typing import Any, List, Mapping, Optional

from .catalog import REPO_ROOT, Zoo, ZooEntry

__all__ = ['figures_text', 'markdown_table', 'text_table']

_MARKDOWN_HEADER = ('| Name | Model (config) | Task | Input | Published figures | Licence | Commercial use | Weights |',
                    '|-|-|-|-|-|-|-|-|')
_TEXT_COLUMNS = ('name', 'task', 'input', 'licence', 'weights')


def figures_text(figures: Optional[Mapping[str, Any]]) -> str:
    """``{'benchmark': 'PPM-100', 'SAD': 112.73, 'source': ...}`` -> ``'PPM-100: SAD 112.73'``."""
    if not figures:
        return 'not published'
    values = ', '.join(f'{k} {v}' for k, v in figures.items() if k not in ('benchmark', 'source'))
    return f'{figures.get("benchmark", "?")}: {values}'


def _weights_cell(entry: ZooEntry) -> str:
    if entry.weights is None:
        return 'none (no weights)' if 'no weights' in entry.licence else 'none published'
    file_name = entry.weights.rsplit('/', 1)[-1]
    return f'[{file_name}]({entry.weights})'


def _config_link(entry: ZooEntry) -> str:
    """The entry's title linked to its config, relative to the repository (README's links)."""
    path = os.path.relpath(entry.config, REPO_ROOT).replace(os.sep, '/')
    return f'[{entry.title}]({path})'


def markdown_table(zoo: Zoo) -> str:
    """One Markdown row per entry, in the zoo file's order; the model links to its config."""
    rows = list(_MARKDOWN_HEADER)
    for e in zoo.entries.values():
        name = f'`{e.name}`' + (f' ({", ".join(f"`{a}`" for a in e.aliases)})' if e.aliases else '')
        rows.append(f'| {name} | {_config_link(e)} | {e.task} | {e.input_size} | {figures_text(e.figures)} '
                    f'| {e.licence} | {e.commercial} | {_weights_cell(e)} |')
    return '\n'.join(rows)


def text_table(zoo: Zoo) -> str:
    """A fixed-width table (name, task, input, licence, weights) for the terminal."""
    rows: List[List[str]] = [list(_TEXT_COLUMNS)]
    for e in zoo.entries.values():
        weights = e.weights.rsplit('/', 1)[-1] if e.weights else '-'
        # the licence's name only: the notes in brackets are in the README table
        rows.append([e.name, e.task, e.input_size, e.licence.split(' (')[0], weights])
    widths = [max(len(r[i]) for r in rows) for i in range(len(_TEXT_COLUMNS))]
    lines = ['  '.join(cell.ljust(w) for cell, w in zip(r, widths)).rstrip() for r in rows]
    defaults = ', '.join(f'{k} {v}' for k, v in zoo.defaults.items())
    return '\n'.join(lines + ([f'\ndefault chain: {defaults}'] if defaults else []))

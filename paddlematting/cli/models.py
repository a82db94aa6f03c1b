"""``paddlematting models``: the model zoo as a table (``--markdown``: README's table).

    paddlematting models                 name, task, input size, licence, weights file
    paddlematting models --markdown      the full table README shows (figures, commercial use)
    paddlematting models --task trimap   only the refiners (or portrait, any-object, video)
"""
import argparse
import sys
from typing import List, Optional

from ..zoo import TASKS, Zoo, load_zoo, markdown_table, text_table
from .errors import reports_user_errors


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog='paddlematting models', description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--markdown', action='store_true',
                        help="print the Markdown table README shows (figures, commercial use)")
    parser.add_argument('--task', choices=TASKS, default=None, help='only the models of this task')
    return parser.parse_args(argv)


@reports_user_errors
def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    zoo = load_zoo()
    if args.task:
        zoo = Zoo({n: e for n, e in zoo.entries.items() if e.task == args.task}, zoo.defaults)
    print(markdown_table(zoo) if args.markdown else text_table(zoo))
    return 0


if __name__ == '__main__':
    sys.exit(main())

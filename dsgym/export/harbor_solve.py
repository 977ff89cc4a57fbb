"""The reference solution of an exported Harbor task, played the way dsgym's oracle agent plays it.

``dsgym export harbor`` copies this file into each task's ``solution/`` as ``run_solution.py``;
``solve.sh`` runs it with the sandbox image's Python.  The solution's code runs as one cell of
an IPython shell in the working directory (what a dsgym kernel cell is), then the value it left
in ``answer`` is written to the answer file, as an agent must write it; a prediction task's
solution writes its submission file itself.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("solution", type=Path)
    parser.add_argument("--workdir", type=Path, default=Path("/workspace"))
    parser.add_argument("--answer-file", help="where to write str(answer) (answer tasks only)")
    args = parser.parse_args(argv)
    os.environ.setdefault("MPLBACKEND", "Agg")
    os.chdir(args.workdir)
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    result = shell.run_cell(args.solution.read_text(encoding="utf-8"))
    if not result.success:
        print("the reference solution failed", file=sys.stderr)
        return 1
    if args.answer_file:
        if "answer" not in shell.user_ns:
            print("the reference solution left no `answer`", file=sys.stderr)
            return 1
        (args.workdir / args.answer_file).write_text(str(shell.user_ns["answer"]).strip() + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())

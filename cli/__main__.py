"""``python -m genurl_graph.cli``: the ``genurl`` command, in the form DGL's launcher can start
(it only starts commands that name python). ``torch.distributed.launch`` puts its
``--local-rank=N`` before the sub-command: it is moved behind it."""

import sys

from .main import main

if __name__ == "__main__":
    argv = sys.argv[1:]
    ranks = [a for a in argv if a.startswith(("--local-rank=", "--local_rank="))]
    rest = [a for a in argv if a not in ranks]
    sys.argv = [sys.argv[0]] + rest + ranks
    main()

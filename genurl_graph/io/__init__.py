"""Reading user files (edge lists, node lists, features, labels) and writing outputs atomically.

Every problem in a file becomes an :class:`~genurl_graph.errors.InputError` naming the file and,
where it has one, the line. Edge lists are parsed by pandas' C reader (no Python loop per edge);
only when that fast path meets something it cannot read exactly does a line-by-line scan run,
which reads the same rows (and names the bad line).

Node ids are text: two ids that differ as text are different nodes (``007`` and ``7``, ``1.0``
and ``1``). Only when every id of a file is a canonical integer (``-?(0|[1-9][0-9]*)``, within
64 bits) are ids integers, sorted numerically. Files are UTF-8 (a BOM is skipped) and may be
gzip-compressed.

One module per concern: :mod:`.text` (files, bytes, lines), :mod:`.ids` (node ids),
:mod:`.edges` (edge and node lists), :mod:`.arrays` (features, matrices, images),
:mod:`.labels`, :mod:`.inputs` (a model's rows and their ids), :mod:`.output` (atomic writes,
embeddings).
"""

from .arrays import (
    check_finite_matrix,
    load_array,
    read_feature_table,
    read_features,
    read_images,
    read_matrix,
)
from .edges import EdgeList, read_edgelist, read_nodes
from .ids import canonical_ints, index_ids, line_of, normalise_ids
from .inputs import read_inputs, read_rows
from .labels import Labels, read_labels
from .output import (
    atomic_files,
    atomic_write,
    check_output_path,
    nodes_path_for,
    read_embeddings,
    write_embeddings,
    write_json,
)
from .text import COMMENT_CHARS, HEADER_WORDS, data_lines, existing_file, show

__all__ = [
    "COMMENT_CHARS",
    "EdgeList",
    "HEADER_WORDS",
    "Labels",
    "atomic_files",
    "atomic_write",
    "canonical_ints",
    "check_finite_matrix",
    "check_output_path",
    "data_lines",
    "existing_file",
    "index_ids",
    "line_of",
    "load_array",
    "nodes_path_for",
    "normalise_ids",
    "read_edgelist",
    "read_embeddings",
    "read_feature_table",
    "read_features",
    "read_images",
    "read_labels",
    "read_inputs",
    "read_matrix",
    "read_nodes",
    "read_rows",
    "show",
    "write_embeddings",
    "write_json",
]

"""Property-based tests of the readers (hypothesis): messy files in, and either an InputError
naming the file and the line, or exactly the ids, rows and weights a careful reader of the file
expects. The number of generated cases per test is set by ``max_examples`` below: 630 in all,
about half a minute on 2 cores."""

import gzip
import os
import re

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from genurl_graph import io as gio  # noqa: E402
from genurl_graph.errors import InputError  # noqa: E402

# GENURL_HYPOTHESIS_SCALE=10 runs ten times as many cases (a deeper search than CI's).
SCALE = int(os.environ.get("GENURL_HYPOTHESIS_SCALE", "1"))
FAST = settings(max_examples=150 * SCALE, deadline=None, suppress_health_check=list(HealthCheck))
SOME = settings(max_examples=60 * SCALE, deadline=None, suppress_health_check=list(HealthCheck))

CANONICAL = re.compile(r"0|-?[1-9][0-9]{0,18}")

# Id text: no separator (space, tab, comma), no line break, not starting with a comment char.
_id_chars = st.characters(
    blacklist_categories=("Cs", "Cc", "Zs", "Zl", "Zp"), blacklist_characters=" \t,\r\n\x85"
)
text_id = st.text(_id_chars, min_size=1, max_size=8).filter(
    lambda s: s[0] not in "#%" and s.lower() not in gio.HEADER_WORDS
)
int_id = st.integers(-(2**63) + 1, 2**63 - 1).map(str)
messy_int_id = st.sampled_from(
    [
        "007",
        "7",
        "+7",
        "1.0",
        "1",
        "1e3",
        "-0",
        "0",
        "00",
        "9007199254740993",
        "9007199254740992",
        "18446744073709551616",
    ]
)
weight_text = st.one_of(
    st.floats(0, 1e6, allow_nan=False, allow_infinity=False).map(repr),
    st.integers(0, 1000).map(str),
    st.sampled_from(["1e-3", "2.5E2", "0.0", "3."]),
)
sep = st.sampled_from([" ", "\t", ",", "  ", " \t", ", "])


@st.composite
def edge_files(draw):
    """(file bytes, expected ids as text, expected (u, v, w) edges, first data line number)."""
    kind = draw(st.sampled_from(["int", "text", "messy"]))
    pool = draw(
        st.lists(
            {"int": int_id, "text": text_id, "messy": messy_int_id}[kind],
            min_size=2,
            max_size=12,
            unique=True,
        )
    )
    n_edges = draw(st.integers(1, 25))
    weighted = draw(st.booleans())
    edges = []
    for _ in range(n_edges):
        u, v = draw(st.sampled_from(pool)), draw(st.sampled_from(pool))
        edges.append((u, v, draw(weight_text) if weighted else None))
    lines, data_lines = [], []
    # one separator for the whole file (pandas' fast path), or a mix per field (the exact scan)
    one = draw(sep)
    mixed = draw(st.integers(0, 3)) == 0
    field_sep = sep if mixed else st.just(one)
    if draw(st.booleans()):
        lines.append(draw(st.sampled_from(["# a comment", "% other", "#", "   # indented"])))
    header = draw(st.booleans())
    if header:
        lines.append(
            draw(st.sampled_from(["source target", "src,dst", "from\tto", "node1 node2"]))
            + (draw(field_sep) + "weight" if weighted else "")
        )
    for u, v, w in edges:
        if draw(st.integers(0, 3)) == 0:  # blank and comment lines, some shaped like an edge line
            c = draw(field_sep)
            lines.append(
                draw(
                    st.sampled_from(
                        [
                            "",
                            "  ",
                            "# between lines",
                            "%x",
                            "\t# tab",
                            "#",
                            "#x" + c + "y" + (c + "1" if weighted else ""),
                            "%y" + c + "z" + (c + "2" if weighted else ""),
                        ]
                    )
                )
            )
        text = u + draw(field_sep) + v + ("" if w is None else draw(field_sep) + w)
        if draw(st.booleans()):
            text = (
                draw(st.sampled_from(["", " ", "\t"]))
                + text
                + draw(st.sampled_from(["", " ", "\t"]))
            )
        lines.append(text)
        data_lines.append(len(lines))
    # a comment shaped like an edge line after the first edge (pandas' fast path takes its
    # comment character from the first lines only, if not told)
    if draw(st.booleans()):
        c = draw(field_sep)
        at = draw(st.integers(data_lines[0], len(lines)))
        lines.insert(
            at, draw(st.sampled_from(["#", "%"])) + "x" + c + "y" + (c + "1" if weighted else "")
        )
        data_lines = [d + (d > at) for d in data_lines]
    end = draw(st.sampled_from(["\n", "\r\n"]))
    raw = (end.join(lines) + draw(st.sampled_from([end, ""]))).encode("utf-8")
    if draw(st.booleans()):
        raw = b"\xef\xbb\xbf" + raw
    tokens = [t for u, v, _ in edges for t in (u, v)]
    first_seen = list(dict.fromkeys(tokens))
    if all(CANONICAL.fullmatch(t) for t in tokens) and all(
        -(2**63) <= int(t) < 2**63 for t in tokens
    ):
        ids = [str(t) for t in sorted({int(t) for t in tokens})]
    else:
        ids = first_seen
    expected = [(u, v, 1.0 if w is None else float(w)) for u, v, w in edges]
    return raw, ids, expected, data_lines


def _read(tmp_path, raw, gz=False, name="e.txt"):
    path = tmp_path / name
    path.write_bytes(gzip.compress(raw) if gz else raw)
    return path, gio.read_edgelist(path)


@FAST
@given(edge_files(), st.booleans())
def test_edge_lists_read_as_written(tmp_path_factory, case, gz):
    raw, ids, expected, _ = case
    path, edges = _read(tmp_path_factory.mktemp("e"), raw, gz)
    got_ids = [str(i) for i in edges.ids]
    kept = [(u, v, w) for u, v, w in expected if w > 0]
    assert got_ids == ids
    got = sorted((got_ids[s], got_ids[d], w) for s, d, w in zip(edges.src, edges.dst, edges.weight))
    assert got == sorted(kept)


FAULTS = {
    "one column": (lambda: "lonely", "found one column"),
    "four columns": (lambda: "a b 1 2", "at most 3 columns"),
    "text weight": (lambda: "a b heavy", "is not a number"),
    "negative weight": (lambda: "a b -1", "finite number >= 0"),
    "nan weight": (lambda: "a b nan", "finite number >= 0"),
    "inf weight": (lambda: "a b inf", "finite number >= 0"),
}


@FAST
@given(edge_files(), st.sampled_from(sorted(FAULTS) + ["bad utf-8", "nul byte"]), st.data())
def test_bad_line_named(tmp_path_factory, case, fault, data):
    raw, _, _, data_lines = case
    lines = raw.decode("utf-8-sig").replace("\r\n", "\n").split("\n")
    # after the first data line, so the fault cannot read as a header
    at = data.draw(st.integers(data_lines[0], len(lines)), label="insert after line")
    if fault == "bad utf-8":
        bad = b"a\xff b"
    elif fault == "nul byte":
        bad = b"a\x00 b"
    else:
        bad = FAULTS[fault][0]().encode()
    out = "\n".join(lines[:at]).encode() + b"\n" + bad + b"\n" + "\n".join(lines[at:]).encode()
    path = tmp_path_factory.mktemp("f") / "e.txt"
    path.write_bytes(out)
    with pytest.raises(InputError) as info:
        gio.read_edgelist(path)
    assert info.value.path == str(path) and info.value.line == at + 1, (str(info.value), at + 1)
    if fault in FAULTS:
        assert FAULTS[fault][1] in info.value.what


@FAST
@given(
    st.lists(
        st.tuples(text_id, st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=2, max_size=2)),
        min_size=1,
        max_size=15,
        unique_by=lambda r: r[0],
    ),
    st.booleans(),
    sep,
    st.data(),
)
def test_feature_tables(tmp_path_factory, rows, header, s, data):
    text = ("node" + s + "a" + s + "b\n" if header else "") + "".join(
        f"{i}{s}{x!r}{s}{y!r}\n" for i, (x, y) in rows
    )
    path = tmp_path_factory.mktemp("x") / "f.csv"
    path.write_text(text, encoding="utf-8")
    order = data.draw(st.permutations([i for i, _ in rows]))
    ids = np.array(order, dtype=str)
    feats = gio.read_features(path, ids)
    want = {i: v for i, v in rows}
    assert np.allclose(feats, np.array([want[i] for i in order], dtype=np.float32))
    # a repeated row is named by its line
    dup = text + f"{rows[0][0]}{s}1{s}2\n"
    path.write_text(dup, encoding="utf-8")
    with pytest.raises(InputError, match="two feature rows") as info:
        gio.read_features(path, ids)
    assert info.value.line == dup.count("\n")


@SOME
@given(
    st.lists(st.tuples(text_id, st.sampled_from(["x", "y", "z", "w"])), min_size=2, max_size=20),
    st.data(),
)
def test_labels(tmp_path_factory, pairs, data):
    nodes = list(dict.fromkeys(n for n, _ in pairs))
    path = tmp_path_factory.mktemp("l") / "l.txt"
    path.write_text("".join(f"{n} {c}\n" for n, c in pairs), encoding="utf-8")
    ids = np.array(nodes + ["extra"], dtype=str)
    if len(set(pairs)) < len(pairs):  # the same line twice: refused, naming the second
        with pytest.raises(InputError, match="twice") as info:
            gio.read_labels(path, ids, len(ids))
        seen = set()
        for number, p in enumerate(pairs, 1):
            if p in seen:
                assert info.value.line == number
                break
            seen.add(p)
        return
    labs = gio.read_labels(path, ids, len(ids))
    per_node = {}
    for n, c in pairs:
        per_node.setdefault(n, set()).add(c)
    assert labs.multilabel == any(len(v) > 1 for v in per_node.values())
    for row, y in zip(labs.rows, labs.y):
        got = {labs.classes[j] for j in (np.flatnonzero(y) if labs.multilabel else [y])}
        assert got == per_node[ids[row]]
    assert len(labs.rows) == len(per_node)


@SOME
@given(
    st.integers(1, 12),
    st.integers(1, 5),
    st.booleans(),
    st.sampled_from([",", "\t", " "]),
    st.data(),
)
def test_matrices(tmp_path_factory, n, d, header, s, data):
    X = np.array(
        data.draw(
            st.lists(
                st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=d, max_size=d),
                min_size=n,
                max_size=n,
            )
        )
    )
    text = (s.join(f"c{j}" for j in range(d)) + "\n" if header else "") + "".join(
        s.join(repr(float(v)) for v in row) + "\n" for row in X
    )
    path = tmp_path_factory.mktemp("m") / "x.csv"
    path.write_text(text)
    assert np.allclose(gio.read_matrix(path), X.astype(np.float32))
    bad_row = data.draw(st.integers(0, n - 1))
    rows = text.splitlines()
    rows[bad_row + header] = s.join(["nan"] * d)
    path.write_text("\n".join(rows) + "\n")
    with pytest.raises(InputError, match="NaN or inf") as info:
        gio.read_matrix(path)
    assert info.value.line == bad_row + header + 1
    np.save(path.with_suffix(".npy"), X)
    assert np.allclose(gio.read_matrix(path.with_suffix(".npy")), X.astype(np.float32))


@SOME
@given(
    st.sampled_from([np.uint8, np.float32, np.float64, np.int16, object, np.complex64, np.str_]),
    st.lists(st.integers(0, 6), min_size=1, max_size=4),
    st.booleans(),
)
def test_images_and_arrays(tmp_path_factory, dtype, shape, npz):
    folder = tmp_path_factory.mktemp("i")
    arr = np.zeros(shape, dtype=dtype)
    path = folder / ("a.npz" if npz else "a.npy")
    if npz:
        np.savez(path, arr)
    else:
        np.save(path, arr)
    numeric = np.dtype(dtype).kind in "biuf"
    if not numeric or arr.size == 0:
        with pytest.raises(InputError) as info:
            gio.read_images(path)
        assert info.value.path == str(path)
    else:
        assert np.array_equal(gio.read_images(path), arr)
    if len(shape) == 2 and numeric and arr.size:
        assert gio.read_matrix(path).shape == tuple(shape)
    elif not (len(shape) == 2 and numeric and arr.size):
        with pytest.raises(InputError):
            gio.read_matrix(path)

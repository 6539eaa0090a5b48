"""A CSV export that cannot be parsed at all still gets an error naming the file and the row to
fix, as every other problem does (docs/product-exports.md): a title with an unquoted comma, a
file saved in Latin-1. Not Polars' parser message, which named neither and advised one of its
own options (``truncate_ragged_lines=True``) that a host cannot set."""

from __future__ import annotations

from pathlib import Path

import pytest

from analytics.exports import ExportError, load_exports
from tests.analytics.conftest import write_golden_exports


def test_an_unquoted_comma_names_its_row(tmp_path: Path) -> None:
    write_golden_exports(tmp_path)
    path = tmp_path / "contexts.csv"
    path.write_text(path.read_text().replace("C v D", "C, v D"))
    with pytest.raises(ExportError) as err:
        load_exports(tmp_path)
    assert str(err.value) == (
        "contexts.csv row 2: 7 fields where the header has 6 (a value holding a comma must "
        "be in double quotes)"
    )


def test_a_quoted_comma_is_a_value(tmp_path: Path) -> None:
    write_golden_exports(tmp_path)
    path = tmp_path / "contexts.csv"
    path.write_text(path.read_text().replace("C v D", '"C, v D"'))
    titles = load_exports(tmp_path).contexts.collect()["title"].to_list()
    assert "C, v D" in titles


def test_text_that_is_not_utf8_names_its_row(tmp_path: Path) -> None:
    write_golden_exports(tmp_path)
    path = tmp_path / "users.csv"
    text = path.read_text().replace("f,2026-01-02T00:00:00+00:00,pro,DE",
                                    "f,2026-01-02T00:00:00+00:00,pro,Köln")  # fmt: skip
    path.write_bytes(text.encode("latin-1"))
    with pytest.raises(ExportError) as err:
        load_exports(tmp_path)
    assert str(err.value) == (
        "users.csv row 8: not UTF-8 text (byte 0xf6 at position 34 of the line); "
        "save the file as UTF-8"
    )

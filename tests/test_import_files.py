"""Reading a lead list: the header's columns, each row's values and numbers, and files refused whole."""
from __future__ import annotations

import pytest

from domain.imports import FileProblem, count, layout, rows


def read(text: str, encoding: str = "utf-8"):
    content = text.encode(encoding)
    shape = layout(content)
    return shape, list(rows(content, shape))


def test_headers_match_case_insensitively_and_custom_fields_keep_their_name():
    shape, found = read("Email, SOURCE ,First_Name,custom.Industry,CUSTOM.size\n"
                        "Ada@Example.com,event,Ada,Engines,12\n")
    assert [c.field for c in shape.columns] == ["email", "source", "first_name", "custom.Industry", "custom.size"]
    assert found[0].number == 2
    assert found[0].values == {"email": "Ada@Example.com", "source": "event", "first_name": "Ada",
                               "custom": {"Industry": "Engines", "size": "12"}}


def test_unknown_columns_are_reported_not_dropped_silently():
    shape, found = read("email,source,fax\nada@example.com,event,+1 555\n")
    assert shape.unknown == ["fax"]
    assert shape.warnings and "'fax'" in shape.warnings[0]
    assert found[0].values == {"email": "ada@example.com", "source": "event"}


def test_empty_cells_are_absent_fields_and_blank_lines_keep_their_row_number():
    _, found = read("email,source,company\na@example.com,event,\n\nb@example.com,event,Navy\n")
    assert [(r.number, r.values) for r in found] == [
        (2, {"email": "a@example.com", "source": "event"}),
        (4, {"email": "b@example.com", "source": "event", "company": "Navy"}),
    ]


def test_a_row_with_more_values_than_columns_is_malformed_and_a_short_one_is_not():
    _, found = read("email,source,company\na@example.com,event,Navy,extra\nb@example.com,event\n")
    assert found[0].values is None and found[0].problem == "4 values where the header has 3 columns"
    assert found[1].values == {"email": "b@example.com", "source": "event"}


def test_semicolons_and_tabs_as_separators_and_a_byte_order_mark():
    shape, found = read("\ufeffemail;source\na@example.com;event\n")
    assert shape.delimiter == ";" and found[0].values == {"email": "a@example.com", "source": "event"}
    shape, found = read("email\tsource\na@example.com\tevent\n")
    assert shape.delimiter == "\t" and found[0].values["source"] == "event"


def test_quoted_values_with_separators_and_line_breaks():
    shape, found = read('email,source,title\na@example.com,event,"VP, Sales\nEMEA"\nb@example.com,event,CTO\n')
    assert found[0].values["title"] == "VP, Sales\nEMEA"
    assert count(b'email,source\na@example.com,event\n\n', layout(b"email,source\n")) == 1


@pytest.mark.parametrize("content, problem", [
    (b"", "empty"),
    (b"\n\n", "empty"),
    (b"email,name\na@example.com,Ada\n", "no 'source' column"),
    (b"first_name,company\nAda,Engines\n", "no 'email' or 'source' column"),
    (b"email,Email,source\n", "name the same field"),
    ("email,source\nzoë@example.com,event\n".encode("latin-1"), "not UTF-8"),
])
def test_files_that_cannot_be_imported_say_why(content, problem):
    with pytest.raises(FileProblem, match=problem):
        shape = layout(content)
        list(rows(content, shape))


def test_broken_quoting_names_the_row():
    content = b'email,source\na@example.com,event\n"b@example.com,event\n'
    with pytest.raises(FileProblem, match="not valid CSV"):
        list(rows(content, layout(content)))

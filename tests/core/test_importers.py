import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dpo_tui.core.importers import detect_format, read_prompts
from dpo_tui.core.importers.base import ImportOptions
from dpo_tui.errors import InputFileError
from dpo_tui.services.importing import import_prompts
from dpo_tui.store.project import ProjectStore
from tests.conftest import DATA, snapshot

INPUTS = DATA / "inputs"


def read(path: Path, **options) -> list:
    return read_prompts(path, detect_format(path), ImportOptions(**options)).prompts


def test_jsonl_reads_prompts_tags_and_source():
    """The third record is the first one once case and spacing are normalized: the same
    prompt, kept once (the first), and counted as a repeat."""
    path = INPUTS / "good.jsonl"
    read_file = read_prompts(path, detect_format(path), ImportOptions())
    prompts = read_file.prompts
    assert [p.text for p in prompts] == [
        "How do I reset my password?",
        "Why was I charged twice this month?",
    ]
    assert (read_file.records, read_file.repeated) == (3, 1)
    assert prompts[0].tags == ("support", "easy")
    assert prompts[0].source == "good.jsonl"
    assert prompts[1].source == "billing_queue"


def test_json_array_reads_objects_and_strings(tmp_path: Path):
    path = tmp_path / "p.json"
    path.write_text(json.dumps([{"question": "What is DPO?"}, "A bare string prompt"], indent=2))
    assert [p.text for p in read(path)] == ["What is DPO?", "A bare string prompt"]


def test_csv_with_multiline_quoted_field_and_field_option(tmp_path: Path):
    path = tmp_path / "p.csv"
    path.write_text('id,Question,tags\n1,"Line one\nline two",code;python\n2,plain,\n')
    prompts = read(path, field="question")
    assert [p.text for p in prompts] == ["Line one\nline two", "plain"]
    assert prompts[0].tags == ("code", "python")


def test_tsv(tmp_path: Path):
    path = tmp_path / "p.tsv"
    path.write_text("prompt\tsource\nhello, world\tforum\n")
    prompts = read(path)
    assert prompts[0].text == "hello, world"
    assert prompts[0].source == "forum"


def test_text_lines_and_blocks(tmp_path: Path):
    lines = tmp_path / "lines.txt"
    lines.write_text("first prompt\nsecond prompt\nthird prompt\n")
    assert [p.text for p in read(lines)] == ["first prompt", "second prompt", "third prompt"]
    mixed = tmp_path / "mixed.txt"
    mixed.write_text("first prompt\nsecond prompt\n\nthird prompt\n")
    assert len(read(mixed)) == 2  # blank lines separate prompts when a block spans lines
    assert len(read(mixed, text_mode="lines")) == 3
    blocks = tmp_path / "blocks.txt"
    blocks.write_text("Summarize:\nsome text\n\n\nSecond prompt\non two lines\n")
    assert [p.text for p in read(blocks)] == [
        "Summarize:\nsome text",
        "Second prompt\non two lines",
    ]
    assert len(read(blocks, text_mode="lines")) == 4


def test_parquet_with_messages_column(tmp_path: Path):
    path = tmp_path / "p.parquet"
    table = pa.table(
        {
            "messages": [
                [{"role": "system", "content": "Be terse."}, {"role": "user", "content": "Hi?"}],
                [{"role": "user", "content": "Second"}],
            ],
            "tags": [["chat"], []],
        }
    )
    pq.write_table(table, path)
    prompts = read(path)
    assert prompts[0].messages is not None
    assert [m.role for m in prompts[0].messages] == ["system", "user"]
    assert prompts[0].text == "system: Be terse.\n\nuser: Hi?"
    assert prompts[0].tags == ("chat",)


def test_parquet_errors_name_the_row(tmp_path: Path):
    path = tmp_path / "p.parquet"
    pq.write_table(pa.table({"prompt": ["ok", None]}), path)
    with pytest.raises(InputFileError, match=r"p.parquet: row 2: field 'prompt' must be text"):
        read(path)


def test_alpaca_instruction_and_input_are_combined(tmp_path: Path):
    path = tmp_path / "a.jsonl"
    path.write_text(
        json.dumps({"instruction": "Translate to French.", "input": "Good morning"}) + "\n"
    )
    assert read(path)[0].text == "Translate to French.\n\nGood morning"


def test_utf8_bom_and_explicit_encoding(tmp_path: Path):
    bom = tmp_path / "bom.csv"
    bom.write_bytes("\ufeffprompt\nhéllo\n".encode())
    assert read(bom)[0].text == "héllo"
    assert read(INPUTS / "latin1.csv", encoding="latin-1")[1].text.startswith("Café au lait")


BAD = [
    ("malformed.jsonl", {}, "line 3: not valid JSON"),
    ("missing_field.jsonl", {}, "line 2: no field 'prompt' (this record has: 'question')"),
    ("not_text.jsonl", {}, "line 2: field 'prompt' must be text, got a number"),
    ("bad_messages.jsonl", {}, "line 2: message 1 in 'messages': role: Input should be"),
    (
        "ends_with_assistant.jsonl",
        {},
        "line 1: the last message in 'messages' must be from the user",
    ),
    ("empty.jsonl", {}, "no prompts found: the file is empty"),
    ("blank_lines_only.txt", {}, "no prompts found: the file is empty"),
    ("empty_prompt.csv", {}, "line 3: the prompt is empty"),
    ("missing_column.csv", {}, "line 2: no prompt field found: expected one of prompt, question"),
    ("missing_column.csv", {"field": "question"}, "line 2: no field 'question'"),
    ("wrong_cell_count.csv", {}, "line 3: 3 values, but the header has 2 columns"),
    ("unclosed_quote.csv", {}, "line 3: not valid CSV"),
    ("broken_array.json", {}, "line 4: expected , or ] between array elements"),
    ("object_not_array.json", {}, "line 1: expected a JSON array"),
    ("oversized.jsonl", {}, "line 2: the prompt is 40,000 characters, over the limit of 32,768"),
    ("latin1.csv", {}, "line 3: not valid utf-8-sig text (byte 0xe9 at column 5)"),
    ("not_parquet.parquet", {}, "not a readable Parquet file"),
]


@pytest.mark.parametrize(("name", "options", "expected"), BAD, ids=[f"{b[0]}-{b[1]}" for b in BAD])
def test_bad_input_names_file_line_and_problem(name: str, options: dict, expected: str):
    with pytest.raises(InputFileError) as caught:
        read(INPUTS / name, **options)
    message = str(caught.value)
    assert message.startswith(str(INPUTS / name))
    assert expected in message


@pytest.mark.parametrize("name", sorted({b[0] for b in BAD}))
def test_failed_import_leaves_project_exactly_as_it_was(project: ProjectStore, name: str):
    import_prompts(project, [INPUTS / "good.jsonl"], ImportOptions())
    before = snapshot(project.path)
    with pytest.raises(InputFileError):
        import_prompts(project, [INPUTS / name], ImportOptions())
    assert snapshot(project.path) == before


def test_multi_file_import_is_all_or_nothing(project: ProjectStore):
    before = snapshot(project.path)
    with pytest.raises(InputFileError, match=r"malformed\.jsonl"):
        import_prompts(
            project, [INPUTS / "good.jsonl", INPUTS / "malformed.jsonl"], ImportOptions()
        )
    assert snapshot(project.path) == before


def test_importing_the_same_file_twice_adds_nothing(project: ProjectStore):
    first = import_prompts(project, [INPUTS / "good.jsonl"], ImportOptions())
    assert (first[0].read, first[0].added, first[0].skipped_duplicates) == (3, 2, 1)
    before = snapshot(project.path)
    second = import_prompts(project, [INPUTS / "good.jsonl"], ImportOptions())
    assert (second[0].added, second[0].skipped_duplicates) == (0, 3)
    assert snapshot(project.path) == before
    [record] = project.imports()
    assert record.format == "jsonl"
    assert record.added == 2
    assert len(record.sha256) == 64


def test_missing_file_and_unknown_suffix(tmp_path: Path):
    with pytest.raises(InputFileError, match="no such file"):
        read(tmp_path / "nope.jsonl")
    odd = tmp_path / "prompts.xlsx"
    odd.write_bytes(b"PK")
    with pytest.raises(InputFileError, match=r"cannot tell the format from the suffix '\.xlsx'"):
        detect_format(odd)
    assert detect_format(odd, "csv") == "csv"

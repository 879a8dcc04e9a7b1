"""What every prompt importer shares: decoding, field detection, validation into `Prompt`s."""

from __future__ import annotations

import codecs
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import ValidationError

from dpo_tui.core.ids import prompt_id
from dpo_tui.core.models import Message, Prompt
from dpo_tui.core.safe_text import storable
from dpo_tui.errors import InputFileError

FIELD_CANDIDATES = ("prompt", "question", "instruction", "input", "text")
DEFAULT_MAX_CHARS = 32_768
TextMode = Literal["auto", "lines", "blocks"]
Fail = Callable[[str], InputFileError]
"""Makes the error for a problem at the record being read (its file and line are known)."""


@dataclass(frozen=True)
class ImportOptions:
    """How to read a prompt file."""

    field: str | None = None
    max_chars: int = DEFAULT_MAX_CHARS
    encoding: str = "utf-8"
    text_mode: TextMode = "auto"


@dataclass(frozen=True)
class RawRecord:
    """One record as read from a file: a dict (JSON object, CSV row) or a bare string."""

    line: int
    value: object


def read_text(path: Path, encoding: str) -> str:
    """The file's text; a decoding error names the line and the offending byte."""
    raw = read_bytes(path)
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise InputFileError(path, f"unknown encoding {encoding!r}") from None
    if encoding.lower().replace("-", "").replace("_", "") in ("utf8", "utf8sig"):
        encoding = "utf-8-sig"  # accept and drop a byte-order mark
    try:
        return raw.decode(encoding)
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        bad = raw[exc.start : exc.start + 1].hex()
        raise InputFileError(
            path,
            f"not valid {encoding} text (byte 0x{bad} at column {column})",
            line=line,
            hint="re-save the file as UTF-8, or name its encoding with --encoding (e.g. latin-1)",
        ) from None


def check_file(path: Path) -> None:
    """Raise a clear error unless `path` is an existing file."""
    if not path.exists():
        raise InputFileError(path, "no such file")
    if not path.is_file():
        raise InputFileError(path, "is not a file")


def read_bytes(path: Path) -> bytes:
    check_file(path)
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InputFileError(path, f"cannot read the file ({exc.strerror})") from None


@dataclass(frozen=True)
class PromptFile:
    """The distinct prompts of a file (the first of each, in file order) and how many
    records it held: a file repeating one prompt 150,000 times holds one prompt in memory."""

    prompts: list[Prompt]
    records: int

    @property
    def repeated(self) -> int:
        """Records that repeat an earlier prompt of the same file."""
        return self.records - len(self.prompts)


def to_prompts(
    path: Path, records: Iterable[RawRecord], options: ImportOptions, unit: str = "line"
) -> PromptFile:
    """Validate raw records into prompts; the first bad record raises, naming its line. A
    record identical to an earlier one (the same text, or the same flat fields) is counted and
    not converted again."""
    converter = _Converter(path, options, unit)
    distinct: dict[str, Prompt] = {}
    seen: set[object] = set()
    count = 0
    for record in records:
        count += 1
        key = _record_key(record.value)
        if key is not None and key in seen:
            continue
        prompt = converter.convert(record)
        if key is not None:
            seen.add(key)
        distinct.setdefault(prompt.id, prompt)
    if not distinct:
        raise InputFileError(path, "no prompts found: the file is empty")
    return PromptFile(list(distinct.values()), count)


def _record_key(value: object) -> object | None:
    """What makes two records the same record: a bare string itself, an object of text and
    number fields as its sorted items; None for anything else (always converted)."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and all(
        isinstance(v, str | int | float | bool) or v is None for v in value.values()
    ):
        return tuple(sorted((str(k), repr(v)) for k, v in value.items()))
    return None


class _Converter:
    def __init__(self, path: Path, options: ImportOptions, unit: str) -> None:
        self.path = path
        self.options = options
        self.unit = unit
        self.field = options.field

    def error(self, line: int, problem: str, hint: str | None = None) -> InputFileError:
        return InputFileError(self.path, problem, line=line, unit=self.unit, hint=hint)

    def convert(self, record: RawRecord) -> Prompt:
        if isinstance(record.value, str):
            if self.options.field is not None:
                raise self.error(
                    record.line,
                    f"expected an object with a field {self.options.field!r}, got a bare string",
                )
            return self._prompt(record.line, record.value, None, {})
        if not isinstance(record.value, dict):
            kind = type(record.value).__name__
            raise self.error(record.line, f"expected an object or a string, got {kind}")
        fields: dict[str, object] = record.value
        field = self._field_for(record.line, fields)
        value = fields.get(field)
        if isinstance(value, list):
            return self._prompt(record.line, "", self._messages(record.line, field, value), fields)
        if not isinstance(value, str):
            raise self.error(record.line, f"field {field!r} must be text, got {_kind(value)}")
        extra = fields.get("input")
        if field == "instruction" and isinstance(extra, str) and extra.strip():
            value = f"{value.rstrip()}\n\n{extra.strip()}"
        return self._prompt(record.line, value, None, fields)

    def _field_for(self, line: int, fields: dict[str, object]) -> str:
        """The chosen field: --field, or the first record's detected one for the whole file."""
        if self.field is None:
            self.field = _detect_field(fields)
            if self.field is None:
                raise self.error(
                    line,
                    "no prompt field found: expected one of "
                    + ", ".join(FIELD_CANDIDATES)
                    + f" or messages (this record has: {_names(fields)})",
                    hint="name the field with --field",
                )
        if self.field in fields:
            return self.field
        folded = {name.casefold(): name for name in fields}
        if self.field.casefold() in folded:
            return folded[self.field.casefold()]
        raise self.error(line, f"no field {self.field!r} (this record has: {_names(fields)})")

    def _messages(self, line: int, field: str, value: list[object]) -> tuple[Message, ...]:
        try:
            return messages_from(value, field)
        except ValueError as exc:
            raise self.error(line, str(exc)) from None

    def _prompt(
        self,
        line: int,
        text: str,
        messages: tuple[Message, ...] | None,
        fields: dict[str, object],
    ) -> Prompt:
        if messages is not None:
            text = "\n\n".join(f"{m.role}: {m.content}" for m in messages)
            if not any(m.content.strip() for m in messages if m.role == "user"):
                raise self.error(line, "the conversation has no user text")
        elif not text.strip():
            raise self.error(line, "the prompt is empty")
        problem = storable(text)
        if problem:
            raise self.error(line, f"the prompt {problem}")
        if len(text) > self.options.max_chars:
            raise self.error(
                line,
                f"the prompt is {len(text):,} characters, over the limit of "
                f"{self.options.max_chars:,}",
                hint="raise the limit with --max-chars, or shorten the prompt",
            )
        return Prompt(
            id=prompt_id(text, messages),
            text=text.strip() if messages is None else text,
            messages=messages,
            source=self._source(line, fields),
            tags=self._tags(line, fields),
        )

    def _source(self, line: int, fields: dict[str, object]) -> str:
        source = fields.get("source")
        if source is None or source == "":
            return self.path.name
        if not isinstance(source, str):
            raise self.error(line, f"field 'source' must be text, got {_kind(source)}")
        if problem := storable(source):
            raise self.error(line, f"the source {problem}")
        return source

    def _tags(self, line: int, fields: dict[str, object]) -> tuple[str, ...]:
        tags = fields.get("tags")
        if tags is None:
            return ()
        if isinstance(tags, str):
            parts = tags.replace(";", ",").split(",")
        elif isinstance(tags, list) and all(isinstance(t, str) for t in tags):
            parts = tags
        else:
            raise self.error(
                line, "field 'tags' must be a list of strings or a comma-separated string"
            )
        for tag in parts:
            if problem := storable(tag):
                raise self.error(line, f"a tag {problem}")
        return tuple(dict.fromkeys(t.strip() for t in parts if t.strip()))


def text_field(fields: dict[str, object], name: str, fail: Fail) -> str:
    """A record's text field (empty when absent); `fail` when it is not text."""
    value = fields.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise fail(f"{name} must be text")
    return value


def messages_from(value: list[object], field: str) -> tuple[Message, ...]:
    """A conversation ending with a user turn; ValueError says which message is wrong."""
    messages = []
    for number, item in enumerate(value, start=1):
        try:
            messages.append(Message.model_validate(item))
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise ValueError(
                f"message {number} in {field!r}: {where + ': ' if where else ''}{first['msg']} "
                '(each message is {"role": "user"|"assistant"|"system", "content": "..."})'
            ) from None
    if not messages:
        raise ValueError(f"field {field!r} is an empty list of messages")
    if messages[-1].role != "user":
        raise ValueError(f"the last message in {field!r} must be from the user")
    return tuple(messages)


def _detect_field(fields: dict[str, object]) -> str | None:
    if isinstance(fields.get("messages"), list):
        return "messages"
    folded = {name.casefold(): name for name in fields}
    for name in FIELD_CANDIDATES:
        if name in folded and fields[folded[name]] not in (None, ""):
            return folded[name]
    return None


def _names(fields: dict[str, object]) -> str:
    return ", ".join(repr(name) for name in fields) or "no fields"


def _kind(value: object) -> str:
    if value is None:
        return "nothing (null)"
    return {bool: "true/false", int: "a number", float: "a number", dict: "an object"}.get(
        type(value), type(value).__name__
    )

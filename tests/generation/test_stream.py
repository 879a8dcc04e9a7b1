"""TextStream: whole characters, stop strings, and pieces that always add up to the text."""

from __future__ import annotations

from dpo_tui.generation.text_stream import TextStream


def run(chunks: list[bytes], stop: tuple[str, ...] = ()) -> tuple[str, list[str], bool]:
    pieces: list[str] = []
    stream = TextStream(stop, pieces.append)
    for chunk in chunks:
        if stream.feed(chunk):
            break
    text = stream.close()
    assert "".join(pieces) == text
    return text, pieces, stream.stopped


def test_characters_split_across_tokens_are_emitted_whole():
    euro, smile = "€".encode(), "😀".encode()
    chunks = [b" Price:", b" 5", euro[:1], euro[1:2], euro[2:], b" ", smile[:3], smile[3:]]
    text, pieces, stopped = run(chunks)
    assert text == "Price: 5€ 😀"
    assert not stopped
    assert all("\ufffd" not in piece for piece in pieces)


def test_an_unfinished_character_at_the_end_becomes_a_replacement_character():
    text, _, _ = run([b"ok ", "é".encode()[:1]])
    assert text == "ok \ufffd"


def test_whitespace_around_the_text_is_dropped():
    text, pieces, _ = run([b"\n\n ", b"Hello", b" there", b"  \n"])
    assert text == "Hello there"
    assert pieces == ["Hello", " there"]


def test_stop_string_cuts_the_text_even_across_tokens():
    text, pieces, stopped = run([b"Sure.", b"\nQues", b"tion:", b" more"], stop=("\nQuestion:",))
    assert stopped
    assert text == "Sure."
    assert pieces == ["Sure."]


def test_a_partial_stop_string_is_held_back_then_released():
    text, pieces, stopped = run([b"a\nQue", b"en", b" of hearts"], stop=("\nQuestion:",))
    assert not stopped
    assert text == "a\nQueen of hearts"
    assert pieces[0] == "a"


def test_earliest_of_several_stop_strings_wins():
    text, _, stopped = run([b"one END two STOP"], stop=("STOP", "END"))
    assert stopped
    assert text == "one"


def test_empty_stop_strings_are_ignored():
    text, _, stopped = run([b"abc"], stop=("",))
    assert not stopped
    assert text == "abc"

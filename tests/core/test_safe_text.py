from dpo_tui.core.safe_text import visible


def test_escape_sequences_become_visible():
    assert visible("a\x1b[31mred\x1b]0;title\x07") == "a\\x1b[31mred\\x1b]0;title\\x07"
    assert visible("over\rwrite\x00\x7f\x9b") == "over\\x0dwrite\\x00\\x7f\\x9b"


def test_bidi_overrides_become_visible():
    assert visible("abc\u202eevil\u2066") == "abc\\u202eevil\\u2066"


def test_ordinary_text_is_unchanged():
    text = "Hello\n\tworld: café, 東京, مرحبا, emoji 🎉, [bold]markup[/]"
    assert visible(text) == text


def test_json_dumps_stays_valid_and_inert():
    import json

    from dpo_tui.core.safe_text import json_dumps

    value = {"name": "caf\u00e9 \x1b[2J \x9b \u202e"}
    text = json_dumps(value)
    assert json.loads(text) == value
    assert "\x1b" not in text and "\x9b" not in text and "\u202e" not in text
    assert "café" in text

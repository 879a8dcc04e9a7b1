from dpo_tui.core.similarity import near_duplicates


def test_near_identical_texts_are_flagged_against_the_closest_earlier_one():
    texts = [
        "I'm sorry your order hasn't arrived. Can you send me the order number?",
        "Orders take 5-7 business days. Contact shipping if it is later.",
        "I'm sorry your order hasn't arrived! Can you send me your order number?",
        "i'm SORRY your order hasn't   arrived. Can you send me the order number?",
    ]
    found = near_duplicates(texts)
    assert set(found) == {2, 3}
    assert found[3] == (0, 1.0)
    assert found[2][0] == 0 and 0.92 <= found[2][1] < 1


def test_distinct_texts_are_not_flagged():
    assert near_duplicates(["yes", "no", "maybe later", ""]) == {}

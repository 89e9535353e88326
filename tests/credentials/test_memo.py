"""credentials.memo.BoundedMemo: values of their keys alone, kept within a bound."""

from credentials.memo import BoundedMemo


def test_a_value_put_is_got_back_by_its_key():
    memo: BoundedMemo[str, int] = BoundedMemo(3)
    assert memo.get("a") is None
    assert memo.put("a", 1) == 1
    assert (memo.get("a"), memo.get("b"), len(memo)) == (1, None, 1)


def test_a_full_memo_is_emptied_before_the_next_value():
    memo: BoundedMemo[int, int] = BoundedMemo(2)
    memo.put(1, 10)
    memo.put(2, 20)
    assert len(memo) == 2

    memo.put(3, 30)
    assert (len(memo), memo.get(1), memo.get(2), memo.get(3)) == (1, None, None, 30)


def test_putting_a_key_again_replaces_its_value():
    memo: BoundedMemo[str, str] = BoundedMemo(2)
    memo.put("k", "old")
    memo.put("k", "new")
    assert memo.get("k") == "new"

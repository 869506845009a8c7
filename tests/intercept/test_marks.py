from hypothesis import given
from hypothesis import strategies as st

from netwarden.intercept.marks import (
    MARK_ACCEPT,
    MARK_BLOCK,
    MARK_DROP,
    MARK_MASK,
    combine_mark,
    mark_for,
    verdict_of_mark,
)
from netwarden.network.connection import Verdict

marks = st.integers(min_value=0, max_value=0xFFFFFFFF)


def test_each_verdict_has_its_own_mark_inside_the_mask() -> None:
    assert mark_for(Verdict.ACCEPT) == MARK_ACCEPT == 0x00010000
    assert mark_for(Verdict.BLOCK) == MARK_BLOCK == 0x00020000
    assert mark_for(Verdict.DROP) == MARK_DROP == 0x00030000
    assert all(mark_for(v) & ~MARK_MASK == 0 for v in Verdict)


@given(marks, st.sampled_from(list(Verdict)))
def test_combine_keeps_foreign_bits_and_reads_back(old: int, verdict: Verdict) -> None:
    combined = combine_mark(old, mark_for(verdict))
    assert combined & ~MARK_MASK == old & ~MARK_MASK
    assert combined & MARK_MASK == mark_for(verdict)
    assert verdict_of_mark(combined) is verdict


def test_no_bits_of_ours_means_undecided() -> None:
    assert verdict_of_mark(0xFF00FFFF) is None
    assert verdict_of_mark(0x00FF0000) is None  # not one of our values

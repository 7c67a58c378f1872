"""What a JSON column stores."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from swarmgen.store.engine import json_text

column_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.sampled_from([2**64, -(2**63) - 1, 10**40])
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.lists(inner, max_size=3).map(tuple)
        | st.dictionaries(st.text() | st.integers() | st.booleans(), inner, max_size=4)
    ),
    max_leaves=20,
)


@given(column_values)
def test_a_column_reads_back_what_the_standard_library_would_have_stored(value: object) -> None:
    # Integers past 64 bits and non-string keys included: the fast encoder refuses the
    # first (the standard library writes them) and writes the second as the library does.
    assert json.loads(json_text(value)) == json.loads(json.dumps(value))

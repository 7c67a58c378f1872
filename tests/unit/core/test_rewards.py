from hypothesis import given
from hypothesis import strategies as st

from swarmgen.core.credits import PPM
from swarmgen.core.rewards import (
    SLOWEST,
    JobWork,
    Run,
    SpeedBounds,
    WorkerWork,
    emission,
    median,
    observed_speeds,
    offering_weights,
    speed_ppm,
    split,
    worker_work,
)
from swarmgen.core.verification.reliability import SeatRecord

weights_st = st.dictionaries(st.text("abcdef", min_size=1, max_size=3), st.integers(0, 10**12))


@given(st.integers(0, 10**15), weights_st)
def test_split_is_exact_and_proportional(total: int, weights: dict[str, int]) -> None:
    parts = split(total, weights)
    whole = sum(weights.values())
    assert sum(parts.values()) == (total if whole else 0)
    for key, weight in weights.items():
        exact = total * weight / whole if whole else 0
        assert abs(parts.get(key, 0) - exact) < 1
        if weight == 0:
            assert key not in parts


def test_split_breaks_ties_by_key() -> None:
    assert split(1, {"b": 1, "a": 1}) == {"a": 1}
    assert split(5, {"x": 1, "y": 1, "z": 1}) == {"x": 2, "y": 2, "z": 1}


def test_median_is_the_lower_one() -> None:
    assert median([]) == 0
    assert median([5, 1, 3]) == 3
    assert median([4, 1, 3, 2]) == 2


@given(st.integers(0, 10**9), st.integers(0, 10**9))
def test_speed_stays_in_bounds(worker_ms: int, offering_ms: int) -> None:
    bounds = SpeedBounds()
    factor = speed_ppm(worker_ms, offering_ms, bounds)
    assert bounds.floor_ppm <= factor <= bounds.cap_ppm
    if worker_ms == 0 or offering_ms == 0:
        assert factor == PPM
    elif worker_ms < offering_ms:
        assert factor >= PPM


@given(st.integers(1, 10**9), st.integers(1, 10**6), st.integers(1, 10**6))
def test_double_the_volume_beats_any_speed(units: int, fast_ms: int, slow_ms: int) -> None:
    """With the default bounds (cap / floor = 2), volume dominates speed."""
    rows = [
        WorkerWork("slow-big", "m@fp32", 2 * units, max(fast_ms, slow_ms)),
        WorkerWork("fast-small", "m@fp32", units, min(fast_ms, slow_ms)),
    ]
    weights = offering_weights(rows, SpeedBounds())
    assert weights["slow-big"] >= weights["fast-small"]


def test_faster_worker_earns_more_at_equal_volume() -> None:
    rows = [WorkerWork("a", "m@fp32", 100, 50), WorkerWork("b", "m@fp32", 100, 100)]
    weights = offering_weights(rows, SpeedBounds())
    assert weights["a"] > weights["b"]


@given(
    st.integers(0, 10**12),
    st.lists(
        st.builds(
            WorkerWork,
            st.sampled_from(["w1", "w2", "w3", "w4"]),
            st.sampled_from(["a@fp32", "b@int8", "c@fp16"]),
            st.integers(0, 10**6),
            st.integers(0, 10**5),
        ),
        max_size=12,
    ),
)
def test_emission_mints_exactly_the_shares_that_have_work(
    pool: int, work: list[WorkerWork]
) -> None:
    shares = {"a@fp32": 5, "b@int8": 3, "c@fp16": 2}
    out = emission(pool, shares, work, SpeedBounds(), excluded=frozenset({"w4"}))
    busy = {w.offering for w in work if w.verified_units > 0 and w.worker_id != "w4"}
    per_offering = split(pool, shares)
    for offering in shares:
        got = sum(v for (o, _), v in out.items() if o == offering)
        assert got == (per_offering.get(offering, 0) if offering in busy else 0)
    assert all(worker != "w4" for _, worker in out)


def test_a_batch_is_timed_from_its_lease_to_its_last_completion_over_all_its_units() -> None:
    batch = [Run(f"j{i}", "w", 1000, 1000 + 2000 * (i + 1), 4) for i in range(4)]
    alone = Run("s", "w", 20_000, 22_000, 4)
    speeds = observed_speeds([*batch, alone])
    # 8 s for 16 units, the same 2 s per 4 units a one-at-a-time worker shows
    assert {speeds[f"j{i}"] for i in range(4)} == {8000 * PPM // 16} == {speeds["s"]}


@given(
    gaps=st.lists(st.integers(1, 10_000), min_size=1, max_size=8),
    units=st.integers(1, 1000),
)
def test_batching_never_looks_faster_than_the_work_took(gaps: list[int], units: int) -> None:
    """Jobs run one after another, leased together or one by one: the batch's figure is
    the mean time per unit, never below the fastest single job's."""
    done, runs, singles, start = 0, [], [], 0
    for i, gap in enumerate(gaps):
        done += gap
        runs.append(Run(f"b{i}", "w", 0, done, units))
        singles.append(Run(f"s{i}", "w", start, done, units))
        start = done
    batch = observed_speeds(runs)
    one_by_one = observed_speeds(singles)
    assert len(set(batch.values())) == 1
    (figure,) = set(batch.values())
    assert figure == done * PPM // (units * len(gaps))
    assert figure >= min(one_by_one.values())


def test_unknown_lease_starts_are_neutral_and_an_instant_batch_counts_one_ms() -> None:
    speeds = observed_speeds([Run("a", "w", None, 5, 1), Run("b", "w", 5, 5, 1)])
    assert speeds == {"a": 0, "b": PPM}


def test_worker_work_sums_units_and_takes_the_median_observed_speed() -> None:
    rows = worker_work(
        [
            JobWork("a", "w", "o", 10, 300),
            JobWork("b", "w", "o", 10, 100),
            JobWork("c", "w", "o", 10, 200),
            JobWork("d", "v", "o", 5, 0),
        ]
    )
    assert rows == [WorkerWork("v", "o", 5, 0), WorkerWork("w", "o", 30, 200)]


def test_a_batch_with_a_job_leased_again_ranks_at_the_floor() -> None:
    """Handing a job back after running it, then leasing it again, must not look fast."""
    speeds = observed_speeds([Run("a", "w", 0, 1, 10, attempts=2), Run("b", "w", 0, 5, 10)])
    assert speeds == {"a": SLOWEST, "b": SLOWEST}
    bounds = SpeedBounds()
    assert speed_ppm(SLOWEST, 1000, bounds) == bounds.floor_ppm


def test_a_worker_that_let_half_its_seats_lapse_earns_half_the_weight() -> None:
    work = [WorkerWork("a", "m@fp32", 100, 100), WorkerWork("b", "m@fp32", 100, 100)]
    seats = {"a": SeatRecord(missed=2, served=2), "b": SeatRecord(served=4)}
    out = emission(3_000, {"m@fp32": 1}, work, SpeedBounds(), seats=seats)
    assert out == {("m@fp32", "a"): 1_000, ("m@fp32", "b"): 2_000}
    # a worker never drawn for a seat is not penalised
    assert emission(3_000, {"m@fp32": 1}, work, SpeedBounds(), seats={}) == {
        ("m@fp32", "a"): 1_500,
        ("m@fp32", "b"): 1_500,
    }

import pytest
from hypothesis import given
from hypothesis import strategies as st

from swarmgen.core.jobs import ImageSpec, Message, TextSpec
from swarmgen.core.pricing import (
    MULTIPLIER_UNIT,
    Quote,
    Rates,
    check_affordable,
    multiplier_text,
    parse_multiplier,
    price_image,
    price_text,
    quote,
)
from swarmgen.errors import InsufficientCredits

rates_st = st.builds(
    Rates,
    image_per_mpixel_step=st.integers(0, 10**6),
    text_per_ktoken=st.integers(0, 10**6),
    minimum=st.integers(0, 1000),
)
side = st.integers(8, 128).map(lambda k: k * 8)
ppm_st = st.integers(1, 16 * MULTIPLIER_UNIT)
"""Multipliers in millionths, fractions of 1 included."""
ONE = MULTIPLIER_UNIT


@given(rates_st, side, side, st.integers(1, 50), st.integers(1, 4), ppm_st, st.data())
def test_image_price_is_monotone_and_rounds_up(
    rates: Rates, w: int, h: int, steps: int, n: int, mult: int, data: st.DataObject
) -> None:
    price = price_image(w, h, steps, n, multiplier_ppm=mult, rates=rates)
    exact = w * h * steps * n * mult * rates.image_per_mpixel_step  # in 1e-12 micro-credits
    assert price >= rates.minimum
    assert price * 10**12 >= exact
    assert price == rates.minimum or (price - 1) * 10**12 < exact
    bigger = data.draw(st.sampled_from(["steps", "n", "mult"]))
    grown = {"steps": steps, "n": n, "mult": mult}
    grown[bigger] += 1
    assert (
        price_image(w, h, grown["steps"], grown["n"], multiplier_ppm=grown["mult"], rates=rates)
        >= price
    )


@given(rates_st, st.integers(0, 5000), st.integers(1, 512), ppm_st)
def test_text_price_counts_every_token(
    rates: Rates, prompt: int, max_tokens: int, mult: int
) -> None:
    price = price_text(prompt, max_tokens, mult, rates)
    exact = (prompt + max_tokens) * mult * rates.text_per_ktoken  # in 1e-9 micro-credits
    assert price >= rates.minimum and price * 10**9 >= exact
    assert price == rates.minimum or (price - 1) * 10**9 < exact
    assert price_text(prompt + 1, max_tokens, mult, rates) >= price
    assert price_text(prompt, max_tokens, mult + 1, rates) >= price


@given(rates_st, st.integers(0, 5000), st.integers(1, 512), ppm_st, ppm_st)
def test_a_lower_multiplier_never_costs_more_and_every_job_pays_something(
    rates: Rates, prompt: int, max_tokens: int, a: int, b: int
) -> None:
    low, high = sorted((a, b))
    assert price_text(prompt, max_tokens, low, rates) <= price_text(prompt, max_tokens, high, rates)
    assert price_text(prompt, max_tokens, low, rates) >= max(
        rates.minimum, 1 if rates.text_per_ktoken else 0
    )


def test_quote_uses_the_spec_and_the_multiplier() -> None:
    rates = Rates(image_per_mpixel_step=1000, text_per_ktoken=500, minimum=1)
    image = ImageSpec("a cat", width=512, height=512, steps=20, n=2)
    q1, q3 = quote(image, ONE, rates), quote(image, 3 * ONE, rates)
    assert q1.work_units == image.work_units() and q1.multiplier_ppm == ONE
    assert q3.price == 3 * q1.price == 3 * -(-image.work_units() * 1000 // 1_000_000)
    half = quote(image, ONE // 2, rates)
    assert half.price == -(-image.work_units() * 1000 // 2_000_000) < q1.price
    text = TextSpec(messages=(Message("user", "x" * 41),), max_tokens=100)
    tq = quote(text, 2 * ONE, rates)
    assert tq.work_units == 11 + 100
    assert quote(text, 2 * ONE, rates, prompt_tokens=3).price < tq.price


def test_a_fraction_of_a_micro_credit_is_charged_as_one() -> None:
    rates = Rates(image_per_mpixel_step=0, text_per_ktoken=1, minimum=0)
    assert price_text(1, 1, 1, rates) == 1  # 2e-9 micro-credits: rounded up, never free


@pytest.mark.parametrize(
    ("written", "ppm"),
    [(1, ONE), (2, 2 * ONE), (0.35, 350_000), (0.1, 100_000), (0.000001, 1), (1000, 1000 * ONE)],
)
def test_registry_multipliers_are_read_exactly_in_millionths(written: float, ppm: int) -> None:
    assert parse_multiplier(written) == ppm
    assert parse_multiplier(float(multiplier_text(ppm))) == ppm


@pytest.mark.parametrize(
    "bad", [0, -1, 0.0000001, 1000.5, True, "1", None, float("nan"), float("inf")]
)
def test_bad_registry_multipliers_are_refused(bad: object) -> None:
    with pytest.raises(ValueError, match="price multiplier"):
        parse_multiplier(bad)


def test_bad_multiplier_and_rates_are_refused() -> None:
    rates = Rates(image_per_mpixel_step=1, text_per_ktoken=1)
    with pytest.raises(ValueError):
        price_text(1, 1, 0, rates)
    with pytest.raises(ValueError):
        price_text(1, 1, 0.5, rates)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        Rates(image_per_mpixel_step=-1, text_per_ktoken=1)


def test_multipliers_print_as_the_registry_writes_them() -> None:
    assert [multiplier_text(p) for p in (ONE, 350_000, 1, 12 * ONE)] == [
        "1",
        "0.35",
        "0.000001",
        "12",
    ]


def test_affordability_reports_the_shortfall() -> None:
    offer = Quote(price=70, work_units=1, multiplier_ppm=ONE)
    check_affordable(70, offer)
    with pytest.raises(InsufficientCredits) as caught:
        check_affordable(50, offer)
    assert caught.value.details["shortfall"] == 20

import pytest
from hypothesis import given
from hypothesis import strategies as st

from swarmgen.core.jobs import ImageSpec, Message, TextSpec
from swarmgen.core.pricing import (
    Quote,
    Rates,
    check_affordable,
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


@given(rates_st, side, side, st.integers(1, 50), st.integers(1, 4), st.integers(1, 16), st.data())
def test_image_price_is_monotone_and_rounds_up(
    rates: Rates, w: int, h: int, steps: int, n: int, mult: int, data: st.DataObject
) -> None:
    price = price_image(w, h, steps, n, multiplier=mult, rates=rates)
    exact = w * h * steps * n * mult * rates.image_per_mpixel_step
    assert price >= rates.minimum
    assert price * 1_000_000 >= exact
    assert price == rates.minimum or (price - 1) * 1_000_000 < exact
    bigger = data.draw(st.sampled_from(["steps", "n", "mult"]))
    grown = {"steps": steps, "n": n, "mult": mult}
    grown[bigger] += 1
    assert (
        price_image(w, h, grown["steps"], grown["n"], multiplier=grown["mult"], rates=rates)
        >= price
    )


@given(rates_st, st.integers(0, 5000), st.integers(1, 512), st.integers(1, 16))
def test_text_price_counts_every_token(
    rates: Rates, prompt: int, max_tokens: int, mult: int
) -> None:
    price = price_text(prompt, max_tokens, mult, rates)
    exact = (prompt + max_tokens) * mult * rates.text_per_ktoken
    assert price >= rates.minimum and price * 1000 >= exact
    assert price_text(prompt + 1, max_tokens, mult, rates) >= price
    assert price_text(prompt, max_tokens, mult + 1, rates) >= price


def test_quote_uses_the_spec_and_the_multiplier() -> None:
    rates = Rates(image_per_mpixel_step=1000, text_per_ktoken=500, minimum=1)
    image = ImageSpec("a cat", width=512, height=512, steps=20, n=2)
    q1, q3 = quote(image, 1, rates), quote(image, 3, rates)
    assert q1.work_units == image.work_units()
    assert q3.price == 3 * q1.price == 3 * -(-image.work_units() * 1000 // 1_000_000)
    text = TextSpec(messages=(Message("user", "x" * 41),), max_tokens=100)
    tq = quote(text, 2, rates)
    assert tq.work_units == 11 + 100
    assert quote(text, 2, rates, prompt_tokens=3).price < tq.price


def test_bad_multiplier_and_rates_are_refused() -> None:
    rates = Rates(image_per_mpixel_step=1, text_per_ktoken=1)
    with pytest.raises(ValueError):
        price_text(1, 1, 0, rates)
    with pytest.raises(ValueError):
        Rates(image_per_mpixel_step=-1, text_per_ktoken=1)


def test_affordability_reports_the_shortfall() -> None:
    offer = Quote(price=70, work_units=1, multiplier=1)
    check_affordable(70, offer)
    with pytest.raises(InsufficientCredits) as caught:
        check_affordable(50, offer)
    assert caught.value.details["shortfall"] == 20

import pytest

from app.validators import business_id_is_valid, normalise_business_id, normalise_country, normalise_phone


@pytest.mark.parametrize("value", ["2477816-7", "1014672-4", "0737546-2", "1572860-0"])
def test_valid_business_ids(value: str) -> None:
    assert business_id_is_valid(value)


@pytest.mark.parametrize("value", ["2477816-8", "2477816", "24778167", "x477816-7", "", "12345678-9"])
def test_invalid_business_ids(value: str) -> None:
    assert not business_id_is_valid(value)


def test_remainder_one_is_never_valid() -> None:
    # A number whose weighted sum leaves remainder 1 has no valid check digit at all.
    digits = next(
        f"{n:07d}"
        for n in range(10**6)
        if sum(int(d) * w for d, w in zip(f"{n:07d}", (7, 9, 10, 5, 8, 4, 2), strict=True)) % 11 == 1
    )
    assert not any(business_id_is_valid(f"{digits}-{c}") for c in range(10))


def test_six_digit_business_id_gets_leading_zero() -> None:
    assert normalise_business_id("737546-2") == "0737546-2"


@pytest.mark.parametrize(
    ("given", "e164"),
    [
        ("040 123 4567", "+358401234567"),
        ("+358 40 1234567", "+358401234567"),
        ("+46 70 123 45 67", "+46701234567"),
    ],
)
def test_phone_numbers_become_e164(given: str, e164: str) -> None:
    assert normalise_phone(given) == e164


@pytest.mark.parametrize("given", ["123", "not a number", "+358 1"])
def test_bad_phone_numbers(given: str) -> None:
    with pytest.raises(ValueError, match="phone"):
        normalise_phone(given)


def test_countries() -> None:
    assert normalise_country("fi") == "FI"
    with pytest.raises(ValueError, match="ISO"):
        normalise_country("XX")

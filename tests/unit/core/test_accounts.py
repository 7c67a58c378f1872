import pytest

from swarmgen.core import accounts
from swarmgen.core.accounts import AccountKind, BadAccount, account_id, account_kind, in_supply


@pytest.mark.parametrize(
    ("name", "kind", "ident"),
    [
        (accounts.user("42"), AccountKind.USER, "42"),
        (accounts.worker("pk_-x"), AccountKind.WORKER, "pk_-x"),
        (accounts.escrow("job:1"), AccountKind.ESCROW, "job:1"),
        (accounts.stake("w"), AccountKind.STAKE, "w"),
        (accounts.unbonding("w"), AccountKind.UNBONDING, "w"),
        (accounts.MINT, AccountKind.MINT, ""),
        (accounts.BURN, AccountKind.BURN, ""),
        (accounts.VALIDATOR_POOL, AccountKind.VALIDATOR_POOL, ""),
    ],
)
def test_names_read_back(name: str, kind: AccountKind, ident: str) -> None:
    assert account_kind(name) is kind
    assert account_id(name) == ident


@pytest.mark.parametrize("bad", ["", "user", "user:", "bank:1", "mint:1", "user:a b", "x" * 3])
def test_malformed_names_are_refused(bad: str) -> None:
    for _ in range(2):  # and again: a refusal is not remembered as an answer
        with pytest.raises(BadAccount):
            account_kind(bad)


def test_ids_are_bounded() -> None:
    accounts.user("x" * accounts.MAX_ID_CHARS)
    with pytest.raises(BadAccount):
        accounts.user("x" * (accounts.MAX_ID_CHARS + 1))
    with pytest.raises(BadAccount):  # read back too, not only when named
        account_kind("user:" + "x" * (accounts.MAX_ID_CHARS + 1))


def test_only_mint_and_burn_are_outside_the_supply() -> None:
    outside = [k for k in AccountKind if not in_supply(k.value)]
    assert outside == [AccountKind.MINT, AccountKind.BURN]

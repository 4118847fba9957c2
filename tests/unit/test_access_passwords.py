"""argon2id hashing, rehashing and the password policy."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher

from forewarn.access.errors import PasswordPolicyError
from forewarn.access.passwords import (
    check_policy,
    dummy_verify,
    hash_password,
    needs_rehash,
    random_password,
    verify_password,
)


def test_hash_is_argon2id_salted_and_verifies() -> None:
    first, second = hash_password("正确的马电池订书钉"), hash_password("正确的马电池订书钉")
    assert first.startswith("$argon2id$") and first != second
    assert verify_password(first, "正确的马电池订书钉")
    assert not verify_password(first, "正确的马电池订书钉 ")
    assert not needs_rehash(first)


def test_malformed_or_foreign_hashes_never_match() -> None:
    assert not verify_password("", "anything-long")
    assert not verify_password("$2b$12$notargon", "anything-long")
    assert needs_rehash("not a hash")


def test_weaker_parameters_ask_for_a_rehash() -> None:
    weak = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash("longenough-1")
    assert verify_password(weak, "longenough-1")
    assert needs_rehash(weak)


def test_policy_has_one_clear_error() -> None:
    check_policy("0123456789")
    with pytest.raises(PasswordPolicyError, match="at least 10 characters"):
        check_policy("short")
    with pytest.raises(PasswordPolicyError, match="at least 10 characters"):
        check_policy("")
    with pytest.raises(PasswordPolicyError, match="at most"):
        check_policy("x" * 5000)


def test_random_passwords_pass_the_policy_and_differ() -> None:
    a, b = random_password(), random_password()
    check_policy(a)
    assert a != b


def test_dummy_verification_runs() -> None:
    dummy_verify("whatever-it-is")  # no exception, no result: it only takes the time

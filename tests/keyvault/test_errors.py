"""The error tree and its one table of gRPC outcomes."""

from __future__ import annotations

import inspect

import grpc

from keyvault_service import errors
from keyvault_service.errors import ERROR_TABLE, KeyVaultError, outcome_of


def all_error_classes() -> list[type[KeyVaultError]]:
    found, pending = [], [KeyVaultError]
    while pending:
        for sub in pending.pop().__subclasses__():
            found.append(sub)
            pending.append(sub)
    return found


def test_every_error_class_has_its_own_row_in_the_table():
    classes = all_error_classes()

    assert [cls.__name__ for cls in classes if cls not in ERROR_TABLE] == []
    assert set(ERROR_TABLE) == set(classes)
    assert errors.KeyUnreadable in classes


def test_every_error_class_of_the_module_is_drawn_in_the_tree():
    tree = errors.__doc__ or ""
    defined = [
        name for name, value in inspect.getmembers(errors, inspect.isclass)
        if issubclass(value, KeyVaultError)
    ]

    assert [name for name in defined if name not in tree] == []


def test_reasons_are_unique_upper_snake_case():
    reasons = [outcome.reason for outcome in ERROR_TABLE.values()]

    assert len(reasons) == len(set(reasons))
    assert all(reason.replace("_", "").isupper() for reason in reasons)


def test_only_unavailable_outcomes_invite_a_retry():
    for cls, outcome in ERROR_TABLE.items():
        retryable = outcome.code == grpc.StatusCode.UNAVAILABLE
        assert (outcome.retry_after_s is not None) == retryable, cls.__name__


def test_only_caller_facing_errors_show_their_own_message():
    shown = {cls for cls, outcome in ERROR_TABLE.items() if outcome.message is None}

    assert shown == {
        errors.InvalidArgument,
        errors.InvalidTenantId,
        errors.InvalidProvider,
        errors.InvalidApiKey,
        errors.InvalidField,
        # An operator needs the count of rows that block the retirement.
        errors.RotationRefused,
        errors.RowsBelowVersion,
        # Says what the certificate may not do, in words the service chose.
        errors.CallerNotAllowed,
    }


def test_the_status_of_each_kind_of_failure():
    expected = {
        errors.InvalidApiKey: grpc.StatusCode.INVALID_ARGUMENT,
        errors.KeyNotFound: grpc.StatusCode.NOT_FOUND,
        errors.KeyUnreadable: grpc.StatusCode.DATA_LOSS,
        errors.StorageUnavailable: grpc.StatusCode.UNAVAILABLE,
        errors.KekUnavailable: grpc.StatusCode.UNAVAILABLE,
        errors.KekAccessDenied: grpc.StatusCode.UNAVAILABLE,
        errors.KekMisconfigured: grpc.StatusCode.INTERNAL,
        errors.KekLoginFailed: grpc.StatusCode.UNAVAILABLE,
        errors.KeyDisabled: grpc.StatusCode.FAILED_PRECONDITION,
        errors.KeyRejectedByProvider: grpc.StatusCode.FAILED_PRECONDITION,
        errors.KeyExpired: grpc.StatusCode.FAILED_PRECONDITION,
        errors.RowsBelowVersion: grpc.StatusCode.FAILED_PRECONDITION,
        errors.TenantDeleted: grpc.StatusCode.FAILED_PRECONDITION,
        errors.TenantNotFound: grpc.StatusCode.NOT_FOUND,
        errors.RotationInProgress: grpc.StatusCode.ABORTED,
        errors.KeyChanged: grpc.StatusCode.ABORTED,
    }

    assert {cls: outcome_of(cls()).code for cls in expected} == expected
    assert outcome_of(errors.CallerNotAllowed("list keys")).code == (
        grpc.StatusCode.PERMISSION_DENIED
    )


def test_data_loss_says_one_generic_thing_and_invites_no_retry():
    data_loss = [
        (cls, outcome) for cls, outcome in ERROR_TABLE.items()
        if outcome.code == grpc.StatusCode.DATA_LOSS
    ]

    assert [cls for cls, _ in data_loss] == [errors.KeyUnreadable]
    assert data_loss[0][1].message == "the stored key cannot be decrypted"
    assert data_loss[0][1].retry_after_s is None


def test_an_unexpected_exception_is_a_bare_internal_error():
    outcome = outcome_of(ZeroDivisionError("boom"))

    assert outcome.code == grpc.StatusCode.INTERNAL
    assert outcome.reason == "INTERNAL"
    assert "boom" not in (outcome.message or "")

"""Errors the CLI reports as one line, each with the exit code a CI job can branch on."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    INPUT = 1  # usage, configuration, values, templates, validation
    CHANGES = 2  # plan --detailed-exitcode: changes pending
    AUTH = 3
    NOT_FOUND = 4
    CONFLICT = 5
    NETWORK = 6
    SERVER = 7
    INTERRUPTED = 130  # Ctrl-C, as shells report SIGINT


class ProvisionError(Exception):
    """An error with a one-line message for the user and an exit code."""

    exit_code = ExitCode.INPUT

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class InputError(ProvisionError):
    """Bad usage, configuration, values, templates, or a payload O2 would refuse."""


class AuthError(ProvisionError):
    exit_code = ExitCode.AUTH


class NotFoundError(ProvisionError):
    exit_code = ExitCode.NOT_FOUND


class ConflictError(ProvisionError):
    exit_code = ExitCode.CONFLICT


class NetworkError(ProvisionError):
    exit_code = ExitCode.NETWORK


class ServerError(ProvisionError):
    exit_code = ExitCode.SERVER


class Interrupted(ProvisionError):
    """The user pressed Ctrl-C."""

    exit_code = ExitCode.INTERRUPTED

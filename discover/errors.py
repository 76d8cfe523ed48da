"""Errors a user can act on: the CLI prints the message alone and exits with code 2."""


class UserError(Exception):
    """Bad input from the user (unknown task, bad CSV, missing data...)."""


class DataNotFound(UserError):
    """A task's data is in none of the places looked in (and was not to be downloaded)."""


class ExprError(ValueError):
    """Text that is not a valid law expression, with the reason in the message."""

"""describe_connection_error says whether trying again later may work: a server not up yet,
starting, full or not accepting connections for now is transient; a refused password or an
unknown database is not. (A worker waits out the first kind at startup.)"""

from __future__ import annotations

import pytest
from sqlalchemy.exc import DBAPIError

from shared.db.engine import describe_connection_error
from shared.db.url import parse_database_url

TARGET = parse_database_url("postgresql://u:secretpw@127.0.0.1:5432/app")


class _DriverError(Exception):
    """What SQLAlchemy's asyncpg adapter puts in DBAPIError.orig: the server's SQLSTATE."""

    def __init__(self, message: str, sqlstate: str) -> None:
        super().__init__(message)
        self.sqlstate = sqlstate


def _refused(message: str, sqlstate: str) -> DBAPIError:
    return DBAPIError("SELECT 1", None, _DriverError(message, sqlstate))


@pytest.mark.parametrize(
    ("error", "transient"),
    [
        (ConnectionRefusedError(111, "Connect call failed"), True),
        (TimeoutError(), True),
        (_refused('database "app" is not currently accepting connections', "55000"), True),
        (_refused("the database system is starting up", "57P03"), True),
        (_refused("sorry, too many clients already", "53300"), True),
        (_refused('password authentication failed for user "u"', "28P01"), False),
        (_refused('database "app" does not exist', "3D000"), False),
    ],
)
def test_a_connection_failure_says_whether_it_may_pass(
    error: BaseException, transient: bool
) -> None:
    described = describe_connection_error(error, TARGET)
    assert described.transient is transient
    assert "check SWITCHBOARD_DATABASE_URL" in str(described)
    assert "secretpw" not in str(described)

"""pywf: pyworkflow's API (``import pywf as wf``) on wf, Sogou C++ Workflow
rebuilt in Rust.

Tasks, series and parallels; HTTP, Redis and MySQL tasks and servers; file
IO, timers, counters, go tasks. A task, series, request or response may
only be used in its own callback (or before it is started); a later use
raises ``InvalidHandleError``. MySQL cursors, fields and cells, and
``RedisValue``, own their data and may be kept.
"""

from ._pywf import *  # noqa: F401,F403
from ._pywf import MySQLResultCursor as _Cursor
from ._pywf import MYSQL_STATUS_GET_RESULT as _GET_RESULT
from ._pywf import MYSQL_STATUS_OK as _OK


def MySQLRowIterator(cursor):
    """Yields each row (a list of ``MySQLCell``) of the cursor's result set."""
    assert isinstance(cursor, _Cursor)
    cursor.rewind()
    row = cursor.fetch_row()
    while row is not None:
        yield row
        row = cursor.fetch_row()


def MySQLRowObjectIterator(cursor):
    """Yields each row of the cursor's result set as Python objects."""
    for row in MySQLRowIterator(cursor):
        yield [cell.as_object() for cell in row]


def MySQLResultSetIterator(cursor):
    """Yields the cursor once per result set, from the first."""
    assert isinstance(cursor, _Cursor)
    if cursor.get_cursor_status() not in (_GET_RESULT, _OK):
        return
    cursor.first_result_set()
    yield cursor
    while cursor.next_result_set():
        yield cursor

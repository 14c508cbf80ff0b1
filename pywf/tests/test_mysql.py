"""MySQL: tutorial 12 and the cursor, fields and cells (with pyworkflow's
conversion bugs fixed), against a MariaDB the tests start."""
import datetime
import socket

import pytest

import pywf as wf
from conftest import WAIT, run_example


def query(url, sql):
    out = {}

    def cb(t):
        out["state"] = (t.get_state(), t.get_error())
        resp = t.get_resp()
        out["packet"] = resp.get_packet_type()
        out["error"] = (resp.get_error_code(), resp.get_error_msg())
        out["cursor"] = wf.MySQLResultCursor(resp)

    t = wf.create_mysql_task(url, 0, cb)
    t.get_req().set_query(sql)
    t.start()
    assert wf.wait_finish_timeout(WAIT)
    return out


def test_tutorial12_mysql_cli(mysql_url):
    sql = (
        "create table t (id int primary key auto_increment, name varchar(20));\n"
        "insert into t (name) values ('a'), ('b');\n"
        "select id, name from t order by id; select 'x';\n"
        "select nosuchcol from t;\n"
        "quit\n"
    )
    rc, out, err = run_example("tutorial12-mysql_cli.py", mysql_url, stdin=sql)
    assert rc == 0, err
    assert "|     pywf_test      |" in out
    assert out.count("OK. 2 row(s) affected. 0 warnings. insert_id=1. Records: 2  Duplicates: 0  Warnings: 0") == 2
    assert "|         1          |         a          |" in out
    assert "|         x          |" in out
    assert "ERROR. error_code=1054 Unknown column 'nosuchcol' in 'SELECT'" in out or \
        "ERROR. error_code=1054 Unknown column 'nosuchcol' in 'field list'" in out
    assert out.rstrip().endswith("Bye")


def test_cells_convert_right(mysql_url):
    r = query(
        mysql_url,
        "select cast(-5 as signed), cast(18446744073709551615 as unsigned), cast('-12:34:56' as time), "
        "cast('2024-01-02 03:04:05.123' as datetime(3)), cast('2024-01-02' as date), 12.34, null, 1.5e0",
    )
    assert r["state"] == (0, 0)
    c = r["cursor"]
    assert c.get_cursor_status() == wf.MYSQL_STATUS_GET_RESULT
    row = c.fetch_row()
    objs = [cell.as_object() for cell in row]
    assert objs[0] == -5  # pyworkflow: 18446744073709551611
    assert objs[1] == 18446744073709551615
    assert objs[2] == -datetime.timedelta(hours=12, minutes=34, seconds=56)  # pyworkflow: -11:25:04
    assert objs[3] == datetime.datetime(2024, 1, 2, 3, 4, 5, 123000)  # pyworkflow: microsecond=123
    assert objs[4] == datetime.date(2024, 1, 2)
    assert objs[5] == b"12.34" and row[5].is_string()
    assert objs[6] is None and row[6].is_null()
    assert objs[7] == 1.5
    assert [f.get_data_type() for f in c.fetch_fields()][4] == wf.MYSQL_TYPE_DATE
    assert wf.mysql_datatype2str(3) == "LONG" and wf.mysql_datatype2str(253) == "VAR_STRING"


def test_cursor_rewind_after_end_and_result_sets(mysql_url):
    r = query(mysql_url, "select 1 union select 2; select 'x'; do 1")
    c = r["cursor"]
    assert [row[0].as_object() for row in c.fetch_all()] == [1, 2]
    assert c.fetch_row() is None
    c.rewind()  # pyworkflow: nothing after the end
    assert [cell.as_object() for cell in c.fetch_row()] == [1]
    statuses = [rs.get_cursor_status() for rs in wf.MySQLResultSetIterator(c)]
    assert statuses == [wf.MYSQL_STATUS_GET_RESULT, wf.MYSQL_STATUS_GET_RESULT, wf.MYSQL_STATUS_OK]
    assert r["packet"] == wf.MYSQL_PACKET_OK
    # The cursor owns its copy: still readable after the callback.
    c.first_result_set()
    assert list(wf.MySQLRowObjectIterator(c)) == [[1], [2]]


def test_error_packet_and_query_not_set(mysql_url):
    r = query(mysql_url, "select nosuchcol")
    assert r["packet"] == wf.MYSQL_PACKET_ERROR and r["error"][0] == 1054
    got = []
    wf.create_mysql_task(mysql_url, 0, lambda t: got.append((t.get_state(), t.get_error()))).start()
    assert wf.wait_finish_timeout(WAIT)
    assert got == [(wf.WFT_STATE_TASK_ERROR, 4005)]


def test_connection_keeps_session(mysql_url):
    conn = wf.MySQLConnection(1)
    assert conn.init(mysql_url) == 0
    got = []
    first = conn.create_query_task("set @x = 41", None)
    second = conn.create_query_task(
        "select @x + 1", lambda t: got.extend(wf.MySQLRowObjectIterator(wf.MySQLResultCursor(t.get_resp())))
    )
    s = wf.create_series_work(first, None)
    s.push_back(second)
    s.push_back(conn.create_disconnect_task(None))
    s.start()
    assert wf.wait_finish_timeout(WAIT)
    conn.deinit()
    assert got == [[42]]


def test_mysql_server():
    def process(task):
        q = task.get_req().get_query()
        resp = task.get_resp()
        if q.startswith(b"select"):
            resp.set_result_set(["a", "b"], [["1", None]])
        else:
            resp.set_ok_packet(3, 7)

    server = wf.MySQLServer(process)
    assert server.start(socket.AF_INET, "127.0.0.1", 0) == 0
    url = "mysql://root@127.0.0.1:{}/".format(server.get_listen_port())
    try:
        r = query(url, "select 1")
        assert r["state"] == (0, 0)
        assert [str(f) for f in r["cursor"].fetch_fields()] == ["a", "b"]
        assert [c.as_object() for c in r["cursor"].fetch_row()] == [b"1", None]
        r = query(url, "insert")
        assert (r["cursor"].get_affected_rows(), r["cursor"].get_insert_id()) == (3, 7)
    finally:
        server.stop()


def test_request_command_and_seqid():
    """get_command() is the command byte (3, COM_QUERY); get_seqid() the
    sequence id the command starts with, 0 unless set_seqid() changed it:
    a command starting at 5 is out of sequence, and wf's server refuses it
    before process() sees it."""
    seen = []

    def process(task):
        req = task.get_req()
        seen.append((req.get_query(), req.get_command(), req.get_seqid()))
        task.get_resp().set_ok_packet(1, 0)

    server = wf.MySQLServer(process)
    assert server.start(socket.AF_INET, "127.0.0.1", 0) == 0
    url = "mysql://root@127.0.0.1:{}/".format(server.get_listen_port())
    out = {}

    def cb(t):
        req, resp = t.get_req(), t.get_resp()
        out[req.get_query()] = (t.get_state(), resp.get_error_code(), req.get_command(), req.get_seqid())

    first = wf.create_mysql_task(url, 0, cb)
    req = first.get_req()
    assert (req.get_command(), req.get_seqid()) == (3, 0), "unset: COM_QUERY, sequence 0"
    req.set_query("select 1")
    second = wf.create_mysql_task(url, 0, cb)
    second.get_req().set_query("select 2")
    second.get_req().set_seqid(5)
    assert second.get_req().get_seqid() == 5
    with pytest.raises(OverflowError):
        second.get_req().set_seqid(256)
    s = wf.create_series_work(first, None)
    s.push_back(second)
    s.start()
    try:
        assert wf.wait_finish_timeout(WAIT)
    finally:
        server.stop()
    assert seen == [(b"select 1", 3, 0)]
    assert out[b"select 1"] == (0, 0, 3, 0)
    state, code, command, seqid = out[b"select 2"]
    assert (command, seqid) == (3, 5)
    assert (state, code) == (wf.WFT_STATE_SUCCESS, 1156), "ER_NET_PACKETS_OUT_OF_ORDER"

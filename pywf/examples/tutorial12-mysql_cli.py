"""An interactive MySQL client: each statement read from stdin becomes the
next task of one series.

    python tutorial12-mysql_cli.py mysql://user:pass@host:port/db
"""
import sys

import pywf as wf

WIDTH = 20


def show_table(cursor):
    fields = cursor.fetch_fields()
    line = "+" + "+".join(["-" * WIDTH] * len(fields)) + "+"
    print(line)
    print("|" + "|".join(str(f).center(WIDTH) for f in fields) + "|")
    print(line)
    rows = 0
    for row in wf.MySQLRowIterator(cursor):
        print("|" + "|".join(str(cell).center(WIDTH) for cell in row) + "|")
        rows += 1
    print(line)
    print("{} row(s) in set".format(rows))


def read_sql():
    sql = ""
    prompt = "mysql> "
    while True:
        try:
            line = input(prompt)
        except EOFError:
            return None
        stripped = line.strip()
        if not sql and stripped in ("quit", "exit", "quit;", "exit;"):
            return None
        sql += line + "\n"
        if stripped.endswith(";"):
            return sql
        prompt = "-----> "


def on_reply(task):
    state, error = task.get_state(), task.get_error()
    if state != wf.WFT_STATE_SUCCESS:
        print("state:{} error:{} errstr:{}".format(state, error, wf.get_error_string(state, error)))
        return
    resp = task.get_resp()
    cursor = wf.MySQLResultCursor(resp)
    for result in wf.MySQLResultSetIterator(cursor):
        if result.get_cursor_status() == wf.MYSQL_STATUS_GET_RESULT:
            show_table(result)
        elif result.get_cursor_status() == wf.MYSQL_STATUS_OK:
            print("OK. {} row(s) affected. {} warnings. insert_id={}. {}".format(
                result.get_affected_rows(), result.get_warnings(), result.get_insert_id(),
                result.get_info().decode()))
    if resp.get_packet_type() == wf.MYSQL_PACKET_OK:
        print("OK. {} row(s) affected. {} warnings. insert_id={}. {}".format(
            resp.get_affected_rows(), resp.get_warnings(), resp.get_last_insert_id(), resp.get_info().decode()))
    elif resp.get_packet_type() == wf.MYSQL_PACKET_ERROR:
        print("ERROR. error_code={} {}".format(resp.get_error_code(), resp.get_error_msg().decode()))
    sql = read_sql()
    if sql is None:
        print("Bye")
        return
    series = wf.series_of(task)
    next_task = wf.create_mysql_task(series.get_context(), 0, on_reply)
    next_task.get_req().set_query(sql)
    series.push_back(next_task)


def main():
    if len(sys.argv) != 2:
        print("USAGE: {} <url>\n      url format: mysql://user:password@host:port/dbname".format(sys.argv[0]))
        sys.exit(1)
    url = sys.argv[1]
    if not url.startswith(("mysql://", "mysqls://")):
        url = "mysql://" + url
    task = wf.create_mysql_task(url, 2, on_reply)
    task.get_req().set_query("show databases;")
    series = wf.create_series_work(task, None)
    series.set_context(url)
    series.start()
    wf.wait_finish()


if __name__ == "__main__":
    main()

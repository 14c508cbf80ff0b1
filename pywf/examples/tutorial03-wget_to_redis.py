"""Fetch a URL, then store its body in Redis under the URL: two tasks of
one series sharing a context.

    python tutorial03-wget_to_redis.py <http URL> <redis URL>
"""
import sys

import pywf as wf


class Context:
    def __init__(self, http_url, redis_url):
        self.success = False
        self.http_url = http_url
        self.redis_url = redis_url
        self.body_len = 0


def on_redis(task):
    ctx = wf.series_of(task).get_context()
    state, error = task.get_state(), task.get_error()
    if state != wf.WFT_STATE_SUCCESS:
        print("redis: state:{} error:{} errstr:{}".format(state, error, wf.get_error_string(state, error)))
        return
    if task.get_resp().get_result().is_error():
        print("redis: error reply")
        return
    print("redis SET success: key: {}, value size: {}".format(ctx.http_url, ctx.body_len))
    ctx.success = True


def on_http(task):
    state, error = task.get_state(), task.get_error()
    if state != wf.WFT_STATE_SUCCESS:
        print("http: state:{} error:{} errstr:{}".format(state, error, wf.get_error_string(state, error)))
        return
    resp = task.get_resp()
    if resp.get_body_size() == 0:
        print("Error: empty Http body!")
        return
    series = wf.series_of(task)
    ctx = series.get_context()
    ctx.body_len = resp.get_body_size()
    redis = wf.create_redis_task(ctx.redis_url, retry_max=2, callback=on_redis)
    redis.get_req().set_request("SET", [ctx.http_url, resp.get_body()])
    series.push_back(redis)


def on_series(series):
    ctx = series.get_context()
    print("Series finished. {}".format("all success" if ctx.success else "failed"))


def main():
    if len(sys.argv) != 3:
        print("USAGE: {} <http URL> <redis URL>".format(sys.argv[0]))
        sys.exit(1)
    http_url, redis_url = sys.argv[1:]
    if not http_url.startswith(("http://", "https://")):
        http_url = "https://" + http_url
    if not redis_url.startswith(("redis://", "rediss://")):
        redis_url = "redis://" + redis_url
    task = wf.create_http_task(http_url, 3, 2, on_http)
    req = task.get_req()
    req.add_header_pair("Accept", "*/*")
    req.add_header_pair("User-Agent", "Wget/1.14 (linux-gnu)")
    req.add_header_pair("Connection", "close")
    task.get_resp().set_size_limit(20 * 1024 * 1024)
    task.set_receive_timeout(30 * 1000)
    series = wf.create_series_work(task, on_series)
    series.set_context(Context(http_url, redis_url))
    series.start()
    wf.wait_finish()


if __name__ == "__main__":
    main()

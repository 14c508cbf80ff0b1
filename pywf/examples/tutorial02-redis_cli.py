"""SET a key, then GET it back in the same series.

    python tutorial02-redis_cli.py <redis URL> <key> <value>
"""
import sys

import pywf as wf


class Request:
    def __init__(self, url, key):
        self.url = url
        self.key = key


def on_reply(task):
    state, error = task.get_state(), task.get_error()
    if state != wf.WFT_STATE_SUCCESS:
        print("state:{} error:{} errstr:{}".format(state, error, wf.get_error_string(state, error)))
        return
    value = task.get_resp().get_result()
    if value.is_error():
        print("Error reply. Need a password?")
        return
    if task.get_req().get_command() == "SET":
        ud = task.get_user_data()
        get = wf.create_redis_task(ud.url, retry_max=2, callback=on_reply)
        get.get_req().set_request("GET", [ud.key])
        wf.series_of(task).push_back(get)
        print("Redis SET request success. Trying to GET...")
    else:
        if value.is_string():
            print("Redis GET success. Value = {}".format(value.string_value()))
        else:
            print("Error. Not a string value")
        print("Finish")


def main():
    if len(sys.argv) != 4:
        print("USAGE: {} <redis URL> <key> <value>".format(sys.argv[0]))
        sys.exit(1)
    url, key, value = sys.argv[1:]
    if not url.startswith(("redis://", "rediss://")):
        url = "redis://" + url
    task = wf.create_redis_task(url, retry_max=2, callback=on_reply)
    task.get_req().set_request("SET", [key, value])
    task.set_user_data(Request(url, key))
    task.start()
    wf.wait_finish()


if __name__ == "__main__":
    main()

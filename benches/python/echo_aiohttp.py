"""Tutorial 04's echo server written for aiohttp's web server: the same
HTML page, headers and close-after-ten-requests rule.

    python echo_aiohttp.py <port>
"""
import sys

from aiohttp import web

# Requests seen per connection (keyed by its transport).
seen = {}


async def process(request):
    n = seen.get(id(request.transport), 0)
    seen[id(request.transport)] = n + 1
    parts = [b"<html>\n", "<p>{} {} HTTP/{}.{}</p>\n".format(
        request.method, request.path_qs, request.version.major, request.version.minor).encode()]
    for name, value in request.headers.items():
        parts.append("<p>{}: {}</p>\n".format(name, value).encode())
    parts.append(b"</html>\n")
    resp = web.Response(body=b"".join(parts), headers={"Content-Type": "text/html", "Server": "aiohttp echo"})
    if n == 9:
        resp.force_close()
        seen.pop(id(request.transport), None)
    return resp


if __name__ == "__main__":
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", process)
    print("listening on {}".format(sys.argv[1]), flush=True)
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)

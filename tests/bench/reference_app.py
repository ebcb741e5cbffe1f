#!/usr/bin/python3
"""The reference application secure-apid replaces: Flask routes served by waitress.

Run by run-benchmarks behind nginx (TLS termination), the way such an API is usually deployed:
    reference_app.py --port 8001
It answers the same routes as secure-apid: GET /square/<ASCII digits> with the exact square and
Access-Control-Allow-Origin: *, and GET /health with an empty 200. Flask adds HEAD and OPTIONS.
"""

import argparse
import sys

import flask
import waitress

app = flask.Flask(__name__)


@app.get('/square/<digits>')
def square(digits):
    # str.isdigit() also accepts non-ASCII digits such as U+0665; the API takes ASCII only.
    if not (digits.isascii() and digits.isdigit()):
        flask.abort(404)
    number = int(digits)
    response = flask.Response(str(number * number), mimetype='text/plain')
    response.headers['Access-Control-Allow-Origin'] = '*'
    return response


@app.get('/health')
def health():
    return '', 200


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--host', default='127.0.0.1')
    parser.add_argument('--port', type=int, required=True)
    parser.add_argument('--threads', type=int, default=4, help="waitress' default is 4")
    args = parser.parse_args()
    # Python 3.11 refuses int <-> str conversions beyond 4300 digits (CVE-2020-10735); an
    # exact-square API must lift that limit or answer 500 for long numbers.
    sys.set_int_max_str_digits(0)
    waitress.serve(app, host=args.host, port=args.port, threads=args.threads)


if __name__ == '__main__':
    main()

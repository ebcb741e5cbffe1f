#!/usr/bin/python3
"""BC-23: HTTP/1.1 pipelining (RFC 9112 section 9.3.2).  Requests written in one TLS record are all
answered, in order, with the right bodies, and the connection stays usable afterwards."""

import sys

import harness
from harness import expect, expect_eq

sys.set_int_max_str_digits(0)


def expect_answers(conn, expected):
    for index, (method, path, status, body) in enumerate(expected, 1):
        response = conn.read_response(head=(method == 'HEAD'))
        expect_eq((response.status, response.body), (status, body),
                  f'response {index} ({method} {path})')


def pipelined(conn, requests):
    """All requests in a single write: one TLS record, one TCP send."""
    conn.send(b''.join(harness.request_bytes(method, path) for method, path, _, _ in requests))
    expect_answers(conn, requests)


def main():
    report = harness.Report('field_bc_23_pipelining')
    with harness.Sandbox('bc23') as sandbox:
        leaf = sandbox.install_new('v1')
        daemon = sandbox.start_activated(sandbox.base_args())
        with report.case('two GETs in one TLS write -> two responses in order, then a third'):
            conn = daemon.tls()
            pipelined(conn, [('GET', '/square/12', 200, b'144'), ('GET', '/health', 200, b'')])
            response = conn.request('GET', '/square/13')
            expect_eq((response.status, response.body), (200, b'169'), 'third request')
            conn.close()
        with report.case('second of two pipelined requests is /health with its headers'):
            conn = daemon.tls()
            conn.send(harness.request_bytes('GET', '/square/2') +
                      harness.request_bytes('GET', '/health'))
            first = conn.read_response()
            second = conn.read_response()
            expect_eq(first.body, b'4', 'first body')
            expect_eq(second.header('x-certificate-serial'), leaf.serial,
                      'X-Certificate-Serial of the second response')
            conn.close()
        with report.case('six mixed requests (GET, HEAD, 404, OPTIONS, big square) in one write'):
            number = '7' * 3000
            conn = daemon.tls()
            conn.send(harness.request_bytes('GET', '/square/99') +
                      harness.request_bytes('HEAD', '/square/99') +
                      harness.request_bytes('GET', '/nope') +
                      harness.request_bytes('OPTIONS', '/square/1') +
                      harness.request_bytes('GET', f'/square/{number}') +
                      harness.request_bytes('GET', '/square/3'))
            response = conn.read_response()
            expect_eq((response.status, response.body), (200, b'9801'), 'GET /square/99')
            response = conn.read_response(head=True)
            expect_eq((response.status, response.header('content-length')), (200, '4'),
                      'HEAD /square/99')
            response = conn.read_response()
            expect_eq(response.status, 404, 'GET /nope status')
            response = conn.read_response()
            expect_eq((response.status, response.header('allow')), (200, 'HEAD, GET, OPTIONS'),
                      'OPTIONS answer')
            response = conn.read_response()
            expect_eq(response.body, str(int(number) ** 2).encode(), 'big square body')
            response = conn.read_response()
            expect_eq(response.body, b'9', 'last body')
            conn.close()
        with report.case('a request split across two TLS writes in the middle of a header'):
            conn = daemon.tls()
            raw = (harness.request_bytes('GET', '/square/8') +
                   harness.request_bytes('GET', '/square/9'))
            conn.send(raw[:20])
            conn.send(raw[20:])
            expect_answers(conn, [('GET', '/square/8', 200, b'64'),
                                  ('GET', '/square/9', 200, b'81')])
            conn.close()
        with report.case('pipelined requests ending with Connection: close -> answers, then close'):
            conn = daemon.tls()
            conn.send(harness.request_bytes('GET', '/square/4') +
                      harness.request_bytes('GET', '/square/5', headers=['Connection: close']))
            expect_answers(conn, [('GET', '/square/4', 200, b'16'),
                                  ('GET', '/square/5', 200, b'25')])
            expect(harness.wait_closed(conn.sock, 3) is not None,
                   'connection left open after Connection: close')
            conn.close()
        with report.case('pipelining on the plain HTTP port (redirect, health, challenge 404)'):
            conn = daemon.plain()
            conn.send(harness.request_bytes('GET', '/a?b=c') +
                      harness.request_bytes('GET', '/health') +
                      harness.request_bytes('GET', '/.well-known/acme-challenge/none'))
            first = conn.read_response()
            expect_eq((first.status, first.header('location')),
                      (301, f'https://{harness.DOMAIN}:{daemon.https_port}/a?b=c'), 'first')
            expect_eq(conn.read_response().status, 200, 'second (/health) status')
            expect_eq(conn.read_response().status, 404, 'third (unknown challenge) status')
            conn.close()
    report.finish()


if __name__ == '__main__':
    main()

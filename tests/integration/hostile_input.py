#!/usr/bin/python3
"""Hostile and malformed requests on both sockets.  Each gets a 4xx, a close (at the latest at
http.timeout), or, where HTTP/1.1 lets a server be lenient, the right answer; never a 500, never a
hang; and right after each a normal request succeeds on a new connection."""

import socket
import ssl
import time

import harness
from harness import expect, expect_eq

TIMEOUT = 2
SLACK = 2.5
CONNECTION_LIMIT = 12

REQ = b'GET /square/5 HTTP/1.1\r\nHost: api.test\r\n'

# (title, raw bytes, what is acceptable besides a 4xx or a close)
#   'strict'  : nothing else; 'lenient': also the right answer (200, body 25)
#   'version' : also 505 (RFC 9110 section 15.6.6); 'method': also 501 (section 15.6.2)
ROWS = [
    ('garbage request line', b'GARBAGE\r\n\r\n', 'strict'),
    ('binary junk', bytes(range(256)) * 4 + b'\r\n\r\n', 'strict'),
    ('unknown HTTP version', b'GET /square/5 HTTP/9.9\r\nHost: api.test\r\n\r\n', 'version'),
    ('no HTTP version', b'GET /square/5\r\nHost: api.test\r\n\r\n', 'version'),
    ('NUL in the request target', b'GET /square/5\x00 HTTP/1.1\r\nHost: api.test\r\n\r\n',
     'strict'),
    ('control character in the target', b'GET /square/\x015 HTTP/1.1\r\nHost: api.test\r\n\r\n',
     'strict'),
    ('double spaces in the request line', b'GET  /square/5  HTTP/1.1\r\nHost: api.test\r\n\r\n',
     'lenient'),
    ('header line without a colon', REQ + b'This is no header\r\n\r\n', 'lenient'),
    ('whitespace between field name and colon (RFC 9112 section 5.1: 400)',
     b'GET /square/5 HTTP/1.1\r\nHost : api.test\r\n\r\n', 'strict'),
    ('obsolete line folding', REQ + b'X-Folded: a\r\n  b\r\n\r\n', 'lenient'),
    ('200 headers', REQ + b''.join(b'X-H-%d: v\r\n' % i for i in range(200)) + b'\r\n',
     'lenient'),
    ('one 64 KiB header', REQ + b'X-Big: ' + b'a' * 65536 + b'\r\n\r\n', 'strict'),
    ('64 KiB of headers', REQ + b''.join(b'X-H-%04d: %s\r\n' % (i, b'b' * 54)
                                         for i in range(1024)) + b'\r\n', 'strict'),
    ('invalid percent-encoding', b'GET /square/%ZZ HTTP/1.1\r\nHost: api.test\r\n\r\n', 'strict'),
    ('absolute-form target', b'GET https://api.test/square/5 HTTP/1.1\r\nHost: api.test\r\n\r\n',
     'lenient'),
    ('lowercase method', b'get /square/5 HTTP/1.1\r\nHost: api.test\r\n\r\n', 'method'),
    ('10000-character method', b'X' * 10000 + b' /square/5 HTTP/1.1\r\nHost: api.test\r\n\r\n',
     'method'),
    ('bad chunked body', b'POST /square/5 HTTP/1.1\r\nHost: api.test\r\n'
                         b'Transfer-Encoding: chunked\r\n\r\nzz\r\n\r\n', 'strict'),
    ('Content-Length and Transfer-Encoding together',
     b'POST /square/5 HTTP/1.1\r\nHost: api.test\r\nContent-Length: 4\r\n'
     b'Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n', 'strict'),
    ('two different Content-Length headers', REQ + b'Content-Length: 1\r\nContent-Length: 2\r\n'
                                                   b'\r\nab', 'strict'),
    ('negative Content-Length', REQ + b'Content-Length: -1\r\n\r\n', 'strict'),
]


def read_outcome(conn, head=False):
    """A Response, 'closed' (EOF, reset, TLS alert) or 'silent' (nothing within the timeout)."""
    conn.sock.settimeout(TIMEOUT + SLACK)
    try:
        return conn.read_response(head=head)
    except (EOFError, ConnectionResetError, BrokenPipeError, ssl.SSLError):
        return 'closed'
    except socket.timeout:
        return 'silent'
    except AssertionError:
        return 'closed'    # not HTTP at all (e.g. a TLS alert on the plain port)


def judge(outcome, kind, what):
    if outcome == 'closed':
        return
    expect(outcome != 'silent', f'{what}: neither an answer nor a close within '
                                f'{TIMEOUT + SLACK} s (http.timeout={TIMEOUT})')
    status = outcome.status
    expect(status != 500, f'{what}: 500 Internal Server Error')
    if 400 <= status < 500:
        return
    if kind == 'lenient' and status == 200:
        expect_eq(outcome.body, b'25', f'{what}: body of the 200 answer')
        return
    if kind == 'version' and status == 505:
        return
    if kind == 'method' and status == 501:
        return
    raise AssertionError(f'{what}: answered {status} {outcome.reason!r}')


def expect_healthy(daemon):
    expect(daemon.alive(), f'daemon died: {daemon.daemon_stderr()[-800:]}')
    conn = daemon.tls()
    try:
        response = conn.request('GET', '/square/7')
        expect_eq((response.status, response.body), (200, b'49'),
                  'normal request on a new connection afterwards')
    finally:
        conn.close()


def send_rows(report, daemon):
    for title, raw, kind in ROWS:
        with report.case(f'HTTPS: {title}'):
            conn = daemon.tls()
            try:
                try:
                    conn.send(raw)
                except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
                    outcome = 'closed'
                else:
                    outcome = read_outcome(conn)
                judge(outcome, kind, title)
            finally:
                conn.close()
            expect_healthy(daemon)


def never_ending(report, daemon):
    rows = [('header block that never ends', REQ + b'X-A: b\r\n'),
            ('request line that never ends', b'GET /square/5'),
            ('nothing after the TLS handshake', b'')]
    for title, raw in rows:
        with report.case(f'HTTPS: {title} -> closed within http.timeout'):
            conn = daemon.tls()
            try:
                if raw:
                    conn.send(raw)
                started = time.monotonic()
                outcome = read_outcome(conn)
                elapsed = time.monotonic() - started
                expect(outcome != 'silent', f'still open {TIMEOUT + SLACK} s later '
                                            f'(http.timeout={TIMEOUT})')
                if outcome != 'closed':
                    expect(400 <= outcome.status < 500, f'answered {outcome.status}')
                expect(elapsed >= TIMEOUT - 1, f'closed after only {elapsed:.1f} s')
            finally:
                conn.close()
            expect_healthy(daemon)


def plain_rows(report, daemon):
    rows = [('garbage request line', b'GARBAGE\r\n\r\n'),
            ('64 KiB of headers', b'GET / HTTP/1.1\r\nHost: api.test\r\nX-Big: '
                                  + b'a' * 65536 + b'\r\n\r\n'),
            ('NUL in the Host header', b'GET / HTTP/1.1\r\nHost: api.\x00test\r\n\r\n'),
            ('CR LF injected through the path', b'GET /a%0d%0aSet-Cookie:%20x=1 HTTP/1.1\r\n'
                                               b'Host: api.test\r\n\r\n')]
    for title, raw in rows:
        with report.case(f'plain HTTP: {title}'):
            conn = daemon.plain()
            try:
                conn.send(raw)
                outcome = read_outcome(conn)
                if outcome not in ('closed', 'silent') and outcome.status == 301:
                    location = outcome.header('location') or ''
                    expect(outcome.header('set-cookie') is None
                           and '\r' not in location and '\n' not in location,
                           f'header injection through the redirect: {outcome.headers}')
                else:
                    judge(outcome, 'strict', title)
            finally:
                conn.close()
            expect_healthy(daemon)
    with report.case('a TLS ClientHello on the plain port gets 400 or a close'):
        sock = harness.connect('127.0.0.1', daemon.http_port)
        try:
            context = harness.client_context(verify=False)
            try:
                context.wrap_socket(sock, server_hostname=harness.DOMAIN)
                raise AssertionError('a TLS handshake completed on the plain HTTP port')
            except (ssl.SSLError, ConnectionResetError, OSError):
                pass
        finally:
            sock.close()
        expect_healthy(daemon)
    with report.case('plain HTTP on the TLS port gets no HTTP answer'):
        sock = harness.connect('127.0.0.1', daemon.https_port)
        try:
            sock.sendall(harness.request_bytes('GET', '/square/5'))
            sock.settimeout(TIMEOUT + SLACK)
            try:
                data = sock.recv(100)
            except (ConnectionResetError, socket.timeout):
                data = b''
            expect(not data.startswith(b'HTTP/1.1 200'), f'plain request answered: {data!r}')
        finally:
            sock.close()
        expect_healthy(daemon)


def pipelined(report, daemon):
    with report.case('two pipelined requests get the right answers in order'):
        conn = daemon.tls()
        try:
            conn.send(harness.request_bytes('GET', '/square/31') +
                      harness.request_bytes('GET', '/square/32'))
            first, second = conn.read_response(), conn.read_response()
            expect_eq((first.body, second.body), (b'961', b'1024'), 'bodies')
        finally:
            conn.close()
    with report.case('a good request pipelined behind a bad one is not smuggled'):
        conn = daemon.tls()
        try:
            conn.send(b'GET /square/5 HTTP/1.1\r\nHost: api.test\r\nContent-Length: 34\r\n\r\n'
                      b'GET /square/6 HTTP/1.1\r\nX-A: b\r\n\r\n')
            outcome = read_outcome(conn)
            judge(outcome, 'lenient', 'GET with a body holding a request')
            if outcome not in ('closed', 'silent') and outcome.status == 200:
                extra = read_outcome(conn)
                expect(extra in ('closed', 'silent') or extra.body != b'36',
                       'the request inside the body was answered as a request of its own')
        finally:
            conn.close()
        expect_healthy(daemon)


def idle_connections(report, daemon):
    with report.case(f'{CONNECTION_LIMIT} idle TLS connections (the connection limit) are closed '
                     'at the timeout, then requests are served'):
        conns = []
        for _ in range(CONNECTION_LIMIT):
            try:
                conns.append(harness.tls_connect(daemon.https_port, cafile=daemon.sandbox.pki.root,
                                                 timeout=TIMEOUT + SLACK))
            except (ssl.SSLError, OSError):
                pass    # past a worker's share of the limit: refused, as it should be
        expect(len(conns) >= CONNECTION_LIMIT // 2,
               f'only {len(conns)} of {CONNECTION_LIMIT} idle connections were accepted')
        still_open = []
        for index, conn in enumerate(conns):
            if harness.wait_closed(conn, TIMEOUT + SLACK) is None:
                still_open.append(index)
            conn.close()
        expect_eq(still_open, [], f'idle connections still open {TIMEOUT + SLACK} s later')
        expect_healthy(daemon)


def main():
    report = harness.Report('hostile_input')
    with harness.Sandbox('hostile') as sandbox:
        sandbox.install_new('v1')
        daemon = sandbox.start_activated(sandbox.base_args() + [
            f'--http.timeout={TIMEOUT}', f'--http.connection-limit={CONNECTION_LIMIT}',
            '--http.per-ip-limit=0'])
        send_rows(report, daemon)
        never_ending(report, daemon)
        plain_rows(report, daemon)
        pipelined(report, daemon)
        idle_connections(report, daemon)
        with report.case('the daemon survived everything'):
            expect_healthy(daemon)
            expect_eq(daemon.stop(), 0, 'exit status after SIGTERM')
    report.finish()


if __name__ == '__main__':
    main()

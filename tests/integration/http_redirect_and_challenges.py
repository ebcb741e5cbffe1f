#!/usr/bin/python3
"""The plain HTTP socket: 301 to HTTPS with validated Host, /health, and HTTP-01 challenge answers
published and withdrawn over D-Bus (RFC 8555 section 8.3)."""

import harness
from harness import expect, expect_eq

INVALID_ARGUMENT = 'org.secureapi.Daemon1.Error.InvalidArgument'


def plain_request(daemon, raw):
    """Send raw bytes on a fresh plain connection; the first response (None if closed)."""
    conn = daemon.plain()
    try:
        conn.send(raw)
        try:
            return conn.read_response(head=raw.startswith(b'HEAD'))
        except (EOFError, ConnectionResetError):
            return None
    finally:
        conn.close()


def get(daemon, path, host=harness.DOMAIN, method='GET', version='HTTP/1.1'):
    lines = [f'{method} {path} {version}']
    if host is not None:
        lines.append(f'Host: {host}')
    return plain_request(daemon, ('\r\n'.join(lines) + '\r\n\r\n').encode('latin-1'))


def redirects(report, daemon):
    https = daemon.https_port
    rows = [
        ('GET', '/some/path?x=1&y=two', harness.DOMAIN,
         f'https://{harness.DOMAIN}:{https}/some/path?x=1&y=two'),
        ('GET', '/', f'{harness.DOMAIN}:8080', f'https://{harness.DOMAIN}:{https}/'),
        ('GET', '/square/15', f'127.0.0.1:{daemon.http_port}',
         f'https://127.0.0.1:{https}/square/15'),
        ('GET', '/a', '[::1]:80', f'https://[::1]:{https}/a'),
        ('GET', '/a', '[::1]', f'https://[::1]:{https}/a'),
        ('GET', '/x?', harness.DOMAIN, f'https://{harness.DOMAIN}:{https}/x'),
        ('HEAD', '/some/path?q=1', harness.DOMAIN,
         f'https://{harness.DOMAIN}:{https}/some/path?q=1'),
        ('POST', '/form', harness.DOMAIN, f'https://{harness.DOMAIN}:{https}/form'),
    ]
    for method, path, host, location in rows:
        with report.case(f'{method} {path} Host: {host} -> 301 {location}'):
            response = get(daemon, path, host=host, method=method)
            expect(response is not None, 'connection closed without an answer')
            expect_eq(response.status, 301, 'status')
            location_seen = response.header('location')
            if path == '/x?' and location_seen == location + '?':
                location_seen = location    # an empty query may be kept or dropped
            expect_eq(location_seen, location, 'Location')
    with report.case('curl sees the same 301 on the plain port'):
        result = daemon.curl('/some/where?z=9', scheme='http')
        expect_eq(result.status, 301, 'status')
        expect_eq(result.header('location'),
                  f'https://{harness.DOMAIN}:{https}/some/where?z=9', 'Location')


def bad_hosts(report, daemon):
    rows = [
        ('HTTP/1.1 without Host', None, 'HTTP/1.1'),
        ('HTTP/1.0 without Host', None, 'HTTP/1.0'),
        ('empty Host', '', 'HTTP/1.1'),
        ('Host with a path', f'{harness.DOMAIN}/evil', 'HTTP/1.1'),
        ('Host with userinfo', f'user@{harness.DOMAIN}', 'HTTP/1.1'),
        ('Host with a space', 'api test', 'HTTP/1.1'),
        ('Host with a bad port', f'{harness.DOMAIN}:http', 'HTTP/1.1'),
        ('Host with an unclosed IPv6 bracket', '[::1', 'HTTP/1.1'),
        ('Host with a query', f'{harness.DOMAIN}?x', 'HTTP/1.1'),
        ('Host with a fragment', f'{harness.DOMAIN}#x', 'HTTP/1.1'),
    ]
    for title, host, version in rows:
        with report.case(f'{title} -> 400'):
            response = get(daemon, '/anything', host=host, version=version)
            expect(response is not None, 'connection closed without an answer')
            expect_eq(response.status, 400, 'status')
            expect_eq(response.header('location'), None, 'Location on a 400')


def plain_health(report, daemon):
    with report.case('GET /health on the plain port -> 200, empty body'):
        response = get(daemon, '/health')
        expect(response is not None, 'connection closed without an answer')
        expect_eq(response.status, 200, 'status')
        expect_eq(response.body, b'', 'body')
        expect_eq(response.header('location'), None, 'Location')


def challenges(report, daemon, bus):
    token = 'tok_EN-0123456789abcdefghijklmnopqrstuvwxyzABCDEFG'
    key_authorization = token + '.Zm9vYmFyLXRodW1icHJpbnQtb2YtdGhlLWFjY291bnQta2V5'
    path = f'/.well-known/acme-challenge/{token}'
    with report.case('unknown token -> 404 before publishing'):
        response = get(daemon, path)
        expect_eq(response.status if response else None, 404, 'status')
    with report.case('PublishChallenge then GET -> 200 with the key authorization'):
        result = bus.call('PublishChallenge', 'ss', token, key_authorization)
        expect(result.ok, f'PublishChallenge failed: {result}')
        response = get(daemon, path)
        expect(response is not None, 'connection closed without an answer')
        expect_eq(response.status, 200, 'status')
        expect_eq(response.body.decode(), key_authorization, 'body')
        content_type = response.header('content-type') or ''
        expect(content_type.startswith('text/plain'), f'Content-Type {content_type!r}')
    with report.case('HEAD of a published challenge -> 200, no body'):
        conn = daemon.plain()
        try:
            response = conn.request('HEAD', path)
            expect_eq(response.status, 200, 'status')
            expect_eq(response.header('content-length'), str(len(key_authorization)),
                      'Content-Length')
            after = conn.request('GET', '/health')
            expect_eq(after.status, 200, 'GET after HEAD on the same connection')
        finally:
            conn.close()
    with report.case('curl reads the challenge from the plain port'):
        result = daemon.curl(path, scheme='http')
        expect_eq((result.status, result.body.decode()), (200, key_authorization), 'answer')
    with report.case('a challenge is not answered on the HTTPS port'):
        result = daemon.curl(path)
        expect_eq(result.status, 404, 'status of the challenge path over HTTPS')
    with report.case('two tokens at once are both answered'):
        other = 'second-token_2'
        result = bus.call('PublishChallenge', 'ss', other, other + '.thumb')
        expect(result.ok, f'PublishChallenge failed: {result}')
        expect_eq(get(daemon, f'/.well-known/acme-challenge/{other}').body, b'second-token_2.thumb',
                  'second token')
        expect_eq(get(daemon, path).body.decode(), key_authorization, 'first token')
        expect(bus.call('WithdrawChallenge', 's', other).ok, 'withdraw of the second token')
    with report.case('WithdrawChallenge then GET -> 404'):
        result = bus.call('WithdrawChallenge', 's', token)
        expect(result.ok, f'WithdrawChallenge failed: {result}')
        response = get(daemon, path)
        expect_eq(response.status if response else None, 404, 'status after withdrawal')
    with report.case('WithdrawChallenge of an unknown token is not an error'):
        result = bus.call('WithdrawChallenge', 's', 'never-published')
        expect(result.ok, f'WithdrawChallenge of an unknown token failed: {result}')
    for bad in ('bad/token', 'a b', 'tok=en', 'tok.en', '', 'caf\u00e9', 'tok+en'):
        with report.case(f'PublishChallenge with token {harness.shorten(bad, 30)} -> '
                         'InvalidArgument'):
            result = bus.call('PublishChallenge', 'ss', bad, 'whatever')
            expect(not result.ok, f'PublishChallenge accepted the bad token {bad!r}')
            expect_eq(result.error_name, INVALID_ARGUMENT, 'D-Bus error name')
    with report.case('PublishChallenge with a key authorization holding a line break -> error'):
        result = bus.call('PublishChallenge', 'ss', 'goodtoken', 'line\r\nX-Injected: 1')
        if result.ok:
            response = get(daemon, '/.well-known/acme-challenge/goodtoken')
            expect(response is not None and response.header('x-injected') is None,
                   'a key authorization with CR LF injected a header')
        else:
            expect_eq(result.error_name, INVALID_ARGUMENT, 'D-Bus error name')
    for path in ('/.well-known/acme-challenge/tok%2Ben', '/.well-known/acme-challenge/a.b',
                 '/.well-known/acme-challenge/', '/.well-known/acme-challenge/a/b',
                 '/.well-known/acme-challenge/..%2F..%2Fetc',
                 '/.well-known/acme-challenge/unknown_but_valid'):
        with report.case(f'GET {path} -> 404'):
            response = get(daemon, path)
            expect(response is not None, 'connection closed without an answer')
            expect_eq(response.status, 404, 'status')
    with report.case('GET /.well-known/acme-challenge/%00 -> 400 (a NUL cuts the target short)'):
        response = get(daemon, '/.well-known/acme-challenge/%00')
        expect(response is not None, 'connection closed without an answer')
        expect_eq(response.status, 400, 'status')


def https_port_setting(report, sandbox):
    for setting, expected in (('443', f'https://{harness.DOMAIN}/p?q=1'),
                              ('8443', f'https://{harness.DOMAIN}:8443/p?q=1')):
        with report.case(f'http.https-port={setting} -> Location {expected}'):
            daemon = sandbox.start_activated(sandbox.base_args() + [f'--http.https-port={setting}'])
            response = get(daemon, '/p?q=1', host=f'{harness.DOMAIN}:{daemon.http_port}')
            expect_eq(response.status if response else None, 301, 'status')
            expect_eq(response.header('location'), expected, 'Location')
            daemon.stop()


def main():
    report = harness.Report('http_redirect_and_challenges')
    with harness.Sandbox('http_redirect') as sandbox:
        sandbox.install_new('v1')
        daemon = sandbox.start_activated(sandbox.base_args())
        redirects(report, daemon)
        bad_hosts(report, daemon)
        plain_health(report, daemon)
        with report.case('the daemon owns its D-Bus name'):
            harness.wait_until(sandbox.bus.has_name, 5, what='org.secureapi.Daemon1 on the bus')
        challenges(report, daemon, sandbox.bus)
        with report.case('daemon still running'):
            expect(daemon.alive(), f'daemon died: {daemon.daemon_stderr()[-500:]}')
        daemon.stop()
        https_port_setting(report, sandbox)
    report.finish()


if __name__ == '__main__':
    main()

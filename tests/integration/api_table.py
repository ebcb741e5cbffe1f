#!/usr/bin/python3
"""Every row of the HTTPS API table of the contract, asked with curl (and a raw client where the
exact bytes on the wire matter: HEAD bodies)."""

import random
import sys

import harness
from harness import expect, expect_eq

sys.set_int_max_str_digits(0)

ALLOW = 'HEAD, GET, OPTIONS'
TEXT = 'text/plain; charset=utf-8'


def expect_square(daemon, digits, expected=None):
    result = daemon.curl(f'/square/{digits}')
    expected = expected if expected is not None else str(int(digits) ** 2)
    expect(result.returncode == 0, f'GET /square/{harness.shorten(digits, 40)}: {result}')
    expect_eq(result.status, 200, f'status of GET /square/{harness.shorten(digits, 40)}')
    expect_eq(result.body.decode(), expected, f'body of GET /square/{harness.shorten(digits, 40)}')
    expect_eq(result.header('content-type'), TEXT, 'Content-Type')
    return result


def squares(report, daemon):
    with report.case('GET /square/15 -> 225 with Content-Type and CORS'):
        result = expect_square(daemon, '15', '225')
        expect_eq(result.header('access-control-allow-origin'), '*',
                  'Access-Control-Allow-Origin (default "*")')
        expect_eq(result.header('content-length'), '3', 'Content-Length')
    with report.case('leading zeros are accepted and stripped from the square'):
        expect_square(daemon, '007', '49')
        expect_square(daemon, '00012', '144')
        expect_square(daemon, '0', '0')
        expect_square(daemon, '0000', '0')
    with report.case('10000-digit number squared exactly (api.max-digits default 10000)'):
        number = str(random.randint(1, 9)) + ''.join(random.choice('0123456789')
                                                      for _ in range(9999))
        expect_eq(len(number), 10000, 'digits')
        expect_square(daemon, number)
    with report.case('10000 characters with leading zeros are still within the limit'):
        number = '000' + ''.join(random.choice('0123456789') for _ in range(9997))
        expect_square(daemon, number)
    with report.case('10001 digits -> 414 naming the default limit, never 500'):
        result = daemon.curl('/square/' + '9' * 10001)
        expect_eq(result.status, 414, 'status past api.max-digits')
        expect('10000' in result.body.decode(errors='replace'),
               f'414 body should name the limit 10000: {result.body[:200]!r}')


def head_and_options(report, daemon):
    with report.case('HEAD /square/15 -> 200, GET headers, no body'):
        get = daemon.curl('/square/15')
        head = daemon.curl('/square/15', method='HEAD')
        expect_eq(head.status, 200, 'HEAD status')
        expect_eq(head.header('content-length'), get.header('content-length'),
                  'HEAD Content-Length equals the GET one')
        expect_eq(head.header('content-type'), TEXT, 'HEAD Content-Type')
        expect_eq(head.header('access-control-allow-origin'), '*', 'HEAD CORS header')
    with report.case('HEAD sends no body bytes (next response on the connection parses)'):
        conn = daemon.tls()
        try:
            head = conn.request('HEAD', '/square/123')
            expect_eq(head.status, 200, 'HEAD status')
            expect_eq(head.header('content-length'), '5', 'HEAD Content-Length')
            after = conn.request('GET', '/square/4')
            expect_eq((after.status, after.body), (200, b'16'),
                      'GET after HEAD on the same connection (a HEAD body would shift it)')
        finally:
            conn.close()
    for path in ('/square/15', '/health'):
        with report.case(f'OPTIONS {path} -> 200, Allow, empty body'):
            result = daemon.curl(path, method='OPTIONS')
            expect_eq(result.status, 200, 'status')
            expect_eq(result.header('allow'), ALLOW, 'Allow')
            expect_eq(result.body, b'', 'body')
    with report.case('CORS preflight on /square/15'):
        result = daemon.curl('/square/15', method='OPTIONS', headers=[
            'Origin: https://app.example', 'Access-Control-Request-Method: GET',
            'Access-Control-Request-Headers: X-Requested-With, Content-Type'])
        expect_eq(result.status, 200, 'status')
        expect_eq(result.header('access-control-allow-origin'), '*', 'Access-Control-Allow-Origin')
        expect_eq(result.header('access-control-allow-methods'), ALLOW,
                  'Access-Control-Allow-Methods')
        expect_eq(result.header('access-control-allow-headers'),
                  'X-Requested-With, Content-Type', 'Access-Control-Allow-Headers (echo)')
        expect_eq(result.header('access-control-max-age'), '86400', 'Access-Control-Max-Age')
        expect_eq(result.header('allow'), ALLOW, 'Allow')
        expect_eq(result.body, b'', 'body')


def errors(report, daemon):
    for method in ('POST', 'PUT', 'DELETE', 'PATCH'):
        for path in ('/square/15', '/health'):
            with report.case(f'{method} {path} -> 405 with Allow'):
                result = daemon.curl(path, method=method)
                expect_eq(result.status, 405, 'status')
                expect_eq(result.header('allow'), ALLOW, 'Allow')
    for path in ('/square/-5', '/square/+5', '/square/%2B5', '/square/1.5', '/square/',
                 '/square', '/square/15/', '/square/%D9%A5', '/square/1%D9%A5', '/square/0x10',
                 '/square/1e3', '/square/15/16', '/nope', '/', '/squares/15', '/health/x'):
        with report.case(f'GET {path} -> 404'):
            result = daemon.curl(path)
            expect_eq(result.status, 404, f'status of GET {path}')
    with report.case('URL longer than the per-connection memory -> 414, never 500'):
        result = daemon.curl('/square/' + '7' * 40000)
        expect(result.status != 500, f'got 500 for a 40000-digit URL: {result}')
        expect_eq(result.status, 414, 'status for a URL past http.memory-limit')


def health(report, daemon, leaf):
    with report.case('GET /health -> 200, empty body, certificate headers'):
        result = daemon.curl('/health')
        expect_eq(result.status, 200, 'status')
        expect_eq(result.body, b'', 'body')
        expect_eq(result.header('x-certificate-status'), 'loaded', 'X-Certificate-Status')
        expect_eq(result.header('x-certificate-serial'), leaf.serial, 'X-Certificate-Serial')
    with report.case('HEAD /health -> 200 with the same headers'):
        result = daemon.curl('/health', method='HEAD')
        expect_eq(result.status, 200, 'status')
        expect_eq(result.header('x-certificate-serial'), leaf.serial, 'X-Certificate-Serial')
    with report.case('no Strict-Transport-Security by default (http.hsts-max-age 0)'):
        result = daemon.curl('/square/2')
        expect_eq(result.header('strict-transport-security'), None, 'Strict-Transport-Security')


def expect_refused(result, message):
    output = (result.stdout + result.stderr).decode(errors='replace')
    expect('Handshake was completed' not in output, message)
    # The client must really have offered the handshake and been turned down by the daemon, not
    # have failed on its own priority string.
    expect('*** Fatal error' in output and 'Syntax error' not in output
           and 'insufficient priorities' not in output,
           f'gnutls-cli did not get as far as a refused handshake: {output[-300:]}')


def tls_settings(report, daemon, sandbox):
    port = str(daemon.https_port)
    root = sandbox.pki.root

    def gnutls(*args):
        return harness.run(['gnutls-cli', f'--x509cafile={root}',
                            f'--sni-hostname={harness.DOMAIN}',
                            f'--verify-hostname={harness.DOMAIN}', '-p', port] + list(args)
                           + ['127.0.0.1'], timeout=15)

    for version in ('TLS1.2', 'TLS1.3'):
        with report.case(f'{version} handshake succeeds'):
            result = gnutls(f'--priority=NORMAL:-VERS-ALL:+VERS-{version}')
            expect(result.returncode == 0 and b'Handshake was completed' in result.stdout,
                   f'{version} handshake failed: {result.stderr[-300:]!r}')
    for version in ('TLS1.1', 'TLS1.0'):
        with report.case(f'{version} is refused'):
            result = gnutls(f'--priority=NORMAL:-VERS-ALL:+VERS-{version}:'
                            '%VERIFY_ALLOW_SIGN_WITH_SHA1')
            expect_refused(result, f'{version} handshake completed but only TLS 1.2 and 1.3 '
                           'are allowed')
    with report.case('a CBC (non-AEAD) cipher suite is refused'):
        result = gnutls('--priority=NORMAL:-VERS-ALL:+VERS-TLS1.2:-CIPHER-ALL:+AES-128-CBC:'
                        '+AES-256-CBC:-MAC-ALL:+SHA1:+SHA256:+SHA384')
        expect_refused(result, 'a TLS 1.2 CBC suite was negotiated but only AEAD ciphers are '
                       'allowed')
    with report.case('session resumption works (session tickets enabled)'):
        result = gnutls('--resume', '--priority=NORMAL:-VERS-ALL:+VERS-TLS1.2')
        output = result.stdout.decode(errors='replace')
        expect('This is a resumed session' in output,
               f'TLS 1.2 session was not resumed: {output[-400:]}')


def configured_headers(report, sandbox):
    with report.case('http.cors-allow-origin and http.hsts-max-age from the config file'):
        config = sandbox.write_config(
            f'domain = {harness.DOMAIN}\n[acme]\nstate-directory = {sandbox.dir / "state"}\n'
            '[http]\ncors-allow-origin = https://app.example\nhsts-max-age = 31536000\n',
            'cors.conf')
        daemon = sandbox.start_activated(sandbox.base_args(config))
        result = daemon.curl('/square/9')
        expect_eq(result.body, b'81', 'body')
        expect_eq(result.header('access-control-allow-origin'), 'https://app.example',
                  'Access-Control-Allow-Origin')
        expect_eq(result.header('strict-transport-security'), 'max-age=31536000',
                  'Strict-Transport-Security')
        preflight = daemon.curl('/square/9', method='OPTIONS', headers=[
            'Origin: https://app.example', 'Access-Control-Request-Method: GET'])
        expect_eq(preflight.header('access-control-allow-origin'), 'https://app.example',
                  'preflight Access-Control-Allow-Origin')
        daemon.stop()
    with report.case('empty http.cors-allow-origin in the file -> no CORS header'):
        config = sandbox.write_config(
            f'domain = {harness.DOMAIN}\n[acme]\nstate-directory = {sandbox.dir / "state"}\n'
            '[http]\ncors-allow-origin =\n', 'no-cors.conf')
        daemon = sandbox.start_activated(sandbox.base_args(config))
        result = daemon.curl('/square/9')
        expect_eq(result.body, b'81', 'body')
        expect_eq(result.header('access-control-allow-origin'), None,
                  'Access-Control-Allow-Origin with an empty setting')
        preflight = daemon.curl('/square/9', method='OPTIONS', headers=[
            'Origin: https://app.example', 'Access-Control-Request-Method: GET'])
        expect_eq(preflight.status, 200, 'preflight status')
        expect_eq(preflight.header('access-control-allow-origin'), None,
                  'preflight Access-Control-Allow-Origin with an empty setting')
        daemon.stop()
    with report.case('empty http.cors-allow-origin on the command line -> no CORS header'):
        daemon = sandbox.start_activated(sandbox.base_args() + ['--http.cors-allow-origin='])
        result = daemon.curl('/square/9')
        expect_eq(result.body, b'81', 'body')
        expect_eq(result.header('access-control-allow-origin'), None,
                  'Access-Control-Allow-Origin with an empty setting')
        daemon.stop()
    with report.case('api.max-digits=50: 50 digits answered, 51 -> 414 with a one-line body'):
        daemon = sandbox.start_activated(sandbox.base_args() + ['--api.max-digits=50'])
        expect_square(daemon, '9' * 50)
        result = daemon.curl('/square/' + '9' * 51)
        expect_eq(result.status, 414, 'status')
        text = result.body.decode(errors='replace')
        expect(text.strip() and '\n' not in text.strip(),
               f'414 body must be one non-empty line: {text!r}')
        expect('50' in text, f'414 body must name the limit 50: {text!r}')
        result = daemon.curl('/square/' + '0' * 51)
        expect_eq(result.status, 414, 'status for 51 zeros (the limit counts characters)')
        daemon.stop()


def main():
    report = harness.Report('api_table')
    with harness.Sandbox('api_table') as sandbox:
        leaf = sandbox.install_new('v1')
        daemon = sandbox.start_activated(sandbox.base_args())
        squares(report, daemon)
        head_and_options(report, daemon)
        errors(report, daemon)
        health(report, daemon, leaf)
        tls_settings(report, daemon, sandbox)
        with report.case('daemon still running after every row'):
            expect(daemon.alive(), f'daemon died: {daemon.daemon_stderr()[-500:]}')
        daemon.stop()
        configured_headers(report, sandbox)
    report.finish()


if __name__ == '__main__':
    main()

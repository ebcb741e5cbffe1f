#!/usr/bin/python3
"""Configuration errors: an unknown key or a bad value, in the file or on the command line, is ONE
line on stderr naming the key, the value and where it came from, and exit status 78 (EX_CONFIG),
without READY=1.  A file holding every documented key is accepted."""

import os
import socket

import harness
from harness import expect, expect_eq

DEFAULT_CONFIG = '/etc/secure-api/secure-api.conf'


def run_failing(sandbox, args, config_text=None):
    """Start the daemon self-bound with args; return (exit status, stderr lines, READY seen)."""
    port = harness.free_port()
    full = list(args)
    if config_text is not None:
        full.insert(0, '--config=' + sandbox.write_config(config_text, 'case.conf'))
    full += [f'--tls.cert={sandbox.live_cert}', f'--tls.key={sandbox.live_key}']
    if not any(arg.startswith('--listen-https') for arg in full) and \
            'listen-https' not in (config_text or ''):
        full.append(f'--listen-https=127.0.0.1:{port}')
    daemon = sandbox.start_self_bound(full, https_port=port, ready=False)
    code = daemon.wait_exit(10)
    if code is None:
        daemon.kill()
    lines = [line for line in daemon.stderr().splitlines() if line.strip()]
    ready = daemon.notify.wait_for('READY', '1', timeout=0) is not None
    return code, lines, ready


def expect_config_error(sandbox, args, words, config_text=None):
    code, lines, ready = run_failing(sandbox, args, config_text)
    expect_eq(code, harness.EX_CONFIG, f'exit status (stderr: {lines})')
    expect(not ready, 'READY=1 was sent')
    expect_eq(len(lines), 1, f'lines on stderr ({lines})')
    for word in words:
        expect(word in lines[0], f'the error line does not name {word!r}: {lines[0]!r}')
    return lines[0]


def file_text(sandbox, top='', sections=''):
    """Top-level keys come before any [section] (INI)."""
    return (f'domain = {harness.DOMAIN}\n{top}'
            f'[acme]\nstate-directory = {sandbox.dir / "state"}\n{sections}')


def file_errors(report, sandbox):
    path = str(sandbox.dir / 'case.conf')
    rows = [
        ('unknown key in a section', '', '[http]\nno-such-key = 1\n', ['no-such-key']),
        ('unknown top-level key', 'colour = blue\n', '', ['colour']),
        ('unknown section', '', '[nonsense]\nkey = 1\n', ['nonsense']),
        ('bad number', '', '[http]\ntimeout = soon\n', ['timeout', 'soon']),
        ('negative number', '', '[http]\nthreads = -2\n', ['threads', '-2']),
        ('zero max-digits', '', '[api]\nmax-digits = 0\n', ['max-digits', '0']),
        ('bad listen address', 'listen-https = nowhere\n', '', ['listen-https', 'nowhere']),
        ('bad boolean', '', 'agree-tos = perhaps\n', ['agree-tos', 'perhaps']),
    ]
    for title, top, sections, words in rows:
        with report.case(f'file: {title} -> exit 78, one line naming it and the file'):
            expect_config_error(sandbox, [], words + [path],
                                config_text=file_text(sandbox, top, sections))


def command_line_errors(report, sandbox):
    rows = [
        ('--http.threads=abc', ['http.threads', 'abc']),
        ('--http.timeout=-1', ['http.timeout', '-1']),
        ('--api.max-digits=0', ['api.max-digits', '0']),
        ('--http.connection-limit=many', ['http.connection-limit', 'many']),
        ('--http.per-ip-limit=1.5', ['http.per-ip-limit', '1.5']),
        ('--http.drain-timeout=forever', ['http.drain-timeout', 'forever']),
        ('--http.https-port=70000', ['http.https-port', '70000']),
        ('--listen-https=127.0.0.1', ['listen-https', '127.0.0.1']),
        ('--listen-https=[::1:8443', ['listen-https', '[::1:8443']),
        ('--listen-http=300.1.1.1:80', ['listen-http', '300.1.1.1:80']),
        ('--no-such-option=1', ['no-such-option']),
    ]
    for arg, words in rows:
        with report.case(f'command line: {arg} -> exit 78, one line naming it and '
                         '"command line"'):
            config = sandbox.default_config()
            expect_config_error(sandbox, [f'--config={config}', arg], words + ['command line'])


def other_errors(report, sandbox):
    with report.case('explicit --config that does not exist -> exit 78, one line naming it'):
        missing = str(sandbox.dir / 'missing.conf')
        expect_config_error(sandbox, [f'--config={missing}'], [missing])
    with report.case('explicit --config that is a directory -> exit 78'):
        directory = str(sandbox.dir / 'state')
        expect_config_error(sandbox, [f'--config={directory}'], [directory])
    with report.case('no https listener at all (no fd, no --listen-https) -> exit 78'):
        daemon = sandbox.start_self_bound(
            [f'--config={sandbox.default_config()}', f'--tls.cert={sandbox.live_cert}',
             f'--tls.key={sandbox.live_key}',
             f'--listen-http=127.0.0.1:{harness.free_port()}'], ready=False)
        code = daemon.wait_exit(10)
        expect_eq(code, harness.EX_CONFIG, f'exit status (stderr: {daemon.stderr().strip()})')
        expect(daemon.notify.wait_for('READY', '1', timeout=0) is None, 'READY=1 was sent')
    with report.case('an https port already in use -> exits non-zero, never READY=1'):
        with socket.socket() as busy:
            busy.bind(('127.0.0.1', 0))
            busy.listen()
            port = busy.getsockname()[1]
            daemon = sandbox.start_self_bound(
                sandbox.base_args() + [f'--listen-https=127.0.0.1:{port}'], ready=False)
            code = daemon.wait_exit(10)
            expect(code not in (None, 0), f'exit status {code} with the port taken')
            expect(daemon.notify.wait_for('READY', '1', timeout=0) is None, 'READY=1 was sent')


def accepted(report, sandbox):
    with report.case('a file with every documented key is accepted; the command line wins'):
        https_port, http_port = harness.free_port(), harness.free_port()
        text = (f'domain = {harness.DOMAIN}\ndomain = localhost\n'
                f'listen-https = 127.0.0.1:{https_port}\nlisten-http = 127.0.0.1:{http_port}\n'
                '[acme]\ndirectory = https://127.0.0.1:9/dir\nemail = admin@api.test\n'
                'agree-tos = true\nkey-type = ec-p256\n'
                f'state-directory = {sandbox.dir / "state"}\nchallenge = daemon\n'
                f'webroot = {sandbox.dir}\nca-bundle = {sandbox.pki.root}\n'
                'preferred-chain = Root X\n'
                f'[tls]\ncert = {sandbox.live_cert}\nkey = {sandbox.live_key}\n'
                'priorities = NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2\n'
                '[http]\ncors-allow-origin = https://file.example\nhsts-max-age = 60\n'
                'threads = 3\nconnection-limit = 100\nper-ip-limit = 10\ntimeout = 20\n'
                'memory-limit = 65536\ndrain-timeout = 5\nhttps-port = 8443\n'
                '[api]\nmax-digits = 20\n')
        config = sandbox.write_config(text, 'full.conf')
        daemon = sandbox.start_self_bound([f'--config={config}',
                                           '--http.cors-allow-origin=https://cli.example'],
                                          https_port=https_port, http_port=http_port)
        result = daemon.curl('/square/' + '9' * 20)
        expect_eq(result.status, 200, '20 digits with api.max-digits = 20')
        expect_eq(result.header('access-control-allow-origin'), 'https://cli.example',
                  'the command line overrides the file')
        expect_eq(result.header('strict-transport-security'), 'max-age=60',
                  'Strict-Transport-Security from the file')
        expect_eq(daemon.curl('/square/' + '9' * 21).status, 414, '21 digits')
        redirect = daemon.curl('/x', scheme='http')
        expect_eq(redirect.header('location'), f'https://{harness.DOMAIN}:8443/x',
                  'Location with http.https-port = 8443')
        daemon.stop()
    with report.case('no --config and no default file: defaults are used'):
        if os.path.exists(DEFAULT_CONFIG):
            raise harness.Skip(f'{DEFAULT_CONFIG} exists on this machine')
        port = harness.free_port()
        daemon = sandbox.start_self_bound(
            [f'--tls.cert={sandbox.live_cert}', f'--tls.key={sandbox.live_key}',
             f'--domain={harness.DOMAIN}', f'--listen-https=127.0.0.1:{port}'], https_port=port)
        expect_eq(daemon.curl('/square/4').body, b'16', 'GET /square/4')
        daemon.stop()


def main():
    report = harness.Report('config_errors')
    with harness.Sandbox('config') as sandbox:
        sandbox.install_new('v1')
        file_errors(report, sandbox)
        command_line_errors(report, sandbox)
        other_errors(report, sandbox)
        accepted(report, sandbox)
    report.finish()


if __name__ == '__main__':
    main()

#!/usr/bin/python3
"""BC-18: roles come from LISTEN_FDNAMES, never from fd order.  Started twice under
systemd-socket-activate with the listeners (and names) in opposite order, HTTPS is always on the
https port and plain HTTP on the http port; an fd with an unknown name is logged and closed;
without passed fds the daemon binds --listen-https/--listen-http itself."""

import socket

import harness
from harness import expect, expect_eq


def expect_https(daemon, port):
    result = daemon.curl('/health', port=port)
    expect(result.returncode == 0, f'HTTPS on port {port} failed: {result}')
    expect_eq(result.status, 200, f'HTTPS /health status on port {port}')
    expect_eq(result.header('x-certificate-status'), 'loaded', 'X-Certificate-Status')
    result = daemon.curl('/square/21', port=port)
    expect_eq(result.body, b'441', f'HTTPS /square/21 on port {port}')


def expect_plain(daemon, port):
    result = daemon.curl('/health', scheme='http', port=port)
    expect(result.returncode == 0, f'plain HTTP on port {port} failed: {result}')
    expect_eq(result.status, 200, f'plain /health status on port {port}')
    expect_eq(result.body, b'', 'plain /health body')
    result = daemon.curl('/elsewhere', scheme='http', port=port)
    expect_eq(result.status, 301, f'plain /elsewhere status on port {port}')


def expect_not_plain(port):
    """A plain HTTP request to a TLS port gets no HTTP answer."""
    sock = harness.connect('127.0.0.1', port)
    try:
        sock.sendall(harness.request_bytes('GET', '/health'))
        sock.settimeout(3)
        try:
            data = sock.recv(100)
        except (ConnectionResetError, socket.timeout):
            data = b''
        expect(not data.startswith(b'HTTP/'),
               f'port {port} answered plain HTTP although it should speak TLS: {data!r}')
    finally:
        sock.close()


def expect_refused(port, what):
    try:
        sock = harness.connect('127.0.0.1', port, timeout=2)
    except ConnectionRefusedError:
        return
    try:
        closed = harness.wait_closed(sock, 2)
        expect(closed is not None, f'{what}: port {port} accepted a connection and kept it open')
    finally:
        sock.close()


def run_twice(report, sandbox, https_port, http_port):
    orders = [
        ('https:http', [('https', '127.0.0.1', https_port), ('http', '127.0.0.1', http_port)]),
        ('http:https', [('http', '127.0.0.1', http_port), ('https', '127.0.0.1', https_port)]),
    ]
    for names, listeners in orders:
        with report.case(f'--fdname={names}: HTTPS on {https_port}, plain HTTP on {http_port}'):
            daemon = sandbox.start_activated(sandbox.base_args(), listeners=listeners)
            expect_https(daemon, https_port)
            expect_plain(daemon, http_port)
            expect_not_plain(https_port)
            code = daemon.stop()
            expect_eq(code, 0, 'exit status after SIGTERM')


def unknown_name(report, sandbox):
    https_port, http_port, odd_port = (harness.free_port() for _ in range(3))
    with report.case('an fd named "metrics" is logged as a warning and closed'):
        listeners = [('https', '127.0.0.1', https_port), ('metrics', '127.0.0.1', odd_port),
                     ('http', '127.0.0.1', http_port)]
        daemon = sandbox.start_activated(sandbox.base_args(), listeners=listeners)
        expect_https(daemon, https_port)
        expect_plain(daemon, http_port)
        expect_refused(odd_port, 'the fd with an unknown name')
        lines = [line for line in daemon.daemon_stderr().splitlines() if 'metrics' in line]
        expect(lines, f'nothing logged about the fd named "metrics": {daemon.daemon_stderr()}')
        expect(any(line.startswith('<4>') for line in lines),
               f'the unknown fd name is not logged as a warning (<4>): {lines}')
        daemon.stop()


def self_bound(report, sandbox):
    with report.case('no passed fds: --listen-https/--listen-http are bound by the daemon'):
        https_port, http_port = harness.free_port(), harness.free_port()
        daemon = sandbox.start_self_bound(
            sandbox.base_args() + [f'--listen-https=127.0.0.1:{https_port}',
                                   f'--listen-http=127.0.0.1:{http_port}'],
            https_port=https_port, http_port=http_port)
        expect_https(daemon, https_port)
        expect_plain(daemon, http_port)
        daemon.stop()
    with report.case('passed https fd wins over --listen-https; --listen-http still bound'):
        https_port, ignored_port, http_port = (harness.free_port() for _ in range(3))
        daemon = sandbox.start_activated(
            sandbox.base_args() + [f'--listen-https=127.0.0.1:{ignored_port}',
                                   f'--listen-http=127.0.0.1:{http_port}'],
            listeners=[('https', '127.0.0.1', https_port)])
        expect_https(daemon, https_port)
        expect_refused(ignored_port, '--listen-https given while an https fd was passed')
        expect_plain(daemon, http_port)
        daemon.stop()
    with report.case('only an http fd and no --listen-https: configuration error, exit 78'):
        daemon = sandbox.start_activated(sandbox.base_args(),
                                         listeners=[('http', '127.0.0.1', harness.free_port())],
                                         ready=False)
        code = daemon.wait_exit(10)
        expect_eq(code, harness.EX_CONFIG, 'exit status without any https listener')
        expect(daemon.notify.wait_for('READY', '1', timeout=0) is None, 'READY=1 was sent')


def main():
    report = harness.Report('field_bc_18_fdnames_by_name')
    with harness.Sandbox('bc18') as sandbox:
        sandbox.install_new('v1')
        run_twice(report, sandbox, harness.free_port(), harness.free_port())
        unknown_name(report, sandbox)
        self_bound(report, sandbox)
    report.finish()


if __name__ == '__main__':
    main()

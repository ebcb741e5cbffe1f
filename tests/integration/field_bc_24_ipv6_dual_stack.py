#!/usr/bin/python3
"""BC-24: IPv6 dual stack.  Self-bound on [::]:P the daemon accepts IPv4 and IPv6 clients;
0.0.0.0:P together with [::]:P binds both without EADDRINUSE; a socket passed by the service
manager keeps the IPV6_V6ONLY it was made with."""

import socket

import harness
from harness import expect, expect_eq


def expect_serves(daemon, host, port):
    try:
        conn = daemon.tls(host=host, port=port)
    except OSError as error:
        raise AssertionError(f'TLS connection to {host} port {port} failed: {error}') from None
    try:
        response = conn.request('GET', '/square/16')
        expect_eq((response.status, response.body), (200, b'256'),
                  f'GET /square/16 through {host} port {port}')
    finally:
        conn.close()


def expect_refused(host, port):
    try:
        sock = harness.connect(host, port, timeout=2)
    except ConnectionRefusedError:
        return
    sock.close()
    raise AssertionError(f'{host} port {port} accepted a connection; nothing should listen there')


def v6only(sock):
    return sock.getsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY)


def self_bound(report, sandbox):
    with report.case('--listen-https=[::]:P accepts 127.0.0.1:P and [::1]:P'):
        port = harness.free_port(socket.AF_INET6)
        daemon = sandbox.start_self_bound(sandbox.base_args() + [f'--listen-https=[::]:{port}'],
                                          https_port=port)
        expect_serves(daemon, '127.0.0.1', port)
        expect_serves(daemon, '::1', port)
        expect_eq(daemon.stop(), 0, 'exit status')
    with report.case('--listen-https=0.0.0.0:P and --listen-https=[::]:P both bind'):
        port = harness.free_port(socket.AF_INET6)
        daemon = sandbox.start_self_bound(sandbox.base_args() + [
            f'--listen-https=0.0.0.0:{port}', f'--listen-https=[::]:{port}'], https_port=port,
            ready=False)
        daemon.wait_ready()
        expect(daemon.alive(), 'daemon exited')
        expect_serves(daemon, '127.0.0.1', port)
        expect_serves(daemon, '::1', port)
        expect_eq(daemon.stop(), 0, 'exit status')
    with report.case('[::]:P listed before 0.0.0.0:P binds as well'):
        port = harness.free_port(socket.AF_INET6)
        daemon = sandbox.start_self_bound(sandbox.base_args() + [
            f'--listen-https=[::]:{port}', f'--listen-https=0.0.0.0:{port}'], https_port=port)
        expect_serves(daemon, '127.0.0.1', port)
        expect_serves(daemon, '::1', port)
        expect_eq(daemon.stop(), 0, 'exit status')
    with report.case('--listen-https=[::1]:P serves IPv6 loopback only'):
        port = harness.free_port(socket.AF_INET6)
        daemon = sandbox.start_self_bound(sandbox.base_args() + [f'--listen-https=[::1]:{port}'],
                                          https_port=port)
        expect_serves(daemon, '::1', port)
        expect_refused('127.0.0.1', port)
        daemon.stop()
    with report.case('plain HTTP on [::]:P is dual-stack too'):
        https_port = harness.free_port(socket.AF_INET6)
        http_port = harness.free_port(socket.AF_INET6)
        daemon = sandbox.start_self_bound(sandbox.base_args() + [
            f'--listen-https=[::]:{https_port}', f'--listen-http=[::]:{http_port}'],
            https_port=https_port, http_port=http_port)
        for host in ('127.0.0.1', '::1'):
            conn = daemon.plain(host=host)
            response = conn.request('GET', '/health')
            conn.close()
            expect_eq(response.status, 200, f'plain /health through {host}')
        daemon.stop()


def passed_socket(report, sandbox, only_v6):
    label = 'IPv6-only' if only_v6 else 'dual-stack'
    with report.case(f'socket-activated with a {label} [::] socket: left as it was made'):
        sock = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1 if only_v6 else 0)
        sock.bind(('::', 0))
        sock.listen(64)
        port = sock.getsockname()[1]
        try:
            daemon = sandbox.start_activated(
                sandbox.base_args(), passed=[('https', sock)],
                listeners=[('http', '127.0.0.1', harness.free_port())])
            expect_serves(daemon, '::1', port)
            if only_v6:
                expect_refused('127.0.0.1', port)
            else:
                expect_serves(daemon, '127.0.0.1', port)
            expect_eq(v6only(sock), 1 if only_v6 else 0, 'IPV6_V6ONLY of the passed socket')
            daemon.stop()
        finally:
            sock.close()


def ipv4_only(report, sandbox):
    with report.case('--listen-https=0.0.0.0:P accepts 127.0.0.1:P'):
        port = harness.free_port()
        daemon = sandbox.start_self_bound(sandbox.base_args() + [f'--listen-https=0.0.0.0:{port}'],
                                          https_port=port)
        expect_serves(daemon, '127.0.0.1', port)
        daemon.stop()


def main():
    report = harness.Report('field_bc_24_ipv6_dual_stack')
    with harness.Sandbox('bc24') as sandbox:
        sandbox.install_new('v1')
        ipv4_only(report, sandbox)
        if harness.have_ipv6_loopback():
            self_bound(report, sandbox)
            passed_socket(report, sandbox, only_v6=True)
            passed_socket(report, sandbox, only_v6=False)
        else:
            with report.case('IPv6 parts'):
                raise harness.Skip('this machine has no ::1; IPv6 dual-stack cases not run')
    report.finish()


if __name__ == '__main__':
    main()

#!/usr/bin/python3
"""acme.challenge = webroot: another web server owns the http-01 port (here Python's http.server
serving a directory), the renewer writes the key authorizations below
<webroot>/.well-known/acme-challenge/, pebble validates them there, the daemon (HTTPS only) is
only asked to reload, and the challenge files are gone afterwards."""

import contextlib
import socket
import subprocess

import renew_harness as rh
from renew_harness import expect, expect_eq

harness = rh.harness


@contextlib.contextmanager
def static_server(directory, port):
    process = subprocess.Popen(
        ['/usr/bin/python3', '-m', 'http.server', '--bind', '127.0.0.1', '--directory',
         str(directory), str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        def listening():
            try:
                socket.create_connection(('127.0.0.1', port), timeout=0.5).close()
                return True
            except OSError:
                return False
        harness.wait_until(listening, 10, interval=0.05, what='http.server listening')
        yield process
    finally:
        process.kill()
        process.wait()


def main():
    report = harness.Report('renew_webroot')
    with rh.RenewSandbox('renew-webroot') as sandbox:
        pebble = sandbox.start_pebble()
        webroot = sandbox.dir / 'webroot'
        webroot.mkdir()
        sandbox.write_renew_config(pebble, extra=f'challenge = webroot\nwebroot = {webroot}\n')
        sandbox.daemon = sandbox.start_activated(
            [f'--config={sandbox.config}'], listeners=[('https', '127.0.0.1', sandbox.https_port)])
        sandbox.wait_on_bus()
        with static_server(webroot, sandbox.http_port):
            with report.case('issuance through the webroot: exit 0, served, files withdrawn'):
                result = sandbox.renew().expect_status(rh.RENEWED)
                serial = result.issued_serial()
                root = pebble.root_file(0)
                expect_eq(sandbox.served_serial(root), serial, 'serial a new handshake sees')
                sandbox.expect_square(root, 15)
                challenges = webroot / '.well-known' / 'acme-challenge'
                expect(challenges.is_dir(), f'{challenges} was never created')
                left = sorted(p.name for p in challenges.iterdir())
                expect_eq(left, [], 'challenge files left in the webroot')
    report.finish()


if __name__ == '__main__':
    main()

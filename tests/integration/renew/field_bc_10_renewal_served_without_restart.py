#!/usr/bin/python3
"""BC-10, end to end with pebble: after secure-api-renew --force a new TLS client sees the new
serial within 5 s, the daemon is the same process, and an HTTP/1.1 keep-alive connection opened
before the renewal completes its next request.  Two forced renewals in a row (v2, then v3) leave
the daemon serving v3: the newest always wins."""

import time

import renew_harness as rh
from renew_harness import expect, expect_eq

harness = rh.harness


def wait_for_serial(sandbox, root, serial, timeout):
    started = time.monotonic()
    while True:
        seen = sandbox.served_serial(root)
        if seen == serial:
            return time.monotonic() - started
        if time.monotonic() - started > timeout:
            raise AssertionError(f'{timeout} s after the renewal a new handshake still sees '
                                 f'{seen}, not {serial}')
        time.sleep(0.05)


def main():
    report = harness.Report('field_bc_10_renewal_served_without_restart')
    with rh.RenewSandbox('bc10-renew') as sandbox:
        sandbox.setup()
        _, v1, root = sandbox.first_issuance()
        pid = sandbox.bus.owner_pid()
        with report.case('forced renewal: new serial within 5 s, same PID, keep-alive '
                         'connection answers its next request'):
            expect_eq(pid, sandbox.daemon.pid, 'PID owning the bus name')
            sock = harness.tls_connect(sandbox.https_port, cafile=root)
            conn = harness.HttpConnection(sock)
            response = conn.request('GET', '/square/11')
            expect_eq((response.status, response.body), (200, b'121'),
                      'request on the keep-alive connection before the renewal')
            result = sandbox.renew('--force').expect_status(rh.RENEWED)
            v2 = result.issued_serial()
            expect(v2 != v1, 'the forced renewal issued the same serial')
            finished = time.monotonic()
            wait_for_serial(sandbox, root, v2, 5 - (time.monotonic() - finished))
            expect(sandbox.daemon.alive(), 'the daemon exited')
            expect_eq(sandbox.bus.owner_pid(), pid, 'PID owning the bus name after the renewal')
            response = conn.request('GET', '/square/12')
            expect_eq((response.status, response.body), (200, b'144'),
                      'request on the keep-alive connection after the renewal')
            before = harness.der_serial_hex(sock.getpeercert(binary_form=True))
            expect_eq(harness.normal_serial(before), v1,
                      'certificate of the connection opened before the renewal')
            conn.close()
            sandbox.expect_square(root, 15)

        with report.case('back to back: two forced renewals (v2, v3) end with v3 served'):
            first = sandbox.renew('--force').expect_status(rh.RENEWED, 'renewal to v2')
            second = sandbox.renew('--force').expect_status(rh.RENEWED, 'renewal to v3')
            v2, v3 = first.issued_serial(), second.issued_serial()
            expect(len({v1, v2, v3}) == 3, f'serials not distinct: {v1} {v2} {v3}')
            expect_eq(rh.cert_serial(str(sandbox.live_cert_path)), v3, 'installed serial')
            wait_for_serial(sandbox, root, v3, 5)
            expect_eq(sandbox.bus.owner_pid(), pid, 'PID owning the bus name')
            serial_property = sandbox.bus.get_property('CertificateSerial')
            expect_eq(harness.normal_serial(serial_property), v3, 'CertificateSerial property')
            previous = sandbox.generations_dir / 'previous'
            expect(previous.is_symlink(), 'no "previous" link to the generation before')
            expect_eq(rh.cert_serial(str(previous / 'fullchain.pem')), v2,
                      'serial of the previous generation')
    report.finish()


if __name__ == '__main__':
    main()

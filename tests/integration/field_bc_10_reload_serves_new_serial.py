#!/usr/bin/python3
"""BC-10, daemon side: after the files are replaced and Reload is called, a new TLS client sees the
new serial within 5 s, the daemon is the same process, and a keep-alive connection opened before
goes on.  Two reloads 100 ms apart end with the newer pair served (the newest always wins)."""

import time

import harness
from harness import expect, expect_eq


def wait_for_serial(daemon, serial, timeout):
    started = time.monotonic()
    while True:
        seen = daemon.served_serial()
        if seen == serial:
            return time.monotonic() - started
        if time.monotonic() - started > timeout:
            raise AssertionError(f'after {timeout} s a new handshake still sees {seen}, '
                                 f'not {serial}')
        time.sleep(0.05)


def reload_async(sandbox):
    bus = sandbox.bus
    return sandbox.processes.spawn(['busctl', f'--address={bus.address}', '--timeout=10', 'call',
                                    harness.BUS_NAME, harness.BUS_PATH, harness.BUS_INTERFACE,
                                    'Reload'],
                                   stdout=harness.subprocess.DEVNULL,
                                   stderr=harness.subprocess.PIPE)


def main():
    report = harness.Report('field_bc_10_reload_serves_new_serial')
    with harness.Sandbox('bc10') as sandbox:
        v1 = sandbox.install_new('v1')
        daemon = sandbox.start_activated(sandbox.base_args())
        harness.wait_until(sandbox.bus.has_name, 5, what='org.secureapi.Daemon1 on the bus')
        pid = sandbox.bus.owner_pid()
        with report.case('renewed files + Reload: new serial within 5 s, same PID, '
                         'keep-alive connection still answers'):
            expect_eq(pid, daemon.pid, 'PID owning the bus name')
            conn = daemon.tls()
            response = conn.request('GET', '/square/11')
            expect_eq(response.body, b'121', 'keep-alive request before the reload')
            v2 = sandbox.pki.leaf('v2')
            sandbox.install(v2)
            started = time.monotonic()
            result = sandbox.bus.call('Reload')
            expect(result.ok, f'Reload failed: {result}')
            wait_for_serial(daemon, v2.serial, 5 - (time.monotonic() - started))
            expect(daemon.alive(), 'daemon exited')
            expect_eq(sandbox.bus.owner_pid(), pid, 'PID owning the bus name after the reload')
            response = conn.request('GET', '/square/12')
            expect_eq((response.status, response.body), (200, b'144'),
                      'keep-alive request after the reload')
            expect_eq(harness.der_serial_hex(conn.sock.getpeercert(binary_form=True)), v1.serial,
                      'certificate of the connection opened before the reload')
            conn.close()
        for round_number in range(1, 4):
            with report.case(f'back-to-back reloads, round {round_number}: install A + Reload, '
                             'install B + Reload within 100 ms -> B served'):
                first = sandbox.pki.leaf(f'a{round_number}')
                second = sandbox.pki.leaf(f'b{round_number}')
                sandbox.install(first)
                started = time.monotonic()
                call_a = reload_async(sandbox)
                time.sleep(0.03)
                sandbox.install(second)
                call_b = reload_async(sandbox)
                expect(time.monotonic() - started < 0.1,
                       'the test itself took more than 100 ms between the two reloads')
                # The first reload may read the files while the second pair is being renamed
                # in (key of B, certificate of A) and be refused with KeyMismatch; only the
                # second one must succeed.
                call_a.communicate(timeout=15)
                _, stderr = call_b.communicate(timeout=15)
                expect_eq(call_b.returncode, 0, f'second Reload call ({stderr.decode().strip()})')
                wait_for_serial(daemon, second.serial, 5)
                time.sleep(0.3)
                expect_eq(daemon.served_serial(), second.serial,
                          'served serial a moment later (an older reload finished last?)')
                expect_eq(sandbox.bus.get_property('CertificateSerial'), second.serial,
                          'CertificateSerial')
                expect_eq(sandbox.bus.owner_pid(), pid, 'PID owning the bus name')
        with report.case('reload through SIGHUP and D-Bus at the same moment -> newest served'):
            newest = sandbox.pki.leaf('newest')
            sandbox.install(sandbox.pki.leaf('older'))
            call = reload_async(sandbox)
            sandbox.install(newest)
            daemon.signal(harness.signal.SIGHUP)
            call.communicate(timeout=15)
            wait_for_serial(daemon, newest.serial, 5)
            time.sleep(0.3)
            expect_eq(daemon.served_serial(), newest.serial, 'served serial a moment later')
            expect(daemon.alive(), 'daemon exited')
    report.finish()


if __name__ == '__main__':
    main()

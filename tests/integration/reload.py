#!/usr/bin/python3
"""Credential reload over D-Bus and SIGHUP: new handshakes get the new pair, open connections keep
theirs, the properties follow, and every rejected pair leaves the old one in service with the
D-Bus error the contract names."""

import json
import os
import pathlib
import signal
import time

import harness
from harness import expect, expect_eq

ERROR = 'org.secureapi.Daemon1.Error.'


def expect_properties(bus, leaf, what):
    expect_eq(bus.get_property('CertificateSerial'), leaf.serial, f'CertificateSerial {what}')
    expect_eq(bus.get_property('CertificateNotAfter'), leaf.not_after_usec,
              f'CertificateNotAfter {what}')
    names = bus.get_property('CertificateNames')
    expect(isinstance(names, list) and harness.DOMAIN in names and 'localhost' in names,
           f'CertificateNames {what} should list {harness.DOMAIN} and localhost: {names}')


def loaded_at(bus):
    value = bus.get_property('LoadedAt')
    expect(isinstance(value, int), f'LoadedAt is not an integer: {value!r}')
    return value


def keep_alive_request(conn, number):
    response = conn.request('GET', f'/square/{number}')
    expect_eq((response.status, response.body.decode()), (200, str(number * number)),
              f'keep-alive GET /square/{number}')


def successful_reloads(report, sandbox, daemon, v1):
    bus = sandbox.bus
    state = {}
    with report.case('properties describe the certificate loaded at start'):
        expect_properties(bus, v1, 'at start')
        state['loaded_at'] = loaded_at(bus)
        now = time.time() * 1e6
        expect(abs(state['loaded_at'] - now) < 120e6,
               f'LoadedAt {state["loaded_at"]} is not near now ({int(now)}): usec since the epoch?')
        expect_eq(daemon.served_serial(), v1.serial, 'served serial at start')
    conn = daemon.tls()
    monitor_path = sandbox.dir / 'monitor.json'
    bus.monitor(sandbox.processes, monitor_path)
    time.sleep(0.3)    # let busctl monitor attach before the reload it should see
    v2 = sandbox.pki.leaf('v2')
    with report.case('D-Bus Reload to v2: new handshakes see v2, a keep-alive connection goes on'):
        keep_alive_request(conn, 2)
        sandbox.install(v2)
        result = bus.call('Reload')
        expect(result.ok, f'Reload failed: {result}')
        expect_eq(result.data, [v2.serial, v2.not_after_usec], 'Reload reply (serial, not_after)')
        expect_eq(daemon.served_serial(), v2.serial, 'serial a new gnutls-cli handshake sees')
        keep_alive_request(conn, 3)
        expect_eq(harness.der_serial_hex(conn.sock.getpeercert(binary_form=True)), v1.serial,
                  'the connection opened before the reload still uses v1')
        keep_alive_request(conn, 4)
    with report.case('properties follow the reload'):
        expect_properties(bus, v2, 'after Reload')
        later = loaded_at(bus)
        expect(later > state.get('loaded_at', 0), f'LoadedAt did not advance: {later}')
        state['loaded_at'] = later
    with report.case('PropertiesChanged is emitted on reload'):
        def seen():
            text = pathlib.Path(monitor_path).read_text(errors='replace')
            for line in text.splitlines():
                try:
                    message = json.loads(line)
                except ValueError:
                    continue
                if (message.get('member') == 'PropertiesChanged'
                        and 'CertificateSerial' in json.dumps(message.get('payload'))):
                    return True
            return False
        harness.wait_until(seen, 5, what='PropertiesChanged with CertificateSerial on the bus')
    conn.close()
    v3 = sandbox.pki.leaf('v3')
    with report.case('SIGHUP reloads too'):
        sandbox.install(v3)
        daemon.signal(signal.SIGHUP)
        harness.wait_until(lambda: harness.served_serial_python(daemon.https_port) == v3.serial,
                           5, what='v3 served after SIGHUP')
        expect_eq(daemon.served_serial(), v3.serial, 'serial gnutls-cli sees after SIGHUP')
        expect_properties(bus, v3, 'after SIGHUP')
        expect(loaded_at(bus) > state.get('loaded_at', 0), 'LoadedAt did not advance on SIGHUP')
        expect(daemon.alive(), 'daemon exited on SIGHUP')
    return v3


def rejected_reloads(report, sandbox, daemon, good):
    bus = sandbox.bus
    live_cert, live_key = sandbox.live_cert, sandbox.live_key
    pki = sandbox.pki

    def garbage_cert():
        sandbox.install(good)
        pathlib.Path(live_cert).write_text('this is not a certificate\n')

    def empty_cert():
        sandbox.install(good)
        pathlib.Path(live_cert).write_bytes(b'')

    def missing_key():
        sandbox.install(good)
        os.unlink(live_key)

    def garbage_key():
        sandbox.install(good)
        pathlib.Path(live_key).write_text('-----BEGIN PRIVATE KEY-----\nAAAA\n'
                                          '-----END PRIVATE KEY-----\n')

    def leaf(name, **kwargs):
        return lambda: sandbox.install(pki.leaf(name, **kwargs))

    cases = [
        ('garbage certificate file', garbage_cert, 'Unreadable', live_cert),
        ('empty certificate file (torn install)', empty_cert, 'Unreadable', live_cert),
        ('missing key file', missing_key, 'Unreadable', live_key),
        ('garbage key file', garbage_key, 'Unreadable', live_key),
        ('key not matching the certificate', leaf('mismatch', mismatched_key=True),
         'KeyMismatch', None),
        ('expired certificate', leaf('expired', valid_from=-90, valid_until=-1), 'Expired', None),
        ('certificate not yet valid', leaf('future', valid_from=2, valid_until=90),
         'NotYetValid', None),
        ('names not covering the configured domain', leaf('other', dns=('other.test',)),
         'NamesNotCovered', None),
        ('expired and with a mismatched key: the key is checked first',
         leaf('expired-mismatch', valid_from=-90, valid_until=-1, mismatched_key=True),
         'KeyMismatch', None),
        ('expired and for other names: expiry is checked first',
         leaf('expired-other', valid_from=-90, valid_until=-1, dns=('other.test',)),
         'Expired', None),
    ]
    for title, prepare, error, names_file in cases:
        with report.case(f'Reload rejects a {title} ({error}) and keeps serving the old pair'):
            prepare()
            result = bus.call('Reload')
            expect(not result.ok, f'Reload accepted a {title}: {result}')
            expect_eq(result.error_name, ERROR + error, 'D-Bus error name')
            if names_file:
                expect(names_file in result.message,
                       f'error message should name {names_file}: {result.message!r}')
            expect_eq(harness.served_serial_python(daemon.https_port), good.serial,
                      'serial served after the rejected reload')
            expect_eq(bus.get_property('CertificateSerial'), good.serial,
                      'CertificateSerial after the rejected reload')
            expect(daemon.alive(), 'daemon exited')
    with report.case('SIGHUP with an expired pair keeps the old one and the daemon'):
        sandbox.install(pki.leaf('expired-hup', valid_from=-90, valid_until=-1))
        daemon.signal(signal.SIGHUP)
        time.sleep(0.5)
        expect(daemon.alive(), 'daemon exited on a rejected SIGHUP reload')
        expect_eq(daemon.served_serial(), good.serial, 'serial after the rejected SIGHUP')
        warnings = [line for line in daemon.daemon_stderr().splitlines()
                    if line.startswith(('<4>', '<3>'))]
        expect(warnings, 'no warning logged for rejected reloads')
    with report.case('a good pair after the rejections is taken'):
        final = pki.leaf('v4')
        sandbox.install(final)
        result = bus.call('Reload')
        expect(result.ok, f'Reload failed: {result}')
        expect_eq(daemon.served_serial(), final.serial, 'served serial')
        result = daemon.curl('/health')
        expect_eq(result.header('x-certificate-serial'), final.serial, '/health serial')
        expect_eq(result.header('x-certificate-status'), 'loaded', '/health status')


def main():
    report = harness.Report('reload')
    with harness.Sandbox('reload') as sandbox:
        v1 = sandbox.install_new('v1')
        daemon = sandbox.start_activated(sandbox.base_args())
        with report.case('the daemon owns its D-Bus name'):
            harness.wait_until(sandbox.bus.has_name, 5, what='org.secureapi.Daemon1 on the bus')
        good = successful_reloads(report, sandbox, daemon, v1)
        rejected_reloads(report, sandbox, daemon, good)
        with report.case('daemon still running with the same PID'):
            expect(daemon.alive(), f'daemon died: {daemon.daemon_stderr()[-500:]}')
            expect_eq(sandbox.bus.owner_pid(), daemon.pid, 'PID owning the bus name')
    report.finish()


if __name__ == '__main__':
    main()

#!/usr/bin/python3
"""BC-17: Type=notify done right.  READY=1 within 2 s of start (after the sockets and credentials
are in place) with STATUS= naming the served serial; RELOADING=1 with MONOTONIC_USEC= then READY=1
on reload; STOPPING=1 on SIGTERM; a fatal configuration error exits 78 without READY=1."""

import signal
import time

import harness
from harness import expect, expect_eq


def status_names(fields, serial):
    status = fields.get('STATUS', '').lower().replace(':', '')
    return serial in status


def expect_reload_cycle(daemon, after, serial, trigger):
    notify = daemon.notify
    reloading = notify.wait_for('RELOADING', '1', timeout=5, after=after)
    expect(reloading, f'no RELOADING=1 after {trigger}; messages: {notify.snapshot()[after:]}')
    index, _, fields = reloading
    usec = fields.get('MONOTONIC_USEC')
    expect(usec is not None and usec.isdigit(),
           f'RELOADING=1 without a numeric MONOTONIC_USEC=: {fields}')
    now = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    expect(abs(now - int(usec)) < 10_000_000,
           f'MONOTONIC_USEC={usec} is not CLOCK_MONOTONIC now ({now})')
    ready = notify.wait_for('READY', '1', timeout=5, after=index)
    expect(ready, f'no READY=1 after RELOADING=1 ({trigger})')
    if serial:
        statuses = [fields for _, fields, _ in notify.snapshot()[index:] if 'STATUS' in fields]
        expect(any(status_names(fields, serial) for fields in statuses),
               f'no STATUS= naming {serial} after {trigger}: {statuses}')
    return ready[0] + 1


def main():
    report = harness.Report('field_bc_17_notify_readiness')
    with harness.Sandbox('bc17') as sandbox:
        v1 = sandbox.install_new('v1')
        daemon = sandbox.start_activated(sandbox.base_args(), ready=False)
        with report.case('READY=1 within 2 s of start, with STATUS= naming the serial'):
            seconds = daemon.wait_ready(timeout=10)
            expect(seconds <= 2.0, f'READY=1 came {seconds:.2f} s after start (limit 2 s)')
            _, _, fields = daemon.notify.wait_for('READY', '1', timeout=0)
            statuses = [fields for _, fields, _ in daemon.notify.snapshot() if 'STATUS' in fields]
            expect(any(status_names(fields, v1.serial) for fields in statuses),
                   f'no STATUS= naming serial {v1.serial}: {statuses}')
        with report.case('READY=1 means serving: an HTTPS request right after it succeeds'):
            result = daemon.curl('/square/3')
            expect_eq((result.status, result.body), (200, b'9'), 'GET /square/3')
            result = daemon.curl('/health', scheme='http')
            expect_eq(result.status, 200, 'plain GET /health')
        with report.case('READY=1 is sent once at start'):
            readies = [m for m in daemon.notify.snapshot() if m[1].get('READY') == '1']
            expect_eq(len(readies), 1, 'READY=1 messages before any reload')
        after = len(daemon.notify.snapshot())
        with report.case('D-Bus Reload: RELOADING=1 + MONOTONIC_USEC=, then READY=1 + STATUS='):
            v2 = sandbox.install_new('v2')
            result = sandbox.bus.call('Reload')
            expect(result.ok, f'Reload failed: {result}')
            after = expect_reload_cycle(daemon, after, v2.serial, 'D-Bus Reload')
        with report.case('SIGHUP: RELOADING=1 + MONOTONIC_USEC=, then READY=1'):
            v3 = sandbox.install_new('v3')
            daemon.signal(signal.SIGHUP)
            after = expect_reload_cycle(daemon, after, v3.serial, 'SIGHUP')
        with report.case('a rejected reload that said RELOADING=1 also says READY=1 again'):
            sandbox.install_new('expired', valid_from=-30, valid_until=-1)
            result = sandbox.bus.call('Reload')
            expect(not result.ok, 'Reload accepted an expired certificate')
            time.sleep(0.3)
            messages = daemon.notify.snapshot()[after:]
            reloading = [i for i, m in enumerate(messages) if m[1].get('RELOADING') == '1']
            if reloading:
                tail = messages[reloading[-1]:]
                expect(any(m[1].get('READY') == '1' for m in tail),
                       f'RELOADING=1 without a later READY=1 leaves the unit reloading: {messages}')
            after = len(daemon.notify.snapshot())
        with report.case('SIGTERM: STOPPING=1 and exit 0'):
            daemon.signal(signal.SIGTERM)
            stopping = daemon.notify.wait_for('STOPPING', '1', timeout=5, after=after)
            expect(stopping, f'no STOPPING=1 after SIGTERM: {daemon.notify.snapshot()[after:]}')
            code = daemon.wait_exit(15)
            expect_eq(code, 0, 'exit status after SIGTERM')

        with report.case('watchdog: WATCHDOG=1 pings when WATCHDOG_USEC is set'):
            daemon = sandbox.start_activated(sandbox.base_args(),
                                             env_extra={'WATCHDOG_USEC': '400000'})
            start = len(daemon.notify.snapshot())
            time.sleep(1.3)
            pings = [m for m in daemon.notify.snapshot()[start:] if m[1].get('WATCHDOG') == '1']
            expect(len(pings) >= 2, f'{len(pings)} WATCHDOG=1 in 1.3 s with WATCHDOG_USEC=400000')
            daemon.stop()

        with report.case('first boot (no certificate yet): READY=1 within 2 s all the same'):
            config = sandbox.write_config(
                f'domain = {harness.DOMAIN}\n[acme]\nstate-directory = {sandbox.dir / "empty"}\n',
                'first-boot.conf')
            daemon = sandbox.start_activated([f'--config={config}'], ready=False)
            seconds = daemon.wait_ready(timeout=10)
            expect(seconds <= 2.0, f'READY=1 came {seconds:.2f} s after start (limit 2 s)')
            daemon.stop()

        bad_configs = [
            ('bad value on the command line', ['--http.timeout=soon'], None),
            ('unknown key in the file', [], '[http]\nno-such-key = 1\n'),
        ]
        for title, extra, config_text in bad_configs:
            with report.case(f'{title}: exit 78 and never READY=1'):
                args = sandbox.base_args() + extra
                if config_text:
                    args[0] = '--config=' + sandbox.write_config(
                        f'domain = {harness.DOMAIN}\n' + config_text, 'bad.conf')
                daemon = sandbox.start_activated(args, ready=False)
                code = daemon.wait_exit(10)
                expect_eq(code, harness.EX_CONFIG, 'exit status')
                readies = [m for m in daemon.notify.snapshot() if m[1].get('READY') == '1']
                expect_eq(readies, [], 'READY=1 messages from a daemon with a bad configuration')
    report.finish()


if __name__ == '__main__':
    main()

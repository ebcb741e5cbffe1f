#!/usr/bin/python3
"""BC-09: a reload that fails is neither swallowed nor forgotten, and a failed renewal backs off.

(a) The daemon cannot take the new certificate when it is installed:
    - its Reload is refused (the private bus's policy denies the method): exit 12, the reason
      logged, pending_reload true in state.json, the daemon still on the old serial; once the
      policy allows it again, the next run (nothing due) retries the reload, exits 10 and clears
      the marker, and the daemon serves the new serial;
    - the daemon is stopped (not on the bus; http-01 answered from acme.webroot by a small file
      server on the daemon's http port): exit 12, pending_reload true, the next runs keep
      exiting 12 while it is away; started again, the next run clears the marker.
(b) The CA answers newOrder with 500: exit 1, failures=1 and backoff_until about an hour ahead in
    state.json; the next run is deferred (11) without a CA request; once the backoff has passed
    (state.json's backoff_until moved into the past, as if the hour had gone by) the next run
    retries (failures=2, backoff 2 h), and a success resets failures to 0 and drops the backoff;
    so does a --force success.  A second configured name makes the renewal due without --force.
"""

import functools
import http.server
import json
import re
import threading
import time

import renew_harness as rh
from renew_harness import expect, expect_eq

harness = rh.harness
DENY_RELOAD = (f'    <deny send_destination="{harness.BUS_NAME}" '
               f'send_interface="{harness.BUS_INTERFACE}" send_member="Reload"/>\n')


def set_reload_denied(sandbox, denied):
    """Rewrite the private bus's policy and have dbus-daemon reload it (synchronously)."""
    text = harness.BUS_CONFIG.format(path=sandbox.dir / 'bus')
    if denied:
        text = text.replace('  </policy>', DENY_RELOAD + '  </policy>')
    (sandbox.dir / 'bus.conf').write_text(text)
    result = sandbox.bus.busctl('call', 'org.freedesktop.DBus', '/org/freedesktop/DBus',
                                'org.freedesktop.DBus', 'ReloadConfig')
    expect(result.returncode == 0, f'ReloadConfig failed: {result.stderr.decode()[-300:]}')


def reload_denied_case(report):
    with rh.RenewSandbox('bc09-denied') as sandbox:
        pebble = sandbox.setup()
        _, v1, root = sandbox.first_issuance()
        pending = {}
        with report.case('Reload refused by the bus: exit 12, reason logged, pending_reload, '
                         'old serial still served'):
            set_reload_denied(sandbox, True)
            result = sandbox.renew('--force').expect_status(rh.RELOAD_PENDING)
            v2 = rh.cert_serial(str(sandbox.live_cert_path))
            expect(v2 != v1, 'nothing new was installed')
            expect(re.search(r'AccessDenied|denied|rejected', result.stderr, re.I),
                   f'the reason of the failed reload is not logged:\n{result.stderr}')
            expect(re.search(r'<[0-3]>.*' + v2, result.stderr),
                   f'no error line naming the installed serial {v2}:\n{result.stderr}')
            expect_eq(sandbox.state().get('pending_reload'), True, 'pending_reload')
            expect_eq(sandbox.served_serial(root), v1, 'serial the daemon serves')
            pending['serial'] = v2

        with report.case('still refused: the next run exits 12 again, marker kept'):
            expect(pending, 'no pending reload')
            orders = pebble.new_order_count()
            result = sandbox.renew().expect_status(rh.RELOAD_PENDING)
            expect_eq(sandbox.state().get('pending_reload'), True, 'pending_reload')
            expect_eq(pebble.new_order_count(), orders, 'orders pebble received')
            expect_eq(rh.cert_serial(str(sandbox.live_cert_path)), pending['serial'],
                      'installed serial')

        with report.case('Reload allowed again: the next run (nothing due) reloads, exits 10, '
                         'clears the marker; the daemon serves the new serial'):
            expect(pending, 'no pending reload')
            set_reload_denied(sandbox, False)
            orders = pebble.new_order_count()
            pid = sandbox.bus.owner_pid()
            result = sandbox.renew()
            expect(result.returncode in (rh.NOT_DUE, rh.RENEWED), f'{result}')
            expect_eq(result.returncode, rh.NOT_DUE, 'exit status')
            expect_eq(sandbox.state().get('pending_reload'), False, 'pending_reload')
            expect_eq(pebble.new_order_count(), orders, 'orders pebble received')
            expect_eq(sandbox.served_serial(root), pending['serial'], 'serial the daemon serves')
            expect_eq(sandbox.bus.owner_pid(), pid, 'PID owning the bus name')
            expect(pending['serial'] in result.stderr,
                   f'the run does not log the handed-over serial:\n{result.stderr}')


class Webroot:
    """Files under a directory served over plain HTTP on 127.0.0.1:port (acme.webroot)."""

    def __init__(self, directory, port):
        directory.mkdir(parents=True, exist_ok=True)
        handler = functools.partial(QuietFiles, directory=str(directory))
        self.server = http.server.ThreadingHTTPServer(('127.0.0.1', port), handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


class QuietFiles(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def daemon_stopped_case(report):
    with rh.RenewSandbox('bc09-stopped') as sandbox:
        sandbox.setup()
        _, v1, root = sandbox.first_issuance()
        webroot_dir = sandbox.dir / 'webroot'
        webroot_args = ['--acme.challenge=webroot', f'--acme.webroot={webroot_dir}']
        pending = {}
        webroot = None
        try:
            with report.case('daemon stopped: renewal installs, exit 12, reason logged, '
                             'pending_reload true'):
                sandbox.daemon.kill()
                expect(not sandbox.bus.has_name(), 'the daemon is still on the bus')
                webroot = Webroot(webroot_dir, sandbox.http_port)
                result = sandbox.renew('--force', *webroot_args)
                result.expect_status(rh.RELOAD_PENDING)
                v2 = rh.cert_serial(str(sandbox.live_cert_path))
                expect(v2 != v1, 'nothing new was installed')
                expect(re.search(r'ServiceUnknown|not provided|NameHasNoOwner|no owner',
                                 result.stderr),
                       f'the reason (daemon not on the bus) is not logged:\n{result.stderr}')
                expect_eq(sandbox.state().get('pending_reload'), True, 'pending_reload')
                challenge_dir = webroot_dir / '.well-known' / 'acme-challenge'
                expect_eq(sorted(p.name for p in challenge_dir.iterdir()), [],
                          'challenge files left in the webroot')
                pending['serial'] = v2

            with report.case('daemon still away: the next run exits 12, marker kept'):
                expect(pending, 'no pending reload')
                sandbox.renew(*webroot_args).expect_status(rh.RELOAD_PENDING)
                expect_eq(sandbox.state().get('pending_reload'), True, 'pending_reload')
        finally:
            if webroot:
                webroot.stop()

        with report.case('daemon started again: the next run reloads, exits 10, clears the '
                         'marker; the daemon serves the new serial'):
            expect(pending, 'no pending reload')
            sandbox.start_daemon()
            result = sandbox.renew()
            expect_eq(result.returncode, rh.NOT_DUE, f'exit status ({result})')
            expect_eq(sandbox.state().get('pending_reload'), False, 'pending_reload')
            expect_eq(sandbox.served_serial(root), pending['serial'], 'serial the daemon serves')
            sandbox.expect_square(root, 15)


def expect_backoff(state, failures, hours, started, finished):
    expect_eq(state.get('failures'), failures, 'failures in state.json')
    until = state.get('backoff_until')
    expect(isinstance(until, int), f'no backoff_until in state.json: {state}')
    low, high = int(started) + hours * 3600 - 2, int(finished) + hours * 3600 + 2
    expect(low <= until <= high,
           f'backoff_until {until} is not {hours} h after the run ({low}..{high})')


def let_backoff_pass(sandbox):
    """As if the backoff had run out: backoff_until one second in the past."""
    state = sandbox.state()
    state['backoff_until'] = int(time.time()) - 1
    (sandbox.acme_dir / 'state.json').write_text(json.dumps(state))


def ca_500_case(report):
    with rh.RenewSandbox('bc09-500') as sandbox:
        pebble, proxy = sandbox.setup(proxy=True)
        _, v1, root = sandbox.first_issuance()
        two_names = [f'--domain={rh.DOMAIN}', f'--domain=www.{rh.DOMAIN}']
        before = sandbox.snapshot()

        def answer_500(payload):
            return rh.problem(500, 'serverInternal', 'the test CA is down for maintenance')

        progress = {}
        with report.case('newOrder answers 500: exit 1, failures=1, backoff ~1 h, nothing '
                         'installed'):
            proxy.on_new_order = answer_500
            orders = len(proxy.new_orders())
            started = time.time()
            result = sandbox.renew(*two_names).expect_status(rh.FAILED)
            finished = time.time()
            expect('serverInternal' in result.stderr or '500' in result.stderr,
                   f'the CA error is not logged:\n{result.stderr}')
            expect_eq(len(proxy.new_orders()), orders + 1, 'newOrder requests')
            expect_backoff(sandbox.state(), 1, 1, started, finished)
            expect_eq(sandbox.snapshot(), before, 'installed material')
            expect_eq(sandbox.served_serial(root), v1, 'serial the daemon serves')
            progress['failed'] = True

        with report.case('next run inside the backoff: deferred (11), no CA request'):
            expect(progress, 'the failure did not happen')
            requests = proxy.count()
            result = sandbox.renew(*two_names).expect_status(rh.DEFERRED)
            expect_eq(proxy.count(), requests, 'requests the CA received')
            expect_eq(sandbox.state().get('failures'), 1, 'failures in state.json')

        with report.case('backoff passed, CA still failing: retried, failures=2, backoff ~2 h'):
            expect(progress, 'the failure did not happen')
            let_backoff_pass(sandbox)
            orders = len(proxy.new_orders())
            started = time.time()
            sandbox.renew(*two_names).expect_status(rh.FAILED)
            finished = time.time()
            expect_eq(len(proxy.new_orders()), orders + 1, 'newOrder requests')
            expect_backoff(sandbox.state(), 2, 2, started, finished)

        with report.case('backoff passed, CA healthy: renewed (0), failures=0, no backoff'):
            expect(progress, 'the failure did not happen')
            let_backoff_pass(sandbox)
            proxy.on_new_order = None
            result = sandbox.renew(*two_names).expect_status(rh.RENEWED)
            state = sandbox.state()
            expect_eq(state.get('failures'), 0, 'failures in state.json')
            expect('backoff_until' not in state, f'backoff_until still set: {state}')
            expect_eq(sandbox.served_serial(root), result.issued_serial(), 'served serial')

        with report.case('--force after a failure: success resets failures and backoff'):
            proxy.on_new_order = answer_500
            failures = sandbox.state().get('failures', 0)
            sandbox.renew('--force').expect_status(rh.FAILED)
            expect_eq(sandbox.state().get('failures'), failures + 1, 'failures after the failure')
            proxy.on_new_order = None
            sandbox.renew('--force').expect_status(rh.RENEWED)
            state = sandbox.state()
            expect_eq(state.get('failures'), 0, 'failures in state.json')
            expect('backoff_until' not in state, f'backoff_until still set: {state}')


def main():
    report = harness.Report('field_bc_09_reload_failure_and_backoff')
    reload_denied_case(report)
    daemon_stopped_case(report)
    ca_500_case(report)
    report.finish()


if __name__ == '__main__':
    main()

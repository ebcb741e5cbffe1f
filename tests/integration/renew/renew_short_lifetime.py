#!/usr/bin/python3
"""Renewal timing in real time: pebble issues certificates that live 90 s
(certificateValidityPeriod), and the renewer runs every 2 s as an impatient timer would.  A
lifetime under 10 days is renewed at half of it, so every run that ends before notBefore + 45 s
must exit 10, and the first run that starts after that moment must renew (0); the renewed
certificate is then not due again.  RENEW_SHORT_LIFETIME=<seconds> changes the lifetime."""

import datetime
import os
import time

import renew_harness as rh
from renew_harness import expect, expect_eq

harness = rh.harness
LIFETIME = int(os.environ.get('RENEW_SHORT_LIFETIME', '90'))
INTERVAL = 2.0
SLACK = 0.5      # the renewer reads its clock a few milliseconds after the test does


def main():
    report = harness.Report('renew_short_lifetime')
    with rh.RenewSandbox('renew-short') as sandbox:
        pebble = sandbox.setup(validity=LIFETIME)
        issued = {}
        with report.case(f'first issuance of a {LIFETIME} s certificate'):
            result = sandbox.renew().expect_status(rh.RENEWED)
            not_before, not_after = rh.cert_dates(sandbox.live_cert_path)
            lifetime = (not_after - not_before).total_seconds()
            expect(abs(lifetime - LIFETIME) <= 2, f'pebble issued a {lifetime} s certificate')
            due = not_after.timestamp() - lifetime / 2
            rh.log(f'  notBefore {not_before:%H:%M:%S}, notAfter {not_after:%H:%M:%S}, '
                   f'due at {datetime.datetime.fromtimestamp(due, datetime.timezone.utc):%H:%M:%S}')
            issued.update(serial=result.issued_serial(), due=due, root=pebble.root_file(0))

        runs = []
        with report.case('runs every 2 s: 10 until half the lifetime, 0 at the first run after'):
            expect(issued, 'no certificate was issued')
            due = issued['due']
            deadline = due + 20
            while time.time() < deadline:
                started = time.time()
                result = sandbox.renew()
                finished = time.time()
                runs.append((started, finished, result))
                if result.returncode == rh.RENEWED:
                    break
                time.sleep(max(0.0, started + INTERVAL - time.time()))
            summary = ', '.join(f'{s - due:+.1f}s:{r.returncode}' for s, _, r in runs)
            rh.log(f'  runs relative to the due time: {summary}')
            for started, finished, result in runs:
                offset = f'run at due{started - due:+.1f} s'
                expect(result.returncode in (rh.NOT_DUE, rh.RENEWED),
                       f'{offset}: unexpected {result}')
                if finished < due - SLACK:
                    expect_eq(result.returncode, rh.NOT_DUE, f'{offset} (renewed too early)')
            after = [run for run in runs if run[0] > due + SLACK]
            renewed = [run for run in runs if run[2].returncode == rh.RENEWED]
            expect(renewed, f'no run renewed within 20 s after the due time ({summary})')
            expect(not after or renewed[0] is after[0] or renewed[0][0] <= due + SLACK,
                   f'the first run after the due time did not renew ({summary})')
            result = renewed[0][2]
            expect('lifetime' in result.stderr, f'the reason is not the lifetime:\n'
                   f'{result.stderr}')
            expect_eq(sandbox.served_serial(issued['root']), result.issued_serial(),
                      'serial the daemon serves')
            issued['renewed'] = True

        with report.case('the renewed certificate is not due on the next run'):
            expect(issued.get('renewed'), 'nothing was renewed')
            sandbox.renew().expect_status(rh.NOT_DUE)
    report.finish()


if __name__ == '__main__':
    main()

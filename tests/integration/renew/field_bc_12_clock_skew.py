#!/usr/bin/python3
"""BC-12: a renewer whose clock is two years off (faketime) reports clock skew and fails (1)
instead of deciding anything from its clock: no order reaches pebble and nothing is installed.
Pebble's own TLS certificate is valid from three years ago to three years ahead, so the handshake
still verifies under the fake clock and the renewer gets to read pebble's Date header.

Cases: no certificate yet; a certificate installed and --force; a certificate the renewer has
not yet checked with the CA; a certificate whose renewal information it cached (it can still tell
the clock is wrong: the installed certificate's notBefore lies two years in its future); the
clock two years ahead (the certificate looks expired).  Afterwards, with the right clock, a due
renewal is not held back by a backoff computed from the wrong one."""

import json
import re
import shutil
import time

import renew_harness as rh
from renew_harness import expect, expect_eq

harness = rh.harness
YEARS = 730
FAKETIME_ENV = {'FAKETIME_DONT_FAKE_MONOTONIC': '1'}


def skewed(sandbox, days, *args):
    return sandbox.renew(*args, wrapper=['faketime', '-f', f'{days:+d}d'], env_extra=FAKETIME_ENV)


def expect_skew_failure(result, what):
    result.expect_status(rh.FAILED, what)
    expect(re.search(r'clock skew', result.stderr, re.I),
           f'{what}: stderr does not say clock skew:\n{result.stderr}')


def clear_backoff(sandbox):
    state = sandbox.state()
    state.pop('backoff_until', None)
    state['failures'] = 0
    (sandbox.acme_dir / 'state.json').write_text(json.dumps(state))


def main():
    report = harness.Report('field_bc_12_clock_skew')
    if not shutil.which('faketime'):
        harness.fatal('faketime is missing (apt-get install faketime)')
    with rh.RenewSandbox('bc12') as sandbox:
        pebble = sandbox.setup(tls_valid_days_ago=3 * 365, tls_valid_days_ahead=3 * 365)
        v1 = {}
        with report.case('faketime works on the renewer (sanity)'):
            result = harness.run(['faketime', '-f', f'-{YEARS}d', 'date', '+%s'],
                                 env=rh.clean_environment(FAKETIME_ENV), check=True)
            behind = time.time() - int(result.stdout)
            expect(abs(behind - YEARS * 86400) < 60, f'faketime put the clock {behind:.0f} s '
                   f'back, not {YEARS} days')

        with report.case('no certificate, clock 2 years behind: exit 1, clock skew, no order, '
                         'no account, nothing installed'):
            result = skewed(sandbox, -YEARS)
            expect_skew_failure(result, 'first run')
            expect_eq(pebble.new_order_count(), 0, 'orders pebble received')
            expect('accounts in memory' not in pebble.log(), 'an account was created')
            expect(not sandbox.live_dir.exists(), 'something was installed')

        with report.case('normal clock: first issuance'):
            result = sandbox.renew().expect_status(rh.RENEWED)
            v1.update(serial=result.issued_serial(), snapshot=sandbox.snapshot())

        for title, args in (('certificate not yet checked with the CA, no --force', ()),
                            ('--force', ('--force',))):
            with report.case(f'clock 2 years behind, {title}: exit 1, clock skew, no order, '
                             'files untouched'):
                expect(v1, 'no certificate was issued')
                orders = pebble.new_order_count()
                expect_skew_failure(skewed(sandbox, -YEARS, *args), title)
                expect_eq(pebble.new_order_count(), orders, 'orders pebble received')
                expect_eq(sandbox.snapshot(), v1['snapshot'], 'installed material')

        with report.case('clock 2 years behind, renewal information cached: exit 1, clock skew '
                         '(the installed notBefore is in its future), not "not due"'):
            expect(v1, 'no certificate was issued')
            sandbox.renew().expect_status(rh.NOT_DUE, 'normal-clock run caching the CA answer')
            # The backoff of the skewed failures above lies in the skewed clock's future; this
            # case is about the cached decision, so it starts without one.
            clear_backoff(sandbox)
            orders = pebble.new_order_count()
            expect_skew_failure(skewed(sandbox, -YEARS), 'cached run')
            expect_eq(pebble.new_order_count(), orders, 'orders pebble received')
            expect_eq(sandbox.snapshot(), v1['snapshot'], 'installed material')

        with report.case('clock 2 years ahead (certificate looks expired): exit 1, clock skew, '
                         'no order, files untouched'):
            expect(v1, 'no certificate was issued')
            orders = pebble.new_order_count()
            expect_skew_failure(skewed(sandbox, +YEARS), 'clock ahead')
            expect_eq(pebble.new_order_count(), orders, 'orders pebble received')
            expect_eq(sandbox.snapshot(), v1['snapshot'], 'installed material')

        with report.case('clock right again: a due renewal (a second name) is not deferred by '
                         'a backoff computed from the wrong clock'):
            expect(v1, 'no certificate was issued')
            result = sandbox.renew(f'--domain={rh.DOMAIN}', f'--domain=www.{rh.DOMAIN}')
            rh.log(f'  state.json: {sandbox.state()}')
            result.expect_status(rh.RENEWED)
    report.finish()


if __name__ == '__main__':
    main()

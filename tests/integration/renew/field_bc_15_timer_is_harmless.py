#!/usr/bin/python3
"""BC-15, behaviour part: extra timer runs are harmless.  After the first issuance (through the
test's counting proxy in front of pebble), two runs back to back with nothing due: both exit 10,
and the second sends the CA no request at all; a run with pebble and the proxy stopped still
exits 10 and records no failure.  (The lint of the shipped timer is a test of its own.)"""

import renew_harness as rh
from renew_harness import expect, expect_eq

harness = rh.harness


def main():
    report = harness.Report('field_bc_15_timer_is_harmless')
    with rh.RenewSandbox('bc15') as sandbox:
        pebble, proxy = sandbox.setup(proxy=True)
        done = {}
        with report.case('first issuance'):
            result = sandbox.renew().expect_status(rh.RENEWED)
            done['serial'] = result.issued_serial()
            done['pair'] = sandbox.live_pair()
            done['root'] = pebble.root_file(0)

        with report.case('two runs back to back with nothing due: both 10, the second sends '
                         'no request'):
            expect(done, 'nothing issued')
            first = sandbox.renew().expect_status(rh.NOT_DUE, 'first run with nothing due')
            rh.log(f'  the first run sent {proxy.count()} request(s) in total so far')
            requests = proxy.count()
            second = sandbox.renew().expect_status(rh.NOT_DUE, 'second run')
            expect_eq(proxy.count(), requests, 'requests the CA received during the second run')
            for result in (first, second):
                expect('is not due' in result.stderr and 'renewal due at' in result.stderr,
                       f'the run does not say when renewal is due:\n{result.stderr}')
            expect_eq(sandbox.live_pair(), done['pair'], 'live pair')

        with report.case('CA gone: the next run still exits 10, no failure recorded'):
            expect(done, 'nothing issued')
            proxy.__exit__(None, None, None)
            pebble.stop()
            sandbox.renew().expect_status(rh.NOT_DUE)
            state = sandbox.state()
            expect_eq(state.get('failures'), 0, 'failures in state.json')
            expect('backoff_until' not in state, f'a backoff was recorded: {state}')
            expect_eq(sandbox.live_pair(), done['pair'], 'live pair')
            expect_eq(sandbox.served_serial(done['root']), done['serial'],
                      'serial the daemon serves')
    report.finish()


if __name__ == '__main__':
    main()

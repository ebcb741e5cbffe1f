#!/usr/bin/python3
"""A CA rate limit (RFC 8555 §6.6) is honoured: the test's proxy in front of pebble answers
newOrder with 429, Retry-After: 120 and a rateLimited problem.  The renewer exits 11 (deferred),
records rate_limited_until about 120 s ahead (and no failure/backoff), and the next runs, even
with --force, exit 11 without contacting the CA.  Once the horizon has passed (moved into the past
in state.json, as if the two minutes had gone by) a forced renewal goes through."""

import json
import time

import renew_harness as rh
from renew_harness import expect, expect_eq

harness = rh.harness
RETRY_AFTER = 120


def main():
    report = harness.Report('renew_rate_limited')
    with rh.RenewSandbox('renew-ratelimit') as sandbox:
        pebble, proxy = sandbox.setup(proxy=True)
        _, v1, root = sandbox.first_issuance()
        before = sandbox.snapshot()
        limited = {}
        with report.case('newOrder answers 429 rateLimited, Retry-After: 120: exit 11, '
                         'rate_limited_until ~ now + 120, no backoff'):
            proxy.on_new_order = lambda payload: rh.problem(
                429, 'rateLimited', 'too many certificates for this name',
                headers=[('Retry-After', str(RETRY_AFTER))])
            started = time.time()
            result = sandbox.renew('--force').expect_status(rh.DEFERRED)
            finished = time.time()
            expect('rateLimited' in result.stderr or 'rate limit' in result.stderr.lower(),
                   f'the rate limit is not logged:\n{result.stderr}')
            state = sandbox.state()
            until = state.get('rate_limited_until')
            expect(isinstance(until, int), f'no rate_limited_until in state.json: {state}')
            expect(int(started) + RETRY_AFTER - 2 <= until <= int(finished) + RETRY_AFTER + 2,
                   f'rate_limited_until is {until - int(finished)} s ahead, not {RETRY_AFTER}')
            expect_eq(state.get('failures'), 0, 'failures in state.json')
            expect('backoff_until' not in state, f'a backoff was recorded: {state}')
            expect_eq(sandbox.snapshot(), before, 'installed material')
            expect_eq(sandbox.served_serial(root), v1, 'served serial')
            limited['until'] = until

        for args in ((), ('--force',)):
            with report.case(f'next run{" with --force" if args else ""}: exit 11, no CA '
                             'request'):
                expect(limited, 'no rate limit recorded')
                requests = proxy.count()
                result = sandbox.renew(*args).expect_status(rh.DEFERRED)
                expect_eq(proxy.count(), requests, 'requests the CA received')
                expect_eq(pebble.new_order_count(), 1, 'orders pebble received')
                expect('rate limit' in result.stderr.lower(),
                       f'the deferral does not say why:\n{result.stderr}')

        with report.case('horizon passed: a forced renewal goes through'):
            expect(limited, 'no rate limit recorded')
            proxy.on_new_order = None
            state = sandbox.state()
            state['rate_limited_until'] = int(time.time()) - 1
            (sandbox.acme_dir / 'state.json').write_text(json.dumps(state))
            result = sandbox.renew('--force').expect_status(rh.RENEWED)
            expect_eq(sandbox.served_serial(root), result.issued_serial(), 'served serial')
    report.finish()


if __name__ == '__main__':
    main()

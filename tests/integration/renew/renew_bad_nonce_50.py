#!/usr/bin/python3
"""badNonce (RFC 8555 §6.5) handling of the whole renewer: pebble rejects half of the good
nonces (PEBBLE_WFE_NONCEREJECT=50) and ten issuances in a row (the first one and nine forced
renewals) must all succeed.  The proxy in front of pebble counts the badNonce answers, so the
test fails if pebble rejected none (nothing would have been exercised)."""

import renew_harness as rh
from renew_harness import expect, expect_eq

ISSUANCES = 10


def main():
    report = rh.harness.Report('renew_bad_nonce_50')
    with rh.RenewSandbox('renew-badnonce') as sandbox:
        pebble, proxy = sandbox.setup(proxy=True, nonce_reject=50)
        with report.case(f'{ISSUANCES} issuances in a row with 50 % of nonces rejected'):
            serials = []
            for number in range(1, ISSUANCES + 1):
                args = ['--force'] if number > 1 else []
                result = sandbox.renew(*args).expect_status(rh.RENEWED, f'issuance {number}')
                serials.append(result.issued_serial())
            expect_eq(len(set(serials)), ISSUANCES, 'distinct serials issued')
            rejected = len(proxy.problems('badNonce'))
            expect(rejected > 0, 'pebble rejected no nonce: badNonce handling was not exercised')
            rh.log(f'  pebble answered badNonce {rejected} times over {ISSUANCES} issuances')
            root = pebble.root_file(0)
            expect_eq(sandbox.served_serial(root), serials[-1], 'serial the daemon serves')
            expect_eq(sandbox.state().get('failures'), 0, 'failures in state.json')
    report.finish()


if __name__ == '__main__':
    main()

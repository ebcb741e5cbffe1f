#!/usr/bin/python3
"""secure-api-renew against pebble: the first run orders a certificate, answers the http-01
challenge through the daemon, installs it and has the daemon serve it (checked with curl against
pebble's root).  The next runs have nothing to do: exit 10, no new order, and no CA request at all
once the renewer knows the certificate is fresh (BC-15: the timer may run it as often as it
likes)."""

import renew_harness as rh
from renew_harness import expect, expect_eq


def main():
    report = rh.harness.Report('renew_first_issuance_and_not_due')
    with rh.RenewSandbox('renew-first') as sandbox:
        pebble = sandbox.setup()
        issued = {}
        with report.case('first run: exit 0, "Issued certificate", the daemon serves it'):
            result = sandbox.renew().expect_status(rh.RENEWED)
            expect(rh.ISSUED_MESSAGE in result.stderr, f'no "{rh.ISSUED_MESSAGE}" line')
            serial = result.issued_serial()
            expect_eq(rh.cert_serial(str(sandbox.live_cert_path)), serial,
                      'serial of the installed fullchain.pem')
            root = pebble.root_file(0)
            expect_eq(sandbox.served_serial(root), serial, 'serial a new handshake sees')
            sandbox.expect_square(root, 15)
            expect(sandbox.live_dir.is_symlink(), f'{sandbox.live_dir} is not a link')
            state = sandbox.state()
            expect_eq(state.get('failures'), 0, 'failures in state.json')
            expect(state.get('account_url', '').startswith(f'https://{pebble.origin}/'),
                   f'account_url in state.json: {state.get("account_url")!r}')
            expect_eq(pebble.new_order_count(), 1, 'orders pebble received')
            issued.update(serial=serial, root=root, pair=sandbox.live_pair())

        with report.case('second run: exit 10, no new order, nothing reinstalled'):
            expect(issued, 'no certificate was issued')
            orders = pebble.new_order_count()
            requests = pebble.request_count()
            result = sandbox.renew().expect_status(rh.NOT_DUE)
            expect('is not due' in result.stderr, f'no "not due" line: {result.stderr}')
            expect_eq(pebble.new_order_count(), orders, 'orders pebble received')
            expect_eq(sandbox.live_pair(), issued['pair'], 'live pair after a not-due run')
            expect_eq(sandbox.served_serial(issued['root']), issued['serial'], 'served serial')
            issued['second_run_requests'] = pebble.request_count() - requests

        with report.case('second run (the first with nothing due) sends pebble no request'):
            expect('second_run_requests' in issued, 'the second run did not happen')
            expect_eq(issued['second_run_requests'], 0,
                      'requests pebble logged during the run right after the issuance')

        with report.case('pebble stopped: the next run still exits 10 without contacting it'):
            expect(issued, 'no certificate was issued')
            pebble.stop()
            result = sandbox.renew().expect_status(rh.NOT_DUE)
            expect('is not due' in result.stderr, f'no "not due" line: {result.stderr}')
            expect_eq(sandbox.live_pair(), issued['pair'], 'live pair')
            expect_eq(sandbox.state().get('failures'), 0, 'failures in state.json')
            sandbox.expect_square(issued['root'], 15)
    report.finish()


if __name__ == '__main__':
    main()

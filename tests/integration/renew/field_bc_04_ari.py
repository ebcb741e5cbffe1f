#!/usr/bin/python3
"""BC-04: renewal information (RFC 9773) through the test's HTTPS proxy in front of pebble.

Pebble 2.4 has no renewalInfo.  The proxy (renew_harness.AcmeProxy) forwards every request to
pebble with the Host header it received, so pebble builds all its URLs from the proxy's origin and
checks each JWS "url" against the URL the renewer signed: no body or signature is rewritten.  It
adds "renewalInfo" to the directory, answers GET renewalInfo/<certID> with windows the test
chooses, and can refuse a newOrder carrying "replaces".

(c) window in the future, certificate far from expiry: exit 10, no order, the window and the
    Retry-After cached in state.json; the next run asks the CA nothing;
(b) window that opened an hour ago on a certificate with years left: renewed in this run, and the
    newOrder carries replaces = the certID (computed here from the certificate);
(a) newOrder with replaces answered 409 alreadyReplaced (then conflict): one retry without
    replaces, success, a warning, no loop;
(d) renewalInfo answering 500 with Retry-After, or not answering at all: a notice, the lifetime
    rule decides (exit 10 for a fresh certificate), and ari_next_check honours the Retry-After.
"""

import datetime
import json
import re
import time

import renew_harness as rh
from renew_harness import expect, expect_eq

harness = rh.harness
HOUR = datetime.timedelta(hours=1)
DAY = datetime.timedelta(days=1)


def expire_ari_cache(sandbox):
    """As if the Retry-After of the last renewalInfo answer had passed."""
    state = sandbox.state()
    state['ari_next_check'] = int(time.time()) - 1
    (sandbox.acme_dir / 'state.json').write_text(json.dumps(state))


def stamp(moment):
    return moment.strftime('%Y-%m-%dT%H:%M:%SZ')


class Ari:
    """The proxy's renewalInfo answers: a window relative to now, or a failure."""

    def __init__(self):
        self.answer = None
        self.asked = []

    def __call__(self, cert_id):
        self.asked.append(cert_id)
        return self.answer()


def orders_since(proxy, count):
    return proxy.new_orders()[count:]


def main():
    report = harness.Report('field_bc_04_ari')
    with rh.RenewSandbox('bc04') as sandbox:
        pebble, proxy = sandbox.setup(proxy=True)
        ari = Ari()
        proxy.renewal_info = ari
        root = pebble.root_file(0)
        v1 = {}
        with report.case('first issuance through the proxy (directory with renewalInfo)'):
            result = sandbox.renew().expect_status(rh.RENEWED)
            v1['serial'] = result.issued_serial()
            expect('replaces' not in (proxy.new_orders()[-1] or {}),
                   'the first order carries replaces')
            expect_eq(sandbox.served_serial(root), v1['serial'], 'served serial')

        with report.case('(c) window in the future: exit 10, no order, window and '
                         'Retry-After cached'):
            expect(v1, 'nothing issued')
            start = rh.now_utc().replace(microsecond=0) + 30 * DAY
            ari.answer = lambda: rh.renewal_window(start, start + DAY, retry_after=3600)
            orders = len(proxy.new_orders())
            asked = len(ari.asked)
            # A fresh issuance caches "nothing to ask" for a while; as if it had passed.
            expire_ari_cache(sandbox)
            before = time.time()
            result = sandbox.renew().expect_status(rh.NOT_DUE)
            cert_id = rh.ari_cert_id(sandbox.live_cert_path)
            expect_eq(ari.asked[asked:], [cert_id], 'renewalInfo requests (certID)')
            expect_eq(len(proxy.new_orders()), orders, 'newOrder requests')
            state = sandbox.state()
            expect_eq(state.get('ari_window_start'), int(start.timestamp()), 'ari_window_start')
            expect_eq(state.get('ari_window_end'), int((start + DAY).timestamp()),
                      'ari_window_end')
            next_check = state.get('ari_next_check', 0)
            expect(int(before) + 3600 - 2 <= next_check <= int(time.time()) + 3600 + 2,
                   f'ari_next_check {next_check} is not 3600 s ahead')
            expect(stamp(start) in result.stderr,
                   f'the not-due line does not give the window start {stamp(start)}:\n'
                   f'{result.stderr}')

        with report.case('(c) next run inside the Retry-After: exit 10, no CA request at all'):
            requests = proxy.count()
            sandbox.renew().expect_status(rh.NOT_DUE)
            expect_eq(proxy.count(), requests, 'requests the CA received')

        with report.case('(b) window opened an hour ago: renewed now, newOrder carries '
                         'replaces = certID'):
            expect(v1, 'nothing issued')
            cert_id = rh.ari_cert_id(sandbox.live_cert_path)
            ari.answer = lambda: rh.renewal_window(rh.now_utc() - HOUR, rh.now_utc() + DAY)
            expire_ari_cache(sandbox)
            orders = len(proxy.new_orders())
            result = sandbox.renew().expect_status(rh.RENEWED)
            new = orders_since(proxy, orders)
            expect_eq([order.get('replaces') for order in new], [cert_id],
                      'replaces of the newOrder requests')
            expect('window' in result.stderr, f'the reason is not the ARI window:\n'
                   f'{result.stderr}')
            expect_eq(sandbox.served_serial(root), result.issued_serial(), 'served serial')

        for kind in ('alreadyReplaced', 'conflict'):
            with report.case(f'(a) newOrder with replaces answered 409 {kind}: one retry '
                             f'without replaces, success, warning, no loop'):
                expect(v1, 'nothing issued')
                cert_id = rh.ari_cert_id(sandbox.live_cert_path)
                ari.answer = lambda: rh.renewal_window(rh.now_utc() - HOUR, rh.now_utc() + DAY)

                def refuse_replaces(payload, kind=kind):
                    if payload and 'replaces' in payload:
                        return rh.problem(409, kind, 'this certificate already has a '
                                          'replacement order')
                    return None
                proxy.on_new_order = refuse_replaces
                expire_ari_cache(sandbox)
                orders = len(proxy.new_orders())
                try:
                    result = sandbox.renew().expect_status(rh.RENEWED)
                finally:
                    proxy.on_new_order = None
                new = orders_since(proxy, orders)
                expect_eq([order.get('replaces') for order in new], [cert_id, None],
                          'replaces of the newOrder requests (refused one, then the retry)')
                expect(re.search(r'^<4>.*' + kind, result.stderr, re.M) or
                       re.search(r'^<4>.*replace', result.stderr, re.M),
                       f'no warning about the refused replaces:\n{result.stderr}')
                expect_eq(sandbox.served_serial(root), result.issued_serial(), 'served serial')

        for title, answer, retry_after in (
                ('answers 500 with Retry-After: 900',
                 lambda: rh.problem(500, 'serverInternal', 'renewal information is resting',
                                    headers=[('Retry-After', '900')]), 900),
                ('closes the connection without an answer',
                 lambda: rh.ProxyAnswer(None), None)):
            with report.case(f'(d) renewalInfo {title}: notice, lifetime rule (exit 10), '
                             'no order'):
                expect(v1, 'nothing issued')
                ari.answer = answer
                expire_ari_cache(sandbox)
                orders = len(proxy.new_orders())
                asked = len(ari.asked)
                result = sandbox.renew().expect_status(rh.NOT_DUE)
                # libcurl may retry once a request whose reused connection was dropped.
                expect(1 <= len(ari.asked) - asked <= 2,
                       f'{len(ari.asked) - asked} renewalInfo requests, expected 1 (or 2)')
                expect_eq(len(proxy.new_orders()), orders, 'newOrder requests')
                expect(re.search(r'^<5>.*renewal information', result.stderr, re.M | re.I),
                       f'no notice about the missing renewal information:\n{result.stderr}')
                expect(sandbox.state().get('ari_next_check', 0) > time.time(),
                       'ari_next_check is not in the future')
            if retry_after:
                with report.case(f'(d) renewalInfo {title}: ari_next_check honours the '
                                 'Retry-After'):
                    next_check = sandbox.state().get('ari_next_check', 0)
                    expected = int(time.time()) + retry_after
                    expect(abs(next_check - expected) <= 5,
                           f'ari_next_check is {next_check - int(time.time())} s ahead, not '
                           f'the {retry_after} s of the Retry-After')
    report.finish()


if __name__ == '__main__':
    main()

#!/usr/bin/python3
"""BC-13: an existing account key (PKCS#8 PEM made with certtool) that has no account at a fresh
pebble.  With acme.agree-tos=false the renewer fails (1) with a message naming acme.agree-tos and
creates no account; with true it looks the account up, creates it, stores account_url in
state.json and issues.  With state.json gone it finds the same account again instead of making a
second one.  The key file's sha256 is the same before and after every run."""

import os

import renew_harness as rh
from renew_harness import expect, expect_eq

harness = rh.harness


def account_count(pebble):
    counts = [int(n) for n in rh.re.findall(r'There are now (\d+) accounts in memory',
                                            pebble.log())]
    return counts[-1] if counts else 0


def main():
    report = harness.Report('field_bc_13_account_key_without_account')
    with rh.RenewSandbox('bc13') as sandbox:
        pebble = sandbox.setup()
        key = sandbox.acme_dir / 'account.key'
        sandbox.acme_dir.mkdir(parents=True, mode=0o700)
        harness.run(['certtool', '--generate-privkey', '--key-type=ecdsa', '--pkcs8',
                     '--password=', '--no-text', '--outfile', str(key)], check=True)
        os.chmod(key, 0o600)
        digest = rh.sha256(key)
        expect(key.read_text().startswith('-----BEGIN PRIVATE KEY-----'),
               'certtool did not write an unencrypted PKCS#8 PEM')
        progress = {}

        with report.case('acme.agree-tos=false: exit 1 naming acme.agree-tos, no account'):
            result = sandbox.renew('--acme.agree-tos=false').expect_status(rh.FAILED)
            expect('acme.agree-tos' in result.stderr,
                   f'the message does not name acme.agree-tos:\n{result.stderr}')
            expect_eq(account_count(pebble), 0, 'accounts at pebble')
            expect_eq(pebble.new_order_count(), 0, 'orders pebble received')
            expect_eq(sandbox.state().get('account_url', ''), '', 'account_url in state.json')
            expect_eq(rh.sha256(key), digest, 'sha256 of the account key')
            expect(not sandbox.live_dir.exists(), 'something was installed')

        with report.case('acme.agree-tos=true (no --force): account created and stored, '
                         'certificate issued'):
            result = sandbox.renew('--acme.agree-tos=true').expect_status(rh.RENEWED)
            expect_eq(account_count(pebble), 1, 'accounts at pebble')
            url = sandbox.state().get('account_url', '')
            expect(url.startswith(f'https://{pebble.origin}/my-account/'),
                   f'account_url in state.json: {url!r}')
            expect(url in result.stderr, f'the run does not log the account URL {url}')
            expect_eq(rh.sha256(key), digest, 'sha256 of the account key')
            root = pebble.root_file(0)
            expect_eq(sandbox.served_serial(root), result.issued_serial(), 'served serial')
            progress['url'] = url

        with report.case('next run: not due (10), key unchanged'):
            sandbox.renew().expect_status(rh.NOT_DUE)
            expect_eq(rh.sha256(key), digest, 'sha256 of the account key')

        with report.case('state.json removed, agree-tos=false, --force: the same account is '
                         'found, none created'):
            expect(progress, 'no account was created')
            (sandbox.acme_dir / 'state.json').unlink()
            sandbox.renew('--force', '--acme.agree-tos=false').expect_status(rh.RENEWED)
            expect_eq(sandbox.state().get('account_url'), progress['url'], 'account_url')
            expect_eq(account_count(pebble), 1, 'accounts at pebble')
            expect_eq(rh.sha256(key), digest, 'sha256 of the account key')
            expect_eq(oct(os.stat(key).st_mode & 0o777), oct(0o600), 'mode of the account key')
    report.finish()


if __name__ == '__main__':
    main()

// What secure-api-renew's exit status means (documented in secure-api-renew(8);
// the unit maps not_due and deferred to success with SuccessExitStatus=).
#pragma once

namespace secure_api::renew {

enum ExitStatus : int {
    renewed = 0,         // a new certificate is installed and served
    failed = 1,          // the renewal failed; see the journal; backoff recorded
    not_due = 10,        // nothing to do; the journal says when it will be due
    deferred = 11,       // waiting out the CA's rate limit or the backoff after failures
    reload_pending = 12, // installed, but the daemon did not take it; retried next run
    config_error = 78,   // EX_CONFIG
};

} // namespace secure_api::renew

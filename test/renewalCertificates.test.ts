// How the certificate renewal's e2e tells a certificate issued since the renewal began from an older one, for the
// kubelet's own renewals through the CSR API, whose signer starts a certificate's validity 5 minutes early.
import * as assert from "node:assert/strict";
import { test } from "node:test";
import { CSR_SIGNER_BACKDATE_MS, issuedSince } from "./e2e/renewal";

const since = Date.UTC(2026, 11, 2, 21, 26, 28);
const kubeletFile = (stamp: string) => `kdw-host-3 /var/lib/kubelet/pki/kubelet-client-${stamp}.pem O=system:nodes,CN=system:node:kdw-worker-0`;

test("a kubelet's certificate got 35 s after the renewal began is new, though the signer started its validity 5 minutes before", () => {
    const received = Date.UTC(2026, 11, 2, 21, 27, 3);
    assert.equal(issuedSince(kubeletFile("2026-12-02-21-27-03"), received - CSR_SIGNER_BACKDATE_MS, since), true);
});

test("a kubelet's certificate got before the renewal began is old, whatever the start of its validity", () => {
    const received = Date.UTC(2026, 11, 2, 21, 20, 0);
    assert.equal(issuedSince(kubeletFile("2026-12-02-21-20-00"), received - CSR_SIGNER_BACKDATE_MS, since), false);
    assert.equal(issuedSince(kubeletFile("2026-12-02-21-20-00"), since + 5000, since), false, "a name that disagrees with the certificate");
});

test("a kubelet file whose certificate starts long before its name says is not taken for new", () => {
    const received = Date.UTC(2026, 11, 2, 21, 27, 3);
    assert.equal(issuedSince(kubeletFile("2026-12-02-21-27-03"), received - 3600_000, since), false);
});

test("any other certificate is new only if its validity starts at or after the renewal, to the second", () => {
    const other = "kdw-host-0 /etc/kdw/control-plane/pki/apiserver.pem CN=kube-apiserver";
    assert.equal(issuedSince(other, since - 500, since), true);
    assert.equal(issuedSince(other, since - CSR_SIGNER_BACKDATE_MS, since), false);
});

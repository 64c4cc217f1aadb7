import * as assert from "node:assert/strict";
import { test } from "node:test";
import { contains, formatCidr, hostAddress, isIpv4, intToIp, ipToInt, overlaps, parseCidr, subnet, subnetCount } from "../render/net";

test("addresses convert to integers and back", () => {
    assert.equal(ipToInt("10.200.1.2"), 10 * 2 ** 24 + 200 * 2 ** 16 + 258);
    assert.equal(intToIp(ipToInt("255.255.255.255")), "255.255.255.255");
    assert.throws(() => ipToInt("10.200.1"), /not an IPv4 address/);
    assert.throws(() => ipToInt("01.2.3.4"), /not an IPv4 address/);
});

test("pod ranges are the n-th /24 of the cluster CIDR", () => {
    const pods = parseCidr("10.200.0.0/16");
    assert.equal(subnetCount(pods, 24), 256);
    assert.equal(subnet(pods, 24, 0), "10.200.0.0/24");
    assert.equal(subnet(pods, 24, 255), "10.200.255.0/24");
    assert.throws(() => subnet(pods, 24, 256), /has no \/24 number 256/);
    assert.equal(subnetCount(parseCidr("10.0.0.0/25"), 24), 0);
});

test("containment, overlap and the n-th host address", () => {
    const services = parseCidr("10.32.0.0/24");
    assert.equal(hostAddress(services, 1), "10.32.0.1");
    assert.equal(contains(services, "10.32.0.10"), true);
    assert.equal(contains(services, "10.32.1.0"), false);
    assert.equal(overlaps(parseCidr("10.0.0.0/8"), services), true);
    assert.equal(overlaps(parseCidr("10.200.0.0/16"), services), false);
    assert.equal(overlaps(services, parseCidr("10.0.0.0/8")), true, "either way round");
    assert.equal(overlaps(parseCidr("10.32.0.128/25"), services), true);
    assert.throws(() => parseCidr("10.32.0.1/24"), /host bits set; did you mean 10\.32\.0\.0\/24/);
});

test("only a dotted quad with a prefix of 0 to 32 is a CIDR", () => {
    for (const bad of ["10.0.0.0", "10.0.0.0/", "10.0.0.0/33", "10.0.0.0/16/3", "10/8", "0xa.0.0.0/8", "010.0.0.0/8", "10.0.0.0/-1", " 10.0.0.0/8"]) {
        assert.throws(() => parseCidr(bad), /is not an IPv4 CIDR like 10\.200\.0\.0\/16/, bad);
    }
    assert.equal(formatCidr(parseCidr("0.0.0.0/0")), "0.0.0.0/0");
    assert.equal(formatCidr(parseCidr("192.168.99.250/32")), "192.168.99.250/32");
    assert.equal(isIpv4("256.0.0.1"), false);
    assert.equal(isIpv4("1.2.3.4 "), false);
    assert.throws(() => contains(parseCidr("10.0.0.0/8"), "10"), /not an IPv4 address/, "ipaddr.js alone would read 10 as 0.0.0.10");
});

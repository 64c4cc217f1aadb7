// The address plan's IPv4 arithmetic: pod /24s per worker, the service range, the DNS IP. Parsing, validation and
// containment are ipaddr.js's; what is ours is counting subnets and addresses within a range.
import * as ipaddr from "ipaddr.js";

export interface Cidr {
    /** The network address. */
    readonly network: ipaddr.IPv4;
    readonly prefix: number;
}

/** A dotted quad of decimal octets, no leading zeros (what Kubernetes' flags accept), nothing else. */
export const isIpv4 = (text: string) => ipaddr.IPv4.isValidFourPartDecimal(text);

/** ipaddr.js parses "10" and hex too: only a dotted quad is taken here. */
function parseIpv4(ip: string): ipaddr.IPv4 {
    if (!isIpv4(ip)) {
        throw new Error(`"${ip}" is not an IPv4 address`);
    }
    return ipaddr.IPv4.parse(ip);
}

const toInt = (address: ipaddr.IPv4) => address.toByteArray().reduce((acc, octet) => acc * 256 + octet, 0);

export const ipToInt = (ip: string) => toInt(parseIpv4(ip));

export const intToIp = (value: number) =>
    ipaddr.fromByteArray([24, 16, 8, 0].map(shift => Math.floor(value / 2 ** shift) % 256)).toString();

/** Parses "a.b.c.d/n"; the address must be the network address (no host bits set). */
export function parseCidr(text: string): Cidr {
    const [, address, prefixText] = /^([^/]+)\/(\d{1,2})$/.exec(text) ?? [];
    if (!address || !isIpv4(address) || Number(prefixText) > 32) {
        throw new Error(`"${text}" is not an IPv4 CIDR like 10.200.0.0/16`);
    }
    const prefix = Number(prefixText);
    const network = ipaddr.IPv4.networkAddressFromCIDR(text);
    if (network.toString() !== address) {
        throw new Error(`"${text}" has host bits set; did you mean ${network}/${prefix}?`);
    }
    return { network, prefix };
}

export const formatCidr = (cidr: Cidr) => `${cidr.network}/${cidr.prefix}`;

export const size = (cidr: Cidr) => 2 ** (32 - cidr.prefix);

export const contains = (cidr: Cidr, ip: string) => parseIpv4(ip).match(cidr.network, cidr.prefix);

/** Two ranges overlap when either holds the other's network address. */
export const overlaps = (a: Cidr, b: Cidr) => a.network.match(b.network, b.prefix) || b.network.match(a.network, a.prefix);

/** How many /`prefix` subnets fit in `cidr` (0 when `prefix` is wider than `cidr`). */
export const subnetCount = (cidr: Cidr, prefix: number) => prefix < cidr.prefix ? 0 : 2 ** (prefix - cidr.prefix);

/** The index-th /`prefix` subnet of `cidr`, e.g. subnet(10.200.0.0/16, 24, 2) = 10.200.2.0/24. */
export function subnet(cidr: Cidr, prefix: number, index: number): string {
    if (index < 0 || index >= subnetCount(cidr, prefix)) {
        throw new Error(`${formatCidr(cidr)} has no /${prefix} number ${index}`);
    }
    return `${intToIp(toInt(cidr.network) + index * 2 ** (32 - prefix))}/${prefix}`;
}

/** The n-th address of a range: hostAddress(10.32.0.0/24, 1) = 10.32.0.1 (the `kubernetes` service IP). */
export function hostAddress(cidr: Cidr, n: number): string {
    if (n < 0 || n >= size(cidr)) {
        throw new Error(`${formatCidr(cidr)} has no address number ${n}`);
    }
    return intToIp(toInt(cidr.network) + n);
}

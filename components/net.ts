// IPv4 address arithmetic for the address plan: pod /24s per worker, the service range, the DNS IP.

export interface Cidr {
    readonly base: number; // network address as an unsigned 32-bit integer
    readonly prefix: number;
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

export function isIpv4(text: string): boolean {
    return IPV4.test(text);
}

export function ipToInt(ip: string): number {
    if (!isIpv4(ip)) {
        throw new Error(`"${ip}" is not an IPv4 address`);
    }
    return ip.split(".").reduce((acc, octet) => acc * 256 + Number(octet), 0);
}

export function intToIp(value: number): string {
    return [24, 16, 8, 0].map(shift => Math.floor(value / 2 ** shift) % 256).join(".");
}

/** Parses "a.b.c.d/n"; the address must be the network address (no host bits set). */
export function parseCidr(text: string): Cidr {
    const match = /^([^/]+)\/(\d{1,2})$/.exec(text);
    if (!match || !isIpv4(match[1]) || Number(match[2]) > 32) {
        throw new Error(`"${text}" is not an IPv4 CIDR like 10.200.0.0/16`);
    }
    const prefix = Number(match[2]);
    const base = ipToInt(match[1]);
    if (base % size({ base: 0, prefix }) !== 0) {
        throw new Error(`"${text}" has host bits set; did you mean ${intToIp(base - (base % size({ base: 0, prefix })))}/${prefix}?`);
    }
    return { base, prefix };
}

export function formatCidr(cidr: Cidr): string {
    return `${intToIp(cidr.base)}/${cidr.prefix}`;
}

export function size(cidr: Cidr): number {
    return 2 ** (32 - cidr.prefix);
}

export function contains(cidr: Cidr, ip: string): boolean {
    const value = ipToInt(ip);
    return value >= cidr.base && value < cidr.base + size(cidr);
}

export function overlaps(a: Cidr, b: Cidr): boolean {
    return a.base < b.base + size(b) && b.base < a.base + size(a);
}

/** How many /`prefix` subnets fit in `cidr` (0 when `prefix` is wider than `cidr`). */
export function subnetCount(cidr: Cidr, prefix: number): number {
    return prefix < cidr.prefix ? 0 : 2 ** (prefix - cidr.prefix);
}

/** The index-th /`prefix` subnet of `cidr`, e.g. subnet(10.200.0.0/16, 24, 2) = 10.200.2.0/24. */
export function subnet(cidr: Cidr, prefix: number, index: number): string {
    if (index < 0 || index >= subnetCount(cidr, prefix)) {
        throw new Error(`${formatCidr(cidr)} has no /${prefix} number ${index}`);
    }
    return formatCidr({ base: cidr.base + index * 2 ** (32 - prefix), prefix });
}

/** The n-th address of a range: hostAddress(10.32.0.0/24, 1) = 10.32.0.1 (the `kubernetes` service IP). */
export function hostAddress(cidr: Cidr, n: number): string {
    if (n < 0 || n >= size(cidr)) {
        throw new Error(`${formatCidr(cidr)} has no address number ${n}`);
    }
    return intToIp(cidr.base + n);
}

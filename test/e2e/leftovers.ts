// What of the cluster's is left on a test host, for the checks that a destroy (whole, after an interruption, or of one
// worker) leaves nothing behind.
import { asRoot, TestHost } from "./harness";
import { testVip } from "./stackConfig";

/**
 * A command (run as root, on either host kind) that prints one line per thing of ours still on the host: containers
 * named kdw-*, processes run from our folders (found in /proc: boot2docker has no pgrep; the pattern's `[/]` keeps it
 * from matching this command line, and it also finds the route loop, `/bin/sh <home>/bin/kdw-routes`), steps of a
 * killed run still running (by the last words of their command lines, `kdw up|roll|down`, and by the step locks they
 * hold open, host/scripts/lib-step.sh), routes into the pod range, the API's virtual IP, our systemd units (the
 * test hosts have kdw-* units of their own) or boot2docker's bootlocal.sh and shutdown.sh lines, iptables rules and
 * chains, kube-router's ipsets, the pod bridge, mounts and folders. Empty when the host is clean.
 */
export function leftoversOn(host: TestHost): string {
    const boot2docker = host.kind === "boot2docker";
    const home = boot2docker ? "/var/lib/boot2docker/kdw" : "/opt/kdw";
    const folders = boot2docker
        ? `${home} /var/run/kdw /var/log/kdw /var/log/pods /var/log/containers`
        : "/opt/kdw /etc/kdw /run/kdw /var/lib/kubelet /var/log/kdw /var/log/pods /var/log/containers";
    const checks = [
        "docker ps -a --format 'container {{.Names}}' | grep ' kdw-'",
        `for p in /proc/[0-9]*; do tr '\\000' ' ' < "$p/cmdline" | grep '[/]${home.slice(1)}/' | sed 's/^/process /'; done`,
        "for p in /proc/[0-9]*; do case \"$(tr '\\000' ' ' < \"$p/cmdline\" | tail -c 10)\" in " +
            "(*' kdw up '|*' kdw roll '|*' kdw down ') echo \"step still running $p\" ;; esac; done",
        "ls -l /proc/[0-9]*/fd | awk '/^\\/proc\\/[0-9]+\\/fd:$/ { p = $0 } / -> .*\\/kdw\\/(etc\\/)?locks\\// " +
            "{ print \"step still running \" substr(p, 1, length(p) - 4) \" (holds \" substr($0, index($0, \" -> \") + 4) \")\" }' | " +
            "sort -u",
        "ip route | grep '^10\\.200\\.' | sed 's/^/route /'",
        `ip -o -4 addr show | grep -F ' ${testVip()}/32 ' | sed 's/^/virtual IP /'`,
        boot2docker
            ? "grep kdw-boot /var/lib/boot2docker/bootlocal.sh | sed 's/^/bootlocal /'; " +
                "grep kdw- /opt/shutdown.sh | sed 's/^/shutdown.sh /'"
            : "grep -l '^Description=kube-dumb-way' /etc/systemd/system/kdw-*.service | sed 's/^/unit /'",
        "{ iptables -w -S; iptables -w -t nat -S; } | grep -E 'KUBE-|CNI-|kdw-' | head -3 | sed 's/^/iptables /'",
        "ipset list -n | grep -E 'KUBE-(SRC|DST)-' | head -3 | sed 's/^/ipset /'",
        "ip -o link show cni0 | cut -d: -f2 | sed 's/^/link/'",
        "grep -E ' [^ ]*(/kdw|/var/lib/kubelet)[/ ]' /proc/mounts | cut -d' ' -f2 | head -3 | sed 's/^/mount /'",
        `ls -d ${folders} | sed 's/^/file /'`,
        // The test hosts keep the hostname docker-machine gives them in /var/lib/kdw/hostname (scripts/hosts).
        "find /var/lib/kdw -mindepth 1 ! -path /var/lib/kdw/hostname | head -3 | sed 's/^/file /'",
    ];
    return asRoot(host, checks.map(c => `{ ${c}; } 2>/dev/null`).join("; ") + "; true");
}

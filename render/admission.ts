// The apiservers' admission configuration: Pod Security Admission's cluster-wide levels. Pure, so the tests read it
// directly.
import { PodSecurity } from "../config/types";

/** Where the control plane's containers find the file (the controller's control-plane folder, mounted read-only). */
export const ADMISSION_CONFIG_PATH = "/etc/kubernetes/admission-config.yaml";

/**
 * The AdmissionConfiguration the apiservers load with --admission-control-config-file: the PodSecurity plugin's
 * defaults (each level at `latest`, so that an upgrade of Kubernetes brings the newest checks of the level) for every
 * namespace whose own pod-security.kubernetes.io labels do not say otherwise, and the namespaces it leaves alone.
 */
export function admissionConfiguration(podSecurity: PodSecurity): object {
    const { enforce, warn, audit, exemptNamespaces } = podSecurity;
    return {
        apiVersion: "apiserver.config.k8s.io/v1",
        kind: "AdmissionConfiguration",
        plugins: [{
            name: "PodSecurity",
            configuration: {
                apiVersion: "pod-security.admission.config.k8s.io/v1",
                kind: "PodSecurityConfiguration",
                defaults: {
                    enforce, "enforce-version": "latest",
                    audit, "audit-version": "latest",
                    warn, "warn-version": "latest",
                },
                exemptions: { usernames: [], runtimeClasses: [], namespaces: [...exemptNamespaces] },
            },
        }],
    };
}

/** The file's text: JSON, which is YAML too, and which the apiserver reads as either. */
export const admissionConfigFile = (podSecurity: PodSecurity): string =>
    `${JSON.stringify(admissionConfiguration(podSecurity), null, 2)}\n`;

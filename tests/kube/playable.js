// Turns one district's rendered manifests (kubectl kustomize deploy/kubernetes/overlays/<d>)
// into what `podman kube play` (Debian 12's podman 4.3) can run, for tests/kube/test_kube.sh.
// The base stays real Kubernetes; only this copy differs, and only where podman 4.3 cannot
// follow (its kube play takes Pod, Deployment, PersistentVolumeClaim and ConfigMap; no
// StatefulSet, Service, Job, Secret, RBAC or Namespace; no readinessProbe; pod-level
// securityContext ignored):
//   - the four StatefulSets and the gateway Deployment become the containers of ONE Pod:
//     podman has no Services and no cluster DNS, so the pod's shared network namespace and
//     hostAliases (intake, routing, tracking, notification, gateway -> 127.0.0.1) stand in for
//     the headless Services; the endpoints (ConfigMap whistle-env) stay as rendered;
//   - each volumeClaimTemplate becomes a PersistentVolumeClaim (a podman named volume)
//     <prefix>-<service>-<claim>;
//   - the keygen Job becomes the pod's init container, the same container with the same
//     entry point (whistlectl keygen) and keys-secret.sh, writing the Secret it would create
//     to secret.json (WHISTLE_KEYS_SECRET_OUT) in a named volume <prefix>-keys; the services
//     mount that volume read-only where they mount the Secret;
//   - the pod-level runAsUser/runAsGroup are copied onto each container (podman applies
//     those); readiness probes stay in the YAML for the test to run by hand;
//   - ports are dropped: nothing is published (no host port to collide with another test's),
//     the containers talk over the pod's loopback and the test works inside the pod with
//     podman exec;
//   - ConfigMaps are renamed <prefix>-<name> (podman keeps a configMap volume as a named
//     volume of that name), and the image is the one given.
//
//   node playable.js RENDERED.yaml PREFIX IMAGE > play.yaml
"use strict";
const fs = require("fs");
const YAML = require("yaml");

const [file, prefix, image] = process.argv.slice(2);
if (!image) {
  console.error("usage: node playable.js RENDERED.yaml PREFIX IMAGE");
  process.exit(2);
}
const objs = YAML.parseAllDocuments(fs.readFileSync(file, "utf8"))
  .map((d) => d.toJS())
  .filter(Boolean);
const of = (kind) => objs.filter((o) => o.kind === kind);
const die = (msg) => {
  console.error(`playable: ${msg}`);
  process.exit(1);
};

const out = [];
const cmName = new Map();
for (const cm of of("ConfigMap")) {
  const name = `${prefix}-${cm.metadata.name}`;
  cmName.set(cm.metadata.name, name);
  out.push({ apiVersion: "v1", kind: "ConfigMap", metadata: { name, labels: cm.metadata.labels },
             data: cm.data });
}
const claim = (name) => {
  out.push({ apiVersion: "v1", kind: "PersistentVolumeClaim",
             metadata: { name },
             spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "1Gi" } } } });
  return name;
};
const keysClaim = claim(`${prefix}-keys`);

// a pod template's containers, with its volumes renamed to be unique in the one pod
function adopt(owner, tpl, claims, initContainer) {
  const spec = tpl.spec;
  const sc = spec.securityContext || {};
  const vols = new Map();
  for (const v of spec.volumes || []) {
    const name = `${owner}-${v.name}`;
    let nv;
    if (v.configMap) {
      if (!cmName.has(v.configMap.name)) die(`${owner}: ConfigMap ${v.configMap.name} not rendered`);
      nv = { name, configMap: { ...v.configMap, name: cmName.get(v.configMap.name) } };
    } else if (v.secret || (initContainer && v.emptyDir)) {
      // the keys: the Secret the Job makes, here the volume its init container fills
      nv = { name, persistentVolumeClaim: { claimName: keysClaim } };
    } else if (v.emptyDir) {
      nv = { name, emptyDir: {} };
    } else {
      die(`${owner}: volume ${v.name} of a kind this variant does not play`);
    }
    vols.set(v.name, nv);
  }
  for (const c of claims || []) {
    vols.set(c.metadata.name, { name: `${owner}-${c.metadata.name}`,
      persistentVolumeClaim: { claimName: claim(`${prefix}-${owner}-${c.metadata.name}`) } });
  }
  const containers = (spec.containers || []).map((c) => {
    const n = JSON.parse(JSON.stringify(c));
    n.image = image;
    n.imagePullPolicy = "Never";
    // nothing is published: the test works inside the pod (podman exec)
    delete n.ports;
    n.securityContext = { runAsUser: sc.runAsUser, runAsGroup: sc.runAsGroup, ...c.securityContext };
    for (const e of n.envFrom || []) {
      if (e.configMapRef) e.configMapRef.name = cmName.get(e.configMapRef.name) || e.configMapRef.name;
    }
    n.volumeMounts = (n.volumeMounts || []).map((m) => {
      if (!vols.has(m.name)) die(`${owner}: mount of unknown volume ${m.name}`);
      return { ...m, name: vols.get(m.name).name };
    });
    return n;
  });
  return { containers, volumes: [...vols.values()] };
}

const pod = { containers: [], initContainers: [], volumes: [] };
const jobs = of("Job");
if (jobs.length !== 1) die(`expected one Job (the keygen), found ${jobs.length}`);
{
  const j = adopt("keygen", jobs[0].spec.template, [], true);
  for (const c of j.containers) {
    c.env = [...(c.env || []), { name: "WHISTLE_KEYS_SECRET_OUT",
                                  value: "/var/lib/whistle-keys/secret.json" }];
  }
  pod.initContainers.push(...j.containers);
  pod.volumes.push(...j.volumes);
}
for (const w of [...of("StatefulSet"), ...of("Deployment")]) {
  const a = adopt(w.metadata.name, w.spec.template, w.spec.volumeClaimTemplates);
  pod.containers.push(...a.containers);
  pod.volumes.push(...a.volumes);
}
if (pod.containers.length === 0) die("no workload in the render");
const hostnames = of("Service").map((s) => s.metadata.name);
const labels = { ...((of("StatefulSet")[0] || {}).metadata || {}).labels };
delete labels["app.kubernetes.io/name"];
out.push({
  apiVersion: "v1",
  kind: "Pod",
  // podman 4.3 removes a "once" init container after it ran, and fails the play when the
  // removal races its exit ("cannot remove container ... as it is running"); an "always" one
  // is kept (and runs again at each pod start: the entry point keeps the keys it finds)
  metadata: { name: prefix, labels,
              annotations: { "io.podman.annotations.init.container.type": "always" } },
  spec: {
    // not Always: podman 4.3 applies the pod's policy to the init container too and would
    // run the keygen again and again; a service that fails is still restarted
    restartPolicy: "OnFailure",
    hostAliases: [{ ip: "127.0.0.1", hostnames }],
    initContainers: pod.initContainers,
    containers: pod.containers,
    volumes: pod.volumes,
  },
});
process.stdout.write(out.map((o) => YAML.stringify(o)).join("---\n"));

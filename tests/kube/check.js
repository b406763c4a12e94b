// Checks rendered Kubernetes manifests (multi-document YAML or JSON files) offline:
//   1. every object against the Kubernetes schema of its apiVersion and kind, with
//      kubernetes-models (pinned in package-lock.json): types, required fields, enums;
//   2. what whistle's manifests rely on beyond one object's schema: every ConfigMap, Secret,
//      ServiceAccount and Service they name is in the same render (the keys Secret excepted,
//      which the keygen Job creates), a Service's selector matches a pod template, every
//      object of an overlay carries its district's namespace and label, and every whistle
//      container is given all eight WHISTLE_*_API/EVENTS endpoints.
//
//   node check.js [--district CODE] [--allow-missing-secret NAME] FILE...
//
// Prints one line per object checked and a last line 'N passed, N failed'; exits 1 on any
// failure, naming the object and the field.
"use strict";
const fs = require("fs");
const YAML = require("yaml");

const args = process.argv.slice(2);
let district = null;
const allowedSecrets = new Set();
const files = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === "--district") district = args[++i];
  else if (args[i] === "--allow-missing-secret") allowedSecrets.add(args[++i]);
  else files.push(args[i]);
}
if (files.length === 0) {
  console.error("usage: node check.js [--district CODE] [--allow-missing-secret NAME] FILE...");
  process.exit(2);
}

// kinds that live in a namespace (the rest are cluster-wide)
const CLUSTER_KINDS = new Set(["Namespace", "ClusterRole", "ClusterRoleBinding",
                               "PersistentVolume", "StorageClass", "CustomResourceDefinition"]);
const ENDPOINTS = ["INTAKE", "ROUTING", "TRACKING", "NOTIFICATION"]
  .flatMap((s) => [`WHISTLE_${s}_API`, `WHISTLE_${s}_EVENTS`]);

let passed = 0;
let failed = 0;
function fail(what, why) {
  failed++;
  console.log(`FAIL: ${what}: ${why}`);
}

function modelFor(apiVersion, kind) {
  // "v1" -> kubernetes-models/v1, "apps/v1" -> kubernetes-models/apps/v1
  let mod;
  try {
    mod = require(`kubernetes-models/${apiVersion}`);
  } catch (e) {
    return null;
  }
  return typeof mod[kind] === "function" ? mod[kind] : null;
}

const objects = [];
for (const file of files) {
  const docs = YAML.parseAllDocuments(fs.readFileSync(file, "utf8"));
  for (const doc of docs) {
    if (doc.errors.length) {
      fail(file, `YAML: ${doc.errors[0].message}`);
      continue;
    }
    const obj = doc.toJS();
    if (obj === null || obj === undefined) continue;
    objects.push({ file, obj });
  }
}
if (objects.length === 0) fail(files.join(" "), "no object in the input");

function label(o) {
  const ns = o.metadata && o.metadata.namespace ? `${o.metadata.namespace}/` : "";
  return `${o.kind || "?"} ${ns}${(o.metadata && o.metadata.name) || "?"}`;
}

// 1. the schema of each object
for (const { file, obj } of objects) {
  const what = `${file}: ${label(obj)}`;
  if (!obj.apiVersion || !obj.kind) {
    fail(what, "no apiVersion or kind");
    continue;
  }
  const Model = modelFor(obj.apiVersion, obj.kind);
  if (!Model) {
    fail(what, `no Kubernetes schema for apiVersion ${obj.apiVersion}, kind ${obj.kind}`);
    continue;
  }
  try {
    new Model(obj).validate();
  } catch (e) {
    fail(what, e.message);
    continue;
  }
  passed++;
  console.log(`ok: ${what}`);
}

// 2. what the objects rely on in each other
const byKind = (k) => objects.map((x) => x.obj).filter((o) => o.kind === k);
const names = (k) => new Set(byKind(k).map((o) => o.metadata.name));
const configMaps = names("ConfigMap");
const secrets = names("Secret");
const accounts = names("ServiceAccount");
const services = names("Service");
const workloads = objects.map((x) => x.obj).filter((o) =>
  ["StatefulSet", "Deployment", "Job", "DaemonSet"].includes(o.kind) ||
  o.kind === "Pod");
const podSpec = (o) => (o.kind === "Pod" ? o.spec : o.spec && o.spec.template && o.spec.template.spec);
const podLabels = (o) => (o.kind === "Pod" ? o.metadata.labels : o.spec.template.metadata &&
                          o.spec.template.metadata.labels) || {};

function checkRef(what, kind, name, set) {
  if (kind === "Secret" && allowedSecrets.has(name)) return;
  if (!set.has(name)) fail(what, `names ${kind} ${name}, which is not in the render`);
}

for (const w of workloads) {
  const what = label(w);
  const spec = podSpec(w);
  if (!spec) continue;
  let bad = failed;
  if (spec.serviceAccountName) checkRef(what, "ServiceAccount", spec.serviceAccountName, accounts);
  for (const v of spec.volumes || []) {
    if (v.configMap) checkRef(`${what} volume ${v.name}`, "ConfigMap", v.configMap.name, configMaps);
    if (v.secret) checkRef(`${what} volume ${v.name}`, "Secret", v.secret.secretName, secrets);
  }
  const claims = new Set(((w.spec && w.spec.volumeClaimTemplates) || []).map((c) => c.metadata.name));
  const volumes = new Set((spec.volumes || []).map((v) => v.name));
  for (const c of [...(spec.initContainers || []), ...(spec.containers || [])]) {
    const cwhat = `${what} container ${c.name}`;
    for (const e of c.envFrom || []) {
      if (e.configMapRef) checkRef(cwhat, "ConfigMap", e.configMapRef.name, configMaps);
      if (e.secretRef) checkRef(cwhat, "Secret", e.secretRef.name, secrets);
    }
    for (const m of c.volumeMounts || []) {
      if (!volumes.has(m.name) && !claims.has(m.name))
        fail(cwhat, `mounts volume ${m.name}, which the pod does not have`);
    }
    // a whistle service or the gateway: every endpoint, as docker-compose.yml gives them
    const cmd = [...(c.command || []), ...(c.args || [])].join(" ");
    if (/whistle-(intake|routing|tracking|notification|gateway)/.test(cmd)) {
      const env = new Set((c.env || []).map((e) => e.name));
      for (const e of c.envFrom || []) {
        if (!e.configMapRef) continue;
        const cm = byKind("ConfigMap").find((o) => o.metadata.name === e.configMapRef.name);
        for (const k of Object.keys((cm && cm.data) || {})) env.add(k);
      }
      const missing = ENDPOINTS.filter((k) => !env.has(k));
      if (missing.length) fail(cwhat, `is not given ${missing.join(", ")}`);
    }
  }
  if (w.kind === "StatefulSet" && !services.has(w.spec.serviceName))
    fail(what, `serviceName ${w.spec.serviceName} is not a Service in the render`);
  if (w.kind !== "Pod" && w.spec.selector && w.spec.selector.matchLabels) {
    const l = podLabels(w);
    for (const [k, v] of Object.entries(w.spec.selector.matchLabels))
      if (l[k] !== v) fail(what, `selector ${k}=${v} does not match its pod template`);
  }
  if (failed === bad) passed++;
}

for (const s of byKind("Service")) {
  const sel = (s.spec && s.spec.selector) || {};
  const hit = workloads.some((w) => Object.entries(sel).every(([k, v]) => podLabels(w)[k] === v));
  if (Object.keys(sel).length && !hit) fail(label(s), "its selector matches no pod template");
  else passed++;
}

if (district) {
  for (const { obj } of objects) {
    const what = label(obj);
    const labels = (obj.metadata && obj.metadata.labels) || {};
    if (labels.district !== district) fail(what, `label district is ${labels.district}, not ${district}`);
    else if (!CLUSTER_KINDS.has(obj.kind) && !obj.metadata.namespace)
      fail(what, "has no namespace");
    else passed++;
  }
  const nss = new Set(objects.map((x) => x.obj.metadata.namespace).filter(Boolean));
  if (nss.size !== 1) fail(`district ${district}`, `objects in ${nss.size} namespaces: ${[...nss]}`);
  else if (!names("Namespace").has([...nss][0]))
    fail(`district ${district}`, `its namespace ${[...nss][0]} is not created by the render`);
}

console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
